"""gh: installed with the package manager and logged in.

Optional when a GitHub token is set (kagura-engineer's API client needs only the token): then a
missing gh is SKIPPED, unless `--fix gh` asks for it explicitly.
"""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.credentials import github_token_source
from kagura_engineer.doctor.checks.gh import GH_ENV
from kagura_engineer.doctor.tools import version_of
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Plan, StepStatus, Verdict, failed, needs_user, ok
from kagura_engineer.setup.steps.common import install_plan


def plan(ctx: SetupContext) -> Plan:
    path = proc.which("gh")
    if path is None:
        token = github_token_source(ctx.env)
        if token and ctx.fix != "gh":
            return Plan.done(StepStatus.SKIPPED, f"gh not installed; not needed while {token} is set",
                             "kagura-engineer setup --fix gh installs it anyway")  # fmt: skip
        return install_plan(ctx, "gh", verify)
    return Plan(verdict=_logged_in(ctx, path))


def verify(ctx: SetupContext) -> Verdict:
    path = proc.which("gh")
    if path is None:
        return failed("the install finished but gh is still not on PATH", "check PATH, then rerun setup")
    return _logged_in(ctx, path, fresh=True)


def _logged_in(ctx: SetupContext, path: str, fresh: bool = False) -> Verdict:
    version, _ = version_of(path)
    what = f"{'installed ' if fresh else ''}gh {version or '(unknown version)'}"
    if proc.run([path, "auth", "status"], timeout=15, passthrough=GH_ENV).ok:
        return ok(f"{what}, logged in")
    token = github_token_source(ctx.env)
    if token:
        return ok(f"{what}; not logged in, but {token} is set (all kagura-engineer needs)")
    return needs_user(f"{what}, not logged in", "gh auth login (or export GH_TOKEN=<token>)")
