"""Doctor tests: a PATH holding only the fakes a test puts there, a scratch cwd, a CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fakebin import FakeBin
from kagura_engineer.cli import main


@pytest.fixture
def fb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBin:
    """PATH = an empty fake-binary dir; tests add the fakes (or real binaries) they need."""
    fakes = FakeBin(tmp_path)
    fakes.use(monkeypatch)
    monkeypatch.delenv("KAGURA_CLAUDE_BIN", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return fakes


@pytest.fixture
def config(tmp_path: Path):
    """Write a repo.yaml from keyword fields and return its path."""

    def write(**fields) -> str:
        path = tmp_path / "repo.yaml"
        path.write_text(yaml.safe_dump({"profile": "test", "memory_backend": "local", **fields}))
        return str(path)

    return write


class Doctor:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, dict[str, dict], dict]:
        """Run `doctor --json [args]`; (exit code, checks by name, the whole document)."""
        rc = main(["doctor", "--json", *args])
        out = self.capsys.readouterr().out
        doc = json.loads(out)
        return rc, {c["name"]: c for c in doc["checks"]}, doc


@pytest.fixture
def doctor(capsys: pytest.CaptureFixture[str]) -> Doctor:
    return Doctor(capsys)
