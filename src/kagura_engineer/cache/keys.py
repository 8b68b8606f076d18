"""Cache keys and the cache version, computed exactly as `@actions/cache` computes them.

The version is what makes an entry saved by `actions/cache@v4` restorable here and the other
way round: `sha256("<path>|zstd-without-long|1.0")` over the `path:` strings as written (no
normalisation: `./x` and `x` differ). Keys are per run attempt, because entries are immutable;
restore looks up the run's own key first, then the newest entry under the repository prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The compression method name `@actions/cache` uses whenever a `zstd` binary answers.
COMPRESSION_METHOD = "zstd-without-long"
#: The toolkit's version salt (bumped by the toolkit on a breaking archive change).
VERSION_SALT = "1.0"
KEY_PREFIX = "kagura-memory"
MAX_KEY_LENGTH = 512
MAX_KEYS = 10


class CacheKeyError(ValueError):
    """A key the cache service would refuse (too long, a comma, or missing run context)."""


def cache_version(paths: Sequence[str], compression: str = COMPRESSION_METHOD) -> str:
    """`cacheUtils.getCacheVersion` on Linux: sha256 of the path strings, method and salt joined by `|`."""
    components = [*paths, compression, VERSION_SALT]
    return hashlib.sha256("|".join(components).encode("utf-8")).hexdigest()


def check_key(key: str) -> str:
    """Refuse a key the service would refuse (the toolkit's `checkKey`)."""
    if not key:
        raise CacheKeyError("empty cache key")
    if len(key) > MAX_KEY_LENGTH:
        raise CacheKeyError(f"cache key longer than {MAX_KEY_LENGTH} characters: {key[:60]}…")
    if "," in key:
        raise CacheKeyError(f"cache key contains a comma: {key}")
    return key


@dataclass(frozen=True)
class MemoryKeys:
    """The save key of this run attempt and the restore prefix of the repository."""

    save: str
    restore_prefix: str

    @property
    def restore_keys(self) -> list[str]:
        return [self.restore_prefix]


def memory_keys(environ: Mapping[str, str]) -> MemoryKeys:
    """`kagura-memory-<owner/repo>-<run_id>-<run_attempt>` and `kagura-memory-<owner/repo>-`."""
    repository = (environ.get("GITHUB_REPOSITORY") or "").strip()
    run_id = (environ.get("GITHUB_RUN_ID") or "").strip()
    attempt = (environ.get("GITHUB_RUN_ATTEMPT") or "").strip() or "1"
    missing = [n for n, v in (("GITHUB_REPOSITORY", repository), ("GITHUB_RUN_ID", run_id)) if not v]
    if missing:
        raise CacheKeyError(f"{' and '.join(missing)} not set: not inside a GitHub Actions run")
    prefix = f"{KEY_PREFIX}-{repository}-"
    return MemoryKeys(save=check_key(f"{prefix}{run_id}-{attempt}"), restore_prefix=check_key(prefix))
