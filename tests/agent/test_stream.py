"""The stream-json parser on streams recorded from the real claude 2.1.331 (record_streams.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kagura_engineer.agent.driver import interpret
from kagura_engineer.agent.stream import (
    Init,
    PermissionDenied,
    ResultInfo,
    StreamParser,
    Text,
    ToolCall,
    ToolResult,
    TurnEnded,
    TurnStarted,
)

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> str:
    return (DATA / f"{name}.jsonl").read_text()


def parse(text: str) -> tuple[StreamParser, list]:
    parser = StreamParser()
    events = parser.feed(text) + parser.close()
    return parser, events


def test_green_run_gives_session_tools_turns_and_the_closing_report():
    parser, events = parse(recorded("green"))
    state = parser.state
    init = next(e for e in events if isinstance(e, Init))
    assert init.session_id and init.session_id == state.session_id
    assert init.model == "claude-opus-5-5" and init.version == "2.1.331"
    assert set(init.tools) == {"Read", "Write", "Edit", "Glob", "Grep", "Bash", "StructuredOutput"}
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [c.name for c in calls] == ["Write", "Bash", "StructuredOutput"]
    assert str(calls[0]) == "Write hello.txt"  # relative to the cwd, for the progress comment
    assert calls[1].input["command"].startswith("git add hello.txt")
    assert [e.text for e in events if isinstance(e, Text)] == ["Reporting."]
    assert [e.index for e in events if isinstance(e, TurnStarted)] == [1, 2, 3]
    assert [e.index for e in events if isinstance(e, TurnEnded)] == [1, 2, 3]
    assert all(not r.is_error for r in events if isinstance(r, ToolResult))
    assert state.turn_count == 3 and state.last_turn.concludes
    result = state.result
    assert result.subtype == "success" and not result.is_error and result.session_id == state.session_id
    assert result.structured_output == {"status": "done", "summary": "Added hello.txt", "files_changed": ["hello.txt"], "notes": ""}
    assert result.total_cost_usd == pytest.approx(0.018) and result.invocation_cost_usd == pytest.approx(0.018)
    assert result.num_turns == 4  # the CLI counts the StructuredOutput round as a turn; the stream shows 3 API turns
    assert state.ignored == 0


def test_live_cost_estimate_uses_the_streamed_usage_and_errs_high():
    parser, _ = parse(recorded("green"))
    turns = parser.state.turns
    assert [t.input_usage.get("input_tokens") for t in turns] == [1000, 1000, 1000]
    assert [t.output_tokens for t in turns] == [100, 100, 100]  # from message_delta, not the placeholder 1
    # priced at the opus table (5/25 per Mtok) while the CLI bills opus-5-5 at 4/20
    assert parser.state.estimated_usd == pytest.approx(3 * (1000 * 5 + 100 * 25) / 1e6)
    assert parser.state.estimated_usd >= parser.state.result.total_cost_usd


def test_without_partial_messages_turns_are_still_counted_and_output_guessed():
    parser, events = parse(recorded("green_no_partial"))
    state = parser.state
    assert state.turn_count == 3 and [c.name for c in state.tool_calls] == ["Write", "Bash", "StructuredOutput"]
    assert all(t.output_tokens is None and t.cost_usd > 0 for t in state.turns)
    assert sum(isinstance(e, TurnEnded) for e in events) == 3


@pytest.mark.parametrize("name", ["green", "green_no_partial", "denied", "max_turns", "interrupted", "api_error", "resumed"])
def test_feeding_byte_by_byte_gives_the_same_state_as_whole_lines(name):
    text = recorded(name)
    whole, whole_events = parse(text)
    parser = StreamParser()
    events = []
    for ch in text:
        events += parser.feed(ch)
    events += parser.close()
    assert [type(e).__name__ for e in events] == [type(e).__name__ for e in whole_events]
    assert parser.state.turn_count == whole.state.turn_count
    assert parser.state.result == whole.state.result
    assert parser.state.estimated_usd == pytest.approx(whole.state.estimated_usd)


def test_a_last_line_without_newline_is_parsed_on_close():
    text = recorded("green").rstrip("\n")
    parser = StreamParser()
    parser.feed(text)
    assert parser.state.result is None  # the result line is still buffered
    assert any(isinstance(e, ResultInfo) for e in parser.close())
    assert parser.state.result is not None


def test_noise_and_unknown_lines_are_ignored():
    noise = "\n".join([
        "warning: something on stdout",
        "{not json",
        "[1, 2, 3]",
        json.dumps({"type": "future_event", "x": 1}),
        json.dumps({"type": "system", "subtype": "status", "status": "requesting"}),
        json.dumps({"type": "assistant", "message": "not a dict"}),
        json.dumps({"type": "user", "message": {"content": "plain text"}}),
        json.dumps({"type": "stream_event", "event": {"type": "message_delta", "usage": {"output_tokens": 5}}}),
        "",
    ])  # fmt: skip
    parser = StreamParser()
    events = parser.feed(noise + recorded("green"))
    assert parser.state.ignored == 4
    assert parser.state.turn_count == 3 and parser.state.result is not None
    assert sum(isinstance(e, ToolCall) for e in events) == 3


def test_api_error_is_not_a_turn_and_the_result_names_the_status():
    parser, _ = parse(recorded("api_error"))
    state = parser.state
    assert state.turn_count == 0  # the CLI's synthetic "API Error" message is not a model turn
    assert state.api_error_status == 500
    assert state.result.is_error and state.result.api_error_status == 500 and state.result.terminal_reason == "api_error"
    result = interpret(state, None, 1)
    assert result.status == "error" and result.api_error_status == 500 and "500" in result.notes


def test_denied_tool_call_is_reported_live_and_in_the_result():
    parser, events = parse(recorded("denied"))
    denied = [e for e in events if isinstance(e, PermissionDenied)]
    assert [d.tool_name for d in denied] == ["Bash"] and "git push" in denied[0].message
    failed = [e for e in events if isinstance(e, ToolResult) and e.is_error]
    assert len(failed) == 1 and failed[0].tool_use_id == denied[0].tool_use_id
    result = interpret(parser.state, None, 0)
    assert result.status == "blocked" and result.notes == "push was denied"
    assert [d["tool_input"]["command"] for d in result.permission_denials] == ["git push origin main"]


def test_cli_turn_limit_backstop_reads_as_turns_exhausted():
    parser, _ = parse(recorded("max_turns"))
    assert parser.state.result.subtype == "error_max_turns"
    result = interpret(parser.state, None, 1)
    assert result.status == "turns_exhausted" and result.stopped_by is None and result.turns == 2


def test_interrupted_run_keeps_its_cost_and_session():
    parser, _ = parse(recorded("interrupted"))
    info = parser.state.result
    assert info.subtype == "error_during_execution" and info.terminal_reason == "aborted_streaming"
    result = interpret(parser.state, None, 0)
    assert result.status == "error" and result.cost_usd == pytest.approx(0.006) and result.session_id == info.session_id


def test_resumed_run_reports_this_invocations_cost_not_the_sessions_total():
    parser, _ = parse(recorded("resumed"))
    info = parser.state.result
    assert info.total_cost_usd == pytest.approx(0.018)  # cumulative: the first run's turn included
    assert info.invocation_cost_usd == pytest.approx(0.012)
    result = interpret(parser.state, None, 0, resumed=True)
    assert result.status == "done" and result.summary == "second"
    assert result.cost_usd == pytest.approx(0.012) and result.session_cost_usd == pytest.approx(0.018)
    assert result.turns == 2


def test_no_result_line_is_an_error_with_the_estimate_as_cost():
    text = "".join(line + "\n" for line in recorded("green").splitlines()[:12])
    parser, _ = parse(text)
    result = interpret(parser.state, None, -9, "killed")
    assert result.status == "error" and "without a result (exit -9)" in result.notes
    assert result.cost_usd == pytest.approx(parser.state.estimated_usd) and result.cost_usd > 0
    assert result.session_id == parser.state.session_id


def test_secrets_in_tool_descriptions_are_redacted():
    from kagura_engineer import proc

    proc.register_secret("hunter2-very-secret")
    call = ToolCall("t1", "Bash", {"command": "echo hunter2-very-secret\n  && ls"}, None)
    assert str(call) == "Bash echo *** && ls"
