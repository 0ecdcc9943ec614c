"""Splitting an input stream into mini-batches, and assembling the output.

Layer: data plane (pure stream functions, no S3, no HTTP).

Invariants:
- a mini-batch holds whole records only and never exceeds the payload limit; a single
  record larger than the limit is an error (:class:`PayloadTooLarge`), never a split;
- batches come in stream order and together hold every record once;
- memory is bounded by the limit plus one read chunk: splitting works on byte chunks
  (``rfind`` of the last newline), never row by row, except for SingleRecord where
  every record is a request anyway.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
SERVER_MAX_BODY = 100 * 1024 * 1024  # MaxPayloadInMB 0 ("no limit") still has one
RECORDIO_MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")
_LENGTH_MASK = (1 << 29) - 1
_NOT_SPACE = re.compile(rb"\S")


class PayloadTooLarge(Exception):
    """A record (or, with SplitType None, an object) larger than MaxPayloadInMB."""


class MalformedInput(Exception):
    """Input that cannot be split as its SplitType says."""


@dataclass
class Batch:
    """One request's body, and the records it holds (``records`` only when asked for)."""

    body: bytes | memoryview
    count: int | None  # None: not counted (MultiRecord lines are never scanned one by one)
    records: list[bytes] | None = None


def payload_limit(max_payload_mb: int) -> int:
    """Bytes a request may hold (MaxPayloadInMB 0 means no limit of its own)."""
    return max_payload_mb * 1024 * 1024 if max_payload_mb else SERVER_MAX_BODY


def _limit_text(limit: int) -> str:
    return f"MaxPayloadInMB ({limit // (1024 * 1024)} MB)"


def whole_object(stream: BinaryIO, limit: int) -> Iterator[Batch]:
    """SplitType None: the whole object as one request."""
    parts, size = [], 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the object is larger than {_limit_text(limit)} and SplitType is None, so it "
                "would be sent as one request; split it (SplitType Line or RecordIO) or raise "
                "MaxPayloadInMB (at most 100)"
            )
        parts.append(chunk)
    body = b"".join(parts)
    if body:
        yield Batch(body, 1, [body])


def line_batches(
    stream: BinaryIO, limit: int, single_record: bool, keep_records: bool = False
) -> Iterator[Batch]:
    """SplitType Line: mini-batches of whole lines, each at most ``limit`` bytes.

    Parameters
    ----------
    stream:
        The (decompressed) object.
    limit:
        The payload limit in bytes.
    single_record:
        BatchStrategy SingleRecord: one line per request (without its newline).
    keep_records:
        Also give each batch's lines (for DataProcessing), without their newlines.

    Raises
    ------
    PayloadTooLarge
        A single line is longer than ``limit``.
    """
    if single_record:
        yield from _single_lines(stream, limit)
        return
    carry = b""  # the start of a line read beyond the previous batch
    eof = False
    offset = 0  # of ``carry`` in the stream
    while True:
        parts, size = [carry], len(carry)
        while not eof and size <= limit:
            chunk = stream.read(limit + 1 - size)
            if not chunk:
                eof = True
            else:
                parts.append(chunk)
                size += len(chunk)
        data = parts[-1] if len(parts) == 2 and not carry else b"".join(parts)
        if not data:
            return
        if eof and len(data) <= limit:
            end = len(data)
        else:
            cut = data.rfind(b"\n", 0, limit)
            if cut < 0:
                raise PayloadTooLarge(
                    f"the record starting at byte {offset} is larger than {_limit_text(limit)}; "
                    "raise MaxPayloadInMB (at most 100) or make the records smaller"
                )
            end = cut + 1
        # A view, not a copy: the batch goes to the socket as it is.
        body = memoryview(data)[:end] if end < len(data) else memoryview(data)
        carry = data[end:]
        offset += end
        if _NOT_SPACE.search(data, 0, end) is None:  # blank lines only: nothing to send
            continue
        if keep_records:
            records = [r.rstrip(b"\r") for r in bytes(body).split(b"\n")]
            records = [r for r in records if r.strip()]
            yield Batch(bytes(body), len(records), records)
        else:
            yield Batch(body, None)


def _single_lines(stream: BinaryIO, limit: int) -> Iterator[Batch]:
    buffer = b""
    number = 0
    while True:
        chunk = stream.read(CHUNK)
        lines = (buffer + chunk).split(b"\n")
        buffer = lines.pop() if chunk else b""
        for line in lines:
            number += 1
            record = line.rstrip(b"\r")
            if len(record) > limit:
                raise PayloadTooLarge(
                    f"record {number} is larger than {_limit_text(limit)}; raise MaxPayloadInMB "
                    "(at most 100) or make the records smaller"
                )
            if record.strip():
                yield Batch(record, 1, [record])
        if len(buffer) > limit:
            raise PayloadTooLarge(
                f"record {number + 1} is larger than {_limit_text(limit)}; raise MaxPayloadInMB "
                "(at most 100) or make the records smaller"
            )
        if not chunk:
            return


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def recordio_records(stream: BinaryIO) -> Iterator[bytes]:
    """The framed records of a RecordIO stream (each with its header and padding)."""
    number = 0
    while True:
        header = _read_exact(stream, _HEADER.size)
        if not header:
            return
        number += 1
        if len(header) < _HEADER.size:
            raise MalformedInput(f"RecordIO record {number} is cut short")
        magic, flags = _HEADER.unpack(header)
        if magic != RECORDIO_MAGIC:
            raise MalformedInput(
                f"record {number} does not start with the RecordIO magic number; is the "
                "input really RecordIO (SplitType RecordIO)?"
            )
        length = flags & _LENGTH_MASK
        padded = (length + 3) // 4 * 4
        body = _read_exact(stream, padded)
        if len(body) < padded:
            raise MalformedInput(f"RecordIO record {number} is cut short")
        yield header + body


def recordio_batches(stream: BinaryIO, limit: int, single_record: bool) -> Iterator[Batch]:
    """SplitType RecordIO: mini-batches of whole framed records, each at most ``limit``."""
    parts: list[bytes] = []
    size = 0
    for number, record in enumerate(recordio_records(stream), 1):
        if len(record) > limit:
            raise PayloadTooLarge(
                f"record {number} is larger than {_limit_text(limit)}; raise MaxPayloadInMB "
                "(at most 100) or make the records smaller"
            )
        if single_record:
            yield Batch(record, 1)
            continue
        if size + len(record) > limit:
            yield Batch(b"".join(parts), len(parts))
            parts, size = [], 0
        parts.append(record)
        size += len(record)
    if parts:
        yield Batch(b"".join(parts), len(parts))


def batches(
    stream: BinaryIO, split_type: str, limit: int, single_record: bool, keep_records: bool
) -> Iterator[Batch]:
    """The requests for one object, in order (see the split functions)."""
    if split_type == "Line":
        return line_batches(stream, limit, single_record, keep_records)
    if split_type == "RecordIO":
        return recordio_batches(stream, limit, single_record)
    return whole_object(stream, limit)


def response_records(body: bytes, expected: int) -> list[bytes]:
    """A mini-batch response cut into one output per input record (one per line, or the
    whole body for a single record).

    Raises
    ------
    MalformedInput
        The model answered a different number of records than it was sent.
    """
    if expected == 1:
        return [body.rstrip(b"\r\n")]
    lines = body.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != expected:
        raise MalformedInput(
            f"the model answered {len(lines)} lines for a mini-batch of {expected} records, "
            "so outputs cannot be matched to records; use an Accept type with one record "
            "per line (text/csv, application/jsonlines) or BatchStrategy SingleRecord"
        )
    return [line.rstrip(b"\r") for line in lines]
