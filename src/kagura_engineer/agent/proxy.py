"""A loopback proxy that holds the model credential, so claude never sees it, and stops spending.

    with ModelProxy(upstream_url(environ), Credential.from_env(environ), max_usd=5.0) as proxy:
        env = {**claude_env(environ), **proxy.child_env()}   # placeholder, never the key
        ...run claude...; proxy.spent_usd, proxy.exhausted

claude gets `ANTHROPIC_BASE_URL=<proxy>` and a random per-run placeholder under the same
variable the real credential uses, so it sends the same header form (`x-api-key`, or
`Authorization: Bearer` plus the `oauth-2025-04-20` beta for an OAuth token: what 2.1.331
sends). The proxy answers 401 to any request that does not carry exactly the placeholder (no
other local process can spend through it), swaps in the real credential, and forwards every
method, path and query to the upstream over one persistent client (connection reuse;
`trust_env`, so the machine's HTTPS proxy and CA settings apply). Status codes, headers
(minus hop-by-hop ones) and bodies pass through unchanged; SSE streams chunk by chunk as they
arrive (upstream is asked for `identity` encoding, so usage stays readable). The proxy never
retries: claude retries 429/5xx itself, and a second layer of retries would multiply its
waits. In front of api.anthropic.com, claude is told the base URL is first-party, so its
requests keep the form they have without the proxy (`child_env`).

Every response's `usage` (a JSON body's top-level `usage`; a stream's `message_start` and
`message_delta`, read as it passes) is priced with `cost.usage_cost` into `spent_usd`. Once
`spent_usd >= max_usd`, every new request is refused with 402 `billing_error`: the one
status the real claude 2.1.331 neither retries nor calls an authentication failure (400
makes it retry with other tool sets, 401 and 429 with backoff). A request already streaming
finishes. Bedrock and Vertex are not proxied (`needs_proxy`).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kagura_engineer import proc
from kagura_engineer.agent.argv import credential_name
from kagura_engineer.agent.cost import usage_cost
from kagura_engineer.credentials import cloud_provider
from kagura_engineer.urls import is_loopback

if TYPE_CHECKING:
    import httpx2

DEFAULT_UPSTREAM = "https://api.anthropic.com"
FIRST_PARTY_HOST = "api.anthropic.com"
ASSUME_FIRST_PARTY = "_CLAUDE_CODE_ASSUME_FIRST_PARTY_BASE_URL"
OAUTH_BETA = "oauth-2025-04-20"
BUDGET_STATUS, BUDGET_ERROR = 402, "billing_error"
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})  # fmt: skip
_NOT_FORWARDED = HOP_BY_HOP | CREDENTIAL_HEADERS | {"accept-encoding"}
_JSON_LIMIT = 8 << 20  # a JSON body larger than this is passed through but not priced


# -- credentials ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credential:
    """The real model credential: the variable it came from and its value (never printed)."""

    env: str  # ANTHROPIC_API_KEY | CLAUDE_CODE_OAUTH_TOKEN | ANTHROPIC_AUTH_TOKEN
    value: str = field(repr=False)

    @property
    def bearer(self) -> bool:
        return self.env != "ANTHROPIC_API_KEY"

    @property
    def oauth(self) -> bool:
        return self.env == "CLAUDE_CODE_OAUTH_TOKEN"

    def header(self, value: str | None = None) -> tuple[str, str]:
        """The header carrying this credential (or `value` in its place), as claude sends it."""
        value = self.value if value is None else value
        return ("authorization", f"Bearer {value}") if self.bearer else ("x-api-key", value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Credential | None:
        """The credential claude would be given (`argv.credential_name`), or None."""
        name = credential_name(environ)
        return cls(name, environ[name].strip()) if name else None


def needs_proxy(environ: Mapping[str, str]) -> bool:
    """True when claude talks to the Anthropic API with a credential from the environment.

    False for Bedrock/Vertex (`CLAUDE_CODE_USE_BEDROCK`/`_VERTEX`: the cloud's own variables
    pass through, unproxied and uncapped) and for a subscription login file, which claude
    refreshes itself.
    """
    return cloud_provider(environ) is None and credential_name(environ) is not None


def upstream_url(environ: Mapping[str, str]) -> str:
    """Where the proxy forwards to: the harness's ANTHROPIC_BASE_URL, else the Anthropic API."""
    return (environ.get("ANTHROPIC_BASE_URL") or "").strip() or DEFAULT_UPSTREAM


def error_body(kind: str, message: str) -> bytes:
    """An Anthropic-shaped error body."""
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


# -- usage metering -------------------------------------------------------------------------------
class _Meter:
    """Prices one response's usage as its bytes pass; `charge(delta_usd)` as it learns more."""

    def __init__(self, content_type: str, charge: Callable[[float], None]) -> None:
        self.sse = "text/event-stream" in content_type
        self.json = not self.sse and "json" in content_type
        self.charge = charge
        self.buffer = bytearray()
        self.event: bytes | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}
        self.charged = 0.0

    def feed(self, chunk: bytes) -> None:
        if self.json:
            if len(self.buffer) <= _JSON_LIMIT:
                self.buffer += chunk
            return
        if not self.sse:
            return
        self.buffer += chunk
        start = 0
        while (end := self.buffer.find(b"\n", start)) >= 0:
            self._line(bytes(self.buffer[start:end]).rstrip(b"\r"))
            start = end + 1
        del self.buffer[:start]

    def close(self) -> None:
        if self.json and len(self.buffer) <= _JSON_LIMIT:
            body = _loads(bytes(self.buffer))
            if isinstance(body, dict) and isinstance(body.get("usage"), dict):
                self.model = body.get("model") if isinstance(body.get("model"), str) else None
                self._update(body["usage"])
        self.buffer.clear()

    def _line(self, line: bytes) -> None:
        if not line:
            self.event = None
        elif line.startswith(b"event:"):
            self.event = line[6:].strip()
        elif line.startswith(b"data:") and (
            self.event in (b"message_start", b"message_delta")
            or (self.event is None and b'"message_' in line)
        ):
            data = _loads(line[5:])
            if not isinstance(data, dict):
                return
            if data.get("type") == "message_start" and isinstance(data.get("message"), dict):
                message = data["message"]
                self.model = message.get("model") if isinstance(message.get("model"), str) else None
                self._update(message.get("usage"))
            elif data.get("type") == "message_delta":
                self._update(data.get("usage"))  # cumulative counts for the message

    def _update(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        self.usage.update(usage)
        cost = usage_cost(self.model, self.usage)  # unknown model: the dearest price
        if cost != self.charged:
            self.charge(cost - self.charged)
            self.charged = cost


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# -- the proxy ----------------------------------------------------------------------------------
class ModelProxy:
    """The credential-isolating, budget-enforcing proxy on 127.0.0.1 (a context manager)."""

    def __init__(
        self,
        upstream: str,
        credential: Credential,
        max_usd: float | None = None,
        *,
        read_timeout: float = 660.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.credential = credential
        self.max_usd = max_usd
        self.placeholder = secrets.token_urlsafe(32)
        self.requests = 0  # forwarded upstream
        self.refused = 0  # refused because the budget is spent
        self.unauthorized = 0  # refused for a missing or wrong placeholder
        self._spent = 0.0
        self._lock = threading.Lock()
        self._read_timeout = read_timeout
        self._client: httpx2.Client | None = None
        self._client_error: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        proc.register_secret(credential.value)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ModelProxy:
        """Listen at once; the upstream client is made on the serving thread, before the first
        request is accepted, so its set-up overlaps claude's own start-up."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server, self._stopping = server, False
        self._thread = threading.Thread(target=self._serve, args=(server,), name="model-proxy", daemon=True)
        self._thread.start()
        return self

    def _make_client(self) -> httpx2.Client:
        # httpx2 (ghapi's HTTP client, already loaded by a run): `import httpx` also imports
        # its command-line client's click, rich and pygments when they are installed (~0.4 s).
        import httpx2

        loopback = is_loopback(self.upstream)
        return httpx2.Client(
            timeout=httpx2.Timeout(30.0, read=self._read_timeout),
            follow_redirects=False,
            trust_env=not loopback,  # a loopback upstream never goes through an HTTPS proxy
            verify=not self.upstream.startswith("http://"),  # plain HTTP: no CA bundle to load
            limits=httpx2.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=60.0),
        )

    def _serve(self, server: _Server) -> None:
        try:
            client = self._make_client()
        except Exception as exc:  # answered to every request (502 below), never a hang
            self._client_error = f"{type(exc).__name__}: {exc}"
        else:
            with self._lock:  # stop() sets the flag under it: the client is closed by one of us
                stopping = self._stopping
                if not stopping:
                    self._client = client
            if stopping:
                client.close()
                return
        while not self._stopping:
            server.handle_request()  # blocks until a connection: no polling

    def stop(self) -> None:
        """Stop at once: streams still open are cut (their threads are daemons)."""
        server, self._server = self._server, None
        if server is not None:
            with self._lock:
                self._stopping = True
            with contextlib.suppress(OSError):  # wake the accept loop so it sees the flag
                socket.create_connection(server.server_address, timeout=1.0).close()
            if self._thread is not None:
                self._thread.join(timeout=1.0)
            server.server_close()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> ModelProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public state ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def exhausted(self) -> bool:
        return self.max_usd is not None and self.spent_usd >= self.max_usd

    def child_env(self) -> dict[str, str]:
        """What claude gets instead of the credential: the proxy's URL and the placeholder.

        In front of the Anthropic API itself, claude is also told the base URL is first-party:
        otherwise (2.1.331) it drops betas such as `prompt-caching-scope-*` and the request's
        `diagnostics`, and resolves models as for a third-party gateway.
        """
        env = {"ANTHROPIC_BASE_URL": self.url, self.credential.env: self.placeholder}
        if urlsplit(self.upstream).hostname == FIRST_PARTY_HOST:
            env[ASSUME_FIRST_PARTY] = "1"
        return env

    # -- per request (called from handler threads) -----------------------------------------------
    def _charge(self, usd: float) -> None:
        with self._lock:
            self._spent += usd

    def _authorized(self, headers: Iterable[tuple[str, str]]) -> bool:
        name, expected = self.credential.header(self.placeholder)
        sent = [v for k, v in headers if k.lower() == name]
        return len(sent) == 1 and hmac.compare_digest(sent[0].encode(), expected.encode())

    def _admit(self) -> bool:
        """Count a request that may go upstream, or a refusal once the budget is spent."""
        with self._lock:
            if self.max_usd is not None and self._spent >= self.max_usd:
                self.refused += 1
                return False
            self.requests += 1
            return True

    def _upstream_headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = [(k, v) for k, v in headers if k.lower() not in _NOT_FORWARDED]
        out += [self.credential.header(), ("accept-encoding", "identity")]  # usage stays readable
        if self.credential.oauth:
            # what claude sends with an OAuth token; added when a request lacks it
            at = next((i for i, (k, _) in enumerate(out) if k.lower() == "anthropic-beta"), None)
            if at is None:
                out.append(("anthropic-beta", OAUTH_BETA))
            elif OAUTH_BETA not in out[at][1]:
                out[at] = (out[at][0], f"{out[at][1]},{OAUTH_BETA}")
        return out




class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for open streams
    proxy: ModelProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client hanging up is ordinary
        sys.stderr.write("kagura-engineer model proxy: " + proc.redact(traceback.format_exc()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # never log requests: their headers carry the placeholder, upstream's the key

    def _forward(self) -> None:
        proxy = self.server.proxy
        headers = self.headers.items()
        body = self._body()
        if body is None:
            return self._error(400, "invalid_request_error", "kagura-engineer proxy: unreadable request body")
        if self.command == "HEAD" and self.path in ("", "/"):
            return self._reply(200, b"")  # connectivity preflight of some versions: spends nothing
        if not proxy._authorized(headers):
            with proxy._lock:
                proxy.unauthorized += 1
            return self._error(401, "authentication_error", "kagura-engineer proxy: invalid credential")
        if not proxy._admit():
            spent = f"${proxy.spent_usd:.4f} of ${proxy.max_usd:g}"
            return self._error(
                BUDGET_STATUS,
                BUDGET_ERROR,
                f"kagura-engineer's budget (max_usd) is spent ({spent}); request refused",
            )
        client = proxy._client
        if client is None and proxy._client_error:
            return self._error(
                502, "api_error", f"kagura-engineer proxy: no upstream client ({proxy._client_error})"
            )
        if client is None:
            return self._error(503, "api_error", "kagura-engineer proxy: stopped")
        target = urlsplit(self.path)
        path = target.path + (f"?{target.query}" if target.query else "")
        request = client.build_request(
            self.command, proxy.upstream + path, headers=proxy._upstream_headers(headers), content=body
        )
        try:
            response = client.send(request, stream=True)
        except Exception as exc:  # transport error: claude decides whether to retry
            return self._error(
                502, "api_error", f"kagura-engineer proxy: upstream unreachable ({type(exc).__name__})"
            )
        try:
            self._relay(response, proxy)
        finally:
            response.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

    def _body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _relay(self, response: httpx2.Response, proxy: ModelProxy) -> None:
        drop = HOP_BY_HOP | {t.strip().lower() for t in response.headers.get("connection", "").split(",")}
        length = response.headers.get("content-length")
        no_body = (
            self.command == "HEAD" or response.status_code in (204, 304) or 100 <= response.status_code < 200
        )
        chunked = not no_body and length is None and self.request_version == "HTTP/1.1"
        if not no_body and length is None and not chunked:
            self.close_connection = True  # an HTTP/1.0 client: the body ends when the connection does
        self.send_response_only(response.status_code, response.reason_phrase or None)
        for key, value in response.headers.multi_items():
            if key.lower() not in drop:
                self.send_header(key, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if no_body:
            return
        meter = _Meter(response.headers.get("content-type", ""), proxy._charge)
        try:
            held = b""
            for chunk in response.iter_raw():
                meter.feed(chunk)  # a stream's usage is counted before its bytes are sent on
                if meter.json:  # a JSON body's last bytes wait until it is priced
                    chunk, held = held, chunk
                self._send(chunk, chunked)
            meter.close()  # so claude's next request already meets the new total
            self._send(held, chunked)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except Exception:
            self.close_connection = True  # either side hung up mid-body: the client sees a cut stream
        finally:
            meter.close()

    def _send(self, chunk: bytes, chunked: bool) -> None:
        if chunk:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)

    def _error(self, status: int, kind: str, message: str) -> None:
        headers = {"Content-Type": "application/json"}
        if status < 500:
            headers["x-should-retry"] = "false"  # the Anthropic SDKs' own no-retry signal
        self._reply(status, error_body(kind, message), headers)

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response_only(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
