"""Shared helpers for the memory tests: a fresh local store and a child-process runner."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from kagura_engineer.memory.local import LocalMemory


@pytest.fixture
def store(tmp_path: Path):
    mem = LocalMemory(tmp_path / "memory.db")
    yield mem
    mem.close()


def python_child(code: str, *args: str) -> subprocess.Popen:
    """Start `python -c code args…` (the test's environment, our package importable);
    stdin, stdout and stderr are text pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cloud_fixture_module() -> ModuleType:
    """`tests/memory/cloud_fixture.py` (the Cloud helper's: `make_cloud_client(tmp_path)`),
    or a skip while it does not exist."""
    name = f"{__package__}.cloud_fixture" if __package__ else "cloud_fixture"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        pytest.skip("tests/memory/cloud_fixture.py (the Cloud stand-in fixture) is not available yet")
