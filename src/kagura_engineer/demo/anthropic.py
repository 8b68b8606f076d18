"""A scripted Anthropic Messages API on 127.0.0.1, for driving the real `claude` binary.

The CLI (with `ANTHROPIC_BASE_URL` pointing here) sends one `POST /v1/messages` per model
turn. The reply is chosen statelessly: step index = the number of assistant messages
already in the request, so a resumed session continues where it left off and several
sessions can share one server. Past the end of a script the last step repeats.

A step is a dict:

    {"text": "...",                                   # a text block (optional)
     "tool_use": {"name": "Write", "input": {...}} | [...],   # tool_use block(s)
     "usage": {"input_tokens": N, "output_tokens": M,          # what the CLI bills
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
     "delay": seconds,                                # before answering
     "http_error": {"status": 500, "type": "api_error", "message": "...",
                    "headers": {"retry-after": "0"}}} # answer with an error instead

or a callable `step(body)` / `step(body, cwd)` returning such a dict, so a scripted model
can depend on the request or on files in the worktree. `{CWD}` anywhere in a step is
replaced by the working directory the CLI reports in its prompt.

Scripts are per session (`set_script(steps, session=<x-claude-code-session-id>)`) or the
default one (`set_script(steps)`). Replies are full SSE sequences (`event:` lines,
message_start, content_block_start/delta/stop, message_delta with usage, message_stop):
without `event:` lines the CLI silently doubles every turn into a non-streaming retry.
`HEAD /` (a connectivity preflight of some versions), `GET /v1/models`,
`POST /v1/messages/count_tokens` and any other path answer 200. A request whose tools
include none of the agent's (Bash, Write, …, an `mcp__` tool) is a side request and gets
"ok". Every request is kept, unredacted, in `.requests` (tests grep it for secrets), and
the body bytes of each reply in `.replies[request.number]`. `.timings` holds each request's
arrival and the end of its reply (`time.monotonic()`); `model_seconds()` is the time spent
inside requests (overlaps counted once), which a benchmark subtracts from a job's wall time.

Run as a process: `python -m kagura_engineer.demo.anthropic --port 0 --port-file F
--script S.json [--log requests.jsonl]`, where S.json is `{"steps": [...]}` (optionally
`"sessions": {"<id>": [...]}`).
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kagura_engineer.demo.standin import Request, Response, StandIn, json_response, serve_until_signalled

StepFn = Callable[..., dict[str, Any]]
Step = dict[str, Any] | StepFn
MAIN_TOOLS = ("Bash", "Write", "Edit", "Read", "Glob", "Grep", "StructuredOutput")
DEFAULT_USAGE = {"input_tokens": 1000, "output_tokens": 100}


# -- step helpers -------------------------------------------------------------------------
def tool(name: str, **input: Any) -> dict[str, Any]:
    return {"tool_use": {"name": name, "input": input}}


def write(path: str, content: str) -> dict[str, Any]:
    return tool("Write", file_path=path, content=content)


def read(path: str) -> dict[str, Any]:
    return tool("Read", file_path=path)


def edit(path: str, old: str, new: str) -> dict[str, Any]:
    return tool("Edit", file_path=path, old_string=old, new_string=new)


def bash(command: str, description: str = "run a command") -> dict[str, Any]:
    return tool("Bash", command=command, description=description)


def structured_output(data: dict[str, Any]) -> dict[str, Any]:
    """A call of the `StructuredOutput` tool `--json-schema` adds: it ends the run."""
    return {"tool_use": {"name": "StructuredOutput", "input": data}}


structured = structured_output


def report(status: str = "done", summary: str = "done", files: list[str] | None = None, notes: str = "") -> dict[str, Any]:
    """The harness's closing report (agent.schema.REPORT_SCHEMA) through StructuredOutput."""
    return structured_output({"status": status, "summary": summary, "files_changed": files or [], "notes": notes})


def http_error(status: int = 500, message: str = "stand-in error", kind: str | None = None, **headers: str) -> dict[str, Any]:
    kinds = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error", 400: "invalid_request_error"}
    error = {"status": status, "type": kind or kinds.get(status, "api_error"), "message": message}
    if headers:
        error["headers"] = {k.replace("_", "-"): v for k, v in headers.items()}
    return {"http_error": error}


# -- request helpers ------------------------------------------------------------------------
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
    """The cwd the CLI reports ("Primary working directory: …", or `CWD:` with --bare)."""
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


def tool_results(body: dict[str, Any]) -> list[str]:
    """The text of every tool_result the request carries."""
    return [
        _text_of(block.get("content"))
        for m in body.get("messages", []) if isinstance(m, dict) and isinstance(m.get("content"), list)
        for block in m["content"] if isinstance(block, dict) and block.get("type") == "tool_result"
    ]  # fmt: skip


def _substitute(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace("{CWD}", cwd)
    if isinstance(value, list):
        return [_substitute(v, cwd) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, cwd) for k, v in value.items()}
    return value


def _call(step: StepFn, body: dict[str, Any], cwd: str) -> dict[str, Any]:
    try:
        params = inspect.signature(step).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        positional, varargs = [], True
    return step(body, cwd) if varargs or len(positional) >= 2 else step(body)


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def _halves(text: str) -> list[str]:
    """Two deltas, so the client's concatenation is exercised."""
    half = len(text) // 2
    return [p for p in (text[:half], text[half:]) if p]


class AnthropicStandIn(StandIn):
    """Scripted Messages API: `set_script(steps)`, or `set_script(steps, session=...)`."""

    name = "anthropic"

    def __init__(self, steps: list[Step] | None = None, port: int = 0, log: str | None = None) -> None:
        super().__init__(port=port)
        self.default: list[Step] = list(steps or [{"text": "ok"}])
        self.sessions: dict[str, list[Step]] = {}
        self.default_usage = dict(DEFAULT_USAGE)
        self.answered: list[tuple[int, str, int]] = []  # (request number, session, step index)
        self.replies: dict[int, bytes] = {}  # request number -> the body bytes sent back
        self.timings: dict[int, tuple[float, float | None]] = {}  # number -> (arrival, reply end)
        self._log = log

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

    def model_requests(self, session: str | None = None) -> list[Request]:
        """The `POST /v1/messages` requests (of one session, when given)."""
        reqs = self.requests_matching("POST", r"^/v1/messages$")
        if session:
            reqs = [r for r in reqs if r.headers.get("x-claude-code-session-id") == session]
        return reqs

    def tool_results(self) -> list[str]:
        """Every tool_result text the CLI sent back (what the model saw of its tool calls)."""
        out: list[str] = []
        for req in self.model_requests():
            body = req.json()
            if isinstance(body, dict):
                out += tool_results(body)
        return out

    def model_seconds(self) -> float:
        """Seconds during which at least one request was being answered (arrival to reply end)."""
        with self.lock:
            spans = sorted((start, end) for start, end in self.timings.values() if end is not None)
        total, reach = 0.0, float("-inf")
        for start, end in spans:
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    # -- serving ---------------------------------------------------------------------
    def _serve(self, req: Request) -> Response | None:
        arrived = time.monotonic()
        response = super()._serve(req)
        with self.lock:
            self.timings[req.number] = (arrived, None)
        return response

    def _after_reply(self, req: Request) -> None:
        ended = time.monotonic()
        with self.lock:
            arrived = self.timings.get(req.number, (ended, None))[0]
            self.timings[req.number] = (arrived, ended)
        super()._after_reply(req)

    def handle(self, req: Request) -> Response:
        response = self._answer(req)
        with self.lock:
            self.replies[req.number] = response.encoded()[0]
        return response

    def _answer(self, req: Request) -> Response:
        if self._log:
            self._append_log(req)
        if req.method == "HEAD" or req.path in ("/", ""):
            return Response(200, b"")
        if req.method == "POST" and req.path == "/v1/messages/count_tokens":
            return json_response({"input_tokens": max(1, len(req.body) // 4)})
        if req.method == "GET" and req.path.startswith("/v1/models"):
            model = {"type": "model", "id": "claude-standin", "display_name": "stand-in", "created_at": "2025-01-01T00:00:00Z"}
            return json_response({"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]})
        if req.method != "POST" or req.path != "/v1/messages":
            return json_response({})
        body = req.json()
        if not isinstance(body, dict):
            return json_response({"type": "error", "error": {"type": "invalid_request_error", "message": "not JSON"}}, status=400)
        step = self._step(body, req)
        if step.get("delay"):
            time.sleep(float(step["delay"]))
        error = step.get("http_error")
        if error:
            payload = {"type": "error", "error": {"type": error.get("type", "api_error"), "message": error.get("message", "error")}}
            return Response(int(error.get("status", 500)), payload, {str(k): str(v) for k, v in (error.get("headers") or {}).items()})
        return self._reply(body, step)

    def _step(self, body: dict[str, Any], req: Request) -> dict[str, Any]:
        tools = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
        if not any(n in MAIN_TOOLS or str(n).startswith("mcp__") for n in tools):
            return {"text": "ok"}  # a side request (titles, summaries)
        session = req.headers.get("x-claude-code-session-id", "")
        with self.lock:
            steps = self.sessions.get(session) or self.default
        done = sum(1 for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "assistant")
        index = min(done, len(steps) - 1)
        with self.lock:
            self.answered.append((req.number, session, index))
        cwd = working_directory(body)
        step = steps[index]
        step = _call(step, body, cwd) if callable(step) else copy.deepcopy(step)
        return _substitute(step or {}, cwd)

    def _reply(self, body: dict[str, Any], step: dict[str, Any]) -> Response:
        blocks: list[dict[str, Any]] = []
        if step.get("text"):
            blocks.append({"type": "text", "text": str(step["text"])})
        uses = step.get("tool_use") or []
        for use in [uses] if isinstance(uses, dict) else uses:
            blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": use["name"], "input": use.get("input", {})})
        if not blocks:
            blocks.append({"type": "text", "text": "ok"})
        usage = {**self.default_usage, **(step.get("usage") or {})}
        start_usage = {
            "input_tokens": int(usage.get("input_tokens", 0)), "output_tokens": 1,
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens", 0)),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens", 0)),
        }  # fmt: skip
        stop = step.get("stop_reason") or ("tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn")
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
            "model": body.get("model", "claude-standin"), "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": start_usage,
        }  # fmt: skip
        out_tokens = int(usage.get("output_tokens", 1))
        if not body.get("stream"):
            return json_response({**message, "content": blocks, "stop_reason": stop, "usage": {**start_usage, "output_tokens": out_tokens}})
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": message}),
            ("ping", {"type": "ping"}),
        ]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": piece} for piece in _halves(block["text"])]
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _halves(json.dumps(block["input"]))]
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
            events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": out_tokens}}))
        events.append(("message_stop", {"type": "message_stop"}))
        return Response(200, _sse(events), {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})

    def _append_log(self, req: Request) -> None:
        """The on-disk log is redacted (the in-memory `.requests` is not)."""
        from kagura_engineer import proc

        headers = {k: ("***" if k in ("x-api-key", "authorization") else v) for k, v in req.headers.items()}
        line = json.dumps({"ts": req.ts, "n": req.number, "method": req.method, "path": req.path,
                           "headers": headers, "body": req.json() if req.body else None})  # fmt: skip
        with self.lock, open(self._log, "a", encoding="utf-8") as fh:  # type: ignore[arg-type]
            fh.write(proc.redact(line) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="scripted Anthropic Messages API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--script", help='JSON file: {"steps": [...], "sessions": {"<id>": [...]}}')
    parser.add_argument("--log", help="append every request here as JSON lines (credentials redacted)")
    args = parser.parse_args(argv)
    script: dict[str, Any] = json.loads(Path(args.script).read_text(encoding="utf-8")) if args.script else {}
    server = AnthropicStandIn(script.get("steps"), port=args.port, log=args.log)
    for session, steps in (script.get("sessions") or {}).items():
        server.set_script(steps, session=session)
    return serve_until_signalled(server.start(), args.port_file)


if __name__ == "__main__":
    raise SystemExit(main())
