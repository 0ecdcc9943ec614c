"""Kept-alive HTTP/1.1 connections to inference-server instances on 127.0.0.1.

Layer: runtime (data plane), shared by endpoint invocation (InvokeEndpoint, in
:mod:`simsage.hosting.runtime`) and the batch transform runner. One :class:`InstancePool` holds, per instance port, the connections no request
is using; a request takes one (or opens one), uses it alone, and gives it back.

Invariants:
- a connection the server closed while it sat idle (its keep-alive timeout, a drain,
  a restart) never fails a request: it is noticed before use (the socket reads as
  closed) or, if the server closed it while the request was being written, the request
  is sent again on a fresh connection — nothing reached the server's handler then;
- a connection that failed in any way is closed at once, never given back;
- idle connections the server closed are closed here within ``REAP_SECONDS`` (no
  socket lingers in CLOSE_WAIT), and :meth:`InstancePool.retain` closes those to
  instances that left the routing.
"""

from __future__ import annotations

import http.client
import select
import threading
import time
from dataclasses import dataclass

REAP_SECONDS = 1.0
MAX_IDLE_PER_PORT = 64


class Unreachable(ConnectionError):
    """The instance gave no usable answer: refused, reset or closed on a fresh
    connection, or its answer was cut off or malformed. The caller may try another
    instance."""


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]  # lower-cased names
    content_type: str | None


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can no longer carry a request: it reads as ready
    (EOF after the server's FIN, a reset, or bytes nobody asked for)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class InstancePool:
    """Idle connections per instance port, shared by every thread of a process."""

    def __init__(self, reap_seconds: float = REAP_SECONDS) -> None:
        self._idle: dict[int, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._retained: set[int] | None = None  # None: every port is wanted
        self._reap_seconds = reap_seconds
        self._reaper: threading.Thread | None = None

    # -- requests ----------------------------------------------------------------------
    def request(
        self,
        port: int,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Reply:
        """Send one request to ``127.0.0.1:port`` and read the whole answer.

        Raises:
            Unreachable: no answer came (refused, reset, closed, or a malformed or
                cut-off answer): the caller may try another instance.
            TimeoutError: no answer within ``timeout`` seconds (the request may have
                reached the handler: it is not sent again).
        """
        fresh_only = False
        while True:
            connection, reused = self._checkout(port, timeout, fresh_only)
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
            except TimeoutError:
                connection.close()
                raise
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and isinstance(exc, ConnectionError):
                    # No status line came: the server closed this kept-alive connection
                    # (its idle timeout) as the request went out, so its handler never
                    # saw it. The other idle ones are likely closed too: start afresh.
                    self.forget(port)
                    fresh_only = True
                    continue
                raise Unreachable(str(exc) or type(exc).__name__) from None
            try:
                data = response.read()
            except TimeoutError:
                connection.close()
                raise
            except (OSError, http.client.HTTPException) as exc:
                connection.close()  # the answer was cut off: the instance went away
                raise Unreachable(str(exc) or type(exc).__name__) from None
            headers_out = {k.lower(): v for k, v in response.getheaders()}
            self._checkin(port, connection, response.will_close)
            return Reply(response.status, data, headers_out, response.getheader("Content-Type"))

    def _checkout(
        self, port: int, timeout: float, fresh_only: bool = False
    ) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = None if fresh_only else self._idle.get(port)
            while idle:
                connection = idle.pop()
                if _closed_by_peer(connection):
                    connection.close()
                    continue
                connection.timeout = timeout
                connection.sock.settimeout(timeout)
                return connection, True
        return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), False

    def _checkin(self, port: int, connection: http.client.HTTPConnection, closing: bool) -> None:
        with self._lock:
            wanted = self._retained is None or port in self._retained
            idle = self._idle.setdefault(port, [])
            if closing or not wanted or connection.sock is None or len(idle) >= MAX_IDLE_PER_PORT:
                connection.close()
                if not idle:
                    del self._idle[port]
                return
            idle.append(connection)
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=self._reap, name="simsage-instance-pool-reaper", daemon=True
                )
                self._reaper.start()

    # -- pruning -----------------------------------------------------------------------
    def retain(self, ports: set[int]) -> None:
        """Keep connections only to ``ports`` (the instances still routed to): idle
        ones to other ports are closed now, busy ones when they come back."""
        with self._lock:
            self._retained = set(ports)
            for port in [p for p in self._idle if p not in self._retained]:
                for connection in self._idle.pop(port):
                    connection.close()

    def forget(self, port: int) -> None:
        """Close the idle connections to one instance (it went away)."""
        with self._lock:
            for connection in self._idle.pop(port, []):
                connection.close()

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        with self._lock:
            for connections in self._idle.values():
                for connection in connections:
                    connection.close()
            self._idle.clear()

    def _reap(self) -> None:
        """Close idle connections the server has closed, until none is left idle."""
        while True:
            time.sleep(self._reap_seconds)
            with self._lock:
                for port in list(self._idle):
                    alive = []
                    for connection in self._idle[port]:
                        if _closed_by_peer(connection):
                            connection.close()
                        else:
                            alive.append(connection)
                    if alive:
                        self._idle[port] = alive
                    else:
                        del self._idle[port]
                if not self._idle:
                    self._reaper = None
                    return
