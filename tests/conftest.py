"""Test-wide hygiene: no inherited credentials or proxies, and never the real $HOME.

Every test gets a fresh HOME under tmp_path and a scrubbed environment, so a developer's
tokens or a CI runner's GITHUB_* variables cannot leak into (or change) what a test sees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agentspace import AGENT_ROOT

SCRUB_PREFIXES = ("GITHUB_", "ANTHROPIC_", "CLAUDE_", "KAGURA_", "INPUT_", "ACTIONS_", "RUNNER_", "GIT_")
SCRUB_NAMES = (
    "GH_TOKEN", "GH_HOST", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
    "all_proxy", "OLLAMA_HOST", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
)  # fmt: skip
KEEP = ("KAGURA_CLAUDE_BIN", "KAGURA_OPENAPI_SPEC", "KAGURA_TOOLS_DIR")

REAL_HOME = os.path.expanduser("~")


@pytest.fixture(scope="session", autouse=True)
def _agent_root() -> None:
    yield
    shutil.rmtree(AGENT_ROOT, ignore_errors=True)


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """A directory the agent user can read and write (for fake binaries and their logs)."""
    path = Path(tempfile.mkdtemp(prefix="kagura-test-shared-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name in KEEP:
            continue
        if name.startswith(SCRUB_PREFIXES) or name in SCRUB_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGURA_AGENT_ROOT", str(AGENT_ROOT))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")
    # Fixed identity so commits made by tests are reproducible.
    for key, value in {
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture(autouse=True)
def _real_home_untouched() -> None:
    """Fail a test that wrote anything new into the real home directory."""
    watched = [Path(REAL_HOME) / n for n in (".kagura", ".claude", ".claude.json", ".config/kagura-engineer")]
    before = {p: p.exists() for p in watched}
    yield
    created = [str(p) for p, existed in before.items() if not existed and p.exists()]
    assert not created, f"test wrote into the real home: {created}"


def git(cwd: Path, *args: str) -> str:
    """Run git in tests (the product code goes through kagura_engineer.proc)."""
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A work tree with one commit on `main`, whose `origin` is a bare repository."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text("# widgets\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "initial commit")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "-u", "origin", "main")
    return work
