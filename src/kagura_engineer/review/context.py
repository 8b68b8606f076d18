"""Wiring for a review: config, the checkout, GitHub (for PRs), memory, the reviewer, the fixer.

Kept apart from the job so tests build the same `ReviewContext` with their own stand-ins
and scripted functions, and the CLI stays a thin shell. A PR needs GitHub (token and
repository); HEAD or a branch is reviewed locally: nothing is posted and GitHub is not asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kagura_engineer.errors import ConfigError
from kagura_engineer.review.job import ReviewContext, ReviewOptions


@contextmanager
def build_context(config_path: str | None, options: ReviewOptions, quiet: bool = False) -> Iterator[ReviewContext]:
    """Open everything a review needs; closes the memory backend on the way out."""
    from kagura_engineer.agent import drive_agent
    from kagura_engineer.config import load_config
    from kagura_engineer.git import checkout_root, repository_from_origin, slugify
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.memory.factory import open_memory
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.review.reviewer import choose_reviewer
    from kagura_engineer.review.target import is_pr, resolve_local, resolve_pr
    from kagura_engineer.workflow import run_url, write_untrusted

    config = load_config(config_path)
    repo = checkout_root()
    repository = os.environ.get("GITHUB_REPOSITORY") or repository_from_origin(repo)
    number = is_pr(options.target)
    gh = None
    if number is not None:
        if not repository:
            raise ConfigError(
                "cannot tell which GitHub repository this is",
                hint="set GITHUB_REPOSITORY=owner/repo or give the checkout a GitHub origin",
            )
        gh = GitHub.from_env(repository=repository)
        owner, name = gh.owner, gh.repo
    elif repository:
        owner, name = repository.split("/", 1)
    else:
        owner, name = "local", slugify(repo.toplevel().name, 60)

    def resolve():
        if number is not None:
            return resolve_pr(repo, gh, number, options.base)
        default_base = config.base_branch or repo.default_branch()
        return resolve_local(repo, options.target, options.base, default_base)

    options.run_id = options.run_id or os.environ.get("GITHUB_RUN_ID") or None
    memory = open_memory(config)
    try:
        scratch = None  # the reviewer's report goes beside its clone, where the agent user may write
        yield ReviewContext(
            config=config, options=options, repo=repo, store=SavepointStore(memory), owner=owner, repo_name=name,
            resolve=resolve, reviewer=choose_reviewer(config, drive_agent, scratch), agent=drive_agent, gh=gh,
            memory=memory,
            progress=(lambda target, key: ProgressComment(gh, target.pr_number, key)) if gh is not None else None,
            run_url=run_url(), summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
            say=(lambda line: None) if quiet else write_untrusted,
        )  # fmt: skip
    finally:
        memory.close()
