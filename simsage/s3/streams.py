"""Reading an object's bytes: a raw stream over its blob segments (or inline bytes),
limited to a byte range, so bodies of any size stream without being held in memory.

A reader keeps reading the version it started with even if the object is overwritten
(and its blobs unlinked) meanwhile: the first segments are opened at once, and the rest
(objects of hundreds of parts would need too many open files) are pinned by a private
hard link each, opened and dropped as the read reaches them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

# Segments opened up front; later ones are pinned (see the module docstring).
EAGER_OPEN_SEGMENTS = 64


class SegmentReader(io.RawIOBase):
    """Reads bytes ``[start, end)`` of the concatenation of ``segments``.

    Args:
        segments: ``(blob_id, size)`` pairs in order.
        opener: opens a blob id for binary reading.
        start, end: the byte range to expose.
        pinner: makes a private hard link to a blob id and returns its path (None where
            links are unsupported); the reader opens and removes it when it gets there.
    Raises:
        FileNotFoundError: a blob of ``segments`` is already gone (the object was
            overwritten since its row was read); read the row again.
    """

    def __init__(
        self,
        segments: Sequence[tuple[str, int]],
        opener: Callable[[str], io.BufferedReader],
        start: int,
        end: int,
        pinner: Callable[[str], Path | None] | None = None,
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
        self._pins: list[Path | None] = [None] * len(self._plan)
        self._index = 0
        try:
            for i, (blob_id, _, _) in enumerate(self._plan):
                if i < EAGER_OPEN_SEGMENTS:
                    self._files[i] = self._open(i)
                elif pinner is not None:
                    self._pins[i] = pinner(blob_id)
        except BaseException:
            self.close()
            raise

    def _open(self, i: int) -> io.BufferedReader:
        blob_id, offset, _ = self._plan[i]
        pin = self._pins[i]
        if pin is not None:
            handle = open(pin, "rb")  # noqa: SIM115 - closed when its segment is read
            self._pins[i] = None
            pin.unlink()  # the open handle keeps the bytes
        else:
            handle = self._opener(blob_id)
        if offset:
            handle.seek(offset)
        return handle

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        chunks: list[bytes] = []
        wanted = size
        while wanted > 0 and self._index < len(self._plan):
            handle = self._files[self._index] or self._open(self._index)
            self._files[self._index] = handle
            blob_id, offset, left = self._plan[self._index]
            chunk = handle.read(min(wanted, left))
            if not chunk:
                raise OSError(f"blob {blob_id} is shorter than the registry says")
            chunks.append(chunk)
            wanted -= len(chunk)
            left -= len(chunk)
            self._plan[self._index] = (blob_id, offset, left)
            if left == 0:
                handle.close()
                self._files[self._index] = None
                self._index += 1
        # One segment's read is returned as it is: no copy for the common case.
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._remaining -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read(max(self._remaining, 0))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        for handle in getattr(self, "_files", ()):
            if handle is not None:
                handle.close()
        for pin in getattr(self, "_pins", ()):
            if pin is not None:
                with contextlib.suppress(FileNotFoundError):
                    pin.unlink()
        self._files = [None] * len(getattr(self, "_files", ()))
        self._pins = [None] * len(self._files)
        super().close()
