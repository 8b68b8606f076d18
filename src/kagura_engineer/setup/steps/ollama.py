"""ollama: the daemon that serves `review.models` (skipped when none are configured).

brew installs it on macOS. On Linux Ollama ships as a script piped into a shell, which setup
never runs on anyone's behalf: NEEDS_USER with the documented command. A daemon that is not
running is NEEDS_USER too (how to run a service is the user's choice).
"""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.doctor.ollama_api import OllamaUnavailable, list_models
from kagura_engineer.doctor.tools import version_of
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Plan, StepStatus, Verdict, failed, needs_user, ok
from kagura_engineer.setup.steps.common import install_plan

LINUX_INSTALL = "curl -fsSL https://ollama.com/install.sh | sh"
START = "start the daemon: `ollama serve` (macOS: `brew services start ollama`; Linux installer: `systemctl start ollama`)"


def daemon_up(ctx: SetupContext) -> str | None:
    """None when the daemon at ollama_url answers, else why not."""
    with ctx.http() as http:
        try:
            list_models(http, ctx.config.ollama_url)
        except OllamaUnavailable as exc:
            return exc.message
    return None


def plan(ctx: SetupContext) -> Plan:
    if not ctx.config.review.models:
        return Plan.done(StepStatus.SKIPPED, "no review.models configured")
    url = ctx.config.ollama_url
    path = proc.which("ollama")
    if path is None:
        if daemon_up(ctx) is None:
            return Plan.done(StepStatus.OK, f"daemon at {url} answers (no local ollama binary needed)")
        pm = ctx.package_manager
        if pm is None or pm.package("ollama") is None:
            return Plan.done(StepStatus.NEEDS_USER, "ollama is not installed",
                             f"install it: {LINUX_INSTALL} (see https://ollama.com/download), then {START}")  # fmt: skip
        return install_plan(ctx, "ollama", verify)
    return Plan(verdict=_running(ctx, path))


def verify(ctx: SetupContext) -> Verdict:
    path = proc.which("ollama")
    if path is None:
        return failed("the install finished but ollama is still not on PATH", "check PATH, then rerun setup")
    return _running(ctx, path, fresh=True)


def _running(ctx: SetupContext, path: str, fresh: bool = False) -> Verdict:
    version, _ = version_of(path)
    what = f"{'installed ' if fresh else ''}ollama {version or '(unknown version)'}"
    down = daemon_up(ctx)
    if down:
        return needs_user(f"{what}; {down}", START)
    return ok(f"{what}, daemon at {ctx.config.ollama_url} answers")
