"""A goal world: a real git checkout with a bare origin, the GitHub stand-in holding a
milestone, a real local memory store, and two ways to run an issue: a scripted seam that
plays the world's part of `run` (a branch and a PR on the stand-in), or the real
`run_issue` behind the default seam with a scripted agent function."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.config import parse_config
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.git import Git, branch_name
from kagura_engineer.github.client import GitHub
from kagura_engineer.goal.context import GoalContext, default_drive
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import Savepoint, SavepointStore
from kagura_engineer.run.outcome import RunOutcome

TOKEN = "ghs_goalTestToken0000000000000000000000"
MILESTONE = "v1.0"


class Killed(BaseException):
    """Stands for kill -9 in-process: nothing after it runs, no handler catches it."""


@dataclass
class ScriptedRuns:
    """The `drive` seam, scripted: per issue, the status of each successive call.

    A "shipped" call leaves what a real run leaves (the branch, one open PR from it against
    the base it was given, a "shipped" run savepoint), so a later survey sees it shipped."""

    github: GitHubStandIn
    script: dict[int, list[str]] = field(default_factory=dict)
    cost_usd: float = 0.1
    calls: list[tuple[int, Any]] = field(default_factory=list)
    kill_after: set[int] = field(default_factory=set)  # issues whose run "dies" once it has shipped

    def __call__(self, ctx: GoalContext, issue: Any, options: Any) -> RunOutcome:
        self.calls.append((issue.number, options))
        statuses = self.script.get(issue.number, ["shipped"])
        made = sum(1 for n, _ in self.calls if n == issue.number)
        status = statuses[min(made, len(statuses)) - 1]
        branch = branch_name(ctx.config.branch_prefix, issue.number, issue.title)
        if status != "shipped":
            return RunOutcome(status=status, issue=issue.number, branch=branch, verdict="red",
                              cost_usd=self.cost_usd, reason=f"scripted {status}")  # fmt: skip
        pulls = self.github.open_pulls(head=branch)
        if not pulls:
            self.github.add_branch(branch)
            pulls = [self.github.add_pull(branch, options.base, f"{issue.title} (#{issue.number})")]
        number = pulls[0]["number"]
        ctx.store.save(Savepoint(key=f"run/acme/widgets/issue-{issue.number}", phase="shipped", branch=branch,
                                 pr_number=number, verdict="green", cost_usd=self.cost_usd))  # fmt: skip
        if issue.number in self.kill_after:
            raise Killed(f"killed right after #{issue.number} shipped")
        return RunOutcome(status="shipped", issue=issue.number, branch=branch, pr_number=number,
                          pr_url=f"{self.github.server_url}/acme/widgets/pull/{number}", verdict="green",
                          cost_usd=self.cost_usd)  # fmt: skip

    @property
    def order(self) -> list[int]:
        return [n for n, _ in self.calls]


@dataclass
class GoalWorld:
    repo: Path
    origin: Path
    github: GitHubStandIn
    db: Path
    tmp: Path
    said: list[str] = field(default_factory=list)

    def config(self, **overrides: Any):
        data = {"profile": "test", "memory_backend": "local", "local_memory_path": str(self.db)}
        data.update(overrides)
        return parse_config(data)

    def gh(self) -> GitHub:
        return GitHub.from_env(self.github.env(), sleep=lambda s: None, timeout=5)

    def context(self, drive: Callable[..., Any] | None = None, agent: Callable[..., Any] | None = None,
                environ: dict[str, str] | None = None, milestone: str = MILESTONE, **cfg: Any) -> GoalContext:  # fmt: skip
        memory = LocalMemory(self.db)
        return GoalContext(
            config=self.config(**cfg), milestone=milestone, gh=self.gh(), memory=memory,
            store=SavepointStore(memory), repo=Git(self.repo), agent=agent, drive=drive or default_drive,
            run_id="local-test", environ=environ or {}, say=self.said.append, progress_interval=0.0,
        )  # fmt: skip

    def issue(self, number: int, title: str, body: str = "", **kw: Any) -> None:
        self.github.add_issue(number, title, body, milestone=kw.pop("milestone", MILESTONE), **kw)

    def pulls(self) -> list[dict]:
        gh = self.gh()
        return [gh.get_pull(p["number"]) for p in self.github.open_pulls()]

    def origin_file(self, branch: str, path: str) -> str | None:
        out = subprocess.run(
            ["git", "show", f"{branch}:{path}"], cwd=self.origin, capture_output=True, text=True
        )
        return out.stdout if out.returncode == 0 else None


@pytest.fixture
def world(git_repo: Path, tmp_path: Path) -> Iterator[GoalWorld]:
    origin = tmp_path / "origin.git"
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github:
        github.add_milestone(MILESTONE)
        yield GoalWorld(git_repo, origin, github, tmp_path / "mem" / "memory.db", tmp_path)


@pytest.fixture
def loose_world(git_repo: Path, tmp_path: Path) -> Iterator[GoalWorld]:
    """Like `world`, but PR branches need not exist in git (for the scripted seam)."""
    with GitHubStandIn(token=TOKEN) as github:
        github.add_milestone(MILESTONE)
        yield GoalWorld(git_repo, tmp_path / "origin.git", github, tmp_path / "mem" / "memory.db", tmp_path)


@pytest.fixture
def cli_env(world, monkeypatch, tmp_path):
    """The CLI pointed at the world: GitHub env, a repo.yaml, GITHUB_OUTPUT, cwd = the checkout,
    and what driving needs before it starts (a claude, here one that is never run, and a key)."""
    for key, value in world.github.env().items():
        monkeypatch.setenv(key, value)
    claude = tmp_path / "claude-never-run"
    claude.write_text("#!/bin/sh\nexit 1\n")
    claude.chmod(0o755)
    monkeypatch.setenv("KAGURA_CLAUDE_BIN", str(claude))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "g" * 30)
    config = tmp_path / "repo.yaml"
    config.write_text(f"profile: test\nmemory_backend: local\nlocal_memory_path: {world.db}\n")
    output = tmp_path / "github_output"
    output.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.chdir(world.repo)
    return config, output


def three_issues(world: GoalWorld) -> None:
    """#1 depends on #3; #2 is independent and low priority. Order: #3, #1, #2."""
    world.issue(1, "Use the greeting in the banner", "The banner should show the greeting.\n\nDepends on #3")
    world.issue(2, "Document the banner", "Docs.", labels=["priority: low"])
    world.issue(3, "Add a greeting file", "Please add greeting.txt.")


@dataclass
class AgentResult:
    """What the loop reads from the driver's result."""

    status: str = "done"
    summary: str = "did the work"
    notes: str = ""
    files_changed: list[str] = field(default_factory=list)
    cost_usd: float = 0.05
    turns: int = 2
    session_id: str | None = "sess-goal"
    stopped_by: str | None = None


@dataclass
class FileAgent:
    """An agent function: in the worktree of issue N it writes `issue-N.txt` (content per
    issue, "ok" unless told) and records which files it found there first."""

    content: dict[int, str] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> AgentResult:
        cwd = Path(kwargs["cwd"])
        n = int(cwd.name.removeprefix("issue-"))
        self.calls.append({"issue": n, "found": sorted(p.name for p in cwd.glob("issue-*.txt")), **kwargs})
        if kwargs.get("on_session"):
            kwargs["on_session"]("sess-goal")
        (cwd / f"issue-{n}.txt").write_text(self.content.get(n, "ok") + "\n")
        return AgentResult(files_changed=[f"issue-{n}.txt"])

    @property
    def issues(self) -> list[int]:
        return [c["issue"] for c in self.calls]
