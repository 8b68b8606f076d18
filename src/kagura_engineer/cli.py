"""`kagura-engineer`: parse, dispatch, and turn errors into one line and an exit code.

Only this table and argparse load at start-up; a command's module is imported when that
command is chosen, so `--version` and `--help` stay instant. Each command module exposes
`configure(parser)` and `main(args) -> int`.

Exit codes: 0 ok · 1 failed · 2 blocked, busy, needs-user or config/usage error ·
3 internal error (traceback written to a log file) · 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kagura_engineer import __version__

#: name -> (module, one-line summary). Order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("kagura_engineer.doctor.command", "check what this machine or runner is missing"),
    "init": ("kagura_engineer.init.command", "write repo.yaml (and workflows) into this repository"),
    "setup": ("kagura_engineer.setup.command", "install and bootstrap what doctor found missing"),
    "run": ("kagura_engineer.run.command", "turn an issue into a pull request"),
    "review": ("kagura_engineer.review.command", "review HEAD, a branch or a PR; --fix repairs it"),
    "goal": ("kagura_engineer.goal.command", "drive a milestone's issues in dependency order"),
    "eval": (
        "kagura_engineer.eval.command",
        "run issues with recall on and off and compare (pushes nothing)",
    ),
    "memory": ("kagura_engineer.memory.command", "recall, remember, export, import, stats"),
    "savepoint": ("kagura_engineer.memory.savepoint_command", "list, show or clear savepoints"),
    "cache": ("kagura_engineer.cache.command", "restore or save the memory DB in the Actions cache"),
    "action": ("kagura_engineer.action.command", "the GitHub Action entry point (reads the event)"),
    "demo": ("kagura_engineer.demo.command", "drive a sample issue to a PR, all on 127.0.0.1"),
}

EPILOG = "exit codes: 0 ok, 1 failed, 2 blocked/busy/needs-user/config error, 3 internal error"


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default_cfg = argparse.SUPPRESS if suppress else None
    default_json = argparse.SUPPRESS if suppress else False
    parser.add_argument(
        "-c", "--config", metavar="PATH", default=default_cfg,
        help="repo.yaml to use (default: $KAGURA_CONFIG, ./repo.yaml, .kagura/repo.yaml)",
    )  # fmt: skip
    parser.add_argument(
        "--json", action="store_true", default=default_json, help="print one JSON document on stdout"
    )


def _chosen(argv: Sequence[str]) -> str | None:
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-c", "--config"):
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kagura-engineer",
        description="Issues become pull requests through Claude Code, grounded in memory.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"kagura-engineer {__version__}")
    _common(parser, suppress=True)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv)
    for name, (module, summary) in COMMANDS.items():
        sub = subs.add_parser(name, help=summary, description=summary, epilog=EPILOG)
        if name == chosen:
            _common(sub, suppress=True)
            importlib.import_module(module).configure(sub)
    return parser


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
