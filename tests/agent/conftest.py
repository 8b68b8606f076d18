"""Fixtures for driving the real claude binary against the scripted Messages API stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.agent import AgentResult, drive_agent
from kagura_engineer.config import parse_config
from kagura_engineer.demo.anthropic import AnthropicStandIn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def claude_bin() -> str:
    """The real claude: KAGURA_CLAUDE_BIN, else .tools/claude (scripts/install_test_tools.sh)."""
    for path in (os.environ.get("KAGURA_CLAUDE_BIN"), str(ROOT / ".tools/claude/node_modules/.bin/claude")):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    if os.environ.get("CI"):
        pytest.fail("the claude binary is missing: run scripts/install_test_tools.sh (or set KAGURA_CLAUDE_BIN)")
    pytest.skip("the claude binary is not installed (scripts/install_test_tools.sh)")


@dataclass
class Agent:
    """A git checkout, the stand-in model, and a driver call with a hermetic environment."""

    repo: Path
    model: AnthropicStandIn
    binary: str
    home: Path
    environ: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)

    def run(self, prompt: str = "Add hello.txt.", *, config: dict[str, Any] | None = None, **kwargs: Any) -> AgentResult:
        cfg = parse_config({"profile": "test", "memory_backend": "local", **(config or {})})
        budget = {"max_usd": 5.0, "max_turns": 20, "max_minutes": 2.0}
        budget.update({k: kwargs.pop(k) for k in list(kwargs) if k in budget})
        return drive_agent(
            prompt=prompt, cwd=self.repo, config=cfg, environ=self.environ, binary=self.binary,
            on_event=lambda call: self.events.append(str(call)), on_session=self.sessions.append,
            **budget, **kwargs,
        )  # fmt: skip


@pytest.fixture
def agent(git_repo: Path, tmp_path: Path, claude_bin: str) -> Iterator[Agent]:
    claude_home = tmp_path / "claude-home"
    (claude_home / "tmp").mkdir(parents=True)
    with AnthropicStandIn() as model:
        environ = {
            "PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            **model.env(),
            "CLAUDE_CONFIG_DIR": str(claude_home), "CLAUDE_CODE_TMPDIR": str(claude_home / "tmp"),
            "GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@example.com",
            "GIT_COMMITTER_NAME": "agent", "GIT_COMMITTER_EMAIL": "agent@example.com",
        }  # fmt: skip
        (tmp_path / "home").mkdir()
        yield Agent(git_repo, model, claude_bin, tmp_path / "home", environ)
