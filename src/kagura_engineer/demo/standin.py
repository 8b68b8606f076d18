"""The shared machinery of every loopback stand-in: a real HTTP server on 127.0.0.1.

Each stand-in (GitHub REST, Memory Cloud MCP, Anthropic Messages, Actions cache) subclasses
`StandIn` and implements `handle(request) -> Response`. This base gives them:

- a threaded server bound to 127.0.0.1 on a free port (`start()`, `url`, context manager);
- a request log (`requests`, each a `Request` with the reply status) for assertions;
- fault injection (`inject(...)`): status codes, headers such as Retry-After, delays, dropped
  connections, for the next N matching requests;
- a crash hook (`kill_on(k, pgid)`): SIGKILL a process group on the k-th request, either
  before the request takes effect or after it took effect but before the reply is sent
  (the case of a write whose answer the killed job never saw).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    number: int = 0  # 1-based arrival order at this stand-in
    ts: float = field(default_factory=time.time)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = body or b""
        return data, headers


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))


@dataclass
class Fault:
    """An injected answer for the next `times` requests matching method and path regex."""

    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    method: str | None = None
    path: str | None = None  # a regex searched in the request path
    drop: bool = False  # close the connection without an answer
    passthrough: bool = False  # only delay, then answer normally

    def matches(self, req: Request) -> bool:
        if self.method and self.method.upper() != req.method:
            return False
        return not (self.path and not re.search(self.path, req.path))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid a 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        standin = self.server.standin
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        resp = standin._serve(req)
        if resp is None:  # dropped connection
            self.close_connection = True
            return
        data, headers = resp.encoded()
        req.status = resp.status
        self.send_response(resp.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        standin._after_reply(req)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up before reading the reply (an SDK closing its session, a
        # killed process) is ordinary traffic, not a stand-in fault. socketserver would print a
        # traceback to stderr, which in tests is the stderr of the CLI under test.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class StandIn:
    """Base class: subclasses implement `handle`. Thread-safe through `self.lock`."""

    name = "stand-in"

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._kill: tuple[int, int, str] | None = None  # (k, pgid, when)
        self._kill_tree = False
        self._count = 0
        self.killed_at: int | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> StandIn:
        server = _Server((LOOPBACK, self._port), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- test controls --------------------------------------------------------------
    def inject(self, status: int = 503, **kwargs: Any) -> Fault:
        fault = Fault(status=status, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def kill_on(self, k: int, pgid: int, when: str = "after", tree: bool = False) -> None:
        """SIGKILL process group `pgid` on the k-th request from now (1-based).

        when="before": the request never takes effect. when="after": it takes effect and
        the reply is sent, then the group dies (so the killed job never acts on it).
        tree=True: `pgid` is the job's pid, and every descendant dies with it, whatever
        process group it runs in (as when a runner cancels a job's container).
        """
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        with self.lock:
            self._kill = (self._count + k, pgid, when)
            self._kill_tree = tree

    def disarm(self) -> None:
        with self.lock:
            self._kill = None

    def requests_matching(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if (method is None or r.method == method.upper()) and (path is None or re.search(path, r.path))
        ]

    def log_text(self) -> str:
        """Every request, headers and body, as text: for grepping for leaked secrets."""
        with self.lock:
            reqs = list(self.requests)
        return "\n".join(
            f"{r.method} {r.path} {json.dumps(r.headers)} {r.text()}" for r in reqs
        )

    # -- serving --------------------------------------------------------------------
    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def _serve(self, req: Request) -> Response | None:
        with self.lock:
            self._count += 1
            req.number = number = self._count
            self.requests.append(req)
            fault = next((f for f in self.faults if f.times > 0 and f.matches(req)), None)
            if fault is not None:
                fault.times -= 1
            kill = self._kill if self._kill and self._kill[0] == number else None
        if kill and kill[2] == "before":
            self._do_kill(kill[1], number)
            return None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                return None
            if not fault.passthrough:
                return Response(fault.status, fault.body, dict(fault.headers))
        try:
            return self.handle(req)
        except Exception as exc:  # a stand-in bug must be visible, not a hung client
            return json_response({"message": f"stand-in error: {exc!r}"}, status=599)

    def _after_reply(self, req: Request) -> None:
        with self.lock:
            kill = self._kill if self._kill and self._kill[0] == req.number else None
        if kill and kill[2] == "after":
            self._do_kill(kill[1], req.number)

    def _do_kill(self, pgid: int, number: int) -> None:
        with self.lock:
            self._kill = None
            self.killed_at = number
            tree = self._kill_tree
        groups = {pgid}
        if tree:
            for pid in descendants(pgid):
                try:
                    groups.add(os.getpgid(pid))
                except ProcessLookupError:
                    pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def serve_until_signalled(standin: StandIn, port_file: str | os.PathLike[str] | None = None) -> int:
    """Run a started stand-in as a process: write the port atomically, serve until SIGTERM/SIGINT."""
    import sys
    from pathlib import Path

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if port_file:
            target = Path(port_file)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(str(standin.port), encoding="utf-8")
            tmp.replace(target)  # a reader never sees an empty file
        print(f"{standin.name} stand-in listening on {standin.url}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        standin.stop()
    return 0


def descendants(root: int) -> list[int]:
    """Every live descendant of `root`, from /proc (children first seen, then theirs)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
