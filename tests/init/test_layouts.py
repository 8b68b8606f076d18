"""`init` recognises the common layouts and writes matching `setup`, `setup_cache` and `checks`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kagura_engineer.cli import main
from kagura_engineer.config import parse_config
from kagura_engineer.toolchain import setup as toolchain


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "widgets"
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def written(repo: Path, capsys, files: dict[str, str]):
    for name, text in files.items():
        (repo / name).write_text(text)
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    config = parse_config(YAML(typ="safe", pure=True).load((repo / "repo.yaml").read_text()))
    return config, out


PYPROJECT = '[project]\nname = "calc"\nversion = "0"\n[project.optional-dependencies]\ntest = ["pytest"]\n'


def test_a_pyproject_with_a_test_extra_gets_a_venv_an_editable_install_and_pytest(repo, capsys):
    config, out = written(repo, capsys, {"pyproject.toml": PYPROJECT})
    assert [s.run for s in config.setup] == ["python3 -m venv .venv", ".venv/bin/pip install -e '.[test]'"]
    assert config.checks == [".venv/bin/python -m pytest -q"]
    assert config.setup_cache.paths == [".venv"] and config.setup_cache.key_files == ["pyproject.toml"]
    assert "set up for python" in out
    assert not any(s.root for s in toolchain.steps(config))  # all in the clone, as the agent user


def test_requirements_files_without_pytest_also_install_pytest(repo, capsys):
    config, _ = written(repo, capsys, {"requirements.txt": "httpx\n", "requirements-dev.txt": "ruff\n"})
    assert [s.run for s in config.setup] == [
        "python3 -m venv .venv", ".venv/bin/pip install -r requirements-dev.txt",
        ".venv/bin/pip install -r requirements.txt", ".venv/bin/pip install pytest",
    ]  # fmt: skip
    assert config.setup_cache.key_files == ["requirements-dev.txt", "requirements.txt"]


@pytest.mark.parametrize(
    ("lockfile", "install", "check", "root_setup"),
    [
        ("package-lock.json", ["npm ci"], "npm test", []),
        (
            "pnpm-lock.yaml",
            ["npm install -g pnpm", "pnpm install --frozen-lockfile"],
            "pnpm test",
            ["npm install -g pnpm"],
        ),
        (
            "yarn.lock",
            ["npm install -g yarn", "yarn install --frozen-lockfile"],
            "yarn test",
            ["npm install -g yarn"],
        ),
    ],
)
def test_node_picks_the_package_manager_by_lockfile(repo, capsys, lockfile, install, check, root_setup):
    package = json.dumps({"name": "w", "scripts": {"test": "node --test"}})
    config, out = written(repo, capsys, {"package.json": package, lockfile: "{}\n"})
    node = "apt-get install -y --no-install-recommends nodejs npm"
    assert [s.run for s in config.setup] == [node, *install]
    assert config.checks == [check]
    assert config.setup_cache.paths == ["node_modules"] and config.setup_cache.key_files == [lockfile]
    roots = [s.command for s in toolchain.steps(config) if s.root]
    assert roots == [node, *root_setup]  # node from Debian and global installs as root; the rest in the clone


def test_a_package_json_without_a_real_test_script_gets_no_check(repo, capsys):
    package = json.dumps({"name": "w", "scripts": {"test": 'echo "Error: no test specified" && exit 1'}})
    config, _ = written(repo, capsys, {"package.json": package})
    assert config.checks == [] and config.setup[-1].run == "npm install"


def test_go_and_rust(repo, capsys):
    config, out = written(
        repo, capsys, {"go.mod": "module w\n\ngo 1.19\n", "Cargo.toml": '[package]\nname = "w"\n'}
    )
    assert [s.run for s in config.setup] == [
        "apt-get install -y --no-install-recommends golang-go", "go mod download",
        "apt-get install -y --no-install-recommends cargo", "cargo fetch",
    ]  # fmt: skip
    assert config.checks == ["go test ./...", "cargo test"] and config.setup_cache is None
    assert "set up for go, rust" in out


def test_an_unknown_layout_keeps_the_commented_examples(repo, capsys):
    config, out = written(repo, capsys, {"Makefile": "all:\n"})
    assert config.setup == [] and config.checks == [] and "set up for" not in out
    assert "# setup:" in (repo / "repo.yaml").read_text()
