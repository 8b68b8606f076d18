"""A loopback stand-in for the Actions cache service v2 and its blob storage.

Twirp `github.actions.results.api.v1.CacheService` (JSON) at
`/twirp/github.actions.results.api.v1.CacheService/<Method>`:

- `CreateCacheEntry{key, version}` → `{ok, signed_upload_url}`. Keys are immutable: an existing
  finalized entry with the same key and version answers HTTP 409 `already_exists` (or, with
  `conflict_style="ok_false"`, `{ok: false, message}`); an unfinished reservation is replaced.
  With `write_denied` set, writes answer `cache write denied: …` (403 Twirp error, or
  `{ok: false, message}` with `write_denied_style="ok_false"`).
- `FinalizeCacheEntryUpload{key, version, size_bytes}` → `{ok, entry_id}`; the size must match
  the uploaded blob. int64 fields sent as JSON numbers are accepted but noted in `int64_numbers`.
- `GetCacheEntryDownloadURL{key, restore_keys, version}` → `{ok, signed_download_url,
  matched_key}`, or `{}` on a miss (proto3 JSON omits defaults, so `ok` is simply absent).
  Only entries with the same version match: the exact key, then a prefix of the key, then each
  restore key exact then prefix, the newest by creation winning among prefix matches.

Every Twirp call needs `Authorization: Bearer <token>` (401 `unauthenticated` otherwise).

Blobs, at Azure-style path URLs `/<account>/<container>/<id>?sv=…&sp=r|w&sig=…` so the Azure
SDK the toolkit uses parses them: `PUT` with `x-ms-blob-type: BlockBlob` (single shot), or
`PUT ?comp=block&blockid=…` then `PUT ?comp=blocklist` (the SDK's block upload), and `GET`
(with `Range`). The signature is checked; the runtime token must not be sent there: a blob
request carrying an `Authorization` header is refused and recorded in `blob_auth_headers`.

Fault injection, request log and crash hooks come from `StandIn`.

    python -m support.actions_cache --port 0 --port-file F --token T
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from kagura_engineer.demo.standin import Request, Response, StandIn, json_response, serve_until_signalled

SERVICE = "github.actions.results.api.v1.CacheService"
TWIRP_PREFIX = f"/twirp/{SERVICE}/"
ACCOUNT, CONTAINER = "devstoreaccount1", "actions-cache"
BLOB_PATH = re.compile(rf"^/{ACCOUNT}/{CONTAINER}/(?P<id>\d+)$")
MAX_KEYS = 10
MAX_KEY_LENGTH = 512


@dataclass
class Entry:
    id: int
    key: str
    version: str
    created: int  # creation order (reservation), for "newest wins"
    finalized: bool = False
    data: bytes | None = None
    size: int | None = None
    blocks: dict[str, bytes] = field(default_factory=dict)


def path_strings(text: str) -> list[str]:
    """A `path:` input as actions/cache reads it: one path per line, trimmed, blank lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def twirp_error(status: int, code: str, msg: str) -> Response:
    return json_response({"code": code, "msg": msg}, status=status)


class ActionsCacheStandIn(StandIn):
    """The cache service and its blob store, in memory."""

    name = "actions-cache"

    def __init__(self, token: str = "test-runtime-token", port: int = 0) -> None:
        super().__init__(port=port)
        self.token = token
        self.entries: list[Entry] = []
        self.blob_auth_headers: list[str] = []  # "METHOD /path" of blob requests that carried Authorization
        self.int64_numbers: list[str] = []  # Twirp fields where an int64 came as a JSON number
        self.conflict_style = "http_409"  # or "ok_false"
        self.write_denied: str | None = None  # e.g. "the cache is read-only for this job"
        self.write_denied_style = "twirp"  # or "ok_false"
        self._secret = secrets.token_bytes(16)
        self._seq = 0

    # -- helpers for tests --------------------------------------------------------------
    @property
    def results_url(self) -> str:
        """What the runner puts in ACTIONS_RESULTS_URL (with a trailing slash)."""
        return f"{self.url}/"

    def env(self) -> dict[str, str]:
        return {"ACTIONS_RESULTS_URL": self.results_url, "ACTIONS_RUNTIME_TOKEN": self.token}

    def finalized(self) -> list[Entry]:
        with self.lock:
            return [e for e in self.entries if e.finalized]

    def entry(self, key: str, version: str | None = None) -> Entry | None:
        with self.lock:
            for e in self.entries:
                if e.key == key and (version is None or e.version == version) and e.finalized:
                    return e
        return None

    def add_entry(self, key: str, version: str, data: bytes) -> Entry:
        """Seed a finalized entry directly (as if another job had saved it)."""
        with self.lock:
            self._seq += 1
            entry = Entry(id=self._seq, key=key, version=version, created=self._seq, finalized=True,
                          data=data, size=len(data))  # fmt: skip
            self.entries.append(entry)
            return entry

    # -- signing ------------------------------------------------------------------------
    def _sig(self, perm: str, entry_id: int) -> str:
        return hmac.new(self._secret, f"{perm}:{entry_id}".encode(), hashlib.sha256).hexdigest()

    def _signed_url(self, perm: str, entry_id: int) -> str:
        query = (
            f"sv=2023-11-03&sr=b&sp={perm}&se=2099-01-01T00%3A00%3A00Z&sig={quote(self._sig(perm, entry_id))}"
        )
        return f"{self.url}/{ACCOUNT}/{CONTAINER}/{entry_id}?{query}"

    # -- dispatch -----------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path.startswith(TWIRP_PREFIX):
            return self._twirp(req, req.path[len(TWIRP_PREFIX) :])
        match = BLOB_PATH.match(req.path)
        if match:
            return self._blob(req, int(match.group("id")))
        return twirp_error(404, "bad_route", f"no handler for {req.method} {req.path}")

    def _twirp(self, req: Request, method: str) -> Response:
        if req.method != "POST":
            return twirp_error(404, "bad_route", f"unsupported method {req.method} (only POST)")
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return twirp_error(401, "unauthenticated", "invalid or missing runtime token")
        if not req.headers.get("content-type", "").startswith("application/json"):
            return twirp_error(404, "bad_route", "unexpected Content-Type (only application/json here)")
        body = req.json()
        if not isinstance(body, dict):
            return twirp_error(400, "malformed", "the body is not a JSON object")
        handler = {
            "CreateCacheEntry": self._create,
            "FinalizeCacheEntryUpload": self._finalize,
            "GetCacheEntryDownloadURL": self._lookup,
        }.get(method)
        if handler is None:
            return twirp_error(404, "bad_route", f"no method {method}")
        with self.lock:
            return handler(body)

    @staticmethod
    def _field(body: dict[str, Any], proto: str, camel: str) -> Any:
        return body.get(proto, body.get(camel))

    def _check_key(self, key: Any) -> str | None:
        if not isinstance(key, str) or not key:
            return "key is required"
        if len(key) > MAX_KEY_LENGTH or "," in key:
            return f"invalid key {key[:40]!r}"
        return None

    def _create(self, body: dict[str, Any]) -> Response:
        key, version = body.get("key"), body.get("version")
        problem = self._check_key(key) or (
            None if isinstance(version, str) and version else "version is required"
        )
        if problem:
            return twirp_error(400, "invalid_argument", problem)
        if self.write_denied:
            msg = f"cache write denied: {self.write_denied}"
            if self.write_denied_style == "ok_false":
                return json_response({"ok": False, "message": msg})
            return twirp_error(403, "permission_denied", msg)
        existing = [e for e in self.entries if e.key == key and e.version == version]
        if any(e.finalized for e in existing):
            msg = "cache entry with the same key, version, and scope already exists"
            if self.conflict_style == "ok_false":
                return json_response({"ok": False, "message": msg})
            return twirp_error(409, "already_exists", msg)
        for e in existing:  # an unfinished reservation is replaced
            self.entries.remove(e)
        self._seq += 1
        entry = Entry(id=self._seq, key=key, version=version, created=self._seq)
        self.entries.append(entry)
        return json_response({"ok": True, "signed_upload_url": self._signed_url("w", entry.id)})

    def _finalize(self, body: dict[str, Any]) -> Response:
        key, version = body.get("key"), body.get("version")
        raw_size = self._field(body, "size_bytes", "sizeBytes")
        if isinstance(raw_size, int):
            self.int64_numbers.append("FinalizeCacheEntryUpload.size_bytes")
        try:
            size = int(raw_size)
        except (TypeError, ValueError):
            return twirp_error(400, "invalid_argument", "size_bytes is required (int64 as a string)")
        entry = next((e for e in self.entries if e.key == key and e.version == version), None)
        if entry is None:
            return twirp_error(404, "not_found", "no reservation for this key and version")
        if entry.finalized:
            return twirp_error(409, "already_exists", "cache entry already finalized")
        if entry.data is None:
            return json_response({"ok": False, "message": "no upload found for this entry"})
        if len(entry.data) != size:
            return json_response(
                {"ok": False, "message": f"size mismatch: uploaded {len(entry.data)}, declared {size}"}
            )
        entry.finalized, entry.size = True, size
        return json_response({"ok": True, "entry_id": str(entry.id)})

    def _lookup(self, body: dict[str, Any]) -> Response:
        key, version = body.get("key"), body.get("version")
        restore_keys = self._field(body, "restore_keys", "restoreKeys") or []
        if not isinstance(restore_keys, list):
            return twirp_error(400, "invalid_argument", "restore_keys must be a list")
        keys = [key, *restore_keys]
        if len(keys) > MAX_KEYS:
            return twirp_error(400, "invalid_argument", f"at most {MAX_KEYS} keys")
        problem = next((p for p in map(self._check_key, keys) if p), None)
        if problem or not isinstance(version, str) or not version:
            return twirp_error(400, "invalid_argument", problem or "version is required")
        candidates = [e for e in self.entries if e.finalized and e.version == version]

        def newest(pred: Any) -> Entry | None:
            found = [e for e in candidates if pred(e)]
            return max(found, key=lambda e: e.created) if found else None

        for k in keys:
            hit = newest(lambda e, k=k: e.key == k) or newest(lambda e, k=k: e.key.startswith(k))
            if hit is not None:
                return json_response(
                    {"ok": True, "signed_download_url": self._signed_url("r", hit.id), "matched_key": hit.key}
                )
        return json_response({})

    # -- blobs --------------------------------------------------------------------------
    def _blob_error(self, status: int, code: str, message: str) -> Response:
        xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        return Response(status, xml, {"Content-Type": "application/xml", "x-ms-error-code": code})

    def _blob_headers(self, entry: Entry) -> dict[str, str]:
        return {
            "ETag": f'"0x{entry.id:016X}"',
            "Last-Modified": formatdate(usegmt=True),
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-version": "2023-11-03",
            "x-ms-request-server-encrypted": "true",
            "Date": formatdate(usegmt=True),
        }

    def _blob(self, req: Request, entry_id: int) -> Response:
        if "authorization" in req.headers:
            with self.lock:
                self.blob_auth_headers.append(f"{req.method} {req.path}")
            return self._blob_error(
                400, "InvalidAuthenticationInfo", "a signed URL takes no Authorization header"
            )
        perm = "w" if req.method == "PUT" else "r"
        sig = req.q("sig") or ""
        if req.q("sp") != perm or not hmac.compare_digest(sig, self._sig(perm, entry_id)):
            return self._blob_error(403, "AuthenticationFailed", "signature did not match")
        with self.lock:
            entry = next((e for e in self.entries if e.id == entry_id), None)
            if entry is None:
                return self._blob_error(404, "BlobNotFound", "the specified blob does not exist")
            if req.method == "PUT":
                return self._put(req, entry)
            if req.method in ("GET", "HEAD") and entry.finalized and entry.data is not None:
                return self._get(req, entry)
        if req.method in ("GET", "HEAD"):
            return self._blob_error(404, "BlobNotFound", "the specified blob does not exist")
        return self._blob_error(405, "UnsupportedHttpVerb", f"{req.method} not supported")

    def _put(self, req: Request, entry: Entry) -> Response:
        if entry.finalized:
            return self._blob_error(409, "BlobImmutable", "the cache entry is finalized")
        comp = req.q("comp")
        if comp == "block":
            block_id = req.q("blockid")
            if not block_id:
                return self._blob_error(400, "InvalidQueryParameterValue", "blockid is required")
            entry.blocks[block_id] = req.body
            return Response(201, b"", self._blob_headers(entry))
        if comp == "blocklist":
            try:
                root = ET.fromstring(req.body)
            except ET.ParseError:
                return self._blob_error(400, "InvalidXmlDocument", "the block list is not XML")
            ids = [el.text or "" for el in root]
            if any(i not in entry.blocks for i in ids):
                return self._blob_error(400, "InvalidBlockList", "the block list names an unknown block")
            entry.data = b"".join(entry.blocks[i] for i in ids)
            entry.blocks.clear()
            return Response(201, b"", self._blob_headers(entry))
        if comp:
            return self._blob_error(400, "InvalidQueryParameterValue", f"comp={comp} not supported")
        if req.headers.get("x-ms-blob-type") != "BlockBlob":
            return self._blob_error(400, "MissingRequiredHeader", "x-ms-blob-type: BlockBlob is required")
        entry.data = req.body
        return Response(201, b"", self._blob_headers(entry))

    def _get(self, req: Request, entry: Entry) -> Response:
        data = entry.data or b""
        headers = {**self._blob_headers(entry), "Content-Type": "application/octet-stream",
                   "x-ms-blob-type": "BlockBlob", "Accept-Ranges": "bytes"}  # fmt: skip
        rng = re.fullmatch(
            r"bytes=(\d+)-(\d*)", req.headers.get("range") or req.headers.get("x-ms-range") or ""
        )
        if rng:
            start = int(rng.group(1))
            end = min(int(rng.group(2)) if rng.group(2) else len(data) - 1, len(data) - 1)
            if start >= len(data):
                return self._blob_error(416, "InvalidRange", "the range is not satisfiable")
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return Response(206, data[start : end + 1], headers)
        return Response(200, data, headers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.actions_cache",
                                     description="Actions cache service v2 stand-in on 127.0.0.1")  # fmt: skip
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument(
        "--token", default="test-runtime-token", help="the runtime token Twirp calls must bear"
    )
    args = parser.parse_args(argv)
    return serve_until_signalled(ActionsCacheStandIn(token=args.token, port=args.port).start(), args.port_file)


if __name__ == "__main__":
    raise SystemExit(main())
