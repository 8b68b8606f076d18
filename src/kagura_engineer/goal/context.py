"""What a goal touches, built once by the command (or a test) and passed in.

The seam: `GoalContext.drive(ctx, issue, options) -> RunOutcome` runs one issue. The
default builds a `RunContext` from this context's GitHub, memory, savepoint store,
checkout and agent, and calls `run_issue`; tests pass a scripted one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kagura_engineer.config import Config
from kagura_engineer.goal.graph import Issue
from kagura_engineer.jobkey import JobKey

Drive = Callable[["GoalContext", Issue, Any], Any]  # (ctx, issue, RunOptions) -> RunOutcome


def default_drive(ctx: GoalContext, issue: Issue, options: Any) -> Any:
    """One issue through the real run phase machine, sharing this goal's connections."""
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.run.loop import RunContext, run_issue
    from kagura_engineer.run.report import RunProgress

    if ctx.repo is None:
        from kagura_engineer.errors import ConfigError

        raise ConfigError("goal needs a git checkout to drive issues", hint="run it from your repository's work tree")
    key = str(JobKey.run(ctx.gh.owner, ctx.gh.repo, issue.number))
    comment = ProgressComment(ctx.gh, issue.number, key, min_interval=ctx.progress_interval)
    # the goal's own table is the job summary; each issue's details live in its comment
    progress = RunProgress(comment, ctx.run_url, None)
    run_ctx = RunContext(
        config=ctx.config, options=options, gh=ctx.gh, memory=ctx.memory, store=ctx.store,
        repo=ctx.repo, agent=ctx.agent, launch=ctx.launch, on_phase=ctx.on_phase, progress=progress,
    )  # fmt: skip
    return run_issue(run_ctx)


def milestone_slug(title: str) -> str:
    """A savepoint-safe form of a milestone title (`v0.3`, `Sprint 12` -> `sprint-12`)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", title.strip()).strip("-.").lower()
    return (slug or "milestone")[:80]


@dataclass
class GoalContext:
    config: Config
    milestone: str
    gh: Any  # kagura_engineer.github.client.GitHub
    memory: Any  # MemoryClient
    store: Any  # SavepointStore
    repo: Any = None  # run.git.Git: the checkout (None only for --plan)
    agent: Callable[..., Any] | None = None  # the driver a run calls (default drive)
    launch: Callable[..., Any] | None = None  # agent.driver.launch_agent: claude started before setup
    drive: Drive = default_drive
    unattended: bool = False
    draft: bool = False  # every issue's pull request opens as a draft
    run_id: str | None = None
    run_url: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    on_phase: Callable[[str, str], None] = lambda name, state: None
    say: Callable[[str], None] = lambda line: None  # live progress lines (stderr)
    progress_interval: float = 3.0

    @property
    def key(self) -> str:
        """The goal's own savepoint key: goal/<owner>/<repo>/<milestone-slug>."""
        return str(JobKey.goal(self.gh.owner, self.gh.repo, milestone_slug(self.milestone)))

    @property
    def comment_key(self) -> str:
        """The tracking comment's key: the same one the Action's progress comment uses, so
        the goal takes that comment over instead of adding a second one."""
        return str(JobKey.goal(self.gh.owner, self.gh.repo, self.milestone))


def _quiet_phase(name: str, state: str) -> None:
    return None


@contextmanager
def open_goal(
    config: Config, milestone: str, *, unattended: bool, live: bool, need_checkout: bool, draft: bool = False
) -> Iterator[GoalContext]:
    """Build the context from the config and the environment; closes memory on the way out."""
    from kagura_engineer.errors import ConfigError
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.workflow import run_url
    from kagura_engineer.workspace import open_workspace

    if not milestone.strip():
        raise ConfigError("goal needs a milestone title", hint="kagura-engineer goal 'v0.3'")
    agent = launch = None
    on_phase: Callable[[str, str], None] = _quiet_phase
    if need_checkout:
        from kagura_engineer.agent import drive_agent, launch_agent
        from kagura_engineer.run.report import PhaseLines

        agent, launch = drive_agent, launch_agent
        if live:
            on_phase = PhaseLines()
    with open_workspace(config, live=live, need_checkout=need_checkout) as ws:
        yield GoalContext(
            config=config, milestone=milestone, gh=ws.gh, memory=ws.memory, store=SavepointStore(ws.memory),
            repo=ws.repo, agent=agent, launch=launch, unattended=unattended, draft=draft, run_id=ws.run_id, run_url=run_url(),
            on_phase=on_phase, say=ws.say,
        )  # fmt: skip
