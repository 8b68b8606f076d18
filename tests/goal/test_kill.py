"""kill -9 mid-goal: `kagura-engineer goal` as a process, SIGKILLed by the GitHub stand-in
right after a write took effect (the job never sees the reply), then run again.

The model is a stand-in `claude` executable (KAGURA_CLAUDE_BIN) that writes `issue-N.txt`
in its worktree and prints the stream-json a real one ends with; the variant with the real
claude binary is in tests/e2e."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentspace import AGENT_PYTHON
from kagura_engineer.git import branch_name

from .conftest import MILESTONE, three_issues

CLI = str(Path(sys.executable).with_name("kagura-engineer"))
TRACKING = 50

FAKE_CLAUDE = """#!{python}
import json, os, sys
from pathlib import Path
n = int(Path.cwd().name.removeprefix("issue-"))
with open({log!r}, "a") as fh:
    fh.write(json.dumps({{"issue": n, "resume": "--resume" in sys.argv}}) + "\\n")
(Path.cwd() / f"issue-{{n}}.txt").write_text("ok\\n")
session = f"sess-{{n}}"
print(json.dumps({{"type": "system", "subtype": "init", "session_id": session, "model": "claude-sonnet-4"}}))
print(json.dumps({{"type": "result", "subtype": "success", "is_error": False, "total_cost_usd": 0.02,
                  "num_turns": 1, "session_id": session,
                  "structured_output": {{"status": "done", "summary": f"wrote issue-{{n}}.txt",
                                        "files_changed": [f"issue-{{n}}.txt"]}}}}))
"""


@pytest.fixture
def job(world, tmp_path, agent_dir):
    """Run `kagura-engineer goal` in its own process group, as a runner would."""
    log = agent_dir / "claude-calls.jsonl"  # the fake claude runs as the agent user (tests are root)
    fake = agent_dir / "bin" / "claude"
    fake.parent.mkdir(mode=0o755)
    fake.write_text(FAKE_CLAUDE.format(python=AGENT_PYTHON, log=str(log)))
    fake.chmod(0o755)
    config = tmp_path / "repo.yaml"
    config.write_text(
        f"profile: test\nmemory_backend: local\nlocal_memory_path: {world.db}\n"
        f"checks: ['ls issue-*.txt']\ngoal: {{tracking_issue: {TRACKING}}}\n"
    )
    env = {**os.environ, **world.github.env(), "KAGURA_CLAUDE_BIN": str(fake),
           "ANTHROPIC_API_KEY": "sk-ant-test-0000", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}  # fmt: skip

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [CLI, "goal", MILESTONE, "--json", "-c", str(config)], cwd=world.repo, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    def claude_calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    start.claude_calls = claude_calls  # type: ignore[attr-defined]
    return start


def _kill_after(world, method: str, path: str, nth: int, pgid: dict) -> None:
    """SIGKILL the job's group right after the stand-in answers the `nth` matching request."""
    seen = {"n": 0}

    def arm(req) -> None:
        seen["n"] += 1
        if seen["n"] == nth:
            # inside the hook this request is already counted: k=0 is this very request
            world.github.kill_on(0, pgid["pid"], when="after")

    world.github.before(method, path, arm, times=nth)


@pytest.mark.parametrize(
    ("method", "path", "nth", "prs_before"),
    [
        ("POST", r"/pulls$", 2, 2),  # #1's PR was just created (stacked on #3's)
        ("POST", rf"/issues/{TRACKING}/comments$", 1, 0),  # the tracking comment was just created
    ],
    ids=["after-second-pr", "after-tracking-comment"],
)
def test_kill_9_mid_goal_then_rerun_makes_no_duplicate(world, job, method, path, nth, prs_before):
    three_issues(world)
    world.github.add_issue(TRACKING, "Tracking: v1.0")
    pgid: dict = {}
    _kill_after(world, method, path, nth, pgid)
    first = job()
    pgid["pid"] = first.pid
    first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL, "the stand-in should have killed the job"
    assert world.github.killed_at is not None and len(world.github.pulls) == prs_before

    second = job()
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    result = json.loads(out)
    assert {"status", "milestone", "issues", "cost_usd", "halted_at"} <= set(result)
    assert result["status"] == "shipped" and result["milestone"] == MILESTONE and result["halted_at"] is None
    assert [i["issue"] for i in result["issues"]] == [3, 1, 2]
    for row in result["issues"]:
        assert {"issue", "title", "state", "pr_number", "verdict", "cost_usd", "depends_on"} <= set(row)
        assert row["state"] == "shipped" and row["verdict"] == "green" and row["pr_number"]
    assert result["issues"][1]["depends_on"] == [3]

    b3 = branch_name("kagura/", 3, "Add a greeting file")
    b1 = branch_name("kagura/", 1, "Use the greeting in the banner")
    heads = sorted(p["head_ref"] for p in world.github.pulls.values())
    assert heads == sorted({b3, b1, branch_name("kagura/", 2, "Document the banner")})  # one PR each, ever
    assert next(p for p in world.github.pulls.values() if p["head_ref"] == b1)["base_ref"] == b3
    for n in (1, 2, 3):
        assert len(world.github.issue_comments(n)) == 1
    tracking = world.github.issue_comments(TRACKING)
    assert len(tracking) == 1 and "3 of 3 open issues shipped" in tracking[0]["body"]
    # the re-run resumed after what had finished: each issue met the model once
    assert [c["issue"] for c in job.claude_calls()] == [3, 1, 2]
    assert result["cost_usd"] == pytest.approx(0.06)
