"""The S3 endpoint's connection plumbing: its socket set up for a lean request loop, and
the pieces of an answer's head that are the same from one request to the next.

Layer: transport (HTTP side), used by :mod:`simsage.transport.s3_endpoint`. A
connection's socket is blocking, with the keep-alive as the kernel's receive and send
timeouts (``SO_RCVTIMEO`` / ``SO_SNDTIMEO``) rather than Python's socket timeout, which
polls before every read and write (:func:`use_kernel_timeouts`); :class:`SocketReader`
turns the kernel's timeout back into the ``TimeoutError`` a socket timeout raises.
"""

from __future__ import annotations

import http.server
import io
import random
import socket
import struct
import time
from email.utils import formatdate

_STATUS_LINES: dict[int, str] = {}
_date_cache: tuple[int, str] = (0, "")


def use_kernel_timeouts(sock: socket.socket, seconds: float) -> bool:
    """Make ``sock`` blocking with ``seconds`` as its kernel receive and send timeouts;
    where the system has no such options, give it Python's socket timeout instead and
    return False."""
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1e6))
    try:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        return True
    except (OSError, AttributeError):
        sock.settimeout(seconds)
        return False


SPIN_SECONDS = 0.0002 if hasattr(socket, "MSG_DONTWAIT") else 0.0


class SocketReader(socket.SocketIO):
    """The connection's raw reader: a read that hits the kernel's receive timeout
    (``EAGAIN`` on the blocking socket) is a ``TimeoutError``, as with a socket timeout,
    not the "no data yet" of a non-blocking socket.

    A client that sends its next request as soon as it has the answer (a loop of small
    GETs) finds the thread still polling for up to ``spin`` seconds (non-blocking
    ``recv``), instead of asleep: waking a sleeping thread costs about as much CPU as
    that polling, and tens of microseconds more wall time (most of a small GET's
    latency on an idle virtual machine). The polling is adaptive: it is tried only
    after a read whose data came within ``spin`` (the client is that quick), and it stops
    after a try that found nothing (a client that pauses, as boto3's ~1 ms per call, or
    an idle connection, never costs more than one such try). ``spin`` 0 never polls;
    polling needs the blocking socket of :func:`use_kernel_timeouts`.
    """

    def __init__(self, sock: socket.socket, mode: str, spin: float = 0.0) -> None:
        super().__init__(sock, mode)
        self.spin = spin
        self._quick = False

    def readinto(self, b) -> int:
        sock = self._sock
        if self._quick:
            deadline = time.perf_counter() + self.spin
            while True:
                try:
                    return sock.recv_into(b, 0, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    if time.perf_counter() > deadline:
                        break
            self._quick = False
        start = time.perf_counter()
        try:
            count = sock.recv_into(b)
        except BlockingIOError:
            raise TimeoutError("timed out") from None
        self._quick = time.perf_counter() - start < self.spin
        return count


class SocketWriter(io.BufferedIOBase):
    """Unbuffered writes to the connection (``sendall``), for http.server's error pages."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._sock.sendall(b)
        with memoryview(b) as view:
            return view.nbytes


def status_line(status: int) -> str:
    """``HTTP/1.1 200 OK`` (http.server's reason phrases), made once per status."""
    line = _STATUS_LINES.get(status)
    if line is None:
        phrase = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}"
    return line


def new_request_id() -> str:
    """A request id as S3 writes them (16 upper-case hex digits); not a secret, so no
    system call for random bytes."""
    return f"{random.getrandbits(64):016X}"


def http_date() -> str:
    """The Date header's value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]
