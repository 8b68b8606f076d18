"""A review world: a real checkout with a bare origin, the GitHub stand-in checking review
comments against that origin's diffs, a real local memory store, and pull requests made
of real commits. Reviewers and fixers are either the real programs (kagura-code-reviewer
against the Ollama stand-in) or scripted functions standing in for the claude driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.agent import AgentResult
from kagura_engineer.config import parse_config
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.git import Git
from kagura_engineer.github.client import GitHub
from kagura_engineer.github.progress import ProgressComment
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore
from kagura_engineer.review.job import ReviewContext, ReviewOptions, run_review
from kagura_engineer.review.reviewer import ClaudeReviewer, CodeReviewer
from kagura_engineer.review.target import is_pr, resolve_local, resolve_pr
from support.envelope import build_envelope

TOKEN = "ghs_reviewTestToken0000000000000000000000"
GOOD = "def average(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n"
BUGGY = "def average(xs):\n    return sum(xs) / 0\n"
BASE_CALC = "def average(xs):\n    return sum(xs) / len(xs)\n"
BUG_TITLE = "Division by zero"


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def reviewer_binary() -> str:
    """The installed kagura-code-reviewer (the `[review]` extra), next to this Python."""
    candidate = Path(sys.executable).parent / "kagura-code-reviewer"
    found = str(candidate) if candidate.exists() else shutil.which("kagura-code-reviewer")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("kagura-code-reviewer is missing: pip install -e '.[review]'")
    pytest.skip("kagura-code-reviewer is not installed (pip install -e '.[review]')")


class ForkingGitHub(GitHubStandIn):
    """The GitHub stand-in, with some PRs coming from a fork: their head lives in the fork,
    reachable from the base repository only as `refs/pull/<n>/head` (as on GitHub)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.forks: dict[int, str] = {}

    def _pull_ref(self, number: int) -> str:
        return f"refs/pull/{number}/head"

    def _refresh_head(self, number: int) -> None:
        super()._refresh_head(number)
        if number in self.forks:
            result = self._git("rev-parse", "--verify", "--quiet", self._pull_ref(number))
            if result.ok:
                self.pulls[number]["head_sha"] = result.stdout.strip()

    def diff_lines(self, number: int) -> dict:
        p = self.pulls[number]
        if number not in self.forks:
            return super().diff_lines(number)
        saved, p["head_ref"] = p["head_ref"], self._pull_ref(number)
        try:
            return super().diff_lines(number)
        finally:
            p["head_ref"] = saved

    def _pull_json(self, number: int, simple: bool = False) -> dict:
        out = super()._pull_json(number, simple)
        fork = self.forks.get(number)
        if fork:
            owner = fork.split("/")[0]
            out["head"]["repo"] = {**out["head"]["repo"], "full_name": fork, "name": fork.split("/")[1],
                                   "owner": self._user(owner), "fork": True}  # fmt: skip
            out["head"]["label"] = f"{owner}:{out['head']['ref']}"
            out["head"]["user"] = self._user(owner)
        return out


@dataclass
class ScriptedFixer:
    """Stands in for the claude driver as fixer: each call runs the next step on the worktree."""

    steps: list[Callable[[Path], None]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> AgentResult:
        self.calls.append(kwargs)
        step = self.steps[min(len(self.calls), len(self.steps)) - 1]
        if kwargs.get("on_session"):
            kwargs["on_session"]("sess-fix")
        step(Path(kwargs["cwd"]))
        return AgentResult(status="done", summary="fixed the finding", cost_usd=0.02, turns=2, session_id="sess-fix")


def writes(name: str, text: str) -> Callable[[Path], None]:
    def step(cwd: Path) -> None:
        (cwd / name).write_text(text)

    return step


@dataclass
class ScriptedClaudeReviewer:
    """Stands in for the claude driver as reviewer: the envelope depends on the files it reads."""

    judge: Callable[[Path], list[dict[str, Any]]]
    calls: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, str | None]] = field(default_factory=list)  # sensitive files as the reviewer saw them
    output: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    during: Callable[[], None] | None = None

    def __call__(self, **kwargs: Any) -> AgentResult:
        self.calls.append(kwargs)
        cwd = Path(kwargs["cwd"])
        self.seen.append({name: (cwd / name).read_text() if (cwd / name).is_file() else None
                          for name in ("CLAUDE.md", ".mcp.json", ".claude/settings.json")})  # fmt: skip
        if self.during is not None:
            self.during()
        envelope: dict[str, Any] | None = build_envelope(self.judge(cwd)).to_json()
        if self.output is not None:
            envelope = self.output(envelope)
        return AgentResult(status="error", cost_usd=0.01, turns=1, structured_output=envelope,
                           notes="claude finished without the closing report (StructuredOutput)")  # fmt: skip


def finding(file: str, line: int | None, title: str = BUG_TITLE, severity: str = "HIGH") -> dict[str, Any]:
    return {"dimension": "correctness", "severity": severity, "file": file, "line": line, "title": title,
            "rationale": "divides by zero on every call", "suggestion": "divide by len(xs)"}  # fmt: skip


def judge_calc(cwd: Path) -> list[dict[str, Any]]:
    """Red while calc.py divides by zero, green once it does not."""
    text = (cwd / "calc.py").read_text()
    lines = text.splitlines()
    bad = next((i for i, line in enumerate(lines, 1) if "/ 0" in line), None)
    return [finding("calc.py", bad)] if bad else []


@dataclass
class World:
    repo: Path
    origin: Path
    github: ForkingGitHub
    db: Path
    tmp: Path
    sleeps: list[float] = field(default_factory=list)

    # -- git ---------------------------------------------------------------------------
    def branch_with(self, branch: str, files: dict[str, str], message: str = "change", base: str = "main") -> str:
        """A branch of `base` with `files` written and committed, pushed to origin; its SHA."""
        git(self.repo, "checkout", "-q", "-B", branch, base)
        for name, text in files.items():
            path = self.repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", message)
        git(self.repo, "push", "-q", "-f", "origin", f"{branch}:refs/heads/{branch}")
        sha = git(self.repo, "rev-parse", "HEAD")
        git(self.repo, "checkout", "-q", "main")
        return sha

    def on_main(self, files: dict[str, str], message: str = "base") -> str:
        for name, text in files.items():
            path = self.repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", message)
        git(self.repo, "push", "-q", "origin", "main")
        return git(self.repo, "rev-parse", "HEAD")

    def pr(self, branch: str, files: dict[str, str], title: str = "Average helper") -> tuple[int, str]:
        sha = self.branch_with(branch, files)
        pull = self.github.add_pull(branch, "main", title, "please review", user="octocat")
        return pull["number"], sha

    def fork_pr(self, files: dict[str, str], fork: str = "mallory/widgets") -> tuple[int, str]:
        """A PR whose head is in a fork: only `refs/pull/<n>/head` exists in origin."""
        sha = self.branch_with("fork-work", files)
        pull = self.github.add_pull("patch-1", "main", "A contribution", "from a fork", user="mallory")
        number = pull["number"]
        git(self.repo, "push", "-q", "origin", f"{sha}:refs/pull/{number}/head")
        git(self.repo, "push", "-q", "origin", "--delete", "fork-work")
        git(self.repo, "branch", "-q", "-D", "fork-work")
        self.github.forks[number] = fork
        return number, sha

    def origin_sha(self, ref: str) -> str:
        return git(self.origin, "rev-parse", ref)

    def origin_file(self, ref: str, path: str) -> str | None:
        out = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=self.origin, capture_output=True, text=True)
        return out.stdout if out.returncode == 0 else None

    def commits(self, base: str, ref: str) -> int:
        return int(git(self.origin, "rev-list", "--count", f"{base}..{ref}"))

    # -- kagura ---------------------------------------------------------------------------
    def config(self, **overrides: Any):
        data = {"profile": "test", "memory_backend": "local", "local_memory_path": str(self.db)}
        data.update(overrides)
        return parse_config(data)

    def gh(self) -> GitHub:
        return GitHub.from_env(self.github.env(), sleep=lambda s: None, timeout=10)

    def context(
        self,
        target: str,
        *,
        reviewer: Any,
        fixer: Callable[..., Any] | None = None,
        fix: bool = False,
        base: str | None = None,
        with_github: bool = True,
        **cfg: Any,
    ) -> ReviewContext:
        config = self.config(**cfg)
        repo = Git(self.repo)
        gh = self.gh() if with_github else None
        memory = LocalMemory(self.db)
        number = is_pr(target)
        if isinstance(reviewer, CodeReviewer) or isinstance(reviewer, ClaudeReviewer):
            chosen = reviewer
        else:
            chosen = ClaudeReviewer(reviewer, config)

        def resolve():
            if number is not None:
                return resolve_pr(repo, gh, number, base)
            return resolve_local(repo, target, base, "main")

        return ReviewContext(
            config=config, options=ReviewOptions(target=target, base=base, fix=fix, run_id="local-test"),
            repo=repo, store=SavepointStore(memory), owner="acme", repo_name="widgets", resolve=resolve,
            reviewer=chosen, agent=fixer or ScriptedFixer([]), gh=gh, memory=memory,
            progress=(lambda t, key: ProgressComment(gh, t.pr_number, key, min_interval=0.0)) if gh else None,
            say=lambda line: None, sleep=self.sleeps.append,
        )  # fmt: skip

    def review(self, target: str, **kwargs: Any):
        ctx = self.context(target, **kwargs)
        try:
            return run_review(ctx)
        finally:
            ctx.memory.close()

    def reviews(self, number: int) -> list[dict]:
        return self.gh().list_reviews(number)

    def review_comments(self, number: int) -> list[dict]:
        return self.gh().list_review_comments(number)


@pytest.fixture
def world(git_repo: Path, tmp_path: Path) -> Iterator[World]:
    origin = tmp_path / "origin.git"
    with ForkingGitHub(token=TOKEN, repo_path=origin) as github:
        w = World(git_repo, origin, github, tmp_path / "mem" / "memory.db", tmp_path)
        w.on_main({"calc.py": BASE_CALC, "CLAUDE.md": "Base project notes.\n", "notes.txt": "\n".join(
            f"line {i}" for i in range(1, 41)) + "\n"})  # fmt: skip
        yield w
