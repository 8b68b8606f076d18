"""The driver's process handling, with a fake `claude` that replays recorded streams.

The fake logs its argv and environment, prints a recording from data/ line by line, and
then behaves as told: exit, hang (as a slow tool would), answer SIGINT the way the real
CLI does (a `result` line with `error_during_execution`), or ignore SIGINT altogether.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kagura_engineer.agent import drive_agent
from kagura_engineer.config import parse_config
from kagura_engineer.errors import NeedsUserError

DATA = Path(__file__).parent / "data"

FAKE = """#!{python}
import json, os, signal, sys, time
stdin_tty = os.isatty(0)
stdin = sys.stdin.read()
with open({log!r}, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "stdin_tty": stdin_tty, "stdin": stdin}}) + "\\n")
mode = {mode!r}
def interrupted(*_):
    sys.stdout.write(json.dumps({{"type": "result", "subtype": "error_during_execution", "is_error": True,
        "session_id": "fake-session", "total_cost_usd": 0.25, "num_turns": 2, "terminal_reason": "aborted_streaming",
        "model_usage_since_last_result": {{"m": {{"costUSD": 0.25}}}}}}) + "\\n")
    sys.stdout.flush()
    sys.exit(0)
signal.signal(signal.SIGINT, signal.SIG_IGN if mode == "stubborn" else interrupted)
lines = open({stream!r}).read().splitlines()
for n, line in enumerate(lines):
    if mode in ("hang", "stubborn") and json.loads(line).get("type") == "result":
        break
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()
if mode in ("hang", "stubborn"):
    time.sleep(60)
sys.exit(0 if mode != "crash" else 3)
"""


def fake_claude(tmp_path: Path, stream: str, mode: str = "exit") -> tuple[str, Path]:
    log = tmp_path / "claude-calls.jsonl"
    path = tmp_path / "bin" / "claude"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE.format(python=sys.executable, log=str(log), mode=mode, stream=str(DATA / f"{stream}.jsonl")))
    path.chmod(0o755)
    return str(path), log


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANTHROPIC_API_KEY": "sk-ant-fake-key-000000", **extra}


def run(tmp_path: Path, binary: str, **kwargs):
    config = parse_config({"profile": "t", "memory_backend": "local", "checks": ["make test"], "model": "sonnet"})
    budget = {"max_usd": 5.0, "max_turns": 20, "max_minutes": 5.0}
    budget.update({k: kwargs.pop(k) for k in list(kwargs) if k in budget})
    return drive_agent(prompt="Fix #1", cwd=tmp_path, config=config, binary=binary,
                       environ=kwargs.pop("environ", None) or environ(tmp_path), **budget, **kwargs)  # fmt: skip


def test_replayed_green_run_reports_done_and_feeds_the_callbacks(tmp_path):
    binary, log = fake_claude(tmp_path, "green")
    events, sessions = [], []
    result = run(tmp_path, binary, on_event=lambda e: events.append(str(e)), on_session=sessions.append)
    assert result.status == "done" and result.summary == "Added hello.txt" and result.turns == 3
    assert result.cost_usd == pytest.approx(0.018) and result.model == "claude-opus-5-5"
    assert events == ["Write hello.txt", "Bash git add hello.txt && git commit -q -m 'Add hello.txt'", "StructuredOutput"]
    assert sessions == [result.session_id]
    call = json.loads(log.read_text().splitlines()[0])
    assert call["argv"][-1] == "--"  # the prompt comes on stdin, as one stream-json user message
    assert json.loads(call["stdin"])["message"]["content"] == [{"type": "text", "text": "Fix #1"}]
    assert call["argv"][call["argv"].index("--model") + 1] == "sonnet"
    assert "Bash(make test)" in call["argv"] and not call["stdin_tty"]


def test_the_child_environment_is_the_allow_list(tmp_path):
    binary, log = fake_claude(tmp_path, "green")
    secrets = {"GITHUB_TOKEN": "ghs_1111111111111111111111", "KAGURA_API_KEY": "kagura_22222222222222222222",
               "ACTIONS_RUNTIME_TOKEN": "rt-333", "INPUT_GITHUB_TOKEN": "in-444", "GH_TOKEN": "ghs_5555555555555555555"}  # fmt: skip
    run(tmp_path, binary, environ=environ(tmp_path, **secrets))
    env = json.loads(log.read_text().splitlines()[0])["env"]
    # the key's own variable holds the model proxy's placeholder, never the key
    assert env["ANTHROPIC_API_KEY"] not in ("", "sk-ant-fake-key-000000")
    assert env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert "sk-ant-fake-key-000000" not in json.dumps(env)
    assert not set(secrets) & set(env) and not set(secrets.values()) & set(env.values())


def test_a_run_that_outlasts_the_minutes_is_interrupted_and_keeps_the_clis_cost(tmp_path):
    binary, _ = fake_claude(tmp_path, "green", mode="hang")
    result = run(tmp_path, binary, max_minutes=0.02)  # ~1.1 s after the reserve
    assert result.status == "timeout" and result.stopped_by == "minutes"
    assert result.cost_usd == pytest.approx(0.25) and result.session_id == "fake-session"  # from its result line
    assert "stopped by the harness" in result.notes


def test_a_claude_that_ignores_sigint_is_killed_after_the_grace(tmp_path):
    binary, _ = fake_claude(tmp_path, "green", mode="stubborn")
    result = run(tmp_path, binary, max_turns=2, grace_seconds=0.5)
    assert result.status == "turns_exhausted" and result.stopped_by == "turns" and result.raw is None
    assert result.turns in (2, 3)  # stopped after turn 2, or while turn 3 streamed
    assert result.cost_usd == pytest.approx(result.turns * (1000 * 5 + 100 * 25) / 1e6)  # the stream estimate


def test_a_crash_without_a_result_is_an_error_with_the_exit_code(tmp_path):
    stream = tmp_path / "partial.jsonl"
    stream.write_text("".join((DATA / "green.jsonl").read_text().splitlines(keepends=True)[:10]))
    binary, _ = fake_claude(tmp_path, "green", mode="crash")
    Path(binary).write_text(Path(binary).read_text().replace(str(DATA / "green.jsonl"), str(stream)))
    result = run(tmp_path, binary)
    assert result.status == "error" and "exit 3" in result.notes and result.session_id


def test_no_budget_left_does_not_start_claude(tmp_path):
    binary, log = fake_claude(tmp_path, "green")
    assert run(tmp_path, binary, max_turns=0).status == "turns_exhausted"
    assert run(tmp_path, binary, max_usd=0.0).status == "budget_exhausted"
    assert not log.exists()


def test_missing_binary_and_missing_credential_need_the_user(tmp_path):
    config = parse_config({"profile": "t", "memory_backend": "local"})
    with pytest.raises(NeedsUserError, match="claude executable was not found"):
        drive_agent(prompt="p", cwd=tmp_path, config=config, max_usd=1, max_turns=1, max_minutes=1,
                    environ={"PATH": str(tmp_path / "none"), "KAGURA_CLAUDE_BIN": str(tmp_path / "nope")})  # fmt: skip
    binary, log = fake_claude(tmp_path, "green")
    with pytest.raises(NeedsUserError, match="no Anthropic credential"):
        drive_agent(prompt="p", cwd=tmp_path, config=config, max_usd=1, max_turns=1, max_minutes=1,
                    environ={"PATH": "/usr/bin", "HOME": str(tmp_path)}, binary=binary)  # fmt: skip
    assert not log.exists()
