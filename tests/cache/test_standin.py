"""The cache stand-in keeps the service's rules: bearer token, signed URLs, immutable keys."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.actions_cache import SERVICE

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def twirp(service, method, body, headers=AUTH):
    return httpx.post(f"{service.url}/twirp/{SERVICE}/{method}", json=body, headers=headers)


def test_twirp_requires_the_bearer_token(service):
    response = twirp(service, "GetCacheEntryDownloadURL", {"key": "k", "version": "v"}, headers={})
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    wrong = twirp(
        service,
        "GetCacheEntryDownloadURL",
        {"key": "k", "version": "v"},
        headers={"Authorization": "Bearer nope"},
    )
    assert wrong.status_code == 401
    assert twirp(service, "GetCacheEntryDownloadURL", {"key": "k", "version": "v"}).json() == {}  # a miss


def test_signed_urls_check_the_signature_and_refuse_the_token(service):
    url = twirp(service, "CreateCacheEntry", {"key": "k-1", "version": "v"}).json()["signed_upload_url"]
    assert (
        httpx.put(
            url.replace("sig=", "sig=0"), content=b"x", headers={"x-ms-blob-type": "BlockBlob"}
        ).status_code
        == 403
    )
    leaked = httpx.put(url, content=b"x", headers={"x-ms-blob-type": "BlockBlob", **AUTH})
    assert leaked.status_code == 400 and service.blob_auth_headers == [
        "PUT /devstoreaccount1/actions-cache/1"
    ]
    assert httpx.put(url, content=b"x").status_code == 400  # no x-ms-blob-type
    assert httpx.put(url, content=b"data", headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201


def test_keys_are_immutable_once_finalized(service):
    url = twirp(service, "CreateCacheEntry", {"key": "k-1", "version": "v"}).json()["signed_upload_url"]
    httpx.put(url, content=b"abc", headers={"x-ms-blob-type": "BlockBlob"})
    bad_size = twirp(
        service, "FinalizeCacheEntryUpload", {"key": "k-1", "version": "v", "size_bytes": "4"}
    ).json()
    assert bad_size["ok"] is False and "size mismatch" in bad_size["message"]
    done = twirp(
        service, "FinalizeCacheEntryUpload", {"key": "k-1", "version": "v", "size_bytes": "3"}
    ).json()
    assert done == {"ok": True, "entry_id": "1"}
    again = twirp(service, "CreateCacheEntry", {"key": "k-1", "version": "v"})
    assert again.status_code == 409 and again.json()["code"] == "already_exists"
    # the same key under another version is another entry
    assert twirp(service, "CreateCacheEntry", {"key": "k-1", "version": "v2"}).json()["ok"] is True


def test_block_upload_and_ranged_download(service):
    url = twirp(service, "CreateCacheEntry", {"key": "k-1", "version": "v"}).json()["signed_upload_url"]
    ids = [base64.b64encode(f"block-{i:04d}".encode()).decode() for i in range(2)]
    for block_id, part in zip(ids, (b"hello ", b"world"), strict=True):
        assert httpx.put(f"{url}&comp=block&blockid={block_id}", content=part).status_code == 201
    block_list = (
        "<?xml version='1.0' encoding='utf-8'?><BlockList>"
        + "".join(f"<Latest>{i}</Latest>" for i in ids)
        + "</BlockList>"
    )
    assert httpx.put(f"{url}&comp=blocklist", content=block_list).status_code == 201
    twirp(service, "FinalizeCacheEntryUpload", {"key": "k-1", "version": "v", "size_bytes": "11"})
    hit = twirp(
        service, "GetCacheEntryDownloadURL", {"key": "k-2", "restore_keys": ["k-"], "version": "v"}
    ).json()
    assert hit["ok"] and hit["matched_key"] == "k-1"
    assert httpx.get(hit["signed_download_url"]).content == b"hello world"
    part = httpx.get(hit["signed_download_url"], headers={"Range": "bytes=6-"})
    assert part.status_code == 206 and part.content == b"world"
    assert httpx.get(hit["signed_download_url"].replace("sp=r", "sp=w")).status_code == 403


def test_runs_as_a_process(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "support.actions_cache", "--port", "0",
         "--port-file", str(port_file), "--token", "process-token"],
        cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "stand-in did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        url = f"{base}/twirp/{SERVICE}/GetCacheEntryDownloadURL"
        assert httpx.post(url, json={"key": "k", "version": "v"}).status_code == 401
        ok = httpx.post(
            url, json={"key": "k", "version": "v"}, headers={"Authorization": "Bearer process-token"}
        )
        assert ok.status_code == 200 and ok.json() == {}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
