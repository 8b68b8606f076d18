"""The seam between the Action and the commands: `dispatch(intent, ctx) -> Outcome`.

The intent becomes the same argv a person would type (`run 42 --unattended --json ...`),
parsed by the command's own parser from `commands.COMMANDS`, and the command's `main(args)` runs
in this process with `--json`: its one JSON object on stdout becomes the `Outcome` (and
the Action's outputs). Flags a command does not accept in this version are dropped with a
warning instead of failing the job. Errors become exit codes exactly as in `cli.dispatch`.

Tests substitute another callable with the same signature for `run`/`review`/`goal`/`eval`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kagura_engineer.action.intent import Intent
from kagura_engineer.errors import BusyError, KaguraError
from kagura_engineer.proc import redact
from kagura_engineer.status import ACTION_STATUSES
from kagura_engineer.workflow import write_untrusted

if TYPE_CHECKING:
    from kagura_engineer.run.trigger import TriggerText



@dataclass(frozen=True)
class DispatchContext:
    """What a command needs besides the intent."""

    config_path: str | None = None  # the effective repo.yaml (inputs applied), if any
    base_branch: str | None = None
    max_usd: float | None = None
    max_turns: int | None = None
    draft: bool = False
    warn: Callable[[str], None] = lambda message: None
    #: run: the issue's title and body at trigger time (from the event payload), if it carried them
    trigger: TriggerText | None = None


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    data: dict | None = None  # the command's --json object
    error: str | None = None  # `error[code]: message`, redacted
    hint: str | None = None
    busy: bool = False
    stdout: str = ""
    dropped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """shipped | blocked | failed | busy: the command's own word when it gives one."""
        reported = (self.data or {}).get("status")
        if isinstance(reported, str) and reported in ACTION_STATUSES:
            return reported
        if self.busy:
            return "busy"
        if self.exit_code == 0:
            return "shipped"
        return "blocked" if self.exit_code == 2 else "failed"


Dispatcher = Callable[[Intent, DispatchContext], Outcome]


def command_argv(intent: Intent, ctx: DispatchContext) -> list[str]:
    """The argv for the intent, valued flags as `--flag=value` (so they can be dropped alone)."""
    if intent.command == "run":
        argv = ["run", str(intent.issue), "--unattended"]
        if ctx.base_branch:
            argv.append(f"--base={ctx.base_branch}")
        if ctx.max_usd is not None:
            argv.append(f"--max-usd={ctx.max_usd:g}")
        if ctx.max_turns is not None:
            argv.append(f"--max-turns={ctx.max_turns}")
        if ctx.draft:
            argv.append("--draft")
    elif intent.command == "review":
        argv = ["review", str(intent.pr) if intent.pr else "HEAD"]
        if intent.fix:
            argv.append("--fix")
    elif intent.command == "goal":
        if not intent.milestone:
            raise ValueError("goal needs a resolved milestone")
        argv = ["goal", intent.milestone, "--plan" if intent.plan else "--unattended"]
    elif intent.command == "eval":
        target = (
            f"--issues={','.join(map(str, intent.issues))}"
            if intent.issues
            else f"--milestone={intent.milestone}"
        )
        argv = ["eval", target, f"--repeat={intent.repeat}"]
        if ctx.base_branch:
            argv.append(f"--base={ctx.base_branch}")
        if ctx.max_usd is not None:
            argv.append(f"--max-usd={ctx.max_usd:g}")  # for the whole evaluation
    elif intent.command == "doctor":
        argv = ["doctor"]
    else:
        raise ValueError(f"nothing to dispatch for {intent.command!r}")
    return argv


def parse_command(argv: list[str]) -> tuple[argparse.Namespace, tuple[str, ...]]:
    """Parse argv with the command's own parser; flags it does not know are returned, not fatal.

    Raises SystemExit (argparse) for bad values and ValueError for stray positionals.
    """
    from kagura_engineer.commands import build_parser

    args, unknown = build_parser(argv).parse_known_args(argv)
    dropped = tuple(u for u in unknown if u.startswith("-"))
    if len(dropped) != len(unknown):
        raise ValueError(f"unexpected arguments {unknown} for {argv[0]}")
    return args, dropped


def _json_object(text: str) -> dict | None:
    text = text.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else None
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    return None


def dispatch(intent: Intent, ctx: DispatchContext) -> Outcome:
    """Run the intent's command in this process and collect its `--json` result."""
    from kagura_engineer.commands import COMMANDS

    argv = command_argv(intent, ctx)
    try:
        args, dropped = parse_command(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return Outcome(int(exc.code or 2), error=f"error[usage]: bad arguments for {argv[0]}")
    except ValueError as exc:
        return Outcome(2, error=f"error[usage]: {exc}")
    for flag in dropped:
        ctx.warn(f"`{argv[0]}` does not accept {flag.split('=')[0]} in this version; ignored")
    args.config = ctx.config_path
    args.json = True
    if args.command == "run":
        args.trigger = ctx.trigger  # typed, not a flag: a person's `run` has no trigger text
    module = importlib.import_module(COMMANDS[args.command][0])
    buffer = io.StringIO()
    error = hint = None
    busy = False
    try:
        with contextlib.redirect_stdout(buffer):
            code = int(module.main(args) or 0)
    except KaguraError as exc:
        code, busy = exc.exit_code, isinstance(exc, BusyError)
        message = redact(exc.message.splitlines()[0] if exc.message else exc.code)
        error, hint = f"error[{exc.code}]: {message}", redact(exc.hint) if exc.hint else None
    except KeyboardInterrupt:
        code, error = 130, "error[interrupted]: interrupted"
    except Exception as exc:  # a bug in the command: report it, keep the job's reporting alive
        code, error = 3, redact(f"error[internal]: {type(exc).__name__}: {exc}")
        write_untrusted(traceback.format_exc(), sys.stderr)
    out = buffer.getvalue()
    data = _json_object(out)
    if data is not None and data.get("ok") is False and error is None:
        err: Any = data.get("error") or {}
        if isinstance(err, dict) and err.get("message"):
            error = redact(f"error[{err.get('code', 'error')}]: {err['message']}")
    return Outcome(code, data=data, error=error, hint=hint, busy=busy, stdout=out, dropped=dropped)
