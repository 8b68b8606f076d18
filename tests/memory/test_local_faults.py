"""The local store's files under stress: corruption, read-only, foreign or newer files, and
two processes writing at once."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from kagura_engineer.errors import MemoryStoreError
from kagura_engineer.memory.local import LocalMemory

from .conftest import python_child


def _fill(path: Path, n: int) -> None:
    with LocalMemory(path) as mem:
        mem.remember_many(
            {"summary": f"Memory number {n} with some words", "content": "x" * 300, "type": "note"}
            for n in range(n)
        )


def test_a_file_that_is_not_a_database_is_moved_aside_with_a_warning(tmp_path: Path):
    path = tmp_path / "memory.db"
    garbage = b"this is not sqlite at all\n" * 200
    path.write_bytes(garbage)
    warnings: list[str] = []
    with LocalMemory(path, warn=warnings.append) as mem:
        mem.remember("Fresh start after corruption", "x", "note")
        assert mem.stats()["count"] == 1
    aside = list(tmp_path.glob("memory.db.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == garbage, "the corrupt file must be kept, byte for byte"
    assert len(warnings) == 1 and aside[0].name in warnings[0] and "corrupt" in warnings[0]


def test_a_damaged_database_is_moved_aside(tmp_path: Path):
    path = tmp_path / "memory.db"
    _fill(path, 400)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    for offset in range(2 * page, 5 * page):  # trash b-tree pages after the header page
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    warnings: list[str] = []
    with LocalMemory(path, warn=warnings.append) as mem:
        assert mem.stats()["count"] == 0
    assert len(list(tmp_path.glob("memory.db.corrupt-*"))) == 1
    assert warnings


def test_the_default_warning_goes_to_stderr(tmp_path: Path, capsys):
    path = tmp_path / "memory.db"
    path.write_bytes(b"\x00garbage" * 100)
    LocalMemory(path).close()
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "moved it aside" in err


def test_a_read_only_file_is_one_clean_error_and_stays_untouched(tmp_path: Path):
    path = tmp_path / "memory.db"
    _fill(path, 3)
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        with pytest.raises(MemoryStoreError) as exc:
            LocalMemory(path)
        assert "read-only" in str(exc.value)
        assert "\n" not in str(exc.value)
        assert path.read_bytes() == before
        assert not list(tmp_path.glob("*.corrupt-*"))
    finally:
        path.chmod(0o644)


def test_a_directory_path_is_a_clean_error(tmp_path: Path):
    (tmp_path / "memory.db").mkdir()
    with pytest.raises(MemoryStoreError, match="is a directory"):
        LocalMemory(tmp_path / "memory.db")


def test_a_foreign_sqlite_database_is_refused_not_modified(tmp_path: Path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(MemoryStoreError, match="not a kagura-engineer memory store"):
        LocalMemory(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"invoices"}


def test_a_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "memory.db"
    _fill(path, 1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(MemoryStoreError, match="schema version 99, newer"):
        LocalMemory(path)


def test_an_empty_file_becomes_a_store(tmp_path: Path):
    path = tmp_path / "memory.db"
    path.touch()
    with LocalMemory(path) as mem:
        mem.remember("Stored in a file that was empty", "x", "note")
        assert mem.stats()["schema_version"] == 3


def test_leftovers_of_a_killed_creator_are_swept(tmp_path: Path):
    child = python_child("pass")
    child.wait()
    stale = tmp_path / f".memory.db.tmp-{child.pid}-deadbeef"
    stale.write_bytes(b"half-built")
    LocalMemory(tmp_path / "memory.db").close()
    assert not stale.exists()


WRITER = """
import sys
from kagura_engineer.memory.local import LocalMemory
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
mem = LocalMemory(path)
for i in range(n):
    mem.remember(f"writer {tag} memory {i}", f"content {tag} {i}", "note", tags=[tag])
    mem.set_state(f"state/{tag}/{i}", i)
mem.close()
print("done")
"""


@pytest.mark.parametrize("exists", [True, False], ids=["existing-file", "both-create-it"])
def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path, exists: bool):
    path = tmp_path / "memory.db"
    if exists:
        LocalMemory(path).close()
    n = 150
    writers = [python_child(WRITER, str(path), tag, str(n)) for tag in ("a", "b")]
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    for w in writers:
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        assert out.strip() == "done"
    with LocalMemory(path) as mem:
        stats = mem.stats()
        assert stats["count"] == 2 * n
        for tag in ("a", "b"):
            assert len(mem.list_states(f"state/{tag}/")) == n
            found = mem.recall(f"writer {tag} memory 7", k=1, filters={"tags": [tag]})
            assert found[0].summary == f"writer {tag} memory 7"
        assert mem._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_process_can_read_while_one_writes(tmp_path: Path):
    path = tmp_path / "memory.db"
    _fill(path, 10)
    writer = python_child(WRITER, str(path), "w", "100")
    writer.stdin.write("go\n")
    writer.stdin.flush()
    with LocalMemory(path) as mem:
        while writer.poll() is None:
            assert mem.stats()["count"] >= 10
    assert writer.returncode == 0
    assert os.path.getsize(path) > 0


CREATOR = """
import sys
from kagura_engineer.memory.local import LocalMemory
base = sys.argv[1]
for i in range(10_000):
    print(i, flush=True)
    LocalMemory(f"{base}/db{i}/memory.db").close()
"""


def test_a_kill_during_creation_never_leaves_a_half_built_store(tmp_path: Path):
    creator = python_child(CREATOR, str(tmp_path))
    for _ in range(25):
        creator.stdout.readline()
    os.kill(creator.pid, 9)  # somewhere in the middle of building one
    creator.wait()
    paths = sorted(tmp_path.glob("db*/memory.db"))
    assert len(paths) >= 24
    for path in paths:
        warnings: list[str] = []
        with LocalMemory(path, warn=warnings.append) as mem:
            assert mem.stats()["schema_version"] == 3
        assert warnings == []
