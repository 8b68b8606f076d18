"""A memory DB that came from elsewhere is data, not trust: its schema is checked before use.

A DB restored from the Actions cache (any job holding the cache token can save an entry) or
found in a checkout (a pull request can commit one) is whatever its last writer made it.
SQLite runs SQL stored in the file — triggers, views, CHECK and DEFAULT expressions, index
expressions — when a connection reads or writes the tables it sits on. So, before any other
statement touches such a file's content:

- the connection starts with `PRAGMA trusted_schema = OFF` (SQL stored in the schema may not
  call functions or virtual tables that have side effects) and `PRAGMA cell_size_check = ON`;
- `sqlite_master` — each object's type, name, table and SQL (whitespace collapsed) — must be
  exactly what the local store creates for a schema version it knows (the current one, or an
  older one it migrates), plus SQLite's statistics tables: no foreign trigger, view, table or
  index, no altered column, CHECK or default;
- `schema_version` must name that same version.

The expected schemas are not a hand-kept list: they are built by running the store's own
migrations into an in-memory database with this SQLite, so FTS5's shadow tables, automatic
indexes and the text `ALTER TABLE … ADD COLUMN` leaves behind are SQLite's own.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from pathlib import Path

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: The order differences are reported in: code-carrying objects first.
_KINDS = ("trigger", "view", "table", "index")

_Row = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class SchemaVerdict:
    """What `inspect_schema` found. `problem` is None exactly when the schema is the store's own."""

    version: int = 0  # the schema version matched (0: an empty database, no objects at all)
    problem: str | None = None
    newer: int | None = None  # a store of a schema version newer than this code knows
    store: bool = True  # False: nothing named like the store's tables (another program's DB)


def harden(conn: sqlite3.Connection) -> None:
    """The first statements on a connection to a file we did not write ourselves."""
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA cell_size_check = ON")


def _normal(sql: str | None) -> str | None:
    return None if sql is None else " ".join(sql.split())


def _rows(conn: sqlite3.Connection) -> set[_Row]:
    return {
        (str(t), str(n), str(tbl), _normal(sql))
        for t, n, tbl, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
    }


@functools.cache
def known_schemas() -> tuple[dict[int, frozenset[_Row]], frozenset[_Row]]:
    """({version: the objects the store creates for it}, the statistics tables SQLite may add)."""
    from kagura_engineer.memory.schema import _MIGRATIONS

    schemas: dict[int, frozenset[_Row]] = {}
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for version in sorted(_MIGRATIONS):
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
            schemas[version] = frozenset(_rows(conn))
        conn.execute("ANALYZE")  # creates sqlite_stat1 (and stat4 where compiled in)
        optional = frozenset(r for r in _rows(conn) - schemas[max(schemas)] if r[1].startswith("sqlite_stat"))
    finally:
        conn.close()
    return schemas, optional


def _difference(found: set[_Row], expected: frozenset[_Row]) -> list[str]:
    """Each way `found` differs from `expected`, most dangerous first."""
    want = {(t, n): r for r in expected for t, n in [r[:2]]}
    have = {(t, n): r for r in found for t, n in [r[:2]]}
    extra = sorted(have.keys() - want.keys(), key=lambda k: (_rank(k[0]), k[1]))
    changed = sorted(
        (k for k in have.keys() & want.keys() if have[k] != want[k]), key=lambda k: (_rank(k[0]), k[1])
    )
    missing = sorted(want.keys() - have.keys(), key=lambda k: (_rank(k[0]), k[1]))
    return (
        [f"unexpected {t} {n!r}" for t, n in extra]
        + [f"{t} {n!r} differs from the store's own" for t, n in changed]
        + [f"missing {t} {n!r}" for t, n in missing]
    )


def _rank(kind: str) -> int:
    return _KINDS.index(kind) if kind in _KINDS else len(_KINDS)


def inspect_schema(conn: sqlite3.Connection) -> SchemaVerdict:
    """Compare the schema of `conn`'s database with the store's own (reads `sqlite_master`,
    and `schema_version` only once that table is known to be the store's plain table).
    Call `harden(conn)` first; sqlite3.DatabaseError means the file is not a database."""
    from kagura_engineer.memory.schema import SCHEMA_VERSION

    found = _rows(conn)
    if not found:
        return SchemaVerdict()
    schemas, optional = known_schemas()
    names = {r[1] for r in found}
    if not names & {"schema_version", "memories"}:
        return SchemaVerdict(problem="not a kagura-engineer memory store", store=False)
    core = found - optional
    ranked = sorted(schemas, key=lambda v: (len(_difference(core, schemas[v])), -v))
    best = ranked[0]
    problems = _difference(core, schemas[best])
    version_table = next(r for r in schemas[1] if r[1] == "schema_version")
    recorded = None
    if version_table in found:  # the store's plain table: reading it runs no stored SQL
        recorded = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if isinstance(recorded, int) and recorded > SCHEMA_VERSION:
        return SchemaVerdict(
            problem=f"schema version {recorded} is newer than this kagura-engineer's ({SCHEMA_VERSION})",
            newer=recorded,
        )
    if problems:
        more = f" and {len(problems) - 1} more difference(s)" if len(problems) > 1 else ""
        return SchemaVerdict(problem=f"{problems[0]}{more}")
    if recorded != best:
        return SchemaVerdict(problem=f"schema_version says {recorded!r} but the tables are version {best}")
    return SchemaVerdict(version=best)


def restored_db_problem(path: Path) -> str | None:
    """None when the file at `path` is a memory store of a known schema version that passes
    `PRAGMA integrity_check`; else why it must not be used. The schema is checked first."""
    try:
        conn = sqlite3.connect(str(path), timeout=15, isolation_level=None)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        harden(conn)
        verdict = inspect_schema(conn)
        if verdict.problem is None and verdict.version == 0:
            return "an empty database, not a memory store"
        if verdict.problem is not None:
            return verdict.problem
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        return _first_line(exc)
    finally:
        conn.close()
    if rows and rows[0][0] == "ok":
        return None
    return "integrity check: " + ("; ".join(str(r[0]) for r in rows[:3]) or "no answer")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def discard(path: Path) -> None:
    """Delete a rejected database and its companions (never kept beside the workspace's DB)."""
    for name in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        Path(name).unlink(missing_ok=True)
