"""`kagura-engineer init` in a real, freshly `git init`ed repository."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema.validators import validator_for
from ruamel.yaml import YAML

from kagura_engineer.cli import main
from kagura_engineer.config import load_config, parse_config
from kagura_engineer.init import scaffold

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "workflows"
TEMPLATES = ROOT / "src" / "kagura_engineer" / "init" / "templates"
ALL = [f".github/workflows/kagura-{name}" for name in scaffold.WORKFLOWS.values()]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "widgets"
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["init", *args])
    out = capsys.readouterr()
    return rc, out.out + out.err


def rows(out: str) -> dict[str, str]:
    """path (with any reason) -> what init did to it, from the indented report lines."""
    found = {}
    for line in out.split("repository secrets")[0].splitlines():
        if line.startswith("  ") and "  " in line.strip():
            verb, path = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            found[path] = verb
    return found


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, .git included (info/exclude lives there)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def workflow_schema_errors(path: Path) -> list[str]:
    schema = get_builtin_schema("vendor.github-workflows")
    validator = validator_for(schema)(schema)
    return [e.message for e in validator.iter_errors(YAML(typ="safe", pure=True).load(path.read_text()))]


def test_init_writes_a_valid_config_the_exclude_and_the_example_workflows(repo, capsys):
    rc, out = init(capsys, "--workflow", "all")
    assert rc == 0
    config = load_config(str(repo / "repo.yaml"))
    assert config.memory_backend == "local" and config.profile == "default" and config.checks == []
    for rel in ALL:
        written = repo / rel
        assert written.read_bytes() == (EXAMPLES / rel.removeprefix(".github/workflows/kagura-")).read_bytes()
        assert workflow_schema_errors(written) == [], rel
        assert rows(out)[rel] == "wrote"
    assert "ANTHROPIC_API_KEY" in out and "KAGURA_API_KEY" not in out
    # git really ignores what kagura keeps under .kagura/
    (repo / ".kagura").mkdir()
    (repo / ".kagura" / "memory.db").write_bytes(b"x")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert ".kagura" not in status and "repo.yaml" in status


def test_only_the_chosen_workflows_are_written(repo, capsys):
    assert init(capsys, "--workflow", "review", "--workflow", "nightly")[0] == 0
    assert sorted(p.name for p in (repo / ".github" / "workflows").iterdir()) == [
        "kagura-nightly-goal.yml", "kagura-pr-review-fix.yml",
    ]  # fmt: skip
    assert init(capsys)[0] == 0  # no --workflow: repo.yaml only, workflows left alone
    assert len(list((repo / ".github" / "workflows").iterdir())) == 2


def test_a_second_run_changes_nothing_and_says_so(repo, capsys):
    init(capsys, "--workflow", "all", "--memory", "cloud")
    before = snapshot(repo)
    rc, out = init(capsys, "--workflow", "all", "--memory", "cloud")
    assert rc == 0 and snapshot(repo) == before
    assert "nothing to change" in out
    assert (repo / ".git" / "info" / "exclude").read_text().splitlines().count(".kagura/") == 1
    main(["init", "--workflow", "all", "--memory", "cloud", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["changed"] is False and {f["action"] for f in doc["files"]} == {"unchanged"}


def test_a_file_that_differs_is_kept_unless_forced(repo, capsys):
    init(capsys, "--workflow", "issue")
    mine = repo / ".github/workflows/kagura-issue-label.yml"
    mine.write_text("name: mine\n")
    (repo / "repo.yaml").write_text("profile: mine\n")
    rc, out = init(capsys, "--workflow", "issue")
    assert (
        rc == 0
        and mine.read_text() == "name: mine\n"
        and (repo / "repo.yaml").read_text() == "profile: mine\n"
    )
    assert (
        rows(out)[".github/workflows/kagura-issue-label.yml (exists and differs; --force overwrites it)"]
        == "skipped"
    )
    assert "nothing written" in out
    rc, out = init(capsys, "--workflow", "issue", "--force")
    assert rc == 0 and mine.read_bytes() == (EXAMPLES / "issue-label.yml").read_bytes()
    assert rows(out)[".github/workflows/kagura-issue-label.yml"] == "overwrote"
    assert load_config(str(repo / "repo.yaml")).profile == "default"


def test_dry_run_writes_nothing_and_lists_what_it_would_do(repo, capsys):
    before = snapshot(repo)
    rc, out = init(capsys, "--workflow", "comment", "--dry-run")
    assert rc == 0 and snapshot(repo) == before
    assert "dry run: nothing written" in out
    assert rows(out) == {
        "repo.yaml": "would write",
        ".git/info/exclude": "would add .kagura/ to",
        ".github/workflows/kagura-comment.yml": "would write",
    }
    main(["init", "--workflow", "comment", "--dry-run", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["dry_run"] is True and doc["changed"] is True and snapshot(repo) == before


def test_cloud_memory_names_the_ids_to_fill_and_the_secret_to_set(repo, capsys):
    main(["init", "--memory", "cloud", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in doc["secrets"]] == ["ANTHROPIC_API_KEY", "KAGURA_API_KEY"]
    config = load_config(str(repo / "repo.yaml"))
    assert config.memory_backend == "cloud"
    assert (config.workspace_id, config.context_id) == ("<your-workspace-id>", "<your-context-id>")
    assert "KAGURA_API_KEY" in (repo / "repo.yaml").read_text()  # where the key goes instead


def test_an_existing_config_elsewhere_is_not_shadowed(repo, capsys):
    (repo / ".github").mkdir()
    (repo / ".github" / "kagura.yaml").write_text("profile: theirs\n")
    rc, out = init(capsys, "--force")
    assert rc == 0 and not (repo / "repo.yaml").exists()
    assert rows(out)["repo.yaml (.github/kagura.yaml already configures this repository)"] == "skipped"


def test_outside_a_git_repository_init_refuses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, out = init(capsys)
    assert rc == 2 and "not inside a git work tree" in out and "git init" in out
    assert list(tmp_path.iterdir()) == []


def test_the_checks_slot_takes_commands_and_stays_valid():
    text = scaffold.render_repo_yaml("local", ("pytest -q", 'ruff check "src"'))
    assert parse_config(YAML(typ="safe", pure=True).load(text)).checks == ["pytest -q", 'ruff check "src"']


# One source: the packaged templates are the examples, and the wheel ships them.


@pytest.mark.parametrize("name", sorted(scaffold.WORKFLOWS.values()))
def test_each_template_is_the_example_byte_for_byte(name):
    assert (TEMPLATES / "workflows" / name).read_bytes() == (EXAMPLES / name).read_bytes()


def test_the_wheel_ships_every_template():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = globs["kagura_engineer"]
    files = [
        str(p.relative_to(ROOT / "src" / "kagura_engineer")) for p in TEMPLATES.rglob("*") if p.is_file()
    ]
    assert files and all(any(fnmatch(f, g) for g in shipped) for f in files), files
    assert sorted(p.name for p in (TEMPLATES / "workflows").iterdir()) == sorted(scaffold.WORKFLOWS.values())
