"""A container's own ``127.0.0.1:PORT``, relayed to the same port on the host's loopback:
how containers under a Docker engine reach simsage's S3 endpoint.

Why: on AWS a training, processing or serving container reaches S3 over the network. Here
S3 is the home's endpoint (:mod:`simsage.transport.endpoint_use`), which listens on the
host's 127.0.0.1 only, and a container on a bridge network has its own loopback: it cannot
reach the host's. Listening on the bridge's address instead would expose the store beyond
127.0.0.1, which simsage never does.

How: for each started container, a short-lived thread enters the container's network
namespace (``setns`` on ``/proc/<pid>/ns/net``), creates a socket listening on
``127.0.0.1:PORT`` *inside* it, and ends; a socket stays in the namespace it was made in,
so the listener keeps serving the container while every other thread of the runner stays
on the host. An acceptor thread takes the container's connections and, for each, connects
to the host's ``127.0.0.1:PORT`` and copies bytes both ways (two threads, 256 KiB
buffers, half-closes passed on) until either side ends. The container's environment names
``http://127.0.0.1:PORT`` as ``AWS_ENDPOINT_URL_S3``, the same URL as on the host.

Limits, said plainly:

- entering another network namespace needs ``CAP_SYS_ADMIN``: simsage must run as root
  with a rootful engine on the same Linux host (CI and the Debian machines simsage is built
  on). Otherwise (a non-root user in the ``docker`` group, Docker Desktop's VM, a remote
  ``DOCKER_HOST``) :meth:`ContainerRelay.attach` raises :class:`RelayUnavailable` and the
  caller logs, in the job's log, that the container cannot reach S3 and why;
- the listener exists a few milliseconds after the container's process started (the
  namespace only exists once it runs): a connection attempted before is refused, and
  botocore (boto3, the AWS CLI) retries refused connections by itself;
- a container whose own program listens on the same port wins it; the relay then says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
BUFFER = 256 * 1024
_libc: ctypes.CDLL | None = None


class RelayUnavailable(Exception):
    """The container's namespace could not be entered or its port not bound; the
    message says why, for the job's log."""


@dataclass
class ContainerAccess:
    """What a host service needs for containers to reach it: the port it listens on (the
    host's 127.0.0.1; the container's own 127.0.0.1 gets the same port), the variables a
    container's environment gets (values its request's Environment does not set itself),
    and ``release``, called once the containers are gone (e.g. to stop using a shared
    server)."""

    port: int
    environment: dict[str, str]
    release: Callable[[], None] = field(default=lambda: None)


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def listen_in_namespace(pid: int, port: int) -> socket.socket:
    """A socket listening on ``127.0.0.1:port`` in the network namespace of process
    ``pid``, made by a thread that enters it and ends (this thread never moves).

    Raises:
        RelayUnavailable: the namespace cannot be entered (no privilege, no such process,
            not Linux) or the port is taken there.
    """
    result: dict[str, object] = {}

    def inside() -> None:
        try:
            with open(f"/proc/{pid}/ns/net", "rb") as namespace:
                _setns(namespace.fileno())
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
                sock.listen(128)
            except OSError:
                sock.close()
                raise
            result["sock"] = sock
        except OSError as exc:
            result["error"] = exc

    # The thread's namespace ends with it; the socket keeps the container's.
    worker = threading.Thread(target=inside, name=f"netns-{pid}", daemon=True)
    worker.start()
    worker.join()
    error = result.get("error")
    if isinstance(error, OSError):
        if error.errno in (errno.EPERM, errno.EACCES):
            why = (
                "entering a container's network namespace needs root (CAP_SYS_ADMIN) "
                "with a Docker engine on this host"
            )
        elif error.errno == errno.EADDRINUSE:
            why = f"the container's own program already listens on 127.0.0.1:{port}"
        elif error.errno == errno.ENOENT:
            why = f"no process {pid} on this host (a remote engine, or the container ended)"
        else:
            why = f"{error.strerror or error}"
        raise RelayUnavailable(why)
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    return sock


class ContainerRelay:
    """Relays the containers it is attached to from their ``127.0.0.1:port`` to the
    host's ``127.0.0.1:port``. :meth:`close` ends every listener and connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._listeners: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False

    def attach(self, pid: int) -> None:
        """Start relaying the network namespace of process ``pid`` (a container's).

        Raises:
            RelayUnavailable: see :func:`listen_in_namespace`.
        """
        listener = listen_in_namespace(pid, self.port)
        with self._lock:
            if self._closed:
                listener.close()
                return
            self._listeners.append(listener)
        threading.Thread(
            target=self._accept, args=(listener,), name=f"relay-{pid}", daemon=True
        ).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                inner, _ = listener.accept()
            except OSError:  # closed: the container is gone
                return
            threading.Thread(target=self._serve, args=(inner,), daemon=True).start()

    def _serve(self, inner: socket.socket) -> None:
        try:
            outer = socket.create_connection(("127.0.0.1", self.port))
        except OSError:
            inner.close()  # the host's service is gone: the client sees the connection end
            return
        for sock in (inner, outer):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._closed:
                inner.close()
                outer.close()
                return
            self._connections.update((inner, outer))
        back = threading.Thread(target=_pump, args=(outer, inner), daemon=True)
        back.start()
        _pump(inner, outer)
        back.join()
        with self._lock:
            self._connections.difference_update((inner, outer))
        inner.close()
        outer.close()

    def close(self) -> None:
        """End the listeners (the containers' ports) and the connections in flight."""
        with self._lock:
            self._closed = True
            listeners, self._listeners = self._listeners, []
            connections, self._connections = set(self._connections), set()
        for sock in [*listeners, *connections]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept/recv
            sock.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy ``source`` to ``target`` until ``source`` ends, then half-close ``target``
    (HTTP clients may half-close after a request; the answer still comes back)."""
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    try:
        while True:
            count = source.recv_into(buffer)
            if not count:
                break
            target.sendall(view[:count])
    except OSError:  # reset or closed: end both ways, so the other pump ends too
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
