"""A pure parser for `claude -p --output-format stream-json --verbose` output.

Feed it text as it arrives (`feed`, partial lines are buffered; `close` flushes the
last one); it returns typed events and keeps a `StreamState`. What 2.1.331 prints, one
JSON object per line:

- `system/init`: session_id, model, tools, cwd, mcp_servers, claude_code_version;
- with `--include-partial-messages`, `stream_event` lines mirroring the raw SSE events:
  `message_start` (the turn's id and input/cache usage) and `message_delta` (its output
  tokens and stop reason) are what make a live cost estimate possible;
- `assistant`: one line per content block (text or tool_use), blocks of one API message
  share `message.id`; its `usage` is the message_start usage (output_tokens is 1 there);
- `user`: tool results (`tool_result` blocks with `tool_use_id` and `is_error`);
- `system/permission_denied`: a tool call the rules refused, as it happens;
- an `assistant` line with `is_api_error_message` (model `<synthetic>`): the CLI's note
  about a failed API call, not a turn;
- `result`: subtype, is_error, num_turns, total_cost_usd (cumulative over a resumed
  session), model_usage_since_last_result (this invocation), session_id,
  permission_denials, terminal_reason, api_error_status, structured_output.

Anything else (unknown types, `system/status`, non-JSON noise) is counted and ignored.
Subagent lines (a non-null `parent_tool_use_id`) add to the cost but are not turns.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from kagura_engineer import proc
from kagura_engineer.agent.cost import usage_cost

CONCLUDING_TOOL = "StructuredOutput"


# -- events -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Init:
    session_id: str | None
    model: str | None
    tools: tuple[str, ...]
    cwd: str | None
    version: str | None
    mcp_servers: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class TurnStarted:
    index: int  # 1-based, top-level turns only
    message_id: str


@dataclass(frozen=True)
class Text:
    text: str
    message_id: str | None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    message_id: str | None
    cwd: str | None = None

    def __str__(self) -> str:
        return describe_tool(self.name, self.input, self.cwd)


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    is_error: bool
    text: str


@dataclass(frozen=True)
class PermissionDenied:
    """A tool call the permission rules refused (`system/permission_denied`)."""

    tool_name: str
    tool_use_id: str
    message: str


@dataclass(frozen=True)
class TurnEnded:
    index: int
    message_id: str
    cost_usd: float
    stop_reason: str | None


@dataclass(frozen=True)
class ResultInfo:
    """The final `result` line, interpreted (nothing scraped from prose)."""

    subtype: str | None
    is_error: bool
    session_id: str | None
    num_turns: int | None
    total_cost_usd: float | None  # cumulative over a resumed session
    invocation_cost_usd: float | None  # this invocation only, when the CLI says
    terminal_reason: str | None
    api_error_status: int | None
    permission_denials: tuple[dict[str, Any], ...]
    structured_output: Any
    text: str
    errors: tuple[str, ...]
    raw: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ResultInfo:
        since = raw.get("model_usage_since_last_result")
        invocation = None
        if isinstance(since, dict) and since:
            costs = [m.get("costUSD") for m in since.values() if isinstance(m, dict)]
            if costs and all(_is_number(c) for c in costs):
                invocation = float(sum(costs))
        status = raw.get("api_error_status")
        errors = raw.get("errors")
        return cls(
            subtype=_str(raw.get("subtype")),
            is_error=raw.get("is_error") is True,
            session_id=_str(raw.get("session_id")),
            num_turns=int(raw["num_turns"]) if _is_number(raw.get("num_turns")) else None,
            total_cost_usd=float(raw["total_cost_usd"]) if _is_number(raw.get("total_cost_usd")) else None,
            invocation_cost_usd=invocation,
            terminal_reason=_str(raw.get("terminal_reason")),
            api_error_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            permission_denials=tuple(d for d in raw.get("permission_denials") or () if isinstance(d, dict)),
            structured_output=raw.get("structured_output"),
            text=raw["result"] if isinstance(raw.get("result"), str) else "",
            errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
            raw=raw,
        )


Event = Init | TurnStarted | Text | ToolCall | ToolResult | PermissionDenied | TurnEnded | ResultInfo


# -- state ------------------------------------------------------------------------------
@dataclass
class Turn:
    """One top-level model turn (one API response)."""

    index: int
    message_id: str
    model: str | None
    input_usage: dict[str, Any] = field(default_factory=dict)
    output_tokens: int | None = None  # from message_delta; None when not streamed
    content_chars: int = 0
    tool_ids: list[str] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    stop_reason: str | None = None
    ended: bool = False

    @property
    def concludes(self) -> bool:
        """The turn calls the closing-report tool: the CLI ends the run by itself."""
        return CONCLUDING_TOOL in self.tool_names

    @property
    def tools_pending(self) -> bool:
        return any(t not in self.answered for t in self.tool_ids)

    @property
    def cost_usd(self) -> float:
        # without message_delta, guess output tokens from the content (~3 chars a token)
        out = self.output_tokens if self.output_tokens is not None else max(1, self.content_chars // 3)
        return usage_cost(self.model, {**self.input_usage, "output_tokens": out})


@dataclass
class StreamState:
    session_id: str | None = None
    model: str | None = None
    cwd: str | None = None
    version: str | None = None
    tools: tuple[str, ...] = ()
    initialized: bool = False  # a system/init line was seen (the CLI got as far as starting)
    turns: list[Turn] = field(default_factory=list)
    subagent_usd: float = 0.0
    tool_calls: list[ToolCall] = field(default_factory=list)
    denials: list[PermissionDenied] = field(default_factory=list)
    api_error_status: int | None = None  # the last API error the CLI reported (it may retry)
    result: ResultInfo | None = None
    lines: int = 0
    ignored: int = 0  # unparsable or unknown lines

    @property
    def turn_count(self) -> int:
        return len(self.turns)

    @property
    def last_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def estimated_usd(self) -> float:
        return sum(t.cost_usd for t in self.turns) + self.subagent_usd


class StreamParser:
    """Feed stream-json text; get events; read `state`."""

    def __init__(self) -> None:
        self.state = StreamState()
        self._buffer = ""
        self._by_id: dict[str, Turn] = {}
        self._sub_seen: set[str] = set()

    def feed(self, chunk: str) -> list[Event]:
        """Consume any text (whole lines, partial lines, several lines)."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split("\n")
        events: list[Event] = []
        for line in lines:
            events += self.feed_line(line)
        return events

    def close(self) -> list[Event]:
        """Flush a last line that had no newline (the process ended)."""
        rest, self._buffer = self._buffer, ""
        return self.feed_line(rest) if rest.strip() else []

    def feed_line(self, line: str) -> list[Event]:
        line = line.strip()
        if not line:
            return []
        self.state.lines += 1
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.state.ignored += 1
            return []
        handler = {
            "system": self._system,
            "stream_event": self._stream_event,
            "assistant": self._assistant,
            "user": self._user,
            "result": self._result,
        }.get(event.get("type"))  # type: ignore[arg-type]
        if handler is None:
            self.state.ignored += 1
            return []
        return handler(event)

    # -- handlers -------------------------------------------------------------------
    def _system(self, event: dict[str, Any]) -> list[Event]:
        if event.get("subtype") == "permission_denied":
            denied = PermissionDenied(
                str(event.get("tool_name") or ""), str(event.get("tool_use_id") or ""), str(event.get("message") or "")
            )
            self.state.denials.append(denied)
            return [denied]
        if event.get("subtype") != "init":
            return []
        st = self.state
        st.initialized = True
        st.session_id = _str(event.get("session_id")) or st.session_id
        st.model = _str(event.get("model")) or st.model
        st.cwd = _str(event.get("cwd")) or st.cwd
        st.version = _str(event.get("claude_code_version")) or st.version
        tools = event.get("tools")
        if isinstance(tools, list):
            st.tools = tuple(str(t) for t in tools)
        servers = tuple(s for s in event.get("mcp_servers") or () if isinstance(s, dict))
        return [Init(st.session_id, st.model, st.tools, st.cwd, st.version, servers)]

    def _stream_event(self, event: dict[str, Any]) -> list[Event]:
        raw = event.get("event")
        if not isinstance(raw, dict):
            return []
        if event.get("parent_tool_use_id"):
            return self._subagent_stream(raw)
        kind = raw.get("type")
        events: list[Event] = []
        if kind == "message_start":
            message = raw.get("message") if isinstance(raw.get("message"), dict) else {}
            mid = _str(message.get("id"))
            if mid:
                turn, events = self._turn(mid, _str(message.get("model")))
                if isinstance(message.get("usage"), dict):
                    turn.input_usage = _input_usage(message["usage"])
        elif kind == "message_delta":
            turn = self.state.last_turn
            if turn is not None:
                usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
                if _is_number(usage.get("output_tokens")):
                    turn.output_tokens = int(usage["output_tokens"])
                delta = raw.get("delta") if isinstance(raw.get("delta"), dict) else {}
                turn.stop_reason = _str(delta.get("stop_reason")) or turn.stop_reason
        elif kind == "message_stop":
            turn = self.state.last_turn
            if turn is not None and not turn.ended:
                events += self._end(turn)
        return events

    def _assistant(self, event: dict[str, Any]) -> list[Event]:
        message = event.get("message")
        if not isinstance(message, dict):
            return []
        if event.get("is_api_error_message") or message.get("model") == "<synthetic>":
            # the CLI's own message about an API error, not a model turn
            status = event.get("api_error_status")
            if isinstance(status, int) and not isinstance(status, bool):
                self.state.api_error_status = status
            return []
        if event.get("parent_tool_use_id"):
            mid = _str(message.get("id"))
            if mid and mid not in self._sub_seen and isinstance(message.get("usage"), dict):
                self._sub_seen.add(mid)
                self.state.subagent_usd += usage_cost(message.get("model") or self.state.model, message["usage"])
            return []
        mid = _str(message.get("id")) or f"anonymous-{self.state.lines}"
        turn, events = self._turn(mid, _str(message.get("model")))
        if not turn.input_usage and isinstance(message.get("usage"), dict):
            turn.input_usage = _input_usage(message["usage"])
        for block in message.get("content") or ():
            if not isinstance(block, dict):
                continue
            turn.content_chars += len(json.dumps(block, ensure_ascii=False))
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                events.append(Text(block["text"], mid))
            elif block.get("type") == "tool_use":
                call = ToolCall(
                    id=str(block.get("id") or f"tool-{len(self.state.tool_calls)}"),
                    name=str(block.get("name") or "tool"),
                    input=block["input"] if isinstance(block.get("input"), dict) else {},
                    message_id=mid,
                    cwd=self.state.cwd,
                )
                turn.tool_ids.append(call.id)
                turn.tool_names.append(call.name)
                self.state.tool_calls.append(call)
                events.append(call)
        return events

    def _user(self, event: dict[str, Any]) -> list[Event]:
        if event.get("parent_tool_use_id"):
            return []
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        events: list[Event] = []
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            tool_id = str(block.get("tool_use_id") or "")
            events.append(ToolResult(tool_id, block.get("is_error") is True, _text_of(block.get("content"))[:4000]))
            for turn in reversed(self.state.turns):
                if tool_id in turn.tool_ids:
                    turn.answered.add(tool_id)
                    if not turn.ended:  # its results are in, so the message was complete
                        events += self._end(turn)
                    break
        return events

    def _result(self, event: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        turn = self.state.last_turn
        if turn is not None and not turn.ended:
            events += self._end(turn)
        info = ResultInfo.parse(event)
        self.state.result = info
        self.state.session_id = info.session_id or self.state.session_id
        events.append(info)
        return events

    # -- helpers ----------------------------------------------------------------------
    def _turn(self, message_id: str, model: str | None) -> tuple[Turn, list[Event]]:
        """The turn for `message_id`, opening it (and closing the previous) if it is new."""
        turn = self._by_id.get(message_id)
        if turn is not None:
            return turn, []
        events: list[Event] = []
        previous = self.state.last_turn
        if previous is not None and not previous.ended:
            events += self._end(previous)
        turn = Turn(index=self.state.turn_count + 1, message_id=message_id, model=model or self.state.model)
        self.state.turns.append(turn)
        self._by_id[message_id] = turn
        events.append(TurnStarted(turn.index, message_id))
        return turn, events

    def _end(self, turn: Turn) -> list[Event]:
        turn.ended = True
        return [TurnEnded(turn.index, turn.message_id, turn.cost_usd, turn.stop_reason)]

    def _subagent_stream(self, raw: dict[str, Any]) -> list[Event]:
        if raw.get("type") == "message_delta":
            usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
            if _is_number(usage.get("output_tokens")):
                self.state.subagent_usd += usage_cost(self.state.model, {"output_tokens": usage["output_tokens"]})
        return []


def describe_tool(name: str, args: dict[str, Any], cwd: str | None = None) -> str:
    """One redacted line for the progress comment, e.g. `Write src/app.py`."""
    target = args.get("file_path") or args.get("path") or args.get("pattern") or args.get("command") or ""
    target = str(target)
    if cwd and target.startswith(cwd.rstrip("/") + "/"):
        target = os.path.relpath(target, cwd)
    target = " ".join(proc.redact(target).split())
    if len(target) > 80:
        target = target[:77] + "..."
    return f"{name} {target}".strip()


def _input_usage(usage: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return {k: usage[k] for k in keys if _is_number(usage.get(k))}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
