"""The Action end to end: a labeled-issue event → `kagura-engineer action` → `run` with the
real claude binary → a PR, the outputs and the job summary, no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from filecommands import parse_file_commands
from kagura_engineer.demo.anthropic import report, write

from .conftest import TOKEN

pytestmark = pytest.mark.e2e
PAYLOAD = Path(__file__).resolve().parents[1] / "action" / "payloads" / "issues" / "labeled.json"
ANTHROPIC_KEY = "sk-ant-api03-e2eActionKey-000000000000000000"


def test_labeled_issue_becomes_a_pr_through_the_action(e2e, tmp_path):
    e2e.model.set_script([write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])])
    e2e.write_config(checks=["grep -q hi hello.txt"])
    e2e.github.set_permission("octocat", "write")
    payload = json.loads(PAYLOAD.read_text())
    payload["issue"]["number"] = 7
    payload["label"]["name"] = "kagura"
    payload["repository"].update({"full_name": "acme/widgets", "name": "widgets", "owner": {**payload["repository"]["owner"], "login": "acme"}})
    payload["sender"]["login"] = "octocat"
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    files = {name: tmp_path / f"{name}.txt" for name in ("output", "summary", "state")}
    for path in files.values():
        path.write_text("")
    env = {
        **e2e.env, "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event),
        "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_WORKSPACE": str(e2e.repo),
        "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]), "GITHUB_STATE": str(files["state"]),
        "INPUT_COMMAND": "auto", "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "INPUT_CONFIG": str(e2e.config), "INPUT_CACHE": "false",
    }  # fmt: skip
    env.pop("GITHUB_TOKEN", None)
    env.pop("ANTHROPIC_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "kagura_engineer", "action"], cwd=e2e.repo, env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    outputs = parse_file_commands(files["output"].read_text())
    assert outputs["status"] == "shipped" and outputs["intent"] == "run #7" and outputs["verdict"] == "green"
    pulls = e2e.github.open_pulls()
    assert len(pulls) == 1 and outputs["pr_number"] == str(pulls[0]["number"])
    comments = e2e.github.issue_comments(7)
    assert len(comments) == 1 and "shipped" in comments[0]["body"].lower()
    assert "run #7" in files["summary"].read_text()
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in files.values())
    everything += "".join(c["body"] for c in comments) + "\n".join(r.text() for r in e2e.model.model_requests())
    visible = "\n".join(line for line in everything.splitlines() if not line.startswith("::add-mask::"))
    for secret in (TOKEN, ANTHROPIC_KEY):
        assert secret not in visible
    assert os.environ.get("HOME")  # untouched
