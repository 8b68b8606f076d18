"""A job killed after its memory changed still has that memory in the next job.

Job 1 runs the Action (real claude binary) and is SIGKILLed, whole process tree, at the
moment it starts saving the memory cache — after `remember` wrote the outcome. The post
step (which the runner always runs, `post-if: always()`) saves the cache. Job 2, in a fresh
checkout, restores it and finds job 1's memory.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from filecommands import parse_file_commands
from kagura_engineer.demo.anthropic import report, write
from support.actions_cache import ActionsCacheStandIn

from .conftest import TOKEN

pytestmark = pytest.mark.e2e
RUNTIME_TOKEN = "actions-runtime-token-e2e-0000"


def test_post_step_saves_what_a_killed_job_learned(e2e, tmp_path):
    e2e.model.set_script([write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])])
    e2e.write_config(local_memory_path=".kagura/memory.db", checks=["grep -q hi hello.txt"])
    e2e.github.set_permission("octocat", "write")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({
        "action": "labeled", "label": {"name": "kagura"}, "sender": {"login": "octocat", "type": "User"},
        "repository": {"full_name": "acme/widgets", "name": "widgets", "owner": {"login": "acme"}},
        "issue": {"number": 7, "title": "Add a greeting file", "body": "Please add hello.txt.",
                  "user": {"login": "octocat", "type": "User"}, "state": "open"},
    }))  # fmt: skip
    state = tmp_path / "state.txt"
    state.write_text("")
    with ActionsCacheStandIn(token=RUNTIME_TOKEN) as cache:
        env = {
            **e2e.env, "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event),
            "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_WORKSPACE": str(e2e.repo),
            "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out.txt"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.txt"), "GITHUB_STATE": str(state),
            "INPUT_COMMAND": "auto", "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": "sk-ant-e2e-key-000000",
            "INPUT_CONFIG": str(e2e.config), "INPUT_CACHE": "true",
            "ACTIONS_RESULTS_URL": cache.url + "/", "ACTIONS_RUNTIME_TOKEN": RUNTIME_TOKEN,
            "KAGURA_CACHE_RETRY_SECONDS": "0",
        }  # fmt: skip
        main = subprocess.Popen([sys.executable, "-m", "kagura_engineer", "action"], cwd=e2e.repo, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        # request 1 is the restore (a miss); request 2 opens the save: die right before it
        cache.kill_on(2, main.pid, when="before", tree=True)
        main.communicate(timeout=180)
        assert main.returncode == -9 and cache.killed_at is not None
        assert len(e2e.github.open_pulls()) == 1  # the work itself had shipped
        with sqlite3.connect(e2e.repo / ".kagura" / "memory.db") as conn:
            assert conn.execute("SELECT count(*) FROM memories WHERE type = 'outcome'").fetchone()[0] == 1
        assert "kagura_cache_saved" not in state.read_text()

        # the runner hands the main step's GITHUB_STATE to the post step as STATE_<name>
        post_env = {**env, **{f"STATE_{k}": v for k, v in parse_file_commands(state.read_text()).items()}}
        post = subprocess.run([sys.executable, "-m", "kagura_engineer", "action", "--post"], cwd=e2e.repo, env=post_env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert post.returncode == 0, post.stdout + post.stderr

        job2 = tmp_path / "job2"
        subprocess.run(["git", "clone", "-q", str(e2e.origin), str(job2)], check=True)
        restore = subprocess.run(
            [sys.executable, "-m", "kagura_engineer", "cache", "restore", "-c", str(e2e.config), "--json"], cwd=job2,
            env={**env, "GITHUB_WORKSPACE": str(job2), "GITHUB_RUN_ID": "4243"}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        result = json.loads(restore.stdout)
        assert restore.returncode == 0 and result["hit"] is True, restore.stdout + restore.stderr
        assert result["matched_key"] == "kagura-memory-acme/widgets-4242-1"
    with sqlite3.connect(job2 / ".kagura" / "memory.db") as conn:
        summaries = [row[0] for row in conn.execute("SELECT summary FROM memories WHERE type = 'outcome'")]
    assert summaries == ["Shipped #7: Add a greeting file"]
