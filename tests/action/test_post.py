"""The post step and the container entry point.

A main step SIGKILLed mid-job (by the stand-in, on a request after the progress comment was
posted) leaves the comment "working"; the post step, started the way the image starts it
(`/post-entrypoint.py`, a symlink to entrypoint.py), finishes it with how to resume.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from filecommands import parse_file_commands
from kagura_engineer.action.post import interruption_reason

from .conftest import ANTHROPIC_KEY, OWNER, REPO, TOKEN, issue_payload

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def step_env(tmp_path: Path, standin, **extra: str) -> dict[str, str]:
    for name in ("output", "summary", "state"):
        (tmp_path / name).write_text("")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(issue_payload("issues/labeled.json", label={"name": "kagura"})))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "STATE_"))}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": standin.api_url, "GITHUB_REPOSITORY": f"{OWNER}/{REPO}", "GITHUB_RUN_ID": "77",
        "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_STATE": str(tmp_path / "state"), "RUNNER_TEMP": str(tmp_path),
        "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY, "INPUT_COMMAND": "doctor",
    })  # fmt: skip
    env.update(extra)
    return env


def post_entrypoint(tmp_path: Path) -> Path:
    """What the image has: /post-entrypoint.py -> /entrypoint.py."""
    link = tmp_path / "post-entrypoint.py"
    link.symlink_to(ROOT / "entrypoint.py")
    return link


def test_post_finishes_the_comment_of_a_killed_main_step(tmp_path, git_repo, standin):
    env = step_env(tmp_path, standin)
    main = subprocess.Popen([sys.executable, str(ROOT / "entrypoint.py")], cwd=git_repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    # requests 1-3: permission, find the comment, create it; the 4th is doctor's work
    standin.kill_on(4, main.pid, when="before")
    main.communicate(timeout=60)
    assert main.returncode == -signal.SIGKILL
    (comment,) = standin.issue_comments(42)
    assert "working" in comment["body"]  # left behind by the killed step
    state = parse_file_commands((tmp_path / "state").read_text())
    assert "kagura_done" not in state and state["kagura_progress_number"] == "42"

    post_env = {**step_env(tmp_path, standin), **{f"STATE_{k}": v for k, v in state.items()}}
    post = subprocess.run([str(post_entrypoint(tmp_path))], cwd=git_repo, env=post_env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert post.returncode == 0, post.stdout + post.stderr
    (comment,) = standin.issue_comments(42)
    assert "working" not in comment["body"] and "❌ failed" in comment["body"]
    assert "cancelled or stopped" in comment["body"] and "re-run the workflow" in comment["body"]
    assert "::warning title=kagura-engineer::the job was cancelled or stopped" in post.stdout
    assert "cancelled or stopped" in (tmp_path / "summary").read_text()
    assert post.stdout.splitlines()[0].startswith("::add-mask::")
    assert TOKEN not in "\n".join(
        line for line in post.stdout.splitlines() if not line.startswith("::add-mask::")
    )


def test_post_after_a_finished_main_step_changes_nothing(tmp_path, git_repo, standin):
    env = step_env(tmp_path, standin, STATE_kagura_done="1", STATE_kagura_progress_number="42",
                   STATE_kagura_progress_key="doctor/acme/widgets/issue-42")  # fmt: skip
    post = subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), "post"], cwd=git_repo, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert post.returncode == 0 and "the main step finished" in post.stdout
    assert standin.requests == [] and standin.issue_comments(42) == []


def test_post_without_state_has_nothing_to_do(tmp_path, git_repo, standin):
    post = subprocess.run([str(post_entrypoint(tmp_path))], cwd=git_repo, env=step_env(tmp_path, standin),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert post.returncode == 0 and "no progress comment to finish" in post.stdout
    assert standin.requests == []


def test_entrypoint_runs_the_main_step(tmp_path, git_repo, standin):
    env = step_env(tmp_path, standin)
    del env["GITHUB_EVENT_NAME"], env["GITHUB_EVENT_PATH"]
    env["INPUT_COMMAND"] = "auto"
    main = subprocess.run([str(ROOT / "entrypoint.py")], cwd=git_repo, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert main.returncode == 0, main.stdout + main.stderr
    outputs = parse_file_commands((tmp_path / "output").read_text())
    assert (outputs["status"], outputs["intent"]) == ("skipped", "skip")
    assert "no GitHub event" in (tmp_path / "summary").read_text()


def test_interruption_reason():
    assert "timed out after 31 min" in interruption_reason({"kagura_started": "0"}, 30, 31 * 60)
    assert "cancelled or stopped after 5 min" in interruption_reason({"kagura_started": "0"}, 30, 5 * 60)
    assert "cancelled or stopped after 5 min" in interruption_reason({"kagura_started": "0"}, None, 5 * 60)
    assert "cancelled, timed out or killed" in interruption_reason({}, 30, 100)
