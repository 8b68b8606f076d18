"""The Memory Cloud stand-in speaks the documented MCP contract (raw HTTP, no SDK)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.memory_cloud import DEFAULT_CONTEXT, DEFAULT_WORKSPACE, MemoryCloudStandIn

from .cloud_fixture import new_key

KEY = new_key()


@pytest.fixture
def cloud():
    with MemoryCloudStandIn(KEY) as standin:
        yield standin


class Session:
    """A minimal MCP client: initialize once, then JSON-RPC calls with the session header."""

    def __init__(self, standin: MemoryCloudStandIn, path: str = f"/mcp/w/{DEFAULT_WORKSPACE}") -> None:
        self.http = httpx.Client(base_url=standin.url, headers={"Authorization": f"Bearer {KEY}"})
        self.path = path
        self.n = 0
        init = self.rpc("initialize", {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {}})
        assert init.status_code == 200
        self.session = init.headers["mcp-session-id"]

    def rpc(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> httpx.Response:
        self.n += 1
        headers = {"mcp-session-id": session} if session else {}
        if method != "initialize" and session is None:
            headers = {"mcp-session-id": self.session}
        body = {"jsonrpc": "2.0", "id": self.n, "method": method, "params": params or {}}
        return self.http.post(self.path, json=body, headers=headers)

    def tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        response = self.rpc("tools/call", {"name": name, "arguments": arguments})
        assert response.status_code == 200, response.text
        content = response.json()["result"]["content"]
        assert content[0]["type"] == "text"
        return json.loads(content[0]["text"])


def test_initialize_returns_a_session_header_and_plain_json(cloud):
    s = Session(cloud)
    first = cloud.requests[0]
    assert first.status == 200
    response = s.http.post(s.path, json={"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["serverInfo"]["name"] == "kagura-memory-cloud"
    assert response.headers["mcp-session-id"] != s.session


def test_notifications_get_202_and_tools_are_listed(cloud):
    s = Session(cloud)
    note = s.http.post(
        s.path,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={"mcp-session-id": s.session},
    )
    assert note.status_code == 202 and note.content == b""
    names = {t["name"] for t in s.rpc("tools/list").json()["result"]["tools"]}
    assert {"remember", "recall", "reference", "update_memory", "forget", "create_edge", "explore",
            "feedback", "set_state", "get_state", "list_contexts", "get_context_info"} <= names  # fmt: skip


def test_recall_results_carry_no_content_and_omit_empty_optional_keys(cloud):
    s = Session(cloud)
    made = s.tool("remember", context_id=DEFAULT_CONTEXT, summary="Deploys need a health check first",
                  content="curl /health before switching traffic", type="lesson", tags=["deploy"])  # fmt: skip
    assert made["status"] == "success" and made["context_name"] == "engineering"
    found = s.tool("recall", context_id=DEFAULT_CONTEXT, query="deploy health check", k=3)
    assert found["count"] == 1
    hit = found["results"][0]
    assert hit["memory_id"] == made["memory_id"]
    assert isinstance(hit["score"], float)
    assert "content" not in hit
    assert "context_summary" not in hit and "superseded_by" not in hit
    full = s.tool("reference", context_id=DEFAULT_CONTEXT, memory_id=made["memory_id"])
    assert full["memory"]["content"] == "curl /health before switching traffic"


def test_in_band_errors_for_unknown_memory_and_context(cloud):
    s = Session(cloud)
    missing = s.tool("reference", context_id=DEFAULT_CONTEXT, memory_id=str(uuid.uuid4()))
    assert missing["status"] == "error" and missing["error"] == "memory_not_found"
    other = s.tool("recall", context_id=str(uuid.uuid4()), query="anything")
    assert other["error"] == "context_not_found"
    assert s.tool("recall", query="anything")["error"] == "context_id_required"
    short = s.tool("remember", context_id=DEFAULT_CONTEXT, summary="short", content="x", type="note")
    assert short["error"] == "validation_error"


def test_update_memory_upserts_by_external_id(cloud):
    s = Session(cloud)
    args = {"context_id": DEFAULT_CONTEXT, "external_id": "ext-1", "summary": "Upserted once, then updated",
            "content": "v1", "type": "note"}  # fmt: skip
    first = s.tool("update_memory", **args)
    second = s.tool("update_memory", **{**args, "content": "v2"})
    assert (first["operation"], second["operation"]) == ("created", "updated")
    assert first["memory_id"] == second["memory_id"]
    assert [m.content for m in cloud.memories_with_external_id("ext-1")] == ["v2"]
    assert (
        s.tool("update_memory", context_id=DEFAULT_CONTEXT, external_id="ext-2")["error"] == "missing_fields"
    )


def test_create_edge_keeps_the_larger_weight_and_explore_has_the_documented_shape(cloud):
    s = Session(cloud)
    ids = [
        s.tool(
            "remember", context_id=DEFAULT_CONTEXT, summary=f"Graph node number {n}", content="c", type="note"
        )["memory_id"]
        for n in range(3)
    ]
    s.tool("create_edge", context_id=DEFAULT_CONTEXT, source_id=ids[0], target_id=ids[1], weight=2.0)
    edge = s.tool("create_edge", context_id=DEFAULT_CONTEXT, source_id=ids[0], target_id=ids[1], weight=0.5)
    assert edge["edge"]["weight"] == 2.0
    s.tool("create_edge", context_id=DEFAULT_CONTEXT, source_id=ids[1], target_id=ids[2], weight=1.0)
    loop = s.tool("create_edge", context_id=DEFAULT_CONTEXT, source_id=ids[0], target_id=ids[0], weight=1.0)
    assert loop["error"] == "self_loop_not_allowed"
    answer = s.tool("explore", context_id=DEFAULT_CONTEXT, memory_id=ids[0], depth=2)
    exploration = answer["exploration"]
    assert exploration["seed_memory"]["memory_id"] == ids[0]
    related = exploration["related_memories"]
    assert [(r["memory_id"], r["hop"]) for r in related] == [(ids[1], 1), (ids[2], 2)]
    assert set(related[0]) >= {"memory_id", "summary", "activation", "hop", "weight", "path"}
    assert related[1]["path"] == ids


def test_state_with_and_without_key_and_ttl(cloud):
    now = [1000.0]
    cloud.clock = lambda: now[0]
    s = Session(cloud)
    s.tool("set_state", context_id=DEFAULT_CONTEXT, key="a", value={"x": 1})
    s.tool("set_state", context_id=DEFAULT_CONTEXT, key="b", value=[1, 2], ttl_seconds=5)
    assert s.tool("get_state", context_id=DEFAULT_CONTEXT, key="a") == {
        "status": "success", "key": "a", "value": {"x": 1}, "found": True,
    }  # fmt: skip
    assert s.tool("get_state", context_id=DEFAULT_CONTEXT)["states"] == {"a": {"x": 1}, "b": [1, 2]}
    now[0] += 6
    assert s.tool("get_state", context_id=DEFAULT_CONTEXT, key="b")["found"] is False
    assert s.tool("get_state", context_id=DEFAULT_CONTEXT)["count"] == 1
    assert s.tool("set_state", context_id=DEFAULT_CONTEXT, key="c", value=None)["error"] == "validation_error"


def test_feedback_and_contexts(cloud):
    s = Session(cloud)
    mid = s.tool(
        "remember", context_id=DEFAULT_CONTEXT, summary="Feedback target memory", content="c", type="n"
    )["memory_id"]
    assert s.tool("feedback", context_id=DEFAULT_CONTEXT, memory_id=mid, helpful=True)["helpful"] is True
    assert (
        s.tool("feedback", context_id=DEFAULT_CONTEXT, memory_id=mid, helpful="yes")["error"]
        == "validation_error"
    )
    assert [c["id"] for c in s.tool("list_contexts")["contexts"]] == [DEFAULT_CONTEXT]
    info = s.tool("get_context_info", context_id=DEFAULT_CONTEXT)
    assert info["stats"]["total_memories"] == 1 and info["workspace"]["id"] == DEFAULT_WORKSPACE


def test_wrong_key_is_401_with_a_challenge_and_wrong_workspace_is_403(cloud):
    bad = httpx.post(f"{cloud.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                     headers={"Authorization": "Bearer kagura_wrong"})  # fmt: skip
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith('Bearer realm="Kagura Memory Cloud"')
    assert httpx.post(f"{cloud.url}/mcp", json={}).json()["error"] == "invalid_request"
    other = httpx.post(f"{cloud.url}/mcp/w/{uuid.uuid4()}", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                       headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert other.status_code == 403 and other.json()["error"] == "workspace_mismatch"
    junk = httpx.post(f"{cloud.url}/mcp/w/not-a-uuid", json={}, headers={"Authorization": f"Bearer {KEY}"})
    assert junk.status_code == 400
    assert httpx.get(f"{cloud.url}/health").json() == {"status": "ok"}


def test_expired_sessions_get_404_with_the_jsonrpc_body(cloud):
    s = Session(cloud, path="/mcp")
    assert s.rpc("tools/list").status_code == 200
    cloud.expire_sessions()
    gone = s.rpc("tools/list")
    assert gone.status_code == 404
    assert gone.json() == {
        "jsonrpc": "2.0",
        "error": {"code": -32603, "message": "MCP session not found or expired. Re-initialize the session."},
        "id": None,
    }


def test_restart_keeps_data_and_port_but_drops_sessions(cloud):
    s = Session(cloud)
    s.tool("set_state", context_id=DEFAULT_CONTEXT, key="k", value=1)
    port = cloud.port
    cloud.stop()
    with pytest.raises(httpx.TransportError):  # dropped keep-alive, or refused
        s.rpc("tools/list")
    cloud.start()
    assert cloud.port == port
    assert s.rpc("tools/list").status_code == 404
    assert Session(cloud).tool("get_state", context_id=DEFAULT_CONTEXT, key="k")["value"] == 1


def test_list_memories_pages_newest_first(cloud):
    s = Session(cloud)
    for n in range(5):
        s.tool(
            "remember",
            context_id=DEFAULT_CONTEXT,
            summary=f"Listed memory number {n}",
            content="c",
            type="note",
        )
    headers = {"Authorization": f"Bearer {KEY}"}
    first = httpx.get(f"{cloud.url}/api/v1/memory/list", params={"context_id": DEFAULT_CONTEXT, "limit": 3},
                      headers=headers).json()  # fmt: skip
    assert (first["total"], first["has_more"], len(first["memories"])) == (5, True, 3)
    assert first["memories"][0]["summary"] == "Listed memory number 4"
    assert first["memories"][0]["created_at"].endswith("Z")
    rest = httpx.get(f"{cloud.url}/api/v1/memory/list", params={"context_id": DEFAULT_CONTEXT, "offset": 3},
                     headers=headers).json()  # fmt: skip
    assert rest["has_more"] is False and len(rest["memories"]) == 2


def test_runs_as_a_process(tmp_path: Path):
    port_file = tmp_path / "port"
    child = subprocess.Popen(
        [sys.executable, "-m", "support.memory_cloud", "--port", "0",
         "--port-file", str(port_file), "--api-key", KEY],
        cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the stand-in never wrote its port"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        init = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                          headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
        assert init.headers.get("mcp-session-id")
    finally:
        child.terminate()
        assert child.wait(timeout=10) == 0
