"""Reading an HTTP/1.1 request's header block, for simsage's two ``http.server`` servers:
the inference server (:mod:`simsage.serving.server`, a program that runs inside the
"containers") and the S3 endpoint (:mod:`simsage.transport.s3_endpoint`).

Layer: below both; the standard library only, so the programs in containers may import
it (they import no service and no transport). It replaces ``http.server``'s own reading
of the block through the ``email`` package's parser, which cost ~110 µs a request, more
than the rest of the inference server together; the limits are ``http.server``'s
(64 KiB a line; the number of lines is the caller's).
"""

from __future__ import annotations

from typing import BinaryIO

MAX_HEADER_LINE = 64 * 1024  # a header or trailer line, as http.server allows


class HeaderError(Exception):
    """A header block the server answers with an error and then closes the connection.

    Attributes:
        status: 431 (a line over :data:`MAX_HEADER_LINE`, or too many lines) or 400 (a
            line that is not ``name: value``).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_headers(
    rfile: BinaryIO,
    max_lines: int,
    joiner: str = ", ",
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Read header lines up to the blank line that ends them.

    Args:
        rfile: the connection's buffered reader, just past the request line.
        max_lines: the most header lines accepted.
        joiner: what joins the values of a repeated header.

    Returns:
        Every line as sent, ``(name, value)`` in order (what a signature covers), and the
        headers with names lower-cased, values stripped, repeated ones joined.

    Raises:
        HeaderError: a line too long, too many lines, a malformed line.
        OSError: the connection ended (or timed out) before the block did.
    """
    pairs: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    readline, append = rfile.readline, pairs.append
    cap = MAX_HEADER_LINE + 1  # a line this long is one too long
    for _ in range(max_lines):
        line = readline(cap)
        if len(line) == cap:
            raise HeaderError(431, f"header line longer than {MAX_HEADER_LINE} bytes")
        if line in (b"\r\n", b"\n", b""):
            if line:
                return pairs, headers
            raise OSError("connection closed mid-request")
        # (a last line cut off without its line end is read as one when it has a colon,
        # harmlessly: the end of the connection comes next and ends the request)
        name, sep, value = line.decode("iso-8859-1").partition(":")
        if not sep or not name or name != name.strip():
            if not line.endswith(b"\n"):
                raise OSError("connection closed mid-request")
            raise HeaderError(400, "malformed header line")
        value = value.strip()
        append((name, value))
        key = name.lower()
        headers[key] = f"{headers[key]}{joiner}{value}" if key in headers else value
    raise HeaderError(431, f"more than {max_lines} header lines")
