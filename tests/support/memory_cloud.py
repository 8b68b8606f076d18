"""A loopback Kagura Memory Cloud: the MCP JSON-RPC contract the official SDK speaks.

`MemoryCloudStandIn(api_key, workspace_id)` answers, per `memory-cloud-api.md`:

- `POST /mcp`, `/mcp/`, `/mcp/w/{workspace_id}`: JSON-RPC 2.0. `initialize` returns a plain
  JSON body and an `mcp-session-id` header; a message without `id` gets 202; `tools/list`;
  `tools/call` for remember, recall, reference, update_memory (`external_id` upsert), forget,
  create_edge (max-weight upsert), explore, feedback, set_state/get_state, list_contexts and
  get_context_info. Each answer is `{"result":{"content":[{"type":"text","text":"<json>"}]}}`
  with `status` success or an in-band error (`memory_not_found`, `context_not_found`, ...).
  Optional keys are left out when empty (the v0.73+ style); recall results carry no `content`.
- An unknown `mcp-session-id` (see `expire_sessions()`) gets HTTP 404 with the JSON-RPC
  `-32603` body, as the server does after a restart or an idle hour.
- Auth: `Authorization: Bearer <api_key>` or 401 with `WWW-Authenticate`; a URL workspace other
  than the key's is 403 `workspace_mismatch`; a non-UUID one is 400 `invalid_request`.
- `GET /health` → `{"status":"ok"}` (no auth); `GET /api/v1/memory/list` (what the SDK's
  `list_memories` calls) with limit/offset → `{memories, total, has_more}`, newest first.

Faults (429 + Retry-After, 503, delays, dropped connections) and the request log come from
`StandIn`. State survives `stop()`/`start()` (sessions do not, as on a real restart), and a
restart binds the same port. Run it as a process with
`python -m support.memory_cloud --port 0 --port-file F --api-key K`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kagura_engineer.demo.standin import Request, Response, StandIn, json_response, serve_until_signalled

DEFAULT_WORKSPACE = "9b2f6c1e-4a7d-4e58-9c3b-2d1f0a6e8b71"
DEFAULT_CONTEXT = "5c8e2a91-7f3b-4d6e-a1c4-8b0e9d2f3a65"
SERVER_VERSION = "0.80.0"
EDGE_TYPES = frozenset(
    {"neural_association", "related_to", "depends_on", "learned_from", "continues_from", "references_file",
     "semantic_similarity", "declared_link", "tag_cooccurrence"}
)  # fmt: skip
MAX_TTL = 30 * 86400
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be by for from in into is it of on or that the this to was with".split()
)
_MCP_PATH = re.compile(r"^/mcp(?:/w/(?P<ws>[^/]+))?/?$")


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _terms(text: str) -> set[str]:
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return out


def _iso(ts: float) -> str:
    """MCP timestamps: ISO 8601 UTC without a zone suffix (REST adds the `Z`)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class ToolError(Exception):
    """An in-band tool error: `{"status":"error","error":code,"message":...}`."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


@dataclass
class Context:
    id: str
    name: str
    display_name: str = ""
    is_private: bool = True


@dataclass
class StoredMemory:
    memory_id: str
    context_id: str
    summary: str
    content: str
    type: str
    importance: float
    tags: list[str]
    details: dict[str, Any]
    created_ts: float
    updated_ts: float
    context_summary: str = ""
    external_id: str | None = None
    deleted: bool = False

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "memory_id": self.memory_id,
            "summary": self.summary,
            "content": self.content,
            "details": dict(self.details),
            "type": self.type,
            "importance": self.importance,
            "tags": list(self.tags),
            "scope": "working",
            "context": {},
            "client": "mcp",
            "created_at": _iso(self.created_ts),
            "updated_at": _iso(self.updated_ts),
        }
        if self.context_summary:
            out["context_summary"] = self.context_summary
        return out


@dataclass
class Edge:
    source_id: str
    target_id: str
    edge_type: str
    weight: float
    confidence: float
    created_ts: float
    updated_ts: float

    def row(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "target_id": self.target_id,
            "edge_type": self.edge_type,
            "weight": self.weight,
            "confidence": self.confidence,
            "created_at": _iso(self.created_ts),
            "last_updated": _iso(self.updated_ts),
        }


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    answer: dict[str, Any] = field(default_factory=dict)


class MemoryCloudStandIn(StandIn):
    """A Memory Cloud on 127.0.0.1 that accepts exactly one API key for one workspace."""

    name = "memory-cloud"

    def __init__(
        self,
        api_key: str,
        workspace_id: str = DEFAULT_WORKSPACE,
        *,
        context_id: str = DEFAULT_CONTEXT,
        context_name: str = "engineering",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ValueError("the Memory Cloud stand-in needs an API key")
        super().__init__(port=port)
        self.api_key = api_key
        self.workspace_id = workspace_id
        self.context_id = context_id
        self.clock = clock
        self.contexts: dict[str, Context] = {
            context_id: Context(context_id, context_name, context_name.title())
        }
        self.memories: dict[str, StoredMemory] = {}
        self.edges: dict[tuple[str, str], Edge] = {}
        self.states: dict[tuple[str, str], tuple[Any, float | None]] = {}
        self.feedback: list[dict[str, Any]] = []
        self.sessions: set[str] = set()
        self.calls: list[ToolCall] = []
        self._running = False

    # -- lifecycle: a restart keeps the data and the port, and forgets every session --------
    def start(self) -> MemoryCloudStandIn:
        with self.lock:
            self.sessions.clear()
        super().start()
        self._port = self.port
        self._running = True
        return self

    def stop(self) -> None:
        """Go down: new connections are refused and open keep-alive ones are dropped."""
        with self.lock:
            self._running = False
        super().stop()

    def _serve(self, req: Request) -> Response | None:
        # The base server's handler threads outlive `stop()` on keep-alive connections; a
        # stopped Cloud must not answer on them.
        if not self._running:
            return None
        return super()._serve(req)

    def __enter__(self) -> MemoryCloudStandIn:
        return self.start()

    # -- test helpers ----------------------------------------------------------------------
    def expire_sessions(self) -> None:
        """Forget every MCP session: the next call with an old id gets HTTP 404."""
        with self.lock:
            self.sessions.clear()

    def add_context(self, name: str, *, context_id: str | None = None) -> str:
        context_id = context_id or str(uuid.uuid4())
        with self.lock:
            self.contexts[context_id] = Context(context_id, name, name.title())
        return context_id

    def live_memories(self, context_id: str | None = None) -> list[StoredMemory]:
        with self.lock:
            return [
                m
                for m in self.memories.values()
                if not m.deleted and (context_id is None or m.context_id == context_id)
            ]

    def memories_with_external_id(self, external_id: str) -> list[StoredMemory]:
        return [m for m in self.live_memories() if m.external_id == external_id]

    def tool_calls(self, name: str | None = None) -> list[ToolCall]:
        with self.lock:
            return [c for c in self.calls if name is None or c.name == name]

    def state(self, key: str, context_id: str | None = None) -> Any | None:
        with self.lock:
            return self._live_state(context_id or self.context_id, key)

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path == "/health":
            return json_response({"status": "ok"})
        if req.method == "GET" and req.path == "/api/v1/system/info":
            return json_response({"name": "kagura-memory-cloud", "version": SERVER_VERSION, "features": {}})
        match = _MCP_PATH.match(req.path)
        if match is None and not req.path.startswith("/api/v1/"):
            return json_response({"detail": "Not Found"}, status=404)
        denied = self._authenticate(req)
        if denied is not None:
            return denied
        if match is None:
            if req.method == "GET" and req.path == "/api/v1/memory/list":
                return self._list_memories(req)
            return json_response({"error": "HTTP-404", "message": "Not Found", "details": {}}, status=404)
        workspace = match.group("ws")
        if workspace is not None:
            if not _is_uuid(workspace):
                return json_response(
                    {"error": "invalid_request", "error_description": "workspace id must be a UUID"},
                    status=400,
                )
            if str(uuid.UUID(workspace)) != self.workspace_id:
                return json_response(
                    {
                        "error": "workspace_mismatch",
                        "error_description": "The API key belongs to a different workspace.",
                    },
                    status=403,
                )
        if req.method == "GET":
            return Response(200, "event: connected\ndata: {}\n\n", {"Content-Type": "text/event-stream"})
        if req.method != "POST":
            return json_response({"detail": "Method Not Allowed"}, status=405)
        return self._jsonrpc(req)

    def _authenticate(self, req: Request) -> Response | None:
        header = req.headers.get("authorization", "")
        if not header:
            return self._unauthorized("invalid_request", "Missing bearer token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            return self._unauthorized("invalid_token", "Invalid or expired token")
        return None

    def _unauthorized(self, error: str, description: str) -> Response:
        challenge = (
            f'Bearer realm="Kagura Memory Cloud", error="{error}", '
            f'resource_metadata="{self.url}/.well-known/oauth-protected-resource"'
        )
        return json_response(
            {"error": error, "error_description": description}, status=401, **{"WWW-Authenticate": challenge}
        )

    def _jsonrpc(self, req: Request) -> Response:
        try:
            message = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return json_response(_rpc_error(None, -32700, "Parse error"), status=400)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or "method" not in message:
            return json_response(_rpc_error(message.get("id") if isinstance(message, dict) else None,
                                            -32600, "Invalid Request"), status=400)  # fmt: skip
        if "id" not in message:  # a notification
            return Response(202, b"")
        rpc_id, method = message["id"], message["method"]
        params = message.get("params") or {}
        if method == "initialize":
            session = uuid.uuid4().hex
            with self.lock:
                self.sessions.add(session)
            result = {
                "protocolVersion": "2024-11-05",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "kagura-memory-cloud", "version": SERVER_VERSION},
            }
            return json_response(
                {"jsonrpc": "2.0", "id": rpc_id, "result": result}, **{"mcp-session-id": session}
            )
        session = req.headers.get("mcp-session-id")
        if not session:
            return json_response(_rpc_error(None, -32600, "Bad Request: Missing session ID"), status=400)
        with self.lock:
            known = session in self.sessions
        if not known:
            return json_response(
                _rpc_error(None, -32603, "MCP session not found or expired. Re-initialize the session."),
                status=404,
            )
        if method == "ping":
            return json_response({"jsonrpc": "2.0", "id": rpc_id, "result": {}})
        if method == "tools/list":
            return json_response({"jsonrpc": "2.0", "id": rpc_id, "result": {"tools": _tool_list()}})
        if method != "tools/call":
            return json_response(_rpc_error(rpc_id, -32601, f"Method not found: {method}"))
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            return json_response(_rpc_error(rpc_id, -32602, "arguments must be an object"))
        answer = self._call(str(name), arguments)
        text = json.dumps(answer)
        return json_response(
            {"jsonrpc": "2.0", "id": rpc_id, "result": {"content": [{"type": "text", "text": text}]}}
        )

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        tool = getattr(self, f"_tool_{name}", None)
        with self.lock:
            try:
                if tool is None:
                    raise ToolError("unknown_tool", f"Unknown tool: {name}")
                answer = tool(arguments)
            except ToolError as exc:
                answer = {"status": "error", "error": exc.code, "message": str(exc), **exc.extra}
            self.calls.append(ToolCall(name, dict(arguments), answer))
        return answer

    # -- tool helpers ----------------------------------------------------------------------
    def _context(self, arguments: dict[str, Any]) -> Context:
        context_id = arguments.get("context_id")
        if not context_id:
            raise ToolError("context_id_required", "context_id is required")
        if not _is_uuid(context_id):
            raise ToolError(
                "invalid_context_id_format", "context_id must be a UUID", received=str(context_id)
            )
        context = self.contexts.get(str(uuid.UUID(str(context_id))))
        if context is None:
            raise ToolError(
                "context_not_found", "Context not found or access denied", context_id=str(context_id)
            )
        return context

    @staticmethod
    def _context_fields(context: Context) -> dict[str, Any]:
        return {
            "context_id": context.id,
            "context_name": context.name,
            "context_display_name": context.display_name,
            "context_is_private": context.is_private,
            "context_is_locked": False,
        }

    def _memory(self, context: Context, memory_id: Any, *, code: str = "memory_not_found") -> StoredMemory:
        if not memory_id:
            raise ToolError("memory_id_required", "memory_id is required")
        if not _is_uuid(memory_id):
            raise ToolError("invalid_memory_id_format", "memory_id must be a UUID", received=str(memory_id))
        memory = self.memories.get(str(uuid.UUID(str(memory_id))))
        if memory is None or memory.deleted or memory.context_id != context.id:
            raise ToolError(code, "Memory not found")
        return memory

    @staticmethod
    def _check_fields(summary: Any, content: Any, kind: Any, importance: Any) -> float:
        if not isinstance(summary, str) or not 10 <= len(summary) <= 500:
            raise ToolError("validation_error", "summary must be 10-500 characters")
        if not isinstance(content, str) or not content:
            raise ToolError("validation_error", "content must be at least 1 character")
        if not isinstance(kind, str) or not 1 <= len(kind) <= 50:
            raise ToolError("validation_error", "type must be 1-50 characters")
        if (
            isinstance(importance, bool)
            or not isinstance(importance, (int, float))
            or not 0 <= importance <= 1
        ):
            raise ToolError("validation_error", "importance must be between 0 and 1")
        return float(importance)

    @staticmethod
    def _tags(value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise ToolError("validation_error", "tags must be a list of strings")
        return list(dict.fromkeys(value))

    @staticmethod
    def _details(value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ToolError("validation_error", "details must be an object")
        return dict(value)

    def _live_state(self, context_id: str, key: str) -> Any | None:
        entry = self.states.get((context_id, key))
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= self.clock():
            del self.states[(context_id, key)]
            return None
        return value

    # -- tools -----------------------------------------------------------------------------
    def _tool_remember(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        missing = [k for k in ("summary", "content", "type") if a.get(k) in (None, "")]
        if missing:
            raise ToolError("missing_fields", f"Missing required fields: {', '.join(missing)}")
        importance = self._check_fields(a["summary"], a["content"], a["type"], a.get("importance", 0.5))
        now = self.clock()
        memory = StoredMemory(
            memory_id=str(uuid.uuid4()),
            context_id=context.id,
            summary=a["summary"],
            content=a["content"],
            type=a["type"],
            importance=importance,
            tags=self._tags(a.get("tags")),
            details=self._details(a.get("details")),
            created_ts=now,
            updated_ts=now,
            context_summary=str(a.get("context_summary") or ""),
        )
        self.memories[memory.memory_id] = memory
        return {
            "status": "success",
            "memory_id": memory.memory_id,
            "scope": "working",
            **self._context_fields(context),
        }

    def _tool_update_memory(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        memory_id, external_id = a.get("memory_id"), a.get("external_id")
        if bool(memory_id) == bool(external_id):
            raise ToolError("validation_error", "Provide exactly one of memory_id or external_id")
        now = self.clock()
        if external_id:
            if not isinstance(external_id, str) or len(external_id) > 255:
                raise ToolError("validation_error", "external_id must be a string of at most 255 characters")
            missing = [k for k in ("summary", "content", "type") if a.get(k) in (None, "")]
            if missing:
                raise ToolError("missing_fields", f"Upsert requires: {', '.join(missing)}")
            importance = self._check_fields(a["summary"], a["content"], a["type"], a.get("importance", 0.5))
            details = {**self._details(a.get("details")), "resource_id": external_id}
            found = next(
                (
                    m
                    for m in self.memories.values()
                    if m.external_id == external_id and m.context_id == context.id and not m.deleted
                ),
                None,
            )
            if found is None:
                memory = StoredMemory(
                    memory_id=str(uuid.uuid4()),
                    context_id=context.id,
                    summary=a["summary"],
                    content=a["content"],
                    type=a["type"],
                    importance=importance,
                    tags=self._tags(a.get("tags")),
                    details=details,
                    created_ts=now,
                    updated_ts=now,
                    context_summary=str(a.get("context_summary") or ""),
                    external_id=external_id,
                )
                self.memories[memory.memory_id] = memory
                operation, re_embedded = "created", True
            else:
                memory = found
                re_embedded = (memory.summary, memory.content) != (a["summary"], a["content"])
                memory.summary, memory.content, memory.type = a["summary"], a["content"], a["type"]
                memory.importance = importance
                if a.get("tags") is not None:
                    memory.tags = self._tags(a.get("tags"))
                memory.details = details
                memory.updated_ts = now
                operation = "updated"
        else:
            memory = self._memory(context, memory_id)
            summary = a.get("summary", memory.summary)
            content = a.get("content", memory.content)
            kind = a.get("type", memory.type)
            importance = self._check_fields(summary, content, kind, a.get("importance", memory.importance))
            re_embedded = (summary, content) != (memory.summary, memory.content)
            memory.summary, memory.content, memory.type, memory.importance = (
                summary,
                content,
                kind,
                importance,
            )
            if a.get("tags") is not None:
                memory.tags = self._tags(a["tags"])
            if a.get("details") is not None:
                memory.details = self._details(a["details"])
            if a.get("context_summary") is not None:
                memory.context_summary = str(a["context_summary"])
            memory.updated_ts = now
            operation = "updated"
        return {
            "status": "success",
            "memory_id": memory.memory_id,
            "operation": operation,
            "re_embedded": re_embedded,
            "scope": "working",
            **self._context_fields(context),
        }

    def _matches(self, memory: StoredMemory, filters: dict[str, Any]) -> bool:
        kind = filters.get("type")
        if kind and memory.type != kind and not (isinstance(kind, list) and memory.type in kind):
            return False
        tags = filters.get("tags")
        if tags:
            wanted = set(tags if isinstance(tags, list) else [tags])
            have = set(memory.tags)
            if filters.get("tags_match") == "all":
                if not wanted <= have:
                    return False
            elif not wanted & have:
                return False
        importance = filters.get("importance")
        if isinstance(importance, dict) and importance.get("gte") is not None:
            if memory.importance < float(importance["gte"]):
                return False
        for name, op in (("created_after", 1), ("created_before", -1)):
            bound = filters.get(name)
            if bound:
                try:
                    ts = datetime.fromisoformat(str(bound).replace("Z", "+00:00"))
                except ValueError as exc:
                    raise ToolError("validation_error", f"{name} is not ISO 8601") from exc
                if ts.tzinfo is None:
                    ts = ts.replace(tzinfo=UTC)
                if op == 1 and memory.created_ts < ts.timestamp():
                    return False
                if op == -1 and memory.created_ts >= ts.timestamp():
                    return False
        return True

    def _tool_recall(self, a: dict[str, Any]) -> dict[str, Any]:
        query = a.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("missing_fields", "query is required")
        context_ids = a.get("context_ids")
        if context_ids:
            contexts = [self._context({"context_id": c}) for c in context_ids]
        else:
            contexts = [self._context(a)]
        k = a.get("k", 5)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise ToolError("validation_error", "k must be between 1 and 100")
        filters = a.get("filters") or {}
        if not isinstance(filters, dict):
            raise ToolError("validation_error", "filters must be an object")
        terms = _terms(query)
        ids = {c.id for c in contexts}
        scored: list[tuple[float, StoredMemory]] = []
        for memory in self.memories.values():
            if memory.deleted or memory.context_id not in ids or not self._matches(memory, filters):
                continue
            summary, content, tags = (
                _terms(memory.summary),
                _terms(memory.content),
                _terms(" ".join(memory.tags)),
            )
            hits = sum(2.0 * (t in summary) + 1.0 * (t in content) + 1.5 * (t in tags) for t in terms)
            if hits <= 0:
                continue
            score = hits / (4.5 * max(1, len(terms))) * (0.8 + 0.4 * memory.importance)
            scored.append((round(score, 6), memory))
        scored.sort(key=lambda pair: (-pair[0], -pair[1].created_ts))
        results = []
        tag_counts: dict[str, int] = {}
        for score, memory in scored[:k]:
            row: dict[str, Any] = {
                "memory_id": memory.memory_id,
                "summary": memory.summary,
                "type": memory.type,
                "importance": memory.importance,
                "scope": "working",
                "score": score,
                "tags": list(memory.tags),
            }
            if memory.context_summary:
                row["context_summary"] = memory.context_summary
            results.append(row)
            for tag in memory.tags:
                tag_counts[tag] = tag_counts.get(tag, 0) + 1
        answer: dict[str, Any] = {
            "status": "success",
            "results": results,
            "count": len(results),
            "related_tags": [
                {"tag": t, "count": n} for t, n in sorted(tag_counts.items(), key=lambda x: -x[1])
            ],
            **self._context_fields(contexts[0]),
        }
        if a.get("include_explore_hints"):
            answer["explore_hints"] = [
                {"memory_id": r["memory_id"], "reason": "top_result"} for r in results[:1]
            ]
        return answer

    def _tool_reference(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        memory = self._memory(context, a.get("memory_id"))
        return {"status": "success", "memory": memory.row(), **self._context_fields(context)}

    def _tool_forget(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        deleted: list[str] = []
        if a.get("memory_id"):
            memory_id = a["memory_id"]
            if not _is_uuid(memory_id):
                raise ToolError("invalid_memory_id_format", "memory_id must be a UUID")
            memory = self.memories.get(str(uuid.UUID(str(memory_id))))
            if memory is not None and not memory.deleted and memory.context_id == context.id:
                memory.deleted = True
                deleted.append(memory.memory_id)
        elif a.get("query"):
            k = int(a.get("k", 10))
            found = self._tool_recall(
                {"context_id": context.id, "query": a["query"], "k": max(1, min(k, 100))}
            )
            for row in found["results"]:
                self.memories[row["memory_id"]].deleted = True
                deleted.append(row["memory_id"])
        else:
            raise ToolError("missing_fields", "Provide memory_id or query")
        return {
            "status": "success",
            "deleted_count": len(deleted),
            "memory_ids": deleted,
            "context_id": context.id,
            "context_name": context.name,
        }

    def _tool_create_edge(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        source, target = a.get("source_id"), a.get("target_id")
        if not source or not target:
            raise ToolError("missing_required_fields", "source_id and target_id are required")
        if not _is_uuid(source) or not _is_uuid(target):
            raise ToolError("invalid_uuid_format", "source_id and target_id must be UUIDs")
        source, target = str(uuid.UUID(str(source))), str(uuid.UUID(str(target)))
        if source == target:
            raise ToolError("self_loop_not_allowed", "An edge cannot connect a memory to itself")
        edge_type = a.get("edge_type", "related_to")
        if edge_type not in EDGE_TYPES:
            raise ToolError("invalid_edge_type", f"Invalid edge_type: {edge_type}")
        weight, confidence = a.get("weight", 0.5), a.get("confidence", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 3:
            raise ToolError("validation_error", "weight must be between 0 and 3")
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, (int, float))
            or not 0 <= confidence <= 1
        ):
            raise ToolError("validation_error", "confidence must be between 0 and 1")
        self._memory(context, source)
        self._memory(context, target)
        now = self.clock()
        edge = self.edges.get((source, target))
        if edge is None:
            edge = Edge(source, target, edge_type, float(weight), float(confidence), now, now)
            self.edges[(source, target)] = edge
        else:
            edge.weight = max(edge.weight, float(weight))
            edge.edge_type = edge_type
            edge.confidence = float(confidence)
            edge.updated_ts = now
        return {"status": "success", "edge": edge.row()}

    def _tool_explore(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        seed = self._memory(context, a.get("memory_id"))
        depth = max(1, min(int(a.get("depth", 2)), 5))
        min_weight = float(a.get("min_weight", 0.05))
        seen = {seed.memory_id}
        frontier = [(seed.memory_id, [seed.memory_id], 1.0)]
        related: list[dict[str, Any]] = []
        for hop in range(1, depth + 1):
            best: dict[str, tuple[float, list[str], float]] = {}
            for node, path, activation in frontier:
                for edge in self.edges.values():
                    if edge.weight < min_weight or node not in (edge.source_id, edge.target_id):
                        continue
                    other = edge.target_id if edge.source_id == node else edge.source_id
                    target = self.memories.get(other)
                    if other in seen or target is None or target.deleted or target.context_id != context.id:
                        continue
                    if other not in best or edge.weight > best[other][0]:
                        best[other] = (edge.weight, [*path, other], activation * edge.weight / 3.0)
            if not best:
                break
            frontier = []
            for other, (weight, path, activation) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0])):
                seen.add(other)
                related.append(
                    {
                        "memory_id": other,
                        "summary": self.memories[other].summary,
                        "activation": round(activation, 6),
                        "hop": hop,
                        "weight": weight,
                        "path": path,
                    }
                )
                frontier.append((other, path, activation))
        return {
            "status": "success",
            "exploration": {
                "seed_memory": {"memory_id": seed.memory_id, "summary": seed.summary, "type": seed.type},
                "related_memories": related,
                "metadata": {"total_activated": len(related), "returned": len(related)},
            },
        }

    def _tool_feedback(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        memory = self._memory(context, a.get("memory_id"), code="not_found")
        helpful = a.get("helpful")
        if not isinstance(helpful, bool):
            raise ToolError("validation_error", "helpful must be a boolean")
        feedback_id = str(uuid.uuid4())
        self.feedback.append({"feedback_id": feedback_id, "memory_id": memory.memory_id, "helpful": helpful})
        return {
            "status": "success",
            "feedback_id": feedback_id,
            "memory_id": memory.memory_id,
            "helpful": helpful,
        }

    def _tool_set_state(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        key = a.get("key")
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise ToolError("validation_error", "key must be 1-255 characters")
        if "value" not in a or a["value"] is None:
            raise ToolError("validation_error", "value must not be null")
        ttl = a.get("ttl_seconds")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0):
            raise ToolError("validation_error", "ttl_seconds must be a positive integer")
        expires = None if ttl is None else self.clock() + min(ttl, MAX_TTL)
        self.states[(context.id, key)] = (json.loads(json.dumps(a["value"])), expires)
        return {"status": "success", "key": key}

    def _tool_get_state(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        key = a.get("key")
        if key is not None:
            value = self._live_state(context.id, str(key))
            return {"status": "success", "key": key, "value": value, "found": value is not None}
        states = {}
        for ctx, name in list(self.states):
            if ctx == context.id:
                value = self._live_state(ctx, name)
                if value is not None:
                    states[name] = value
        return {"status": "success", "states": states, "count": len(states)}

    def _tool_list_contexts(self, a: dict[str, Any]) -> dict[str, Any]:
        wanted = str(a.get("name_contains") or "")
        rows = [
            {"id": c.id, "name": c.name, "is_private": c.is_private, "is_locked": False}
            for c in self.contexts.values()
            if wanted in c.name
        ]
        return {
            "status": "success",
            "contexts": rows,
            "count": len(self.contexts),
            "total": len(rows),
            "limit": 10,
            "can_create": True,
        }

    def _tool_get_context_info(self, a: dict[str, Any]) -> dict[str, Any]:
        context = self._context(a)
        live = [m for m in self.memories.values() if not m.deleted and m.context_id == context.id]
        return {
            "status": "success",
            "context": {
                "id": context.id,
                "name": context.name,
                "display_name": context.display_name,
                "is_private": context.is_private,
                "is_locked": False,
                "embedding_model": "stand-in-keywords",
                "embedding_dimensions": 0,
                "search_config": {
                    "semantic_weight": 0.0,
                    "bm25_weight": 1.0,
                    "fetch_factor": 3,
                    "use_rerank": False,
                },
            },
            "workspace": {"id": self.workspace_id, "name": "stand-in"},
            "stats": {"total_memories": len(live), "working_memories": len(live), "persistent_memories": 0},
            "instructions": "A loopback stand-in for Kagura Memory Cloud.",
        }

    # -- REST ------------------------------------------------------------------------------
    def _list_memories(self, req: Request) -> Response:
        try:
            limit = int(req.q("limit", "50") or 50)
            offset = int(req.q("offset", "0") or 0)
        except ValueError:
            return _validation_error("limit and offset must be integers")
        if not 1 <= limit <= 500 or offset < 0:
            return _validation_error("limit must be 1-500 and offset >= 0")
        context_id = req.q("context_id")
        with self.lock:
            if context_id is not None:
                if not _is_uuid(context_id) or str(uuid.UUID(context_id)) not in self.contexts:
                    return json_response(
                        {"error": "HTTP-404", "message": "Context not found", "details": {}}, status=404
                    )
                context_id = str(uuid.UUID(context_id))
            q = (req.q("q") or "").strip().lower()
            kind = req.q("type")
            rows = [
                m
                for m in self.memories.values()
                if not m.deleted
                and (context_id is None or m.context_id == context_id)
                and (not q or q in m.summary.lower())
                and (not kind or m.type == kind)
            ]
        rows.sort(key=lambda m: (-m.created_ts, m.memory_id))
        page = rows[offset : offset + limit]
        body = {
            "memories": [
                {
                    "id": m.memory_id,
                    "summary": m.summary,
                    "type": m.type,
                    "scope": "working",
                    "importance": m.importance,
                    "created_at": _iso(m.created_ts) + "Z",
                    "updated_at": _iso(m.updated_ts) + "Z",
                }
                for m in page
            ],
            "total": len(rows),
            "has_more": offset + len(page) < len(rows),
        }
        return json_response(body)


def _rpc_error(rpc_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": rpc_id}


def _validation_error(message: str) -> Response:
    return json_response(
        {"error": "VAL-001", "message": "Request validation failed",
         "details": {"errors": [{"loc": ["query"], "msg": message, "type": "value_error"}]}},
        status=422,
    )  # fmt: skip


def _tool_list() -> list[dict[str, Any]]:
    def schema(required: list[str], *optional: str) -> dict[str, Any]:
        props = {name: {} for name in [*required, *optional]}
        return {"type": "object", "properties": props, "required": required, "additionalProperties": False}

    tools = {
        "remember": schema(["context_id", "summary", "content", "type"], "importance", "tags", "details",
                           "context_summary", "context", "delivery_mode", "source_uri", "source_type"),
        "recall": schema(["query"], "context_id", "context_ids", "k", "filters", "search_mode", "use_rerank",
                         "include_explore_hints", "include_superseded"),
        "reference": schema(["context_id", "memory_id"]),
        "update_memory": schema(["context_id"], "memory_id", "external_id", "summary", "content", "type",
                                "importance", "tags", "details", "context_summary", "delivery_mode"),
        "forget": schema(["context_id"], "memory_id", "query", "k"),
        "create_edge": schema(["context_id", "source_id", "target_id"], "edge_type", "weight", "confidence"),
        "explore": schema(["context_id", "memory_id"], "depth", "min_weight", "relation_types"),
        "feedback": schema(["context_id", "memory_id", "helpful"], "query", "note"),
        "set_state": schema(["context_id", "key", "value"], "ttl_seconds"),
        "get_state": schema(["context_id"], "key"),
        "list_contexts": schema([], "name_contains", "include_summary", "include_details", "include_stats"),
        "get_context_info": schema(["context_id"], "include_details"),
    }  # fmt: skip
    return [{"name": n, "description": f"{n} (stand-in)", "inputSchema": s} for n, s in tools.items()]


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; `--port-file` receives the bound port once listening."""
    parser = argparse.ArgumentParser(prog="python -m support.memory_cloud")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--api-key", default=os.environ.get("KAGURA_STANDIN_API_KEY"))
    parser.add_argument("--workspace-id", default=DEFAULT_WORKSPACE)
    parser.add_argument("--context-id", default=DEFAULT_CONTEXT)
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or $KAGURA_STANDIN_API_KEY) is required")
    standin = MemoryCloudStandIn(
        args.api_key, args.workspace_id, context_id=args.context_id, port=args.port
    ).start()
    return serve_until_signalled(standin, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
