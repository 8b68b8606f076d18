"""toolchain: which repo.yaml the gate trusts for `setup`/`checks`, and whether the checks'
programs will exist once setup ran.

The trusted file is the default branch's (`origin/<default>:repo.yaml`, read from this
checkout's remote-tracking ref; nothing is fetched). A check whose program is neither on PATH
here nor made or named by a setup command is a WARN: in the container action it would fail
whatever the agent did (e.g. `checks: [pytest]` with no setup that installs it).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from kagura_engineer import proc
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, ok, skipped, warn

#: Shell builtins and keywords a check may start with (never looked up on PATH).
BUILTINS = frozenset(
    "cd test [ [[ true false echo printf export set unset source . exit return if then else fi for while "
    "do done case esac ! { } ( ) : eval exec command type pushd popd shopt umask wait".split()
)
#: Debian packages that provide a program under another name.
PACKAGES = {"go": ("golang-go", "golang"), "node": ("nodejs",), "npx": ("npm",), "rustc": ("cargo", "rustc")}


def programs(check: str) -> list[str]:
    """The programs a check line starts (each simple command's first word after VAR=value)."""
    from kagura_engineer.agent.argv import split_command

    found = []
    for part in split_command(check):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]
        if words and words[0] not in BUILTINS:
            found.append(words[0])
    return found


def provided(program: str, setup_text: list[str], cwd: Path, cache_paths: list[str]) -> bool:
    """Whether `program` exists here or a setup command makes or names it."""
    if "/" in program:
        if os.path.isabs(program):
            return os.access(program, os.X_OK)
        if (cwd / program).exists():
            return True
        first = Path(program).parts[0]
        return first in cache_paths or any(
            re.search(rf"(?<![\w.-]){re.escape(first)}(?![\w-])", t) for t in setup_text
        )
    if proc.which(program):
        return True
    names = (program, *PACKAGES.get(program, ()))
    return any(re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", t) for n in names for t in setup_text)


def missing(config: Any, cwd: Path) -> list[tuple[str, str]]:
    """(check, program) for every check program nothing will provide."""
    setup_text = [step.run for step in config.setup]
    cache_paths = list(config.setup_cache.paths) if config.setup_cache else []
    return [(check, prog) for check in config.checks for prog in programs(check)
            if not provided(prog, setup_text, cwd, cache_paths)]  # fmt: skip


def default_ref(repo: Any, config: Any) -> str:
    """`origin/<default>`: origin/HEAD as this checkout knows it, else base_branch, else main."""
    head = repo.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False)
    if head.ok and head.stdout.strip():
        return head.stdout.strip()
    return f"origin/{config.base_branch or 'main'}"


def check(ctx: DoctorContext) -> Outcome:
    from kagura_engineer.git import Git, GitError
    from kagura_engineer.toolchain.trusted import trusted_config

    config = ctx.config
    try:
        repo = Git(Git(ctx.cwd).toplevel())
    except GitError:
        return skipped("not inside a git checkout: setup and checks come from the default branch's repo.yaml")
    ref = default_ref(repo, config)
    if not repo.run("rev-parse", "--verify", "--quiet", f"refs/remotes/{ref}", check=False).ok:
        used, source, note = config, config.source, f"{ref} is not fetched here: showing {config.source}"
    else:
        trusted = trusted_config(config, repo, f"refs/remotes/{ref}", ref)
        used, source, note = trusted.config, trusted.source, trusted.note
    summary = (
        f"setup and checks from {source}: {len(used.setup)} setup command(s), {len(used.checks)} check(s)"
    )
    gaps = missing(used, Path(repo.cwd))
    if gaps:
        listed = ", ".join(f"`{prog}` (in `{c}`)" for c, prog in gaps[:4])
        return warn(
            f"{summary}; not on PATH and installed by no setup command: {listed}",
            "install it in `setup` and call it by path, e.g. setup: [python3 -m venv .venv, "
            ".venv/bin/pip install pytest]; checks: [.venv/bin/python -m pytest -q] (`kagura-engineer init` "
            "writes these for common layouts)",
        )
    if note:
        return warn(f"{summary}; {note}")
    if not used.checks:
        return ok(f"{summary} (no checks: pull requests are drafts)")
    return ok(summary)
