"""The restore reads a hostile archive in one bounded pass: the download, the unpacked stream and
the member each stop at the size cap, and nothing is written before the header is SQLite's."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kagura_engineer.cache.archive import TAR_SLACK, ArchiveError, extract_member, zstd
from kagura_engineer.cache.client import CacheServiceClient
from kagura_engineer.memory.integrity import SQLITE_HEADER

from .conftest import DB, TOKEN

DB_BYTES = SQLITE_HEADER + bytes(range(256)) * 16  # 4112 bytes that start like a database


def tzst(dest: Path, members: list[tuple[str, bytes]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(zstd.compress(buf.getvalue()))
    return dest


def test_a_member_at_the_cap_is_unpacked_whole(tmp_path):
    archive = tzst(tmp_path / "a.tzst", [(DB, DB_BYTES)])
    out = tmp_path / "out.db"
    assert extract_member(archive, DB, out, max_bytes=len(DB_BYTES), header=SQLITE_HEADER) == len(DB_BYTES)
    assert out.read_bytes() == DB_BYTES


def test_a_member_over_the_cap_is_refused_before_a_byte_is_written(tmp_path):
    archive = tzst(tmp_path / "a.tzst", [(DB, DB_BYTES)])
    out = tmp_path / "out.db"
    with pytest.raises(ArchiveError, match=r"is 4112 bytes, over memory_cache_max_bytes \(4111\)"):
        extract_member(archive, DB, out, max_bytes=len(DB_BYTES) - 1, header=SQLITE_HEADER)
    assert not out.exists()


def test_decompression_stops_at_the_cap_even_in_members_that_are_skipped(tmp_path):
    # a zstd bomb: a megabyte of zeros is a few hundred bytes compressed
    bomb = bytes(4096 + TAR_SLACK)
    archive = tzst(tmp_path / "a.tzst", [("padding.bin", bomb), (DB, DB_BYTES[:4096])])
    assert archive.stat().st_size < 4096
    out = tmp_path / "out.db"
    with pytest.raises(ArchiveError, match=rf"unpacks to more than {4096 + TAR_SLACK} bytes"):
        extract_member(archive, DB, out, max_bytes=4096, header=SQLITE_HEADER)
    assert not out.exists()
    # the same archive with room for it is fine: the limit is the cap, not the member alone
    assert extract_member(archive, DB, out, max_bytes=2 * len(bomb), header=SQLITE_HEADER) == 4096


def test_a_member_without_the_sqlite_header_is_refused_before_it_is_written(tmp_path):
    archive = tzst(tmp_path / "a.tzst", [(DB, b"SQLite format 2\x00" + DB_BYTES[16:])])
    out = tmp_path / "out.db"
    with pytest.raises(ArchiveError, match="does not start with the 'SQLite format 3' header"):
        extract_member(archive, DB, out, header=SQLITE_HEADER)
    assert not out.exists()
    short = tzst(tmp_path / "b.tzst", [(DB, b"SQLite")])
    with pytest.raises(ArchiveError, match="header"):
        extract_member(short, DB, out, header=SQLITE_HEADER)


def test_the_wanted_member_twice_is_refused(tmp_path):
    archive = tzst(tmp_path / "a.tzst", [(DB, DB_BYTES), (f"./{DB}", SQLITE_HEADER + b"second")])
    with pytest.raises(ArchiveError, match="appears twice"):
        extract_member(archive, DB, tmp_path / "out.db", header=SQLITE_HEADER)


def test_the_download_stops_at_the_cap_and_leaves_no_file(service, tmp_path):
    blob = bytes(range(256)) * 64  # 16 KiB
    service.add_entry("k-1", "v", blob)
    with CacheServiceClient(service.results_url, TOKEN) as client:
        hit = client.lookup("k-1", [], "v")
        dest = tmp_path / "cache.tzst"
        with pytest.raises(ArchiveError, match=f"larger than {len(blob) - 1} bytes"):
            client.download(hit.download_url, dest, max_bytes=len(blob) - 1)
        assert not dest.exists()
        assert client.download(hit.download_url, dest, max_bytes=len(blob)) == len(blob)
        assert dest.read_bytes() == blob


def test_the_streamed_download_is_still_retried_on_5xx(service, tmp_path):
    service.add_entry("k-1", "v", b"archive bytes")
    service.inject(503, headers={"Retry-After": "0"}, times=2, method="GET")
    with CacheServiceClient(service.results_url, TOKEN) as client:
        hit = client.lookup("k-1", [], "v")
        assert client.download(hit.download_url, tmp_path / "cache.tzst", max_bytes=100) == 13
    assert (tmp_path / "cache.tzst").read_bytes() == b"archive bytes"
    assert len(service.requests_matching(method="GET")) == 3
