"""Budget decisions on synthetic streams shaped like the real one (see data/green.jsonl)."""

from __future__ import annotations

import json

import pytest

from kagura_engineer.agent.cost import price_for, usage_cost
from kagura_engineer.agent.stream import StreamParser
from kagura_engineer.agent.watchdog import Limits, Watchdog
from kagura_engineer.budget import Budget

MODEL = "claude-sonnet-4-5"  # 3/15 USD per Mtok in the table


def start(mid: str, tokens_in: int) -> str:
    message = {"id": mid, "model": MODEL, "usage": {"input_tokens": tokens_in, "output_tokens": 1}}
    return json.dumps({"type": "stream_event", "event": {"type": "message_start", "message": message}, "parent_tool_use_id": None})


def tool_use(mid: str, tool_id: str, name: str = "Bash") -> str:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": {"command": "git status"}}
    return json.dumps({"type": "assistant", "message": {"id": mid, "model": MODEL, "content": [block]}, "parent_tool_use_id": None})


def end(tokens_out: int, stop: str = "tool_use") -> str:
    delta = {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": tokens_out}}
    return "\n".join([
        json.dumps({"type": "stream_event", "event": delta, "parent_tool_use_id": None}),
        json.dumps({"type": "stream_event", "event": {"type": "message_stop"}, "parent_tool_use_id": None}),
    ])  # fmt: skip


def result(tool_id: str) -> str:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}
    return json.dumps({"type": "user", "message": {"role": "user", "content": [block]}, "parent_tool_use_id": None})


def turn(parser: StreamParser, n: int, tokens_in: int = 10_000, tokens_out: int = 1_000, name: str = "Bash", answered: bool = True) -> None:
    parser.feed(start(f"m{n}", tokens_in) + "\n" + tool_use(f"m{n}", f"t{n}", name) + "\n" + end(tokens_out) + "\n")
    if answered:
        parser.feed(result(f"t{n}") + "\n")


def turn_cost(tokens_in: int = 10_000, tokens_out: int = 1_000) -> float:
    return usage_cost(MODEL, {"input_tokens": tokens_in, "output_tokens": tokens_out})


def test_prices_err_high_and_unknown_models_price_as_opus():
    assert price_for("claude-opus-5-5") == price_for("opus") == price_for("some-new-model") == (5.0, 25.0)
    assert price_for("claude-3-5-haiku-latest") == (1.0, 5.0)
    assert usage_cost("sonnet", {"input_tokens": 1_000_000, "output_tokens": 1_000_000}) == pytest.approx(18.0)
    cached = usage_cost("sonnet", {"cache_read_input_tokens": 1_000_000, "cache_creation_input_tokens": 1_000_000})
    assert cached == pytest.approx(0.3 + 3.75)


def test_turn_limit_stops_after_the_last_allowed_turns_tools_ran():
    dog, parser = Watchdog(Limits(Budget(100, 3, 60))), StreamParser()
    for n in (1, 2):
        turn(parser, n)
        assert dog.check(parser.state, 1.0) is None
    turn(parser, 3, answered=False)
    waiting = dog.check(parser.state, 1.0)
    assert waiting.reason == "turns" and not waiting.immediate  # let the tool finish first
    parser.feed(result("t3") + "\n")
    stop = dog.check(parser.state, 1.0)
    assert stop.reason == "turns" and stop.immediate and "3 of 3" in stop.detail


def test_a_turn_started_past_the_limit_is_stopped_at_once():
    dog, parser = Watchdog(Limits(Budget(100, 1, 60))), StreamParser()
    turn(parser, 1)
    parser.feed(start("m2", 10_000) + "\n")  # the CLI already sent the next request
    stop = dog.check(parser.state, 1.0)
    assert stop.reason == "turns" and stop.immediate


def test_usd_stops_before_the_next_turn_would_cross_with_the_reserve():
    one = turn_cost()  # 0.045
    limits = Limits(Budget(0.19, 100, 60))  # reserve 0.019
    dog, parser = Watchdog(limits), StreamParser()
    turn(parser, 1)
    turn(parser, 2)
    assert parser.state.estimated_usd == pytest.approx(2 * one)
    assert dog.check(parser.state, 1.0) is None  # 0.09 + 0.045 + 0.019 <= 0.19
    turn(parser, 3)
    stop = dog.check(parser.state, 1.0)  # 0.135 + 0.045 + 0.019 > 0.19
    assert stop.reason == "usd" and stop.immediate and "$0.14 spent" in stop.detail


def test_usd_estimate_follows_a_growing_context():
    dog, parser = Watchdog(Limits(Budget(1.0, 100, 60), reserve_usd=0.0)), StreamParser()
    turn(parser, 1, tokens_in=1_000)
    turn(parser, 2, tokens_in=100_000)
    average = (turn_cost(1_000) + turn_cost(100_000)) / 2
    assert dog.estimate_next(parser.state) == pytest.approx(turn_cost(100_000))
    assert turn_cost(100_000) > average


def test_a_huge_turn_in_flight_is_stopped_at_once():
    dog, parser = Watchdog(Limits(Budget(0.5, 100, 60))), StreamParser()
    turn(parser, 1)
    parser.feed(start("m2", 200_000) + "\n")  # input alone ~0.6 USD
    stop = dog.check(parser.state, 1.0)
    assert stop.reason == "usd" and stop.immediate


def test_the_closing_report_is_never_interrupted():
    dog, parser = Watchdog(Limits(Budget(100, 2, 60))), StreamParser()
    turn(parser, 1)
    turn(parser, 2, name="StructuredOutput", answered=False)
    assert dog.check(parser.state, 1.0) is None


def test_minutes_stop_keeps_a_reserve_and_wins_over_everything():
    limits = Limits(Budget(100, 100, 10))
    assert limits.deadline_seconds == pytest.approx(9 * 60)  # reserve: 10%, at most 2 minutes
    assert Limits(Budget(1, 1, 60)).deadline_seconds == pytest.approx(58 * 60)
    dog, parser = Watchdog(limits), StreamParser()
    assert dog.check(parser.state, 9 * 60 - 1) is None
    stop = dog.check(parser.state, 9 * 60)
    assert stop.reason == "minutes" and stop.immediate


def test_nothing_is_stopped_once_the_result_is_in():
    dog, parser = Watchdog(Limits(Budget(0.01, 1, 0.01))), StreamParser()
    turn(parser, 1)
    parser.feed(json.dumps({"type": "result", "subtype": "success", "is_error": False}) + "\n")
    assert dog.check(parser.state, 3600) is None
