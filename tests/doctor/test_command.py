"""`kagura-engineer doctor` as a user meets it: the table, --json, exit codes, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kagura_engineer
from fakebin import Reply
from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.cli import main

BASE_CHECKS = ["config", "git", "claude-code", "isolation", "gh", "ollama", "haiku", "memory", "reviewer",
               "toolchain"]  # fmt: skip


def _healthy(fb, monkeypatch, git_repo):
    fb.link("git")
    fb.add("claude", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
    fb.add(
        "gh",
        stdout="gh version 2.23.0\n",
        on={"auth status": Reply(stdout="Logged in to github.com account octocat\n")},
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "h" * 30)
    monkeypatch.chdir(git_repo)


def test_json_shape_and_exit_zero_when_nothing_fails(git_repo, fb, doctor, monkeypatch):
    _healthy(fb, monkeypatch, git_repo)
    rc, checks, doc = doctor()
    assert rc == 0 and doc["ok"] is True
    assert set(doc) == {"checks", "ok"}
    assert list(checks) == BASE_CHECKS
    for entry in doc["checks"]:
        assert set(entry) == {"name", "status", "detail", "hint"}
        assert entry["status"] in {"OK", "WARN", "FAIL", "SKIPPED"}
        assert isinstance(entry["detail"], str) and entry["detail"]
    assert checks["reviewer"]["status"] == "WARN"  # a warning does not fail doctor
    assert checks["ollama"]["status"] == "SKIPPED"


def test_any_fail_exits_one(fb, doctor):
    rc, checks, doc = doctor()  # an empty PATH: git, claude and gh are all missing
    assert rc == 1 and doc["ok"] is False
    assert {checks[n]["status"] for n in ("git", "claude-code", "gh")} == {"FAIL"}


def test_table_output_is_aligned_with_fix_lines(git_repo, fb, capsys, monkeypatch):
    _healthy(fb, monkeypatch, git_repo)
    fb.remove("claude")
    assert main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"]
    detail_col = lines[0].index("DETAIL")
    rows = [
        line
        for line in lines[1:]
        if line.split()[:1] and line.split()[0] in {"OK", "WARN", "FAIL", "SKIPPED"}
    ]
    assert [row.split()[1] for row in rows] == BASE_CHECKS
    for row in rows:
        assert row[detail_col - 2 : detail_col] == "  " and row[detail_col] != " "
    claude_row = next(i for i, line in enumerate(lines) if line.split()[:2] == ["FAIL", "claude-code"])
    assert lines[claude_row + 1].strip().startswith("fix: kagura-engineer setup --fix claude-code")
    assert lines[claude_row + 1].index("fix:") == detail_col
    assert lines[-1].startswith("not ok: ") and "1 FAIL" in lines[-1]


def test_bad_config_is_the_config_checks_fail_and_every_other_check_still_runs(
    git_repo, fb, capsys, monkeypatch
):
    _healthy(fb, monkeypatch, git_repo)
    bad = git_repo / "repo.yaml"
    bad.write_text("profile: x\nreview: {modles: [a]}\n")
    assert main(["doctor", "-c", str(bad)]) == 2
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.split()[:2] == ["FAIL", "config"])
    assert row.split(None, 2)[2] == f"{bad}: unknown key 'review.modles' (did you mean 'models'?)"
    isolated = ["isolation"] if os.geteuid() == 0 else []  # not root: isolation is partial, a WARN
    assert [line.split()[1] for line in out.splitlines() if line.split()[:1] == ["OK"]] == [
        "git", "claude-code", *isolated, "gh", "haiku", "memory", "toolchain",
    ]  # fmt: skip
    assert err == "" and "Traceback" not in out
    bad.write_text("profile: [unclosed\n")
    assert main(["doctor", "--json", "-c", str(bad)]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["checks"]] == BASE_CHECKS and doc["ok"] is False
    assert doc["checks"][0]["status"] == "FAIL" and doc["checks"][0]["detail"].startswith(
        f"{bad}: line 2, column 1: "
    )


def test_inconsistent_config_fails_the_config_check_and_the_rest_use_the_defaults(
    git_repo, fb, doctor, monkeypatch
):
    _healthy(fb, monkeypatch, git_repo)
    (git_repo / "repo.yaml").write_text("profile: widgets\nmemory_backend: cloud\n")
    rc, checks, _ = doctor()
    assert rc == 2
    assert checks["config"]["detail"] == (
        "repo.yaml: memory_backend 'cloud' requires workspace_id and context_id (or set memory_backend: local)"
    )
    assert checks["memory"]["status"] == "OK" and "local memory" in checks["memory"]["detail"]


def test_a_good_config_is_ok_and_names_its_file_and_backend(git_repo, fb, doctor, monkeypatch):
    _healthy(fb, monkeypatch, git_repo)
    (git_repo / "repo.yaml").write_text("profile: widgets\n")
    rc, checks, _ = doctor()
    assert rc == 0 and checks["config"] == {
        "name": "config", "status": "OK", "detail": "repo.yaml: profile 'widgets', memory local", "hint": None,
    }  # fmt: skip


def test_only_a_config_fail_exits_two_other_fails_exit_one(fb, doctor, config):
    rc, checks, _ = doctor("-c", config())  # empty PATH: git, claude-code and gh FAIL
    assert rc == 1 and checks["config"]["status"] == "OK"
    rc, checks, _ = doctor("-c", config(memory_backend="cloud"))
    assert rc == 2 and checks["config"]["status"] == "FAIL" and checks["git"]["status"] == "FAIL"


def test_missing_config_file_exits_two(fb, doctor, tmp_path):
    rc, checks, _ = doctor("-c", str(tmp_path / "nope.yaml"))
    assert rc == 2 and checks["config"]["detail"] == f"{tmp_path / 'nope.yaml'}: no such file"
    assert checks["config"]["hint"] == "pass -c PATH or create repo.yaml"


def test_console_script_reports_fails_instead_of_raising(tmp_path):
    """What `pip install .` then `kagura-engineer doctor --json` does on a bare machine."""
    src = str(Path(kagura_engineer.__file__).resolve().parents[1])  # this checkout's code
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "LANG": "C.UTF-8", "PYTHONPATH": src}
    script = [sys.executable, "-c", "import sys; from kagura_engineer.cli import main; sys.exit(main())"]
    out = subprocess.run(
        [*script, "doctor", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and [c["name"] for c in doc["checks"]] == BASE_CHECKS
    assert "Traceback" not in out.stderr
