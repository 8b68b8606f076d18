"""git: on PATH, the working directory inside a work tree, no `safe.directory` refusal."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kagura_engineer import proc
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn
from kagura_engineer.doctor.tools import parse_version

_DUBIOUS = re.compile(r"dubious ownership in repository at '([^']+)'")


def git_env_passthrough(env: Mapping[str, str]) -> list[str]:
    """The GIT_CONFIG_* variables that may carry `safe.directory` in a container (kept, not dropped)."""
    names = ["GIT_CONFIG_COUNT", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"]
    return names + [n for n in env if n.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))]


def dubious_path(stderr: str) -> str | None:
    """The repository path from git's "detected dubious ownership" error, or None."""
    match = _DUBIOUS.search(stderr or "")
    return match.group(1) if match else None


def safe_directory_fix(path: str) -> str:
    return f"git config --global --add safe.directory {path}"


def check(ctx: DoctorContext) -> Outcome:
    git = proc.which("git")
    if git is None:
        return fail("git not found on PATH", "install git (kagura-engineer setup --fix git)")
    passthrough = git_env_passthrough(ctx.env)
    version = parse_version(proc.run([git, "--version"], timeout=5).stdout) or "unknown version"
    probe = proc.run(
        [git, "rev-parse", "--is-inside-work-tree", "--show-toplevel"], cwd=ctx.cwd, timeout=5, passthrough=passthrough
    )
    if probe.ok and probe.stdout.startswith("true"):
        top = probe.stdout.splitlines()[-1].strip()
        return ok(f"git {version}, work tree {top}")
    path = dubious_path(probe.stderr)
    if path:
        return fail(f"git {version} refuses {path}: dubious ownership (owned by another user)", safe_directory_fix(path))
    if probe.ok:  # inside a .git directory or a bare repository
        return warn(f"git {version}; {ctx.cwd} is not inside a work tree", "cd into the repository's work tree")
    detail = f"git {version}; {ctx.cwd} is not inside a git work tree"
    if ctx.in_actions:
        return fail(detail, "add `- uses: actions/checkout@v4` before the kagura-engineer step")
    return warn(detail, "run kagura-engineer from inside the repository it should work on")
