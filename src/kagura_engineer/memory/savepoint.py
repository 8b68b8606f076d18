"""Savepoints: where a run, review or goal stands, stored in the backend's state lane.

Key `<kind>/<owner>/<repo>/<target>` (`run/acme/widgets/issue-42`); state key
`savepoint:<key>`. The value is a versioned JSON document (`Savepoint`, version 1). A
savepoint carries a lease so two jobs never drive one target at once: `acquire` gives it to
this process or raises `BusyError` naming the holder; `save` refuses to overwrite a
savepoint whose lease another live holder has.

Atomicity: on a backend with `update_state` (the local store) every read-modify-write is
one SQLite transaction (BEGIN IMMEDIATE). Elsewhere (Cloud has no compare-and-set) it is a
read, a write and a read-back that checks the write stuck — best effort, which the lease
expiry bounds.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kagura_engineer.errors import BusyError, MemoryStoreError
from kagura_engineer.jobkey import JobKey
from kagura_engineer.memory.base import MemoryClient
from kagura_engineer.memory.lease import Holder, Lease, RunFinished, takeover_reason, utcnow

VERSION = 1
STATE_PREFIX = "savepoint:"
INDEX_KEY = "savepoint-index"


class SavepointError(MemoryStoreError):
    """A savepoint that cannot be used as is (bad key, unreadable, or from a newer version)."""

    code = "savepoint"
    exit_code = 2


class SavepointNotFound(MemoryStoreError):
    code = "savepoint-not-found"


class PhaseRecord(BaseModel):
    """One phase of a run as reported in `phases` (`state`: pending|running|done|failed|skipped)."""

    model_config = ConfigDict(extra="allow")

    name: str
    state: str = "pending"
    seconds: float = 0.0


class SavepointData(BaseModel):
    """A command's payload in `Savepoint.data` (`run.state.RunState`, `review.state.ReviewState`, ...).

    Compatible both ways with other versions: unknown fields are kept and written back; a
    field missing from an older savepoint takes its default; a field never set and still at
    its default is not written, so the stored JSON holds what an older reader expects (it
    reads a missing key as that same default).
    """

    model_config = ConfigDict(
        extra="allow", validate_assignment=True, validate_by_name=True, serialize_by_alias=True
    )

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        out = super().model_dump(**kwargs)
        _prune(self, out)
        return out


class AgentRecord(SavepointData):
    """How an agent's turn ended, as a run or a review's fix loop records it."""

    status: str | None = None
    summary: str = ""
    notes: str = ""
    files_changed: list[str] = Field(default_factory=list)
    stopped_by: str | None = None


D = TypeVar("D", bound=SavepointData)


class Savepoint(BaseModel, Generic[D]):
    """Where one target stands. Unknown fields are kept, so an older reader round-trips them.

    `data` is the command's payload: `Savepoint[RunState]` reads it as a `RunState`; a bare
    `Savepoint` (the store's own bookkeeping, `savepoint show`) keeps it as `SavepointData`.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    version: Literal[1] = VERSION
    key: str
    phase: str | None = None
    branch: str | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    pr_number: int | None = None
    agent_session_id: str | None = None
    attempts: int = 0
    cost_usd: float = 0.0
    verdict: Literal["green", "yellow", "red"] | None = None
    run_id: str | None = None
    updated_at: datetime | None = None
    phases: list[PhaseRecord] = Field(default_factory=list)
    data: D = Field(default_factory=dict, validate_default=True)  # type: ignore[assignment]
    lease: Lease | None = None

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        out = super().model_dump(**kwargs)
        _prune(self.data, out.get("data"))
        return out


def check_key(key: str) -> str:
    """`key` if it has the form `<kind>/<owner>/<repo>/<target>`, else SavepointError."""
    try:
        JobKey.parse(key)
    except ValueError:
        raise SavepointError(
            f"not a savepoint key: {key!r}",
            hint="keys look like run/<owner>/<repo>/issue-<N>, review/<owner>/<repo>/pr-<N>, "
            "goal/<owner>/<repo>/<milestone>",
        ) from None
    return key


def parse_savepoint(key: str, raw: Any, model: type[Savepoint[Any]] = Savepoint) -> Savepoint[Any] | None:
    """A stored value → `model` (e.g. `Savepoint[RunState]`); None for a tombstone; SavepointError
    when unusable (a wrong type anywhere, `data` included, makes the whole savepoint unusable)."""
    if raw is None or (isinstance(raw, dict) and raw.get("cleared") is True):
        return None
    if not isinstance(raw, dict):
        raise SavepointError(f"savepoint {key} is not a JSON object", hint=_clear_hint(key))
    version = raw.get("version")
    if version != VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            raise SavepointError(
                f"savepoint {key} has version {version}, newer than this kagura-engineer understands "
                f"({VERSION})",
                hint=f"upgrade kagura-engineer, or discard it: kagura-engineer savepoint clear {key}",
            )
        raise SavepointError(f"savepoint {key} has an unknown version {version!r}", hint=_clear_hint(key))
    try:
        sp = model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise SavepointError(
            f"savepoint {key} is unreadable: {where}: {err.get('msg', 'invalid')}", hint=_clear_hint(key)
        ) from None
    if sp.key != key:
        raise SavepointError(
            f"savepoint stored under {key} names another key ({sp.key})", hint=_clear_hint(key)
        )
    return sp


def _clear_hint(key: str) -> str:
    return f"discard it with: kagura-engineer savepoint clear {key}"


def _dump(sp: Savepoint) -> dict[str, Any]:
    return sp.model_dump(mode="json")


def _prune(value: Any, dumped: Any) -> None:
    """Drop from `dumped` (the dump of `value`) every payload field never set that still holds
    its default, at every depth.

    A pass after `model_dump`, not a pydantic serializer: pydantic turns any exception raised in
    a serializer, KeyboardInterrupt included, into a PydanticSerializationError, and Ctrl-C
    during a save must stay an interrupt (exit 130), not become an internal error."""
    if isinstance(value, SavepointData) and isinstance(dumped, dict):
        for name, info in type(value).model_fields.items():
            key = info.serialization_alias or info.alias or name
            if key not in dumped:
                continue
            field_value = getattr(value, name)
            if name not in value.model_fields_set and field_value == info.get_default(call_default_factory=True):
                del dumped[key]
            else:
                _prune(field_value, dumped[key])
    elif isinstance(value, list | tuple) and isinstance(dumped, list):
        for item, out in zip(value, dumped, strict=False):
            _prune(item, out)
    elif isinstance(value, dict) and isinstance(dumped, dict):
        for k, item in value.items():
            if k in dumped:
                _prune(item, dumped[k])


class _Changed(Exception):
    """The lease changed between the decision and the atomic write (internal: retry)."""


def _busy(key: str, lease: Lease) -> BusyError:
    return BusyError(
        f"{key} is busy: held by {lease.describe()}",
        hint="wait for that job to finish or for the lease to expire; to discard this target's "
        f"savepoint and its lease: kagura-engineer savepoint clear --force {key}",
    )


class SavepointStore:
    """load/save/clear/list savepoints and their leases through a `MemoryClient`."""

    def __init__(self, memory: MemoryClient) -> None:
        self.memory = memory

    # ---------------------------------------------------------------- storage primitives

    def _update(
        self,
        key: str,
        fn: Callable[[Savepoint | None], Savepoint | None],
        model: type[Savepoint[Any]] = Savepoint,
    ) -> Savepoint[Any] | None:
        """Apply `fn` to the stored savepoint and store its result (None clears); the result is
        read back as `model`."""
        state_key = STATE_PREFIX + key

        def raw_fn(raw: Any) -> Any:
            new = fn(parse_savepoint(key, raw))
            return None if new is None else _dump(new)

        update = getattr(self.memory, "update_state", None)
        if callable(update):
            return parse_savepoint(key, update(state_key, raw_fn), model)
        old_raw = self.memory.get_state(state_key)
        new_raw = raw_fn(old_raw)
        if new_raw is None:
            if old_raw is not None:
                self._delete(state_key)
        else:
            self.memory.set_state(state_key, new_raw)
        self._index(key, present=new_raw is not None)
        return parse_savepoint(key, new_raw, model)

    def _delete(self, state_key: str) -> None:
        delete = getattr(self.memory, "delete_state", None)
        if callable(delete):
            delete(state_key)
        else:  # no delete in the Protocol: a tombstone that expires
            self.memory.set_state(state_key, {"version": VERSION, "cleared": True}, ttl=3600)

    def _index(self, key: str, *, present: bool) -> None:
        """Keep the key list for backends that cannot list states by prefix."""
        if callable(getattr(self.memory, "list_states", None)):
            return
        keys = set(self.memory.get_state(INDEX_KEY) or [])
        if (key in keys) == present:
            return
        keys = keys | {key} if present else keys - {key}
        self.memory.set_state(INDEX_KEY, sorted(keys))

    # ---------------------------------------------------------------- savepoints

    def load(self, key: str, data: type[D] | None = None) -> Savepoint[Any] | None:
        """The savepoint under `key` (its payload read as `data`, e.g. `RunState`), or None.
        SavepointError when it is unusable."""
        check_key(key)
        model = Savepoint[data] if data is not None else Savepoint  # type: ignore[valid-type]
        return parse_savepoint(key, self.memory.get_state(STATE_PREFIX + key), model)

    def save(self, sp: Savepoint[D]) -> Savepoint[D]:
        """Store `sp` (stamping `updated_at`) and return what was stored, read back as `sp`'s type.

        The stored lease is kept as it is (leases change only through acquire, renew and
        release). BusyError when another holder's lease is active: this job lost the target.
        """
        check_key(sp.key)
        mine = sp.lease.holder if sp.lease else None

        def fn(current: Savepoint | None) -> Savepoint:
            lease = current.lease if current else None
            if lease is not None and lease.holder != mine and not lease.expired():
                raise _busy(sp.key, lease)
            return sp.model_copy(update={"lease": lease, "updated_at": utcnow()})

        stored = self._update(sp.key, fn, type(sp))
        assert stored is not None
        return stored

    def clear(self, key: str, *, force: bool = False) -> bool:
        """Delete the savepoint (and its lease). False when there was none.

        An active lease whose holder is still alive makes this BusyError unless `force`.
        """
        check_key(key)
        try:
            self.load(key)
        except SavepointError:
            # Unreadable (e.g. written by a newer version): its lease cannot be judged, and
            # discarding it is what the error's hint told the user to do.
            existed = self.memory.get_state(STATE_PREFIX + key) is not None
            self._delete(STATE_PREFIX + key)
            self._index(key, present=False)
            return existed
        existed = False

        def fn(current: Savepoint | None) -> None:
            nonlocal existed
            existed = current is not None
            lease = current.lease if current else None
            if (
                lease
                and not force
                and takeover_reason(lease) is None
                and lease.holder != Holder.current(lease.holder.run_id, lease.holder.run_attempt)
            ):
                raise _busy(key, lease)
            return None

        self._update(key, fn)
        return existed

    def scan(self, prefix: str = "") -> list[tuple[str, Savepoint | SavepointError]]:
        """Every stored savepoint whose key starts with `prefix`, unreadable ones as errors."""
        list_states = getattr(self.memory, "list_states", None)
        if callable(list_states):
            raw = {k[len(STATE_PREFIX) :]: v for k, v in list_states(STATE_PREFIX + prefix).items()}
        else:
            keys = [k for k in (self.memory.get_state(INDEX_KEY) or []) if str(k).startswith(prefix)]
            raw = {k: self.memory.get_state(STATE_PREFIX + k) for k in keys}
        out: list[tuple[str, Savepoint | SavepointError]] = []
        for key in sorted(raw):
            try:
                sp = parse_savepoint(key, raw[key])
            except SavepointError as exc:
                out.append((key, exc))
                continue
            if sp is not None:
                out.append((key, sp))
        return out

    def list(self, prefix: str = "") -> builtins.list[Savepoint]:
        """Readable savepoints whose key starts with `prefix`, by key."""
        return [sp for _key, sp in self.scan(prefix) if isinstance(sp, Savepoint)]

    # ---------------------------------------------------------------- leases

    def acquire(
        self,
        key: str,
        holder: Holder,
        ttl_seconds: float,
        *,
        is_run_finished: RunFinished | None = None,
    ) -> Lease:
        """Take the lease on `key` for `ttl_seconds` (creating the savepoint if needed).

        Succeeds when the lease is free, ours already, expired, or held by a holder that is
        gone (a dead process on this host, an earlier attempt of our own workflow run, or a
        run `is_run_finished` says has finished); otherwise BusyError naming the holder.
        `is_run_finished` is asked outside any lock.
        """
        check_key(key)
        for _attempt in range(5):
            current = self.load(key)
            seen = current.lease if current else None
            takeover: str | None = None
            if seen is not None and seen.holder != holder:
                takeover = takeover_reason(seen, utcnow(), is_run_finished, claimant=holder)
                if takeover is None:
                    raise _busy(key, seen)

            def fn(
                cur: Savepoint | None, seen: Lease | None = seen, takeover: str | None = takeover
            ) -> Savepoint:
                lease = cur.lease if cur else None
                if lease != seen:
                    raise _Changed
                now = utcnow()
                kept = lease.acquired_at if lease is not None and lease.holder == holder else now
                new = Lease(
                    holder=holder,
                    acquired_at=kept,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                    takeover=takeover
                    if takeover
                    else (lease.takeover if lease and lease.holder == holder else None),
                )
                base = cur or Savepoint(key=key)
                return base.model_copy(update={"lease": new, "updated_at": now})

            try:
                stored = self._update(key, fn)
            except _Changed:
                continue
            assert stored is not None and stored.lease is not None
            if not callable(getattr(self.memory, "update_state", None)):
                check = self.load(key)  # no compare-and-set here: verify the write stuck
                if check is None or check.lease is None or check.lease.holder != holder:
                    raise _busy(key, check.lease) if check and check.lease else BusyError(f"{key} is busy")
            return stored.lease
        raise BusyError(f"{key}: the lease kept changing hands; try again")

    def renew(self, key: str, holder: Holder, ttl_seconds: float) -> Lease:
        """Extend our lease to now + `ttl_seconds`. BusyError when it is no longer ours."""
        check_key(key)

        def fn(cur: Savepoint | None) -> Savepoint:
            lease = cur.lease if cur else None
            if cur is None or lease is None or lease.holder != holder:
                if lease is not None:
                    raise _busy(key, lease)
                raise BusyError(f"{key}: this job no longer holds the lease")
            new = lease.model_copy(update={"expires_at": utcnow() + timedelta(seconds=ttl_seconds)})
            return cur.model_copy(update={"lease": new})

        stored = self._update(key, fn)
        assert stored is not None and stored.lease is not None
        return stored.lease

    def release(self, key: str, holder: Holder) -> bool:
        """Drop our lease (the savepoint stays). False when it was not ours (nothing changes)."""
        check_key(key)
        released = False

        def fn(cur: Savepoint | None) -> Savepoint | None:
            nonlocal released
            if cur is None or cur.lease is None or cur.lease.holder != holder:
                raise _NotOurs
            released = True
            return cur.model_copy(update={"lease": None})

        try:
            self._update(key, fn)
        except _NotOurs:
            return False
        return released


class _NotOurs(Exception):
    pass
