"""repo.yaml: every user error is one line naming the file and the field, exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kagura_engineer.cli import main
from kagura_engineer.config import load_config
from kagura_engineer.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "repo.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_minimal_local_config_gets_documented_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "profile: team\nmemory_backend: local\n"))
    assert cfg.profile == "team"
    assert cfg.local_memory_path == ".kagura/memory.db"
    assert cfg.ollama_url == "http://localhost:11434"
    assert cfg.review.models == [] and cfg.review.max_loops == 3
    assert cfg.branch_prefix == "kagura/" and cfg.base_branch is None and cfg.checks == []


def test_local_is_the_default_backend_and_cloud_ids_imply_cloud(tmp_path):
    assert load_config(write(tmp_path, "profile: widgets\n")).memory_backend == "local"
    cfg = load_config(write(tmp_path, "profile: team\nworkspace_id: w\ncontext_id: c\n"))
    assert cfg.memory_backend == "cloud" and (cfg.workspace_id, cfg.context_id) == ("w", "c")
    cfg = load_config(write(tmp_path, "profile: team\nmemory_backend: local\nworkspace_id: w\n"))
    assert cfg.memory_backend == "local"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("memory_backend: cloud\n", "memory_backend 'cloud' requires workspace_id and context_id (or set memory_backend: local)"),
        ("memory_backend: cloud\ncontext_id: c\n", "memory_backend 'cloud' requires workspace_id (or set memory_backend: local)"),
        ("workspace_id: w\n", "workspace_id is set, so memory is Memory Cloud, which also requires context_id (or set memory_backend: local)"),
        ("context_id: c\n", "context_id is set, so memory is Memory Cloud, which also requires workspace_id (or set memory_backend: local)"),
    ],
)  # fmt: skip
def test_cloud_without_its_ids_names_the_missing_keys(tmp_path, text, expected):
    path = write(tmp_path, "profile: team\n" + text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: {expected}"


def test_no_file_anywhere_uses_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.source == "<embedded defaults>" and cfg.memory_backend == "local"


def test_found_in_dot_kagura(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".kagura").mkdir()
    write(tmp_path / ".kagura", "profile: nested\nmemory_backend: local\n")
    assert load_config(None).profile == "nested"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("memory_backend: local\n", "missing required field 'profile'"),
        ("profile: x\nmemory_backend: local\nchecks: [1\n", "line"),
        ("profile: x\nmemory_backend: local\nmemroy_backend: local\n", "did you mean 'memory_backend'?"),
        (
            "profile: x\nmemory_backend: local\nreview:\n  max_loop: 2\n",
            "unknown key 'review.max_loop' (did you mean 'max_loops'?)",
        ),
        ("profile: x\nmemory_backend: sqlite\n", "field 'memory_backend'"),
        ("profile: x\nmemory_backend: local\nchecks: ['  ']\n", "non-empty shell command"),
        ("- a\n- b\n", "mapping"),
        ("profile: x\nmemory_backend: local\nbranch_prefix: ../evil\n", "field 'branch_prefix'"),
    ],
)
def test_bad_files_are_one_clean_line_with_exit_2(tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    assert main(["memory", "stats", "-c", path]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("error[config]: ") and path in first and expected in first
    assert "Traceback" not in err


def test_missing_and_unreadable_files(tmp_path, capsys):
    assert main(["memory", "stats", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["memory", "stats", "-c", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    if os.geteuid() != 0:  # root reads anything
        path = write(tmp_path, "profile: x\n")
        os.chmod(path, 0)
        assert main(["memory", "stats", "-c", path]) == 2
        assert "permission denied" in capsys.readouterr().err


def test_json_mode_reports_the_error_as_json(tmp_path, capsys):
    import json

    path = write(tmp_path, "memory_backend: local\n")
    assert main(["memory", "stats", "--json", "-c", path]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["error"]["code"] == "config"


# -- overrides (the Action's inputs, applied in memory) ------------------------------------------
BASE_YAML = """\
profile: team
model: claude-a
checks: [pytest -q]
budget: {max_usd: 9, max_turns: 80}
setup:
  - {run: apt-get install -y jq, as: root}
"""


def test_overrides_merge_the_budget_field_by_field(tmp_path):
    base = load_config(write(tmp_path, BASE_YAML))
    merged = base.with_overrides(model="claude-b", budget={"max_turns": 12, "max_minutes": None})
    assert merged.model == "claude-b" and merged.checks == ["pytest -q"]
    assert (merged.budget.max_usd, merged.budget.max_turns, merged.budget.max_minutes) == (9.0, 12, 45.0)
    assert merged.setup[0].as_ == "root"  # an aliased field survives the round trip
    assert merged.source == f"{tmp_path / 'repo.yaml'} + action inputs"
    assert (base.model, base.budget.max_turns) == ("claude-a", 80)  # the original is untouched


def test_overrides_left_empty_keep_the_config_as_it_is(tmp_path):
    base = load_config(write(tmp_path, BASE_YAML))
    assert base.with_overrides(model=None, base_branch=None, budget={"max_usd": None}) is base


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"budget": {"max_turns": 0}}, "+ action inputs: field 'budget.max_turns': Input should be greater than or equal to 1"),
        ({"modle": "x"}, "+ action inputs: unknown key 'modle' (did you mean 'model'?)"),
        ({"memory_backend": "cloud"}, "+ action inputs: memory_backend 'cloud' requires workspace_id and context_id (or set memory_backend: local)"),
        ({"budget": 5}, "+ action inputs: field 'budget': expected a mapping of limits"),
    ],
)  # fmt: skip
def test_a_bad_override_is_a_config_error(tmp_path, fields, expected):
    base = load_config(write(tmp_path, BASE_YAML))
    with pytest.raises(ConfigError) as caught:
        base.with_overrides(**fields)
    assert caught.value.message == f"{tmp_path / 'repo.yaml'} {expected}"
    assert caught.value.exit_code == 2
