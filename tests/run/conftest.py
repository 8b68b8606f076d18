"""A run world: a real git checkout with a bare origin, the GitHub stand-in (whose PRs are
checked against that origin), a real local memory store, and a scripted agent function."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.config import parse_config
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.git import Git
from kagura_engineer.github.client import GitHub
from kagura_engineer.github.progress import ProgressComment
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore
from kagura_engineer.run.loop import RunContext, RunOptions
from kagura_engineer.run.report import RunProgress

TOKEN = "ghs_runTestToken00000000000000000000000"


@dataclass
class ScriptedResult:
    """What the driver returns, as the loop reads it."""

    status: str = "done"
    summary: str = "did the work"
    notes: str = ""
    files_changed: list[str] = field(default_factory=list)
    cost_usd: float = 0.05
    turns: int = 3
    session_id: str | None = "sess-1"
    stopped_by: str | None = None


@dataclass
class ScriptedAgent:
    """An agent function whose every call runs the next step (a function of the worktree)."""

    steps: list[Callable[[Path], ScriptedResult]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> ScriptedResult:
        self.calls.append(kwargs)
        step = self.steps[min(len(self.calls), len(self.steps)) - 1]
        if kwargs.get("on_session"):
            kwargs["on_session"]("sess-1")
        return step(Path(kwargs["cwd"]))


def writes(name: str, text: str, status: str = "done") -> Callable[[Path], ScriptedResult]:
    def step(cwd: Path) -> ScriptedResult:
        (cwd / name).write_text(text)
        return ScriptedResult(status=status, files_changed=[name])

    return step


@dataclass
class World:
    repo: Path
    origin: Path
    github: GitHubStandIn
    db: Path
    tmp: Path

    def config(self, **overrides: Any):
        data = {"profile": "test", "memory_backend": "local", "local_memory_path": str(self.db)}
        data.update(overrides)
        return parse_config(data)

    def context(self, agent: Callable[..., Any], issue: int = 7, **cfg: Any) -> RunContext:
        gh = GitHub.from_env(self.github.env(), sleep=lambda s: None, timeout=5)
        memory = LocalMemory(self.db)
        key = f"run/acme/widgets/issue-{issue}"
        progress = RunProgress(ProgressComment(gh, issue, key, min_interval=0.0), None, None)
        return RunContext(
            config=self.config(**cfg), options=RunOptions(issue=issue, run_id="local-test"), gh=gh,
            memory=memory, store=SavepointStore(memory), repo=Git(self.repo), agent=agent, progress=progress,
        )  # fmt: skip

    def pulls(self) -> list[dict]:
        """Open PRs as the REST API shows them."""
        gh = GitHub.from_env(self.github.env(), timeout=5)
        return [gh.get_pull(p["number"]) for p in self.github.open_pulls()]

    def origin_branches(self) -> list[str]:
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:short)", "refs/heads"],
            cwd=self.origin, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.split()

    def origin_file(self, branch: str, path: str) -> str | None:
        out = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=self.origin, capture_output=True, text=True)
        return out.stdout if out.returncode == 0 else None


@pytest.fixture
def world(git_repo: Path, tmp_path: Path) -> Iterator[World]:
    origin = tmp_path / "origin.git"
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github:
        github.add_issue(7, "Add a greeting file", "Please add hello.txt saying hi.")
        yield World(git_repo, origin, github, tmp_path / "mem" / "memory.db", tmp_path)
