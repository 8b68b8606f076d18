"""Keep `.kagura/` (memory DB, worktrees, savepoints, review files) out of `git status`.

`exclude_scratch(path)`: when `path` lies in a `.kagura` directory inside a git work tree,
that directory is added to the checkout's `info/exclude` (in the common git directory, so a
linked worktree's main checkout is covered too), once. Plain file reads and one append, no
git process: it runs on every open of the local memory store. Any error is ignored — a
visible `.kagura/` is untidy, not a reason to fail.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SCRATCH = ".kagura"


def exclude_scratch(path: str | os.PathLike[str]) -> str | None:
    """Add the `.kagura` directory holding `path` to its checkout's exclude file; the pattern
    written or already there (None when `path` is not under `.kagura` in a work tree)."""
    with contextlib.suppress(OSError, ValueError):
        path = Path(path).absolute()
        scratch = next((p for p in (path, *path.parents) if p.name == SCRATCH), None)
        if scratch is None:
            return None
        for top in scratch.parents:
            git = top / ".git"
            if git.exists():
                common = _common_dir(git)
                if common is None:
                    return None
                pattern = f"/{scratch.relative_to(top).as_posix()}/"
                _add_line(common / "info" / "exclude", pattern)
                return pattern
    return None


def _common_dir(git: Path) -> Path | None:
    """The git directory shared by all worktrees, from a work tree's `.git` (dir or file)."""
    if git.is_file():  # a linked worktree or submodule: "gitdir: <path>"
        text = git.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir:"):
            return None
        gitdir = Path(text.removeprefix("gitdir:").strip())
        git = gitdir if gitdir.is_absolute() else (git.parent / gitdir)
    commondir = git / "commondir"
    if commondir.is_file():
        shared = Path(commondir.read_text(encoding="utf-8").strip())
        return shared if shared.is_absolute() else (git / shared).resolve()
    return git


def _add_line(exclude: Path, pattern: str) -> None:
    text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    if pattern in (line.strip() for line in text.splitlines()):
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if text and not text.endswith("\n") else "") + pattern + "\n")
