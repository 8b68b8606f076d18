"""Carry what `setup` builds (`.venv`, `node_modules`) from job to job in the Actions cache.

repo.yaml `setup_cache: {paths: [...], key_files: [...]}`. The key is
`kagura-setup-<machine>-<hash>`, the hash over the image's Python version, the setup commands,
the paths and every file `key_files` matches in the clone (glob patterns; name and bytes, in
order); restore also accepts the newest entry under `kagura-setup-<machine>-` (a stale venv that
setup then brings up to date). Setup always runs: a hit only makes it fast. Save happens after a
successful setup, only when the exact key missed.

The archive is a zstd tar made and unpacked by GNU tar *as the agent user* in its clone, so
every restored file belongs to the agent and an entry (which any job holding the cache token
could have written: data, not trust) can write nothing the agent could not. Only the configured
paths are unpacked, and only when none of them exists in the clone yet. The harness (root)
moves the bytes between the cache service and a file in a folder the agent cannot write.

Like the memory cache, an unusable cache is one warning line and the run goes on.
"""

from __future__ import annotations

import glob
import hashlib
import os
import platform
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kagura_engineer import proc
from kagura_engineer.cache.carry import MODES_READ, MODES_WRITE, cache_mode
from kagura_engineer.cache.client import CacheServiceClient, retry_budget
from kagura_engineer.cache.keys import cache_version, check_key
from kagura_engineer.errors import KaguraError

KEY_PREFIX = "kagura-setup"
#: A file in the archive naming the clone it was saved from (for `_relocate`).
ORIGIN = ".kagura-setup-origin"
#: The largest archive saved or restored (the upload is one PUT of the whole file).
MAX_BYTES = 512 * 1024**2
_TAR_TIMEOUT = 900.0


@dataclass
class SetupCacheResult:
    key: str | None = None
    matched_key: str | None = None
    restored: bool = False
    saved: bool = False
    size_bytes: int | None = None
    note: str | None = None  # one line for the log: a skip or a warning

    @property
    def exact_hit(self) -> bool:
        return self.restored and self.matched_key == self.key

    def describe(self) -> str:
        if self.note:
            return self.note
        if self.restored:
            how = "exact key" if self.exact_hit else "an older entry"
            return f"setup cache hit: restored {self.matched_key} ({how}, {self.size_bytes} bytes)"
        if self.saved:
            return f"setup cache saved as {self.key} ({self.size_bytes} bytes)"
        return f"setup cache miss for {self.key}"


def key_files(clone: Path, patterns: list[str]) -> list[Path]:
    """The regular files inside the clone that `patterns` match, sorted; links out are ignored."""
    root = Path(os.path.realpath(clone))
    found: set[Path] = set()
    for pattern in patterns:
        for name in glob.glob(pattern, root_dir=root, recursive=True):
            path = root / name
            real = Path(os.path.realpath(path))
            if real.is_file() and (real == root or root in real.parents):
                found.add(path)
    return sorted(found)


def cache_key(config: Any, clone: Path) -> str:
    """`kagura-setup-<machine>-<sha256 prefix>`: see the module doc."""
    digest = hashlib.sha256()
    digest.update(f"python {platform.python_version()}\n".encode())
    for step in config.setup:
        digest.update(f"setup {step.as_ or ''} {step.run}\n".encode())
    for path in config.setup_cache.paths:
        digest.update(f"path {path}\n".encode())
    for path in key_files(clone, config.setup_cache.key_files):
        digest.update(f"file {path.relative_to(Path(os.path.realpath(clone))).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return check_key(f"{_prefix()}{digest.hexdigest()[:40]}")


def _prefix() -> str:
    return f"{KEY_PREFIX}-{platform.machine() or 'any'}-"


def _version(paths: list[str]) -> str:
    return cache_version([*paths, KEY_PREFIX])


def _service(environ: Any, op: str, result: SetupCacheResult) -> tuple[str, str] | None:
    mode = cache_mode(environ)
    if mode not in (MODES_READ if op == "restore" else MODES_WRITE):
        result.note = f"setup cache {op} skipped: ACTIONS_CACHE_MODE={mode}"
        return None
    url = (environ.get("ACTIONS_RESULTS_URL") or "").strip()
    token = (environ.get("ACTIONS_RUNTIME_TOKEN") or "").strip()
    if not url or not token:
        result.note = f"setup cache {op} skipped: no Actions cache service in this job"
        return None
    return url, token


class _Scratch:
    """A folder the agent can enter but not write (root 0711), holding one archive file."""

    def __init__(self, user: proc.Identity | None, root: Path | None) -> None:
        self.user = user
        self.dir = Path(tempfile.mkdtemp(prefix="kagura-setup-cache-", dir=root))
        os.chmod(self.dir, 0o711)
        self.archive = self.dir / "setup.tzst"

    def hand_over(self) -> None:
        """The archive file, made by root, given to the agent user (who writes or reads it)."""
        if not self.archive.exists():
            fd = os.open(self.archive, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        if self.user is not None:
            os.chown(self.archive, self.user.uid, self.user.gid, follow_symlinks=False)

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _tar(args: list[str], clone: Path, user: proc.Identity | None) -> proc.Result:
    argv = ["tar", "--use-compress-program=zstd -T0", *args]
    return proc.run(argv, cwd=clone, timeout=_TAR_TIMEOUT, user=user)


def restore(
    config: Any,
    clone: Path,
    user: proc.Identity | None,
    environ: Any = None,
    scratch_root: Path | None = None,
) -> SetupCacheResult:
    """Unpack the newest matching entry into the clone as the agent user (module doc).

    `scratch_root`: a root-owned folder the agent user can traverse (the agent spaces' root).
    """
    environ = os.environ if environ is None else environ
    result = SetupCacheResult()
    try:
        result.key = key = cache_key(config, clone)
        paths = config.setup_cache.paths
        present = [p for p in paths if os.path.lexists(clone / p)]
        if present:
            result.note = f"setup cache restore skipped: {', '.join(present)} already in the clone"
            return result
        service = _service(environ, "restore", result)
        if service is None:
            return result
        with (
            CacheServiceClient(*service, budget=retry_budget(environ)) as client,
            _Scratch(user, scratch_root) as scratch,
        ):
            hit = client.lookup(key, [_prefix()], _version(paths))
            if hit is None:
                return result
            result.matched_key = hit.matched_key
            result.size_bytes = client.download(hit.download_url, scratch.archive, max_bytes=MAX_BYTES)
            scratch.hand_over()
            untar = _tar(["-x", "-f", str(scratch.archive), "--", ORIGIN, *paths], clone, user)
            if not untar.ok and not _only_absent_members(untar):
                result.note = f"setup cache entry {hit.matched_key} not restored: tar: {untar.tail(300)}"
                return result
            _relocate(clone, paths, user)
        result.restored = True
    except (KaguraError, OSError) as exc:
        result.note = f"setup cache not restored: {_why(exc)}"
    return result


def save(
    config: Any,
    clone: Path,
    user: proc.Identity | None,
    environ: Any = None,
    scratch_root: Path | None = None,
) -> SetupCacheResult:
    """Archive the configured paths (as the agent user) and save them under the exact key."""
    environ = os.environ if environ is None else environ
    result = SetupCacheResult()
    try:
        result.key = key = cache_key(config, clone)
        paths = [p for p in config.setup_cache.paths if os.path.lexists(clone / p)]
        if not paths:
            result.note = "setup cache: nothing to save (none of setup_cache.paths exists after setup)"
            return result
        service = _service(environ, "save", result)
        if service is None:
            return result
        with _Scratch(user, scratch_root) as scratch:
            scratch.hand_over()
            proc.run(["sh", "-c", f"pwd > {ORIGIN}"], cwd=clone, timeout=30, user=user, check=True)
            try:
                made = _tar(["--posix", "-c", "-f", str(scratch.archive), "--", ORIGIN, *paths], clone, user)
            finally:
                proc.run(["rm", "-f", "--", ORIGIN], cwd=clone, timeout=30, user=user)
            if not made.ok:
                result.note = f"setup cache not saved: tar: {made.tail(300)}"
                return result
            size = scratch.archive.stat().st_size
            if size > MAX_BYTES:
                result.note = f"setup cache not saved: the archive is {size} bytes, over {MAX_BYTES}"
                return result
            with CacheServiceClient(*service, budget=retry_budget(environ)) as client:
                version = _version(config.setup_cache.paths)
                url = client.reserve(key, version)
                client.upload(url, scratch.archive)
                client.finalize(key, version, size)
        result.saved, result.size_bytes = True, size
    except (KaguraError, OSError) as exc:
        result.note = f"setup cache not saved: {_why(exc)}"
    return result


def _relocate(clone: Path, paths: list[str], user: proc.Identity | None) -> None:
    """Venvs and node_modules hold their own absolute path (script shebangs, `.pth` files):
    rewrite the saving clone's path to this clone's in every text file, as the agent user."""
    origin = clone / ORIGIN
    try:
        st = origin.lstat()
        old = (
            origin.read_text(encoding="utf-8").strip()
            if stat.S_ISREG(st.st_mode) and st.st_size < 4096
            else ""
        )
    except (OSError, UnicodeDecodeError):
        old = ""
    proc.run(["rm", "-f", "--", ORIGIN], cwd=clone, timeout=30, user=user)
    new = os.path.realpath(clone)
    if not old.startswith("/") or old == new or "\n" in old:
        return
    script = 'old="$1"; new="$2"; shift 2; grep -rlIZF -- "$old" "$@" | xargs -0 -r sed -i "s|$(esc "$old")|$(esc "$new")|g"'
    esc = "esc() { printf '%s' \"$1\" | sed 's/[][\\.*^$|]/\\\\&/g'; }; "
    proc.run(
        ["bash", "-c", esc + script, "relocate", old, new, *paths], cwd=clone, timeout=_TAR_TIMEOUT, user=user
    )


def _only_absent_members(result: proc.Result) -> bool:
    """tar exits 2 when a named path is not in the archive (saved while it did not exist)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return (
        result.returncode == 2
        and bool(lines)
        and all("Not found in archive" in line or "due to previous errors" in line for line in lines)
    )


def _why(exc: BaseException) -> str:
    return proc.redact(exc.message if isinstance(exc, KaguraError) else f"{type(exc).__name__}: {exc}")
