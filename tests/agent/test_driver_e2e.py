"""The driver end to end: the real claude binary, the scripted Messages API, a real git repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kagura_engineer.demo.anthropic import bash, http_error, read, report, tool, write

pytestmark = pytest.mark.e2e

SECRETS = {
    "GITHUB_TOKEN": "ghs_e2eGithubToken000000000000000000000",
    "GH_TOKEN": "ghs_e2eGhToken0000000000000000000000000",
    "KAGURA_API_KEY": "kagura_e2eMemoryKey0000000000000000000000",
    "ACTIONS_RUNTIME_TOKEN": "e2e-actions-runtime-token-value",
    "INPUT_GITHUB_TOKEN": "e2e-input-github-token-value",
    "INPUT_KAGURA_API_KEY": "e2e-input-kagura-key-value",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def test_write_commit_and_a_done_report(agent):
    agent.model.set_script([
        write("{CWD}/hello.txt", "hi\n"),
        bash("git add hello.txt && git commit -q -m 'Add hello.txt'"),
        {"text": "All done.", **report("done", "Added hello.txt", ["hello.txt"], "trivial")},
    ])  # fmt: skip
    result = agent.run()
    assert result.status == "done" and result.ok and not result.is_error
    assert (result.summary, result.files_changed, result.notes) == ("Added hello.txt", ["hello.txt"], "trivial")
    assert result.cost_usd > 0 and result.turns == 3 and result.stopped_by is None
    assert result.session_id and agent.sessions == [result.session_id]  # announced while running
    assert agent.events == ["Write hello.txt", "Bash git add hello.txt && git commit -q -m 'Add hello.txt'", "StructuredOutput"]
    assert (agent.repo / "hello.txt").read_text() == "hi\n"
    assert git(agent.repo, "log", "-1", "--format=%s") == "Add hello.txt"
    assert len(agent.model.model_requests()) == 3


def test_resume_carries_the_transcript_and_counts_only_its_own_cost(agent):
    agent.model.set_script([report("done", "first"), read("{CWD}/README.md"), report("done", "second")])
    first = agent.run("First prompt: look around.")
    assert first.status == "done" and first.summary == "first" and not first.resumed
    second = agent.run("Second prompt: continue.", resume=first.session_id)
    assert second.status == "done" and second.summary == "second" and second.resumed
    assert second.session_id == first.session_id
    last = agent.model.model_requests()[-1].text()
    assert "First prompt: look around." in last and "Second prompt: continue." in last
    assert second.turns == 2 and second.session_cost_usd == pytest.approx(first.cost_usd + second.cost_usd)


def test_a_session_that_is_not_here_is_started_fresh(agent):
    agent.model.set_script([report("done", "fresh")])
    result = agent.run(resume="00000000-0000-4000-8000-000000000000")
    assert result.status == "done" and result.summary == "fresh" and not result.resumed
    assert "could not be resumed" in result.notes and result.session_id != "00000000-0000-4000-8000-000000000000"


def test_turn_watchdog_stops_before_max_turns_is_crossed(agent):
    agent.model.set_script([write("{CWD}/hello.txt", "hi\n")] + [bash("git status")] * 20)
    result = agent.run(max_turns=3)
    # the harness's SIGINT after turn 3's tool results, or the CLI's exact --max-turns backstop,
    # whichever lands first: either way no 4th turn is ever requested
    assert result.status == "turns_exhausted" and result.stopped_by in ("turns", None), result.notes
    assert result.turns == 3 and result.session_id
    assert (agent.repo / "hello.txt").read_text() == "hi\n"  # the work done so far stays
    assert len(agent.model.model_requests()) == 3


def test_usd_watchdog_stops_before_max_usd_is_crossed(agent):
    heavy = {"usage": {"input_tokens": 100_000, "output_tokens": 2_000}}  # ~$0.44 a turn as the CLI bills it
    agent.model.set_script([{**write("{CWD}/hello.txt", "hi\n"), **heavy}] + [{**bash("git status"), **heavy}] * 20)
    result = agent.run(max_usd=2.0)
    assert result.status == "budget_exhausted" and result.stopped_by == "usd", result.notes
    assert 0 < result.cost_usd <= 2.0
    assert result.turns >= 2 and (agent.repo / "hello.txt").exists()


def test_minutes_watchdog_stops_a_run_that_would_outlast_the_budget(agent):
    agent.model.set_script([write("{CWD}/hello.txt", "hi\n"), {**bash("git status"), "delay": 8}])
    result = agent.run(max_minutes=0.04)  # 2.4 s, minus the reserve
    assert result.status == "timeout" and result.stopped_by == "minutes", result.notes
    assert (agent.repo / "hello.txt").read_text() == "hi\n"


def test_model_api_500s_are_retried_a_bounded_number_of_times_then_an_error(agent):
    from kagura_engineer.agent.argv import EnvOptions

    agent.model.set_script([http_error(500, "boom")])
    result = agent.run(env_options=EnvOptions(max_retries=1))
    assert result.status == "error" and result.is_error and result.api_error_status == 500
    assert "500" in result.notes and result.turns == 0
    assert len(agent.model.model_requests()) == 2  # the request and one retry


def test_the_model_never_sees_github_memory_or_runtime_secrets(agent):
    agent.environ.update(SECRETS)
    agent.model.set_script([bash("env", "dump the environment"), report("done", "looked")])
    result = agent.run(config={"checks": ["env"]})  # `env` as a check makes Bash(env) an allowed rule
    assert result.status == "done" and not result.permission_denials
    dump = "\n".join(agent.model.tool_results())
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" in dump and "GIT_AUTHOR_NAME=agent" in dump
    seen = agent.model.log_text()
    for name, value in SECRETS.items():
        assert value not in seen, name
        assert f"{name}=" not in dump, name


def test_push_and_the_git_dir_are_denied(agent):
    origin_before = git(agent.repo, "ls-remote", "origin")
    agent.model.set_script([
        bash("git push origin HEAD:refs/heads/sneaky"),
        bash("git add -A && git -C . push origin HEAD:refs/heads/sneaky2"),
        write("{CWD}/.git/hooks/pre-commit", "#!/bin/sh\necho owned\n"),
        read("{CWD}/.git/config"),
        report("blocked", "could not push", [], "pushing is the harness's job"),
    ])  # fmt: skip
    result = agent.run(config={"allowed_tools": ["Bash(git *)"]})  # an owner's rule broad enough to push
    assert result.status == "blocked" and result.notes == "pushing is the harness's job"
    denied = [(d["tool_name"], d["tool_input"].get("command") or d["tool_input"].get("file_path")) for d in result.permission_denials]
    assert ("Bash", "git push origin HEAD:refs/heads/sneaky") in denied
    assert ("Bash", "git add -A && git -C . push origin HEAD:refs/heads/sneaky2") in denied
    assert ("Write", str(agent.repo / ".git/hooks/pre-commit")) in denied
    assert not (agent.repo / ".git/hooks/pre-commit").exists()
    assert git(agent.repo, "ls-remote", "origin") == origin_before
    assert all("[remote" not in text for text in agent.model.tool_results())  # .git/config stayed unread


def test_memory_mcp_server_tools_are_allowed(agent, tmp_path):
    mcp = tmp_path / "mcp.json"
    server = {"type": "stdio", "command": sys.executable, "args": [str(Path(__file__).with_name("mini_mcp.py"))]}
    mcp.write_text(json.dumps({"mcpServers": {"memory": server}}))
    agent.model.set_script([tool("mcp__memory__recall", query="flaky tests"), report("done", "recalled")])
    result = agent.run(config={"memory_mcp_config": str(mcp)})
    assert result.status == "done" and not result.permission_denials
    assert "remembered: flaky tests" in agent.model.tool_results()


def test_claude_holds_a_placeholder_and_the_proxy_adds_the_real_key(agent):
    real = "sk-ant-api03-driverProxyRealKey-0000000000000000"
    agent.environ["ANTHROPIC_API_KEY"] = real
    agent.model.set_script([bash("env", "dump the environment"), report("done", "looked")])
    result = agent.run(config={"checks": ["env"]})
    assert result.status == "done"
    dump = "\n".join(agent.model.tool_results())
    seen_by_claude = dict(line.split("=", 1) for line in dump.splitlines() if "=" in line)
    assert real not in dump and seen_by_claude["ANTHROPIC_API_KEY"] not in ("", real)
    assert seen_by_claude["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert seen_by_claude["ANTHROPIC_BASE_URL"] != agent.environ["ANTHROPIC_BASE_URL"]  # the proxy, not the API
    keys = {r.headers.get("x-api-key") for r in agent.model.model_requests()}
    assert keys == {real}  # upstream got the real key on every request, never the placeholder


def test_the_proxy_refuses_requests_once_max_usd_is_spent(agent, monkeypatch):
    from kagura_engineer.agent import watchdog

    # the stream watchdog is the second line: with it out of the way the proxy alone must stop the spend
    monkeypatch.setattr(watchdog.Watchdog, "check", lambda self, state, elapsed: None)
    heavy = {"usage": {"input_tokens": 100_000, "output_tokens": 2_000}}
    agent.model.set_script([{**write("{CWD}/hello.txt", "hi\n"), **heavy}] + [{**bash("git status"), **heavy}] * 20)
    result = agent.run(max_usd=1.0)
    assert result.status == "budget_exhausted" and result.stopped_by == "usd", result.notes
    assert "model proxy" in result.notes
    assert len(agent.model.model_requests()) == 2  # $0.55 a turn at the proxy's price: the 3rd is refused


def test_a_launched_claude_waits_for_its_prompt_and_a_cancelled_one_never_asks_the_model(agent):
    from kagura_engineer.agent import launch_agent
    from kagura_engineer.config import parse_config

    agent.model.set_script([write("{CWD}/hello.txt", "hi @README.md\n"), report("done", "Added hello.txt")])
    cfg = parse_config({"profile": "test", "memory_backend": "local"})
    options = dict(cwd=agent.repo, config=cfg, environ=agent.environ, binary=agent.binary,
                   max_usd=5.0, max_turns=20, max_minutes=2.0)  # fmt: skip
    launch = launch_agent(**options)
    # a text stdin is given up after 3 s without data ("Input must be provided"): setup can take
    # minutes, so the prompt must still be awaited well past that
    time.sleep(4)
    assert agent.model.model_requests() == []  # loaded, waiting for its prompt on stdin
    result = launch.run("Add hello.txt; mention @/etc/passwd", on_session=agent.sessions.append)
    assert result.status == "done" and result.summary == "Added hello.txt" and agent.sessions
    first = agent.model.model_requests()[0].text()
    assert "Add hello.txt; mention @\u200b/etc/passwd" in first and "root:x:0" not in first
    with pytest.raises(RuntimeError):
        launch.run("again")  # a launch runs once

    requests = len(agent.model.model_requests())
    idle = launch_agent(**options)
    assert idle.pid is not None
    idle.cancel()
    with pytest.raises(ProcessLookupError):
        os.kill(idle.pid, 0)  # its process is gone (killed and reaped)
    assert len(agent.model.model_requests()) == requests  # and it never asked the model
