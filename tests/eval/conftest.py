"""An eval world: a real checkout with a bare origin, the GitHub stand-in, the team's real
local memory holding one lesson, eval's own store, and a scripted agent function that writes
`MAGIC=42` only when that lesson is in its prompt (so recall on is green, off is red)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.config import parse_config
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.eval.drive import EvalContext
from kagura_engineer.eval.guard import ReadOnlyGitHub
from kagura_engineer.git import Git
from kagura_engineer.github.client import GitHub
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore

TOKEN = "ghs_evalTestToken0000000000000000000000"
LESSON = "config.txt must contain MAGIC=42"
CHECK = "grep -q 'MAGIC=42' config.txt"


@dataclass
class Result:
    status: str = "done"
    summary: str = "wrote config.txt"
    notes: str = ""
    files_changed: list[str] = field(default_factory=lambda: ["config.txt"])
    cost_usd: float = 0.25
    turns: int = 3
    session_id: str | None = "sess-1"
    stopped_by: str | None = None


@dataclass
class LessonAgent:
    """Writes config.txt: `MAGIC=42` when the recalled lesson is in the prompt, else `MAGIC=0`."""

    cost_usd: float = 0.25
    calls: list[dict[str, Any]] = field(default_factory=list)
    before: Callable[[dict[str, Any]], None] | None = None  # runs first on each call (tests kill here)

    def __call__(self, **kwargs: Any) -> Result:
        self.calls.append(kwargs)
        if self.before is not None:
            self.before(kwargs)
        value = "42" if LESSON in kwargs["prompt"] else "0"
        (Path(kwargs["cwd"]) / "config.txt").write_text(f"MAGIC={value}\n")
        return Result(cost_usd=min(self.cost_usd, kwargs.get("max_usd") or self.cost_usd))


def dump_store(db: Path) -> dict[str, list[tuple]]:
    """What the team's store holds: memories (without the derived vectors), edges, state."""
    conn = sqlite3.connect(db)
    try:
        memories = conn.execute(
            "SELECT id, external_id, summary, content, type, tags, importance, details, created_at, updated_at "
            "FROM memories ORDER BY id"
        ).fetchall()
        edges = conn.execute("SELECT * FROM edges ORDER BY 1, 2").fetchall()
        state = conn.execute("SELECT * FROM state ORDER BY key").fetchall()
    finally:
        conn.close()
    return {"memories": memories, "edges": edges, "state": state}


@dataclass
class World:
    repo: Path
    origin: Path
    github: GitHubStandIn
    team_db: Path
    tmp: Path

    def config(self, **overrides: Any):
        data = {"profile": "test", "memory_backend": "local", "local_memory_path": str(self.team_db),
                "checks": [CHECK], "retries": 0}  # fmt: skip
        data.update(overrides)
        return parse_config(data)

    def context(
        self, agent: Callable[..., Any], *, store_path: Path | None = None, **cfg: Any
    ) -> EvalContext:
        gh = ReadOnlyGitHub(GitHub.from_env(self.github.env(), sleep=lambda s: None, timeout=5))
        own = LocalMemory(store_path or (self.repo / ".kagura" / "eval" / "eval.db"), semantic=False)
        return EvalContext(
            config=self.config(**cfg), gh=gh, team_memory=LocalMemory(self.team_db, semantic=False), store=SavepointStore(own),
            checkout=Git(self.repo), workdir=self.repo / ".kagura" / "eval" / "work", agent=agent,
            run_id="local-test", protect=[str(self.team_db.parent)],
        )  # fmt: skip

    def refs(self, where: Path) -> str:
        return subprocess.run(
            ["git", "for-each-ref"], cwd=where, capture_output=True, text=True, check=True
        ).stdout

    def status(self) -> str:
        return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=self.repo, capture_output=True,
                              text=True, check=True).stdout  # fmt: skip

    def writes(self) -> list[tuple[str, str]]:
        """Every request the GitHub stand-in got that was not a read."""
        return [(r.method, r.path) for r in self.github.requests if r.method not in ("GET", "HEAD")]


@pytest.fixture
def world(git_repo: Path, tmp_path: Path) -> Iterator[World]:
    origin = tmp_path / "origin.git"
    team_db = tmp_path / "team" / "memory.db"
    team_db.parent.mkdir()
    with LocalMemory(team_db, semantic=False) as team:
        team.remember(LESSON, f"Lesson: {LESSON}, or the service config check fails.", "lesson",
                      tags=("config",), importance=0.9)  # fmt: skip
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github:
        github.add_issue(7, "Add the service config file", "Create config.txt for the service.")
        github.add_issue(8, "Write the service config", "The service reads its config from config.txt.")
        yield World(git_repo, origin, github, team_db, tmp_path)
