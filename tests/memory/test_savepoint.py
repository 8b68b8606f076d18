"""Savepoints: versioned documents in the state lane, listed, shown and cleared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.errors import BusyError
from kagura_engineer.jobkey import JobKey
from kagura_engineer.memory.base import MemoryClient
from kagura_engineer.memory.lease import Holder
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import (
    PhaseRecord,
    Savepoint,
    SavepointError,
    SavepointStore,
    check_key,
)

from .conftest import cloud_fixture_module

KEY = "run/acme/widgets/issue-42"


class ProtocolOnly:
    """A real LocalMemory seen only through the `MemoryClient` Protocol: no list_states,
    update_state or delete_state (as a backend without them would be)."""

    def __init__(self, inner: LocalMemory) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("list_states", "update_state", "delete_state", "iter_memories", "remember_many"):
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture(params=["local", "protocol-only", "cloud"])
def memory(request, store: LocalMemory, tmp_path: Path):
    if request.param == "local":
        yield store
    elif request.param == "protocol-only":
        wrapped = ProtocolOnly(store)
        assert isinstance(wrapped, MemoryClient)
        yield wrapped
    else:  # the Cloud adapter against the loopback stand-in (see test_contract.py)
        with cloud_fixture_module().make_cloud_client(tmp_path) as (client, _standin):
            try:
                yield client
            finally:
                client.close()


def _full(key: str = KEY) -> Savepoint:
    return Savepoint(
        key=key,
        phase="checks",
        branch="kagura/42-fix-login",
        base_sha="a" * 40,
        head_sha="b" * 40,
        pr_number=7,
        agent_session_id="sess-1",
        attempts=2,
        cost_usd=1.25,
        verdict="yellow",
        run_id="123",
        phases=[
            PhaseRecord(name="grounded", state="done", seconds=1.5),
            PhaseRecord(name="implement", state="running"),
        ],
        data={"comment_id": 99},
    )


def test_save_then_load_round_trips_every_field(memory):
    store = SavepointStore(memory)
    saved = store.save(_full())
    loaded = store.load(KEY)
    assert loaded == saved
    assert loaded.updated_at is not None
    assert loaded.phases[0].seconds == 1.5 and loaded.data.model_dump() == {"comment_id": 99}
    assert store.load("run/acme/widgets/issue-1") is None


def test_fields_from_a_later_minor_revision_survive_a_round_trip(memory):
    memory.set_state("savepoint:" + KEY, {"version": 1, "key": KEY, "phase": "pr", "review_loops": 3})
    store = SavepointStore(memory)
    sp = store.load(KEY)
    sp.attempts = 1
    store.save(sp)
    assert memory.get_state("savepoint:" + KEY)["review_loops"] == 3


def test_a_newer_version_is_a_clean_error_with_the_way_out(memory):
    memory.set_state("savepoint:" + KEY, {"version": 2, "key": KEY, "phase": "warp"})
    store = SavepointStore(memory)
    with pytest.raises(SavepointError) as exc:
        store.load(KEY)
    assert "version 2, newer" in str(exc.value)
    assert f"savepoint clear {KEY}" in exc.value.hint
    assert exc.value.exit_code == 2
    assert store.clear(KEY) is True
    assert store.load(KEY) is None


@pytest.mark.parametrize(
    "raw",
    [
        "just a string",
        {"key": KEY},
        {"version": "1", "key": KEY},
        {"version": 1, "key": KEY, "attempts": "many"},
    ],
)
def test_unreadable_values_are_clean_errors(memory, raw):
    memory.set_state("savepoint:" + KEY, raw)
    with pytest.raises(SavepointError):
        SavepointStore(memory).load(KEY)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "run",
        "run/acme/widgets",
        "run/acme/widgets/",
        "Run/a/b/c",
        "run/a/b/c/d",
        "run/a b/c/d",
        "x" * 300,
    ],
)
def test_bad_keys_are_refused(memory, key):
    with pytest.raises(SavepointError, match="not a savepoint key"):
        SavepointStore(memory).load(key)


def test_savepoint_key_builds_the_documented_form():
    assert check_key(str(JobKey("run", "acme", "widgets", "issue-42"))) == KEY
    assert check_key(str(JobKey("goal", "acme", "widgets", "v0.3"))) == "goal/acme/widgets/v0.3"
    assert check_key(str(JobKey("goal", "acme", "widgets", "Sprint 3"))) == "goal/acme/widgets/Sprint 3"


def test_list_by_prefix_and_clear(memory):
    store = SavepointStore(memory)
    for key in (KEY, "run/acme/widgets/issue-7", "review/acme/widgets/pr-3", "run/other/repo/issue-1"):
        store.save(Savepoint(key=key, phase="branch"))
    assert [sp.key for sp in store.list("run/acme/")] == [
        "run/acme/widgets/issue-42",
        "run/acme/widgets/issue-7",
    ]
    assert len(store.list()) == 4
    assert store.clear("run/acme/widgets/issue-7") is True
    assert store.clear("run/acme/widgets/issue-7") is False
    assert [sp.key for sp in store.list("run/acme/")] == [KEY]


def test_scan_reports_unreadable_savepoints_without_failing(memory):
    store = SavepointStore(memory)
    store.save(Savepoint(key=KEY))
    memory.set_state("savepoint:run/acme/widgets/issue-9", {"version": 5, "key": "run/acme/widgets/issue-9"})
    if not hasattr(memory, "list_states"):
        memory.set_state("savepoint-index", [KEY, "run/acme/widgets/issue-9"])
    entries = dict(store.scan("run/"))
    assert isinstance(entries[KEY], Savepoint)
    assert isinstance(entries["run/acme/widgets/issue-9"], SavepointError)
    assert [sp.key for sp in store.list("run/")] == [KEY]


def test_clear_refuses_a_live_foreign_lease_unless_forced(memory):
    store = SavepointStore(memory)
    foreign = Holder(host="another-runner", pid=1, start_time=1, run_id="55")
    store.acquire(KEY, foreign, 600)
    with pytest.raises(BusyError, match="another-runner"):
        store.clear(KEY)
    assert store.load(KEY) is not None
    assert store.clear(KEY, force=True) is True
    assert store.load(KEY) is None


def test_clear_of_our_own_or_a_dead_lease_needs_no_force(memory):
    store = SavepointStore(memory)
    store.acquire(KEY, Holder.current("mine"), 600)
    assert store.clear(KEY) is True
    store.acquire(KEY, Holder(host="another-runner", pid=1, start_time=1), -1)  # expired
    assert store.clear(KEY) is True


def test_savepoints_are_visible_as_a_table_in_the_local_file(tmp_path: Path):
    import sqlite3

    path = tmp_path / "m.db"
    with LocalMemory(path) as mem:
        SavepointStore(mem).save(Savepoint(key=KEY, phase="pr"))
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT key, json_extract(value, '$.phase') FROM savepoints").fetchall()
    conn.close()
    assert rows == [(KEY, "pr")]
