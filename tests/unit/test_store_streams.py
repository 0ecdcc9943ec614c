"""Reading objects made of blob segments: any byte range of the concatenation (read,
readinto, or copied into a file in the kernel), the version a read started with stays
readable when the object is overwritten meanwhile, however many segments it has, and a
blob that is not what the registry says (length, or MD5 where it is checked) is reported
as damage, never served."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from pathlib import Path

import pytest
from botocore.exceptions import FlexibleChecksumError, IncompleteReadError

from simsage.s3 import streams
from simsage.s3.body import ObjectBody
from simsage.s3.streams import (
    DamagedObjectError,
    SegmentReader,
    etag_of,
    read_verified,
)
from simsage.store import BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    counter = itertools.count()
    return BlobStore(tmp_path / "blobs", new_id=lambda: f"{next(counter):032x}")


def make_segments(store: BlobStore, sizes: list[int]) -> tuple[list[tuple[str, int]], bytes]:
    segments, data = [], b""
    for size in sizes:
        chunk = os.urandom(size)
        with store.writer() as writer:
            writer.write(chunk)
            segments.append((writer.finish(), size))
        data += chunk
    return segments, data


def reader(store: BlobStore, segments, start: int, end: int) -> SegmentReader:
    return SegmentReader(segments, store.open, start, end, pinner=store.pin)


@pytest.mark.parametrize(
    "start,end",
    [(0, 60), (0, 0), (5, 6), (9, 10), (10, 11), (3, 27), (19, 41), (59, 60), (25, 60)],
)
def test_any_range_of_the_concatenation(store: BlobStore, start: int, end: int):
    segments, data = make_segments(store, [10, 0, 15, 5, 30])
    with reader(store, segments, start, end) as stream:
        assert stream.read() == data[start:end]
        assert stream.read() == b""


def test_small_reads_and_readinto_cross_segment_borders(store: BlobStore):
    segments, data = make_segments(store, [7, 7, 7])
    stream = reader(store, segments, 2, 20)
    got = b""
    while chunk := stream.read(3):
        got += chunk
    assert got == data[2:20]
    stream.close()
    buffered = io.BufferedReader(reader(store, segments, 0, 21), buffer_size=4)
    assert buffered.read() == data


def test_readinto_fills_the_buffer_across_segment_borders(store: BlobStore):
    segments, data = make_segments(store, [7, 0, 7, 7])
    stream = reader(store, segments, 3, 21)
    buffer = bytearray(10)
    assert stream.readinto(buffer) == 10 and bytes(buffer) == data[3:13]
    assert stream.readinto(buffer) == 8 and bytes(buffer[:8]) == data[13:21]
    assert stream.readinto(buffer) == 0


def copied(stream, path: Path, **kwargs) -> bytes:
    with open(path, "wb") as handle:
        stream.copy_into(handle.fileno(), **kwargs)
    return path.read_bytes()


@pytest.mark.parametrize("start,end", [(0, 60), (0, 0), (9, 10), (3, 27), (19, 41), (25, 60)])
def test_copy_into_writes_any_range_into_a_file(
    store: BlobStore, tmp_path: Path, start: int, end: int
):
    segments, data = make_segments(store, [10, 0, 15, 5, 30])
    seen: list[int] = []
    with reader(store, segments, start, end) as stream:
        assert copied(stream, tmp_path / "out", progress=seen.append) == data[start:end]
        assert stream.read() == b""
    assert sum(seen) == end - start


def test_copy_into_goes_on_from_where_a_read_stopped(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(streams, "COPY_PIECE", 4)
    segments, data = make_segments(store, [10, 10])
    pieces: list[int] = []
    with reader(store, segments, 0, 20) as stream:
        head = stream.read(3)
        assert head + copied(stream, tmp_path / "out", progress=pieces.append) == data
    assert sum(pieces) == 17 and max(pieces) <= 4  # progress per piece


def test_copy_into_stops_between_pieces_once_cancelled(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(streams, "COPY_PIECE", 10)
    segments, data = make_segments(store, [25])
    seen: list[int] = []
    with reader(store, segments, 0, 25) as stream:
        out = copied(stream, tmp_path / "out", progress=seen.append, cancelled=lambda: bool(seen))
        assert out == data[:10]
        assert stream.read() == data[10:]  # what was not copied is still there to read


def test_a_blob_that_shrinks_during_a_copy_is_damage(store: BlobStore, tmp_path: Path):
    segments, _ = make_segments(store, [100_000, 1000])
    with reader(store, segments, 0, 101_000) as stream:
        os.truncate(store.path_of(segments[0][0]), 50_000)  # after it was opened
        with pytest.raises(DamagedObjectError, match="ended 50000 bytes early"):
            copied(stream, tmp_path / "out")


@pytest.mark.parametrize("inline", [True, False])
def test_an_object_body_copies_into_a_file_and_checks_its_length(
    store: BlobStore, tmp_path: Path, inline: bool
):
    segments, data = make_segments(store, [3000, 2000])
    raw = io.BytesIO(data) if inline else reader(store, segments, 0, 5000)
    body = ObjectBody(raw, 5000)
    with open(tmp_path / "out", "wb") as handle:
        assert body.copy_into(handle.fileno()) is True
    assert (tmp_path / "out").read_bytes() == data
    assert body.read() == b""
    short = ObjectBody(io.BytesIO(data[:100]), 5000)  # fewer bytes than its length
    with open(tmp_path / "short", "wb") as handle, pytest.raises(IncompleteReadError):
        short.copy_into(handle.fileno())


@pytest.mark.parametrize("eager", [0, 2, 64])
def test_a_read_keeps_its_version_when_every_blob_is_unlinked(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch, eager: int
):
    monkeypatch.setattr(streams, "EAGER_OPEN_SEGMENTS", eager)
    segments, data = make_segments(store, [1000] * 6)
    stream = reader(store, segments, 500, 6000)
    first = stream.read(10)
    store.delete(blob for blob, _ in segments)  # an overwrite committed meanwhile
    assert first + stream.read() == data[500:6000]
    stream.close()
    assert list(store.tmp_dir.iterdir()) == []  # pins are gone once read


def test_closing_early_removes_the_pins(store: BlobStore, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(streams, "EAGER_OPEN_SEGMENTS", 1)
    segments, _ = make_segments(store, [100] * 4)
    stream = reader(store, segments, 0, 400)
    assert len(list(store.tmp_dir.iterdir())) == 3
    stream.read(150)
    stream.close()
    assert list(store.tmp_dir.iterdir()) == []


def test_a_blob_gone_before_the_read_starts_is_file_not_found(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(streams, "EAGER_OPEN_SEGMENTS", 1)
    segments, _ = make_segments(store, [100] * 3)
    store.delete([segments[2][0]])
    with pytest.raises(FileNotFoundError):
        reader(store, segments, 0, 300)
    assert list(store.tmp_dir.iterdir()) == []  # the pins made so far are removed


@pytest.mark.parametrize("eager", [0, 64])
@pytest.mark.parametrize("change", ["truncated", "grown"])
def test_a_blob_of_another_length_than_the_registry_is_damage(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch, eager: int, change: str
):
    """Found when the reader is built (opened or pinned), before any byte is served."""
    monkeypatch.setattr(streams, "EAGER_OPEN_SEGMENTS", eager)
    segments, _ = make_segments(store, [100, 100])
    with open(store.path_of(segments[1][0]), "r+b") as handle:
        handle.truncate(40) if change == "truncated" else handle.write(b"x" * 101)
    with pytest.raises(DamagedObjectError, match=f"blob file {segments[1][0]} holds"):
        reader(store, segments, 0, 200)
    assert list(store.tmp_dir.iterdir()) == []


def test_a_blob_that_shrinks_during_a_read_is_a_botocore_error_not_a_bare_oserror(
    store: BlobStore,
):
    segments, data = make_segments(store, [100_000, 1000])
    stream = reader(store, segments, 0, 101_000)
    assert stream.read(10) == data[:10]
    os.truncate(store.path_of(segments[0][0]), 50_000)  # the open handle sees it
    with pytest.raises(DamagedObjectError) as caught:
        stream.read()
    assert isinstance(caught.value, FlexibleChecksumError)  # botocore's own family
    assert "ended 50000 bytes early" in str(caught.value)
    stream.close()


def test_a_ranged_read_that_skips_a_damaged_blob_is_served(store: BlobStore):
    segments, data = make_segments(store, [100, 100])
    os.truncate(store.path_of(segments[1][0]), 10)
    with reader(store, segments, 20, 80) as stream:
        assert stream.read() == data[20:80]


@pytest.mark.parametrize("sizes", [[300], [200, 0, 100]])
def test_read_verified_checks_the_etag_of_single_and_multipart_objects(
    store: BlobStore, sizes: list[int]
):
    segments, data = make_segments(store, sizes)
    digests = [
        hashlib.md5(data[sum(sizes[:i]) : sum(sizes[: i + 1])]).digest() for i in range(len(sizes))
    ]
    etag = etag_of(digests, multipart=len(sizes) > 1)
    with reader(store, segments, 0, len(data)) as stream:
        assert read_verified(stream, segments, etag, str) == data
    with open(store.path_of(segments[0][0]), "r+b") as handle:
        handle.write(b"\0")  # same length, other bytes
    with (
        reader(store, segments, 0, len(data)) as stream,
        pytest.raises(DamagedObjectError) as caught,
    ):
        read_verified(stream, segments, etag, lambda what: f"damaged: {what}")
    assert f"not to its ETag {etag}" in str(caught.value)
