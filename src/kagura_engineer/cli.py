"""`kagura-engineer`: parse, dispatch, and turn errors into one line and an exit code.

Only the command table (`commands.py`) and argparse load at start-up; a command's module is
imported when that command is chosen, so `--version` and `--help` stay instant.

Exit codes: 0 ok · 1 failed · 2 blocked, busy, needs-user or config/usage error ·
3 internal error (traceback written to a log file) · 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kagura_engineer import __version__
from kagura_engineer.commands import COMMANDS, EPILOG, build_parser

__all__ = ["COMMANDS", "EPILOG", "build_parser", "dispatch", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The program: `argv` None means this process's own arguments, and that it ends after."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        # The process ends next. The interpreter's last full garbage collection would walk
        # every object the command loaded (pydantic, ghapi, numpy, the encoder: 0.3-1 s on a
        # busy 2-core machine); frozen objects are skipped. atexit handlers, thread joins and
        # stdio flushes still run.
        import gc

        gc.freeze()
    return code


def _main(argv: list[str]) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    args.config = getattr(args, "config", None)
    args.json = getattr(args, "json", False)
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; the single place where errors become exit codes."""
    from kagura_engineer.errors import KaguraError

    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        from kagura_engineer import proc

        proc.register_env_secrets()
        return int(module.main(args) or 0)
    except KaguraError as exc:
        _report(args, exc.code, exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the one catch-all: a bug, not a user error
        log = _write_crash_log()
        _report(args, "internal", f"{type(exc).__name__}: {exc}", f"full traceback in {log}")
        return 3


def _report(args: argparse.Namespace, code: str, message: str, hint: str | None) -> None:
    from kagura_engineer.proc import redact

    message = redact(message.splitlines()[0] if message else code)
    print(f"error[{code}]: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {redact(hint)}", file=sys.stderr)
    if getattr(args, "json", False):
        import json

        print(json.dumps({"ok": False, "error": {"code": code, "message": message, "hint": hint}}))


def _write_crash_log() -> str:
    import tempfile
    import time
    import traceback

    from kagura_engineer.proc import redact

    path = f"{tempfile.gettempdir()}/kagura-engineer-crash-{int(time.time())}.log"
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"kagura-engineer {__version__}\n{redact(traceback.format_exc())}")
    except OSError:
        return "<could not write a log>"
    return path
