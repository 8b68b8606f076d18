"""`eval` end to end with the real claude binary: a check only a stored lesson explains, so
recall on is green and recall off is red — and GitHub, the origin, the checkout and the team's
memory are as they were."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kagura_engineer.demo.anthropic import report, write
from kagura_engineer.memory.local import LocalMemory

pytestmark = pytest.mark.e2e
LESSON = "config.txt must contain MAGIC=42"
CHECK = "grep -q 'MAGIC=42' config.txt"
PNG = b"\x89PNG\r\n\x1a\n"


def prompt_text(body: dict) -> str:
    """The text of the request's user messages (the harness's prompt is the first)."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        blocks = [content] if isinstance(content, str) else content or []
        parts += [b if isinstance(b, str) else str(b.get("text", "")) for b in blocks]
    return "\n".join(parts)


def config_step(body: dict) -> dict:
    """Write what the lesson says, when the lesson is in the prompt; a guess otherwise."""
    value = "42" if LESSON in prompt_text(body) else "0"
    return write("{CWD}/config.txt", f"MAGIC={value}\n")


def dump(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        return {
            "memories": conn.execute(
                "SELECT id, external_id, summary, content, type, tags, importance, details, created_at, "
                "updated_at FROM memories ORDER BY id"
            ).fetchall(),
            "edges": conn.execute("SELECT * FROM edges ORDER BY 1, 2").fetchall(),
            "state": conn.execute("SELECT * FROM state ORDER BY key").fetchall(),
        }
    finally:
        conn.close()


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_recall_on_green_off_red_and_nothing_else_changes(e2e, tmp_path):
    e2e.github.add_issue(12, "Add the service config file", "Create config.txt for the service.")
    with LocalMemory(tmp_path / "memory.db") as team:
        team.remember(LESSON, f"Lesson: {LESSON}; the deploy check greps for it.", "lesson", tags=("config",))
    e2e.write_config(checks=[CHECK], retries=0)
    e2e.model.set_script([config_step, report("done", "wrote config.txt", ["config.txt"])])
    memory_before = dump(tmp_path / "memory.db")
    origin_before, refs_before = git_out(e2e.origin, "for-each-ref"), git_out(e2e.repo, "for-each-ref")
    status_before = git_out(e2e.repo, "status", "--porcelain")
    plot = tmp_path / "eval.png"
    try:
        import matplotlib  # noqa: F401

        plotting = True
    except ImportError:
        plotting = False
    summary = tmp_path / "summary.md"
    args = ["eval", "--issues", "12", "--max-usd", "5"] + (["--plot", str(plot)] if plotting else [])
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    if os.environ.get("PYTHONPATH"):  # a worktree's source (and its extras) for the child too
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    job = e2e.run(*args, env=env, timeout=300)
    assert job.returncode == 0, job.stderr
    out = job.out
    issue = out["issues"][0]
    assert issue["issue"] == 12
    assert issue["on"]["verdicts"] == ["green"] and issue["off"]["verdicts"] == ["red"]
    assert out["on"]["green_rate"] == 1.0 and out["off"]["green_rate"] == 0.0
    assert issue["on"]["checks_passed"] == 1 and issue["off"]["checks_passed"] == 0
    assert out["on"]["turns"] >= 2 and out["on"]["cost_usd"] > 0 and out["on"]["wall_s"] > 0
    assert out["difference"]["green_rate"] == 1.0
    assert "1 of 1 — not significant" in out["note"]
    assert 0 < out["cost_usd"] <= 5
    table = summary.read_text()
    assert "| #12 | on | green | 100% |" in table and "| #12 | off | red | 0% |" in table
    if plotting:
        assert plot.read_bytes()[:8] == PNG
    # two claude sessions, one per arm: only the recall-on one was told the lesson
    sessions: dict[str, bool] = {}
    for request in e2e.model.model_requests():
        text = prompt_text(request.json())
        if "Implement GitHub issue #12" in text:
            sid = request.headers.get("x-claude-code-session-id", "")
            sessions[sid] = sessions.get(sid, False) or LESSON in text
    assert sorted(sessions.values()) == [False, True]
    # GitHub was only read; origin, the checkout and the team's memory are as they were
    assert {r.method for r in e2e.github.requests} <= {"GET", "HEAD"}
    assert e2e.github.open_pulls() == [] and e2e.github.issue_comments(12) == []
    assert git_out(e2e.origin, "for-each-ref") == origin_before
    assert git_out(e2e.repo, "for-each-ref") == refs_before
    assert git_out(e2e.repo, "status", "--porcelain") == status_before
    assert dump(tmp_path / "memory.db") == memory_before
