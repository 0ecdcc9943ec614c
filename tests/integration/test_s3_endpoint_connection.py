"""The endpoint's connections over real sockets: the keep-alive closes an idle connection
and one stalled mid-request (the kernel's receive timeout on the blocking socket), and
requests sent back to back, or pipelined in one write, are each answered in order on the
same connection."""

from __future__ import annotations

import socket

import pytest
from s3_endpoint_helpers import serving

from simsage.transport.s3_endpoint import S3Endpoint


@pytest.fixture
def quick_endpoint(simsage_home):
    with serving(keepalive=0.3) as server:
        yield server


def _connect(server: S3Endpoint) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.server_port))
    sock.settimeout(20)  # a hung server fails the test instead of hanging it
    return sock


def _read_answer(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bytes]:
    """(status, body, what was read past this answer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        rest += chunk
    return int(lines[0].split()[1]), rest[:length], rest[length:]


def test_an_idle_connection_is_closed_after_the_keepalive(quick_endpoint):
    with _connect(quick_endpoint) as sock:
        assert sock.recv(1) == b""
    assert quick_endpoint.in_flight == 0


def test_a_request_stalled_mid_headers_is_dropped(quick_endpoint):
    with _connect(quick_endpoint) as sock:
        sock.sendall(b"GET /bkt/key HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert sock.recv(65536) == b""
    assert quick_endpoint.in_flight == 0


def test_requests_back_to_back_and_pipelined_are_answered_in_order(quick_endpoint):
    request = b"GET /bkt/k%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with _connect(quick_endpoint) as sock:
        rest = b""
        for i in range(20):  # no credentials: S3's AccessDenied, the connection kept
            sock.sendall(request % i)
            status, body, rest = _read_answer(sock, rest)
            assert status == 403 and b"<Code>AccessDenied</Code>" in body
        sock.sendall(b"".join(request % i for i in range(3)))
        for _ in range(3):
            status, body, rest = _read_answer(sock, rest)
            assert status == 403 and b"<Code>AccessDenied</Code>" in body
        assert rest == b""
