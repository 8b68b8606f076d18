"""The archive: one zstd frame around a PAX tar, readable by GNU tar; hostile archives refused."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest

from kagura_engineer.cache.archive import ArchiveError, create_archive, extract_member, member_name, zstd

HAVE_GNU_ZSTD = bool(shutil.which("tar") and shutil.which("unzstd") and shutil.which("zstdmt"))
needs_tools = pytest.mark.skipif(not HAVE_GNU_ZSTD, reason="GNU tar and zstd binaries not installed")


def sqlite_db(path: Path, rows: int = 50) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT)")
    conn.executemany("INSERT INTO notes (text) VALUES (?)", [(f"note {i} " * 20,) for i in range(rows)])
    conn.commit()
    conn.close()
    return path


def tzst(dest: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A hand-made .tzst with exactly these members (for hostile archives)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    dest.write_bytes(zstd.compress(buf.getvalue()))
    return dest


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def test_round_trip_is_byte_identical_one_frame_pax(tmp_path):
    db = sqlite_db(tmp_path / "ws/.kagura/memory.db")
    archive = tmp_path / "cache.tzst"
    size = create_archive(db, ".kagura/memory.db", archive)
    data = archive.read_bytes()
    assert size == len(data)

    decompressor = zstd.ZstdDecompressor()
    plain = decompressor.decompress(data)
    assert decompressor.eof and decompressor.unused_data == b"", "more than one zstd frame"
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == [".kagura/memory.db"]
    assert "mtime" in infos[0].pax_headers  # a PAX archive, as `tar --posix` writes

    out = tmp_path / "restored.db"
    assert extract_member(archive, "./.kagura/memory.db", out) == db.stat().st_size
    assert out.read_bytes() == db.read_bytes()


@needs_tools
def test_gnu_tar_unpacks_ours_as_actions_cache_does(tmp_path):
    db = sqlite_db(tmp_path / "ws/.kagura/memory.db")
    archive = tmp_path / "cache.tzst"
    create_archive(db, ".kagura/memory.db", archive)
    target = tmp_path / "other-workspace"
    target.mkdir()
    subprocess.run(
        ["tar", "-xf", str(archive), "-P", "-C", str(target), "--use-compress-program", "unzstd"], check=True
    )
    assert (target / ".kagura/memory.db").read_bytes() == db.read_bytes()


@needs_tools
def test_we_unpack_what_gnu_tar_makes_as_actions_cache_does(tmp_path):
    workspace = tmp_path / "ws"
    db = sqlite_db(workspace / ".kagura/memory.db")
    (tmp_path / "manifest.txt").write_text(".kagura/memory.db\n")
    subprocess.run(["tar", "--posix", "-cf", "cache.tzst", "--exclude", "cache.tzst", "-P", "-C", str(workspace),
                    "--files-from", str(tmp_path / "manifest.txt"), "--use-compress-program", "zstdmt"],
                   cwd=tmp_path, check=True)  # fmt: skip
    out = tmp_path / "restored.db"
    extract_member(tmp_path / "cache.tzst", ".kagura/memory.db", out)
    assert out.read_bytes() == db.read_bytes()


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        (member("../x"), "parent-directory"),
        (member(".kagura/../../x"), "parent-directory"),
        (member("/abs/x"), "absolute"),
        (member(".kagura/memory.db", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (member(".kagura/memory.db", tarfile.LNKTYPE, "../outside"), "link"),
        (member("dev", tarfile.CHRTYPE), "special"),
    ],
)
def test_hostile_members_refuse_the_whole_archive(tmp_path, hostile, reason):
    data = None if hostile.type in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE) else b"owned"
    archive = tzst(tmp_path / "evil.tzst", [(member("readme"), b"decoy"), (hostile, data)])
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    with pytest.raises(ArchiveError, match=reason):
        extract_member(archive, ".kagura/memory.db", work / "out.db")
    assert not (tmp_path / "a" / "x").exists() and not (tmp_path / "x").exists()
    assert not Path("/abs/x").exists()


def test_a_hostile_member_after_the_wanted_one_still_refuses(tmp_path):
    good = member(".kagura/memory.db")
    archive = tzst(tmp_path / "evil.tzst", [(good, b"db bytes"), (member("../../x"), b"owned")])
    with pytest.raises(ArchiveError, match="parent-directory"):
        extract_member(archive, ".kagura/memory.db", tmp_path / "out.db")


def test_missing_member_and_garbage_are_refused(tmp_path):
    archive = tzst(tmp_path / "other.tzst", [(member("something/else.db"), b"x")])
    with pytest.raises(ArchiveError, match="no member"):
        extract_member(archive, ".kagura/memory.db", tmp_path / "out.db")
    junk = tmp_path / "junk.tzst"
    junk.write_bytes(b"this is not zstd at all")
    with pytest.raises(ArchiveError, match="not a zstd tar archive"):
        extract_member(junk, ".kagura/memory.db", tmp_path / "out.db")


def test_member_names_are_workspace_relative(tmp_path):
    workspace = tmp_path / "ws"
    assert member_name(workspace / ".kagura/memory.db", workspace) == ".kagura/memory.db"
    assert member_name(workspace / "a/../b/memory.db", workspace) == "b/memory.db"
    with pytest.raises(ArchiveError, match="not inside the workspace"):
        member_name(tmp_path / "elsewhere/memory.db", workspace)
    with pytest.raises(ArchiveError, match="refusing"):
        create_archive(tmp_path / "x", "../x", tmp_path / "out.tzst")
