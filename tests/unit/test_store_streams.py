"""Reading objects made of blob segments: any byte range of the concatenation, and the
version a read started with stays readable when the object is overwritten meanwhile,
however many segments it has."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest

from simsage.s3 import streams
from simsage.s3.streams import SegmentReader
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
