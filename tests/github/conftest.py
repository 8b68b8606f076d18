"""Fixtures for the GitHub layer: a GitHub REST stand-in per test and a client bound to it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.github.client import GitHub

# Deliberately not a known secret shape: redaction must come from registering the token.
TOKEN = "t0ken-5b1e0c9a7f3d4e2b8c6a1f0e9d8c7b6a"


def git(cwd: Path, *args: str) -> str:
    """Run git in a test (product code goes through kagura_engineer.proc)."""
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


class FakeTime:
    """An injectable sleep/clock pair: records every wait, advances time without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def _github_server() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN) as server:
        yield server


@pytest.fixture
def stand_in(_github_server: GitHubStandIn) -> GitHubStandIn:
    """The session's GitHub stand-in, emptied for this test (an empty acme/widgets)."""
    _github_server.reset()
    return _github_server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gh(stand_in: GitHubStandIn, fake_time: FakeTime) -> GitHub:
    return GitHub.from_env(stand_in.env(), sleep=fake_time.sleep, clock=fake_time.monotonic, timeout=5)
