"""Jobs of a workflow run against the Actions cache stand-in: each job gets a fresh workspace."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kagura_engineer.cache.carry import CacheResult, restore_memory, save_memory
from kagura_engineer.config import Config, parse_config
from kagura_engineer.memory.local import LocalMemory
from support.actions_cache import ActionsCacheStandIn

TOKEN = "runtime-token-3f9c2a7d1e"
DB = ".kagura/memory.db"


@pytest.fixture
def service() -> Iterator[ActionsCacheStandIn]:
    with ActionsCacheStandIn(token=TOKEN) as standin:
        yield standin


@dataclass
class Job:
    """One job's workspace and runner environment; `restore`/`save` run from inside it."""

    workspace: Path
    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    config: Config = field(
        default_factory=lambda: parse_config({"profile": "test", "memory_backend": "local"})
    )

    @property
    def db(self) -> Path:
        return self.workspace / DB

    def enter(self) -> None:
        """Become this job: its cwd and its environment (for the CLI, which reads os.environ)."""
        self.monkeypatch.chdir(self.workspace)
        for name, value in self.env.items():
            self.monkeypatch.setenv(name, value)

    def restore(self) -> CacheResult:
        self.monkeypatch.chdir(self.workspace)
        return restore_memory(self.config, self.env)

    def save(self) -> CacheResult:
        self.monkeypatch.chdir(self.workspace)
        return save_memory(self.config, self.env)

    def remember(self, summary: str) -> None:
        store = LocalMemory(self.db)
        try:
            store.remember(summary, f"{summary} (details)", "fact")
        finally:
            store.close()

    def recall(self, query: str) -> list[str]:
        store = LocalMemory(self.db)
        try:
            return [m.summary for m in store.recall(query)]
        finally:
            store.close()


@pytest.fixture
def make_job(tmp_path: Path, service: ActionsCacheStandIn, monkeypatch: pytest.MonkeyPatch):
    counter = itertools.count(1)

    def make(run_id: str = "4242", attempt: str = "1", **extra: str) -> Job:
        n = next(counter)
        workspace = tmp_path / f"job{n}" / "workspace"
        runner_temp = tmp_path / f"job{n}" / "temp"
        workspace.mkdir(parents=True)
        runner_temp.mkdir()
        env = {
            **service.env(),
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/widgets",
            "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_ATTEMPT": attempt,
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(runner_temp),
            **extra,
        }
        return Job(workspace=workspace, env=env, monkeypatch=monkeypatch)

    return make
