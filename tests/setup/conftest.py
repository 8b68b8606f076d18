"""Setup tests: fake package managers and tools on an otherwise empty PATH, a CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fakebin import FakeBin
from kagura_engineer.cli import main


@pytest.fixture
def fb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBin:
    fakes = FakeBin(tmp_path)
    fakes.use(monkeypatch)
    monkeypatch.delenv("KAGURA_CLAUDE_BIN", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return fakes


@pytest.fixture
def config(tmp_path: Path):
    def write(**fields) -> str:
        path = tmp_path / "repo.yaml"
        path.write_text(yaml.safe_dump({"profile": "test", "memory_backend": "local", **fields}))
        return str(path)

    return write


class Setup:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.err = ""

    def __call__(self, *args: str) -> tuple[int, dict[str, dict], dict]:
        """`setup --json [args]` → (exit code, steps by name, the document)."""
        rc = main(["setup", "--json", *args])
        out, self.err = self.capsys.readouterr()
        doc = json.loads(out)
        return rc, {s["name"]: s for s in doc.get("steps", [])}, doc


@pytest.fixture
def setup(capsys: pytest.CaptureFixture[str]) -> Setup:
    return Setup(capsys)
