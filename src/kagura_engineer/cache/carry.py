"""Carry the local memory DB from job to job in the Actions cache: `restore_memory`, `save_memory`.

Both return a `CacheResult` and never raise for an unusable cache: no runtime token, no
service, throttling (429), 5xx after the bounded retries, an entry that already exists, a
`cache write denied:` answer, nothing to save yet, a corrupt cached DB. Each of those is a
`warning` on the result, the run goes on with the DB it has, and the job does not fail.

Entries interoperate with `actions/cache@v4` given the same `path:` string (the version hash)
and the same keys; the member is named relative to GITHUB_WORKSPACE (else the cwd).

Restore rule: what the cache brings back is data, not trust (any job with the cache token can
save an entry). The download and the unpacking are streamed and stop at `memory_cache_max_bytes`
(default 1 GiB); only the DB's own member is unpacked (an archive with `..`, absolute, link or
device members is refused whole), into a temporary file beside the DB, and only once its first
bytes are SQLite's header. The DB is installed (an atomic rename) only when its schema is exactly
the local store's own (`memory/integrity.py`: no foreign trigger, view, table or index, checked
before anything else reads it) and `PRAGMA integrity_check` passes. A rejected archive or DB is
deleted, the one-line warning says why, and the job goes on with the DB it has (none: an empty
store). A DB larger than the cap is not saved, as no restore would take it. When a local DB already exists and the
cache has an entry, the cache wins: it is what the previous job of this workflow saved last,
while the workspace copy comes from the checkout or an earlier step. The local file is not
lost: it is kept as `<name>.before-restore` (one file, replaced by the next restore) unless it
is byte-identical to the cached one.

`ACTIONS_CACHE_MODE` (set by the runner): `read` restores but never saves, `write-only` saves
but never restores, `none` does neither, `write` (or unset) does both.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kagura_engineer.cache.archive import (
    ARCHIVE_NAME,
    TAR_SLACK,
    ArchiveError,
    create_archive,
    extract_member,
    member_name,
)
from kagura_engineer.cache.client import CacheServiceClient, CacheUnavailable, retry_budget
from kagura_engineer.cache.keys import CacheKeyError, MemoryKeys, cache_version, memory_keys
from kagura_engineer.errors import KaguraError
from kagura_engineer.memory.integrity import SQLITE_HEADER, discard, harden, restored_db_problem

if TYPE_CHECKING:
    from kagura_engineer.config import Config

ENV_DB = "KAGURA_MEMORY_DB"
MODES_READ = {"read", "write", ""}
MODES_WRITE = {"write", "write-only", ""}
KNOWN_MODES = {"read", "write", "write-only", "none"}


@dataclass
class CacheResult:
    """What a restore or save did; `warning` is set when the cache could not be used."""

    op: str
    hit: bool = False  # restore: an entry matched and was installed; save: the entry was saved
    key: str | None = None
    matched_key: str | None = None
    version: str | None = None
    size_bytes: int | None = None
    warning: str | None = None
    skipped: str | None = None  # why nothing was attempted (ACTIONS_CACHE_MODE, cloud backend)
    path: str | None = None
    rejected: str | None = None  # why the cached archive or DB was refused (and deleted)
    backup: str | None = None  # the local DB a restore replaced

    def describe(self) -> str:
        """One log line: what happened."""
        if self.warning:
            return self.warning
        if self.skipped:
            return f"memory cache {self.op} skipped: {self.skipped}"
        if self.op == "restore":
            if not self.hit:
                return f"memory cache miss for {self.key} (starting from the workspace's memory)"
            return f"memory cache hit: restored {self.matched_key} ({self.size_bytes} bytes)"
        return (
            f"memory cache saved as {self.key} ({self.size_bytes} bytes)"
            if self.hit
            else "memory cache: nothing saved"
        )

    def to_json(self) -> dict[str, Any]:
        """The fixed fields always (null when unknown), the optional ones only when set."""
        data = asdict(self)
        fixed = ("op", "hit", "key", "matched_key", "version", "size_bytes")
        return {k: v for k, v in data.items() if k in fixed or v is not None}


@dataclass(frozen=True)
class _Plan:
    db: Path
    path_string: str
    member: str
    version: str
    keys: MemoryKeys
    results_url: str
    token: str
    budget: float


def cache_mode(environ: Mapping[str, str]) -> str:
    """ACTIONS_CACHE_MODE, lower-cased; unknown values behave like unset (read and write)."""
    mode = (environ.get("ACTIONS_CACHE_MODE") or "").strip().lower()
    return mode if mode in KNOWN_MODES else ""


def memory_path_string(config: Config, environ: Mapping[str, str]) -> str:
    """The path string that names the DB: $KAGURA_MEMORY_DB, else `local_memory_path`, trimmed."""
    return (environ.get(ENV_DB) or "").strip() or config.local_memory_path.strip()


def _plan(config: Config, environ: Mapping[str, str], result: CacheResult) -> _Plan | None:
    """Everything both operations need; None (with `result.skipped`) when there is nothing to do."""
    mode = cache_mode(environ)
    allowed = MODES_READ if result.op == "restore" else MODES_WRITE
    if mode not in allowed:
        result.skipped = f"ACTIONS_CACHE_MODE={mode}: the memory cache is not {result.op}d in this job"
        return None
    if config.memory_backend != "local":
        result.skipped = "memory_backend is cloud: there is no local memory DB to carry"
        return None
    path_string = memory_path_string(config, environ)
    db = Path(os.path.abspath(Path(path_string).expanduser()))
    result.path = str(db)
    result.version = version = cache_version([path_string])
    try:
        keys = memory_keys(environ)
    except CacheKeyError as exc:
        raise CacheUnavailable(str(exc)) from None
    result.key = keys.save
    results_url = (environ.get("ACTIONS_RESULTS_URL") or "").strip()
    token = (environ.get("ACTIONS_RUNTIME_TOKEN") or "").strip()
    if not results_url or not token:
        missing = [
            n for n, v in (("ACTIONS_RESULTS_URL", results_url), ("ACTIONS_RUNTIME_TOKEN", token)) if not v
        ]
        raise CacheUnavailable(f"{' and '.join(missing)} not set: no Actions cache service in this job")
    workspace = (environ.get("GITHUB_WORKSPACE") or "").strip() or os.getcwd()
    member = member_name(db, workspace)
    return _Plan(db, path_string, member, version, keys, results_url, token, retry_budget(environ))


def _temp_root(environ: Mapping[str, str]) -> str | None:
    runner_temp = (environ.get("RUNNER_TEMP") or "").strip()
    return runner_temp if runner_temp and os.path.isdir(runner_temp) else None


def _warn(result: CacheResult, exc: KaguraError | OSError) -> CacheResult:
    message = exc.message if isinstance(exc, KaguraError) else f"{type(exc).__name__}: {exc}"
    verb = "restored" if result.op == "restore" else "saved"
    result.warning = f"memory cache not {verb}: {message}"
    result.hit = False
    return result


# -- restore -------------------------------------------------------------------------------


def restore_memory(config: Config, environ: Mapping[str, str] | None = None) -> CacheResult:
    """Restore the memory DB from the newest matching cache entry (see the module doc)."""
    environ = os.environ if environ is None else environ
    result = CacheResult(op="restore")
    try:
        plan = _plan(config, environ, result)
        if plan is None:
            return result
        with CacheServiceClient(plan.results_url, plan.token, budget=plan.budget) as client:
            hit = client.lookup(plan.keys.save, plan.keys.restore_keys, plan.version)
            if hit is None:
                return result
            result.matched_key = hit.matched_key
            plan.db.parent.mkdir(parents=True, exist_ok=True)
            tmp = plan.db.with_name(f".{plan.db.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            cap = config.memory_cache_max_bytes
            try:
                with tempfile.TemporaryDirectory(prefix="kagura-cache-", dir=_temp_root(environ)) as scratch:
                    archive = Path(scratch) / ARCHIVE_NAME
                    try:
                        result.size_bytes = client.download(
                            hit.download_url, archive, max_bytes=cap + TAR_SLACK
                        )
                        extract_member(archive, plan.member, tmp, max_bytes=cap, header=SQLITE_HEADER)
                    except ArchiveError as exc:
                        return _reject(result, "archive", exc.message, plan.db)
                problem = restored_db_problem(tmp)
                if problem is not None:
                    return _reject(result, "DB", problem, plan.db)
                _install(tmp, plan.db, result)
            finally:
                discard(tmp)  # and its -wal/-shm/-journal; gone already when installed
        result.hit = True
    except (KaguraError, OSError) as exc:
        return _warn(result, exc)
    return result


def _reject(result: CacheResult, what: str, reason: str, db: Path) -> CacheResult:
    """The cached archive or DB is hostile or broken: it is gone, and the job goes on without it."""
    then = "kept the workspace's memory DB" if db.exists() else "starting with an empty store"
    result.warning = f"the restored memory {what} was rejected ({reason}); {then}"
    result.rejected = reason
    result.hit = False
    return result


def _quiesce(db: Path) -> None:
    """Fold the local DB's WAL into it, so renaming over it cannot pair a new file with an old WAL."""
    try:
        conn = sqlite3.connect(str(db), timeout=15)
        try:
            harden(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # a damaged local DB: it is kept as the backup with whatever companions it has
    wal = Path(f"{db}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise CacheUnavailable(f"{db} is in use (its WAL could not be checkpointed); kept the local DB")


def _install(tmp: Path, db: Path, result: CacheResult) -> None:
    if db.exists():
        _quiesce(db)
        if filecmp.cmp(tmp, db, shallow=False):
            return
        backup = db.with_name(f"{db.name}.before-restore")
        os.replace(db, backup)  # the DB is absent only between these two renames
        result.backup = str(backup)
        for suffix in ("-wal", "-journal"):
            companion = Path(f"{db}{suffix}")
            if companion.exists():
                os.replace(companion, Path(f"{backup}{suffix}"))
    os.replace(tmp, db)
    with contextlib.suppress(FileNotFoundError):
        Path(f"{db}-shm").unlink()


# -- save ----------------------------------------------------------------------------------


def save_memory(config: Config, environ: Mapping[str, str] | None = None) -> CacheResult:
    """Save a consistent snapshot of the memory DB under this run attempt's key."""
    environ = os.environ if environ is None else environ
    result = CacheResult(op="save")
    try:
        plan = _plan(config, environ, result)
        if plan is None:
            return result
        if not plan.db.is_file():
            raise CacheUnavailable(f"nothing to save yet: {plan.path_string} does not exist")
        with tempfile.TemporaryDirectory(prefix="kagura-cache-", dir=_temp_root(environ)) as scratch:
            snapshot = Path(scratch) / plan.db.name
            _snapshot(plan.db, snapshot)
            cap = config.memory_cache_max_bytes
            if snapshot.stat().st_size > cap:
                raise CacheUnavailable(
                    f"not saving: the memory DB is {snapshot.stat().st_size} bytes, over "
                    f"memory_cache_max_bytes ({cap}); no restore would accept it"
                )
            archive = Path(scratch) / ARCHIVE_NAME
            size = create_archive(snapshot, plan.member, archive, mode=plan.db.stat().st_mode)
            with CacheServiceClient(plan.results_url, plan.token, budget=plan.budget) as client:
                url = client.reserve(plan.keys.save, plan.version)
                client.upload(url, archive)
                client.finalize(plan.keys.save, plan.version, size)
        result.size_bytes = size
        result.hit = True
    except (KaguraError, OSError) as exc:
        return _warn(result, exc)
    return result


def _snapshot(db: Path, dest: Path) -> None:
    """A consistent copy through the local store (WAL checkpoint, then `VACUUM INTO`).

    Opening the store also checks the file: a corrupt DB is moved aside by the store and a
    fresh one started, and then nothing is saved (an empty DB must not become the newest entry).
    """
    from kagura_engineer.memory.local import LocalMemory

    notes: list[str] = []
    store = LocalMemory(db, warn=notes.append)
    try:
        if notes:
            raise CacheUnavailable(f"not saving: {notes[0]}")
        store.snapshot(dest)
    finally:
        store.close()
