"""doctor's toolchain check: which repo.yaml the gate trusts, and checks whose program nothing provides."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kagura_engineer.config import parse_config
from kagura_engineer.doctor.checks import toolchain
from kagura_engineer.doctor.context import DoctorContext


@pytest.fixture
def bare_path(monkeypatch):
    """PATH without any Python venv: what the container offers a check (no pytest)."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


def on_main(repo: Path, data: dict) -> None:
    (repo / "repo.yaml").write_text(yaml.safe_dump({"profile": "t", "memory_backend": "local", **data}))
    subprocess.run(["git", "add", "repo.yaml"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "config"], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, check=True)


def run_check(repo: Path, **loaded):
    config = parse_config({"profile": "t", "memory_backend": "local", **loaded}, str(repo / "repo.yaml"))
    return toolchain.check(DoctorContext(config, cwd=repo))


def test_a_check_no_setup_installs_is_a_warning(git_repo, bare_path):
    on_main(git_repo, {"checks": ["pytest -q"]})
    outcome = run_check(git_repo, checks=["pytest -q"])
    assert outcome.status == "WARN"
    assert "setup and checks from origin/main:repo.yaml" in outcome.detail and "`pytest`" in outcome.detail
    assert ".venv/bin/pip install pytest" in outcome.hint


def test_a_venv_made_by_setup_provides_the_checks_program(git_repo, bare_path):
    data = {
        "setup": ["python3 -m venv .venv", ".venv/bin/pip install -e ."],
        "checks": [".venv/bin/pytest -q"],
    }
    on_main(git_repo, data)
    outcome = run_check(git_repo, **data)
    assert outcome.status == "OK"
    assert outcome.detail == "setup and checks from origin/main:repo.yaml: 2 setup command(s), 1 check(s)"


def test_a_package_setup_installs_under_another_name_counts(git_repo, bare_path):
    data = {
        "setup": ["apt-get install -y golang-go nodejs npm", "npm ci"],
        "checks": ["go test ./... && npm test"],
    }
    on_main(git_repo, data)
    assert run_check(git_repo, **data).status == "OK"
    on_main(git_repo, {**data, "setup": ["apt-get install -y nodejs npm"]})
    outcome = run_check(git_repo, **data)
    assert outcome.status == "WARN" and "`go`" in outcome.detail and "`npm`" not in outcome.detail


def test_the_trusted_file_is_reported_and_a_differing_checkout_warned(git_repo, bare_path):
    on_main(git_repo, {"checks": ["true"]})
    outcome = run_check(git_repo, checks=["git --version"], setup=["echo local"])
    assert outcome.status == "WARN"
    assert (
        "differs from origin/main:repo.yaml in setup, checks: the trusted origin/main:repo.yaml is used"
        in (outcome.detail)
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pytest -q", ["pytest"]),
        ("CI=1 npm test", ["npm"]),
        ("cd web && pnpm test | tee out.txt", ["pnpm", "tee"]),
        ("test -f x && .venv/bin/python -m pytest", [".venv/bin/python"]),
    ],
)
def test_the_programs_a_check_line_starts(line, expected):
    assert toolchain.programs(line) == expected
