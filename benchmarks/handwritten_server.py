"""The hand-written HTTP/1.1 layer the inference server used before it moved onto
``http.server`` (simsage/serving/server.py), kept only as the baseline of
``bench_serving_http.py``: same routes, same handler, its own request parsing (a
``readline`` loop, one ``sendall`` per response with TCP_NODELAY). Not used by simsage.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from http import HTTPStatus
from typing import Any

from simsage.serving.scoring import CUSTOM_ATTRIBUTES, Handler, Response, ScoringError

PREFIX = "simsage-serving:"
MAX_BODY = 100 * 1024 * 1024
MAX_HEADER_LINE = 64 * 1024
MAX_HEADERS = 200
MAX_CHUNK_LINE = 4096
KEEPALIVE_SECONDS = 60.0
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DECIMAL = re.compile(r"[0-9]{1,19}")
_CUSTOM_ATTRIBUTES_LOWER = CUSTOM_ATTRIBUTES.lower()
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _response_bytes(
    status: int,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str] | None = None,
    close: bool = False,
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if headers:
        for name, value in headers.items():
            lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


class _Connection(socketserver.BaseRequestHandler):
    """One keep-alive connection: read requests, answer each with a single write."""

    server: InferenceServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Every read waits at most the keep-alive time: an idle connection, or a client
        # stalled mid-request, is closed instead of holding a thread forever.
        self.request.settimeout(self.server.keepalive)
        self.rfile = self.request.makefile("rb", buffering=65536)
        self.busy = False
        self.server.track(self, True)

    def finish(self) -> None:
        self.server.track(self, False)
        with contextlib.suppress(OSError):
            self.rfile.close()

    def handle(self) -> None:
        while True:
            try:
                request_line = self.rfile.readline(MAX_HEADER_LINE + 1)
            except OSError:  # includes the keep-alive timeout
                return
            if not request_line:
                return
            if request_line in (b"\r\n", b"\n"):  # tolerated between requests (RFC 9112)
                continue
            with self.server.state_lock:
                if self.server.stopping:
                    return
                self.busy = True
            try:
                keep_alive = self._one_request(request_line)
            except (OSError, ValueError):
                return
            finally:
                with self.server.state_lock:
                    self.busy = False
            if not keep_alive or self.server.stopping:
                return

    def _read_line(self, limit: int, status: int, what: str) -> bytes:
        line = self.rfile.readline(limit + 1)
        if not line:
            raise OSError("connection closed mid-request")
        if len(line) > limit or not line.endswith(b"\n"):
            raise _BadRequest(status, f"{what} longer than {limit} bytes")
        return line

    def _read_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self._read_line(MAX_HEADER_LINE, 431, "header line")
            if line in (b"\r\n", b"\n"):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise _BadRequest(400, "malformed header line")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raise _BadRequest(431, "too many headers")

    def _read_body(self, headers: dict[str, str], version: str) -> bytes:
        limit = self.server.max_body
        coding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if coding is not None:
            if length_text is not None:  # a smuggling vector (RFC 9112 6.1): refuse
                raise _BadRequest(400, "both Transfer-Encoding and Content-Length")
            if coding.strip().lower() != "chunked" or version != "HTTP/1.1":
                raise _BadRequest(501, f"transfer coding {coding!r} is not supported")
            return self._read_chunked(limit)
        if length_text is None:
            return b""
        if not _DECIMAL.fullmatch(length_text):
            raise _BadRequest(400, "malformed Content-Length")
        length = int(length_text)
        if length > limit:
            raise _BadRequest(413, f"body larger than {limit} bytes")
        return self._read_exact(length)

    def _read_chunked(self, limit: int) -> bytes:
        """A chunked body; every byte read for it (size lines, data, line ends,
        trailers) counts against ``limit``, so no sequence of chunks can pass it."""
        parts = []
        total = 0
        while True:
            line = self._read_line(MAX_CHUNK_LINE, 400, "chunk-size line")
            total += len(line)
            size_text = line.split(b";", 1)[0].strip(b" \t\r\n")
            if not _HEX_SIZE.fullmatch(size_text):
                raise _BadRequest(400, "malformed chunk size")
            size = int(size_text, 16)
            if total + size > limit:
                raise _BadRequest(413, f"body larger than {limit} bytes")
            if size == 0:
                while True:  # trailers, up to the empty line
                    line = self._read_line(MAX_HEADER_LINE, 431, "trailer line")
                    total += len(line)
                    if total > limit:
                        raise _BadRequest(413, f"body larger than {limit} bytes")
                    if line in (b"\r\n", b"\n"):
                        return b"".join(parts)
            parts.append(self._read_exact(size))
            end = self.rfile.readline(3)
            total += size + len(end)
            if end not in (b"\r\n", b"\n"):
                raise _BadRequest(400, "chunk data not followed by CRLF")

    def _read_exact(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:
            raise OSError("connection closed mid-body")
        return data

    def _one_request(self, request_line: bytes) -> bool:
        try:
            if len(request_line) > MAX_HEADER_LINE:
                raise _BadRequest(414, "request line too long")
            parts = request_line.decode("latin-1").split()
            if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
                raise _BadRequest(400, "malformed request line")
            method, target, version = parts
            headers = self._read_headers()
            connection = headers.get("connection", "").lower()
            keep_alive = (version == "HTTP/1.1" and "close" not in connection) or (
                version == "HTTP/1.0" and "keep-alive" in connection
            )
            if headers.get("expect", "").lower() == "100-continue":
                self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self._read_body(headers, version)
        except _BadRequest as exc:
            self.request.sendall(
                _response_bytes(exc.status, str(exc).encode(), "text/plain", close=True)
            )
            self._linger()
            return False
        close = not keep_alive or self.server.stopping
        path = target.split("?", 1)[0]
        self.request.sendall(self.server.dispatch(method, path, headers, body, close))
        return not close

    def _linger(self) -> None:
        """After an error answer: stop writing, then read (and drop) what the client
        is still sending for a bounded while, so that closing does not reset the
        connection before the client has read the answer."""
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_WR)
            self.request.settimeout(0.5)
            deadline = time.monotonic() + LINGER_SECONDS
            dropped = 0
            while time.monotonic() < deadline and dropped < LINGER_BYTES:
                chunk = self.rfile.read1(65536)
                if not chunk:
                    return
                dropped += len(chunk)


class InferenceServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 answering /ping and /invocations.

    Parameters
    ----------
    port:
        The port to bind (0 picks a free one; see ``server_address``).
    host:
        Must be a loopback name: simsage servers never listen beyond the laptop.
    keepalive:
        Seconds a connection may stay idle (or stall mid-request) before it is closed.
    max_body:
        The largest request body accepted (413 beyond).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        keepalive: float = KEEPALIVE_SECONDS,
        max_body: int = MAX_BODY,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the inference server binds 127.0.0.1 only, not {host!r}")
        super().__init__(("127.0.0.1", port), _Connection)
        self.keepalive = keepalive
        self.max_body = max_body
        self.handler: Handler | None = None
        self.execution_parameters: dict[str, Any] | None = None
        self.stopping = False
        self.state_lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._idle = threading.Condition(self.state_lock)

    # -- connection bookkeeping, for a graceful SIGTERM ---------------------------------
    def track(self, conn: _Connection, alive: bool) -> None:
        with self.state_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._idle.notify_all()

    def drain(self, timeout: float = 30.0) -> None:
        """Stop accepting, close idle keep-alive connections, wait for busy ones."""
        with self.state_lock:
            self.stopping = True
            for conn in list(self._connections):
                if not conn.busy:
                    with contextlib.suppress(OSError):
                        conn.request.shutdown(socket.SHUT_RDWR)
            self._idle.wait_for(lambda: not self._connections, timeout=timeout)

    # -- routing -----------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes, close: bool
    ) -> bytes:
        """Answer one request with the full response bytes."""
        if path == "/invocations":
            if method != "POST":
                return _response_bytes(405, b"", None, {"Allow": "POST"}, close)
            return self._invoke(headers, body, close)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return _response_bytes(405, b"", None, {"Allow": "GET"}, close)
            status = 200 if self.handler is not None and not self.stopping else 503
            return _response_bytes(status, b"", None, None, close)
        if path == "/execution-parameters" and self.execution_parameters is not None:
            if method != "GET":
                return _response_bytes(405, b"", None, {"Allow": "GET"}, close)
            body = json.dumps(self.execution_parameters).encode()
            return _response_bytes(200, body, "application/json", None, close)
        return _response_bytes(404, b"", None, None, close)

    def _invoke(self, headers: dict[str, str], body: bytes, close: bool) -> bytes:
        handler = self.handler
        custom = headers.get(_CUSTOM_ATTRIBUTES_LOWER)
        if handler is None:
            return _response_bytes(503, b"model is not loaded yet", "text/plain", None, close)
        try:
            response: Response = handler.invoke(
                body, headers.get("content-type"), headers.get("accept"), headers
            )
        except ScoringError as exc:
            close = close or self.stopping  # SIGTERM arrived while scoring: say so
            extra = {CUSTOM_ATTRIBUTES: custom} if custom is not None else None
            return _response_bytes(
                exc.status, exc.message.encode("utf-8"), "text/plain", extra, close
            )
        except Exception as exc:  # a bug in simsage's own code: still answer, never die
            message = f"{exc}\n{traceback.format_exc()}"
            print(f"{PREFIX} internal error: {message}", file=sys.stderr, flush=True)
            return _response_bytes(500, message.encode("utf-8"), "text/plain", None, close)
        close = close or self.stopping
        extra = dict(response.headers)
        if custom is not None and not any(k.lower() == _CUSTOM_ATTRIBUTES_LOWER for k in extra):
            extra[CUSTOM_ATTRIBUTES] = custom
        content_type = response.content_type if response.status != 204 else None
        return _response_bytes(response.status, response.body, content_type, extra, close)
