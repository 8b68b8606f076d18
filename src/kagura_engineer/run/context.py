"""Wiring for a run: the workspace, savepoints, the progress comment and the agent.

Kept apart from the phase machine so tests and the Action adapter can build the same
context with their own stand-ins, and the CLI stays a thin shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kagura_engineer.jobkey import JobKey
from kagura_engineer.run.loop import RunContext, RunOptions
from kagura_engineer.workflow import run_url

if TYPE_CHECKING:
    from kagura_engineer.config import Config


@contextmanager
def build_context(config: Config, options: RunOptions, live: bool = True) -> Iterator[RunContext]:
    """Open everything a run needs; closes the memory backend on the way out."""
    from kagura_engineer.agent import drive_agent, launch_agent
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.run.report import PhaseLines, RunProgress
    from kagura_engineer.workspace import open_workspace

    with open_workspace(config, live=live) as ws:
        gh, memory = ws.gh, ws.memory
        assert gh is not None and memory is not None
        key = str(JobKey.run(gh.owner, gh.repo, options.issue))
        comment = ProgressComment(gh, options.issue, key)
        progress = RunProgress(comment, run_url(), os.environ.get("GITHUB_STEP_SUMMARY"))
        yield RunContext(
            config=config,
            options=options,
            gh=gh,
            memory=memory,
            store=SavepointStore(memory),
            repo=ws.checkout,
            agent=drive_agent,
            launch=launch_agent,
            on_phase=PhaseLines() if live else (lambda name, state: None),
            progress=progress,
        )
