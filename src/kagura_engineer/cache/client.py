"""A client for the Actions cache service v2: Twirp `CacheService` plus signed blob URLs.

- Twirp: `POST <origin of ACTIONS_RESULTS_URL>/twirp/github.actions.results.api.v1.CacheService/<Method>`
  with `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`, JSON bodies in proto field names, int64
  as strings, defaults omitted (so a missing `ok` is false).
- Blobs: one `PUT <signed_upload_url>` with `x-ms-blob-type: BlockBlob` (the Azure REST form of
  the toolkit's single-shot upload, enough below its 128 MiB block threshold), one GET of the
  signed download URL, streamed to a file and cut off at a size cap. The runtime token never
  goes to a signed URL, and signed URLs (their query is a credential) never appear in a message.
- Retries: 500/502/503/504 only, bounded to `RETRY_SECONDS` for the whole operation (a restore
  or a save), through `kagura_engineer.http.HttpClient`. 429 is not retried, as the toolkit
  does since 5.0.3: the service is throttling this repository, so we give up at once.

Everything that means "the cache cannot be used right now" is `CacheUnavailable`; an entry that
already exists (immutable keys) is `CacheConflict`. Callers turn both into a warning.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from kagura_engineer.cache.archive import ArchiveError
from kagura_engineer.errors import CacheError
from kagura_engineer.http import HttpClient, RetryPolicy

SERVICE = "github.actions.results.api.v1.CacheService"
#: The whole operation's retry budget (seconds); `KAGURA_CACHE_RETRY_SECONDS` overrides it.
RETRY_SECONDS = 30.0
RETRY_STATUSES = frozenset({500, 502, 503, 504})
BLOB_API_VERSION = "2023-11-03"
QUOTA_MESSAGE = "insufficient usage"
WRITE_DENIED = "cache write denied"


class CacheUnavailable(CacheError):
    """The cache service cannot be used now (no credentials, unreachable, throttled, refused)."""

    code = "cache-unavailable"


class CacheConflict(CacheUnavailable):
    """An entry with this key and version exists or is being created by another job."""

    code = "cache-conflict"


@dataclass(frozen=True)
class CacheHit:
    matched_key: str
    download_url: str


def twirp_base(results_url: str) -> str:
    """The origin of ACTIONS_RESULTS_URL: the toolkit resolves `/twirp/…` against it, dropping any path."""
    parts = urlsplit(results_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CacheUnavailable(f"ACTIONS_RESULTS_URL is not an http(s) URL: {_safe_url(results_url)}")
    return f"{parts.scheme}://{parts.netloc}"


def _safe_url(url: str) -> str:
    """A URL without its query or credentials: signed URLs carry their signature in the query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<url>"


def retry_budget(environ: Mapping[str, str]) -> float:
    raw = (environ.get("KAGURA_CACHE_RETRY_SECONDS") or "").strip()
    try:
        return max(0.0, float(raw)) if raw else RETRY_SECONDS
    except ValueError:
        return RETRY_SECONDS


class CacheServiceClient:
    """One operation's worth of calls to the cache service; `close()` when done."""

    def __init__(
        self,
        results_url: str,
        token: str,
        *,
        budget: float = RETRY_SECONDS,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise CacheUnavailable("ACTIONS_RUNTIME_TOKEN is not set")
        self.base = twirp_base(results_url)
        self._token = token
        self._deadline = time.monotonic() + budget
        policy = RetryPolicy(statuses=RETRY_STATUSES, attempts=5, total_seconds=budget,
                             base_delay=2.0, max_delay=10.0)  # fmt: skip
        # No base URL and no default Authorization: the token is added per Twirp call only.
        self._http = HttpClient(timeout=timeout, policy=policy, sleep=sleep)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CacheServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------
    def _spend_budget(self) -> None:
        """The next call may retry only for what is left of the operation's budget."""
        remaining = self._deadline - time.monotonic()
        self._http.policy = replace(self._http.policy, total_seconds=max(0.0, remaining))

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        self._spend_budget()
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise CacheUnavailable(
                f"cache service unreachable during {what} ({type(exc).__name__} at {_safe_url(url)})"
            ) from None

    def _twirp(self, rpc: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/twirp/{SERVICE}/{rpc}"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
        response = self._send("POST", url, rpc, json=body, headers=headers)
        data = _json(response)
        if response.is_success:
            return data
        msg = str(data.get("msg") or data.get("message") or response.reason_phrase or "").strip()
        code = str(data.get("code") or "")
        detail = f"{rpc}: HTTP {response.status_code}{f' {code}' if code else ''}{f': {msg}' if msg else ''}"
        if WRITE_DENIED in msg.lower():
            raise CacheUnavailable(msg if msg.lower().startswith(WRITE_DENIED) else f"{WRITE_DENIED}: {msg}")
        if QUOTA_MESSAGE in msg.lower():
            raise CacheUnavailable(f"the repository's cache storage quota is full ({detail})")
        if response.status_code == 429:
            after = response.headers.get("retry-after")
            raise CacheUnavailable(f"cache service is throttling this repository ({detail}"
                                   f"{f', retry after {after}s' if after else ''})")  # fmt: skip
        if response.status_code == 409 or code == "already_exists":
            raise CacheConflict(f"cache entry already exists ({detail})")
        if response.status_code in (401, 403):
            raise CacheUnavailable(f"cache service refused the runtime token ({detail})")
        if response.status_code >= 500:
            raise CacheUnavailable(f"cache service failing after retries ({detail})")
        raise CacheUnavailable(f"cache service answered {detail}")

    # -- the three methods -------------------------------------------------------------
    def lookup(self, key: str, restore_keys: list[str], version: str) -> CacheHit | None:
        """`GetCacheEntryDownloadURL`: the matched entry, or None on a miss (`ok` false or absent)."""
        body: dict[str, Any] = {"key": key, "version": version}
        if restore_keys:
            body["restore_keys"] = list(restore_keys)
        data = self._twirp("GetCacheEntryDownloadURL", body)
        if not data.get("ok"):
            return None
        url = str(data.get("signed_download_url") or "")
        if not url:
            raise CacheUnavailable("GetCacheEntryDownloadURL: ok without a download URL")
        return CacheHit(matched_key=str(data.get("matched_key") or key), download_url=url)

    def reserve(self, key: str, version: str) -> str:
        """`CreateCacheEntry`: the signed upload URL (CacheConflict when the key is taken)."""
        data = self._twirp("CreateCacheEntry", {"key": key, "version": version})
        if not data.get("ok"):
            message = str(data.get("message") or "").strip()
            if WRITE_DENIED in message.lower():
                raise CacheUnavailable(message)
            raise CacheConflict(
                f"unable to reserve cache key {key}: another job may be creating this cache"
                f"{f' ({message})' if message else ''}"
            )
        url = str(data.get("signed_upload_url") or "")
        if not url:
            raise CacheUnavailable("CreateCacheEntry: ok without an upload URL")
        return url

    def finalize(self, key: str, version: str, size: int) -> str:
        """`FinalizeCacheEntryUpload` (size as an int64 JSON string): the entry id."""
        data = self._twirp(
            "FinalizeCacheEntryUpload", {"key": key, "version": version, "size_bytes": str(size)}
        )
        if not data.get("ok"):
            message = str(data.get("message") or "").strip()
            raise CacheConflict(f"unable to finalize cache key {key}{f': {message}' if message else ''}")
        return str(data.get("entry_id") or "")

    # -- blobs -------------------------------------------------------------------------
    def upload(self, signed_url: str, archive: str | os.PathLike[str]) -> int:
        """One PUT of the whole archive to the signed URL (no Authorization header)."""
        data = Path(archive).read_bytes()
        headers = {
            "x-ms-blob-type": "BlockBlob",
            "x-ms-version": BLOB_API_VERSION,
            "Content-Type": "application/octet-stream",
        }
        response = self._send("PUT", signed_url, "the upload", content=data, headers=headers)
        if not response.is_success:
            raise CacheUnavailable(f"upload to {_safe_url(signed_url)} failed: HTTP {response.status_code}")
        return len(data)

    def download(self, signed_url: str, dest: str | os.PathLike[str], *, max_bytes: int | None = None) -> int:
        """GET the signed URL into the new file `dest`, streamed; the byte count (checked
        against Content-Length). A body passing `max_bytes` is an `ArchiveError` at once:
        nothing past the cap is written, and `dest` is removed on any failure."""
        dest = Path(dest)
        self._spend_budget()
        written = 0
        try:
            with self._http.stream("GET", signed_url) as response:
                if not response.is_success:
                    raise CacheUnavailable(
                        f"download from {_safe_url(signed_url)} failed: HTTP {response.status_code}"
                    )
                with dest.open("xb") as out:
                    for chunk in response.iter_bytes(1024 * 1024):
                        written += len(chunk)
                        if max_bytes is not None and written > max_bytes:
                            raise ArchiveError(
                                f"the archive is larger than {max_bytes} bytes (over memory_cache_max_bytes)"
                            )
                        out.write(chunk)
                expected = response.headers.get("content-length")
        except httpx.HTTPError as exc:
            dest.unlink(missing_ok=True)
            raise CacheUnavailable(
                f"cache service unreachable during the download ({type(exc).__name__} at {_safe_url(signed_url)})"
            ) from None
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        if expected is not None and expected.isdigit() and int(expected) != written:
            dest.unlink(missing_ok=True)
            raise CacheUnavailable(f"incomplete download: {written} of {expected} bytes")
        return written


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
