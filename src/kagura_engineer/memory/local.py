"""The local memory backend: one SQLite file (stdlib `sqlite3`), WAL, FTS5.

Layout (schema version 3, recorded in `schema_version`; older files upgrade in place):

- `memories`: one row per memory (`id` a UUID, optional unique `external_id` so the Cloud
  failover can write the same memory under a stable id), with `memories_fts`, an FTS5
  external-content index over summary, content and tags (`porter unicode61`) kept in step
  by triggers;
- `edges`: directed, weighted links between memories (one per pair, max-weight upsert);
- `state`: the key/value lane with an optional expiry (savepoints live here under the
  `savepoint:` prefix; the `savepoints` view shows them);
- `outbox`: writes the Cloud backend could not deliver, replayed later by the Cloud adapter;
- (version 2) per memory its sentence vector (`embedding`, float32 384-d), the hash of the
  model that made it (`embed_hash`; `embed_models` maps hashes to model ids) and the data
  version it was written at (`vec_seq`); `vector_state` holds that version (see
  `memory/vectors.py`).

Vectors. `remember` and `remember_many` (so `memory import`) embed summary, content and
tags with the shipped encoder (`memory/embed.py`) before they write. Memories without a
current vector — written by an older version or where the encoder is unavailable, or made
by another model — are filled at the next recalls, at most `FILL_PER_RECALL` per recall
(about a second), the current query's keyword matches first; FTS5 answers for them
meanwhile. Where numpy/tokenizers are absent, recall is keyword-only with one warning.

Ranking (`recall`). With vectors, the best keyword matches and the nearest memories by
cosine are fused (`memory/hybrid.py`: meaning first, the BM25 score for near-ties, a boost
for exact identifiers such as `E1234`, `src/app/db.py` or `#123`), then scaled by the
fourth root of the importance and recency factors below. The keyword search runs on a
second thread while the query is embedded and the vectors scanned. Keyword-only (and for
the keyword candidates), FTS5 matches any non-stopword query term (OR; user text never
becomes FTS5 syntax), and each match scores

    score = relevance × (0.5 + importance) × (0.8 + 0.2 / (1 + age_days / 30))

where relevance = −bm25(summary ×3, content ×1, tags ×2) (FTS5's bm25 is ≤ 0, better is more
negative). Importance (0..1) scales the score between ×0.5 and ×1.5; recency between ×1.0
(written today) and ×0.8 (old), halfway after 30 days: recency breaks near-ties, it never
buries a clearly better match. For speed, only the best `CANDIDATES` (+20·k) matches by
bm25 are re-ranked (with filters a wider cut, then an exact pass if the filters leave
fewer than k).

Robustness. A new file is built in a temporary file and linked into place, so a kill during
creation never leaves a half-built database; migrations of an existing file run in one
transaction. A file that fails `PRAGMA quick_check` (page-level damage; about 3× cheaper
than integrity_check on open) or is not a database is moved aside as
`<name>.corrupt-<UTC timestamp>` (never deleted) and a fresh database is started, with a
warning. Before any of that, an existing file's schema must be exactly the store's own
(`memory/integrity.py`; the connection starts with `trusted_schema=OFF`): a file with a
foreign trigger, view, table or index, or an altered table, is deleted with a warning and a
fresh database started; another program's database or a newer store's is refused untouched.
A read-only file is a one-line `MemoryStoreError`. Every unit of work is one
transaction; `close()` closes the connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kagura_engineer.errors import MemoryStoreError
from kagura_engineer.memory import hybrid, integrity
from kagura_engineer.memory.base import Memory, Related
from kagura_engineer.memory.hybrid import EMBEDDING, HYBRID, KEYWORD, RANKINGS, Candidate, memory_text
from kagura_engineer.memory.schema import _MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.memory.vectors import TextEncoder, VectorIndex

# The sentence encoder multiplies small matrices, where OpenBLAS's extra threads only spin and
# contend (measured on 2 busy cores: two processes × 150 remembers 29 s → 3.7 s; recall p95
# 670 → 37 ms). Unless the user chose otherwise, numpy — imported later, lazily — starts
# single-threaded.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ENV_PATH = "KAGURA_MEMORY_DB"
#: `0`/`off`/`false`/`no` turns semantic recall off: no vectors written, keyword-only recall.
ENV_SEMANTIC = "KAGURA_MEMORY_SEMANTIC"
VECTOR_DIM = 384
BUSY_TIMEOUT_MS = 15_000
MAX_EXPLORE_DEPTH = 5
MAX_EDGE_WEIGHT = 3.0
#: bm25 column weights: summary, content, tags.
BM25_WEIGHTS = (3.0, 1.0, 2.0)
RECENCY_HALF_DAYS = 30.0
MAX_QUERY_TERMS = 32
#: How many of the best BM25 matches are re-ranked by importance and recency.
CANDIDATES = 200
CANDIDATES_FILTERED = 2000
#: How many of the nearest memories by cosine join the keyword candidates (+20·k).
COSINE_CANDIDATES = 100
#: Lazy filling at recall: at most this many memories, in batches, for about this long.
FILL_PER_RECALL = 64
FILL_BATCH = 16
FILL_SECONDS = 1.0
#: Every column of `memories` but the vector (what a `Memory` is read from).
COLUMNS = "n, id, external_id, summary, content, type, tags, importance, details, created_at, created_ts, updated_at"
#: Rows by number from a JSON list (one parameter however many). CROSS JOIN pins the plan to
#: one primary-key lookup per number: with statistics from when the table was small, SQLite
#: would otherwise scan the whole table (measured: 120 ms instead of 3 ms at 100k rows).
BY_ROW_NUMBER = "FROM json_each(?) AS wanted CROSS JOIN memories m ON m.n = wanted.value WHERE 1"

# sqlite3 primary result codes (Python 3.11 exposes them as `sqlite_errorcode`).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26


#: Words too common to help a match; dropping them keeps 100k-row queries fast.
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its may me might my no not of on or our should so than that the their them then
    there these they this to too us was we were what when where which while who why will with
    would you your about after again all also any because before being both each few more most
    other over same some such only own very just don get got""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class OutboxItem:
    """A write the Cloud backend could not deliver yet (oldest first in `outbox_pending`)."""

    id: int
    op: str
    payload: dict[str, Any]
    external_id: str
    created_at: str


def _stderr_warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


#: Warnings already given in this process (the encoder's absence is said once, not per recall).
_WARNED: set[str] = set()
_ENCODER: dict[str, Any] = {}


def _warn_once(warn: Callable[[str], None], message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warn(message)


_ENCODER_LOCK = threading.Lock()


def _shared_encoder() -> tuple[TextEncoder | None, str | None]:
    """The shipped encoder (loaded once per process), or None and why not (also remembered).

    A load already under way on another thread (`_warm_encoder`) is waited for, not repeated."""
    with _ENCODER_LOCK:
        if "encoder" not in _ENCODER:
            from kagura_engineer.memory import embed

            try:
                _ENCODER["encoder"], _ENCODER["reason"] = embed.get_encoder(), None
            except MemoryStoreError as exc:  # EncoderUnavailable, or unreadable model files
                _ENCODER["encoder"], _ENCODER["reason"] = None, str(exc)
    return _ENCODER["encoder"], _ENCODER["reason"]


def semantic_by_default() -> bool:
    """Whether stores write vectors and recall by meaning unless told (`$KAGURA_MEMORY_SEMANTIC`)."""
    return os.environ.get(ENV_SEMANTIC, "").strip().lower() not in ("0", "off", "false", "no")


def _warm_encoder() -> None:
    """Start loading the shipped encoder on a daemon thread (numpy, weights, tokenizer)."""
    if "encoder" not in _ENCODER and not _ENCODER_LOCK.locked():
        threading.Thread(target=_shared_encoder, name="kagura-encoder", daemon=True).start()


def iso(ts: float) -> str:
    """The canonical timestamp text of this store: UTC, microseconds, `Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """An ISO 8601 timestamp as epoch seconds (naive means UTC). ValueError if unparsable."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def match_expression(query: str) -> str:
    """Free text → an FTS5 OR-query of quoted terms (no FTS syntax from the user survives)."""
    words = [w.lower() for w in _WORD.findall(query)]
    terms = [w for w in words if w not in STOPWORDS and not (len(w) == 1 and w.isalpha())] or words
    unique = list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{w}"' for w in unique)


def _errcode(exc: sqlite3.Error) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def _is_corrupt(exc: sqlite3.Error) -> bool:
    if _errcode(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "file is not a database" in text or "malformed" in text


class _Corrupt(Exception):
    """The file failed its integrity check (internal: triggers the move-aside)."""


class _Rejected(Exception):
    """The file's schema is not the store's own (internal: the file is deleted)."""


class _Background:
    """Run `fn(*args)` on a short-lived thread (or inline when `parallel` is False)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, parallel: bool = True) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if parallel:
            self._thread = threading.Thread(
                target=self._run, args=(fn, args), name="kagura-recall", daemon=True
            )
            self._thread.start()
        else:
            self._run(fn, args)

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._result = fn(*args)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Any:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def _norm_tags(tags: Sequence[str] | str | None) -> list[str]:
    if not tags:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    return list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))


class LocalMemory:
    """`MemoryClient` over one SQLite file. Thread-safe; one connection, closed by `close()`."""

    backend = "local"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        semantic: bool | None = None,
        encoder: TextEncoder | None = None,
        ranking: str = HYBRID,
    ) -> None:
        """`semantic=False` stores no vectors and recalls by keywords, without a warning
        (None: on unless $KAGURA_MEMORY_SEMANTIC says `0`/`off`);
        `encoder` replaces the shipped sentence encoder; `ranking` is one of
        `hybrid.RANKINGS` (the benchmark compares them; `hybrid` is the product's)."""
        if ranking not in RANKINGS:
            raise MemoryStoreError(f"unknown ranking {ranking!r} (one of {', '.join(RANKINGS)})")
        self.path = Path(path).expanduser()
        self._warn = warn or _stderr_warn
        self._clock = clock
        if semantic is None:
            semantic = semantic_by_default()
        self._semantic = semantic
        self._encoder = encoder
        self._ranking = ranking
        self._index: VectorIndex | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open()

    # ---------------------------------------------------------------- opening

    def _open(self) -> sqlite3.Connection:
        self._check_usable()
        try:
            return self._connect_verified()
        except _Rejected as exc:
            integrity.discard(self.path)  # hostile, not damaged: not kept in the workspace
            self._warn(
                f"the memory DB {self.path} was rejected ({exc}); deleted it and started with an empty store"
            )
        except _Corrupt as exc:
            self._set_aside_corrupt(str(exc))
        except sqlite3.Error as exc:
            if not _is_corrupt(exc):
                raise self._translate(exc) from None
            self._set_aside_corrupt(str(exc))
        try:
            return self._connect_verified()
        except (sqlite3.Error, _Corrupt, _Rejected) as exc:
            raise MemoryStoreError(f"{self.path}: cannot start a fresh memory database: {exc}") from None

    def _set_aside_corrupt(self, reason: str) -> None:
        aside = self._move_aside()
        self._warn(
            f"{self.path} was corrupt ({reason}); moved it aside to {aside.name} "
            "and started a fresh memory database"
        )

    def _check_usable(self) -> None:
        path = self.path
        if path.is_dir():
            raise MemoryStoreError(f"{path}: is a directory, not a memory database")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MemoryStoreError(f"{path.parent}: cannot create directory ({exc.strerror})") from None
        from kagura_engineer.scratch import exclude_scratch

        exclude_scratch(path)  # `.kagura/memory.db` in a checkout: keep `git status` clean
        if path.exists():
            # Mode bits, not just access(): root can write anything, but a file whose owner
            # removed every write bit is meant to be read-only.
            if not path.stat().st_mode & 0o222 or not os.access(path, os.W_OK):
                raise MemoryStoreError(
                    f"{path}: memory database is read-only",
                    hint="make it writable (chmod u+w) or point KAGURA_MEMORY_DB elsewhere",
                )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise MemoryStoreError(
                f"{path.parent}: directory is not writable (SQLite needs it for its WAL file)"
            )

    def _connect(self, path: Path, *, verify: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            integrity.harden(conn)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if verify:  # before any other statement reads or writes the file
                self._verify_schema(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_verified(self) -> sqlite3.Connection:
        if not self.path.exists():
            self._create_fresh()
        conn = self._connect(self.path, verify=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if not rows or rows[0][0] != "ok":
                raise _Corrupt(f"integrity check: {rows[0][0] if rows else 'no answer'}")
            _migrate(conn, self.path)
            # The schema is now exactly the store's own. Its FTS5 sync triggers need this:
            # SQLite does not mark FTS5 innocuous, so with it OFF every write fails.
            conn.execute("PRAGMA trusted_schema = ON")
            _refresh_stale_statistics(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _verify_schema(self, conn: sqlite3.Connection) -> None:
        """The file's schema is the store's own (any known version) or the file is empty;
        another program's database or a newer store is refused untouched."""
        verdict = integrity.inspect_schema(conn)
        if verdict.problem is None:
            return
        if not verdict.store:
            raise MemoryStoreError(
                f"{self.path}: an SQLite database, but not a kagura-engineer memory store",
                hint="point local_memory_path or KAGURA_MEMORY_DB at another file",
            )
        if verdict.newer is not None:
            raise MemoryStoreError(
                f"{self.path}: memory database has schema version {verdict.newer}, newer than this "
                f"kagura-engineer understands ({SCHEMA_VERSION})",
                hint="upgrade kagura-engineer",
            )
        raise _Rejected(verdict.problem)

    def _create_fresh(self) -> None:
        """Build the schema in a temporary file, then link it into place (never half-built)."""
        self._sweep_temp_files()
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            conn = self._connect(tmp)
            try:
                _migrate(conn, tmp)
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)  # fails if another process won the race: use theirs
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()

    def _sweep_temp_files(self) -> None:
        """Remove temporary files left by creators that were killed (their pid is gone)."""
        for tmp in self.path.parent.glob(f".{self.path.name}.tmp-*"):
            try:
                pid = int(tmp.name.split(".tmp-", 1)[1].split("-", 1)[0])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists():
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _move_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-journal"):
                companion = Path(f"{self.path}{suffix}")
                if companion.exists():
                    os.replace(companion, Path(f"{aside}{suffix}"))
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}-shm").unlink()
        except OSError as exc:
            raise MemoryStoreError(
                f"{self.path}: corrupt, and it could not be moved aside ({exc.strerror})"
            ) from None
        return aside

    def _translate(self, exc: sqlite3.Error) -> MemoryStoreError:
        code = _errcode(exc)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if code in (_SQLITE_READONLY, _SQLITE_PERM):
            return MemoryStoreError(f"{self.path}: memory database is read-only ({first})")
        if code == _SQLITE_CANTOPEN:
            return MemoryStoreError(f"{self.path}: cannot open the memory database ({first})")
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return MemoryStoreError(
                f"{self.path}: memory database is locked by another process ({first})",
                hint="another kagura-engineer may be writing; retry in a moment",
            )
        if code == _SQLITE_FULL:
            return MemoryStoreError(f"{self.path}: disk full ({first})")
        if _is_corrupt(exc):
            return MemoryStoreError(
                f"{self.path}: memory database is corrupt ({first})",
                hint="it will be moved aside and replaced by a fresh one the next time it is opened",
            )
        return MemoryStoreError(f"{self.path}: SQLite error: {first}")

    # ---------------------------------------------------------------- plumbing

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work: BEGIN IMMEDIATE … COMMIT, rolled back on error. Reentrant, so
        callers can group several calls (e.g. a failover write and its outbox entry)."""
        with self._lock:
            conn = self._require()
            if self._depth:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._translate(exc) from None
            self._depth = 1
            try:
                yield conn
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise self._translate(exc) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise self._translate(exc) from None
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._translate(exc) from None

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads that must agree with each other: one read transaction (WAL snapshot)."""
        with self._lock:
            conn = self._require()
            if self._depth:
                yield conn
                return
            try:
                conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise self._translate(exc) from None
            try:
                yield conn
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise self._translate(exc) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise MemoryStoreError(f"{self.path}: memory store is closed")
        return self._conn

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")
                self._conn.close()
                self._conn = None

    def __enter__(self) -> LocalMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> float:
        return float(self._clock())

    # ---------------------------------------------------------------- memories

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
        created_at: str | None = None,
    ) -> str:
        """Store a memory and return its id. With `external_id`, an existing memory carrying
        that id is updated in place (same id returned), so a replayed write never duplicates."""
        (vector,), model = self._embed([(summary, content, tags)])
        with self.transaction() as conn:
            seq = self._bump(conn, model)
            return self._insert(
                conn, summary, content, type, tags, importance, details, external_id, created_at,
                vector=vector, model=model, seq=seq,
            )  # fmt: skip

    def remember_many(self, records: Iterable[dict[str, Any]]) -> list[str]:
        """Store many memories in one transaction (keys as `remember`'s parameters). Their
        vectors are computed first, in batches, outside the transaction."""
        items = [
            (r, r["summary"] if r.get("content") is None else r["content"])
            for r in records
        ]  # fmt: skip
        vectors, model = self._embed([(r["summary"], content, r.get("tags") or ()) for r, content in items])
        with self.transaction() as conn:
            seq = self._bump(conn, model)
            return [
                self._insert(
                    conn,
                    r["summary"],
                    content,
                    r["type"],
                    r.get("tags") or (),
                    r.get("importance", 0.5),
                    r.get("details"),
                    r.get("external_id"),
                    r.get("created_at"),
                    vector=vector,
                    model=model,
                    seq=seq,
                )
                for (r, content), vector in zip(items, vectors, strict=True)
            ]

    def stored(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (type, content) pairs some memory already has (types compared stripped)."""
        pairs = list(pairs)
        if not pairs:
            return set()
        found: set[tuple[str, str]] = set()
        with self._read() as conn:
            for type_, content in pairs:
                # Whole content compared here: with `content = ?2` in the WHERE clause SQLite
                # (3.40) stops using the expression index and scans the table.
                rows = conn.execute(
                    """SELECT content FROM memories WHERE type = ?1 AND length(content) = length(?2)
                       AND substr(content, 1, 64) = substr(?2, 1, 64)""",
                    (type_.strip(), content),
                ).fetchall()
                if any(row[0] == content for row in rows):
                    found.add((type_, content))
        return found

    def _insert(
        self,
        conn: sqlite3.Connection,
        summary: str,
        content: str,
        type: str,
        tags: Sequence[str] | str,
        importance: float,
        details: dict[str, Any] | None,
        external_id: str | None,
        created_at: str | None,
        *,
        vector: bytes | None = None,
        model: TextEncoder | None = None,
        seq: int = 0,
    ) -> str:
        if not isinstance(summary, str) or not summary.strip():
            raise MemoryStoreError("a memory needs a non-empty summary")
        if not isinstance(type, str) or not type.strip():
            raise MemoryStoreError("a memory needs a non-empty type")
        if not isinstance(content, str):
            raise MemoryStoreError("a memory's content must be text")
        try:
            importance = float(importance)
        except (TypeError, ValueError):
            raise MemoryStoreError(f"importance must be a number, not {importance!r}") from None
        if not 0.0 <= importance <= 1.0:
            raise MemoryStoreError(f"importance must be between 0 and 1, not {importance}")
        if details is not None and not isinstance(details, dict):
            raise MemoryStoreError("details must be a JSON object")
        now = self._now()
        if created_at:
            try:
                created_ts = parse_time(created_at)
            except ValueError:
                raise MemoryStoreError(f"created_at is not an ISO 8601 time: {created_at!r}") from None
        else:
            created_ts = now
        row = conn.execute(
            """INSERT INTO memories
                 (id, external_id, summary, content, type, tags, importance, details,
                  created_at, created_ts, updated_at, embed_hash, vec_seq, embedding)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(external_id) DO UPDATE SET
                 summary = excluded.summary, content = excluded.content, type = excluded.type,
                 tags = excluded.tags, importance = excluded.importance,
                 details = excluded.details, updated_at = excluded.updated_at,
                 embed_hash = excluded.embed_hash, vec_seq = excluded.vec_seq,
                 embedding = excluded.embedding
               RETURNING id""",
            (
                str(uuid.uuid4()),
                external_id,
                summary,
                content,
                type.strip(),
                json.dumps(_norm_tags(tags), ensure_ascii=False),
                importance,
                None if details is None else json.dumps(details, ensure_ascii=False, sort_keys=True),
                iso(created_ts),
                created_ts,
                iso(now),
                None if vector is None or model is None else model.model_hash,
                seq,
                vector if model is not None else None,
            ),
        ).fetchone()
        return str(row[0])

    # ---------------------------------------------------------------- vectors

    def warm(self) -> None:
        """Start loading the sentence encoder on a thread, for a remember or recall to come.

        A run calls it before work that waits (git, claude), so the load overlaps that work."""
        if self._semantic and self._encoder is None:
            _warm_encoder()

    def _encoder_for_writes(self) -> TextEncoder | None:
        if not self._semantic:
            return None
        if self._encoder is not None:
            return self._encoder
        encoder, _ = _shared_encoder()
        return encoder

    def _embed(self, items: Sequence[tuple[Any, Any, Any]]) -> tuple[list[bytes | None], TextEncoder | None]:
        """Vectors (as blobs) for (summary, content, tags) triples: None for an invalid item
        (the insert then refuses it) and for all when the encoder is unavailable."""
        blobs: list[bytes | None] = [None] * len(items)
        encoder = self._encoder_for_writes() if items else None
        if encoder is None:
            return blobs, None
        from kagura_engineer.memory import vectors

        valid = [
            i for i, (summary, content, _) in enumerate(items)
            if isinstance(summary, str) and summary.strip() and isinstance(content, str)
        ]  # fmt: skip
        texts = [memory_text(items[i][0], items[i][1], _norm_tags(items[i][2])) for i in valid]
        try:
            matrix = vectors.encode_texts(encoder, texts)
        except Exception as exc:  # a vector is derived data: never lose the memory over it
            self._warn(f"could not compute sentence vectors ({exc}); they will be filled at the next recall")
            return blobs, None
        for i, row in zip(valid, matrix, strict=True):
            blobs[i] = vectors.to_blob(row)
        return blobs, encoder

    def _bump(self, conn: sqlite3.Connection, model: TextEncoder | None) -> int:
        """Start a write of vectors: the new data version (rows written now carry it)."""
        if model is not None:
            conn.execute(
                "INSERT OR IGNORE INTO embed_models (hash, model_id, dim) VALUES (?, ?, ?)",
                (model.model_hash, model.model_id, VECTOR_DIM),
            )
        return int(
            conn.execute(
                "UPDATE vector_state SET version = version + 1 WHERE id = 1 RETURNING version"
            ).fetchone()[0]
        )

    def _fill_vectors(self, encoder: TextEncoder, first: Sequence[int]) -> None:
        """Embed memories that lack a current vector: `first` (row numbers) before the
        newest others; at most FILL_PER_RECALL, for about FILL_SECONDS."""
        from kagura_engineer.memory import vectors

        h = encoder.model_hash
        wanted: dict[int, sqlite3.Row] = {}
        with self._read() as conn:
            if first:
                marks = ", ".join("?" * len(first))
                for row in conn.execute(
                    f"""SELECT n, summary, content, tags FROM memories WHERE n IN ({marks})
                        AND (embed_hash IS NULL OR embed_hash != ?)""",
                    [*first, h],
                ):
                    wanted[row["n"]] = row
            for sql in (
                "SELECT n, summary, content, tags FROM memories WHERE embed_hash IS NULL ORDER BY n DESC LIMIT ?",
                "SELECT n, summary, content, tags FROM memories WHERE embed_hash > ? LIMIT ?",
                "SELECT n, summary, content, tags FROM memories WHERE embed_hash < ? LIMIT ?",
            ):
                if len(wanted) >= FILL_PER_RECALL:
                    break
                args = (FILL_PER_RECALL,) if "NULL" in sql else (h, FILL_PER_RECALL)
                for row in conn.execute(sql, args):
                    if len(wanted) >= FILL_PER_RECALL:
                        break
                    wanted.setdefault(row["n"], row)
        if not wanted:
            return
        rows = list(wanted.values())[:FILL_PER_RECALL]
        done: list[tuple[sqlite3.Row, bytes]] = []
        started = time.monotonic()
        try:
            for at in range(0, len(rows), FILL_BATCH):
                chunk = rows[at : at + FILL_BATCH]
                texts = [memory_text(r["summary"], r["content"], json.loads(r["tags"])) for r in chunk]
                done += zip(chunk, map(vectors.to_blob, vectors.encode_texts(encoder, texts)), strict=True)
                if time.monotonic() - started > FILL_SECONDS:
                    break
            with self.transaction() as conn:
                seq = self._bump(conn, encoder)
                # Only if the text is still what was embedded (another writer may have changed it).
                conn.executemany(
                    """UPDATE memories SET embed_hash = ?, vec_seq = ?, embedding = ?
                       WHERE n = ? AND summary = ? AND content = ? AND tags = ?""",
                    [(h, seq, blob, r["n"], r["summary"], r["content"], r["tags"]) for r, blob in done],
                )
        except MemoryStoreError:
            pass  # busy or read-only right now: the next recall tries again
        except Exception as exc:  # filling is opportunistic; recall must still answer
            self._warn(f"could not compute sentence vectors ({exc}); recalling with what is there")

    def _clear_vectors(self, rows: Sequence[int]) -> None:
        """Drop unusable stored vectors so they are filled again."""
        with contextlib.suppress(MemoryStoreError), self.transaction() as conn:
            seq = self._bump(conn, None)
            conn.executemany(
                "UPDATE memories SET embed_hash = NULL, vec_seq = ?, embedding = NULL WHERE n = ?",
                [(seq, n) for n in rows],
            )

    def _vector_index(self, conn: sqlite3.Connection, encoder: TextEncoder) -> VectorIndex:
        from kagura_engineer.memory import vectors

        index = self._index
        if index is None or index.model_hash != encoder.model_hash:
            index = self._index = vectors.VectorIndex(self.path, encoder.model_hash, encoder.model_id)
        index.refresh(conn, vectors.read_state(conn))
        return index

    def _encoder_for_recall(self) -> TextEncoder | None:
        if self._ranking == KEYWORD or not self._semantic:
            return None
        if self._encoder is not None:
            return self._encoder
        encoder, reason = _shared_encoder()
        if encoder is None:
            _warn_once(self._warn, f"{reason}; recalling by keywords only")
        return encoder

    # ---------------------------------------------------------------- recall

    def recall(self, query: str, k: int = 5, filters: dict[str, Any] | None = None) -> list[Memory]:
        """The `k` best matches for `query`, best first (see the module doc for the score).

        filters: `type` (a type or a list), `tags` (any of them; `tags_match: "all"` for
        all), `importance_gte` or `importance: {"gte": x}`, `created_after`/`created_before`
        (ISO 8601). `trust_tier` is accepted and ignored (every local memory is trusted).
        """
        expr = match_expression(query or "")
        if not expr or k <= 0:
            return []
        if not self._has_memories():
            return []  # nothing to rank, so no encoder to load
        where, params = self._filters(filters or {})
        # BM25 over every match is the cost (≈1.3 µs a row); only the best `cap` text matches
        # are joined and re-ranked. With filters the cap is wider, and if the filters then
        # leave fewer than k, the query runs again uncapped, so a filter never hides a match.
        cap = (CANDIDATES_FILTERED if where else CANDIDATES) + 20 * int(k)
        encoder = self._encoder_for_recall()
        if encoder is not None:
            found = self._recall_semantic(query, expr, where, params, int(k), cap, encoder)
            if found is not None:
                return found
        rows = self._ranked(expr, where, params, int(k), cap)
        if where and len(rows) < k:
            rows = self._ranked(expr, where, params, int(k), -1)
        return [_memory(r, float(r["score"])) for r in rows]

    def _has_memories(self) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM memories LIMIT 1").fetchone() is not None

    def _keyword_hits(
        self, expr: str, where: str, params: list[Any], k: int, cap: int
    ) -> list[tuple[int, float]]:
        """The best FTS5 matches passing the filters: [(n, −bm25)], best first."""
        sql = f"""
            WITH hits AS (
                SELECT rowid AS n, bm25(memories_fts, ?, ?, ?) AS b FROM memories_fts
                WHERE memories_fts MATCH ? ORDER BY b LIMIT ?
            )
            SELECT hits.n, -hits.b FROM hits CROSS JOIN memories m ON m.n = hits.n
            WHERE 1 {where} ORDER BY hits.b, hits.n DESC"""
        with self._read() as conn:
            hits = conn.execute(sql, [*BM25_WEIGHTS, expr, cap, *params]).fetchall()
            if where and len(hits) < k:
                hits = conn.execute(sql, [*BM25_WEIGHTS, expr, -1, *params]).fetchall()
        return [(int(n), max(0.0, float(b))) for n, b in hits]

    def _recall_semantic(
        self, query: str, expr: str, where: str, params: list[Any], k: int, cap: int, encoder: TextEncoder
    ) -> list[Memory] | None:
        """Fused keyword + cosine recall (`memory/hybrid.py`); None if the query cannot be
        embedded (the caller falls back to keywords)."""
        import numpy as np

        use_keywords = self._ranking != EMBEDDING
        keyword: list[tuple[int, float]] | None = None
        if self._missing_vectors(encoder.model_hash):
            keyword = self._keyword_hits(expr, where, params, k, cap) if use_keywords else []
            self._fill_vectors(encoder, [n for n, _ in keyword[:FILL_PER_RECALL]])
        with self._snapshot() as conn:
            index = self._vector_index(conn, encoder)
            view, bad = index.view(), index.bad
            allowed = None
            if where:
                allowed = np.array(
                    sorted(r[0] for r in conn.execute(f"SELECT m.n FROM memories m WHERE 1 {where}", params)),
                    dtype=np.int64,
                )
        if bad:
            self._clear_vectors(bad)
        # The keyword search (SQLite) runs beside the query's embedding and the cosine scan
        # (numpy): both release the GIL, so on two cores they overlap.
        background = None
        if keyword is None and use_keywords:
            background = _Background(
                self._keyword_hits, expr, where, params, k, cap, parallel=not self._depth
            )
        try:
            qvec = encoder.encode([query])[0]
        except Exception as exc:  # fall back to keywords rather than fail the recall
            if background is not None:
                background.result()
            _warn_once(self._warn, f"could not embed the query ({exc}); recalling by keywords only")
            return None
        nearest = view.search(qvec, COSINE_CANDIDATES + 20 * k, allowed)
        keyword = background.result() if background is not None else (keyword or [])
        candidates: dict[int, Candidate] = {}
        for rank, (n, cosine) in enumerate(nearest, start=1):
            candidates[n] = Candidate(n, cosine=cosine, cosine_rank=rank)
        cosines = view.lookup(qvec, [n for n, _ in keyword if n not in candidates])
        for rank, (n, rel) in enumerate(keyword, start=1):
            c = candidates.setdefault(n, Candidate(n, cosine=cosines.get(n)))
            c.bm25, c.bm25_rank = rel, rank
        return self._fuse(query, candidates, keyword, where, params, k)

    def _fuse(
        self,
        query: str,
        candidates: dict[int, Candidate],
        keyword: list[tuple[int, float]],
        where: str,
        params: list[Any],
        k: int,
    ) -> list[Memory]:
        """Score the candidates (relevance × importance × recency) and read the best `k`."""
        idents = hybrid.identifiers(query)
        best_bm25 = max((rel for _, rel in keyword), default=0.0)
        now = self._now()
        half = RECENCY_HALF_DAYS * 86400.0
        text = ", m.summary, m.content, m.tags" if idents else ""
        scored: list[tuple[float, int]] = []
        with self._snapshot() as conn:
            for row in conn.execute(
                f"SELECT m.n, m.importance, m.created_ts{text} {BY_ROW_NUMBER} {where}",
                [json.dumps(list(candidates)), *params],
            ):
                c = candidates[row["n"]]
                if idents:
                    body = memory_text(row["summary"], row["content"], json.loads(row["tags"]))
                    c.identifiers = hybrid.identifier_share(idents, body)
                rel = hybrid.relevance(c, self._ranking, best_bm25)
                if rel is not None:
                    recency = 0.8 + 0.2 / (1.0 + max(0.0, now - row["created_ts"]) / half)
                    factor = ((0.5 + row["importance"]) * recency) ** hybrid.FACTOR_EXPONENT
                    scored.append((rel * factor, c.n))
            scored.sort(key=lambda s: (-s[0], -s[1]))
            top = scored[:k]
            rows = {
                r["n"]: r
                for r in conn.execute(
                    f"SELECT {', '.join(f'm.{c}' for c in COLUMNS.split(', '))} {BY_ROW_NUMBER}",
                    [json.dumps([n for _, n in top])],
                )
            }
        return [_memory(rows[n], score) for score, n in top if n in rows]

    def _missing_vectors(self, model_hash: str) -> bool:
        """Whether any memory lacks a vector of this model (three index probes)."""
        with self._read() as conn:
            return bool(
                conn.execute(
                    """SELECT EXISTS (SELECT 1 FROM memories WHERE embed_hash IS NULL)
                           OR EXISTS (SELECT 1 FROM memories WHERE embed_hash > ?)
                           OR EXISTS (SELECT 1 FROM memories WHERE embed_hash < ?)""",
                    (model_hash, model_hash),
                ).fetchone()[0]
            )

    def _ranked(self, expr: str, where: str, params: list[Any], k: int, cap: int) -> list[sqlite3.Row]:
        sql = f"""
            WITH hits AS (
                SELECT rowid AS n, bm25(memories_fts, ?, ?, ?) AS b FROM memories_fts
                WHERE memories_fts MATCH ? ORDER BY b LIMIT ?
            )
            SELECT m.n, m.id, m.external_id, m.summary, m.content, m.type, m.tags, m.importance,
                   m.details, m.created_at, m.created_ts, m.updated_at, -hits.b
                     * (0.5 + m.importance)
                     * (0.8 + 0.2 / (1.0 + max(0.0, ? - m.created_ts) / ?)) AS score
            FROM hits CROSS JOIN memories m ON m.n = hits.n
            WHERE 1 {where}
            ORDER BY score DESC, m.n DESC
            LIMIT ?"""
        args = [*BM25_WEIGHTS, expr, cap, self._now(), RECENCY_HALF_DAYS * 86400.0, *params, k]
        with self._read() as conn:
            return conn.execute(sql, args).fetchall()

    def _filters(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        known = {"type", "tags", "tags_match", "importance_gte", "importance", "trust_tier",
                 "created_after", "created_before"}  # fmt: skip
        unknown = sorted(set(filters) - known)
        if unknown:
            raise MemoryStoreError(f"unknown recall filter: {', '.join(unknown)}")
        kind = filters.get("type")
        if kind:
            kinds = [kind] if isinstance(kind, str) else list(kind)
            clauses.append(f"m.type IN ({', '.join('?' * len(kinds))})")
            params += kinds
        tags = _norm_tags(filters.get("tags"))
        if tags:
            marks = ", ".join("?" * len(tags))
            if filters.get("tags_match") == "all":
                clauses.append(
                    f"(SELECT count(DISTINCT value) FROM json_each(m.tags) WHERE value IN ({marks})) = ?"
                )
                params += [*tags, len(tags)]
            else:
                clauses.append(f"EXISTS (SELECT 1 FROM json_each(m.tags) WHERE value IN ({marks}))")
                params += tags
        gte = filters.get("importance_gte")
        imp = filters.get("importance")
        if gte is None and isinstance(imp, dict):
            gte = imp.get("gte")
        if gte is not None:
            clauses.append("m.importance >= ?")
            params.append(float(gte))
        for name, op in (("created_after", ">="), ("created_before", "<")):
            if filters.get(name):
                try:
                    params.append(parse_time(str(filters[name])))
                except ValueError:
                    raise MemoryStoreError(f"filter {name}: not an ISO 8601 time") from None
                clauses.append(f"m.created_ts {op} ?")
        return "".join(f" AND {c}" for c in clauses), params

    def reference(self, id: str) -> Memory | None:
        """The memory with this id (or external id), or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM memories WHERE id = ? OR external_id = ? LIMIT 1", (id, id)
            ).fetchone()
        return _memory(row, 0.0) if row else None

    def forget(self, id: str) -> bool:
        """Delete a memory and its edges. False when there was none."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM memories WHERE id = ?", (id,)).rowcount > 0

    def iter_memories(self, page: int = 500) -> Iterator[Memory]:
        """Every memory, oldest first (for export). Reads in pages; never holds the lock
        between pages."""
        last_ts, last_n = float("-inf"), -1
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    f"""SELECT {COLUMNS} FROM memories WHERE (created_ts, n) > (?, ?)
                       ORDER BY created_ts, n LIMIT ?""",
                    (last_ts, last_n, page),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _memory(row, 0.0)
            last_ts, last_n = rows[-1]["created_ts"], rows[-1]["n"]

    # ---------------------------------------------------------------- graph and feedback

    def link(self, src: str, dst: str, edge_type: str = "related_to", weight: float = 1.0) -> None:
        """Add or strengthen the edge src → dst (upsert keeping the larger weight, 0..3)."""
        if src == dst:
            raise MemoryStoreError("cannot link a memory to itself")
        if not 0.0 <= float(weight) <= MAX_EDGE_WEIGHT:
            raise MemoryStoreError(f"edge weight must be between 0 and {MAX_EDGE_WEIGHT:g}, not {weight}")
        with self.transaction() as conn:
            found = {r[0] for r in conn.execute("SELECT id FROM memories WHERE id IN (?, ?)", (src, dst))}
            for end in (src, dst):
                if end not in found:
                    raise MemoryStoreError(f"cannot link: no memory with id {end}")
            conn.execute(
                """INSERT INTO edges (src, dst, edge_type, weight, created_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(src, dst) DO UPDATE SET
                     edge_type = excluded.edge_type, weight = max(edges.weight, excluded.weight)""",
                (src, dst, edge_type, float(weight), iso(self._now())),
            )

    def explore(self, id: str, depth: int = 2) -> list[Related]:
        """Memories reachable from `id` within `depth` hops, in either edge direction.

        Breadth-first: each memory is reported once, at its smallest hop, through its
        strongest edge from the previous level; results are ordered by hop, then weight.
        """
        depth = max(0, min(int(depth), MAX_EXPLORE_DEPTH))
        out: list[Related] = []
        with self._read() as conn:
            if not conn.execute("SELECT 1 FROM memories WHERE id = ?", (id,)).fetchone():
                return []
            seen = {id}
            frontier: list[tuple[str, tuple[str, ...]]] = [(id, (id,))]
            for hop in range(1, depth + 1):
                best: dict[str, tuple[float, str, tuple[str, ...]]] = {}
                for node, path in frontier:
                    rows = conn.execute(
                        """SELECT dst AS other, edge_type, weight FROM edges WHERE src = ?
                           UNION ALL
                           SELECT src AS other, edge_type, weight FROM edges WHERE dst = ?""",
                        (node, node),
                    ).fetchall()
                    for row in rows:
                        other = row["other"]
                        if other in seen:
                            continue
                        weight = float(row["weight"])
                        if other not in best or weight > best[other][0]:
                            best[other] = (weight, row["edge_type"], (*path, other))
                if not best:
                    break
                ordered = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
                summaries = dict(
                    conn.execute(
                        f"SELECT id, summary FROM memories WHERE id IN ({', '.join('?' * len(best))})",
                        list(best),
                    ).fetchall()
                )
                frontier = []
                for other, (weight, edge_type, path) in ordered:
                    seen.add(other)
                    out.append(Related(other, summaries.get(other, ""), hop, weight, edge_type, path))
                    frontier.append((other, path))
        return out

    def feedback(self, id: str, helpful: bool) -> None:
        """Nudge importance: helpful moves it 10% of the way to 1, unhelpful 10% toward 0."""
        factor = 0.1
        with self.transaction() as conn:
            sql = (
                "UPDATE memories SET importance = min(1.0, importance + ? * (1.0 - importance)) WHERE id = ?"
                if helpful
                else "UPDATE memories SET importance = max(0.0, importance - ? * importance) WHERE id = ?"
            )
            if conn.execute(sql, (factor, id)).rowcount == 0:
                raise MemoryStoreError(f"feedback: no memory with id {id}")

    # ---------------------------------------------------------------- state lane

    def set_state(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a JSON value under `key`; with `ttl` seconds it expires. None deletes."""
        with self.transaction() as conn:
            self._put_state(conn, key, value, ttl)

    def _put_state(self, conn: sqlite3.Connection, key: str, value: Any, ttl: float | None) -> None:
        if not key:
            raise MemoryStoreError("a state key must be non-empty")
        if value is None:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))
            return
        now = self._now()
        if ttl is not None and ttl <= 0:
            raise MemoryStoreError(f"state ttl must be positive, not {ttl}")
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise MemoryStoreError(f"state {key!r}: value is not JSON-serialisable ({exc})") from None
        conn.execute("DELETE FROM state WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
        conn.execute(
            """INSERT INTO state (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                 expires_at = excluded.expires_at, updated_at = excluded.updated_at""",
            (key, text, None if ttl is None else now + float(ttl), iso(now)),
        )

    def get_state(self, key: str) -> Any | None:
        """The value under `key`, or None when absent or expired."""
        with self._read() as conn:
            return self._get_state(conn, key)

    def _get_state(self, conn: sqlite3.Connection, key: str) -> Any | None:
        row = conn.execute(
            "SELECT value FROM state WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._now()),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def delete_state(self, key: str) -> bool:
        """Remove `key`. False when it was absent (or already expired)."""
        with self.transaction() as conn:
            live = self._get_state(conn, key) is not None
            conn.execute("DELETE FROM state WHERE key = ?", (key,))
            return live

    def list_states(self, prefix: str = "") -> dict[str, Any]:
        """Every live state whose key starts with `prefix`, by key."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT key, value FROM state WHERE substr(key, 1, ?) = ?
                   AND (expires_at IS NULL OR expires_at > ?) ORDER BY key""",
                (len(prefix), prefix, self._now()),
            ).fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def update_state(self, key: str, fn: Callable[[Any | None], Any | None], ttl: float | None = None) -> Any:
        """Atomically replace the value under `key` with `fn(current)` (None deletes it).

        Runs under BEGIN IMMEDIATE, so concurrent processes serialise; if `fn` raises,
        nothing changes and the exception propagates. Returns the new value.
        """
        with self.transaction() as conn:
            new = fn(self._get_state(conn, key))
            self._put_state(conn, key, new, ttl)
            return new

    # ---------------------------------------------------------------- outbox

    def outbox_add(self, op: str, payload: dict[str, Any], external_id: str) -> int:
        """Queue a write for the Cloud; returns the item id."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO outbox (op, payload, external_id, created_at) VALUES (?, ?, ?, ?)",
                (op, json.dumps(payload, ensure_ascii=False, sort_keys=True), external_id, iso(self._now())),
            )
            return int(cur.lastrowid or 0)

    def outbox_pending(self) -> list[OutboxItem]:
        """Queued writes, oldest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        return [
            OutboxItem(r["id"], r["op"], json.loads(r["payload"]), r["external_id"], r["created_at"])
            for r in rows
        ]

    def outbox_done(self, item_id: int) -> None:
        """Drop a delivered item."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    # ---------------------------------------------------------------- maintenance

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it."""
        with self._read() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def snapshot(self, dest: str | os.PathLike[str]) -> Path:
        """Write a consistent, self-contained copy of the database to `dest` (atomically)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            with self._read() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                conn.execute("VACUUM INTO ?", (str(tmp),))
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return dest

    def stats(self) -> dict[str, Any]:
        """Counts and sizes for `memory stats`."""
        with self._read() as conn:
            now = self._now()
            one = lambda sql, *a: conn.execute(sql, a).fetchone()[0]  # noqa: E731
            by_type = dict(
                conn.execute(
                    "SELECT type, count(*) FROM memories GROUP BY type ORDER BY count(*) DESC, type"
                ).fetchall()
            )
            stats = {
                "backend": "local",
                "path": str(self.path),
                "schema_version": one("SELECT max(version) FROM schema_version"),
                "count": one("SELECT count(*) FROM memories"),
                "by_type": by_type,
                "edges": one("SELECT count(*) FROM edges"),
                "states": one("SELECT count(*) FROM state WHERE expires_at IS NULL OR expires_at > ?", now),
                "savepoints": one("SELECT count(*) FROM savepoints"),
                "outbox_pending": one("SELECT count(*) FROM outbox"),
                "oldest": one("SELECT min(created_at) FROM memories"),
                "newest": one("SELECT max(created_at) FROM memories"),
            }
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        stats["db_bytes"] = size
        stats.update(self._vector_stats(stats["count"]))
        return stats

    def _vector_stats(self, total: int) -> dict[str, Any]:
        """Model, vector coverage and index size (no model weights are loaded for this)."""
        model_id, model_hash, note = self._model_identity()
        with self._read() as conn:
            current = 0
            if model_hash:
                current = conn.execute(
                    "SELECT count(*) FROM memories WHERE embed_hash = ?", (model_hash,)
                ).fetchone()[0]
        from kagura_engineer.memory.vectors import FILE_MIN, current_file

        data = current_file(self.path)
        if current >= FILE_MIN:
            where = (
                f"memory-mapped file {data.name}" if data else "memory-mapped file (built at the next recall)"
            )
            size = data.stat().st_size if data else 0
        else:
            where, size = "in the database (loaded into memory)", current * VECTOR_DIM * 4
        share = f" ({100.0 * current / total:.1f}%)" if total else ""
        return {
            "embedding_model": model_id + (f" — {note}" if note else ""),
            "vectors": current,
            "vector_coverage": f"{current}/{total}{share}",
            "vector_index": where,
            "vector_index_bytes": size,
        }

    def _model_identity(self) -> tuple[str, str | None, str | None]:
        """(model id, model hash, why semantic recall is off or None) without loading weights."""
        if not self._semantic:
            return "none", None, "semantic recall is off for this store"
        if self._encoder is not None:
            return self._encoder.model_id, self._encoder.model_hash, None
        from kagura_engineer.memory import embed

        reason = embed.unavailable_reason()
        try:
            manifest = json.loads((embed.MODEL_DIR / embed.MANIFEST_FILE).read_text(encoding="utf-8"))
            model_id, model_hash = str(manifest["model_id"]), embed.manifest_hash(manifest)
        except (OSError, ValueError, KeyError, TypeError):
            return "unavailable", None, reason or "the model manifest is unreadable"
        return model_id, model_hash, (f"unavailable: {reason}" if reason else None)


def _memory(row: sqlite3.Row, score: float) -> Memory:
    details = row["details"]
    return Memory(
        id=row["id"],
        summary=row["summary"],
        content=row["content"],
        type=row["type"],
        tags=tuple(json.loads(row["tags"])),
        importance=float(row["importance"]),
        score=score,
        created_at=row["created_at"],
        details=json.loads(details) if details else None,
    )


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        if tables:
            raise MemoryStoreError(
                f"{path}: an SQLite database, but not a kagura-engineer memory store",
                hint="point local_memory_path or KAGURA_MEMORY_DB at another file",
            )
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION in one transaction (a kill rolls it back)."""
    if _schema_version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _schema_version(conn, path)  # another process may have migrated meanwhile
        if current > SCHEMA_VERSION:
            raise MemoryStoreError(
                f"{path}: memory database has schema version {current}, newer than this "
                f"kagura-engineer understands ({SCHEMA_VERSION})",
                hint="upgrade kagura-engineer",
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _refresh_stale_statistics(conn: sqlite3.Connection) -> None:
    """Re-analyse `memories` when its statistics describe a far smaller table.

    `PRAGMA optimize` (at close) only re-analyses tables the closing connection queried, so
    a store analysed at 50 rows and then grown by an import keeps saying "50 rows", and the
    planner turns small lookups into table scans. Without statistics at all SQLite assumes a
    large table, which is fine; so only stale statistics are refreshed (sampled, ~ms)."""
    try:
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'memories' LIMIT 1").fetchone()
        if row is None:
            return
        analysed = int(str(row[0]).split()[0])
        rows = conn.execute("SELECT max(n) FROM memories").fetchone()[0] or 0  # ≈ count, one seek
        if rows >= 1000 and rows > 4 * analysed:
            conn.execute("PRAGMA analysis_limit = 1000")
            conn.execute("ANALYZE memories")
    except (sqlite3.Error, ValueError, IndexError):
        pass  # no statistics table, read-only or busy: the queries do not depend on it


def local_path(config: Config | None = None) -> Path:
    """Where the local store lives: $KAGURA_MEMORY_DB, else `local_memory_path` (cwd-relative;
    without a config, the embedded default)."""
    env = os.environ.get(ENV_PATH, "").strip()
    if env:
        return Path(env).expanduser().absolute()
    if config is None:
        from kagura_engineer.config_file import DEFAULT_LOCAL_MEMORY_PATH

        return Path.cwd() / DEFAULT_LOCAL_MEMORY_PATH
    return config.resolve(config.local_memory_path)


def open_local(config: Config | None = None, *, warn: Callable[[str], None] | None = None) -> LocalMemory:
    """The local store named by the config (None: the embedded defaults) or $KAGURA_MEMORY_DB, opened."""
    return LocalMemory(local_path(config), warn=warn)
