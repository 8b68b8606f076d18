"""The Cloud backend under test: the real SDK, through `CloudMemory`, against the stand-in.

`make_cloud_client(tmp_path)` is what the shared contract suite (`test_contract.py`) uses; the
`test_cloud_*` modules use the smaller helpers as well. Retries are configured small and sleeps
are recorded instead of slept, so fault tests run in milliseconds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.config import Config, parse_config
from kagura_engineer.memory.cloud import CloudMemory, CloudRetry, open_cloud
from support.memory_cloud import DEFAULT_CONTEXT, DEFAULT_WORKSPACE, MemoryCloudStandIn

FAST_RETRY = CloudRetry(attempts=3, total_seconds=30.0, base_delay=0.5, max_delay=2.0)


def new_key() -> str:
    """A fresh API key shaped like a real one (`kagura_` + token_urlsafe(32))."""
    return "kagura_" + secrets.token_urlsafe(32)


@dataclass
class Recorder:
    """Collects what the client would sleep or print, so tests can assert on it."""

    sleeps: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def options(self) -> dict[str, Any]:
        return {
            "retry": FAST_RETRY,
            "sleep": self.sleep,
            "warn": self.warnings.append,
            "note": self.notes.append,
            "cooldown": 0.0,
        }


def cloud_config(url: str, tmp_path: Path, **overrides: Any) -> Config:
    """A cloud-backend Config pointing at `url`, its failover store under tmp_path."""
    data: dict[str, Any] = {
        "profile": "default",
        "memory_backend": "cloud",
        "memory_cloud_url": url,
        "workspace_id": DEFAULT_WORKSPACE,
        "context_id": DEFAULT_CONTEXT,
        "local_memory_path": str(tmp_path / "failover" / "memory.db"),
    }
    data.update(overrides)
    return parse_config(data)


def isolate_sdk_credentials(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Point the SDK's credentials file (bound at import) at a temp home; returns its path."""
    from kagura_memory.auth import credentials

    path = home / ".kagura" / "credentials.json"
    monkeypatch.setattr(credentials, "DEFAULT_CREDENTIALS_PATH", path)
    credentials.reset_state_cache()
    return path


@contextmanager
def make_cloud_client(tmp_path: Path, **options: Any) -> Iterator[tuple[CloudMemory, MemoryCloudStandIn]]:
    """A started stand-in and a `CloudMemory` talking to it; both closed afterwards."""
    key = new_key()
    standin = MemoryCloudStandIn(key).start()
    try:
        settings = {**Recorder().options(), **options}
        client = open_cloud(cloud_config(standin.url, tmp_path), api_key=key, **settings)
        try:
            yield client, standin
        finally:
            client.close()
    finally:
        standin.stop()
