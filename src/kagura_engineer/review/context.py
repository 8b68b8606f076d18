"""Wiring for a review: the workspace, GitHub (for PRs), the reviewer, the fixer.

Kept apart from the job so tests build the same `ReviewContext` with their own stand-ins
and scripted functions, and the CLI stays a thin shell. A PR needs GitHub (token and
repository); HEAD or a branch is reviewed locally: nothing is posted and GitHub is not asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kagura_engineer.review.job import ReviewContext, ReviewOptions

if TYPE_CHECKING:
    from kagura_engineer.config import Config


@contextmanager
def build_context(config: Config, options: ReviewOptions, quiet: bool = False) -> Iterator[ReviewContext]:
    """Open everything a review needs; closes the memory backend on the way out."""
    from kagura_engineer.agent import drive_agent
    from kagura_engineer.git import slugify
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.review.reviewer import choose_reviewer
    from kagura_engineer.review.target import is_pr, resolve_local, resolve_pr
    from kagura_engineer.workflow import run_url
    from kagura_engineer.workspace import open_workspace

    number = is_pr(options.target)
    with open_workspace(config, live=not quiet, need_github=number is not None) as ws:
        repo, gh, memory = ws.checkout, ws.gh, ws.memory
        if gh is not None:
            owner, name = gh.owner, gh.repo
        elif ws.repository:
            owner, name = ws.repository.split("/", 1)
        else:
            owner, name = "local", slugify(repo.toplevel().name, 60)

        def resolve():
            if number is not None:
                return resolve_pr(repo, gh, number, options.base)
            default_base = config.base_branch or repo.default_branch()
            return resolve_local(repo, options.target, options.base, default_base)

        options.run_id = options.run_id or ws.run_id
        scratch = None  # the reviewer's report goes beside its clone, where the agent user may write
        yield ReviewContext(
            config=config, options=options, repo=repo, store=SavepointStore(memory), owner=owner, repo_name=name,
            resolve=resolve, reviewer=choose_reviewer(config, drive_agent, scratch), agent=drive_agent, gh=gh,
            memory=memory,
            progress=(lambda target, key: ProgressComment(gh, target.pr_number, key)) if gh is not None else None,
            run_url=run_url(), summary_path=os.environ.get("GITHUB_STEP_SUMMARY"), say=ws.say,
        )  # fmt: skip
