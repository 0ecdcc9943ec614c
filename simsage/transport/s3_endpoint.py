"""S3 over HTTP on 127.0.0.1: the endpoint non-boto3 clients (s3fs, pandas ``s3://``,
the AWS CLI, pyarrow, DuckDB, curl, presigned URLs) talk to.

Layer: transport (HTTP side), the second transport beside the in-process one
(:mod:`simsage.transport.handler`): the same :class:`~simsage.s3.service.S3Service`
methods answer, found through the same :class:`~simsage.transport.handler.Transport`
(its ``_method``: the bound method and the model's input check), so a call gives the
same answer and the same errors either way. Per request:

1. address: path style (``/bucket/key``) or virtual-hosted (``Host:
   bucket.localhost:PORT``, ``bucket.s3.localhost``, ``bucket.s3.amazonaws.com``,
   ``bucket.s3.<region>.amazonaws.com``); ``s3.<region>.amazonaws.com`` and any other
   host are path style. The key is percent-decoded exactly once.
2. authenticate (:mod:`simsage.transport.sigv4`): SigV4 header or presigned query against
   simsage's local credentials; there is no anonymous access. A browser-style POST
   upload (presigned POST) is :mod:`simsage.transport.s3_endpoint_post`'s. A CORS
   preflight (``OPTIONS``) is unsigned, as on S3, and answered from the bucket's CORS
   rules; the answer to a request with an ``Origin`` gets the CORS headers of the rule
   that allows it (the S3 service's ``cors_preflight``/``cors_headers``,
   :mod:`simsage.s3.cors`).
3. the body, as a reader of the socket (:mod:`simsage.transport.s3_endpoint_bodies`):
   Content-Length or chunked, aws-chunked framing decoded and its signatures and
   trailing checksum checked, a hex ``x-amz-content-sha256`` checked as it streams.
   ``Expect: 100-continue`` is answered when the service starts reading the body.
4. route, parse and serialize with the REST-XML codec built from botocore's model
   (:mod:`simsage.transport.rest_xml`), then run the service method.
5. answer: the service's status and extra headers are honoured (206, 204 …);
   GetObject's body goes from the store's files to the socket by ``sendfile`` (no byte
   through Python), other streams in 1 MiB pieces. An AWSError is S3's XML error; any
   other exception is ``InternalError`` 500 with one line (its trace goes to the log),
   never a Python trace on the wire.

HTTP is ``http.server``'s server and error pages with a leaner request loop (HTTP/1.1
keep-alive, TCP_NODELAY, no per-request log line, a plain header reader instead of its
``email`` parser, the status line and headers built as one string and sent with a small
body in one ``sendall``). The connection's socket is blocking with the keep-alive as the
kernel's receive and send timeouts rather than Python's socket timeout, which polls
before every read and write (:mod:`simsage.transport.s3_endpoint_wire`): a small GET
costs a ``recv`` and a ``send``; a client that sends its next request at once finds
the thread still polling for it (``S3Endpoint.spin``, adaptive) rather than asleep.
:class:`S3Endpoint` keeps ``in_flight`` and ``last_activity`` for whoever decides to stop
an idle endpoint.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import logging
import re
import socket
import socketserver
import threading
import time
from typing import Any
from urllib.parse import unquote

from simsage import services
from simsage.config import Config
from simsage.errors import AWSError
from simsage.http_headers import HeaderError, read_headers
from simsage.transport import sigv4
from simsage.transport.handler import Request, Transport
from simsage.transport.s3_endpoint_address import host_bucket, query_pairs, split_address
from simsage.transport.s3_endpoint_bodies import (
    PIECE,
    AwsChunkedReader,
    ChunkedReader,
    LengthReader,
    Sha256Reader,
    trailer_algorithm,
)
from simsage.transport.s3_endpoint_wire import (
    SPIN_SECONDS,
    SocketReader,
    SocketWriter,
    http_date,
    new_request_id,
    status_line,
    use_kernel_timeouts,
)
from simsage.transport.sigv4_v2 import unquote_base64

log = logging.getLogger("simsage.s3_endpoint")

LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}
KEEPALIVE_SECONDS = 60.0
MAX_HEADERS = 200
DRAIN_BYTES = 8 * 1024 * 1024  # unread body an error answer still reads to keep the connection
SMALL_BODY = 64 * 1024  # a streaming body up to this size is sent with the headers
_DECIMAL = re.compile(r"[0-9]{1,19}")
INTERNAL_MESSAGE = "We encountered an internal error. Please try again."


def _checksum_algorithm(headers: dict[str, str]) -> str | None:
    """The body checksum the request announces, as botocore names it in-process
    (``crc32``): ``x-amz-sdk-checksum-algorithm``, an ``x-amz-checksum-<alg>`` header,
    or the trailer ``x-amz-trailer`` names."""
    algorithm = headers.get("x-amz-sdk-checksum-algorithm")
    if not algorithm:
        for name in headers:
            if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type":
                algorithm = name[len("x-amz-checksum-") :]
                break
    if not algorithm:
        algorithm = trailer_algorithm(headers.get("x-amz-trailer"))
    return algorithm.lower() if algorithm else None


def _length(body) -> int:
    """A streaming body's length (botocore's StreamingBody keeps it), or -1."""
    length = getattr(body, "_content_length", None)
    try:
        return int(length)
    except (TypeError, ValueError):
        return -1


def _decode(text: str) -> str:
    """A query name or value decoded (``unquote_plus``), skipped when there is nothing to
    decode, and done by ``str.replace`` when the only escapes are base64's (``%2B``,
    ``%2F``, ``%3D``: a signature's), which gives ``unquote_plus``'s answer."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    fast = unquote_base64(text)
    return fast if fast is not None else unquote(text)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


class _Exchange(http.server.BaseHTTPRequestHandler):
    """One kept-alive connection of the endpoint (see the module docstring)."""

    server: S3Endpoint
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"

    def setup(self) -> None:
        sock = self.connection = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.kernel_timeouts = use_kernel_timeouts(sock, self.server.keepalive)
        spin = self.server.spin if self.kernel_timeouts else 0.0
        self.rfile = io.BufferedReader(SocketReader(sock, "rb", spin))
        self.wfile = SocketWriter(sock)

    def handle_one_request(self) -> None:
        """http.server's steps for one request (a request line over 64 KiB is 414, an
        unknown method 501), without its per-request lookups and flush."""
        try:
            line = self.rfile.readline(65537)
            if len(line) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not line:
                self.close_connection = True
                return
            self.raw_requestline = line
            if not self.parse_request():
                return
            if self.command not in _METHODS:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            self._serve()
        except (OSError, ValueError):  # reset, timed out or cut off: nobody to answer
            self.close_connection = True

    def parse_request(self) -> bool:
        """http.server's rules with a plain header reader (the inference server's,
        :func:`simsage.http_headers.read_headers`); keeps the header lines as sent
        (``header_pairs``, for the signature) and lower-cased (``headers``, repeated
        ones joined with ",")."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            self.close_connection = False
            return False
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(400, "Bad request syntax")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(505, "Unsupported HTTP version")
            return False
        self.command, self.path, self.request_version = command, path, version
        try:
            pairs, headers = read_headers(self.rfile, MAX_HEADERS, ",")
        except HeaderError as exc:
            self.send_error(exc.status, str(exc))
            return False
        self.header_pairs, self.headers = pairs, headers
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            self.close_connection = "close" in connection
        else:
            self.close_connection = "keep-alive" not in connection
        self.expect_continue = (
            version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue"
        )
        return True

    def _continue(self) -> None:
        """Answer ``Expect: 100-continue``: called by the body reader on its first read."""
        if self.expect_continue:
            self.expect_continue = False
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def send_response(self, code: int, message: str | None = None) -> None:
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request log line."""

    def _serve(self) -> None:
        self.server.begin()
        try:
            last = self._exchange()
        finally:
            self.server.end()
        if last:  # a whole answer goes out once the request counts as done
            self.connection.sendall(last)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _serve

    # -- one request ----------------------------------------------------------------------
    def _exchange(self) -> bytes | None:
        request_id = new_request_id()
        source = None
        try:
            source = self._body_source()
            response = self.server.answer(self, source, request_id)
        except AWSError as err:
            response = self.server.error(err, request_id, self.command == "HEAD")
        except Exception:  # never a traceback on the wire
            log.exception("simsage's S3 endpoint failed on %s %s", self.command, self.path)
            response = self.server.internal_error(request_id, self.command == "HEAD")
        self._settle(source)
        return self._write(response, request_id)

    def _body_source(self):
        headers = self.headers
        coding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if coding is not None:
            if length_text is not None or coding.lower() != "chunked":
                self.close_connection = True
                raise sigv4.auth_error(
                    "NotImplemented",
                    "A header you provided implies functionality that is not implemented",
                    status=501,
                    Header="Transfer-Encoding",
                )
            return ChunkedReader(self.rfile, self._continue)
        if length_text is None:
            return None
        if not _DECIMAL.fullmatch(length_text):
            self.close_connection = True
            raise sigv4.auth_error(
                "BadRequest", "An error occurred when parsing the HTTP request.", status=400
            )
        return LengthReader(self.rfile, int(length_text), self._continue)

    def _settle(self, source) -> None:
        """Before answering: a body the service left unread is read and dropped (up to
        :data:`DRAIN_BYTES`) so the connection can be kept, else the connection closes.
        A client still waiting for ``100 Continue`` sends nothing: the answer ends it."""
        if source is None or getattr(source, "done", True):
            return
        if self.expect_continue:
            self.close_connection = True
            return
        drained = 0
        try:
            while drained < DRAIN_BYTES:
                chunk = source.read(PIECE)
                if not chunk:
                    return
                drained += len(chunk)
        except (AWSError, OSError, ValueError):
            pass
        self.close_connection = True

    def _write(self, response, request_id: str) -> bytes | None:
        """The status line and headers as one string: returned with a small body, for
        one ``sendall``; sent here, followed by the body, for a large streaming body (see
        :meth:`_send_stream`)."""
        head = self.command == "HEAD"
        body = response.body
        lines = [status_line(response.status)]
        has_id = has_length = False
        for name, value in response.headers:
            lname = name.lower()
            if lname == "x-amz-request-id":
                has_id = True
            elif lname == "content-length":
                has_length = True
            elif lname == "connection":  # as http.server's send_header
                value_l = value.lower()
                if value_l == "close":
                    self.close_connection = True
                elif value_l == "keep-alive":
                    self.close_connection = False
            lines.append(f"{name}: {value}")
        if not has_id:
            lines.append(f"x-amz-request-id: {request_id}")
        lines.append(f"Date: {http_date()}")
        streaming = body is not None and not isinstance(body, bytes | bytearray)
        if streaming and not head and 0 <= _length(body) <= SMALL_BODY:
            # A small streaming body goes out with the headers in one write (one send
            # instead of two and a sendfile); if it cannot be read nothing is sent
            # and the connection closes, as when a stream fails mid-way.
            try:
                body = body.read()
            except Exception:
                log.exception("simsage's S3 endpoint failed reading %s", self.path)
                self.close_connection = True
                return None
            finally:
                with contextlib.suppress(Exception):
                    response.body.close()
            streaming = False
        if not has_length:
            if streaming:
                lines.append(f"Content-Length: {body._content_length}")
            elif not head:
                lines.append(f"Content-Length: {len(body or b'')}")
            else:
                lines.append("Content-Length: 0")
        if self.close_connection:
            lines.append("Connection: close")
        lines.append("\r\n")
        data = "\r\n".join(lines).encode("latin-1")
        if head:
            if streaming:
                body.close()
            return data
        if not streaming:
            return data + body if body else data
        try:
            self.connection.sendall(data)
            self._send_stream(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up mid-body, as s3fs does on its first GET of a large object
            # (it then reads ranges): routine, no trace.
            log.debug("client closed the connection during %s", self.path)
            self.close_connection = True
        except Exception:  # the status line is out: all we can do is cut the body short
            log.exception("simsage's S3 endpoint failed sending %s", self.path)
            self.close_connection = True
        finally:
            with contextlib.suppress(Exception):
                body.close()
        return None

    def _send_stream(self, body) -> None:
        """A streaming body: from the store's files to the socket inside the kernel
        (``ObjectBody.copy_into`` → ``sendfile``), else in pieces."""
        sock = self.connection
        copy_into = getattr(body, "copy_into", None)
        if copy_into is None:
            while chunk := body.read(PIECE):
                sock.sendall(chunk)
            return
        if self.kernel_timeouts:  # blocking already, with the kernel's send timeout
            if not copy_into(sock.fileno()):
                self.close_connection = True
            return
        # sendfile needs a blocking socket
        sock.settimeout(None)
        try:
            if not copy_into(sock.fileno()):
                self.close_connection = True
        finally:
            sock.settimeout(self.server.keepalive)


class S3Endpoint(http.server.ThreadingHTTPServer):
    """simsage's S3 over HTTP for one home, on a loopback address only.

    Args:
        config: the settings (home, region, account) the service answers with.
        sock: an already bound, listening socket to serve (handed over by the process
            that bound it); it must be bound to a loopback address.
        host: 127.0.0.1, localhost or ::1 (anything else is refused with ValueError).
        port: the port to bind (0: a free one); ignored with ``sock``.
        keepalive: seconds a connection may idle, or stall mid-request, before closing.

    Attributes:
        url: ``http://127.0.0.1:PORT``.
        in_flight: requests being answered now.
        last_activity: ``time.monotonic()`` when the last request ended (or the start).
    """

    daemon_threads = True
    allow_reuse_address = True
    spin = SPIN_SECONDS  # see SocketReader: how long a quick client's next request is awaited
    request_queue_size = 128

    def __init__(
        self,
        config: Config,
        sock: socket.socket | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        address = LOOPBACK_HOSTS.get(host)
        if address is None:
            raise ValueError(f"simsage's S3 endpoint listens on 127.0.0.1 only, not {host!r}")
        if sock is not None:
            bound = sock.getsockname()[0]
            if bound not in ("127.0.0.1", "::1"):
                raise ValueError(f"simsage's S3 endpoint listens on 127.0.0.1 only, not {bound!r}")
            address = bound
        self.address_family = socket.AF_INET6 if address == "::1" else socket.AF_INET
        super().__init__((address, port), _Exchange, bind_and_activate=sock is None)
        if sock is not None:
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()
        self.server_name, self.server_port = self.server_address[:2]
        self.config = config
        self.keepalive = keepalive
        self.transport = Transport(config)
        self._codec = None
        self._lock = threading.Lock()
        self.in_flight = 0
        self.last_activity = time.monotonic()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN (a DNS lookup); nothing needs it.
        socketserver.TCPServer.server_bind(self)

    @property
    def url(self) -> str:
        host = self.server_address[0]
        if ":" in host:
            return f"http://[{host}]:{self.server_port}"
        return f"http://{host}:{self.server_port}"

    @property
    def codec(self):
        if self._codec is None:
            import botocore.session

            from simsage.transport.rest_xml import RestXmlCodec

            model = botocore.session.get_session().get_service_model("s3")
            self._codec = RestXmlCodec(model)
        return self._codec

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.last_activity = time.monotonic()

    def server_close(self) -> None:
        super().server_close()
        home = self.transport._home
        if home is not None:
            with contextlib.suppress(Exception):
                home.close()

    # -- answering ------------------------------------------------------------------------
    def answer(self, exchange: _Exchange, source, request_id: str):
        """The codec's response to one request (raises AWSError for S3's errors)."""
        headers = exchange.headers
        raw_path, _, raw_query = exchange.path.partition("?")
        if raw_path.startswith(("http://", "https://")):  # absolute form (a proxy's)
            raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
        host = headers.get("host", "")
        virtual = host_bucket(host)
        bucket, key = split_address(host, raw_path, virtual)
        if exchange.command == "OPTIONS":  # a browser's CORS preflight: no signature
            from simsage.transport.rest_xml import Response

            allowed = self._s3().cors_preflight(bucket, key, headers)
            return Response(200, [*allowed, ("Content-Length", "0")], b"")
        where = (raw_path, raw_query, virtual, bucket, key)
        response = self._answer(exchange, source, request_id, *where)
        if "origin" in headers:  # a browser's call: CORS headers when a rule allows it
            response.headers.extend(self._s3().cors_headers(bucket, exchange.command, headers))
        return response

    def _s3(self):
        return services.service(self.transport.home, "s3")

    def _answer(self, exchange, source, request_id, raw_path, raw_query, virtual, bucket, key):
        """:meth:`answer` for any method but OPTIONS: a form POST, or a signed request."""
        headers = exchange.headers
        raw_pairs = query_pairs(raw_query)
        query = [(_decode(k), _decode(v)) for k, v in raw_pairs]
        content_type = headers.get("content-type", "")
        if (
            exchange.command == "POST"
            and key is None
            and bucket is not None
            and content_type.lower().startswith("multipart/form-data")
        ):
            from simsage.transport.s3_endpoint_post import answer_post

            return answer_post(self, exchange, bucket, source, request_id)
        verified = sigv4.verify(
            exchange.command,
            raw_path,
            raw_pairs,
            exchange.header_pairs,
            headers,
            auth_path=None if virtual is None else f"/{virtual}{raw_path}",
        )
        body, headers = self._body(source, verified, headers)
        return self.call(exchange.command, bucket, key, query, headers, body, verified.region)

    def call(self, method, bucket, key, query, headers, body, region, extra=None):
        """Route, parse, run and serialize one S3 operation."""
        codec = self.codec
        op = codec.route(method, bucket, key, query, headers)  # CodecError: an AWSError
        params = codec.parse(op, bucket, key, query, headers, body)
        if extra:
            params.update(extra)
        request = Request(
            service="s3",
            operation=op.name,
            params=params,
            region=region or self.config.region,
            account_id=self.config.account_id,
            model=op,
            checksum_algorithm=_checksum_algorithm(headers),
        )
        method_, check = self.transport._method("s3", op)
        if check is not None:
            check(params)
        result = method_(request)
        response = codec.serialize(op, result, request.status)
        if request.headers:
            response.headers.extend(request.headers.items())
        return response

    @staticmethod
    def _body(source, verified: sigv4.Verified, headers: dict[str, str]):
        """The body reader the service gets, and the headers the codec sees (an
        aws-chunked body's decoded length and content coding, as S3 stores them)."""
        if source is None:
            return None, headers
        payload = verified.payload_hash
        encodings = [e.strip() for e in headers.get("content-encoding", "").split(",") if e.strip()]
        chunked = payload.startswith("STREAMING-") or "aws-chunked" in encodings
        if not chunked:
            if payload not in (sigv4.UNSIGNED_PAYLOAD,):
                return Sha256Reader(source, payload), headers
            return source, headers
        decoded = headers.get("x-amz-decoded-content-length")
        decoded_length = int(decoded) if decoded and decoded.isdigit() else None
        signed = payload in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER)
        trailer = headers.get("x-amz-trailer", "").strip().lower() or None
        body = AwsChunkedReader(
            source,
            verified.chunks() if signed else None,
            decoded_length,
            trailer,
            signed_trailer=payload == sigv4.STREAMING_SIGNED_TRAILER,
        )
        headers = dict(headers)
        rest = [e for e in encodings if e != "aws-chunked"]
        if rest:
            headers["content-encoding"] = ",".join(rest)
        else:
            headers.pop("content-encoding", None)
        if decoded_length is not None:
            headers["content-length"] = str(decoded_length)
        else:
            headers.pop("content-length", None)
        return body, headers

    def error(self, err: AWSError, request_id: str, head: bool):
        code = err.code
        if code == "InternalFailure":
            code = "InternalError"  # S3's own code for a server-side fault
        return self.codec.serialize_error(
            code, err.message, err.status, dict(err.error_fields), request_id, head=head
        )

    def internal_error(self, request_id: str, head: bool):
        return self.codec.serialize_error(
            "InternalError", INTERNAL_MESSAGE, 500, {}, request_id, head=head
        )
