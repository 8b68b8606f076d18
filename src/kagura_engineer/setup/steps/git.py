"""git: installed with the package manager; a `safe.directory` refusal is the user's call."""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.doctor.checks.git import dubious_path, git_env_passthrough, safe_directory_fix
from kagura_engineer.doctor.tools import version_of
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Plan, StepStatus, Verdict, failed, ok
from kagura_engineer.setup.steps.common import install_plan


def plan(ctx: SetupContext) -> Plan:
    path = proc.which("git")
    if path is None:
        return install_plan(ctx, "git", verify)
    version, _ = version_of(path)
    probe = proc.run([path, "rev-parse", "--git-dir"], cwd=ctx.cwd, timeout=10, passthrough=git_env_passthrough(ctx.env))
    dubious = dubious_path(probe.stderr)
    if dubious:
        # Trusting a repository owned by someone else is a person's decision, never automatic.
        return Plan.done(StepStatus.NEEDS_USER, f"git {version} refuses {dubious}: dubious ownership",
                         safe_directory_fix(dubious))  # fmt: skip
    return Plan.done(StepStatus.OK, f"git {version or '(unknown version)'} at {path}")


def verify(ctx: SetupContext) -> Verdict:
    path = proc.which("git")
    if path is None:
        return failed("the install finished but git is still not on PATH", "check PATH, then rerun setup")
    version, _ = version_of(path)
    return ok(f"installed git {version or '(unknown version)'} at {path}")
