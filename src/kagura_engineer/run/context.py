"""Wiring for a run: config, GitHub, memory, savepoints, the checkout and the agent.

Kept apart from the phase machine so tests and the Action adapter can build the same
context with their own stand-ins, and the CLI stays a thin shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kagura_engineer.git import checkout_root, github_repository
from kagura_engineer.jobkey import JobKey
from kagura_engineer.run.loop import RunContext, RunOptions
from kagura_engineer.workflow import run_url


@contextmanager
def build_context(config_path: str | None, options: RunOptions, live: bool = True) -> Iterator[RunContext]:
    """Open everything a run needs; closes the memory backend on the way out."""
    from kagura_engineer.agent import drive_agent, launch_agent
    from kagura_engineer.config import load_config
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.memory.factory import open_memory
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.run.report import PhaseLines, RunProgress

    config = load_config(config_path)
    repo = checkout_root()
    repository = github_repository(repo)
    gh = GitHub.from_env(repository=repository)
    memory = open_memory(config)
    try:
        store = SavepointStore(memory)
        key = str(JobKey.run(gh.owner, gh.repo, options.issue))
        comment = ProgressComment(gh, options.issue, key)
        progress = RunProgress(comment, run_url(), os.environ.get("GITHUB_STEP_SUMMARY"))
        yield RunContext(
            config=config,
            options=options,
            gh=gh,
            memory=memory,
            store=store,
            repo=repo,
            agent=drive_agent,
            launch=launch_agent,
            on_phase=PhaseLines() if live else (lambda name, state: None),
            progress=progress,
        )
    finally:
        memory.close()
