"""`run` end to end with the real claude binary: the agent makes real tool calls in the worktree."""

from __future__ import annotations

import pytest

from kagura_engineer.demo.anthropic import bash, read, report, write

from .conftest import KAGURA_KEY, TOKEN

pytestmark = pytest.mark.e2e
CHECK = "grep -q hi hello.txt"


def green_script():
    return [write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt with a greeting", ["hello.txt"])]


def test_issue_to_green_pr(e2e):
    e2e.model.set_script(green_script())
    e2e.write_config(checks=[CHECK])
    job = e2e.run("run", "7")
    assert job.returncode == 0, job.stderr
    out = job.out
    assert out["status"] == "shipped" and out["verdict"] == "green" and out["pr_number"]
    assert out["cost_usd"] > 0 and out["turns"] >= 2 and out["resumed_from"] is None
    assert e2e.origin_file(out["branch"], "hello.txt") == "hi\n"
    assert len(e2e.github.open_pulls()) == 1 and len(e2e.github.issue_comments(7)) == 1
    assert [p["name"] for p in out["phases"]][-1] == "remember"


def test_no_checks_is_a_yellow_draft(e2e):
    e2e.model.set_script(green_script())
    job = e2e.run("run", "7")
    assert job.returncode == 0 and job.out["verdict"] == "yellow"
    assert e2e.github.open_pulls()[0]["draft"] is True


def test_red_then_resume_after_the_fix_is_pushed(e2e, tmp_path):
    import subprocess

    e2e.model.set_script([write("{CWD}/hello.txt", "hello\n"), report("done", "added hello.txt")])
    e2e.write_config(checks=[CHECK], retries=0)
    first = e2e.run("run", "7")
    assert first.returncode == 2 and first.out["status"] == "blocked" and first.out["verdict"] == "red"
    assert e2e.origin_file(first.out["branch"], "hello.txt") == "hello\n"  # work pushed
    assert "/kagura resume" in e2e.github.issue_comments(7)[0]["body"]
    clone = tmp_path / "person"
    subprocess.run(["git", "clone", "-q", "-b", first.out["branch"], str(e2e.origin), str(clone)], check=True)
    (clone / "hello.txt").write_text("hi\n")
    subprocess.run(["git", "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qam", "fix"], cwd=clone, check=True)
    subprocess.run(["git", "push", "-q"], cwd=clone, check=True)
    requests_before = len(e2e.model.model_requests())
    second = e2e.run("run", "7")
    assert second.returncode == 0 and second.out["status"] == "shipped" and second.out["resumed_from"] == "halted"
    assert len(e2e.model.model_requests()) == requests_before  # no model call
    assert len(e2e.github.open_pulls()) == 1 and len(e2e.github.issue_comments(7)) == 1


def test_failing_checks_get_one_fix_attempt_in_the_same_session(e2e):
    e2e.model.set_script(
        [write("{CWD}/hello.txt", "hello\n"), report("done", "first try"),
         read("{CWD}/hello.txt"), write("{CWD}/hello.txt", "hi\n"), report("done", "fixed")]
    )  # fmt: skip
    e2e.write_config(checks=[CHECK], retries=1)
    job = e2e.run("run", "7")
    assert job.returncode == 0 and job.out["verdict"] == "green", job.stderr
    fix_request = e2e.model.model_requests()[-1].json()
    assert "failed" in str(fix_request["messages"])  # the fix prompt carried the failure


def test_turn_limit_is_red_with_the_work_pushed(e2e):
    e2e.model.set_script([write("{CWD}/hello.txt", "hi\n")] + [bash("git status")] * 10)
    e2e.write_config(checks=[CHECK], budget={"max_turns": 3})
    job = e2e.run("run", "7")
    assert job.returncode == 2 and job.out["status"] == "blocked", job.stderr
    assert "turn" in job.out["reason"]
    assert e2e.origin_file(job.out["branch"], "hello.txt") == "hi\n"
    assert e2e.github.open_pulls() == []


def test_budget_is_enforced_before_it_is_crossed(e2e):
    heavy = {"usage": {"input_tokens": 50_000, "output_tokens": 1000}}  # ~$0.8 a turn at the estimate
    e2e.model.set_script([{**write("{CWD}/hello.txt", "hi\n"), **heavy}] + [{**bash("git status"), **heavy}] * 10)
    e2e.write_config(checks=[CHECK], budget={"max_usd": 2.0})
    job = e2e.run("run", "7")
    assert job.returncode == 2 and "budget" in job.out["reason"], job.stderr
    assert job.out["cost_usd"] <= 2.0
    assert e2e.origin_file(job.out["branch"], "hello.txt") == "hi\n"


def test_model_api_failure_is_a_clear_red_after_bounded_retries(e2e):
    e2e.model.set_script([{"http_error": {"status": 500, "type": "api_error", "message": "boom"}}])
    job = e2e.run("run", "7", env={"CLAUDE_CODE_MAX_RETRIES": "1"})
    assert job.returncode == 2 and job.out["status"] == "blocked"
    assert "agent failed" in job.out["reason"]
    assert 1 <= len(e2e.model.model_requests()) <= 4


def test_the_model_never_sees_the_github_token_or_memory_key(e2e):
    e2e.model.set_script([bash("env"), write("{CWD}/hello.txt", "hi\n"), report("done", "ok")])
    e2e.write_config(checks=["env"])  # makes Bash(env) an allowed rule
    job = e2e.run("run", "7", env={"GH_TOKEN": TOKEN, "ACTIONS_RUNTIME_TOKEN": "runtime-secret-123456"})
    assert job.returncode == 0, job.stderr
    seen = "\n".join(r.text() for r in e2e.model.model_requests())
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" in seen  # the env dump did reach the model
    for secret in (TOKEN, KAGURA_KEY, "runtime-secret-123456"):
        assert secret not in seen
    for comment in e2e.github.issue_comments(7):
        assert TOKEN not in comment["body"] and KAGURA_KEY not in comment["body"]
