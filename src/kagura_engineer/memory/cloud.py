"""The Memory Cloud backend: the official `kagura-memory` SDK behind a small sync adapter.

`open_cloud(config)` builds a `CloudMemory`. Design:

- **Sync over async.** `KaguraClient` is async; `CloudMemory` owns one private event loop
  (`asyncio.Runner`), reuses it for every call and closes it in `close()`.
- **URL.** `memory_cloud_url` is the service root; the SDK gets `<root>/mcp/w/<workspace_id>`
  (the SDK POSTs to exactly that URL; the root itself answers 404). Naming the workspace in the
  URL makes Cloud check it against the credential (403 `workspace_mismatch` instead of silently
  writing into whatever workspace a global key or login currently points at). A value already
  ending in `/mcp` or `/mcp/w/<id>` is used as is.
- **Credentials.** `KAGURA_API_KEY`, else the SDK's own resolution (`kagura auth login` profile in
  `~/.kagura/credentials.json`, `KAGURA_PROFILE`, legacy `.kagura.json`). Never from repo.yaml.
  The key only ever travels in the SDK's Authorization header.
- **Retries.** tenacity retries HTTP 429 (waiting `Retry-After`) and 5xx, bounded by attempts and
  total seconds. Session expiry is retried by the SDK itself (one re-initialize), not here.
- **Failover.** When Cloud is unreachable (`cloud_errors.Unreachable`), a write (`remember`,
  `set_state` and so savepoints, `link`, `feedback`, `forget`) goes into the local store and its
  outbox in one transaction, under a fresh external id, and the call returns normally; a read
  is answered from the local store. One warning line per client is printed when it closes. The
  next call that reaches Cloud (a read included) first replays the outbox, oldest first, each
  item marked done as soon as Cloud acknowledged it: `remember` as `update_memory(external_id=…)`
  (an upsert, so a replay interrupted by a kill repeats at most one idempotent item),
  `set_state` as `set_state` with the TTL that is left. A rejected credential or workspace
  (401/403) is not an outage: `MemoryAuthError`, nothing kept.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import math
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tenacity import RetryCallState, Retrying, retry_if_exception

from kagura_engineer import proc
from kagura_engineer.errors import ConfigError, MemoryAuthError, MemoryStoreError, NeedsUserError
from kagura_engineer.memory.base import Memory, Related
from kagura_engineer.memory.cloud_errors import (
    NotFoundInCloud,
    QuotaRefused,
    Refused,
    Unreachable,
    classify,
    first_line,
    is_transient,
    retry_after,
)

if TYPE_CHECKING:
    from kagura_memory import KaguraClient

    from kagura_engineer.config import Config
    from kagura_engineer.memory.local import LocalMemory, OutboxItem

T = TypeVar("T")

#: Above the server's 60 s recall limit, so a slow recall is not mistaken for an outage.
DEFAULT_TIMEOUT = 75.0
#: Cloud cannot store null: `set_state(key, None)` writes this marker, read back as absent.
TOMBSTONE: dict[str, Any] = {"__kagura_deleted__": True}
TOMBSTONE_TTL = 3600
#: Local state keys mapping a failover write's external id to the Cloud memory id.
ID_MAP_PREFIX = "cloud-id:"
ID_MAP_TTL = 90 * 86400
CLOUD_EDGE_TYPES = frozenset(
    {"neural_association", "related_to", "depends_on", "learned_from", "continues_from", "references_file"}
)
MAX_EXPLORE_DEPTH = 5
EXPORT_PAGE = 200
EXPORT_BATCH = 20
_RECALL_FILTERS = frozenset(
    {
        "type",
        "tags",
        "tags_match",
        "importance_gte",
        "importance",
        "trust_tier",
        "created_after",
        "created_before",
    }
)
_MCP_SUFFIX = re.compile(r"/mcp(?:/w/[^/]+)?$")
_HTTPS_HINT = "plain http:// is allowed only for localhost, 127.0.0.1 and [::1]"
_CREDENTIALS_HINT = "set KAGURA_API_KEY or run `kagura auth login` (repo.yaml never holds a key)"


@dataclass(frozen=True)
class CloudRetry:
    """How long a 429/5xx is retried before the call counts as an outage."""

    attempts: int = 4
    total_seconds: float = 60.0
    base_delay: float = 1.0
    max_delay: float = 15.0


def cloud_mcp_url(root: str, workspace_id: str | None) -> str:
    """The MCP endpoint for the SDK: `<root>/mcp/w/<workspace_id>` (or `<root>/mcp` without a
    workspace). A URL whose path already ends in `/mcp` or `/mcp/w/<id>` is kept as it is."""
    url = root.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"memory_cloud_url must be an https:// URL, not {proc.redact(url)!r}")
    path = parts.path.rstrip("/")
    if _MCP_SUFFIX.search(path):
        return urlunsplit(parts._replace(path=path))
    suffix = f"/mcp/w/{workspace_id}" if workspace_id else "/mcp"
    return urlunsplit(parts._replace(path=path + suffix))


def credential_source(api_key: str | None, key_source: str | None = None) -> str:
    """Which credential the SDK will use, in words (for error messages; never the value)."""
    if api_key and api_key.strip():
        return key_source or "the Memory Cloud API key"
    if os.environ.get("KAGURA_API_KEY", "").strip():
        return "KAGURA_API_KEY"
    from kagura_memory.auth.credentials import load_credentials_file

    profile = os.environ.get("KAGURA_PROFILE", "").strip() or None
    credentials = load_credentials_file()
    if credentials.get_profile(profile) is not None:
        return f"the kagura auth profile '{profile or credentials.default_profile}'"
    return "the api_key in .kagura.json"


class _Loop:
    """The sync adapter: one private event loop, reused by every call, closed once."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(make())  # type: ignore[arg-type]

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None


def _stderr(prefix: str) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(f"{prefix}: {proc.redact(message)}", file=sys.stderr, flush=True)

    return say


def _number(*values: Any, default: float = 0.0) -> float:
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return default


def _timestamp(value: Any) -> str:
    """A server timestamp in the local store's canonical form (UTC, microseconds, `Z`)."""
    from kagura_engineer.memory.local import iso, parse_time

    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        return iso(parse_time(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def _to_memory(ref: dict[str, Any], hit: dict[str, Any] | None = None) -> Memory:
    """A `Memory` from a `reference` answer (content included) and, for recall, its hit."""
    hit = hit or {}
    tags = ref.get("tags") if isinstance(ref.get("tags"), list) else hit.get("tags")
    details = ref.get("details")
    return Memory(
        id=str(ref.get("memory_id") or ref.get("id") or hit.get("memory_id") or ""),
        summary=str(ref.get("summary") or hit.get("summary") or ""),
        content=str(ref.get("content") or ""),
        type=str(ref.get("type") or hit.get("type") or "note"),
        tags=tuple(str(t) for t in (tags or [])),
        importance=_number(ref.get("importance"), hit.get("importance"), default=0.5),
        score=_number(hit.get("score")),
        created_at=_timestamp(ref.get("created_at")),
        details=dict(details) if isinstance(details, dict) and details else None,
    )


def _related(row: Any) -> Related | None:
    if not isinstance(row, dict) or not row.get("memory_id"):
        return None
    path = row.get("path")
    return Related(
        id=str(row["memory_id"]),
        summary=str(row.get("summary") or ""),
        hop=int(_number(row.get("hop"), default=1)),
        weight=_number(row.get("weight"), row.get("activation")),
        edge_type=str(row.get("edge_type") or ""),
        path=tuple(str(p) for p in path) if isinstance(path, list) else (),
    )


def _check_memory_fields(summary: str, content: str, type: str, importance: float) -> float:
    """Cloud's limits, checked before anything is sent or kept (a kept write must be replayable)."""
    if not isinstance(summary, str) or not 10 <= len(summary) <= 500:
        raise MemoryStoreError("a Memory Cloud summary must be 10 to 500 characters")
    if not isinstance(content, str) or not content:
        raise MemoryStoreError("a Memory Cloud memory needs non-empty content")
    if not isinstance(type, str) or not 1 <= len(type.strip()) <= 50:
        raise MemoryStoreError("a memory type must be 1 to 50 characters")
    try:
        value = float(importance)
    except (TypeError, ValueError):
        raise MemoryStoreError(f"importance must be a number, not {importance!r}") from None
    if not 0.0 <= value <= 1.0:
        raise MemoryStoreError(f"importance must be between 0 and 1, not {importance}")
    return value


def _cloud_filters(filters: dict[str, Any] | None) -> tuple[dict[str, Any], set[str] | None]:
    """Our recall filters as Cloud's `filters` (plus types to keep client-side, if several)."""
    filters = dict(filters or {})
    unknown = sorted(set(filters) - _RECALL_FILTERS)
    if unknown:
        raise MemoryStoreError(f"unknown recall filter: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    several: set[str] | None = None
    kind = filters.get("type")
    if kind:
        kinds = [kind] if isinstance(kind, str) else [str(k) for k in kind]
        if len(kinds) == 1:
            out["type"] = kinds[0]
        else:
            several = set(kinds)
    tags = filters.get("tags")
    if isinstance(tags, str):
        tags = tags.split(",")
    tags = [t.strip() for t in (tags or []) if t and t.strip()]
    if tags:
        out["tags"] = tags
        if filters.get("tags_match") in ("any", "all"):
            out["tags_match"] = filters["tags_match"]
    gte = filters.get("importance_gte")
    importance = filters.get("importance")
    if gte is None and isinstance(importance, dict):
        gte = importance.get("gte")
    if gte is not None:
        out["importance"] = {"gte": float(gte)}
    for name in ("created_after", "created_before"):
        if filters.get(name):
            out[name] = str(filters[name])
    # Recalled text feeds prompts: by default only first-party (trusted) memories.
    trust = filters.get("trust_tier", "trusted")
    if trust:
        out["trust_tier"] = trust
    return out, several


class CloudMemory:
    """`MemoryClient` over Kagura Memory Cloud, failing over to the local store."""

    backend = "cloud"

    def __init__(
        self,
        *,
        mcp_url: str,
        context_id: str,
        workspace_id: str | None = None,
        api_key: str | None = None,
        key_source: str | None = None,
        local: LocalMemory | None = None,
        local_factory: Callable[[], LocalMemory] | None = None,
        local_file: str | os.PathLike[str] | None = None,
        retry: CloudRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = DEFAULT_TIMEOUT,
        cooldown: float = 120.0,
        warn: Callable[[str], None] | None = None,
        note: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from kagura_memory import KaguraClient
        from kagura_memory.exceptions import KaguraAuthError

        if api_key:
            api_key = api_key.strip()
            proc.register_secret(api_key)
        self.context_id = context_id
        self.workspace_id = workspace_id
        self.source = credential_source(api_key, key_source)
        try:
            self._client: KaguraClient = KaguraClient(
                api_key=api_key or None, mcp_url=mcp_url, timeout=timeout
            )
        except KaguraAuthError as exc:  # "No credentials found.\n  Run: …": the first line only
            raise NeedsUserError(f"Memory Cloud: {first_line(exc)}", hint=_CREDENTIALS_HINT) from None
        except ValueError as exc:
            if "https" in str(exc).lower():
                raise ConfigError(
                    f"memory_cloud_url must use https:// ({_HTTPS_HINT}): {proc.redact(mcp_url)}"
                ) from None
            raise ConfigError(f"Memory Cloud client: {first_line(exc)}") from None
        self.mcp_url = self._client.mcp_url
        self.retry = retry or CloudRetry()
        self._sleep = sleep
        self._cooldown = cooldown
        self._clock = clock
        self._warn = warn or _stderr("warning")
        self._note = note or _stderr("note")
        self._loop = _Loop()
        self._lock = threading.RLock()
        self._local_store = local
        self._owns_local = False
        self._local_factory = local_factory
        self._local_file = Path(local_file) if local_file is not None else None
        self._mirror_state = True
        self._ids: dict[str, str] = {}
        self._down_until: float | None = None
        self._reason = ""
        self._drained = False
        self._kept = 0
        self._local_reads = 0
        self._closed = False
        atexit.register(self._report)

    # ------------------------------------------------------------------ Cloud calls

    def _cloud(self, make: Callable[[KaguraClient], Awaitable[T]]) -> T:
        """One Cloud operation, retried on 429/5xx; any failure comes out classified."""
        attempts = 0

        def once() -> T:
            nonlocal attempts
            attempts += 1
            return self._loop.run(lambda: make(self._client))

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except Exception as exc:
            mapped = classify(exc, source=self.source, workspace=self.workspace_id, url=self.mcp_url)
            if mapped is exc:
                raise
            if isinstance(mapped, Unreachable) and is_transient(exc) and attempts > 1:
                mapped = Unreachable(f"{mapped.reason}, {attempts} attempts")
            raise mapped from exc

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        server = retry_after(exc)
        if server is not None:
            return server
        return min(self.retry.max_delay, self.retry.base_delay * 2 ** (state.attempt_number - 1))

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.retry.attempts:
            return True
        spent = max(state.idle_for, state.seconds_since_start or 0.0)
        return spent + self._wait(state) > self.retry.total_seconds

    def _context_missing(self) -> ConfigError:
        return ConfigError(
            f"context_id {self.context_id} was not found in Memory Cloud (or {self.source} cannot see it)",
            hint="check context_id in repo.yaml",
        )

    def _check_context(self) -> None:
        """After a `*_not_found`: ConfigError when it is the context that is missing."""
        try:
            self._cloud(lambda c: c.get_context_info(self.context_id, include_details=False))
        except NotFoundInCloud:
            raise self._context_missing() from None

    # ------------------------------------------------------------------ failover plumbing

    def _available(self) -> bool:
        return self._down_until is None or self._clock() >= self._down_until

    def _mark_down(self, exc: Unreachable) -> None:
        self._reason = self._reason or exc.reason
        self._down_until = self._clock() + self._cooldown
        self._drained = False

    def _local(self, *, create: bool) -> LocalMemory | None:
        """The local store (opened on first need); None when absent and not `create`."""
        if self._local_store is not None:
            return self._local_store
        if self._local_factory is None:
            if create:
                raise MemoryStoreError(
                    "Memory Cloud is unreachable and no local failover store is configured"
                )
            return None
        if not create and self._local_file is not None and not self._local_file.exists():
            return None
        self._local_store = self._local_factory()
        self._owns_local = True
        return self._local_store

    def _online(self, fn: Callable[[], T]) -> T:
        """Replay what an earlier outage kept (once), then `fn`; Unreachable if Cloud is down."""
        if self._closed:
            raise MemoryStoreError("the Memory Cloud client is closed")
        if not self._available():
            raise Unreachable(self._reason or "unreachable")
        try:
            self._drain()
            return fn()
        except Unreachable as exc:
            self._mark_down(exc)
            raise

    def _write(
        self,
        op: str,
        payload: dict[str, Any],
        cloud: Callable[[], T],
        local_effect: Callable[[LocalMemory, str], T],
        external_id: str | None = None,
    ) -> T:
        with self._lock:
            try:
                return self._online(cloud)
            except Unreachable:
                pass
            external_id = external_id or str(uuid.uuid4())
            try:
                local = self._local(create=True)
                assert local is not None
                with local.transaction():
                    result = local_effect(local, external_id)
                    local.outbox_add(op, payload, external_id)
            except MemoryStoreError as exc:
                raise MemoryStoreError(
                    f"Memory Cloud unreachable ({self._reason}) and the local failover store failed: {exc}"
                ) from None
            self._kept += 1
            return result

    def _read(self, cloud: Callable[[], T], local_fn: Callable[[LocalMemory], T], empty: T) -> T:
        with self._lock:
            try:
                return self._online(cloud)
            except Unreachable:
                pass
            self._local_reads += 1
            local = self._local(create=False)
            return empty if local is None else local_fn(local)

    def _drain(self) -> None:
        """Deliver the outbox, oldest first; each item is marked done once Cloud has it."""
        if self._drained:
            return
        local = self._local(create=False)
        if local is None:
            self._drained = True
            return
        delivered = 0
        for item in local.outbox_pending():
            try:
                if not self._replay(item, local):
                    continue
            except QuotaRefused as exc:  # keep it and everything after it, in order
                raise Unreachable(str(exc)) from None
            except Refused as exc:
                if isinstance(exc, NotFoundInCloud) and item.op in ("remember", "set_state"):
                    raise self._context_missing() from exc
                self._warn(
                    f"Memory Cloud refused a write kept during an outage ({item.op}, outbox item "
                    f"{item.id}): {exc}; it stays in the local store only"
                )
            local.outbox_done(item.id)
            delivered += 1
        self._drained = True
        if delivered:
            self._note(f"replayed {delivered} write(s) kept locally during a Memory Cloud outage")

    def _replay(self, item: OutboxItem, local: LocalMemory) -> bool:
        """Send one outbox item. False for an op this version does not know (left queued)."""
        p, ctx = item.payload, self.context_id
        if item.op == "remember":
            answer = self._cloud(
                lambda c: c.update_memory(
                    ctx,
                    external_id=item.external_id,
                    summary=p["summary"],
                    content=p["content"],
                    type=p["type"],
                    importance=float(p.get("importance", 0.5)),
                    tags=list(p.get("tags") or []),
                    details=p.get("details"),
                )
            )
            cloud_id = answer.get("memory_id") if isinstance(answer, dict) else None
            if isinstance(cloud_id, str) and cloud_id:
                for alias in {item.external_id, str(p.get("local_id") or item.external_id)}:
                    self._ids[alias] = cloud_id
                    local.set_state(ID_MAP_PREFIX + alias, cloud_id, ttl=ID_MAP_TTL)
        elif item.op == "set_state":
            ttl = None
            if p.get("expires_at") is not None:
                ttl = float(p["expires_at"]) - time.time()
                if ttl <= 0:
                    return True  # it expired while queued: nothing to deliver
            self._set_state_cloud(p["key"], p.get("value"), ttl)
        elif item.op == "link":
            self._link_cloud(p["src"], p["dst"], p["edge_type"], float(p["weight"]))
        elif item.op == "feedback":
            self._cloud(lambda c: c.feedback(ctx, self._cloud_id(p["id"]), bool(p["helpful"])))
        elif item.op == "forget":
            self._cloud(lambda c: c.forget(ctx, memory_id=self._cloud_id(p["id"])))
        else:
            return False
        return True

    def _cloud_id(self, id: str) -> str:
        """A failover write's external id → its Cloud memory id, once replayed; else `id`."""
        if id in self._ids:
            return self._ids[id]
        local = self._local(create=False)
        mapped = local.get_state(ID_MAP_PREFIX + id) if local is not None else None
        if isinstance(mapped, str) and mapped:
            self._ids[id] = mapped
            return mapped
        return id

    # ------------------------------------------------------------------ MemoryClient

    def remember(
        self,
        summary: str,
        content: str,
        type: str,
        tags: Sequence[str] = (),
        importance: float = 0.5,
        details: dict[str, Any] | None = None,
        *,
        external_id: str | None = None,
    ) -> str:
        """Store a memory; returns the Cloud memory id (during an outage: the local store's id,
        which later calls map to the Cloud id once the write has been replayed).

        With `external_id` the write is an upsert (`update_memory`), so writing the same
        memory again (a re-run after a kill) updates it instead of adding a second one."""
        importance = _check_memory_fields(summary, content, type, importance)
        if details is not None and not isinstance(details, dict):
            raise MemoryStoreError("details must be a JSON object")
        tag_list = list(dict.fromkeys(str(t).strip() for t in tags if str(t).strip()))
        payload = {
            "summary": summary, "content": content, "type": type.strip(), "tags": tag_list,
            "importance": importance, "details": details,
        }  # fmt: skip

        def cloud() -> str:
            if external_id:
                answer = self._cloud(
                    lambda c: c.update_memory(
                        self.context_id, external_id=external_id, summary=summary, content=content,
                        type=type.strip(), importance=importance, tags=tag_list, details=details,
                    )  # fmt: skip
                )
            else:
                answer = self._cloud(
                    lambda c: c.remember(
                        self.context_id,
                        summary,
                        content,
                        type.strip(),
                        importance=importance,
                        tags=tag_list,
                        details=details,
                    )  # fmt: skip
                )
            memory_id = answer.get("memory_id") if isinstance(answer, dict) else None
            if not memory_id:
                raise MemoryStoreError("Memory Cloud accepted the memory but returned no memory_id")
            return str(memory_id)

        def local_effect(local: LocalMemory, external_id: str) -> str:
            # The caller gets the local id, which degraded reads report too; the replay maps it
            # (and the external id) to the Cloud memory id.
            local_id = local.remember(
                summary, content, type.strip(), tag_list, importance, details, external_id=external_id
            )
            payload["local_id"] = local_id
            return local_id

        try:
            return self._write("remember", payload, cloud, local_effect, external_id)
        except NotFoundInCloud:
            raise self._context_missing() from None

    def recall(self, query: str, k: int = 5, filters: dict[str, Any] | None = None) -> list[Memory]:
        """The `k` best matches, best first; content is read with `reference` (recall has none)."""
        if not isinstance(query, str) or not query.strip() or k <= 0:
            return []
        k = min(int(k), 100)
        server_filters, several = _cloud_filters(filters)
        ask = min(100, k * 4) if several else k

        async def go(c: KaguraClient) -> list[Memory]:
            answer = await c.recall(context_id=self.context_id, query=query, k=ask, filters=server_filters)
            results = answer.get("results") if isinstance(answer, dict) else None
            hits = [h for h in (results or []) if isinstance(h, dict) and h.get("memory_id")]
            if several:
                hits = [h for h in hits if h.get("type") in several]
            hits = hits[:k]
            refs = await asyncio.gather(
                *(c.reference(self.context_id, str(h["memory_id"])) for h in hits), return_exceptions=True
            )
            from kagura_memory.exceptions import KaguraNotFoundError

            found: list[Memory] = []
            for hit, ref in zip(hits, refs, strict=True):
                if isinstance(ref, KaguraNotFoundError):
                    continue  # deleted between recall and reference
                if isinstance(ref, BaseException):
                    raise ref
                memory = ref.get("memory") if isinstance(ref, dict) else None
                if isinstance(memory, dict):
                    found.append(_to_memory(memory, hit))
            found.sort(key=lambda m: m.score, reverse=True)
            return found

        try:
            return self._read(lambda: self._cloud(go), lambda local: local.recall(query, k, filters), [])
        except NotFoundInCloud:
            raise self._context_missing() from None

    def reference(self, id: str) -> Memory | None:
        """The memory with this id (content included), or None."""

        def cloud() -> Memory | None:
            try:
                answer = self._cloud(lambda c: c.reference(self.context_id, self._cloud_id(id)))
            except NotFoundInCloud:
                self._check_context()
                return None
            except Refused as exc:
                if exc.error_code in ("invalid_memory_id_format", "memory_id_required"):
                    return None
                raise
            memory = answer.get("memory") if isinstance(answer, dict) else None
            return _to_memory(memory) if isinstance(memory, dict) else None

        return self._read(cloud, lambda local: local.reference(id), None)

    def forget(self, id: str) -> bool:
        """Delete a memory. False when Cloud had none (True while queued during an outage)."""

        def cloud() -> bool:
            try:
                answer = self._cloud(lambda c: c.forget(self.context_id, memory_id=self._cloud_id(id)))
            except NotFoundInCloud:
                self._check_context()
                return False
            except Refused as exc:
                if exc.error_code == "invalid_memory_id_format":
                    return False
                raise
            return int(_number(answer.get("deleted_count") if isinstance(answer, dict) else 0)) > 0

        def local_effect(local: LocalMemory, _external_id: str) -> bool:
            local.forget(id)
            return True

        return self._write("forget", {"id": id}, cloud, local_effect)

    def _link_cloud(self, src: str, dst: str, edge_type: str, weight: float) -> None:
        kind = edge_type if edge_type in CLOUD_EDGE_TYPES else "related_to"
        source, target = self._cloud_id(src), self._cloud_id(dst)
        try:
            self._cloud(lambda c: c.create_edge(self.context_id, source, target, kind, weight, 1.0))
        except NotFoundInCloud:
            self._check_context()
            raise NotFoundInCloud(f"cannot link: no memory with id {src} or {dst}") from None

    def link(self, src: str, dst: str, edge_type: str = "related_to", weight: float = 1.0) -> None:
        """Add or strengthen the edge src → dst (Cloud keeps the larger weight, 0..3). Edge types
        Cloud does not know are stored as `related_to`."""
        if src == dst:
            raise MemoryStoreError("cannot link a memory to itself")
        if not 0.0 <= float(weight) <= 3.0:
            raise MemoryStoreError(f"edge weight must be between 0 and 3, not {weight}")
        payload = {"src": src, "dst": dst, "edge_type": edge_type, "weight": float(weight)}
        self._write("link", payload, lambda: self._link_cloud(src, dst, edge_type, float(weight)),
                    lambda _local, _external_id: None)  # fmt: skip

    def explore(self, id: str, depth: int = 2) -> list[Related]:
        """Memories reachable from `id` within `depth` hops (Cloud's `exploration.related_memories`)."""
        depth = min(int(depth), MAX_EXPLORE_DEPTH)
        if depth < 1:
            return []

        def cloud() -> list[Related]:
            try:
                answer = self._cloud(
                    lambda c: c.explore(self.context_id, self._cloud_id(id), depth=depth, min_weight=0.05)
                )
            except NotFoundInCloud:
                self._check_context()
                return []
            except Refused as exc:
                if exc.error_code == "invalid_memory_id_format":
                    return []
                raise
            exploration = answer.get("exploration") if isinstance(answer, dict) else None
            if not isinstance(exploration, dict):  # the REST shape has no wrapper
                exploration = answer if isinstance(answer, dict) else {}
            rows = exploration.get("related_memories") or []
            related = [r for r in (_related(row) for row in rows) if r is not None]
            return sorted(related, key=lambda r: (r.hop, -r.weight))

        return self._read(cloud, lambda local: local.explore(id, depth), [])

    def feedback(self, id: str, helpful: bool) -> None:
        """Record whether a memory helped (Cloud's append-only `helpful` signal)."""

        def cloud() -> None:
            try:
                self._cloud(lambda c: c.feedback(self.context_id, self._cloud_id(id), bool(helpful)))
            except NotFoundInCloud:
                self._check_context()
                raise MemoryStoreError(f"feedback: no memory with id {id}") from None
            except Refused as exc:
                if exc.error_code in ("not_found", "invalid_memory_id_format"):
                    raise MemoryStoreError(f"feedback: no memory with id {id}") from None
                raise

        self._write(
            "feedback", {"id": id, "helpful": bool(helpful)}, cloud, lambda _local, _external_id: None
        )

    def _set_state_cloud(self, key: str, value: Any, ttl: float | None) -> None:
        if value is None:
            value, ttl = TOMBSTONE, TOMBSTONE_TTL
        seconds = None if ttl is None else max(1, math.ceil(ttl))
        try:
            self._cloud(lambda c: c.set_state(self.context_id, key, value, ttl_seconds=seconds))
        except NotFoundInCloud:
            raise self._context_missing() from None

    def set_state(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a JSON value under `key` (None deletes); with `ttl` seconds it expires."""
        if not key:
            raise MemoryStoreError("a state key must be non-empty")
        if ttl is not None and ttl <= 0:
            raise MemoryStoreError(f"state ttl must be positive, not {ttl}")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise MemoryStoreError(f"state {key!r}: value is not JSON-serialisable ({exc})") from None
        expires_at = None if ttl is None else time.time() + float(ttl)

        def cloud() -> None:
            self._set_state_cloud(key, value, ttl)
            self._mirror(key, value, ttl)

        def local_effect(local: LocalMemory, _external_id: str) -> None:
            local.set_state(key, value, ttl)

        payload = {"key": key, "value": value, "expires_at": expires_at}
        self._write("set_state", payload, cloud, local_effect)

    def _mirror(self, key: str, value: Any, ttl: float | None) -> None:
        """Keep a local copy of Cloud state, so a later outage in this job can still resume."""
        if not self._mirror_state or self._local_factory is None and self._local_store is None:
            return
        try:
            local = self._local(create=True)
            if local is not None:
                local.set_state(key, value, ttl)
        except MemoryStoreError:
            self._mirror_state = False  # an optimisation only: never fail a Cloud write over it

    def get_state(self, key: str) -> Any | None:
        """The value under `key`, or None when absent, expired or deleted."""

        def cloud() -> Any | None:
            try:
                answer = self._cloud(lambda c: c.get_state(self.context_id, key))
            except NotFoundInCloud:
                raise self._context_missing() from None
            if not isinstance(answer, dict) or answer.get("found") is False:
                return None
            value = answer.get("value")
            return None if value == TOMBSTONE else value

        return self._read(cloud, lambda local: local.get_state(key), None)

    def delete_state(self, key: str) -> bool:
        """Remove `key`. False when it was absent."""
        with self._lock:
            live = self.get_state(key) is not None
            self.set_state(key, None)
            return live

    def list_states(self, prefix: str = "") -> dict[str, Any]:
        """Every live state whose key starts with `prefix` (Cloud `get_state` without a key)."""

        def cloud() -> dict[str, Any]:
            try:
                answer = self._cloud(lambda c: c.get_state(self.context_id))
            except NotFoundInCloud:
                raise self._context_missing() from None
            states = answer.get("states") if isinstance(answer, dict) else None
            if not isinstance(states, dict):
                return {}
            return {
                k: v
                for k, v in sorted(states.items())
                if k.startswith(prefix) and v is not None and v != TOMBSTONE
            }

        return self._read(cloud, lambda local: local.list_states(prefix), {})

    # ------------------------------------------------------------------ export and stats

    def iter_memories(self) -> Iterator[Memory]:
        """Every memory of the context, oldest first, content read with `reference` (for
        `memory export`). Needs Cloud: an export never silently falls back to a partial copy."""
        with self._lock:
            try:
                rows = self._online(self._list_all)
            except Unreachable as exc:
                raise MemoryStoreError(
                    f"Memory Cloud unreachable ({exc.reason}): an export needs Cloud"
                ) from None
        for start in range(0, len(rows), EXPORT_BATCH):
            batch = [r[1] for r in rows[start : start + EXPORT_BATCH]]
            yield from self._reference_many(batch)

    def _list_all(self) -> list[tuple[str, str]]:
        rows: dict[str, str] = {}
        offset = 0
        while True:
            try:
                page = self._cloud(
                    lambda c, o=offset: c.list_memories(
                        context_id=self.context_id, limit=EXPORT_PAGE, offset=o
                    )
                )
            except MemoryStoreError as exc:
                if isinstance(exc, MemoryAuthError):
                    raise
                self._check_context()  # a REST 404 for a missing context reads as a bad URL
                raise MemoryStoreError(f"memory export: {exc}", hint=exc.hint) from None
            for item in page.memories:
                rows.setdefault(item.id, item.created_at.isoformat())
            offset += len(page.memories)
            if not page.has_more or not page.memories:
                break
        return sorted(((created, mid) for mid, created in rows.items()))

    def _reference_many(self, ids: list[str]) -> list[Memory]:
        async def go(c: KaguraClient) -> list[Any]:
            return await asyncio.gather(
                *(c.reference(self.context_id, i) for i in ids), return_exceptions=True
            )

        from kagura_memory.exceptions import KaguraNotFoundError

        with self._lock:
            try:
                answers = self._cloud(go)
            except Unreachable as exc:
                self._mark_down(exc)
                raise MemoryStoreError(f"Memory Cloud unreachable ({exc.reason}) during the export") from None
        out = []
        for answer in answers:
            if isinstance(answer, KaguraNotFoundError):
                continue  # deleted while exporting
            if isinstance(answer, BaseException):
                raise MemoryStoreError(f"memory export: {first_line(answer)}")
            memory = answer.get("memory") if isinstance(answer, dict) else None
            if isinstance(memory, dict):
                out.append(_to_memory(memory))
        return out

    def stats(self) -> dict[str, Any]:
        """Counts for `memory stats`: the context on Cloud, plus the outbox still to replay."""

        def cloud() -> dict[str, Any]:
            try:
                info = self._cloud(lambda c: c.get_context_info(self.context_id, include_details=False))
            except NotFoundInCloud:
                raise self._context_missing() from None
            stats = info.stats
            return {
                "backend": "cloud",
                "url": proc.redact(self.mcp_url),
                "workspace_id": self.workspace_id,
                "context_id": self.context_id,
                "context_name": info.context.name,
                "count": stats.total_memories if stats else None,
                "credential": self.source,
            }

        def degraded(local: LocalMemory) -> dict[str, Any]:
            return {**local.stats(), "backend": "cloud (unreachable: local store)"}

        result = self._read(cloud, degraded, {"backend": "cloud (unreachable)", "count": None})
        local = self._local(create=False)
        result["outbox_pending"] = len(local.outbox_pending()) if local is not None else 0
        return result

    # ------------------------------------------------------------------ lifecycle

    def _report(self) -> None:
        """The one warning line of an outage, printed once (at close, or at exit)."""
        kept, reads = self._kept, self._local_reads
        if not kept and not reads:
            return
        self._kept = self._local_reads = 0
        reason = self._reason or "unreachable"
        if kept:
            line = f"Memory Cloud unreachable ({reason}); {kept} write(s) kept locally and will be replayed"
            if reads:
                line += f"; {reads} read(s) answered from the local store"
        else:
            line = f"Memory Cloud unreachable ({reason}); {reads} read(s) answered from the local store"
        self._warn(line)

    def close(self) -> None:
        """Print the outage warning (if any), close the SDK client, the loop and the local store."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            atexit.unregister(self._report)
            self._report()
            try:
                self._loop.run(lambda: self._client.close())
            except Exception:  # closing a dead connection pool must not fail the command
                pass
            self._loop.close()
            if self._owns_local and self._local_store is not None:
                self._local_store.close()
                self._local_store = None

    def __enter__(self) -> CloudMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cloud(
    config: Config,
    *,
    api_key: str | None = None,
    local: LocalMemory | None = None,
    **options: Any,
) -> CloudMemory:
    """The Cloud backend for `config`, failing over to `open_local(config)` (or `local`).

    The key: `api_key`, else `$KAGURA_API_KEY`, else the SDK's own profile resolution.
    `options` go to `CloudMemory` (retry, sleep, timeout, cooldown, warn, note).
    """
    from kagura_engineer.memory.local import local_path, open_local

    if not config.context_id:
        raise ConfigError("memory_backend 'cloud' needs context_id in repo.yaml")
    key_source = "the API key given to open_cloud" if api_key else None
    if not api_key:
        env_key = os.environ.get("KAGURA_API_KEY", "").strip()
        if env_key:
            api_key, key_source = env_key, "KAGURA_API_KEY"
    return CloudMemory(
        mcp_url=cloud_mcp_url(config.memory_cloud_url, config.workspace_id),
        context_id=config.context_id,
        workspace_id=config.workspace_id,
        api_key=api_key,
        key_source=key_source,
        local=local,
        local_factory=None if local is not None else (lambda: open_local(config)),
        local_file=None if local is not None else local_path(config),
        **options,
    )
