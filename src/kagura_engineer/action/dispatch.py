"""The seam between the Action and the commands: `dispatch(intent, ctx) -> Outcome`.

The intent and the Action's inputs become the command's typed options, and the command's
`execute(config, options)` runs in this process with the config the Action built in memory.
Its outcome's `Ending` (status word, PR, verdict, cost, matrix, savepoint, reason) becomes
the `Outcome`, and so the Action's outputs. Errors become exit codes exactly as in
`cli.dispatch`: a KaguraError its own (2 for config, blocked, busy), Ctrl-C/SIGTERM 130,
anything else 3 with the traceback in the log.

Tests substitute another callable with the same signature for `run`/`review`/`goal`/`eval`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kagura_engineer.action.intent import Intent
from kagura_engineer.errors import BusyError, KaguraError
from kagura_engineer.proc import redact
from kagura_engineer.status import ACTION_STATUSES, Ending
from kagura_engineer.workflow import write_untrusted

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.run.trigger import TriggerText


@dataclass(frozen=True)
class DispatchContext:
    """What a command needs besides the intent."""

    config: Config | None = None  # repo.yaml with the inputs applied (None: load it as the CLI would)
    base_branch: str | None = None
    max_usd: float | None = None
    max_turns: int | None = None
    draft: bool = False  # input `draft`: run and goal open their pull requests as drafts
    #: run: the issue's title and body at trigger time (from the event payload), if it carried them
    trigger: TriggerText | None = None


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    ending: Ending | None = None  # how the command ended (None: it raised)
    error: str | None = None  # `error[code]: message`, redacted
    hint: str | None = None
    busy: bool = False
    log: str = ""  # the command's result for the job log (untrusted: it quotes issue and model text)

    @property
    def status(self) -> str:
        """shipped | blocked | failed | busy: the command's own word when the Action has it."""
        if self.ending is not None and self.ending.status in ACTION_STATUSES:
            return str(self.ending.status)
        if self.busy:
            return "busy"
        if self.exit_code == 0:
            return "shipped"
        return "blocked" if self.exit_code == 2 else "failed"


Dispatcher = Callable[[Intent, DispatchContext], Outcome]


def command_call(intent: Intent, ctx: DispatchContext) -> tuple[Callable[[Config, Any], Any], Any]:
    """The command's `execute` and its options for the intent (ValueError: nothing to dispatch)."""
    run_id = os.environ.get("GITHUB_RUN_ID") or None
    if intent.command == "run":
        from kagura_engineer.run.command import execute
        from kagura_engineer.run.loop import RunOptions

        if intent.issue is None:
            raise ValueError("run needs an issue")
        return execute, RunOptions(
            issue=intent.issue, base=ctx.base_branch, max_usd=ctx.max_usd, max_turns=ctx.max_turns,
            unattended=True, run_id=run_id, trigger=ctx.trigger, draft=ctx.draft,
        )  # fmt: skip
    if intent.command == "review":
        from kagura_engineer.review.command import execute
        from kagura_engineer.review.job import ReviewOptions

        return execute, ReviewOptions(target=str(intent.pr) if intent.pr else "HEAD", fix=intent.fix)
    if intent.command == "goal":
        from kagura_engineer.goal.command import GoalOptions, execute

        if not intent.milestone:
            raise ValueError("goal needs a resolved milestone")
        return execute, GoalOptions(intent.milestone, plan=intent.plan, unattended=not intent.plan, draft=ctx.draft)
    if intent.command == "eval":
        from kagura_engineer.eval.command import EvalOptions, execute

        return execute, EvalOptions(
            issues=tuple(intent.issues) if intent.issues else None,
            milestone=None if intent.issues else intent.milestone,
            repeat=intent.repeat, max_usd=ctx.max_usd, base=ctx.base_branch,  # max_usd: the whole evaluation
        )  # fmt: skip
    if intent.command == "doctor":
        from kagura_engineer.doctor.command import DoctorOptions, execute

        return execute, DoctorOptions()
    raise ValueError(f"nothing to dispatch for {intent.command!r}")


def dispatch(intent: Intent, ctx: DispatchContext) -> Outcome:
    """Run the intent's command in this process and return how it ended."""
    import json

    try:
        execute, options = command_call(intent, ctx)
    except ValueError as exc:
        return Outcome(2, error=f"error[usage]: {exc}")
    try:
        if ctx.config is None:
            from kagura_engineer.config import load_config

            config = load_config()
        else:
            config = ctx.config
        result = execute(config, options)
        return Outcome(result.exit_code, result.ending(), log=json.dumps(result.to_json()))
    except KaguraError as exc:
        message = redact(exc.message.splitlines()[0] if exc.message else exc.code)
        return Outcome(exc.exit_code, error=f"error[{exc.code}]: {message}",
                       hint=redact(exc.hint) if exc.hint else None, busy=isinstance(exc, BusyError))  # fmt: skip
    except KeyboardInterrupt:
        return Outcome(130, error="error[interrupted]: interrupted")
    except Exception as exc:  # a bug in the command: report it, keep the job's reporting alive
        write_untrusted(traceback.format_exc(), sys.stderr)
        return Outcome(3, error=redact(f"error[internal]: {type(exc).__name__}: {exc}"))
