"""The Cloud adapter over the real SDK: URL rules, credentials, retries, errors, export."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kagura_engineer import cli
from kagura_engineer.errors import ConfigError, MemoryAuthError, MemoryStoreError, NeedsUserError
from kagura_engineer.memory import cloud as cloud_module
from kagura_engineer.memory.cloud import cloud_mcp_url, open_cloud
from kagura_engineer.memory.jsonl import export_jsonl, import_jsonl
from support.memory_cloud import DEFAULT_CONTEXT, DEFAULT_WORKSPACE, MemoryCloudStandIn

from .cloud_fixture import Recorder, cloud_config, isolate_sdk_credentials, new_key

WS = DEFAULT_WORKSPACE


@pytest.fixture(autouse=True)
def _sdk_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test may see a real `kagura auth login`; the cwd has no `.kagura.json`."""
    monkeypatch.chdir(tmp_path)
    return isolate_sdk_credentials(monkeypatch, tmp_path / "home")


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def cloud(key: str):
    with MemoryCloudStandIn(key) as standin:
        yield standin


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def _open(cloud: MemoryCloudStandIn, tmp_path: Path, key: str, rec: Recorder, **overrides):
    return open_cloud(cloud_config(overrides.pop("url", cloud.url), tmp_path, **overrides), api_key=key,
                      **rec.options())  # fmt: skip


def _repo_yaml(tmp_path: Path, url: str, **overrides: str) -> Path:
    data = {
        "profile": "default",
        "memory_backend": "cloud",
        "memory_cloud_url": url,
        "workspace_id": WS,
        "context_id": DEFAULT_CONTEXT,
        "local_memory_path": str(tmp_path / "failover" / "memory.db"),
        **overrides,
    }
    path = tmp_path / "repo.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in data.items()))
    return path


# ---------------------------------------------------------------- URL rules


@pytest.mark.parametrize(
    ("root", "workspace", "expected"),
    [
        ("https://memory.kagura-ai.com", WS, f"https://memory.kagura-ai.com/mcp/w/{WS}"),
        ("https://memory.kagura-ai.com/", WS, f"https://memory.kagura-ai.com/mcp/w/{WS}"),
        (" https://memory.kagura-ai.com ", None, "https://memory.kagura-ai.com/mcp"),
        ("https://memory.kagura-ai.com/mcp", WS, "https://memory.kagura-ai.com/mcp"),
        ("https://memory.kagura-ai.com/mcp/", WS, "https://memory.kagura-ai.com/mcp"),
        (
            "https://memory.kagura-ai.com/mcp?profile=core",
            WS,
            "https://memory.kagura-ai.com/mcp?profile=core",
        ),
        ("https://m.example/mcp/w/abc", WS, "https://m.example/mcp/w/abc"),
        ("https://m.example/base", WS, f"https://m.example/base/mcp/w/{WS}"),
    ],
)
def test_memory_cloud_url_is_the_root_and_mcp_urls_are_kept(root, workspace, expected):
    assert cloud_mcp_url(root, workspace) == expected


def test_a_url_that_is_not_http_is_a_config_error():
    with pytest.raises(ConfigError):
        cloud_mcp_url("memory.kagura-ai.com", WS)


def test_the_sdk_posts_to_the_workspace_endpoint(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        client.set_state("probe", 1)
    assert {r.path for r in cloud.requests} == {f"/mcp/w/{WS}"}


def test_a_configured_mcp_url_is_used_as_is(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec, url=f"{cloud.url}/mcp") as client:
        assert client.get_state("probe") is None
    assert {r.path for r in cloud.requests} == {"/mcp"}


@pytest.mark.parametrize(
    "url", ["http://memory.example.com", "http://localhost.evil.example", "HTTP://10.0.0.5:8080"]
)
def test_plain_http_to_a_remote_host_is_a_config_error(tmp_path, key, url):
    with pytest.raises(ConfigError) as info:
        open_cloud(cloud_config(url, tmp_path), api_key=key)
    assert info.value.exit_code == 2
    assert "https://" in str(info.value) and "\n" not in str(info.value)


def test_plain_http_config_error_through_the_cli(tmp_path, key, monkeypatch, capsys):
    monkeypatch.setenv("KAGURA_API_KEY", key)
    config = _repo_yaml(tmp_path, "http://memory.example.com")
    assert cli.main(["memory", "recall", "anything", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error[config]: memory_cloud_url must use https://")
    assert key not in err


# ---------------------------------------------------------------- credentials


def test_no_credentials_prints_only_the_first_line_of_the_sdk_error(tmp_path, capsys):
    config = _repo_yaml(tmp_path, "https://memory.kagura-ai.com")
    assert cli.main(["memory", "recall", "anything", "-c", str(config)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error[needs-user]: Memory Cloud: No credentials found."
    assert all("Run: kagura auth login" not in line for line in lines)
    with pytest.raises(NeedsUserError):
        open_cloud(cloud_config("https://memory.kagura-ai.com", tmp_path))


def _write_profile(path: Path, name: str, token: str, url: str) -> None:
    now = datetime.now(UTC)
    profile = {
        "server": url, "mcp_url": f"{url}/mcp", "client_id": "kagura-cli", "access_token": token,
        "refresh_token": "refresh-" + token[-8:], "token_type": "Bearer",
        "expires_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scope": "memory:read memory:write", "workspace_id": WS, "workspace_name": "eng",
        "user_email": "dev@example.com", "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (
        json.loads(path.read_text())
        if path.exists()
        else {"version": 1, "default_profile": name, "profiles": {}}
    )
    data["profiles"][name] = profile
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def test_the_login_profile_is_used_when_no_key_is_set(cloud, tmp_path, rec, _sdk_credentials):
    _write_profile(_sdk_credentials, "default", cloud.api_key, cloud.url)
    with open_cloud(cloud_config(cloud.url, tmp_path), **rec.options()) as client:
        memory_id = client.remember("Logged in through the device flow", "profile works", "note")
        assert client.reference(memory_id) is not None
        assert client.source == "the kagura auth profile 'default'"
    assert {r.headers["authorization"] for r in cloud.requests} == {f"Bearer {cloud.api_key}"}


def test_a_rejected_profile_is_named_in_the_error(cloud, tmp_path, rec, _sdk_credentials, monkeypatch):
    _write_profile(_sdk_credentials, "ci", "kagura_oauth_token_that_cloud_does_not_know", cloud.url)
    monkeypatch.setenv("KAGURA_PROFILE", "ci")
    with open_cloud(cloud_config(cloud.url, tmp_path), **rec.options()) as client:
        with pytest.raises(MemoryAuthError) as info:
            client.remember("This write must not be reported as done", "refused", "note")
    assert str(info.value) == "the kagura auth profile 'ci' was rejected by Memory Cloud (401)"
    assert cloud.live_memories() == []


def test_a_rejected_key_is_one_line_exit_2_and_nothing_is_kept(cloud, tmp_path, monkeypatch, capsys):
    wrong = new_key()
    monkeypatch.setenv("KAGURA_API_KEY", wrong)
    config = _repo_yaml(tmp_path, cloud.url)
    argv = [
        "memory",
        "remember",
        "--summary",
        "A write Cloud refuses outright",
        "--type",
        "note",
        "-c",
        str(config),
    ]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["error[memory-auth]: KAGURA_API_KEY was rejected by Memory Cloud (401)"]
    assert wrong not in err
    db = tmp_path / "failover" / "memory.db"
    if db.exists():  # nothing queued: a refused write is not an outage
        from kagura_engineer.memory.local import LocalMemory

        with LocalMemory(db) as local:
            assert local.outbox_pending() == []
            assert local.recall("write Cloud refuses", k=5) == []


def test_a_wrong_workspace_is_an_auth_error_not_an_outage(cloud, tmp_path, key, rec):
    other = str(uuid.uuid4())
    with _open(cloud, tmp_path, key, rec, workspace_id=other) as client:
        with pytest.raises(MemoryAuthError) as info:
            client.set_state("savepoint:run/a/b/issue-1", {"phase": "checks"})
    assert info.value.exit_code == 2
    assert str(info.value) == (
        f"the API key given to open_cloud may not use workspace {other} "
        "(403 workspace_mismatch: The API key belongs to a different workspace.)"
    )
    assert not (tmp_path / "failover" / "memory.db").exists()
    assert rec.warnings == []


def test_an_unknown_context_is_a_config_error(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec, context_id=str(uuid.uuid4())) as client:
        with pytest.raises(ConfigError, match="context_id .* was not found"):
            client.recall("anything at all")
        with pytest.raises(ConfigError):
            client.reference(str(uuid.uuid4()))
        with pytest.raises(ConfigError):
            client.remember("Written into a context that is gone", "x", "note")
    assert cloud.live_memories() == []


# ---------------------------------------------------------------- retries


def test_session_expiry_is_retried_once_by_the_sdk(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        first = client.remember("Session expiry is the SDK's business", "one re-initialize", "lesson")
        cloud.expire_sessions()
        assert client.reference(first).content == "one re-initialize"
    inits = [r for r in cloud.requests if (r.json() or {}).get("method") == "initialize"]
    assert len(inits) == 2
    assert [r.status for r in cloud.requests].count(404) == 1
    assert rec.sleeps == []


def test_429_is_retried_after_the_servers_retry_after(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        client.set_state("warm", 1)
        cloud.inject(429, headers={"Retry-After": "7"}, path="/mcp",
                     body={"error": "RATE-001", "message": "Too many requests", "details": {"retry_after": 7}})  # fmt: skip
        memory_id = client.remember("Rate limited once, then stored", "after 7 s", "note")
    assert rec.sleeps == [7.0]
    assert [m.memory_id for m in cloud.live_memories()] == [memory_id]
    assert rec.warnings == []


def test_429_without_a_usable_retry_after_backs_off(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        cloud.inject(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, path="/mcp")
        client.set_state("k", "v")
    assert rec.sleeps == [0.5]
    assert cloud.state("k") == "v"


def test_503_twice_then_ok(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        client.set_state("warm", 1)
        cloud.inject(503, times=2, path="/mcp", headers={"Retry-After": "x"},
                     body={"error": "DB-002", "message": "database unavailable"})  # fmt: skip
        memory_id = client.remember("Stored on the third attempt", "two 503 first", "note")
    assert rec.sleeps == [0.5, 1.0]
    assert [m.memory_id for m in cloud.live_memories()] == [memory_id]
    assert rec.warnings == []


def test_a_4xx_is_not_retried_and_not_kept(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        cloud.inject(422, path="/mcp", body={"error": "VAL-001", "message": "Request validation failed"})
        with pytest.raises(MemoryStoreError) as info:
            client.set_state("k", "v")
    assert info.value.exit_code == 1 and "HTTP 422" in str(info.value)
    assert cloud.state("k") is None
    assert rec.sleeps == [] and rec.warnings == []


# ---------------------------------------------------------------- reading Cloud answers


def test_recall_content_comes_from_reference_never_from_the_summary(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        client.remember("Flaky test: the date fixture depends on the timezone", "Pin TZ=UTC in conftest.", "lesson",
                        tags=["tests"], details={"file": "conftest.py"})  # fmt: skip
        client.remember("Unrelated note about release process docs", "nothing to see", "note")
        found = client.recall("flaky timezone test", k=5)
    assert [m.content for m in found] == ["Pin TZ=UTC in conftest."]
    assert found[0].details == {"file": "conftest.py"}
    assert found[0].created_at.endswith("Z")
    recalls = cloud.tool_calls("recall")
    assert recalls[0].arguments["filters"] == {"trust_tier": "trusted"}
    assert all("content" not in hit for hit in recalls[0].answer["results"])
    assert [c.arguments["memory_id"] for c in cloud.tool_calls("reference")] == [found[0].id]


def test_link_feedback_and_unknown_edge_types(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        a = client.remember("Cause: the cache key ignored the lockfile", "hash it", "failure")
        b = client.remember("Fix: include the lockfile hash in the key", "done", "fix")
        client.link(b, a, "prevents", 2.5)
        client.feedback(a, True)
        client.feedback(b, False)
        related = client.explore(a, depth=3)
    assert [(r.id, r.hop, r.weight) for r in related] == [(b, 1, 2.5)]
    assert [(e.edge_type, e.weight) for e in cloud.edges.values()] == [("related_to", 2.5)]
    assert [(f["memory_id"], f["helpful"]) for f in cloud.feedback] == [(a, True), (b, False)]


def test_export_pages_list_memories_and_reads_content(cloud, tmp_path, key, rec, monkeypatch):
    monkeypatch.setattr(cloud_module, "EXPORT_PAGE", 3)
    with _open(cloud, tmp_path, key, rec) as client:
        for n in range(7):
            client.remember(
                f"Exported memory number {n}", f"content {n}\nsecond line", "note", tags=[f"t{n}"]
            )
        out = io.StringIO()
        assert export_jsonl(client, out) == 7
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["summary"] for r in lines] == [f"Exported memory number {n}" for n in range(7)]
    assert [r["content"] for r in lines] == [f"content {n}\nsecond line" for n in range(7)]
    offsets = [r.q("offset") for r in cloud.requests if r.path == "/api/v1/memory/list"]
    assert offsets == ["0", "3", "6"]


def test_import_skips_what_the_context_already_holds(cloud, tmp_path, key, rec):
    lines = [
        json.dumps(
            {"summary": "Pin the CLI version in CI", "content": "use an exact version", "type": "lesson"}
        ),
        json.dumps({"summary": "Cache the npm prefix", "type": "lesson"}),
    ]
    with _open(cloud, tmp_path, key, rec) as client:
        client.remember("Stored earlier, other summary", "use an exact version", "lesson")
        first = import_jsonl(client, lines)
        again = import_jsonl(client, lines)
    assert (first.imported, first.already_stored) == (1, 1)
    assert (again.imported, again.already_stored) == (0, 2)
    assert len(cloud.memories) == 2


def test_stats_report_the_context_and_outbox(cloud, tmp_path, key, rec):
    with _open(cloud, tmp_path, key, rec) as client:
        client.remember("Counted by memory stats command", "x", "note")
        stats = client.stats()
    assert (stats["backend"], stats["count"], stats["context_name"], stats["outbox_pending"]) == (
        "cloud", 1, "engineering", 0,
    )  # fmt: skip
    assert key not in json.dumps(stats)
