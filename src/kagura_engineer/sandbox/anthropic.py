"""A scripted Anthropic Messages API on 127.0.0.1, for driving the real `claude` binary.

The CLI (with `ANTHROPIC_BASE_URL` pointing here) sends one `POST /v1/messages` per model
turn. The reply is chosen statelessly: step index = the number of assistant messages
already in the request, so a resumed session continues where it was and several sessions
can share one server. A step is a dict:

    {"text": "...", "tool_use": {"name": "Write", "input": {...}} | [..],
     "usage": {"input_tokens": N, "output_tokens": M}, "delay": seconds,
     "http_error": {"status": 500, "type": "api_error", "message": "..."}}

or a callable `step(body, cwd) -> dict`, so a scripted model can depend on the worktree
(e.g. a reviewer whose verdict depends on a file's content). `{CWD}` in a step is replaced
by the working directory the CLI reports. Past the end of the script the last step repeats.
Replies are full SSE sequences (`event:` lines, message_start … message_stop): the CLI
silently doubles every turn into a non-streaming retry without them.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kagura_engineer.sandbox.base import Request, Response, StandIn, json_response

Step = dict[str, Any] | Callable[[dict[str, Any], str], dict[str, Any]]
MAIN_TOOLS = ("Bash", "Write", "Edit", "Read", "Glob", "Grep", "StructuredOutput")


def write(path: str, content: str) -> dict[str, Any]:
    return {"tool_use": {"name": "Write", "input": {"file_path": path, "content": content}}}


def read(path: str) -> dict[str, Any]:
    return {"tool_use": {"name": "Read", "input": {"file_path": path}}}


def edit(path: str, old: str, new: str) -> dict[str, Any]:
    return {"tool_use": {"name": "Edit", "input": {"file_path": path, "old_string": old, "new_string": new}}}


def bash(command: str, description: str = "run a command") -> dict[str, Any]:
    return {"tool_use": {"name": "Bash", "input": {"command": command, "description": description}}}


def report(status: str = "done", summary: str = "done", files: list[str] | None = None, notes: str = "") -> dict[str, Any]:
    """The closing report through the StructuredOutput tool (what --json-schema expects)."""
    data = {"status": status, "summary": summary, "files_changed": files or [], "notes": notes}
    return {"tool_use": {"name": "StructuredOutput", "input": data}}


def structured(data: dict[str, Any]) -> dict[str, Any]:
    """Any StructuredOutput payload (e.g. a review envelope)."""
    return {"tool_use": {"name": "StructuredOutput", "input": data}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, dict):
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                parts.append(_text_of(block.get("content")))
    return "\n".join(parts)


def working_directory(body: dict[str, Any]) -> str:
    blobs = []
    system = body.get("system")
    if isinstance(system, list):
        blobs += [str(b.get("text", "")) for b in system if isinstance(b, dict)]
    elif isinstance(system, str):
        blobs.append(system)
    blobs += [_text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict)]
    for text in blobs:
        match = re.search(r"Primary working directory:\s*(\S+)", text) or re.search(r"(?m)^CWD:\s*(\S+)", text)
        if match:
            return match.group(1)
    return ""


def _substitute(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace("{CWD}", cwd)
    if isinstance(value, list):
        return [_substitute(v, cwd) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, cwd) for k, v in value.items()}
    return value


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


class AnthropicStandIn(StandIn):
    """Scripted Messages API. `set_script(steps)`; `set_script(steps, session=...)` per session."""

    name = "anthropic"

    def __init__(self, steps: list[Step] | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        self.default: list[Step] = list(steps or [{"text": "ok"}])
        self.sessions: dict[str, list[Step]] = {}
        self.default_usage = {"input_tokens": 1000, "output_tokens": 100}

    def set_script(self, steps: list[Step], session: str | None = None) -> None:
        with self.lock:
            if session:
                self.sessions[session] = list(steps)
            else:
                self.default = list(steps)

    def env(self) -> dict[str, str]:
        """What the claude process needs to talk only to this server."""
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": "sk-ant-standin-not-a-secret",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }

    def model_requests(self) -> list[Request]:
        return [r for r in self.requests_matching("POST", r"^/v1/messages$")]

    # -- serving ---------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.method == "HEAD" or req.path in ("/", ""):
            return Response(200, b"")
        if req.method == "POST" and req.path == "/v1/messages/count_tokens":
            return json_response({"input_tokens": 10})
        if req.method != "POST" or req.path != "/v1/messages":
            return json_response({})
        body = req.json() or {}
        step = self._step(body, req.headers.get("x-claude-code-session-id", ""))
        if step.get("delay"):
            time.sleep(float(step["delay"]))
        error = step.get("http_error")
        if error:
            status = int(error.get("status", 500))
            return json_response(
                {"type": "error", "error": {"type": error.get("type", "api_error"), "message": error.get("message", "error")}},
                status=status,
            )
        return self._reply(body, step)

    def _step(self, body: dict[str, Any], session: str) -> dict[str, Any]:
        tools = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
        if not any(n in MAIN_TOOLS or n.startswith("mcp__") for n in tools):
            return {"text": "ok"}  # a side request (titles, summaries)
        with self.lock:
            steps = self.sessions.get(session) or self.default
        done = sum(1 for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "assistant")
        step = steps[min(done, len(steps) - 1)]
        cwd = working_directory(body)
        step = step(body, cwd) if callable(step) else copy.deepcopy(step)
        return _substitute(step, cwd)

    def _reply(self, body: dict[str, Any], step: dict[str, Any]) -> Response:
        blocks: list[dict[str, Any]] = []
        if step.get("text"):
            blocks.append({"type": "text", "text": step["text"]})
        uses = step.get("tool_use") or []
        for use in [uses] if isinstance(uses, dict) else uses:
            blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": use["name"], "input": use.get("input", {})})
        if not blocks:
            blocks.append({"type": "text", "text": "ok"})
        usage = {**self.default_usage, **(step.get("usage") or {})}
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
            "model": body.get("model", "claude-standin"), "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }  # fmt: skip
        if not body.get("stream"):
            full = {**message, "content": blocks, "stop_reason": stop, "usage": {**message["usage"], "output_tokens": usage["output_tokens"]}}
            return json_response(full)
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": message})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
                partial = json.dumps(block["input"])
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": partial}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": usage["output_tokens"]}}))
        events.append(("message_stop", {"type": "message_stop"}))
        return Response(200, _sse(events), {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="scripted Anthropic Messages API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--script", help="JSON file: {\"steps\": [...]}")
    args = parser.parse_args(argv)
    steps = json.loads(Path(args.script).read_text())["steps"] if args.script else None
    server = AnthropicStandIn(steps, port=args.port).start()
    if args.port_file:
        Path(args.port_file).write_text(str(server.port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
