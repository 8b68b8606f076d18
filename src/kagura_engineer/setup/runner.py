"""Run setup steps in order: plan (detect), then, unless --dry-run, act and verify.

A step's plan is read-only detection. Commands run one by one through `proc` (their
output is captured; the command line is echoed to stderr first); the first failure ends the
step. `verify` re-detects, so OK always means "checked after the fact", never "the
installer exited 0".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kagura_engineer import proc
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Plan, SetupReport, StepResult, StepStatus, Verdict
from kagura_engineer.setup.platform import sudo_needs_password

PASSTHROUGH = (
    "NPM_CONFIG_PREFIX", "NPM_CONFIG_REGISTRY", "npm_config_prefix", "npm_config_registry",
    "OLLAMA_MODELS", "HOMEBREW_PREFIX", "HOMEBREW_NO_AUTO_UPDATE",
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    name: str
    plan: Callable[[SetupContext], Plan]


def run_steps(steps: Sequence[Step], ctx: SetupContext) -> SetupReport:
    return SetupReport(tuple(run_step(step, ctx) for step in steps), dry_run=ctx.dry_run)


def run_step(step: Step, ctx: SetupContext) -> StepResult:
    try:
        plan = step.plan(ctx)
    except Exception as exc:  # one broken step never stops the others
        return StepResult(step.name, StepStatus.FAIL, _crash(exc))
    if plan.verdict is not None:
        v = plan.verdict
        return StepResult(step.name, v.status, v.detail, v.hint)
    shown = tuple(c.display() for c in plan.commands)
    if ctx.dry_run:
        return StepResult(step.name, StepStatus.SKIPPED, f"dry run: would {plan.action}", None, shown)
    listing = "\n".join(f"  $ {c}" for c in shown)
    if not ctx.confirm(f"{step.name}: {plan.action}:\n{listing}\nrun now?"):
        return StepResult(step.name, StepStatus.NEEDS_USER, f"declined to {plan.action}", _yourself(shown))
    verdict, ran = _execute(plan, ctx, shown)
    if verdict is None:
        try:
            verdict = plan.verify(ctx) if plan.verify else Verdict(StepStatus.OK, f"{plan.action}: done")
        except Exception as exc:
            verdict = Verdict(StepStatus.FAIL, _crash(exc))
    return StepResult(step.name, verdict.status, verdict.detail, verdict.hint, ran)


def _execute(plan: Plan, ctx: SetupContext, shown: tuple[str, ...]) -> tuple[Verdict | None, tuple[str, ...]]:
    """Run the plan's commands in order: (a Verdict if one failed else None, the commands run)."""
    for i, (command, display) in enumerate(zip(plan.commands, shown, strict=True)):
        ran = shown[: i + 1]
        ctx.say(f"$ {display}")
        result = proc.run(
            list(command.argv),
            env=dict(command.env),
            timeout=command.timeout,
            passthrough=PASSTHROUGH + command.passthrough,
        )
        if result.ok:
            continue
        if sudo_needs_password(result.stderr):
            return Verdict(StepStatus.NEEDS_USER, "sudo needs a password (setup never prompts for one)", _yourself(shown)), ran
        why = "timed out" if result.timed_out else f"exited {result.returncode}"
        tail = result.tail(400).splitlines()
        last = f": {tail[-1]}" if tail else ""
        hint = command.hint or f"run it yourself to see the full output: {display}"
        return Verdict(StepStatus.FAIL, f"`{display}` {why}{last}", hint), ran
    return None, shown


def _yourself(shown: tuple[str, ...]) -> str:
    # A person at a terminal can answer sudo's password prompt: drop the non-interactive -n.
    commands = [c.replace("sudo -n ", "sudo ", 1) if c.startswith("sudo -n ") else c for c in shown]
    return "run yourself: " + " && ".join(commands) + ", then rerun kagura-engineer setup"


def _crash(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return proc.redact(f"step crashed: {type(exc).__name__}: {text[0]}" if text else f"step crashed: {type(exc).__name__}")
