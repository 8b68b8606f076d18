"""Where a command works: the checkout, its GitHub repository, GitHub and the memory backend.

run, review, goal and eval open the same things in the same order with the same errors:

    config → checkout_root → git.github_repository → GitHub.from_env → open_memory

`open_workspace` does it once; the memory backend is closed on the way out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.git import Git
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.memory.base import MemoryClient


@dataclass(frozen=True)
class Workspace:
    config: Config
    repo: Git | None  # the checkout (None: not inside one, and the command said it may do without)
    repository: str | None  # owner/repo (None only when GitHub is not needed and nothing names it)
    gh: GitHub | None  # None when the command did not ask for GitHub
    memory: MemoryClient | None  # None when the command did not ask for it
    live: bool  # progress lines go to stderr as the command works
    say: Callable[[str], None]  # one progress line (untrusted text made inert), or nothing when not live
    run_id: str | None  # GITHUB_RUN_ID, in Actions

    @property
    def checkout(self) -> Git:
        """The checkout, for commands that asked for one (open_workspace raised otherwise)."""
        assert self.repo is not None
        return self.repo


def _stderr_line(line: str) -> None:
    from kagura_engineer.workflow import write_untrusted

    write_untrusted(line, sys.stderr)  # lines carry issue titles, model and check output


def _quiet(line: str) -> None:
    return None


@contextmanager
def open_workspace(
    config: Config, *, live: bool, need_checkout: bool = True, need_github: bool = True, memory: bool = True
) -> Iterator[Workspace]:
    """Open the command's workspace; ConfigError when a part it needs is missing.

    `need_checkout=False`: outside a checkout `repo` is None. `need_github=False`: no GitHub
    client, and `repository` is whatever GITHUB_REPOSITORY or origin names (maybe None).
    """
    from kagura_engineer.errors import ConfigError
    from kagura_engineer.git import checkout_root, github_repository

    try:
        repo = checkout_root()
    except ConfigError:
        if need_checkout:
            raise
        repo = None
    gh = None
    if need_github:
        from kagura_engineer.github.client import GitHub

        repository: str | None = github_repository(repo)
        gh = GitHub.from_env(repository=repository)
    else:
        try:
            repository = github_repository(repo)
        except ConfigError:
            repository = None
    opened = None
    if memory:
        from kagura_engineer.memory.factory import open_memory

        opened = open_memory(config)
    try:
        yield Workspace(
            config=config, repo=repo, repository=repository, gh=gh, memory=opened, live=live,
            say=_stderr_line if live else _quiet, run_id=os.environ.get("GITHUB_RUN_ID") or None,
        )  # fmt: skip
    finally:
        if opened is not None:
            opened.close()
