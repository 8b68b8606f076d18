"""The memory DB carried between jobs through the cache stand-in: restore, save, and their rules."""

from __future__ import annotations

import io
import re
import sqlite3
import tarfile
import uuid
from pathlib import Path

from kagura_engineer.cache.archive import create_archive, extract_member, zstd
from kagura_engineer.cache.keys import cache_version
from kagura_engineer.memory.local import LocalMemory

from .conftest import DB, TOKEN

VERSION = cache_version([DB])


def archive_of(tmp_path, data: bytes, name: str = DB) -> bytes:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    out = tmp_path / "seed.tzst"
    create_archive(src, name, out)
    return out.read_bytes()


def db_bytes(tmp_path, rows: list[str]) -> bytes:
    """A genuine memory store (what a save would have archived) holding one memory per row."""
    path = tmp_path / f"seed-{uuid.uuid4().hex[:12]}.db"
    with LocalMemory(path, semantic=False) as store:
        for row in rows:
            store.remember(row, f"{row} (content)", "fact")
    return path.read_bytes()


def notes(path) -> list[str]:
    """The memories' summaries in a store, oldest first (read without the store's own checks)."""
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT summary FROM memories ORDER BY n")]
    finally:
        conn.close()


def test_save_then_restore_carries_memory_to_the_next_job(make_job, service, tmp_path):
    job1 = make_job(run_id="100")
    assert job1.restore().hit is False  # the first job of all: a miss, not a warning
    assert not job1.db.exists()
    job1.remember("the widgets API paginates with cursors")
    saved = job1.save()
    assert saved.warning is None and saved.hit
    assert saved.key == "kagura-memory-acme/widgets-100-1" and saved.version == VERSION
    assert service.entry("kagura-memory-acme/widgets-100-1", VERSION) is not None

    job2 = make_job(run_id="101")
    restored = job2.restore()
    assert restored.warning is None and restored.hit
    assert restored.key == "kagura-memory-acme/widgets-101-1"
    assert restored.matched_key == "kagura-memory-acme/widgets-100-1"
    assert restored.size_bytes == saved.size_bytes
    # byte-identical to the snapshot that was archived (before anything opens it)
    blob = tmp_path / "blob.tzst"
    blob.write_bytes(service.entry("kagura-memory-acme/widgets-100-1").data)
    extract_member(blob, DB, tmp_path / "archived.db")
    assert (tmp_path / "archived.db").read_bytes() == job2.db.read_bytes()
    assert job2.recall("paginates cursors") == ["the widgets API paginates with cursors"]


def test_newest_prefix_match_wins_and_the_exact_key_comes_first(make_job, service, tmp_path):
    service.add_entry(
        "kagura-memory-acme/widgets-1-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["old"]))
    )
    service.add_entry(
        "kagura-memory-acme/widgets-2-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["newer"]))
    )
    service.add_entry("kagura-memory-acme/widgets-3-1", cache_version(["./" + DB]),
                      archive_of(tmp_path, db_bytes(tmp_path, ["other version"])))  # fmt: skip
    service.add_entry(
        "kagura-memory-acme/gadgets-9-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["other repo"]))
    )

    job = make_job(run_id="5")
    result = job.restore()
    assert result.matched_key == "kagura-memory-acme/widgets-2-1"
    assert notes(job.db) == ["newer"]

    # a re-run attempt finds its own earlier attempt's key exactly, even with a newer prefix match
    service.add_entry(
        "kagura-memory-acme/widgets-6-1",
        VERSION,
        archive_of(tmp_path, db_bytes(tmp_path, ["run 6 attempt 1"])),
    )
    service.add_entry(
        "kagura-memory-acme/widgets-7-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["run 7"]))
    )
    again = make_job(run_id="6", attempt="1")
    assert again.restore().matched_key == "kagura-memory-acme/widgets-6-1"
    assert notes(again.db) == ["run 6 attempt 1"]


def test_miss_and_version_mismatch_leave_the_workspace_alone(make_job, service, tmp_path):
    service.add_entry(
        "kagura-memory-acme/widgets-1-1", cache_version(["memory.db"]), archive_of(tmp_path, b"x")
    )
    job = make_job()
    result = job.restore()
    assert (result.hit, result.matched_key, result.warning) == (False, None, None)
    assert not job.db.exists() and not job.db.parent.exists()


def test_the_runtime_token_goes_to_twirp_only(make_job, service):
    job1 = make_job(run_id="1")
    job1.remember("token hygiene")
    assert job1.save().hit
    assert make_job(run_id="2").restore().hit
    blob_requests = service.requests_matching(path=r"^/devstoreaccount1/")
    assert {r.method for r in blob_requests} == {"PUT", "GET"}
    assert service.blob_auth_headers == []
    assert all("authorization" not in r.headers and TOKEN not in r.text() for r in blob_requests)
    twirp = service.requests_matching(path=r"^/twirp/")
    assert twirp and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in twirp)
    put = next(r for r in blob_requests if r.method == "PUT")
    assert put.headers["x-ms-blob-type"] == "BlockBlob"


def test_wire_format_int64_strings_and_origin_of_the_results_url(make_job, service):
    # the runner's URL has a path; the toolkit resolves /twirp/... against the origin
    job = make_job(run_id="1", ACTIONS_RESULTS_URL=f"{service.url}/some/tenant/path/")
    job.remember("wire format")
    assert job.save().hit
    finalize = service.requests_matching(path="FinalizeCacheEntryUpload")[0].json()
    assert isinstance(finalize["size_bytes"], str) and int(finalize["size_bytes"]) > 0
    assert service.int64_numbers == []
    lookup_job = make_job(run_id="2", ACTIONS_RESULTS_URL=f"{service.url}/some/tenant/path/")
    assert lookup_job.restore().hit
    lookup = service.requests_matching(path="GetCacheEntryDownloadURL")[0].json()
    assert lookup == {"key": "kagura-memory-acme/widgets-2-1", "restore_keys": ["kagura-memory-acme/widgets-"],
                      "version": VERSION}  # fmt: skip


def test_5xx_is_retried_within_the_budget(make_job, service):
    job = make_job()
    job.remember("retries")
    service.inject(503, headers={"Retry-After": "0"}, times=2, path="CreateCacheEntry")
    service.inject(502, headers={"Retry-After": "0"}, times=1, method="PUT")
    result = job.save()
    assert result.hit and result.warning is None
    assert len(service.requests_matching(path="CreateCacheEntry")) == 3
    assert len(service.requests_matching(method="PUT")) == 2


def test_existing_local_db_is_replaced_only_by_a_sound_cached_one_and_kept(make_job, service, tmp_path):
    service.add_entry(
        "kagura-memory-acme/widgets-1-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["cached"]))
    )
    job = make_job(run_id="2")
    job.db.parent.mkdir(parents=True)
    job.db.write_bytes(db_bytes(tmp_path, ["local"]))
    result = job.restore()
    assert result.hit and result.warning is None
    assert notes(job.db) == ["cached"]
    backup = job.db.with_name("memory.db.before-restore")
    assert result.backup == str(backup) and notes(backup) == ["local"]


def test_a_damaged_cached_db_is_deleted_and_the_local_one_kept(make_job, service, tmp_path):
    """The schema is the store's own but data pages are trashed: integrity_check rejects it."""
    cached = bytearray(db_bytes(tmp_path, [f"cached memory {i} " + "words " * 40 for i in range(300)]))
    page = 4096
    for offset in range(len(cached) - 6 * page, len(cached) - 2 * page):
        cached[offset] = 0xA5
    service.add_entry("kagura-memory-acme/widgets-1-1", VERSION, archive_of(tmp_path, bytes(cached)))
    job = make_job(run_id="2")
    job.db.parent.mkdir(parents=True)
    local = db_bytes(tmp_path, ["local and fine"])
    job.db.write_bytes(local)
    result = job.restore()
    assert result.hit is False
    # integrity_check reports the damage, or SQLite stops it with "malformed" (cell_size_check)
    assert re.match(r"the restored memory DB was rejected \((integrity check: |database disk image is malformed)",
                    result.warning)  # fmt: skip
    assert result.warning.endswith("; kept the workspace's memory DB")
    assert job.db.read_bytes() == local
    assert sorted(p.name for p in job.db.parent.iterdir()) == ["memory.db"]  # nothing else left behind


def test_garbage_after_an_sqlite_header_is_deleted(make_job, service, tmp_path):
    garbage = b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 2048
    service.add_entry("kagura-memory-acme/widgets-1-1", VERSION, archive_of(tmp_path, garbage))
    job = make_job(run_id="2")
    result = job.restore()
    assert result.warning == (
        "the restored memory DB was rejected (file is not a database); starting with an empty store"
    )
    assert result.rejected == "file is not a database"
    assert not job.db.exists() and list(job.db.parent.iterdir()) == []


def test_hostile_cached_archive_is_refused(make_job, service, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"owned"))
    service.add_entry("kagura-memory-acme/widgets-1-1", VERSION, zstd.compress(buf.getvalue()))
    job = make_job(run_id="2")
    result = job.restore()
    assert result.warning == (
        "the restored memory archive was rejected (member '../../escape.txt' is a parent-directory "
        "component); starting with an empty store"
    )
    assert not (job.workspace.parent.parent / "escape.txt").exists()
    assert not job.db.exists()


def test_a_corrupt_local_db_is_not_saved_over_good_entries(make_job, service):
    job = make_job()
    job.db.parent.mkdir(parents=True)
    job.db.write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 4096)
    result = job.save()
    assert result.hit is False and "not saving" in result.warning
    assert service.finalized() == []
    assert list(job.db.parent.glob("memory.db.corrupt-*"))  # moved aside by the store, not lost


def test_a_db_outside_the_workspace_is_not_carried(make_job, service, tmp_path):
    job = make_job(KAGURA_MEMORY_DB=str(tmp_path / "elsewhere" / "memory.db"))
    (tmp_path / "elsewhere").mkdir()
    sqlite3.connect(tmp_path / "elsewhere" / "memory.db").close()
    result = job.save()
    assert "not inside the workspace" in result.warning
    assert service.requests == []


def test_a_local_db_with_a_pending_wal_is_folded_before_the_swap(make_job, service, tmp_path):
    """A killed writer left rows only in the WAL: they end up in the backup, not on the new DB."""
    service.add_entry(
        "kagura-memory-acme/widgets-1-1", VERSION, archive_of(tmp_path, db_bytes(tmp_path, ["cached"]))
    )
    job = make_job(run_id="2")
    job.db.parent.mkdir(parents=True)
    writer = sqlite3.connect(job.db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE notes (text TEXT)")
    writer.execute("INSERT INTO notes VALUES ('only in the wal')")
    writer.commit()
    # as if the process had been killed: copy the files while the connection is still open
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        (crashed / f"memory.db{suffix}").write_bytes(Path(f"{job.db}{suffix}").read_bytes())
    writer.close()
    for suffix in ("", "-wal"):
        Path(f"{job.db}{suffix}").write_bytes((crashed / f"memory.db{suffix}").read_bytes())
    assert Path(f"{job.db}-wal").stat().st_size > 0

    result = job.restore()
    assert result.hit and result.warning is None
    assert notes(job.db) == ["cached"]
    backup = sqlite3.connect(result.backup)
    assert backup.execute("SELECT text FROM notes").fetchall() == [("only in the wal",)]
    backup.close()
    assert not Path(f"{job.db}-wal").exists()


def test_cloud_backend_carries_nothing(make_job, service):
    from kagura_engineer.config import parse_config

    job = make_job()
    job.config = parse_config(
        {"profile": "t", "memory_backend": "cloud", "workspace_id": "w", "context_id": "c"}
    )
    for result in (job.restore(), job.save()):
        assert result.skipped and "cloud" in result.skipped and result.warning is None
    assert service.requests == []
