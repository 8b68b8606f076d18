"""Done-when: `kagura-engineer action` as a process, against the GitHub stand-in.

GITHUB_EVENT_NAME=issues with a recorded `labeled` payload decides `run #N`, posts and
finishes the progress comment, writes outputs, state and summary, and exits with the
command's code; the real `run` is dispatched (no seam), so its honest answer is reported.
The same path with `command: doctor` exercises a command that works today. Secrets never
appear in a comment, a request, an output, the summary or the log (except the masks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import (
    ANTHROPIC_KEY,
    KAGURA_KEY,
    OWNER,
    REPO,
    SECRETS,
    TOKEN,
    issue_payload,
    parse_file_commands,
)

BIN = Path(sys.executable).parent
STATUS_OF_EXIT = {0: "shipped", 1: "failed", 2: "blocked", 3: "failed"}


def run_action(
    tmp_path: Path, workspace: Path, standin, **inputs: str
) -> tuple[subprocess.CompletedProcess, dict]:
    files = {name: tmp_path / name for name in ("output", "summary", "state")}
    for path in files.values():
        path.write_text("")
    payload = issue_payload("issues/labeled.json", label={"name": "kagura"})
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    # no claude binary reachable: neither KAGURA_CLAUDE_BIN nor one on a developer's PATH
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_")) and k != "KAGURA_CLAUDE_BIN"
    }
    env.update({
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": standin.api_url, "GITHUB_SERVER_URL": standin.server_url,
        "GITHUB_REPOSITORY": f"{OWNER}/{REPO}", "GITHUB_RUN_ID": "555", "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(files["output"]), "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "GITHUB_STATE": str(files["state"]),
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",  # should anything call the model: fail fast, locally
        "INPUT_COMMAND": "auto", "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "INPUT_KAGURA_API_KEY": KAGURA_KEY, "INPUT_LABEL": "kagura", "INPUT_CACHE": "true",
    })  # fmt: skip
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    proc = subprocess.run([str(BIN / "kagura-engineer"), "action"], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    texts = {name: path.read_text(encoding="utf-8") for name, path in files.items()}
    return proc, texts


def assert_no_secrets(proc, texts, standin):
    log_lines = (proc.stdout + proc.stderr).splitlines()
    masks = [line for line in log_lines if line.startswith("::add-mask::")]
    assert log_lines[: len(masks)] == masks  # masks before anything else
    rest = "\n".join(line for line in log_lines if not line.startswith("::add-mask::"))
    writes = [rest, *texts.values(), *(c["body"] for c in standin.comments.values()),
              *(r.method + r.path + json.dumps(r.query) + r.text() for r in standin.requests)]  # fmt: skip
    for secret in SECRETS:
        assert f"::add-mask::{secret}" in masks
        for text in writes:
            assert secret not in text


def test_labeled_issue_decides_run_and_reports_it(tmp_path, git_repo, standin):
    proc, texts = run_action(tmp_path, git_repo, standin)
    outputs = parse_file_commands(texts["output"])
    assert outputs["intent"] == "run #42", proc.stdout + proc.stderr
    # the real `run` is dispatched; no claude binary is installed in this environment, which
    # needs a person: blocked, exit 2 before any work, annotated, and the reason says what is missing
    assert (proc.returncode, outputs["status"]) == (2, "blocked"), proc.stdout
    assert (
        "::error title=kagura-engineer run::error[needs-user]: claude (Claude Code) is not installed"
        in proc.stdout
    )
    assert "kagura-engineer setup --fix claude-code" in proc.stdout
    assert outputs["savepoint"] == "run/acme/widgets/issue-42"
    progress = [
        c
        for c in standin.issue_comments(42)
        if c["body"].startswith("<!-- kagura:run/acme/widgets/issue-42 -->")
    ]
    assert len(progress) == 1
    assert "working" not in progress[0]["body"] and "/actions/runs/555" in progress[0]["body"]
    assert "run #42" in texts["summary"] and f"exit code {proc.returncode}" in texts["summary"]
    state = parse_file_commands(texts["state"])
    assert state["kagura_done"] == "1" and state["kagura_progress_number"] == "42"
    assert "git: marked" in proc.stdout  # safe.directory for the workspace
    assert_no_secrets(proc, texts, standin)


def test_doctor_command_posts_progress_and_mirrors_the_exit_code(tmp_path, git_repo, standin):
    for _attempt in (1, 2):  # the re-run edits the same comment
        proc, texts = run_action(tmp_path, git_repo, standin, command="doctor")
        outputs = parse_file_commands(texts["output"])
        assert outputs["intent"] == "doctor", proc.stdout + proc.stderr
        assert proc.returncode in (0, 1)
        assert outputs["status"] == STATUS_OF_EXIT[proc.returncode]
        assert '"checks"' in proc.stdout  # the command's JSON, shown inside ::stop-commands::
        stop = next(line for line in proc.stdout.splitlines() if line.startswith("::stop-commands::"))
        assert f"::{stop.split('::')[2]}::" in proc.stdout
    (comment,) = [c for c in standin.issue_comments(42) if c["body"].startswith("<!-- kagura:")]
    assert comment["body"].startswith("<!-- kagura:doctor/acme/widgets/issue-42 -->")
    assert ("✅ shipped" if proc.returncode == 0 else "❌ failed") in comment["body"]
    assert "doctor" in texts["summary"]
    assert_no_secrets(proc, texts, standin)
