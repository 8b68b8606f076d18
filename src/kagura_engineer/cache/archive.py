"""The cache archive: a PAX tar of one file inside one zstd frame, as `actions/cache` makes it.

`actions/cache` runs `tar --posix -cf cache.tzst -P -C $GITHUB_WORKSPACE --files-from manifest
--use-compress-program zstdmt`, so an entry is a PAX tar whose members are named relative to
the workspace, compressed as one zstd frame (with a content checksum), and it unpacks with
`tar -xf cache.tzst -P -C $GITHUB_WORKSPACE --use-compress-program unzstd`. We write the same
shape with `tarfile` and the zstd library, and read it back refusing anything that could write
outside the file we asked for: absolute or `..` member names, links, device files.

Reading is one pass over the stream, bounded: the unpacked tar may not pass the size cap
(plus `TAR_SLACK` for its headers), a member larger than the cap is refused before a byte of
it is written, and the member's first bytes must be the expected file header (for the memory
DB, SQLite's) before the rest is written.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from kagura_engineer.errors import CacheError

try:  # Python 3.14+: the standard library; before that the backport with the same API
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[no-redef]

#: `actions/cache` names the archive this for the zstd methods.
ARCHIVE_NAME = "cache.tzst"
COMPRESSION_LEVEL = 3  # zstd's default, what `zstdmt` uses
#: Refuse to unpack a member larger than this unless told a smaller cap (the repository's
#: whole cache budget).
MAX_MEMBER_BYTES = 10 * 1024**3
#: What a tar adds around one member of at most the cap: PAX and ustar headers, padding to
#: 512 bytes and GNU tar's 10 KiB records. Also what zstd may add to incompressible data.
TAR_SLACK = 1024**2
CHUNK = 1024**2


class ArchiveError(CacheError):
    """An archive we will not write or unpack."""

    code = "cache-archive"


def member_name(path: str | os.PathLike[str], workspace: str | os.PathLike[str]) -> str:
    """The tar member name of `path`: relative to the workspace, `/`-separated, like actions/cache.

    Both are made absolute lexically (the toolkit's glob does not resolve symlinks). A path
    outside the workspace would become `../…`, which no safe extractor restores: refused.
    """
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(workspace)).replace(os.sep, "/")
    if rel == "." or rel == ".." or rel.startswith("../"):
        raise ArchiveError(
            f"{path} is not inside the workspace {workspace}: it cannot be carried in the cache",
            hint="set local_memory_path to a path inside the repository checkout (e.g. .kagura/memory.db)",
        )
    return rel


def _normal(name: str) -> str:
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    return "/".join(parts)


def unsafe_reason(info: tarfile.TarInfo) -> str | None:
    """Why a member must not be unpacked, or None when it is a plain file or directory."""
    name = info.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "parent-directory component"
    if info.issym() or info.islnk():
        return "link"
    if not (info.isreg() or info.isdir()):
        return "special file"
    return None


def create_archive(
    src: str | os.PathLike[str], member: str, dest: str | os.PathLike[str], mode: int | None = None
) -> int:
    """Write `src` as the single member `member` of a PAX tar in one zstd frame at `dest`; its size."""
    src, dest = Path(src), Path(dest)
    if _normal(member) != member or member.startswith("/") or ".." in member.split("/"):
        raise ArchiveError(f"refusing to write an archive member named {member!r}")
    options = {zstd.CompressionParameter.compression_level: COMPRESSION_LEVEL,
               zstd.CompressionParameter.checksum_flag: 1}  # fmt: skip
    st = src.stat()
    # ZstdFile ends its one frame on close; tarfile in stream mode only ever writes.
    with zstd.ZstdFile(dest, "w", options=options) as zf:
        with tarfile.open(fileobj=zf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tar.gettarinfo(str(src), arcname=member)
            if mode is not None:
                info.mode = mode & 0o7777
            info.pax_headers = {"mtime": f"{st.st_mtime_ns / 1e9:.9f}"}  # what `tar --posix` records
            with src.open("rb") as fh:
                tar.addfile(info, fh)
    return dest.stat().st_size


class _Bounded:
    """A read-only view of a stream that refuses to deliver more than `limit` bytes in all."""

    def __init__(self, inner: zstd.ZstdFile, limit: int) -> None:
        self._inner, self._limit, self._seen = inner, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size if size >= 0 else self._limit + 1)
        self._seen += len(data)
        if self._seen > self._limit:
            raise ArchiveError(f"it unpacks to more than {self._limit} bytes (over memory_cache_max_bytes)")
        return data


def extract_member(
    archive: str | os.PathLike[str],
    member: str,
    dest: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_MEMBER_BYTES,
    header: bytes = b"",
) -> int:
    """Unpack `member` of the archive into the new file `dest` (created, never overwritten); its size.

    Every member is checked first: one unsafe member refuses the whole archive (and `dest`
    may then hold a partial file, which the caller removes). Other plain members are skipped.
    The stream is decompressed at most to `max_bytes` + `TAR_SLACK`; a member over `max_bytes`,
    or not starting with `header`, is refused before `dest` is created.
    """
    want = _normal(member)
    dest = Path(dest)
    found = -1
    try:
        with zstd.ZstdFile(archive, "r") as zf:
            stream = _Bounded(zf, max_bytes + TAR_SLACK)
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    reason = unsafe_reason(info)
                    if reason:
                        raise ArchiveError(f"member {info.name!r} is a {reason}")
                    if not info.isreg() or _normal(info.name) != want:
                        continue
                    if found >= 0:
                        raise ArchiveError(f"member {info.name!r} appears twice")
                    if info.size > max_bytes:
                        raise ArchiveError(
                            f"{info.name!r} is {info.size} bytes, over memory_cache_max_bytes ({max_bytes})"
                        )
                    source = tar.extractfile(info)
                    assert source is not None  # a regular file always has data
                    head = source.read(len(header))
                    if head != header:
                        expected = header.rstrip(b"\0").decode("latin-1")
                        raise ArchiveError(f"{info.name!r} does not start with the {expected!r} header")
                    with dest.open("xb") as out:
                        out.write(head)
                        shutil.copyfileobj(source, out, CHUNK)
                    found = info.size
    except (tarfile.TarError, zstd.ZstdError, EOFError) as exc:
        raise ArchiveError(f"the cache entry is not a zstd tar archive ({exc})") from None
    if found < 0:
        raise ArchiveError(f"the cache archive has no member {member!r}")
    return found
