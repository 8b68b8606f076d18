"""`kagura-engineer cache restore|save`: every unusable cache is one warning and exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from kagura_engineer.cli import main as cli

from .conftest import TOKEN

SAVE_KEY = "kagura-memory-acme/widgets-4242-1"


def run(job, op, capsys, *extra):
    """The real command, in process, inside the job; (exit code, the one JSON object, stderr)."""
    job.enter()
    code = cli(["cache", op, "--json", *extra])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, f"stdout must be exactly one JSON object, got {out!r}"
    data = json.loads(lines[0])
    assert {"op", "hit", "key", "matched_key", "version", "size_bytes"} <= data.keys()
    assert TOKEN not in out + err
    return code, data, err


def assert_one_warning(code, data, err, needle):
    assert code == 0
    assert needle in data["warning"]
    warnings = [line for line in err.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1 and warnings[0].startswith("::warning title=memory cache::")
    assert needle in warnings[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_token(make_job, capsys):
    job = make_job()
    job.env.pop("ACTIONS_RUNTIME_TOKEN")
    code, data, err = run(job, "restore", capsys)
    assert_one_warning(code, data, err, "ACTIONS_RUNTIME_TOKEN not set")
    assert data["hit"] is False


def test_not_in_a_github_actions_run(make_job, capsys, monkeypatch):
    job = make_job()
    for name in ("GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        job.env.pop(name)
    code, data, err = run(job, "save", capsys)
    assert_one_warning(code, data, err, "not inside a GitHub Actions run")


def test_no_service(make_job, capsys, service):
    job = make_job(ACTIONS_RESULTS_URL=f"http://127.0.0.1:{free_port()}/", KAGURA_CACHE_RETRY_SECONDS="0")
    code, data, err = run(job, "restore", capsys)
    assert_one_warning(code, data, err, "unreachable")


def test_throttled_429_is_not_retried(make_job, service, capsys):
    job = make_job()
    service.inject(429, body={"code": "resource_exhausted", "msg": "too many requests"},
                   headers={"Retry-After": "0"}, times=5)  # fmt: skip
    code, data, err = run(job, "restore", capsys)
    assert_one_warning(code, data, err, "throttling")
    assert len(service.requests) == 1


def test_5xx_after_the_bounded_retries(make_job, service, capsys):
    job = make_job()
    service.inject(503, body={"code": "unavailable", "msg": "down"}, headers={"Retry-After": "0"}, times=50)
    code, data, err = run(job, "restore", capsys)
    assert_one_warning(code, data, err, "HTTP 503")
    assert len(service.requests) == 5


def test_already_exists_409_and_not_ok(make_job, service, capsys):
    job = make_job()
    job.remember("first save")
    code, data, _ = run(job, "save", capsys)
    assert (code, data["hit"], data.get("warning")) == (0, True, None)
    code, data, err = run(job, "save", capsys)
    assert_one_warning(code, data, err, "already exists")
    service.conflict_style = "ok_false"
    code, data, err = run(job, "save", capsys)
    assert_one_warning(code, data, err, "another job may be creating this cache")
    assert len(service.finalized()) == 1


@pytest.mark.parametrize("style", ["twirp", "ok_false"])
def test_cache_write_denied(make_job, service, capsys, style):
    job = make_job()
    job.remember("denied")
    service.write_denied, service.write_denied_style = "this job may only read the cache", style
    code, data, err = run(job, "save", capsys)
    assert_one_warning(code, data, err, "cache write denied: this job may only read the cache")
    assert service.finalized() == []


def test_nothing_to_save_yet(make_job, service, capsys):
    code, data, err = run(make_job(), "save", capsys)
    assert_one_warning(code, data, err, "nothing to save yet")
    assert service.requests == []


def test_warning_outside_actions_goes_to_stderr_plainly(make_job, capsys):
    job = make_job()
    job.env.pop("ACTIONS_RUNTIME_TOKEN")
    job.env["GITHUB_ACTIONS"] = "false"
    job.enter()
    assert cli(["cache", "restore"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("warning: memory cache not restored: ACTIONS_RUNTIME_TOKEN not set")


def test_the_console_script_in_actions(make_job, service):
    """The installed `kagura-engineer` binary: the annotation on stdout without --json."""
    job = make_job()
    job.env.pop("ACTIONS_RUNTIME_TOKEN")
    exe = os.path.join(os.path.dirname(sys.executable), "kagura-engineer")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **job.env}
    proc = subprocess.run([exe, "cache", "save"], cwd=job.workspace, env=env, capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.startswith("::warning title=memory cache::memory cache not saved:")


@pytest.mark.parametrize(
    ("mode", "restores", "saves"),
    [
        ("write", True, True),
        ("", True, True),
        ("read", True, False),
        ("write-only", False, True),
        ("none", False, False),
    ],
)
def test_actions_cache_mode(make_job, service, capsys, mode, restores, saves):
    seed = make_job(run_id="1")
    seed.remember("seeded memory")
    assert seed.save().hit
    service.requests.clear()

    job = make_job(run_id="2", ACTIONS_CACHE_MODE=mode)
    code, restored, _ = run(job, "restore", capsys)
    assert code == 0 and restored.get("warning") is None
    assert restored["hit"] is restores
    assert bool(service.requests_matching(path="GetCacheEntryDownloadURL")) is restores
    if not restores:
        assert "ACTIONS_CACHE_MODE" in restored["skipped"]
        job.remember("made in this job")
    code, saved, _ = run(job, "save", capsys)
    assert code == 0 and saved.get("warning") is None
    assert saved["hit"] is saves
    assert bool(service.requests_matching(path="CreateCacheEntry")) is saves
    assert (service.entry("kagura-memory-acme/widgets-2-1") is not None) is saves


JOB_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    from kagura_engineer.cache.carry import restore_memory, save_memory
    from kagura_engineer.config import parse_config
    from kagura_engineer.memory.local import LocalMemory

    def on_term(signum, frame):
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    config = parse_config({"profile": "t", "memory_backend": "local"})
    restore_memory(config)
    try:
        store = LocalMemory(".kagura/memory.db")
        store.remember("learned before the job was cancelled", "details", "lesson")
        store.close()
        print("written", flush=True)
        time.sleep(120)  # the job runs on until the runner cancels it
    finally:
        result = save_memory(config)
        print("saved" if result.hit else f"not saved: {result.warning}", flush=True)
    """
)


def test_a_cancelled_job_keeps_what_it_learned(make_job, service):
    """SIGTERM after the memory changed: the save in `finally` carries it into the next job."""
    job1 = make_job(run_id="300")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **job1.env}
    child = subprocess.Popen([sys.executable, "-c", JOB_SCRIPT], cwd=job1.workspace, env=env,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "written"
        child.send_signal(signal.SIGTERM)
        rest, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143
    assert rest.strip() == "saved"

    job2 = make_job(run_id="301")
    assert job2.restore().matched_key == "kagura-memory-acme/widgets-300-1"
    assert job2.recall("cancelled") == ["learned before the job was cancelled"]
