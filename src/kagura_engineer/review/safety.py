"""What a pull request from a fork may not do: plant instructions or tools for our agents.

Claude Code reads `CLAUDE.md` (at any depth), `.claude/` (settings with hooks, env, MCP
approvals, commands), `.mcp.json` and a few more files from its working directory before
any permission check. In a fork PR's checkout all of these are written by a stranger, so
before any agent (the reviewer included) reads the PR's code they are replaced by the base
branch's versions — deleted where the base has none. The restored files stay unstaged:
the reviewer diffs the committed `base...head`, so it still sees (and reviews) what the PR
changed in them, as data.

A fork PR is never fixed: we have no right to push to the fork's branch, and the job's
token must not run agents on code whose configuration a stranger controls.
"""

from __future__ import annotations

import shutil
from pathlib import PurePosixPath
from typing import Any

from kagura_engineer.errors import BlockedError

#: Top-level paths read by tools at startup (Claude Code, git, ripgrep, hook managers).
TOP_LEVEL = (".mcp.json", ".claude.json", ".gitmodules", ".ripgreprc", ".husky", ".githooks", "lefthook.yml",
             ".lefthook.yml", ".pre-commit-config.yaml")  # fmt: skip
#: Names sensitive at any depth (Claude Code loads nested CLAUDE.md files and .claude dirs).
ANY_DEPTH_FILES = ("CLAUDE.md", "CLAUDE.local.md")
ANY_DEPTH_DIRS = (".claude",)


def is_sensitive(path: str) -> bool:
    """True for a repository path a PR must not control (POSIX, relative)."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    if parts[0] in TOP_LEVEL:
        return True
    if parts[-1] in ANY_DEPTH_FILES:
        return True
    return any(p in ANY_DEPTH_DIRS for p in parts[:-1]) or parts[-1] in ANY_DEPTH_DIRS


def _tracked(tree: Any, rev: str) -> dict[str, str]:
    """{path: "<mode> <object id>"} of the sensitive paths committed at `rev`."""
    out = tree.run("-c", "core.quotePath=false", "ls-tree", "-r", "-z", rev).stdout
    found: dict[str, str] = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        if path and is_sensitive(path):
            mode, _kind, oid = meta.split()
            found[path] = f"{mode} {oid}"
    return found


def restore_from_base(tree: Any, base_sha: str) -> list[str]:
    """Make every sensitive path in the worktree `tree` (a `run.git.Git`) what `base_sha` has.

    The worktree must be a clean checkout of the PR head. Returns the paths that differed
    (replaced or removed), sorted. Paths the base has are checked out from it byte for
    byte and unstaged again; paths it lacks are deleted. Nothing stays staged.
    """
    root = tree.cwd
    base = _tracked(tree, base_sha)
    head = _tracked(tree, "HEAD")
    changed = sorted(p for p in set(base) | set(head) if base.get(p) != head.get(p))
    for rel in changed:
        target = root / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    restore = [p for p in changed if p in base]
    if restore:
        tree.run("checkout", base_sha, "--", *restore)
        tree.run("reset", "--quiet", "--", *restore)
    return changed


def refuse_fork_fix(pr_number: int, head_repo: str | None, base_repo: str) -> BlockedError:
    """The error for `review --fix` on a fork PR (exit 2), with what to do instead."""
    where = head_repo or "a deleted fork"
    return BlockedError(
        f"#{pr_number} comes from a fork ({where}), not {base_repo}: review --fix is refused. "
        "The job may not push to a fork's branch, and an agent must not run with write access on "
        "code whose configuration a stranger controls.",
        hint=f"review it without --fix (kagura-engineer review {pr_number}); the author applies the fixes, "
        "or a maintainer moves the branch into this repository",
    )
