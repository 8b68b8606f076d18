"""The scripted Messages API stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kagura_engineer.demo.anthropic import (
    AnthropicStandIn,
    bash,
    http_error,
    report,
    structured_output,
    write,
)

TOOLS = [{"name": "Bash", "input_schema": {}}, {"name": "Write", "input_schema": {}}]
SYSTEM_ENV = {"role": "system", "content": [{"type": "text", "text": "# Environment\n - Primary working directory: /work/tree\n"}]}


def body(assistant_turns: int = 0, stream: bool = True, tools: list | None = None) -> dict:
    messages: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "do it"}]}, SYSTEM_ENV]
    for n in range(assistant_turns):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": f"out {n}"}]})
    return {"model": "claude-opus-5-5", "stream": stream, "messages": messages, "tools": TOOLS if tools is None else tools}


def sse(response: httpx.Response) -> list[tuple[str, dict]]:
    events = []
    for chunk in response.text.strip().split("\n\n"):
        lines = chunk.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), chunk
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


def post(server: AnthropicStandIn, payload: dict, session: str = "s-1") -> httpx.Response:
    return httpx.post(f"{server.url}/v1/messages?beta=true", json=payload, headers={"x-claude-code-session-id": session}, timeout=10)


def content_of(events: list[tuple[str, dict]]) -> list[dict]:
    """Reassemble the content blocks the way a client does."""
    blocks: dict[int, dict] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            else:
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    return [blocks[i] for i in sorted(blocks)]


def test_full_sse_sequence_with_usage_and_cwd():
    step = {"text": "Writing.", **write("{CWD}/hello.txt", "hi\n"), "usage": {"input_tokens": 50_000, "output_tokens": 700}}
    with AnthropicStandIn([step]) as server:
        response = post(server, body())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse(response)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    assert names.count("content_block_delta") == 4  # two deltas per block
    start = events[0][1]["message"]
    assert start["model"] == "claude-opus-5-5" and start["usage"]["input_tokens"] == 50_000
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 700
    text, use = content_of(events)
    assert text == {"type": "text", "text": "Writing."}
    assert use["name"] == "Write" and use["input"] == {"file_path": "/work/tree/hello.txt", "content": "hi\n"}


def test_step_is_chosen_by_counting_assistant_messages_and_the_last_repeats():
    with AnthropicStandIn([bash("one"), bash("two"), {"text": "the end"}]) as server:
        commands = [content_of(sse(post(server, body(n))))[0].get("input", {}).get("command") for n in (0, 1)]
        assert commands == ["one", "two"]
        for n in (2, 5):
            events = sse(post(server, body(n)))
            assert content_of(events) == [{"type": "text", "text": "the end"}]
            assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
        assert [index for _, _, index in server.answered] == [0, 1, 2, 2]


def test_sessions_get_their_own_script_and_others_the_default():
    with AnthropicStandIn([bash("default")]) as server:
        server.set_script([bash("reviewer")], session="review-1")
        assert content_of(sse(post(server, body(), "review-1")))[0]["input"]["command"] == "reviewer"
        assert content_of(sse(post(server, body(), "other")))[0]["input"]["command"] == "default"
        server.set_script([bash("changed")])
        assert content_of(sse(post(server, body(), "other")))[0]["input"]["command"] == "changed"
        assert len(server.model_requests("review-1")) == 1 and len(server.model_requests()) == 3


def test_callable_steps_see_the_request_and_the_cwd(tmp_path):
    (tmp_path / "verdict.txt").write_text("approve")

    def by_body(request: dict) -> dict:
        return bash(f"seen {len(request['messages'])} messages")

    def by_file(request: dict, cwd: str) -> dict:
        return structured_output({"verdict": (Path(cwd) / "verdict.txt").read_text()})

    with AnthropicStandIn([by_body, by_file]) as server:
        assert content_of(sse(post(server, body(0))))[0]["input"]["command"] == "seen 2 messages"
        payload = body(1)
        payload["messages"][1]["content"][0]["text"] = f"Primary working directory: {tmp_path}"
        use = content_of(sse(post(server, payload)))[0]
        assert use["name"] == "StructuredOutput" and use["input"] == {"verdict": "approve"}


def test_http_error_steps_and_headers():
    with AnthropicStandIn([http_error(429, "slow down", retry_after="0")]) as server:
        response = post(server, body())
    assert response.status_code == 429 and response.headers["retry-after"] == "0"
    assert response.json() == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


def test_delay_holds_the_answer_back():
    with AnthropicStandIn([{**bash("slow"), "delay": 0.3}]) as server:
        before = time.monotonic()
        response = post(server, body())
        waited = time.monotonic() - before
    assert response.status_code == 200 and waited >= 0.3


def test_side_paths_and_side_requests_answer_200():
    with AnthropicStandIn([bash("main")]) as server:
        assert httpx.head(server.url + "/").status_code == 200
        models = httpx.get(server.url + "/v1/models").json()
        assert models["data"][0]["type"] == "model"
        assert httpx.post(server.url + "/v1/messages/count_tokens", json={"messages": []}).json()["input_tokens"] >= 1
        assert httpx.post(server.url + "/api/event_logging/batch", json={}).status_code == 200
        side = content_of(sse(post(server, body(tools=[]))))
        assert side == [{"type": "text", "text": "ok"}]
        assert server.answered == []  # a side request does not consume the script


def test_non_streaming_requests_get_a_whole_message():
    with AnthropicStandIn([{**report("done", "ok", ["a.py"]), "usage": {"output_tokens": 9}}]) as server:
        message = post(server, body(stream=False)).json()
    assert message["type"] == "message" and message["stop_reason"] == "tool_use"
    assert message["content"][0]["name"] == "StructuredOutput"
    assert message["content"][0]["input"] == {"status": "done", "summary": "ok", "files_changed": ["a.py"], "notes": ""}
    assert message["usage"]["output_tokens"] == 9


def test_requests_are_recorded_unredacted_and_tool_results_are_greppable():
    with AnthropicStandIn([bash("env")]) as server:
        httpx.post(f"{server.url}/v1/messages", json=body(1), headers={"x-api-key": "sk-ant-visible-in-memory"})
        assert "sk-ant-visible-in-memory" in server.log_text()
        assert server.tool_results() == ["out 0"]


def test_runs_as_a_process_with_a_script_file_and_a_redacted_log(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": [bash("from file")], "sessions": {"s-9": [bash("session file")]}}))
    port_file, log = tmp_path / "port", tmp_path / "requests.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "kagura_engineer.demo.anthropic", "--port", "0", "--port-file", str(port_file),
         "--script", str(script), "--log", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        headers = {"x-api-key": "sk-ant-api03-secretsecretsecret"}
        first = httpx.post(f"{url}/v1/messages", json=body(), headers=headers, timeout=10)
        second = httpx.post(f"{url}/v1/messages", json=body(), headers={**headers, "x-claude-code-session-id": "s-9"}, timeout=10)
        assert content_of(sse(first))[0]["input"]["command"] == "from file"
        assert content_of(sse(second))[0]["input"]["command"] == "session file"
    finally:
        child.terminate()
        child.wait(timeout=10)
    assert child.returncode == 0
    logged = log.read_text()
    assert len(logged.splitlines()) == 2 and "sk-ant-api03" not in logged


@pytest.mark.parametrize("bad", [b"not json", b"[1,2]"])
def test_a_malformed_body_is_a_400(bad):
    with AnthropicStandIn() as server:
        response = httpx.post(f"{server.url}/v1/messages", content=bad, headers={"content-type": "application/json"})
    assert response.status_code == 400
