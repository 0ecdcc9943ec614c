"""Web layer of the inference server: a thin HTTP/1.1 adapter over a scoring handler.

Run as ``python -m simsage.serving.server --model-dir DIR --port PORT
[--mode xgboost|script] [--framework sklearn|xgboost]``. It binds 127.0.0.1 only
(``--host`` accepts nothing else but ``localhost``), loads the model eagerly, then
serves:

- ``GET /ping``: 200 with an empty body once the model is loaded (503 before);
- ``POST /invocations``: body, Content-Type, Accept and
  ``X-Amzn-SageMaker-Custom-Attributes`` go to the handler; the attributes come back
  in the response header of the same name unless the handler set it;
- ``GET /execution-parameters``: in ``xgboost`` mode what the built-in XGBoost
  container answers (``{"MaxConcurrentTransforms": <CPUs>, "BatchStrategy":
  "MULTI_RECORD", "MaxPayloadInMB": 6}``); 404 in script mode, as the framework
  containers answer, so batch transform uses its own defaults.

Right after binding it prints ``simsage-serving: listening on 127.0.0.1:<port>`` to
stderr (``--port 0`` picks a free port; launchers read the port from that line). With
``--exit-with-parent`` it drains and exits when the process that started it goes away,
so instances never outlive their endpoint's supervisor.

A model that fails to load ends the process with status 1 after printing
``simsage-serving: model load failed: <reason>`` as the last stderr line (the control
plane reports it as the endpoint's FailureReason). SIGTERM stops accepting, lets
requests in flight finish and exits 0.

The protocol handling is deliberately small (keep-alive, Content-Length and chunked
bodies, one ``sendall`` per response with TCP_NODELAY): the endpoint latency target
is ~2 ms through boto3, and ``http.server``'s e-mail header parser and split writes
cost more than the prediction itself. It is strict where it must be: a body (every
byte of a chunked one: sizes, data, trailers) may not pass ``MAX_BODY``, Content-Length
and chunk sizes are plain digits of bounded length, anything else is answered 400/413
and the connection closed; a connection idle for ``KEEPALIVE_SECONDS`` (60 s, the
built-in XGBoost container's gunicorn ``keepalive``; ``SIMSAGE_SERVING_KEEPALIVE_SECONDS``
overrides it) or a client that stalls that long mid-request is closed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import signal
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
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
KEEPALIVE_SECONDS = 60.0  # gunicorn "keepalive" of the built-in XGBoost container
KEEPALIVE_ENV = "SIMSAGE_SERVING_KEEPALIVE_SECONDS"
LINGER_SECONDS = 2.0  # after an error answer, how long unread request bytes are drained
LINGER_BYTES = 16 * 1024 * 1024
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")  # 16 hex digits: up to 2**64 - 1
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


def one_line(text: str) -> str:
    """A failure reason on one line: xgboost's native stack trace dropped, whitespace
    collapsed (the control plane reads the last stderr line)."""
    text = text.split("Stack trace:", 1)[0]
    return " ".join(text.split())


def builtin_execution_parameters(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """What the built-in XGBoost container answers to ``GET /execution-parameters``:
    one concurrent transform per CPU (its gunicorn worker count), MULTI_RECORD
    mini-batches, and its largest payload (``MAX_CONTENT_LENGTH``, 6291456 bytes by
    default) in whole MB."""
    environ = os.environ if environ is None else environ
    try:
        max_content = int(environ.get("MAX_CONTENT_LENGTH") or 6 * 1024 * 1024)
    except ValueError:
        max_content = 6 * 1024 * 1024
    return {
        "MaxConcurrentTransforms": multiprocessing.cpu_count(),
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": max(max_content, 0) // (1024 * 1024),
    }


def _keepalive_seconds() -> float:
    try:
        value = float(os.environ.get(KEEPALIVE_ENV) or KEEPALIVE_SECONDS)
    except ValueError:
        return KEEPALIVE_SECONDS
    return value if value > 0 else KEEPALIVE_SECONDS


def build_handler(mode: str, model_dir: str, framework: str = "sklearn") -> Any:
    """Create (not load) the scoring handler for ``mode`` (``xgboost`` or ``script``)."""
    if mode == "xgboost":
        # The built-in container never uses xgboost's scikit-learn wrappers or plotting;
        # importing them costs ~1.5 s of start-up (xgboost skips them on ImportError).
        sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]
        sys.modules.setdefault("xgboost.plotting", None)  # type: ignore[arg-type]
        from simsage.serving.xgboost_handler import XGBoostHandler

        return XGBoostHandler(model_dir)
    if mode == "script":
        from simsage.serving.script_handler import ScriptHandler

        return ScriptHandler(model_dir, framework=framework)
    raise ValueError(f"unknown serving mode {mode!r}; expected xgboost or script")


def _say(text: str) -> None:
    """A line on stderr; a reader that went away (broken pipe) must not stop us."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def _watch_parent(stop: threading.Event) -> None:
    """Set ``stop`` once the parent process is gone (we get re-parented)."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(0.5):
            if os.getppid() != parent:
                stop.set()  # first: the parent held our stderr pipe, printing may fail
                _say(f"{PREFIX} parent {parent} is gone; stopping")

    threading.Thread(target=watch, daemon=True).start()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simsage.serving.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    parser.add_argument("--mode", default="xgboost", choices=["xgboost", "script"])
    parser.add_argument("--framework", default="sklearn", choices=["sklearn", "xgboost"])
    parser.add_argument("--exit-with-parent", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Bind, load the model, serve until SIGTERM/SIGINT; return the exit status."""
    args = _parse_args(argv)
    try:
        server = InferenceServer(args.port, args.host, keepalive=_keepalive_seconds())
    except OSError as exc:
        print(f"{PREFIX} cannot bind 127.0.0.1:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.mode == "xgboost":
        server.execution_parameters = builtin_execution_parameters()
    port = server.server_address[1]
    print(f"{PREFIX} listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    if args.exit_with_parent:
        _watch_parent(stop)

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    loop.start()  # /ping answers 503 while the model loads
    try:
        server.handler = build_handler(args.mode, args.model_dir, args.framework).load()
    except Exception as exc:
        server.shutdown()
        server.server_close()
        expected = type(exc).__name__ == "ModelLoadError"
        if not expected:
            traceback.print_exc(file=sys.stderr)
        reason = one_line(str(exc) if expected else f"{type(exc).__name__}: {exc}")
        print(f"{PREFIX} model load failed: {reason}", file=sys.stderr, flush=True)
        return 1
    print(
        f"{PREFIX} ready on http://127.0.0.1:{port} ({args.mode}, pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.2):
        pass
    server.shutdown()  # stop accepting
    server.server_close()
    server.drain()
    _say(f"{PREFIX} stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
