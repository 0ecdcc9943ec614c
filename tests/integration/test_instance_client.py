"""The connection pool to inference-server instances, against real loopback servers:
a kept-alive connection the server closed never fails a request (and a request is
never sent twice after the server read it), and no socket stays in CLOSE_WAIT."""

from __future__ import annotations

import socket
import threading
import time

import psutil
import pytest

from simsage.runtime.instance_client import InstancePool, Unreachable
from simsage.serving.scoring import Response
from simsage.serving.server import InferenceServer


class _Echo:
    def __init__(self) -> None:
        self.calls = 0

    def invoke(self, body, content_type, accept, headers=None):
        self.calls += 1
        return Response(body, "text/plain")


@pytest.fixture
def server():
    """An in-process inference server that closes idle connections after 0.2 s."""
    instance = InferenceServer(0, keepalive=0.2)
    instance.handler = _Echo()
    loop = threading.Thread(target=instance.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    yield instance
    instance.shutdown()
    instance.server_close()
    instance.drain(timeout=2)
    loop.join(5)


def _wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _our_sockets(port: int, status: str) -> list:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == status
    ]


def test_a_connection_the_server_closed_while_idle_is_replaced(server):
    port = server.server_address[1]
    pool = InstancePool(reap_seconds=3600)  # no reaping: the request itself must cope
    try:
        for _ in range(3):
            reply = pool.request(port, "POST", "/invocations", b"hi", {}, 5.0)
            assert (reply.status, reply.body) == (200, b"hi")
            _wait_for(lambda: _our_sockets(port, psutil.CONN_CLOSE_WAIT), "the idle close")
        assert server.handler.calls == 3  # each request reached the handler exactly once
    finally:
        pool.close()


def _one_shot_server(behaviours: list[str]):
    """A raw HTTP server: the n-th connection answers one request, then (``drop``)
    reads the next request and closes without answering, or (``keep``) answers it."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def read_request(conn) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += conn.recv(65536)
        return head

    def serve() -> None:
        for behaviour in behaviours:
            conn, _ = listener.accept()
            with conn:
                while True:
                    request = read_request(conn)
                    if not request:
                        break
                    seen.append(request)
                    if behaviour == "drop" and len(seen) > 1:
                        break  # closed as the request came in: it is never answered
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, seen, thread


def test_a_close_racing_the_request_is_retried_once_on_a_fresh_connection():
    listener, seen, thread = _one_shot_server(["drop", "keep"])
    port = listener.getsockname()[1]
    pool = InstancePool(reap_seconds=3600)
    try:
        assert pool.request(port, "POST", "/invocations", b"1", {}, 5.0).body == b"ok"
        # The pooled connection looks alive when it is taken; the server drops it as
        # the request arrives. The request goes again, on a new connection.
        assert pool.request(port, "POST", "/invocations", b"2", {}, 5.0).body == b"ok"
        assert len(seen) == 3
    finally:
        pool.close()
        listener.close()
        thread.join(5)


def test_a_fresh_connection_that_fails_is_unreachable_not_retried():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there any more
    with pytest.raises(Unreachable):
        InstancePool().request(port, "POST", "/invocations", b"x", {}, 2.0)


def test_idle_connections_the_server_closed_are_reaped_and_retain_prunes(server):
    port = server.server_address[1]
    pool = InstancePool(reap_seconds=0.05)
    try:
        pool.request(port, "GET", "/ping", None, {}, 5.0)
        _wait_for(lambda: pool.idle_count() == 0, "the reaper")
        assert _our_sockets(port, psutil.CONN_CLOSE_WAIT) == []
        server.keepalive = 60.0  # new connections now stay open
        pool.request(port, "GET", "/ping", None, {}, 5.0)
        assert pool.idle_count() == 1
        pool.retain(set())  # the instance left the routing
        assert pool.idle_count() == 0
        assert _our_sockets(port, psutil.CONN_ESTABLISHED) == []
    finally:
        pool.close()
