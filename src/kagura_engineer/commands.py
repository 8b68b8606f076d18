"""The table of commands and the parser built from it: shared by the CLI and the Action.

Each command module exposes `configure(parser)` and `main(args) -> int`; only the chosen
command's module is imported, so `--version` and `--help` stay instant.
"""

from __future__ import annotations

import argparse
import importlib
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
