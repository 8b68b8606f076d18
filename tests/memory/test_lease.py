"""Leases: one job per target; a dead, finished or expired holder is taken over at once."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from kagura_engineer.errors import BusyError
from kagura_engineer.memory.lease import Holder, process_alive, process_start_time
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

from .conftest import python_child

KEY = "run/acme/widgets/issue-42"

HOLDER = """
import sys
from kagura_engineer.memory.lease import Holder
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore
from kagura_engineer.errors import BusyError
path, key, run_id, ttl = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
sys.stdin.readline()  # wait for "go"
mem = LocalMemory(path)
try:
    SavepointStore(mem).acquire(key, Holder.current(run_id), ttl)
    print("WON", flush=True)
except BusyError as exc:
    print("BUSY", exc, flush=True)
mem.close()
sys.stdin.readline()  # hold until told to exit (or killed)
"""


def _holder_child(path: Path, run_id: str, ttl: float = 600, go: bool = True):
    child = python_child(HOLDER, str(path), KEY, run_id, str(ttl))
    if go:
        child.stdin.write("go\n")
        child.stdin.flush()
    return child


def _finish(child) -> None:
    if child.poll() is None:
        child.stdin.write("exit\n")
        child.stdin.flush()
    child.communicate(timeout=30)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "memory.db"
    LocalMemory(path).close()
    return path


def test_holder_current_names_this_process():
    me = Holder.current("777")
    assert me.host == socket.gethostname()
    assert me.pid == os.getpid()
    assert me.run_id == "777"
    assert me.start_time == process_start_time(os.getpid()) is not None
    assert "pid" in me.describe() and "run 777" in me.describe()


def test_holder_current_defaults_to_the_workflow_run(monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "123456")
    assert Holder.current().run_id == "123456"


def test_process_alive_checks_pid_and_start_time():
    me = os.getpid()
    assert process_alive(me)
    assert process_alive(me, process_start_time(me))
    assert not process_alive(me, process_start_time(me) + 1), "a reused pid is not the holder"
    child = python_child("pass")
    child.wait()
    assert not process_alive(child.pid)
    assert not process_alive(0)


def test_a_killed_but_unreaped_process_counts_as_gone():
    child = python_child("import time; time.sleep(60)")
    try:
        start = process_start_time(child.pid)
        assert process_alive(child.pid, start)
        os.kill(child.pid, signal.SIGKILL)
        while process_start_time(child.pid) is not None and process_alive(child.pid, start):
            pass  # the kernel needs a moment to turn it into a zombie
        assert not process_alive(child.pid, start)
    finally:
        child.kill()
        child.wait()


def test_acquire_creates_the_savepoint_and_the_same_holder_may_reacquire(db: Path):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        me = Holder.current("1")
        first = store.acquire(KEY, me, 600)
        assert first.holder == me and not first.expired()
        again = store.acquire(KEY, me, 1200)
        assert again.acquired_at == first.acquired_at and again.expires_at > first.expires_at
        sp = store.load(KEY)
        assert sp is not None and sp.lease == again


def test_a_live_holder_in_another_process_makes_us_busy(db: Path):
    child = _holder_child(db, "run-a")
    try:
        assert child.stdout.readline().startswith("WON")
        with LocalMemory(db) as mem, pytest.raises(BusyError) as exc:
            SavepointStore(mem).acquire(KEY, Holder.current("run-b"), 600)
        message = str(exc.value)
        assert f"pid {child.pid}" in message and "run run-a" in message
        assert socket.gethostname() in message and "until 20" in message
        assert exc.value.exit_code == 2
    finally:
        _finish(child)


def test_two_processes_racing_for_one_target_get_one_winner(db: Path):
    children = [_holder_child(db, f"run-{n}", go=False) for n in range(2)]
    try:
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        answers = sorted(child.stdout.readline().split()[0] for child in children)
        assert answers == ["BUSY", "WON"]
    finally:
        for child in children:
            _finish(child)


def test_a_holder_killed_with_sigkill_is_taken_over_at_once(db: Path):
    child = _holder_child(db, "run-dead")
    assert child.stdout.readline().startswith("WON")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        lease = store.acquire(KEY, Holder.current("run-next"), 600)
        assert lease.holder.run_id == "run-next"
        assert "gone" in lease.takeover and f"pid {child.pid}" in lease.takeover


def _foreign(run_id: str = "9001") -> Holder:
    return Holder(host="some-other-runner", pid=4242, start_time=1, run_id=run_id)


def test_an_expired_lease_is_taken_over(db: Path):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        store.acquire(KEY, _foreign(), -1)  # stored already expired
        lease = store.acquire(KEY, Holder.current("mine"), 600)
        assert lease.holder.run_id == "mine" and "expired" in lease.takeover


def test_a_holder_on_another_host_is_respected_until_its_run_is_finished(db: Path):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        store.acquire(KEY, _foreign("9001"), 600)
        me = Holder.current("mine")
        asked: list[str] = []

        def unknown(run_id: str) -> bool | None:
            asked.append(run_id)
            return None

        def broken(run_id: str) -> bool | None:
            raise RuntimeError("GitHub unreachable")

        for answer in (None, unknown, lambda run_id: False, broken):
            with pytest.raises(BusyError, match="some-other-runner"):
                store.acquire(KEY, me, 600, is_run_finished=answer)
        assert asked == ["9001"]
        lease = store.acquire(KEY, me, 600, is_run_finished=lambda run_id: run_id == "9001")
        assert lease.holder == me and "run 9001 has finished" in lease.takeover


def test_save_keeps_the_lease_and_refuses_a_job_that_lost_it(db: Path):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        me = Holder.current("mine")
        store.acquire(KEY, me, 60)
        sp = store.load(KEY)
        renewed = store.renew(KEY, me, 3600)
        sp.phase = "implement"
        saved = store.save(sp)  # carries the old expiry; the stored (renewed) one must win
        assert saved.phase == "implement" and saved.lease == renewed
        with pytest.raises(BusyError):
            store.acquire(KEY, _foreign(), 600)  # impossible while we hold it…
    # …but our lease may have been taken over (e.g. it expired): a foreign holder now has it.
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        mem.update_state(
            "savepoint:" + KEY,
            lambda raw: {**raw, "lease": {**raw["lease"], "holder": _foreign().model_dump()}},
        )
        with pytest.raises(BusyError, match="some-other-runner"):
            store.save(sp)
        with pytest.raises(BusyError):
            store.save(Savepoint(key=KEY, phase="sneaky"))
        assert store.load(KEY).phase == "implement"


def test_renew_and_release_only_by_the_holder(db: Path):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        me = Holder.current("mine")
        other = _foreign()
        with pytest.raises(BusyError):
            store.renew(KEY, me, 60)
        store.acquire(KEY, me, 60)
        with pytest.raises(BusyError, match="held by"):
            store.renew(KEY, other, 60)
        assert store.release(KEY, other) is False
        assert store.load(KEY).lease.holder == me
        assert store.release(KEY, me) is True
        assert store.load(KEY).lease is None
        assert store.load(KEY) is not None, "release keeps the savepoint"
        assert store.acquire(KEY, other, 60).holder == other
