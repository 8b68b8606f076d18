"""The vector side of the local store: blobs, batched embedding, and the index recall searches.

Every memory's vector lives in SQLite (`memories.embedding`, float32 little-endian, 384-d,
with `embed_hash` naming the model that made it); that is the only source of truth.
`VectorIndex` is a per-process, derived view of the vectors of the current model:

- below `FILE_MIN` (1,000) vectors it is read from SQLite into memory and searched exactly;
- from `FILE_MIN` on it is a memory-mapped file beside the database,
  `<db>.vectors-<generation>.bin`: the row numbers (int64), the sign bits of every vector
  (384 bits = 6 × uint64) and the vectors (float32), one contiguous array each, described by
  `<db>.vectors.json` (format, offsets, count, model hash and id, the store's id, the
  database file's inode, and the data version it was built at). The header is replaced last,
  so it never names a half-written file; files of older generations are then removed. A
  missing, corrupt, foreign (another database's) or stale file is rebuilt from SQLite;
  deleting it loses nothing.

Search is exact cosine (one matrix-vector product) except over bases of `PREFILTER_MIN`
vectors or more: there the sign bits pick the `PREFILTER_KEEP` (or 2 %) nearest by Hamming
distance — 5 MB read instead of 154 MB at 100k — and those are re-scored exactly. (Sign
bits estimate the angle between two vectors; a memory in the true top 200 by cosine is
outside the Hamming top 2 % only when it is barely similar at all.)

Staleness is cheap to see: `vector_state` (one row) holds a version bumped by every write
of vectors (and every delete of a memory that had one), and each written row records the
version in `vec_seq`. A loaded index applies the rows with `vec_seq` above its own version
as a small in-memory delta (masking the rows they replace) and is rebuilt only after a
delete or once the delta outgrows `DELTA_MIN` / `DELTA_FRACTION` of the base.

The index needs numpy (the store builds one only when the sentence encoder is available);
the file helpers and constants (`FILE_MIN`, `current_file`, `remove_files`) do not.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

try:
    import numpy as np
except ImportError:  # `memory stats` reads the file helpers where numpy is absent
    if not TYPE_CHECKING:
        np = None

DIM = 384
BLOB_BYTES = DIM * 4
WORDS = DIM // 64  # sign bits per vector, as uint64 words
#: From this many vectors on, the index is a memory-mapped file beside the database (a
#: 4,000-vector index maps in ~3 ms; read from SQLite it took 60–90 ms on every process start).
FILE_MIN = 1_000
FILE_FORMAT = 2
#: From this many base vectors on, sign bits pre-select the rows scored exactly.
PREFILTER_MIN = 20_000
PREFILTER_KEEP = 2_000
DELTA_MIN = 1_000
DELTA_FRACTION = 0.1
SPOT_CHECKS = 8
#: The row number of padding records at the end of a file (sorts after every real row).
PAD = 2**63 - 1


class TextEncoder(Protocol):
    """What the store needs from a sentence encoder (`embed.Encoder` is one)."""

    @property
    def model_id(self) -> str: ...

    @property
    def model_hash(self) -> str: ...

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class StoreState:
    """The `vector_state` row: which database, and how far its vectors have changed."""

    store_id: str
    version: int
    deletes: int


def read_state(conn: sqlite3.Connection) -> StoreState:
    row = conn.execute("SELECT store_id, version, deletes FROM vector_state WHERE id = 1").fetchone()
    return StoreState(str(row[0]), int(row[1]), int(row[2]))


def to_blob(vector: np.ndarray) -> bytes:
    """A vector as stored in `memories.embedding`."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def sign_bits(matrix: np.ndarray) -> np.ndarray:
    """(n, 6) uint64: bit i of a row is set when component i is positive."""
    return np.packbits(np.asarray(matrix) > 0, axis=-1).view("<u8")


def encode_texts(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """Embed many texts: (len(texts), 384) float32, in input order. The encoder batches them
    itself (the shipped one by token count, without padding, on every core)."""
    if not texts:
        return np.empty((0, DIM), dtype=np.float32)
    return np.asarray(encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


class VectorIndex:
    """The current vectors of one store for one model; `view()` is what recall searches."""

    def __init__(self, db_path: Path, model_hash: str, model_id: str) -> None:
        self.db_path = db_path
        self.model_hash = model_hash
        self.model_id = model_id
        self.state: StoreState | None = None
        self.file: Path | None = None
        #: Rows whose stored blob is unusable (wrong length): the store clears them for refill.
        self.bad: list[int] = []
        self._rows = np.empty(0, dtype=np.int64)
        self._matrix: np.ndarray = np.empty((0, DIM), dtype=np.float32)
        self._bits: np.ndarray | None = None
        self._masked = np.zeros(0, dtype=bool)
        self._delta: dict[int, np.ndarray | None] = {}
        self._delta_rows = np.empty(0, dtype=np.int64)
        self._delta_matrix = np.empty((0, DIM), dtype=np.float32)

    @property
    def header_path(self) -> Path:
        return header_path(self.db_path)

    @property
    def count(self) -> int:
        """How many vectors the index answers with."""
        return int((~self._masked).sum()) + len(self._delta_rows)

    def view(self) -> IndexView:
        """The index as it is now, safe to search while the index itself moves on."""
        return IndexView(
            self._rows, self._matrix, self._bits, self._masked, self._delta_rows, self._delta_matrix
        )

    # ---------------------------------------------------------------- loading

    def refresh(self, conn: sqlite3.Connection, state: StoreState) -> None:
        """Bring the index up to `state` (call inside one read transaction)."""
        self.bad = []
        old = self.state
        if (
            old is None
            or (state.store_id, state.deletes) != (old.store_id, old.deletes)
            or state.version < old.version
        ):
            self._load(conn, state)
        elif state.version != old.version:
            self._apply(conn, old.version)
            self.state = state
        if len(self._delta) > max(DELTA_MIN, DELTA_FRACTION * len(self._rows)):
            self._load(conn, state, rebuild=True)

    def _load(self, conn: sqlite3.Connection, state: StoreState, rebuild: bool = False) -> None:
        self._delta = {}
        self._set_delta()
        count = conn.execute(
            "SELECT count(*) FROM memories WHERE embed_hash = ?", (self.model_hash,)
        ).fetchone()[0]
        if count >= FILE_MIN:
            loaded = None if rebuild else self._open_file(conn, state)
            if loaded is None:
                loaded = self._build_file(conn, state, count)
            if loaded is not None:
                version, path, rows, bits, matrix = loaded
                self._set_base(rows, matrix, bits)
                self.file = path
                self.state = state
                self._apply(conn, version)
                return
        else:
            remove_files(self.db_path)
        self.file = None
        ns: list[int] = []
        blobs: list[bytes] = []
        for n, blob in conn.execute(
            "SELECT n, embedding FROM memories WHERE embed_hash = ? ORDER BY n", (self.model_hash,)
        ):
            if isinstance(blob, bytes) and len(blob) == BLOB_BYTES:
                ns.append(n)
                blobs.append(blob)
            else:
                self.bad.append(n)
        matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ns), DIM)
        self._set_base(np.array(ns, dtype=np.int64), matrix, None)
        self.state = state

    def _set_base(self, rows: np.ndarray, matrix: np.ndarray, bits: np.ndarray | None) -> None:
        self._rows = rows
        self._matrix = matrix
        self._bits = bits
        self._masked = rows == PAD

    def _apply(self, conn: sqlite3.Connection, since: int) -> None:
        """Take in every row written after version `since` (replacing, adding or dropping)."""
        masked_copied = False
        for n, embed_hash, blob in conn.execute(
            "SELECT n, embed_hash, embedding FROM memories WHERE vec_seq > ?", (since,)
        ):
            i = int(np.searchsorted(self._rows, n))
            if i < len(self._rows) and self._rows[i] == n:
                if not masked_copied:  # copy on write: a view handed out earlier stays as it was
                    self._masked, masked_copied = self._masked.copy(), True
                self._masked[i] = True
            usable = embed_hash == self.model_hash and isinstance(blob, bytes)
            if usable and len(blob) != BLOB_BYTES:
                self.bad.append(n)
                usable = False
            self._delta[n] = np.frombuffer(blob, dtype="<f4") if usable else None
        self._set_delta()

    def _set_delta(self) -> None:
        live = sorted((n, v) for n, v in self._delta.items() if v is not None)
        self._delta_rows = np.array([n for n, _ in live], dtype=np.int64)
        self._delta_matrix = np.stack([v for _, v in live]) if live else np.empty((0, DIM), dtype=np.float32)

    # ---------------------------------------------------------------- the file

    def _open_file(self, conn: sqlite3.Connection, state: StoreState) -> _Loaded | None:
        """The existing file when it belongs to this database and model and is intact."""
        try:
            header = json.loads(self.header_path.read_text(encoding="utf-8"))
            expected = {
                "format": FILE_FORMAT,
                "dim": DIM,
                "model_hash": self.model_hash,
                "store_id": state.store_id,
                "db_inode": _inode(self.db_path),
                "deletes": state.deletes,
            }
            if any(header.get(k) != v for k, v in expected.items()) or int(header["version"]) > state.version:
                return None
            path = data_path(self.db_path, str(header["file"]))
            count = int(header["count"])
            if path is None or count < 1 or path.stat().st_size != _layout(count)[-1]:
                return None
            rows, bits, matrix = _map(path, count, "r")
            rows = np.array(rows)
            if np.any(rows[1:] <= rows[:-1]):
                return None
            if not self._spot_check(conn, rows, bits, matrix, int(header["version"])):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return int(header["version"]), path, rows, np.array(bits), matrix

    def _spot_check(
        self, conn: sqlite3.Connection, rows: np.ndarray, bits: np.ndarray, matrix: np.ndarray, version: int
    ) -> bool:
        """A few records (spread out, the newest included) must equal the database's."""
        real = int(np.searchsorted(rows, PAD))
        if real == 0:
            return True
        picks = sorted({int(i) for i in np.linspace(0, real - 1, num=min(SPOT_CHECKS, real))})
        marks = ", ".join("?" * len(picks))
        stored = {
            n: (embed_hash, seq, blob)
            for n, embed_hash, seq, blob in conn.execute(
                f"SELECT n, embed_hash, vec_seq, embedding FROM memories WHERE n IN ({marks})",
                [int(rows[i]) for i in picks],
            )
        }
        for i in picks:
            found = stored.get(int(rows[i]))
            if found is None:
                return False  # deleted without the delete counter moving: another database's file
            embed_hash, seq, blob = found
            if seq <= version and (embed_hash != self.model_hash or blob != matrix[i].tobytes()):
                return False
            if not np.array_equal(bits[i], sign_bits(matrix[i : i + 1])[0]):
                return False
        return True

    def _build_file(self, conn: sqlite3.Connection, state: StoreState, count: int) -> _Loaded | None:
        """Write a new generation from SQLite; None when the directory refuses it."""
        name = f"{self.db_path.name}.vectors-{uuid.uuid4().hex[:12]}.bin"
        path = self.db_path.with_name(name)
        tmp = path.with_name(f".{name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                fh.truncate(_layout(count)[-1])
            rows, bits, matrix = _map(tmp, count, "r+")
            written = 0
            cursor = conn.execute(
                "SELECT n, embedding FROM memories WHERE embed_hash = ? ORDER BY n", (self.model_hash,)
            )
            while written < count:
                page = cursor.fetchmany(4096)
                if not page:
                    break
                good = [(n, b) for n, b in page if isinstance(b, bytes) and len(b) == BLOB_BYTES]
                self.bad += [n for n, b in page if not (isinstance(b, bytes) and len(b) == BLOB_BYTES)]
                good = good[: count - written]
                if good:
                    block = np.frombuffer(b"".join(b for _, b in good), dtype="<f4").reshape(len(good), DIM)
                    end = written + len(good)
                    rows[written:end] = [n for n, _ in good]
                    matrix[written:end] = block
                    bits[written:end] = sign_bits(block)
                    written = end
            rows[written:] = PAD
            for part in (rows, bits, matrix):
                part.flush()
            del rows, bits, matrix
            os.replace(tmp, path)
            header = {
                "format": FILE_FORMAT,
                "file": name,
                "count": count,
                "vectors": written,
                "layout": "rows int64[count], sign bits uint64[count, 6], vectors float32[count, 384]",
                "dim": DIM,
                "model_hash": self.model_hash,
                "model_id": self.model_id,
                "store_id": state.store_id,
                "db_inode": _inode(self.db_path),
                "version": state.version,
                "deletes": state.deletes,
            }
            _write_atomically(self.header_path, json.dumps(header, indent=1, sort_keys=True))
            remove_files(self.db_path, keep=path)
            rows, bits, matrix = _map(path, count, "r")
            return state.version, path, np.array(rows), np.array(bits), matrix
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None


_Loaded = tuple[int, Path, "np.ndarray", "np.ndarray", "np.ndarray"]


@dataclass(frozen=True)
class IndexView:
    """Immutable arrays of one `VectorIndex` state: the base (in memory or memory-mapped,
    with sign bits when from a file) and its masked rows, and the delta written since."""

    rows: np.ndarray
    matrix: np.ndarray
    bits: np.ndarray | None
    masked: np.ndarray
    delta_rows: np.ndarray
    delta_matrix: np.ndarray

    def search(
        self, query: np.ndarray, top: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The `top` nearest memories by cosine, best first: [(n, cosine)]. With `allowed`
        (sorted row numbers), only those."""
        if top <= 0:
            return []
        found = self._search_base(query, top, allowed)
        rows = self.delta_rows
        if len(rows):
            scores = np.asarray(self.delta_matrix @ query, dtype=np.float32)
            keep = np.ones(len(rows), dtype=bool)
            if allowed is not None:
                keep[:] = False
                keep[_positions(rows, allowed)] = True
            found += [(int(n), float(s)) for n, s, k in zip(rows, scores, keep, strict=True) if k]
        found.sort(key=lambda item: (-item[1], -item[0]))
        return found[:top]

    def _search_base(
        self, query: np.ndarray, top: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        rows = self.rows
        if not len(rows):
            return []
        excluded = self.masked
        if allowed is not None:
            excluded = np.ones(len(rows), dtype=bool)
            excluded[_positions(rows, allowed)] = False
            excluded |= self.masked
        if self.bits is not None and len(rows) >= PREFILTER_MIN:
            keep = max(PREFILTER_KEEP, len(rows) // 50, 10 * top)
            if keep < len(rows):
                distance = _hamming(self.bits, sign_bits(query[None, :])[0])
                distance[excluded] = np.iinfo(np.uint16).max
                picked = np.sort(np.argpartition(distance, keep - 1)[:keep])
                picked = picked[~excluded[picked]]
                scores = np.asarray(self.matrix[picked] @ query, dtype=np.float32)
                best = np.argsort(-scores)[:top]
                return [(int(rows[picked[i]]), float(scores[i])) for i in best]
        scores = np.asarray(self.matrix @ query, dtype=np.float32)
        if excluded.any():
            scores[excluded] = -np.inf
        take = min(top, len(rows))
        best = np.argpartition(-scores, take - 1)[:take]
        return [(int(rows[i]), float(scores[i])) for i in best if np.isfinite(scores[i])]

    def lookup(self, query: np.ndarray, ns: Sequence[int]) -> dict[int, float]:
        """The cosine of each of `ns` that has a current vector."""
        out: dict[int, float] = {}
        if not len(ns):
            return out
        # Not np.unique: its first call imports numpy.ma (~30 ms of a one-shot recall).
        wanted = np.array(sorted({int(n) for n in ns}), dtype=np.int64)
        for rows, matrix, masked in (
            (self.rows, self.matrix, self.masked),
            (self.delta_rows, self.delta_matrix, None),
        ):
            at = _positions(rows, wanted)
            if masked is not None:
                at = at[~masked[at]]
            if len(at):
                out.update(zip(rows[at].tolist(), (matrix[at] @ query).tolist(), strict=True))
        return out


def _hamming(bits: np.ndarray, query_bits: np.ndarray) -> np.ndarray:
    """Bits that differ between each row of `bits` and `query_bits` (uint16 per row)."""
    differ = bits ^ query_bits
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(differ).sum(axis=1, dtype=np.uint16)
    return _BYTE_POPCOUNT[differ.view(np.uint8)].sum(axis=1, dtype=np.uint16)


_BYTE_POPCOUNT = None if np is None else np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Indices into sorted `rows` of the values of sorted `wanted` that it holds."""
    at = np.searchsorted(rows, wanted)
    inside = at < len(rows)
    at, wanted = at[inside], wanted[inside]
    return at[rows[at] == wanted]


def _layout(count: int) -> tuple[int, int, int]:
    """Byte offsets of the bits and vectors sections, and the file size."""
    bits = 8 * count
    vectors = bits + 8 * WORDS * count
    return bits, vectors, vectors + BLOB_BYTES * count


def _map(path: Path, count: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bits_at, vectors_at, _ = _layout(count)
    return (
        np.memmap(path, dtype="<i8", mode=mode, offset=0, shape=(count,)),
        np.memmap(path, dtype="<u8", mode=mode, offset=bits_at, shape=(count, WORDS)),
        np.memmap(path, dtype="<f4", mode=mode, offset=vectors_at, shape=(count, DIM)),
    )


def _inode(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_dev, st.st_ino]


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def header_path(db_path: Path) -> Path:
    """`<db>.vectors.json`, the header of the current vector file."""
    return db_path.with_name(f"{db_path.name}.vectors.json")


def data_path(db_path: Path, name: str) -> Path | None:
    """The data file a header names, if the name is one of ours (never another directory)."""
    if (
        "/" in name
        or "\\" in name
        or not (name.startswith(f"{db_path.name}.vectors-") and name.endswith(".bin"))
    ):
        return None
    return db_path.with_name(name)


def vector_files(db_path: Path) -> list[Path]:
    """The derived vector files of a database (header, generations, leftovers)."""
    name = db_path.name
    return sorted(
        p
        for p in db_path.parent.glob(f"*{name}.vectors*")
        if p.name.startswith((f"{name}.vectors", f".{name}.vectors"))
    )


def current_file(db_path: Path) -> Path | None:
    """The data file the header names, if both exist."""
    try:
        header = json.loads(header_path(db_path).read_text(encoding="utf-8"))
        path = data_path(db_path, str(header["file"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path if path is not None and path.is_file() else None


def remove_files(db_path: Path, keep: Path | None = None) -> None:
    """Delete derived vector files (all but `keep` and the header). Another process's
    half-written file is left alone while that process lives."""
    for path in vector_files(db_path):
        if keep is not None and path.name in (keep.name, header_path(db_path).name):
            continue
        if ".tmp-" in path.name:
            pid = path.name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and Path(f"/proc/{pid}").exists():
                continue
        with contextlib.suppress(OSError):
            path.unlink()
