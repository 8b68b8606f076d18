"""The credential-isolating model proxy, over real HTTP in front of the scripted Messages API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kagura_engineer import proc
from kagura_engineer.agent.argv import claude_env
from kagura_engineer.agent.proxy import DEFAULT_UPSTREAM, OAUTH_BETA, Credential, ModelProxy, needs_proxy
from kagura_engineer.credentials import anthropic_source, cloud_env
from kagura_engineer.demo.anthropic import AnthropicStandIn, bash, http_error

REAL_KEY = "sk-ant-api03-realKeyThatOnlyTheHarnessHolds0000"
REAL_OAUTH = "sk-ant-oat01-realOauthTokenOnlyTheHarnessHolds00"
TOOLS = [{"name": "Bash", "input_schema": {}}]
TURN = {"usage": {"input_tokens": 1000, "output_tokens": 100}}  # $0.0075 at the opus price (5/25)
TURN_USD = 0.0075


def body(stream: bool = True, model: str = "claude-opus-5-5") -> dict:
    return {"model": model, "stream": stream, "max_tokens": 100, "tools": TOOLS,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "do it"}]}]}  # fmt: skip


@pytest.fixture
def model() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn([{"text": "hello", **TURN}]) as server:
        yield server


def proxy_for(
    model: AnthropicStandIn,
    max_usd: float | None = None,
    env: str = "ANTHROPIC_API_KEY",
    value: str = REAL_KEY,
):
    return ModelProxy(model.url, Credential(env, value), max_usd)


def post(
    proxy: ModelProxy, payload: dict | None = None, path: str = "/v1/messages?beta=true", **headers: str
) -> httpx.Response:
    name, value = proxy.credential.header(proxy.placeholder)
    headers = {name: value, **{k.replace("_", "-"): v for k, v in headers.items()}}
    payload = body() if payload is None else payload
    return httpx.post(proxy.url + path, json=payload, headers=headers, timeout=10, trust_env=False)


# -- the credential -------------------------------------------------------------------------------
def test_upstream_gets_the_real_key_and_never_the_placeholder(model):
    with proxy_for(model) as proxy:
        # a stray second credential header goes too; the body must stay readable for pricing
        response = post(proxy, authorization=f"Bearer {proxy.placeholder}", accept_encoding="gzip, br")
        assert response.status_code == 200
        seen = model.model_requests()[0].headers
        assert seen["x-api-key"] == REAL_KEY and "authorization" not in seen
        assert seen["accept-encoding"] == "identity"
        assert seen["host"] == model.url.removeprefix("http://")
        assert proxy.placeholder not in model.log_text()


def test_child_env_has_the_placeholder_under_the_credentials_own_name(model):
    with proxy_for(model, env="CLAUDE_CODE_OAUTH_TOKEN", value=REAL_OAUTH) as proxy:
        assert proxy.child_env() == {
            "ANTHROPIC_BASE_URL": proxy.url,
            "CLAUDE_CODE_OAUTH_TOKEN": proxy.placeholder,
        }
        with proxy_for(model) as other:
            assert other.placeholder != proxy.placeholder and REAL_OAUTH not in proxy.placeholder
    assert REAL_OAUTH not in repr(proxy.credential)


def test_in_front_of_the_anthropic_api_claude_keeps_its_first_party_requests(model):
    with ModelProxy(DEFAULT_UPSTREAM, Credential("ANTHROPIC_API_KEY", REAL_KEY)) as proxy:  # nothing is sent
        assert proxy.child_env() == {
            "ANTHROPIC_BASE_URL": proxy.url, "ANTHROPIC_API_KEY": proxy.placeholder,
            "_CLAUDE_CODE_ASSUME_FIRST_PARTY_BASE_URL": "1",
        }  # fmt: skip
    with proxy_for(model) as proxy:  # a gateway (here the stand-in) is not first-party
        assert "_CLAUDE_CODE_ASSUME_FIRST_PARTY_BASE_URL" not in proxy.child_env()


def test_the_real_credential_is_redacted_from_output(model):
    with proxy_for(model, env="ANTHROPIC_AUTH_TOKEN", value="gw-5f0c1e7a-not-a-known-shape"):
        pass
    assert proc.redact("token gw-5f0c1e7a-not-a-known-shape") == "token ***"


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("x-api-key", "sk-ant-guess")],
        [("x-api-key", "PLACEHOLDER-and-more")],
        [("authorization", "Bearer PLACEHOLDER")],
        [("x-api-key", "PLACEHOLDER"), ("x-api-key", "sk-ant-guess")],
    ],  # fmt: skip
    ids=["missing", "wrong", "longer", "other-header-form", "twice"],
)
def test_a_request_without_the_placeholder_gets_401_and_never_reaches_upstream(model, headers):
    with proxy_for(model) as proxy:
        headers = [(k, v.replace("PLACEHOLDER", proxy.placeholder)) for k, v in headers]
        response = httpx.post(proxy.url + "/v1/messages?beta=true", json=body(), headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert model.requests == [] and proxy.requests == 0 and proxy.unauthorized == 1


def test_credential_is_the_one_claude_would_get():
    env = {"ANTHROPIC_API_KEY": "k1", "CLAUDE_CODE_OAUTH_TOKEN": "o1", "HOME": "/nowhere"}
    assert Credential.from_env(env) == Credential("ANTHROPIC_API_KEY", "k1")
    assert Credential.from_env({"CLAUDE_CODE_OAUTH_TOKEN": "o1", "HOME": "/nowhere"}) == Credential(
        "CLAUDE_CODE_OAUTH_TOKEN", "o1"
    )
    assert Credential.from_env({"ANTHROPIC_AUTH_TOKEN": "a1"}).header() == ("authorization", "Bearer a1")
    assert Credential.from_env({"ANTHROPIC_API_KEY": " "}) is None
    # the proxy's placeholder replaces exactly the variable the harness hands claude
    assert Credential.from_env(env).env in claude_env(env)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (
            "claude-code-20250219,oauth-2025-04-20,effort-2025-11-24",
            "claude-code-20250219,oauth-2025-04-20,effort-2025-11-24",
        ),
        ("claude-code-20250219", "claude-code-20250219,oauth-2025-04-20"),
        (None, "oauth-2025-04-20"),
    ],
    ids=["as-claude-sends-it", "beta-missing", "no-beta-header"],
)
def test_oauth_token_goes_upstream_with_the_oauth_beta(model, sent, expected):
    with proxy_for(model, env="CLAUDE_CODE_OAUTH_TOKEN", value=REAL_OAUTH) as proxy:
        assert post(proxy, **({"anthropic_beta": sent} if sent else {})).status_code == 200
    seen = model.model_requests()[0].headers
    assert seen["authorization"] == f"Bearer {REAL_OAUTH}" and "x-api-key" not in seen
    assert seen["anthropic-beta"] == expected and OAUTH_BETA == "oauth-2025-04-20"  # what 2.1.331 sends


def test_an_auth_token_is_a_bearer_without_the_oauth_beta(model):
    with proxy_for(model, env="ANTHROPIC_AUTH_TOKEN", value="gateway-token-0123") as proxy:
        assert post(proxy, anthropic_beta="claude-code-20250219").status_code == 200
    seen = model.model_requests()[0].headers
    assert (
        seen["authorization"] == "Bearer gateway-token-0123"
        and seen["anthropic-beta"] == "claude-code-20250219"
    )


# -- passing through ------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_responses_pass_through_byte_identical(model, stream):
    with proxy_for(model) as proxy:
        response = post(proxy, body(stream=stream))
    upstream = model.model_requests()[0]
    assert response.status_code == 200 and response.content == model.replies[upstream.number]
    assert response.headers["content-type"].startswith("text/event-stream" if stream else "application/json")
    assert upstream.query == {"beta": ["true"]} and json.loads(upstream.body) == body(stream=stream)


def test_errors_pass_through_once_and_unchanged(model):
    model.set_script([http_error(529, "overloaded", retry_after="7")])
    with proxy_for(model) as proxy:
        response = post(proxy)
    assert response.status_code == 529 and response.headers["retry-after"] == "7"
    assert response.content == model.replies[1] and len(model.requests) == 1  # claude retries, not the proxy


def test_other_methods_and_paths_are_forwarded(model):
    with proxy_for(model) as proxy:
        key = {"x-api-key": proxy.placeholder}
        models = httpx.get(proxy.url + "/v1/models?limit=5", headers=key, timeout=10)
        counted = post(proxy, path="/v1/messages/count_tokens?beta=true")
        preflight = httpx.head(proxy.url + "/", timeout=10)  # no credential needed, never forwarded
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "claude-standin"
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    assert preflight.status_code == 200
    assert [(r.method, r.path, r.query) for r in model.requests] == [
        ("GET", "/v1/models", {"limit": ["5"]}), ("POST", "/v1/messages/count_tokens", {"beta": ["true"]}),
    ]  # fmt: skip
    assert proxy.spent_usd == 0.0  # a token count costs nothing


def test_the_machines_http_proxy_applies_to_a_remote_upstream_only(model, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", model.url)  # the stand-in plays the corporate proxy
    with ModelProxy("http://api.example.test", Credential("ANTHROPIC_API_KEY", REAL_KEY)) as proxy:
        assert post(proxy).status_code == 200
    assert model.model_requests()[0].headers["host"] == "api.example.test"  # reached through HTTP_PROXY
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with proxy_for(model) as proxy:
        assert post(proxy).status_code == 200  # a loopback upstream is reached directly
    assert len(model.model_requests()) == 2


def test_an_unreachable_upstream_is_a_502_api_error():
    with ModelProxy("http://127.0.0.1:9", Credential("ANTHROPIC_API_KEY", REAL_KEY)) as proxy:
        response = httpx.post(
            proxy.url + "/v1/messages", json=body(), headers={"x-api-key": proxy.placeholder}, timeout=10
        )
    assert response.status_code == 502 and response.json()["error"]["type"] == "api_error"
    assert "x-should-retry" not in response.headers  # claude may retry a network failure


class _HeldStream:
    """An upstream like the real API: chunked SSE, its second half held until released."""

    FIRST = b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":2000,"output_tokens":1}}}\n\n'
    REST = b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":400}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'

    def __init__(self) -> None:
        self.release = threading.Event()
        self.gave_up = False
        held = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(held.FIRST), held.FIRST))
                held.gave_up = not held.release.wait(10)
                self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(held.REST), held.REST))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def held() -> Iterator[_HeldStream]:
    server = _HeldStream()
    yield server
    server.close()


def test_a_stream_is_relayed_as_it_arrives_and_priced_as_it_goes(held):
    with ModelProxy(held.url, Credential("ANTHROPIC_API_KEY", REAL_KEY), max_usd=1.0) as proxy:
        headers = {"x-api-key": proxy.placeholder}
        with httpx.stream(
            "POST", proxy.url + "/v1/messages", json=body(), headers=headers, timeout=20
        ) as response:
            chunks = response.iter_raw()
            first = next(chunks)  # arrives while upstream still holds the rest
            assert first == held.FIRST
            assert proxy.spent_usd == pytest.approx(
                2000 * 1 / 1e6 + 1 * 5 / 1e6
            )  # haiku 1/5, input priced already
            held.release.set()
            rest = b"".join(chunks)
        assert not held.gave_up and first + rest == held.FIRST + held.REST
        assert proxy.spent_usd == pytest.approx(
            (2000 * 1 + 400 * 5) / 1e6
        )  # message_delta's count is the total


def test_an_http_1_0_client_gets_the_stream_ended_by_the_connection(held):
    with ModelProxy(held.url, Credential("ANTHROPIC_API_KEY", REAL_KEY)) as proxy:
        held.release.set()
        payload = json.dumps(body()).encode()
        with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=10) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.0\r\nx-api-key: %s\r\nContent-Length: %d\r\n\r\n%s"
                         % (proxy.placeholder.encode(), len(payload), payload))  # fmt: skip
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b"chunked" not in head.lower()
    assert rest == held.FIRST + held.REST


def test_stop_does_not_wait_for_an_open_stream(held):
    proxy = ModelProxy(held.url, Credential("ANTHROPIC_API_KEY", REAL_KEY)).start()
    with httpx.stream(
        "POST", proxy.url + "/v1/messages", json=body(), headers={"x-api-key": proxy.placeholder}
    ) as response:
        assert next(response.iter_raw()) == held.FIRST
        proxy.stop()
        assert not held.release.is_set() and not held.gave_up  # stop() returned with the stream still open


# -- the budget -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_usage_is_priced_from_the_response(model, stream):
    usage = {
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 10000,
    }
    model.set_script([{"text": "hi", "usage": usage}])
    with proxy_for(model) as proxy:
        post(proxy, body(stream=stream, model="claude-sonnet-4-5"))
        post(proxy, body(stream=stream, model="claude-opus-5-5"))
    sonnet = ((1000 + 2000 * 1.25 + 10000 * 0.1) * 3 + 100 * 15) / 1e6  # $0.015
    opus = ((1000 + 2000 * 1.25 + 10000 * 0.1) * 5 + 100 * 25) / 1e6
    assert proxy.spent_usd == pytest.approx(sonnet + opus) and proxy.requests == 2


def test_a_json_reply_is_priced_before_claude_has_all_of_it(model, monkeypatch):
    # else claude's next request could slip past the budget check before the total moved
    with proxy_for(model) as proxy:
        done, finished_first = threading.Event(), []
        charge = proxy._charge

        def observed(usd: float) -> None:
            finished_first.append(done.wait(0.5))  # waits out 0.5 s when the client cannot finish
            charge(usd)

        monkeypatch.setattr(proxy, "_charge", observed)
        assert post(proxy, body(stream=False)).status_code == 200
        done.set()
    assert finished_first == [False] and proxy.spent_usd == pytest.approx(TURN_USD)


def test_once_the_budget_is_spent_the_next_request_is_refused(model):
    with proxy_for(model, max_usd=TURN_USD) as proxy:  # exactly one turn's price
        assert post(proxy).status_code == 200
        assert proxy.spent_usd == pytest.approx(TURN_USD) and proxy.exhausted
        refused = post(proxy)
        assert refused.status_code == 402 and refused.headers["x-should-retry"] == "false"
        assert refused.json()["type"] == "error" and refused.json()["error"]["type"] == "billing_error"
        assert "kagura-engineer's budget" in refused.json()["error"]["message"]
        assert (proxy.requests, proxy.refused, len(model.requests)) == (1, 1, 1)


def test_below_the_budget_requests_go_through(model):
    with proxy_for(model, max_usd=TURN_USD * 2.5) as proxy:
        statuses = [post(proxy).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 402] and len(model.requests) == 3 and proxy.refused == 1


def test_without_a_budget_nothing_is_refused(model):
    with proxy_for(model, max_usd=None) as proxy:
        assert [post(proxy).status_code for _ in range(3)] == [200, 200, 200]
        assert proxy.spent_usd == pytest.approx(3 * TURN_USD) and not proxy.exhausted


# -- Bedrock and Vertex ---------------------------------------------------------------------------
@pytest.mark.parametrize("switch", ["CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"])
def test_bedrock_and_vertex_are_not_proxied(switch):
    env = {"ANTHROPIC_API_KEY": "k1", switch: "1"}
    assert not needs_proxy(env)
    assert needs_proxy({**env, switch: "0"}) and needs_proxy({"ANTHROPIC_API_KEY": "k1"})
    assert not needs_proxy({"HOME": "/nowhere"})  # a subscription login: claude refreshes it itself
    source = anthropic_source({switch: "true", "HOME": "/nowhere"})
    assert source is not None and source.name == switch and "cost cap" in source.note
    assert anthropic_source({switch: "false", "HOME": "/nowhere"}) is None


def test_cloud_env_passes_the_providers_variables_only():
    env = {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIA0",
        "GITHUB_TOKEN": "g",
    }
    assert cloud_env(env) == {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIA0",
    }
    vertex = {"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-east5", "ANTHROPIC_VERTEX_PROJECT_ID": "p",
              "VERTEX_REGION_CLAUDE_4_5_SONNET": "europe-west1", "AWS_REGION": "us-east-1"}  # fmt: skip
    assert cloud_env(vertex) == {k: v for k, v in vertex.items() if k != "AWS_REGION"}
    assert cloud_env({"AWS_REGION": "us-east-1"}) == {}


# -- the real claude ------------------------------------------------------------------------------
@pytest.mark.e2e
def test_real_claude_runs_through_the_proxy_and_stops_at_the_budget(model, claude_bin, tmp_path):
    def run(proxy: ModelProxy) -> tuple[subprocess.CompletedProcess[str], dict]:
        home = tmp_path / "home"
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "CLAUDE_CONFIG_DIR": str(home),
               "CLAUDE_CODE_TMPDIR": str(home / "tmp"), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
               "CLAUDE_CODE_MAX_RETRIES": "4", **proxy.child_env()}  # fmt: skip
        assert REAL_KEY not in json.dumps(env)
        done = subprocess.run(
            [claude_bin, "-p", "--output-format", "json", "--allowedTools", "Bash(git status:*)", "--", "go"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return done, json.loads(done.stdout.strip().splitlines()[-1])

    model.set_script([{"text": "all done", **TURN}])
    with proxy_for(model) as proxy:
        done, result = run(proxy)
    assert done.returncode == 0 and result["result"] == "all done", done.stdout + done.stderr
    assert model.model_requests() and all(r.headers["x-api-key"] == REAL_KEY for r in model.requests)
    assert proxy.placeholder not in model.log_text() and proxy.spent_usd == pytest.approx(
        TURN_USD * len(model.requests)
    )

    model.requests.clear()
    model.set_script([{**bash("git status"), **TURN}] * 10)
    with proxy_for(model, max_usd=TURN_USD / 2) as proxy:
        done, result = run(proxy)
    # one turn is paid for, the next request is refused, and claude stops there: no retries
    assert done.returncode == 1 and result["is_error"] and result["api_error_status"] == 402, done.stdout
    assert "kagura-engineer's budget" in result["result"]
    assert (proxy.requests, proxy.refused, len(model.model_requests())) == (1, 1, 1)


# -- start-up -------------------------------------------------------------------------------------
def test_an_upstream_client_that_cannot_be_made_is_an_answer_not_a_hang(model, monkeypatch):
    # The client is made on the serving thread (so importing httpx overlaps claude's start-up);
    # if that fails, claude must hear why instead of waiting on a connection nobody accepts.
    def broken(self):
        raise ValueError("no CA bundle at /nowhere")

    monkeypatch.setattr(ModelProxy, "_make_client", broken)
    with proxy_for(model) as proxy:
        response = post(proxy)
    assert response.status_code == 502
    assert "no CA bundle at /nowhere" in response.json()["error"]["message"]
    assert model.model_requests() == []


def test_stop_before_the_first_request_closes_the_client(model):
    proxy = proxy_for(model).start()
    proxy.stop()
    proxy._thread.join(timeout=30)
    assert proxy._client is None and not proxy._thread.is_alive()
