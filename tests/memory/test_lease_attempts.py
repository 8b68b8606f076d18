"""Run attempts: a re-run of a failed or cancelled job takes over its own earlier attempt's
lease at once; a live job of another run, or of the same attempt, keeps the target busy."""

from __future__ import annotations

from pathlib import Path

import pytest

from kagura_engineer.errors import BusyError
from kagura_engineer.memory.lease import Holder
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import STATE_PREFIX, SavepointStore

KEY = "run/acme/widgets/issue-42"


def runner(run_id: str, attempt: str, host: str = "some-other-runner", pid: int = 4242) -> Holder:
    """A holder on another machine: only its run and attempt can say it is gone."""
    return Holder(host=host, pid=pid, start_time=1, run_id=run_id, run_attempt=attempt)


@pytest.fixture
def store(tmp_path: Path):
    mem = LocalMemory(tmp_path / "memory.db")
    yield SavepointStore(mem)
    mem.close()


def running(run_id: str) -> bool:
    return False  # GitHub says every run is still in progress


def test_the_next_attempt_of_the_same_run_takes_over_at_once(store):
    store.acquire(KEY, runner("9001", "1"), 3600)
    lease = store.acquire(KEY, runner("9001", "2", host="fresh-runner"), 600, is_run_finished=running)
    assert lease.holder.run_attempt == "2" and lease.holder.host == "fresh-runner"
    assert "attempt 2 of run 9001 takes over from attempt 1" in lease.takeover


def test_the_same_attempt_of_the_same_run_is_busy(store):
    """A matrix sibling: same run, same attempt, alive on another runner."""
    store.acquire(KEY, runner("9001", "2"), 3600)
    with pytest.raises(BusyError, match="run 9001 attempt 2"):
        store.acquire(KEY, runner("9001", "2", host="sibling"), 600, is_run_finished=running)


def test_an_earlier_attempt_never_takes_over_a_later_one(store):
    store.acquire(KEY, runner("9001", "3"), 3600)
    with pytest.raises(BusyError):
        store.acquire(KEY, runner("9001", "2", host="stale"), 600, is_run_finished=running)


def test_a_later_attempt_of_another_run_is_busy_while_that_run_lives(store):
    store.acquire(KEY, runner("9001", "1"), 3600)
    with pytest.raises(BusyError, match="some-other-runner"):
        store.acquire(KEY, runner("9002", "2"), 600, is_run_finished=running)
    lease = store.acquire(KEY, runner("9002", "2"), 600, is_run_finished=lambda run_id: run_id == "9001")
    assert "run 9001 has finished" in lease.takeover


def test_a_lease_written_before_attempts_were_kept_parses_and_counts_as_attempt_1(store):
    old = runner("9001", "1").model_dump()
    del old["run_attempt"]
    store.memory.set_state(STATE_PREFIX + KEY, {
        "version": 1, "key": KEY, "phase": "implement",
        "lease": {"holder": old, "acquired_at": "2030-01-01T00:00:00Z", "expires_at": "2999-01-01T00:00:00Z"},
    })  # fmt: skip
    sp = store.load(KEY)
    assert sp.lease.holder.run_attempt == "" and sp.lease.holder.run_id == "9001"
    with pytest.raises(BusyError):  # attempt 1 (or none) of the same run: the same attempt
        store.acquire(KEY, runner("9001", "", host="sibling"), 600, is_run_finished=running)
    lease = store.acquire(KEY, runner("9001", "2"), 600, is_run_finished=running)
    assert "takes over from attempt 1" in lease.takeover
    assert store.load(KEY).phase == "implement", "the savepoint itself is kept"


def test_holder_current_records_the_run_attempt(monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "9001")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "3")
    me = Holder.current()
    assert (me.run_id, me.run_attempt, me.attempt()) == ("9001", "3", 3)
    assert "run 9001 attempt 3" in me.describe()
    assert Holder.current("local").run_attempt == "3"
    monkeypatch.delenv("GITHUB_RUN_ATTEMPT")
    assert Holder.current().attempt() == 1
