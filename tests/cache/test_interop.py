"""Interoperability with the real `@actions/cache` package (what `actions/cache@v4` runs), both ways.

The package comes from `scripts/install_test_tools.sh` (`.tools/actions-cache`, or
$KAGURA_TOOLS_DIR/actions-cache). Without it (or without node or zstd) these tests skip on a
developer machine and fail under CI, so the interop claim can never pass vacuously there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kagura_engineer.cache.archive import extract_member
from kagura_engineer.cache.keys import cache_version

from .conftest import DB, TOKEN

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "interop" / "toolkit.js"
TOOLS = Path(os.environ.get("KAGURA_TOOLS_DIR") or ROOT / ".tools")
MODULES = TOOLS / "actions-cache" / "node_modules"


def _missing() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not shutil.which("zstd"):
        return "zstd is not installed (the toolkit would fall back to gzip)"
    if not (MODULES / "@actions" / "cache" / "package.json").is_file():
        return f"@actions/cache is not installed in {MODULES.parent} (run scripts/install_test_tools.sh)"
    return None


@pytest.fixture(autouse=True)
def _toolkit_present():
    problem = _missing()
    if problem and os.environ.get("CI"):
        pytest.fail(f"interop test cannot run under CI: {problem}")
    if problem:
        pytest.skip(problem)


def toolkit(job, *args: str) -> dict:
    """Run the toolkit as a JavaScript action would, in the job's workspace; its RESULT line."""
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "NO_PROXY": "127.0.0.1",
        "ACTIONS_RESULTS_URL": job.env["ACTIONS_RESULTS_URL"], "ACTIONS_RUNTIME_TOKEN": job.env["ACTIONS_RUNTIME_TOKEN"],
        "ACTIONS_CACHE_SERVICE_V2": "true", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKSPACE": str(job.workspace), "RUNNER_TEMP": job.env["RUNNER_TEMP"],
        "ACTIONS_CACHE_MODULES": str(MODULES),
    }  # fmt: skip
    proc = subprocess.run(["node", str(SCRIPT), *args], cwd=job.workspace, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = [line[len("RESULT ") :] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, proc.stdout + proc.stderr
    assert "::warning" not in proc.stdout and "::error" not in proc.stdout, proc.stdout
    return json.loads(results[-1])


def test_the_toolkit_computes_our_version(make_job):
    job = make_job()
    for paths in ([DB], ["./" + DB]):
        answer = toolkit(job, "version", *paths)
        assert answer["method"] == "zstd-without-long"
        assert answer["version"] == cache_version(paths)


def test_toolkit_saves_and_we_restore(make_job, service):
    job1 = make_job(run_id="500")
    job1.remember("saved by actions/cache, restored by kagura-engineer")
    original = job1.db.read_bytes()  # the store is closed: no WAL left beside it
    assert toolkit(job1, "save", DB, "kagura-memory-acme/widgets-500-1")["cacheId"] > 0

    put = service.requests_matching(method="PUT")
    assert len(put) == 1 and put[0].headers["x-ms-blob-type"] == "BlockBlob"
    assert service.blob_auth_headers == [] and service.int64_numbers == []

    job2 = make_job(run_id="501")
    result = job2.restore()
    assert result.warning is None and result.matched_key == "kagura-memory-acme/widgets-500-1"
    assert job2.db.read_bytes() == original
    assert job2.recall("restored kagura") == ["saved by actions/cache, restored by kagura-engineer"]


def test_we_save_and_the_toolkit_restores(make_job, service, tmp_path):
    job1 = make_job(run_id="600")
    job1.remember("saved by kagura-engineer, restored by actions/cache")
    assert job1.save().hit

    job2 = make_job(run_id="601")
    answer = toolkit(job2, "restore", DB, "kagura-memory-acme/widgets-601-1", "kagura-memory-acme/widgets-")
    assert answer["matchedKey"] == "kagura-memory-acme/widgets-600-1"
    blob = tmp_path / "entry.tzst"
    blob.write_bytes(service.entry("kagura-memory-acme/widgets-600-1").data)
    extract_member(blob, DB, tmp_path / "archived.db")
    assert job2.db.read_bytes() == (tmp_path / "archived.db").read_bytes()
    assert job2.recall("restored actions") == ["saved by kagura-engineer, restored by actions/cache"]
    assert TOKEN not in "".join(r.text() for r in service.requests_matching(path="^/devstoreaccount1/"))
