"""Request bodies of the S3 endpoint, read from the socket as they arrive.

Layer: transport (HTTP side). Each reader is a file-like with ``read(n)`` that the S3
service consumes as a PutObject / UploadPart ``Body`` (the store copies it to a blob as
it comes, so no body is ever held whole in memory). Readers stack:

- :class:`LengthReader`: exactly Content-Length bytes of the connection;
  :class:`ChunkedReader`: a ``Transfer-Encoding: chunked`` body, de-chunked.
- :class:`AwsChunkedReader`: S3's ``Content-Encoding: aws-chunked`` framing over either
  (``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` … ``0``, then trailing
  headers): each chunk's signature checked against the chain started by the request's
  signature (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]``), the trailer's signature
  too, and a trailing ``x-amz-checksum-<algorithm>`` checked against the bytes.
- :class:`Sha256Reader`: a hex ``x-amz-content-sha256`` checked against the bytes.

A failed check raises the S3 error from the ``read`` that reaches the end of the chunk
or body: before the service commits anything, so nothing is stored (the store's writers
drop their blob when the body raises). Errors: ``IncompleteBody`` (fewer bytes than
announced), ``XAmzContentSHA256Mismatch``, ``SignatureDoesNotMatch``, ``BadDigest``,
``InvalidRequest`` (malformed framing) — each an :class:`~simsage.errors.AWSError`.

``on_first_read`` lets the server answer ``Expect: 100-continue`` only when the
service starts reading the body: a request refused before that (no such bucket, a bad
signature) never makes the client send its body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from simsage.errors import AWSError
from simsage.s3 import checksums
from simsage.transport.sigv4 import ChunkVerifier, auth_error

PIECE = 1024 * 1024  # the most one read asks of the socket
MAX_LINE = 64 * 1024  # a chunk-size or trailer line
MAX_TRAILERS = 100
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def incomplete_body() -> AWSError:
    return auth_error(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )


def _framing(why: str) -> AWSError:
    return auth_error("InvalidRequest", f"Invalid chunked encoding: {why}", status=400)


class _Reader:
    """``read(n)`` with ``n`` < 0 meaning everything, and ``readline(limit)``."""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self._read(PIECE):
                parts.append(chunk)
            return b"".join(parts)
        return self._read(size) if size else b""

    def _read(self, size: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True


class LengthReader(_Reader):
    """Exactly ``length`` bytes of ``rfile`` (the connection's buffered reader)."""

    def __init__(self, rfile, length: int, on_first_read: Callable[[], None] | None = None):
        self._rfile = rfile
        self.remaining = length
        self._first = on_first_read

    @property
    def done(self) -> bool:
        return self.remaining == 0

    def _started(self) -> None:
        if self._first is not None:
            first, self._first = self._first, None
            first()

    def _read(self, size: int) -> bytes:
        if self.remaining <= 0:
            return b""
        self._started()
        data = self._rfile.read1(min(size, self.remaining, PIECE))
        if not data:
            raise incomplete_body()
        self.remaining -= len(data)
        return data

    def readline(self, limit: int) -> bytes:
        if self.remaining <= 0:
            return b""
        self._started()
        line = self._rfile.readline(min(limit, self.remaining))
        if not line:
            raise incomplete_body()
        self.remaining -= len(line)
        return line


class ChunkedReader(_Reader):
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 7.1); ``trailers`` holds its
    trailer fields (lower-cased names) once the last chunk is read."""

    def __init__(self, rfile, on_first_read: Callable[[], None] | None = None):
        self._rfile = rfile
        self._left = 0  # bytes left in the current chunk
        self.done = False
        self.trailers: dict[str, str] = {}
        self._first = on_first_read
        self._buffer = b""

    def _line(self) -> bytes:
        line = self._rfile.readline(MAX_LINE + 1)
        if not line:
            raise incomplete_body()
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise _framing("line too long")
        return line

    def _next_chunk(self) -> None:
        if self._first is not None:
            first, self._first = self._first, None
            first()
        size_text = self._line().split(b";", 1)[0].strip()
        if not _HEX_SIZE.fullmatch(size_text):
            raise _framing("malformed chunk size")
        self._left = int(size_text, 16)
        if self._left == 0:
            for _ in range(MAX_TRAILERS):
                line = self._line()
                if line in (b"\r\n", b"\n"):
                    self.done = True
                    return
                name, _, value = line.decode("iso-8859-1").partition(":")
                self.trailers[name.strip().lower()] = value.strip()
            raise _framing("too many trailers")

    def _read(self, size: int) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        while self._left == 0:
            if self.done:
                return b""
            self._next_chunk()
            if self.done:
                return b""
        data = self._rfile.read1(min(size, self._left, PIECE))
        if not data:
            raise incomplete_body()
        self._left -= len(data)
        if self._left == 0 and self._rfile.readline(3) not in (b"\r\n", b"\n"):
            raise _framing("chunk data not followed by CRLF")
        return data

    def readline(self, limit: int) -> bytes:
        """A line across chunk boundaries (for aws-chunked framing inside chunks)."""
        parts: list[bytes] = []
        total = 0
        while total < limit:
            data = self._read(min(limit - total, 4096))
            if not data:
                break
            cut = data.find(b"\n")
            if cut >= 0:
                parts.append(data[: cut + 1])
                self._buffer = data[cut + 1 :] + self._buffer
                break
            parts.append(data)
            total += len(data)
        return b"".join(parts)


class AwsChunkedReader(_Reader):
    """The decoded bytes of an ``aws-chunked`` body (see the module docstring).

    Args:
        source: the reader of the HTTP body (a :class:`LengthReader` or
            :class:`ChunkedReader`).
        chain: the signature chain (signed chunks), or None (unsigned chunks).
        decoded_length: ``x-amz-decoded-content-length``, checked at the end.
        trailer: the trailing header announced by ``x-amz-trailer`` (lower-cased), or None.
        signed_trailer: the trailer carries ``x-amz-trailer-signature``.
    """

    def __init__(
        self,
        source,
        chain: ChunkVerifier | None,
        decoded_length: int | None,
        trailer: str | None = None,
        signed_trailer: bool = False,
    ) -> None:
        self._source = source
        self._chain = chain
        self._decoded_length = decoded_length
        self._trailer = trailer
        self._signed_trailer = signed_trailer
        self._left = 0
        self._signature: str | None = None
        self._hash = None
        self._total = 0
        self.done = False
        self.trailers: dict[str, str] = {}
        algorithm = trailer_algorithm(trailer)
        self._algorithm = algorithm
        self._checksum = checksums.hasher(algorithm) if algorithm else None

    def _line(self) -> bytes:
        line = self._source.readline(MAX_LINE + 1)
        if not line:
            raise incomplete_body()
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise _framing("line too long")
        return line

    def _start_chunk(self) -> None:
        header = self._line().strip()
        size_text, _, extension = header.partition(b";")
        if not _HEX_SIZE.fullmatch(size_text.strip()):
            raise _framing("malformed chunk size")
        self._left = int(size_text, 16)
        if self._chain is not None:
            name, _, value = extension.decode("ascii", "replace").partition("=")
            if name.strip() != "chunk-signature" or not value:
                raise auth_error(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.",
                )
            self._signature = value.strip()
            self._hash = hashlib.sha256()
        if self._left == 0:
            self._end_chunk()
            self._finish()

    def _end_chunk(self) -> None:
        if self._chain is not None:
            self._chain.chunk(self._hash.hexdigest(), self._signature)

    def _finish(self) -> None:
        """After the last (empty) chunk: trailers, their signature, the length."""
        lines: list[tuple[str, str]] = []
        signature = None
        for _ in range(MAX_TRAILERS):
            line = self._source.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("iso-8859-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                signature = value
            else:
                lines.append((name, value))
                self.trailers[name] = value
        else:
            raise _framing("too many trailers")
        if self._signed_trailer and self._chain is not None:
            if signature is None:
                raise _framing("the trailer has no x-amz-trailer-signature")
            self._chain.trailer(lines, signature)
        if self._decoded_length is not None and self._total != self._decoded_length:
            raise incomplete_body()
        if self._checksum is not None:
            given = self.trailers.get(self._trailer)
            if given is None:
                raise auth_error(
                    "InvalidRequest",
                    f"The x-amz-trailer header names {self._trailer}, which the body's "
                    "trailer does not carry.",
                )
            actual = checksums.encode(self._checksum.digest())
            checksums.verify(self._algorithm, given, actual)
        self.done = True

    def _read(self, size: int) -> bytes:
        while self._left == 0:
            if self.done:
                return b""
            self._start_chunk()
            if self.done:
                return b""
        data = self._source.read(min(size, self._left))
        if not data:
            raise incomplete_body()
        self._left -= len(data)
        self._total += len(data)
        if self._hash is not None:
            self._hash.update(data)
        if self._checksum is not None:
            self._checksum.update(data)
        if self._left == 0:
            if self._source.readline(3) not in (b"\r\n", b"\n"):
                raise _framing("chunk data not followed by CRLF")
            self._end_chunk()
            if self._total == self._decoded_length:
                # Every announced byte is here: check the last chunk and the trailer
                # now, so a reader that stops at the length still sees a failure.
                self._start_chunk()
        return data


def trailer_algorithm(trailer: str | None) -> str | None:
    """``x-amz-checksum-crc32`` → ``CRC32`` (None for no or another trailer)."""
    if trailer and trailer.startswith("x-amz-checksum-"):
        return trailer[len("x-amz-checksum-") :].upper()
    return None


class Sha256Reader(_Reader):
    """Passes ``source`` through, checking its SHA-256 against ``expected`` (hex) at the
    end: ``XAmzContentSHA256Mismatch`` (400) when they differ."""

    def __init__(self, source, expected: str) -> None:
        self._source = source
        self._expected = expected
        self._hash = hashlib.sha256()
        self.done = False

    def _read(self, size: int) -> bytes:
        if self.done:
            return b""
        data = self._source.read(size)
        if data:
            self._hash.update(data)
            if getattr(self._source, "done", False):
                self._check()  # the last bytes: checked before the caller has them
            return data
        self._check()
        return b""

    def _check(self) -> None:
        self.done = True
        actual = self._hash.hexdigest()
        if actual != self._expected:
            raise auth_error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ClientComputedContentSHA256=self._expected,
                S3ComputedContentSHA256=actual,
            )
