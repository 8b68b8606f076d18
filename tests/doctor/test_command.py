"""`kagura-engineer doctor` as a user meets it: the table, --json, exit codes, config errors."""

from __future__ import annotations

import json
import subprocess
import sys

from fakebin import Reply
from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.cli import main

BASE_CHECKS = ["git", "claude-code", "isolation", "gh", "ollama", "haiku", "memory", "reviewer"]


def _healthy(fb, monkeypatch, git_repo):
    fb.link("git")
    fb.add("claude", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
    fb.add("gh", stdout="gh version 2.23.0\n", on={"auth status": Reply(stdout="Logged in to github.com account octocat\n")})
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
    rows = [line for line in lines[1:] if line.split()[:1] and line.split()[0] in {"OK", "WARN", "FAIL", "SKIPPED"}]
    assert [row.split()[1] for row in rows] == BASE_CHECKS
    for row in rows:
        assert row[detail_col - 2 : detail_col] == "  " and row[detail_col] != " "
    claude_row = next(i for i, line in enumerate(lines) if line.split()[:2] == ["FAIL", "claude-code"])
    assert lines[claude_row + 1].strip().startswith(f"fix: npm install -g @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}")
    assert lines[claude_row + 1].index("fix:") == detail_col
    assert lines[-1].startswith("not ok: ") and "1 FAIL" in lines[-1]


def test_bad_config_exits_two_with_one_line(fb, capsys, tmp_path):
    bad = tmp_path / "repo.yaml"
    bad.write_text("profile: x\nreview: {modles: [a]}\n")
    assert main(["doctor", "-c", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error[config]: ") and "did you mean 'models'" in err and "Traceback" not in err
    bad.write_text("profile: [unclosed\n")
    assert main(["doctor", "--json", "-c", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["code"] == "config" and str(bad) in err


def test_missing_config_file_exits_two(fb, capsys, tmp_path):
    assert main(["doctor", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_reports_fails_instead_of_raising(tmp_path):
    """What `pip install .` then `kagura-engineer doctor --json` does on a bare machine."""
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    script = [sys.executable, "-c", "import sys; from kagura_engineer.cli import main; sys.exit(main())"]
    out = subprocess.run([*script, "doctor", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and [c["name"] for c in doc["checks"]] == BASE_CHECKS
    assert "Traceback" not in out.stderr
