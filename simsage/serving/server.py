"""Web layer of the inference server: the standard library's HTTP/1.1 server over a
scoring handler.

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

``--container`` is the one exception to the 127.0.0.1 rule, for simsage's own images
(``containers/``): SageMaker reaches a serving container on ``0.0.0.0:8080`` (or
``$SAGEMAKER_BIND_TO_PORT``); on a laptop the container's port is published on the
host's 127.0.0.1 only (``-p 127.0.0.1:8080:8080``). The server then binds 0.0.0.0 (``--port`` defaults to 8080 and
``--host`` is ignored) and says ``listening on 0.0.0.0:<port>`` — but only when
``SIMSAGE_IN_CONTAINER=1`` is set, as those images' Dockerfiles do (``ENV``): an
environment variable rather than ``/.dockerenv``, because that file is Docker's own
and other runtimes do not make it, while the variable travels with the image wherever
it runs. Without the variable ``--container`` is refused (status 2) before any socket
is opened, so no command line can make a simsage server on the host listen beyond
127.0.0.1 by accident.

A model that fails to load ends the process with status 1 after printing
``simsage-serving: model load failed: <reason>`` as the last stderr line (the control
plane reports it as the endpoint's FailureReason). SIGTERM stops accepting, lets
requests in flight finish and exits 0.

The routes themselves, independent of HTTP, are :mod:`simsage.serving.routes`.
HTTP is ``http.server``'s (:class:`http.server.ThreadingHTTPServer`, one thread per
connection) tuned for kept-alive connections: ``protocol_version`` HTTP/1.1, TCP_NODELAY,
a buffered writer so head and body leave in one send, no per-request log line, no
Server/Date headers, and a plain header reader in place of its ``email``-package parser
(that parser alone cost ~110 µs a request on this VM, more than the rest of the
server). Chosen by measurement (``benchmarks/bench_serving_http.py``: boto3
``invoke_endpoint`` against the built-in XGBoost model, each candidate in its own
process, the candidates alternating in short turns on this noisy 2-core VM; ratios
are against the hand-written layer this replaced, measured in the same run):

    ==============  ==========  =====  ========  =====  ===========  =====
    server          invoke p50  ratio  HTTP p50  ratio  req/s 4 thr  ratio
    ==============  ==========  =====  ========  =====  ===========  =====
    hand-written    1.601 ms    1.00   1.062 ms  1.00   558          1.00
    http.server     1.582 ms    0.99   1.030 ms  0.97   548          0.98
    stdlib-email    1.726 ms    1.08   1.250 ms  1.18   480          0.86
    werkzeug        5.373 ms    3.36   3.588 ms  3.38   263          0.47
    waitress        2.090 ms    1.31   1.549 ms  1.46   407          0.73
    gunicorn        2.765 ms    1.73   1.931 ms  1.82   370          0.66
    ==============  ==========  =====  ========  =====  ===========  =====

(load average ~6 on the 2 cores during that run, so every absolute figure is high;
an earlier run at load 8 gave the same order, http.server at 0.94/1.00/0.88 of the
hand-written layer, stdlib-email 1.05/1.19/0.73, waitress 1.33/1.53/0.53.)
``stdlib-email`` is http.server with its own ``email``-parser header reading.

The standard library's server, so tuned, is as fast as the hand-written layer (within
the noise) and needs no dependency. With its own header parser it is slower by that;
waitress and gunicorn hand every request from the thread (or process) that reads it
to a worker thread and answer framing errors their own way (waitress reads
Transfer-Encoding with Content-Length as chunked, where this server refuses the pair);
werkzeug's is a development server on top of ``http.server`` that builds a WSGI
environ per request.

``http.server`` leaves the request body to the application; the framing here is strict
where it must be: a body (every byte of a chunked one: sizes, data, trailers)
may not pass ``max_body``, Content-Length and chunk sizes are plain digits of bounded
length, Transfer-Encoding with Content-Length is refused (a smuggling vector), anything
else is answered 400/413/501 in plain text and the connection closed. A connection idle
for ``KEEPALIVE_SECONDS`` (60 s, the built-in XGBoost container's gunicorn
``keepalive``; ``SIMSAGE_SERVING_KEEPALIVE_SECONDS`` overrides it) or a client that
stalls that long mid-request is closed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from typing import Any

from simsage.algorithms.first_party import ALGORITHMS as _FIRST_PARTY
from simsage.http_headers import MAX_HEADER_LINE, HeaderError, read_headers
from simsage.serving.routes import (
    PREFIX,
    Answer,
    Routes,
    build_handler,
    builtin_execution_parameters,
)
from simsage.serving.scoring import Handler

MAX_BODY = 100 * 1024 * 1024
MAX_HEADERS = 100  # header lines, as http.server allows
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
KEEPALIVE_SECONDS = 60.0  # gunicorn "keepalive" of the built-in XGBoost container
KEEPALIVE_ENV = "SIMSAGE_SERVING_KEEPALIVE_SECONDS"
CONTAINER_ENV = "SIMSAGE_IN_CONTAINER"  # set (to 1) by simsage's images: see --container
CONTAINER_HOST = "0.0.0.0"  # SageMaker's serving contract: every interface, port 8080
CONTAINER_PORT = 8080
CONTAINER_PORT_ENV = "SAGEMAKER_BIND_TO_PORT"  # SageMaker's override (inference pipelines)
LINGER_SECONDS = 2.0  # after an error answer, how long unread request bytes are drained
LINGER_BYTES = 16 * 1024 * 1024
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")  # 16 hex digits: up to 2**64 - 1
_DECIMAL = re.compile(r"[0-9]{1,19}")


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Exchange(http.server.BaseHTTPRequestHandler):
    """One kept-alive connection.

    ``http.server`` runs it: the keep-alive loop, read timeouts, buffered reads and
    writes, TCP_NODELAY, the 414 for an over-long request line, method dispatch, the
    status line and header writing. This class reads the header block and the body
    (strictly, see the module docstring) and writes the routes' answers.
    """

    server: InferenceServer
    protocol_version = "HTTP/1.1"  # keep-alive by default, as HTTP/1.1 clients expect
    default_request_version = "HTTP/1.0"  # until the request line says otherwise
    disable_nagle_algorithm = True  # TCP_NODELAY: small answers leave at once
    wbufsize = 64 * 1024  # head and body in one send; handle_one_request flushes

    def setup(self) -> None:
        # Every read waits at most the keep-alive time: an idle connection, or a client
        # stalled mid-request, is closed instead of holding a thread forever.
        self.timeout = self.server.keepalive
        super().setup()
        self.busy = False
        self.server.track(self, True)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.server.track(self, False)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (OSError, ValueError):  # reset or cut off mid-request: nobody to answer
            self.close_connection = True
        finally:
            with self.server.state_lock:
                self.busy = False

    def parse_request(self) -> bool:
        """http.server's ``parse_request`` rules with a plain header reader.

        Its own reads the header block through the ``email`` package's parser, which
        cost ~110 µs a request here (more than the rest of the server together); the
        request line, the Connection and Expect rules and the limits (64 KiB a line,
        100 lines: 431) are the same. ``self.headers`` is a dict with lower-cased
        names, repeated headers joined with ", " (:func:`simsage.http_headers.read_headers`,
        the S3 endpoint's reader too).
        """
        with self.server.state_lock:
            if self.server.stopping:  # a drain began: take no new request
                self.close_connection = True
                return False
            self.busy = True
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:  # an empty line between requests is tolerated (RFC 9112 2.2)
            self.close_connection = False
            return False
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            major = version[5:].split(".", 1)[0]
            status = 505 if major.isdigit() and int(major) >= 2 else 400
            self.send_error(status, f"Unsupported HTTP version ({version!r})")
            return False
        self.command, self.path, self.request_version = command, path, version
        try:
            _, self.headers = read_headers(self.rfile, MAX_HEADERS)
        except HeaderError as exc:
            self.send_error(exc.status, str(exc))
            return False
        connection = self.headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            self.close_connection = "close" in connection
        else:
            self.close_connection = "keep-alive" not in connection
        if version == "HTTP/1.1" and self.headers.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line without http.server's Server and Date headers: the runtime
        forwards neither, and every header line costs the caller's ``http.client`` (an
        ``email`` parser too) ~25 µs a response; the hand-written layer sent none."""
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request log line (http.server writes one to stderr per request)."""

    # -- the routes, any method (405 and 404 come from Routes) ---------------------------
    def _serve(self) -> None:
        headers = self.headers
        try:
            body = self._read_body(headers)
        except _BadRequest as exc:
            self.send_error(exc.status, str(exc))
            return
        answer = self.server.routes.answer(self.command, self.path.split("?", 1)[0], headers, body)
        self._write(answer)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def _write(self, answer: Answer) -> None:
        close = answer.close or self.close_connection or self.server.routes.stopping
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")  # also ends the keep-alive loop
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A plain-text error answer (http.server's is an HTML page), then the
        connection is closed after draining what the client still sends."""
        text = message or self.responses.get(code, ("Error",))[0]
        if explain and message:
            text = f"{message}: {explain}"
        self.close_connection = True
        self._write(Answer(code, text.encode("utf-8", "replace"), "text/plain", close=True))
        self.wfile.flush()
        self._linger()

    def _linger(self) -> None:
        """After an error answer: stop writing, then read (and drop) what the client
        is still sending for a bounded while, so that closing does not reset the
        connection before the client has read the answer."""
        with contextlib.suppress(OSError, ValueError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline = time.monotonic() + LINGER_SECONDS
            dropped = 0
            while time.monotonic() < deadline and dropped < LINGER_BYTES:
                chunk = self.rfile.read1(65536)
                if not chunk:
                    return
                dropped += len(chunk)

    # -- request bodies (http.server leaves them to the application) ---------------------
    def _read_body(self, headers: dict[str, str]) -> bytes:
        limit = self.server.max_body
        coding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if coding is not None:
            if length_text is not None:  # a smuggling vector (RFC 9112 6.1): refuse
                raise _BadRequest(400, "both Transfer-Encoding and Content-Length")
            if coding.lower() != "chunked" or self.request_version != "HTTP/1.1":
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

    def _read_line(self, limit: int, status: int, what: str) -> bytes:
        line = self.rfile.readline(limit + 1)
        if not line:
            raise OSError("connection closed mid-request")
        if len(line) > limit or not line.endswith(b"\n"):
            raise _BadRequest(status, f"{what} longer than {limit} bytes")
        return line

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


def in_container(environ: dict[str, str] | None = None) -> bool:
    """Whether this process runs in one of simsage's images (``SIMSAGE_IN_CONTAINER=1``),
    the only place a server may listen beyond 127.0.0.1."""
    return (os.environ if environ is None else environ).get(CONTAINER_ENV) == "1"


def container_port(environ: dict[str, str] | None = None) -> int:
    """The port SageMaker expects a serving container on: ``$SAGEMAKER_BIND_TO_PORT``
    (set for the containers of an inference pipeline), else 8080."""
    raw = (os.environ if environ is None else environ).get(CONTAINER_PORT_ENV, "")
    return int(raw) if raw.isdigit() else CONTAINER_PORT


class InferenceServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 answering the container routes.

    Parameters
    ----------
    port:
        The port to bind (0 picks a free one; see ``server_address``).
    host:
        Must be a loopback name: simsage servers never listen beyond the laptop.
    container:
        Bind 0.0.0.0 instead (``--container``); refused with ValueError unless
        :func:`in_container` says this is one of simsage's images.
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
        container: bool = False,
    ) -> None:
        if container:
            if not in_container():
                raise ValueError(
                    f"the inference server binds {CONTAINER_HOST} only inside simsage's "
                    f"images ({CONTAINER_ENV}=1); on the host it binds 127.0.0.1"
                )
            address = CONTAINER_HOST
        elif host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the inference server binds 127.0.0.1 only, not {host!r}")
        else:
            address = "127.0.0.1"
        super().__init__((address, port), _Exchange)
        self.keepalive = keepalive
        self.max_body = max_body
        self.routes = Routes()
        self.state_lock = threading.Lock()
        self._connections: set[_Exchange] = set()
        self._idle = threading.Condition(self.state_lock)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also resolves the host's FQDN (a DNS lookup at start-up);
        # nothing here uses server_name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    # The routes' state, as attributes of the server (launchers and tests set these).
    @property
    def handler(self) -> Handler | None:
        return self.routes.handler

    @handler.setter
    def handler(self, value: Handler | None) -> None:
        self.routes.handler = value

    @property
    def execution_parameters(self) -> dict[str, Any] | None:
        return self.routes.execution_parameters

    @execution_parameters.setter
    def execution_parameters(self, value: dict[str, Any] | None) -> None:
        self.routes.execution_parameters = value

    @property
    def stopping(self) -> bool:
        return self.routes.stopping

    # -- connection bookkeeping, for a graceful SIGTERM ---------------------------------
    def track(self, conn: _Exchange, alive: bool) -> None:
        with self.state_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._idle.notify_all()

    def drain(self, timeout: float = 30.0) -> None:
        """Stop accepting, close idle keep-alive connections, wait for busy ones."""
        with self.state_lock:
            self.routes.stopping = True
            for conn in list(self._connections):
                if not conn.busy:
                    with contextlib.suppress(OSError):
                        conn.connection.shutdown(socket.SHUT_RDWR)
            self._idle.wait_for(lambda: not self._connections, timeout=timeout)


def one_line(text: str) -> str:
    """A failure reason on one line: xgboost's native stack trace dropped, whitespace
    collapsed (the control plane reads the last stderr line)."""
    text = text.split("Stack trace:", 1)[0]
    return " ".join(text.split())


def _keepalive_seconds() -> float:
    try:
        value = float(os.environ.get(KEEPALIVE_ENV) or KEEPALIVE_SECONDS)
    except ValueError:
        return KEEPALIVE_SECONDS
    return value if value > 0 else KEEPALIVE_SECONDS


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
    parser.add_argument("--port", type=int)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    parser.add_argument(
        "--container",
        action="store_true",
        help=f"listen on {CONTAINER_HOST}:{CONTAINER_PORT} (only with {CONTAINER_ENV}=1)",
    )
    parser.add_argument("--mode", default="xgboost", choices=["xgboost", "script", "first-party"])
    parser.add_argument(
        "--framework", default="sklearn", choices=["sklearn", "xgboost", *_FIRST_PARTY]
    )
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.container and not in_container():
        parser.error(
            f"--container listens on {CONTAINER_HOST}: only inside simsage's images, which "
            f"set {CONTAINER_ENV}=1 (on the host the server binds 127.0.0.1)"
        )
    if args.port is None:
        if not args.container:
            parser.error("--port is required (0 picks a free port)")
        args.port = container_port()
    return args


def main(argv: list[str] | None = None) -> int:
    """Bind, load the model, serve until SIGTERM/SIGINT; return the exit status."""
    args = _parse_args(argv)
    address = CONTAINER_HOST if args.container else "127.0.0.1"
    try:
        server = InferenceServer(
            args.port, args.host, keepalive=_keepalive_seconds(), container=args.container
        )
    except OSError as exc:
        print(f"{PREFIX} cannot bind {address}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.mode in ("xgboost", "first-party"):
        server.execution_parameters = builtin_execution_parameters()
    port = server.server_address[1]
    print(f"{PREFIX} listening on {address}:{port}", file=sys.stderr, flush=True)
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
        f"{PREFIX} ready on http://{address}:{port} ({args.mode}, pid {os.getpid()})",
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
