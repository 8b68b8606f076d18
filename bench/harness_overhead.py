"""Harness overhead of a green `run`: wall time minus the agent's own time, and GitHub calls.

Drives the real phase machine (real git with a bare origin, the GitHub stand-in on
127.0.0.1, the local SQLite memory) with an agent function that writes one file, so the
time left over is the harness's: recall, worktree, commit and push, checks, PR, memory,
progress comment. Targets: overhead <= 3 s, <= 12 GitHub calls per run (progress edits
counted apart).

    python bench/harness_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kagura_engineer.config import parse_config
from kagura_engineer.github.client import GitHub
from kagura_engineer.github.progress import ProgressComment
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore
from kagura_engineer.run.git import Git
from kagura_engineer.run.loop import RunContext, RunOptions, run_issue
from kagura_engineer.run.report import RunProgress
from kagura_engineer.sandbox.github import GitHubStandIn

TOKEN = "ghs_benchToken000000000000000000000000000"


@dataclass
class Result:
    status: str = "done"
    summary: str = "added hello.txt"
    notes: str = ""
    files_changed: list[str] = field(default_factory=lambda: ["hello.txt"])
    cost_usd: float = 0.0
    turns: int = 1
    session_id: str | None = "bench"
    stopped_by: str | None = None


class TimedAgent:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, **kwargs: object) -> Result:
        start = time.perf_counter()
        (Path(str(kwargs["cwd"])) / "hello.txt").write_text("hi\n")
        self.seconds += time.perf_counter() - start
        return Result()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def one_run(root: Path, github: GitHubStandIn, number: int) -> dict[str, float]:
    origin, work = root / "origin.git", root / "work"
    if not work.exists():
        git(root, "init", "-q", "--bare", "-b", "main", str(origin))
        git(root, "init", "-q", "-b", "main", str(work))
        (work / "README.md").write_text("# bench\n")
        git(work, "add", "README.md")
        git(work, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "init")
        git(work, "remote", "add", "origin", str(origin))
        git(work, "push", "-q", "-u", "origin", "main")
    github.add_issue(number, f"Add a greeting file {number}", "Please add hello.txt saying hi.")
    config = parse_config(
        {"profile": "bench", "memory_backend": "local", "local_memory_path": str(root / "memory.db"),
         "checks": ["test -f hello.txt"]}
    )  # fmt: skip
    agent = TimedAgent()
    start = time.perf_counter()
    gh = GitHub.from_env(github.env(), timeout=10)
    memory = LocalMemory(root / "memory.db")
    key = f"run/acme/widgets/issue-{number}"
    ctx = RunContext(
        config=config, options=RunOptions(issue=number, run_id="bench"), gh=gh, memory=memory,
        store=SavepointStore(memory), repo=Git(work), agent=agent,
        progress=RunProgress(ProgressComment(gh, number, key), None, None),
    )  # fmt: skip
    outcome = run_issue(ctx)
    memory.close()
    wall = time.perf_counter() - start
    assert outcome.status == "shipped", outcome
    progress = gh.calls_by_kind.get("progress", 0)
    return {"overhead_s": wall - agent.seconds, "calls": gh.calls - progress, "progress_calls": progress}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import os

    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with GitHubStandIn(token=TOKEN, repo_path=root / "origin.git") as github:
            for i in range(args.runs):
                rows.append(one_run(root, github, 100 + i))
    overhead = [r["overhead_s"] for r in rows]
    calls = [r["calls"] for r in rows]
    progress = [r["progress_calls"] for r in rows]
    print(f"{'metric':<34}{'median':>10}{'max':>10}{'target':>10}")
    print(f"{'harness overhead per run (s)':<34}{statistics.median(overhead):>10.2f}{max(overhead):>10.2f}{'<= 3':>10}")
    print(f"{'GitHub API calls per run':<34}{statistics.median(calls):>10.0f}{max(calls):>10.0f}{'<= 12':>10}")
    print(f"{'progress comment calls per run':<34}{statistics.median(progress):>10.0f}{max(progress):>10.0f}{'-':>10}")


if __name__ == "__main__":
    main()
