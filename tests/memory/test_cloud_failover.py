"""Cloud outages: writes are kept locally (outbox + store), replayed exactly once, never leaked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kagura_engineer import cli, proc
from kagura_engineer.memory.cloud import open_cloud
from kagura_engineer.memory.local import LocalMemory
from support.memory_cloud import DEFAULT_CONTEXT, DEFAULT_WORKSPACE, MemoryCloudStandIn

from .cloud_fixture import Recorder, cloud_config, isolate_sdk_credentials, new_key

SAVEPOINT = "savepoint:run/acme/widgets/issue-42"


@pytest.fixture(autouse=True)
def _sdk_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    isolate_sdk_credentials(monkeypatch, tmp_path / "home")


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def cloud(key: str):
    with MemoryCloudStandIn(key) as standin:
        yield standin


def _open(cloud: MemoryCloudStandIn, tmp_path: Path, key: str, rec: Recorder, **options):
    return open_cloud(cloud_config(cloud.url, tmp_path), api_key=key, **{**rec.options(), **options})


def _db(tmp_path: Path) -> Path:
    return tmp_path / "failover" / "memory.db"


def _outbox(tmp_path: Path) -> list:
    with LocalMemory(_db(tmp_path)) as local:
        return local.outbox_pending()


def _repo_yaml(tmp_path: Path, url: str) -> Path:
    data = {
        "profile": "default", "memory_backend": "cloud", "memory_cloud_url": url, "workspace_id": DEFAULT_WORKSPACE,
        "context_id": DEFAULT_CONTEXT, "local_memory_path": str(_db(tmp_path)),
    }  # fmt: skip
    path = tmp_path / "repo.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in data.items()))
    return path


def test_cloud_down_mid_run_then_back_replays_each_write_exactly_once(cloud, tmp_path, key):
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec) as run:
        before = run.remember("Written while Cloud was still up", "goes straight to Cloud", "note")
        run.set_state(SAVEPOINT, {"phase": "grounded"})
        cloud.stop()  # Cloud goes down mid-run
        kept_a = run.remember("Checks failed: flaky date fixture in CI", "Pin TZ=UTC in conftest.", "failure")
        kept_b = run.remember("Lesson: pin the timezone in date tests", "TZ=UTC everywhere", "lesson")
        run.set_state(SAVEPOINT, {"phase": "checks"})
        # degraded reads see what was kept, and the savepoint written before the outage
        assert [m.id for m in run.recall("flaky date fixture", k=3)][:1] == [kept_a]
        assert run.get_state(SAVEPOINT) == {"phase": "checks"}
        assert run.reference(kept_b).content == "TZ=UTC everywhere"
    assert len(rec.warnings) == 1
    assert rec.warnings[0].startswith("Memory Cloud unreachable (")
    assert (
        "3 write(s) kept locally and will be replayed; 3 read(s) answered from the local store"
        in rec.warnings[0]
    )
    pending = _outbox(tmp_path)
    assert [item.op for item in pending] == ["remember", "remember", "set_state"]
    assert [item.payload["local_id"] for item in pending[:2]] == [kept_a, kept_b]
    external_ids = [item.external_id for item in pending[:2]]
    assert len(set(external_ids)) == 2 and not {kept_a, kept_b} & set(external_ids)
    assert [m.memory_id for m in cloud.live_memories()] == [before]

    cloud.start()  # Cloud is back: the next command replays before its own work
    rec2 = Recorder()
    with _open(cloud, tmp_path, key, rec2) as nxt:
        assert nxt.get_state(SAVEPOINT) == {"phase": "checks"}
        replayed = nxt.reference(kept_a)  # the id handed out during the outage still works
        assert replayed is not None and replayed.content == "Pin TZ=UTC in conftest."
    assert rec2.notes == ["replayed 3 write(s) kept locally during a Memory Cloud outage"]
    assert rec2.warnings == []
    assert _outbox(tmp_path) == []
    for external_id in external_ids:
        assert len(cloud.memories_with_external_id(external_id)) == 1
    assert len(cloud.live_memories()) == 3

    with _open(cloud, tmp_path, key, Recorder()) as third:  # and never again
        assert len(third.recall("timezone date", k=5)) == 2
    assert len(cloud.tool_calls("update_memory")) == 2
    assert len(cloud.live_memories()) == 3


def test_recovery_within_one_process_replays_before_the_next_call(cloud, tmp_path, key):
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec) as client:
        cloud.inject(drop=True, path="/mcp")
        client.remember("Kept during a dropped connection", "replay me first", "note")
        (item,) = _outbox(tmp_path)
        found = client.recall("dropped connection replay", k=3)
    assert [m.content for m in found] == ["replay me first"]
    names = [c.name for c in cloud.tool_calls()]
    assert names.index("update_memory") < names.index("recall")
    assert len(cloud.memories_with_external_id(item.external_id)) == 1
    assert rec.warnings == [
        "Memory Cloud unreachable (connection dropped); 1 write(s) kept locally and will be replayed"
    ]


def test_cloud_is_not_probed_again_during_the_cooldown(cloud, tmp_path, key):
    now = [100.0]
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec, cooldown=60.0, clock=lambda: now[0]) as client:
        client.set_state("warm", 1)
        cloud.inject(drop=True, path="/mcp")
        client.set_state("a", 1)
        seen = len(cloud.requests)
        client.set_state("a", 2)
        assert client.get_state("a") == 2  # from the local store
        assert len(cloud.requests) == seen
        now[0] += 61
        assert client.get_state("a") == 2  # from Cloud, after the replay
    assert len(cloud.requests) > seen
    assert cloud.state("a") == 2
    assert [c.arguments["value"] for c in cloud.tool_calls("set_state")] == [1, 1, 2]


def test_replayed_state_keeps_its_order_and_remaining_ttl(cloud, tmp_path, key):
    with _open(cloud, tmp_path, key, Recorder()) as client:
        cloud.stop()
        client.set_state("lease", {"holder": "job-1"}, ttl=600)
        client.set_state("lease", {"holder": "job-2"}, ttl=600)
        client.set_state("gone", {"x": 1})
        client.set_state("gone", None)
    cloud.start()
    with _open(cloud, tmp_path, key, Recorder()) as client:
        assert client.get_state("lease") == {"holder": "job-2"}
        assert client.get_state("gone") is None
        assert "gone" not in client.list_states("")
    ttls = [
        c.arguments.get("ttl_seconds") for c in cloud.tool_calls("set_state") if c.arguments["key"] == "lease"
    ]
    assert len(ttls) == 2 and all(590 <= t <= 600 for t in ttls)


def test_5xx_that_persists_past_the_retries_is_an_outage(cloud, tmp_path, key):
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec) as client:
        client.set_state("warm", 1)
        cloud.inject(503, times=10, path="/mcp")
        kept = client.remember("Stored while Cloud answered 503", "kept", "note")
    assert rec.sleeps == [0.5, 1.0]
    assert rec.warnings == [
        "Memory Cloud unreachable (HTTP 503, 3 attempts); 1 write(s) kept locally and will be replayed"
    ]
    assert [item.payload["local_id"] for item in _outbox(tmp_path)] == [kept]


def test_a_429_longer_than_the_retry_budget_fails_over_at_once(cloud, tmp_path, key):
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec) as client:
        client.set_state("warm", 1)
        cloud.inject(429, headers={"Retry-After": "86400"}, path="/mcp", body={"error": "QUOTA-001"})
        client.set_state("later", "kept")
    assert rec.sleeps == []
    assert "rate limited: HTTP 429" in rec.warnings[0]
    assert [item.op for item in _outbox(tmp_path)] == ["set_state"]


def test_a_timeout_is_an_outage(cloud, tmp_path, key):
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec, timeout=0.3) as client:
        client.set_state("warm", 1)
        cloud.inject(503, delay=1.0, path="/mcp")
        client.remember("Stored while Cloud was too slow", "kept", "note")
    assert rec.warnings == [
        "Memory Cloud unreachable (timed out); 1 write(s) kept locally and will be replayed"
    ]


def test_a_replayed_write_cloud_refuses_is_warned_and_stays_local(cloud, tmp_path, key):
    with _open(cloud, tmp_path, key, Recorder()) as client:
        a = client.remember("A memory that will be linked", "x", "note")
        cloud.stop()
        client.link(a, "5f0c8f1e-0000-4000-8000-000000000000", "related_to", 1.0)
        client.set_state("after", 1)
    cloud.start()
    rec = Recorder()
    with _open(cloud, tmp_path, key, rec) as client:
        assert client.get_state("after") == 1
    assert len(rec.warnings) == 1 and "refused a write kept during an outage (link" in rec.warnings[0]
    assert _outbox(tmp_path) == []


def test_the_cli_prints_one_warning_line_and_exits_0(cloud, tmp_path, key, monkeypatch, capsys):
    monkeypatch.setenv("KAGURA_API_KEY", key)
    config = _repo_yaml(tmp_path, cloud.url)
    cloud.stop()
    argv = [
        "memory",
        "remember",
        "--summary",
        "Remembered while Cloud was down",
        "--type",
        "note",
        "-c",
        str(config),
    ]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "warning: Memory Cloud unreachable (connection refused); 1 write(s) kept locally and will be replayed"
    ]
    (item,) = _outbox(tmp_path)
    assert item.payload["local_id"] == out.strip()
    cloud.start()
    assert cli.main(["memory", "recall", "remembered while down", "--json", "-c", str(config)]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["note: replayed 1 write(s) kept locally during a Memory Cloud outage"]
    assert [r["summary"] for r in json.loads(out)] == ["Remembered while Cloud was down"]
    assert len(cloud.memories_with_external_id(item.external_id)) == 1


def _child(tmp_path: Path, config: Path, key: str):
    return proc.spawn(
        [sys.executable, "-m", "kagura_engineer", "memory", "recall", "replayed item", "-c", str(config)],
        cwd=tmp_path,
        env={"KAGURA_API_KEY": key, "HOME": str(tmp_path / "home"), "NO_PROXY": "127.0.0.1"},
    )


def test_kill_during_replay_then_rerun_writes_nothing_twice(cloud, tmp_path, key):
    config = _repo_yaml(tmp_path, cloud.url)
    with _open(cloud, tmp_path, key, Recorder()) as client:
        cloud.stop()
        for n in range(4):
            client.remember(f"Replayed item number {n} of four", f"body {n}", "note")
    kept = [item.external_id for item in _outbox(tmp_path)]
    assert len(kept) == 4
    cloud.start()

    child = _child(tmp_path, config, key)
    # request 1 is initialize, 2 and 3 replay items 1 and 2: die right after Cloud stored item 2
    cloud.kill_on(3, child.pid, when="after")
    child.communicate(timeout=60)
    assert child.returncode == -9
    assert cloud.killed_at is not None
    assert len(cloud.tool_calls("update_memory")) >= 2
    left = [item.external_id for item in _outbox(tmp_path)]
    assert left and left[-1] == kept[3] and set(left) <= set(kept[1:])  # killed mid-replay

    child = _child(tmp_path, config, key)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "Replayed item number" in out
    for external_id in kept:
        assert len(cloud.memories_with_external_id(external_id)) == 1
    assert len(cloud.live_memories()) == 4
    assert _outbox(tmp_path) == []


def test_the_api_key_only_ever_appears_in_the_authorization_header(cloud, tmp_path, key, monkeypatch, capfd):
    monkeypatch.setenv("KAGURA_API_KEY", key)
    config = _repo_yaml(tmp_path, cloud.url)
    remember = ["memory", "remember", "--type", "note", "-c", str(config), "--summary"]
    assert cli.main([*remember, "Remembered while Cloud was up"]) == 0
    with open_cloud(cloud_config(cloud.url, tmp_path), **Recorder().options()) as client:
        client.set_state(SAVEPOINT, {"phase": "push", "note": "no secrets here"})
        cloud.stop()
        client.set_state(SAVEPOINT, {"phase": "pr"})
        client.remember("Kept while Cloud was down", "content", "note")
        client.recall("kept down", k=2)
    assert cli.main([*remember, "Also kept while down"]) == 0
    cloud.start()
    assert cli.main(["memory", "recall", "kept", "--json", "-c", str(config)]) == 0
    assert cli.main(["memory", "stats", "--json", "-c", str(config)]) == 0
    assert cli.main(["memory", "export", str(tmp_path / "out.jsonl"), "-c", str(config)]) == 0

    assert cloud.tool_calls("update_memory"), "the scenario must have replayed something"
    for r in cloud.requests:
        assert r.headers["authorization"] == f"Bearer {key}"
        assert key not in r.path and key not in json.dumps(r.query) and key.encode() not in r.body
        assert all(key not in value for name, value in r.headers.items() if name != "authorization")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "memory.db" for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path
    out, err = capfd.readouterr()
    assert key not in out and key not in err
    assert "kept locally" in err


def test_savepoints_on_cloud_survive_an_outage(cloud, tmp_path, key):
    from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

    target = "run/acme/widgets/issue-42"
    with _open(cloud, tmp_path, key, Recorder()) as client:
        store = SavepointStore(client)
        store.save(Savepoint(key=target, phase="implement", branch="kagura/issue-42"))
        assert [sp.key for sp in store.list("run/")] == [target]
        cloud.stop()
        store.save(Savepoint(key=target, phase="checks", branch="kagura/issue-42", attempts=1))
        assert store.load(target).phase == "checks"  # read back from the local store
    cloud.start()
    with _open(cloud, tmp_path, key, Recorder()) as client:
        store = SavepointStore(client)
        loaded = store.load(target)
        assert (loaded.phase, loaded.attempts) == ("checks", 1)
        assert cloud.state(f"savepoint:{target}")["phase"] == "checks"
        assert store.clear(target) is True
        assert store.load(target) is None and store.list("run/") == []
