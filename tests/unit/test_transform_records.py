"""Mini-batching and output matching for batch transform (simsage.transform.records)."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simsage.transform import records


def _lines(n: int, width: int = 10) -> bytes:
    return b"".join(str(i).rjust(width, "0").encode() + b"\n" for i in range(n))


class Trickle(io.RawIOBase):
    """A stream that answers reads a few bytes at a time, as sockets and gzip may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


def test_multi_record_batches_hold_whole_lines_within_the_limit_in_order():
    data = _lines(1000)  # 11 bytes a line
    batches = list(records.line_batches(io.BytesIO(data), 100, single_record=False))
    assert b"".join(b.body for b in batches) == data
    assert all(len(b.body) <= 100 and bytes(b.body).endswith(b"\n") for b in batches)
    assert [len(b.body) for b in batches[:-1]] == [99] * (len(batches) - 1)  # 9 lines each


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=20).map(lambda b: b.replace(b"\n", b"x")), max_size=40),
    st.integers(min_value=21, max_value=200),
    st.booleans(),
)
@example([b"\x00" * 19, b"\t", b"\x00" * 20], 21, False)  # a blank line alone in its batch
def test_batches_rebuild_the_stream_exactly(lines, limit, trailing_newline):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    got = list(records.line_batches(Trickle(data), limit, single_record=False))

    def lines_with_data(blob: bytes) -> list[bytes]:
        # A batch of blank lines only (whitespace, e.g. one b"\t" line between two
        # that fill their batches) is not sent: every other line comes back, in order.
        return [line for line in blob.split(b"\n") if line.strip()]

    assert lines_with_data(b"".join(b.body for b in got)) == lines_with_data(data)
    assert all(len(b.body) <= limit for b in got)
    assert all(bytes(b.body).strip() for b in got)  # no batch is blank


def test_last_line_without_newline_and_blank_lines():
    batches = list(records.line_batches(io.BytesIO(b"a\n\nb\nc"), 100, False, keep_records=True))
    assert len(batches) == 1
    assert batches[0].records == [b"a", b"b", b"c"] and batches[0].count == 3
    singles = list(records.line_batches(io.BytesIO(b"a\r\n\nb\nc"), 100, single_record=True))
    assert [b.body for b in singles] == [b"a", b"b", b"c"]


@pytest.mark.parametrize(
    ("single", "words"),
    [(False, "the record starting at byte 6 is larger"), (True, "record 2 is larger")],
)
def test_a_record_longer_than_the_limit_is_an_error_naming_it(single, words):
    data = b"short\n" + b"x" * 50 + b"\nshort\n"
    with pytest.raises(records.PayloadTooLarge, match=words):
        list(records.line_batches(Trickle(data, 5), 20, single_record=single))


def test_whole_object_is_one_request_unless_too_large():
    assert [b.body for b in records.whole_object(io.BytesIO(b"abc"), 10)] == [b"abc"]
    assert list(records.whole_object(io.BytesIO(b""), 10)) == []
    with pytest.raises(records.PayloadTooLarge, match="SplitType is None"):
        list(records.whole_object(io.BytesIO(b"x" * 11), 10))


def _recordio(payload: bytes) -> bytes:
    padding = b"\0" * (-len(payload) % 4)
    return struct.pack("<II", records.RECORDIO_MAGIC, len(payload)) + payload + padding


def test_recordio_batches_keep_frames_whole():
    frames = [_recordio(b"r" * n) for n in (1, 5, 8, 3)]
    data = b"".join(frames)
    batches = list(records.recordio_batches(io.BytesIO(data), 30, single_record=False))
    assert b"".join(b.body for b in batches) == data
    assert all(len(b.body) <= 30 for b in batches)
    singles = list(records.recordio_batches(io.BytesIO(data), 30, single_record=True))
    assert [b.body for b in singles] == frames
    with pytest.raises(records.MalformedInput, match="magic"):
        list(records.recordio_batches(io.BytesIO(b"not recordio at all"), 30, False))


def test_payload_limit_zero_means_the_servers_limit():
    assert records.payload_limit(6) == 6 * 1024 * 1024
    assert records.payload_limit(0) == records.SERVER_MAX_BODY


def test_response_records_match_outputs_to_inputs():
    assert records.response_records(b"1\n2\n3\n", 3) == [b"1", b"2", b"3"]
    assert records.response_records(b'{"a": 1}\n', 1) == [b'{"a": 1}']
    with pytest.raises(records.MalformedInput, match="answered 1 lines for a mini-batch of 2"):
        records.response_records(b'{"predictions": [1, 2]}', 2)
