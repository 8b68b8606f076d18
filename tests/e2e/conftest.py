"""End to end: the real `kagura-engineer` CLI and the real `claude` binary, with GitHub and
the Anthropic Messages API replaced by stand-ins on 127.0.0.1 and a bare git origin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.demo.anthropic import AnthropicStandIn
from kagura_engineer.demo.github import GitHubStandIn

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_e2eSecretToken0000000000000000000000"
KAGURA_KEY = "kagura_e2eSecretKey000000000000000000000000000000"


def claude_binary() -> str:
    candidates = [os.environ.get("KAGURA_CLAUDE_BIN"), str(ROOT / ".tools/claude/node_modules/.bin/claude")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    if os.environ.get("CI"):
        pytest.fail("the claude binary is missing: run scripts/install_test_tools.sh")
    pytest.skip("the claude binary is not installed (scripts/install_test_tools.sh)")


@dataclass
class Job:
    returncode: int
    out: dict[str, Any] | None
    stdout: str
    stderr: str


@dataclass
class E2E:
    repo: Path
    origin: Path
    github: GitHubStandIn
    model: AnthropicStandIn
    env: dict[str, str]
    config: Path
    tmp: Path

    def write_config(self, **fields: Any) -> None:
        data = {"profile": "e2e", "memory_backend": "local", "local_memory_path": str(self.tmp / "memory.db"), **fields}
        self.config.write_text(json.dumps(data))  # JSON is YAML

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "kagura_engineer", *args, "-c", str(self.config), "--json"]
        return subprocess.Popen(
            cmd, cwd=self.repo, env={**self.env, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Job:
        child = self.start(*args, env=env)
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            stdout, stderr = child.communicate()
            pytest.fail(f"kagura-engineer {' '.join(args)} timed out:\n{stderr[-3000:]}")
        out = None
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if lines:
            out = json.loads(lines[-1])
        return Job(child.returncode, out, stdout, stderr)

    def origin_file(self, branch: str, path: str) -> str | None:
        out = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=self.origin, capture_output=True, text=True)
        return out.stdout if out.returncode == 0 else None

    def origin_branches(self) -> list[str]:
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:short)", "refs/heads"], cwd=self.origin,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.split()


@pytest.fixture
def e2e(git_repo: Path, tmp_path: Path) -> Iterator[E2E]:
    binary = claude_binary()
    origin = tmp_path / "origin.git"
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github, AnthropicStandIn() as model:
        github.add_issue(7, "Add a greeting file", "Please add hello.txt containing the word hi.")
        claude_home = tmp_path / "claude"
        (claude_home / "tmp").mkdir(parents=True)
        env = {
            "PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            **github.env(), **model.env(),
            "KAGURA_CLAUDE_BIN": binary, "CLAUDE_CONFIG_DIR": str(claude_home),
            "CLAUDE_CODE_TMPDIR": str(claude_home / "tmp"), "KAGURA_API_KEY": KAGURA_KEY,
            "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
            "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com",
        }  # fmt: skip
        world = E2E(git_repo, origin, github, model, env, tmp_path / "repo.yaml", tmp_path)
        world.write_config()
        yield world
