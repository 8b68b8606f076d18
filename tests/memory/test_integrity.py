"""An existing memory DB is checked before the store reads it: its schema must be exactly the
store's own (current or an older version it migrates). A foreign trigger, view, table or index,
or an altered table, gets the file deleted with one warning, and the store starts empty."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kagura_engineer.memory.integrity import harden, inspect_schema, restored_db_problem
from kagura_engineer.memory.local import _MIGRATIONS, LocalMemory


def genuine(path: Path, *summaries: str) -> Path:
    with LocalMemory(path, semantic=False) as store:
        for summary in summaries:
            store.remember(summary, f"{summary} (content)", "fact")
        store.set_state("plan", {"step": 1})
    return path


def tamper(path: Path, *statements: str, writable_schema: bool = False) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    if writable_schema:
        conn.execute("PRAGMA writable_schema = ON")
    for statement in statements:
        conn.execute(statement)
    conn.close()


def schema_1(path: Path, summary: str) -> Path:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "INSERT INTO memories (id, summary, content, type, created_at, created_ts, updated_at)"
        " VALUES ('m-1', ?, 'x', 'fact', '2026-01-01T00:00:00.000000Z', 1767225600, '2026-01-01T00:00:00.000000Z')",
        (summary,),
    )
    conn.close()
    return path


def open_store(path: Path) -> tuple[LocalMemory, list[str]]:
    warnings: list[str] = []
    return LocalMemory(path, warn=warnings.append, semantic=False), warnings


def assert_rejected(path: Path, reason: str) -> None:
    store, warnings = open_store(path)
    with store:
        assert warnings == [
            f"the memory DB {path} was rejected ({reason}); deleted it and started with an empty store"
        ]
        assert store.stats()["count"] == 0 and store.list_states() == {}
        store.remember("a fresh start", "after the rejection", "fact")
        assert store.list_states() == {}  # no planted trigger ran on that write
        assert store.stats()["count"] == 1
    assert sorted(p.name for p in path.parent.iterdir() if "corrupt" in p.name) == []  # not kept aside
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'evil%'").fetchone() == (0,)
    conn.close()
    again, warnings = open_store(path)
    again.close()
    assert warnings == []  # warned once: the fresh store is the store's own


@pytest.mark.parametrize(
    ("statements", "writable", "reason"),
    [
        (["CREATE TRIGGER evil AFTER INSERT ON memories BEGIN "
          "INSERT INTO state (key, value, updated_at) VALUES ('pwned', '1', 'now'); END"],
         False, "unexpected trigger 'evil'"),
        (["CREATE VIEW evil_v AS SELECT * FROM memories"], False, "unexpected view 'evil_v'"),
        (["CREATE TABLE evil_t (x)"], False, "unexpected table 'evil_t'"),
        (["CREATE INDEX evil_i ON state(value)"], False, "unexpected index 'evil_i'"),
        (["DROP VIEW savepoints", "CREATE VIEW savepoints AS SELECT key, value, updated_at FROM state"],
         False, "view 'savepoints' differs from the store's own"),
        (["UPDATE sqlite_master SET sql = replace(sql, 'dim INTEGER NOT NULL', "
          "'dim INTEGER NOT NULL, evil TEXT') WHERE name = 'embed_models'"],
         True, "table 'embed_models' differs from the store's own"),
        (["DROP INDEX memories_type"], False, "missing index 'memories_type'"),
    ],
    ids=["trigger", "view", "table", "index", "our view rewritten", "extra column", "missing index"],
)  # fmt: skip
def test_an_existing_db_with_a_foreign_schema_is_deleted_and_replaced(tmp_path, statements, writable, reason):
    path = genuine(tmp_path / "memory.db", "planted memory")
    tamper(path, *statements, writable_schema=writable)
    assert_rejected(path, reason)


def test_the_schema_is_checked_before_quick_check_evaluates_a_planted_check(tmp_path):
    """quick_check evaluates CHECK constraints over every row: a planted CHECK is SQL from the
    file, so it must be refused before that (else the file is 'corrupt' and kept aside)."""
    path = genuine(tmp_path / "memory.db", "planted memory")
    tamper(
        path,
        "UPDATE sqlite_master SET sql = replace(sql, 'value TEXT NOT NULL', "
        "'value TEXT NOT NULL CHECK (length(value) < 0)') WHERE name = 'state'",
        writable_schema=True,
    )
    assert_rejected(path, "table 'state' differs from the store's own")


def test_an_old_schema_with_a_foreign_trigger_is_rejected_too(tmp_path):
    path = schema_1(tmp_path / "memory.db", "an old memory")
    tamper(path, "CREATE TRIGGER evil_old AFTER DELETE ON edges BEGIN DELETE FROM memories; END")
    assert_rejected(path, "unexpected trigger 'evil_old'")


def test_a_schema_version_that_does_not_match_the_tables_is_rejected(tmp_path):
    path = genuine(tmp_path / "memory.db", "mislabelled")
    tamper(path, "UPDATE schema_version SET version = 1")
    assert_rejected(path, "schema_version says 1 but the tables are version 3")


def test_an_old_schema_is_accepted_migrated_and_its_memories_survive(tmp_path):
    path = schema_1(tmp_path / "memory.db", "the release branch is cut on Thursdays")
    store, warnings = open_store(path)
    with store:
        assert [m.summary for m in store.recall("release branch")] == [
            "the release branch is cut on Thursdays"
        ]
        assert store.stats()["schema_version"] == 3
    assert warnings == []


def test_the_stores_own_db_with_statistics_is_accepted(tmp_path):
    path = genuine(tmp_path / "memory.db", *(f"memory {i}" for i in range(20)))
    tamper(path, "ANALYZE")
    store, warnings = open_store(path)
    with store:
        assert store.stats()["count"] == 20 and store.get_state("plan") == {"step": 1}
    assert warnings == []


def test_store_connections_are_hardened(tmp_path):
    store, _ = open_store(tmp_path / "memory.db")
    with store:
        assert store._conn.execute("PRAGMA cell_size_check").fetchone()[0] == 1


def test_a_hardened_connection_runs_no_virtual_table_from_the_files_own_sql(tmp_path):
    """trusted_schema=OFF: a view or trigger in the file may not reach FTS5 (not innocuous)."""
    path = genuine(tmp_path / "memory.db", "x")
    tamper(path, "CREATE VIEW evil_fts AS SELECT * FROM memories_fts")
    conn = sqlite3.connect(path)
    harden(conn)
    with pytest.raises(sqlite3.OperationalError, match="unsafe use of virtual table"):
        conn.execute("SELECT * FROM evil_fts").fetchall()
    assert inspect_schema(conn).problem == "unexpected view 'evil_fts'"
    conn.close()


def test_restored_db_problem_wants_a_non_empty_sound_store(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert restored_db_problem(empty) == "an empty database, not a memory store"
    assert restored_db_problem(genuine(tmp_path / "memory.db", "fine")) is None
    newer = genuine(tmp_path / "newer.db", "from the future")
    tamper(newer, "UPDATE schema_version SET version = 7")
    assert restored_db_problem(newer) == "schema version 7 is newer than this kagura-engineer's (3)"
