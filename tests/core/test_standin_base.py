"""The stand-in servers' shared base: a client hanging up mid-reply is not an error to print."""

from __future__ import annotations

import socket
import struct
import urllib.request

import pytest

from kagura_engineer.demo.standin import Request, Response, StandIn


class _Big(StandIn):
    name = "big"

    def handle(self, req: Request) -> Response:
        return Response(body=b"x" * (32 << 20))  # larger than any socket buffer


def test_a_client_hanging_up_mid_reply_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with _Big() as server:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
            # Close with a reset, as a killed process or an SDK tearing down its session does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        # The server is still serving.
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as resp:
            assert len(resp.read()) == 32 << 20
    assert capfd.readouterr().err == ""
