"""Reading an object's bytes: a raw stream over its blob segments (or inline bytes),
limited to a byte range, so bodies of any size stream without being held in memory."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

# Objects with at most this many segments open every blob file up front, so an
# overwrite of the object while it is being read cannot take a segment away.
EAGER_OPEN_SEGMENTS = 256


class SegmentReader(io.RawIOBase):
    """Reads bytes ``[start, end)`` of the concatenation of ``segments``.

    Args:
        segments: ``(blob_id, size)`` pairs in order.
        opener: opens a blob id for binary reading.
        start, end: the byte range to expose.
    """

    def __init__(
        self,
        segments: Sequence[tuple[str, int]],
        opener: Callable[[str], io.BufferedReader],
        start: int,
        end: int,
    ) -> None:
        super().__init__()
        self._opener = opener
        self._remaining = end - start
        # (blob id, offset within the blob, bytes to read from it) for the range
        self._plan: list[tuple[str, int, int]] = []
        position = 0
        for blob_id, size in segments:
            lo, hi = max(start, position), min(end, position + size)
            if lo < hi:
                self._plan.append((blob_id, lo - position, hi - lo))
            position += size
        self._files: list[io.BufferedReader | None] = [None] * len(self._plan)
        if len(self._plan) <= EAGER_OPEN_SEGMENTS:
            try:
                for i in range(len(self._plan)):
                    self._files[i] = self._open(i)
            except BaseException:
                self.close()
                raise
        self._index = 0

    def _open(self, i: int) -> io.BufferedReader:
        blob_id, offset, _ = self._plan[i]
        handle = self._opener(blob_id)
        if offset:
            handle.seek(offset)
        return handle

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        out = bytearray()
        while len(out) < size and self._index < len(self._plan):
            handle = self._files[self._index] or self._open(self._index)
            self._files[self._index] = handle
            blob_id, offset, left = self._plan[self._index]
            chunk = handle.read(min(size - len(out), left))
            if not chunk:
                raise OSError(f"blob {blob_id} is shorter than the registry says")
            out += chunk
            left -= len(chunk)
            self._plan[self._index] = (blob_id, offset, left)
            if left == 0:
                handle.close()
                self._files[self._index] = None
                self._index += 1
        self._remaining -= len(out)
        return bytes(out)

    def readall(self) -> bytes:
        return self.read(max(self._remaining, 0))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        for handle in self._files:
            if handle is not None:
                handle.close()
        self._files = [None] * len(self._files)
        super().close()
