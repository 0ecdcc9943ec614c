"""Reading an object's bytes: a raw stream over its blob segments (or inline bytes),
limited to a byte range, so bodies of any size stream without being held in memory, or
go into a file without passing through Python at all (``copy_into``).

A reader keeps reading the version it started with even if the object is overwritten
(and its blobs unlinked) meanwhile: the first segments are opened at once, and the rest
(objects of hundreds of parts would need too many open files) are pinned by a private
hard link each, opened and dropped as the read reaches them.

Every blob's length is checked against the registry when it is opened or pinned (an
``fstat``: no extra read), so a truncated or grown blob file is reported, never served
short. Damage is :class:`DamagedObjectError`: raised while the reader is being built, it
becomes the S3 error ``InternalError`` (500) before any byte is sent; found in the middle
of a read, it reaches the caller from ``Body.read()`` as a botocore exception, of the
family botocore raises for a body that fails its checksum (``FlexibleChecksumError``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from botocore.exceptions import FlexibleChecksumError

from simsage.errors import AWSError
from simsage.store.blobs import RangeCopier
from simsage.store.errors import doctor_command

# Segments opened up front; later ones are pinned (see the module docstring).
EAGER_OPEN_SEGMENTS = 64
# Bytes per copy_file_range call of copy_into: the grain of its progress reports and of
# its checks for cancellation.
COPY_PIECE = 8 * 1024 * 1024


class DamagedObjectError(FlexibleChecksumError, AWSError):
    """An object's stored bytes are not what its registry row says: a blob file is
    missing, shorter or longer than recorded, or hashes to another MD5.

    Both a botocore exception (what ``Body.read()`` raises mid-stream, like a body that
    fails its checksum) and an :class:`~simsage.errors.AWSError` (what a request answers
    when the damage is found before its answer: ``InternalError``, HTTP 500).
    """

    code = "InternalError"
    status = 500
    sender_fault = False

    def __init__(self, message: str = "", *, error_msg: str | None = None) -> None:
        # error_msg: how botocore's exceptions rebuild themselves when unpickled
        message = message or error_msg or ""
        FlexibleChecksumError.__init__(self, error_msg=message)
        self.message = message
        self.error_fields: dict = {}
        self.modeled_fields: dict = {}

    def __str__(self) -> str:
        return self.message


class SegmentReader(io.RawIOBase):
    """Reads bytes ``[start, end)`` of the concatenation of ``segments``.

    Args:
        segments: ``(blob_id, size)`` pairs in order.
        opener: opens a blob id for binary reading.
        start, end: the byte range to expose.
        pinner: makes a private hard link to a blob id and returns its path (None where
            links are unsupported); the reader opens and removes it when it gets there.
        damaged: builds the message of a :class:`DamagedObjectError` from what is wrong
            (it names the object and says what to do).
    Raises:
        FileNotFoundError: a blob of ``segments`` is already gone (the object was
            overwritten since its row was read, or the file was lost: the caller tells
            which by reading the row again).
        DamagedObjectError: a blob file's length is not the registry's.
    """

    def __init__(
        self,
        segments: Sequence[tuple[str, int]],
        opener: Callable[[str], io.BufferedReader],
        start: int,
        end: int,
        pinner: Callable[[str], Path | None] | None = None,
        damaged: Callable[[str], str] = lambda what: f"A stored object is damaged: {what}",
    ) -> None:
        super().__init__()
        self._opener = opener
        self._damaged = damaged
        self._remaining = end - start
        # (blob id, offset within the blob, bytes to read from it) for the range, and
        # the blob's whole size as the registry has it
        self._plan: list[tuple[str, int, int]] = []
        self._sizes: list[int] = []
        position = 0
        for blob_id, size in segments:
            lo, hi = max(start, position), min(end, position + size)
            if lo < hi:
                self._plan.append((blob_id, lo - position, hi - lo))
                self._sizes.append(size)
            position += size
        self._files: list[io.BufferedReader | None] = [None] * len(self._plan)
        self._pins: list[Path | None] = [None] * len(self._plan)
        self._index = 0
        try:
            for i, (blob_id, _, _) in enumerate(self._plan):
                if i < EAGER_OPEN_SEGMENTS:
                    self._files[i] = self._open(i)
                elif pinner is not None:
                    pin = self._pins[i] = pinner(blob_id)
                    if pin is not None:
                        self._check_size(i, pin.stat().st_size)
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
        try:
            self._check_size(i, os.fstat(handle.fileno()).st_size)
            if offset:
                handle.seek(offset)
        except BaseException:
            handle.close()
            raise
        return handle

    def _check_size(self, i: int, actual: int) -> None:
        expected = self._sizes[i]
        if actual != expected:
            raise DamagedObjectError(
                self._damaged(
                    f"its blob file {self._plan[i][0]} holds {actual} bytes, "
                    f"the registry says {expected}"
                )
            )

    def _open_mid_read(self, i: int) -> io.BufferedReader:
        try:
            return self._open(i)
        except FileNotFoundError:
            # Only where hard links are unsupported (no pin): an overwrite or a loss.
            raise DamagedObjectError(
                self._damaged(
                    f"its blob file {self._plan[i][0]} disappeared during the read (the object "
                    "was overwritten or deleted meanwhile, or the file was removed); read it again"
                )
            ) from None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        chunks: list[bytes] = []
        wanted = size
        while wanted > 0 and self._index < len(self._plan):
            handle, left = self._segment()
            chunk = handle.read(min(wanted, left))
            if not chunk:
                raise self._ended_early(left)
            chunks.append(chunk)
            wanted -= len(chunk)
            self._consumed(len(chunk))
        # One segment's read is returned as it is: no copy for the common case.
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def readall(self) -> bytes:
        return self.read(max(self._remaining, 0))

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._index < len(self._plan):
            handle, left = self._segment()
            count = handle.readinto(view[filled : filled + min(len(view) - filled, left)])
            if not count:
                raise self._ended_early(left)
            filled += count
            self._consumed(count)
        return filled

    def copy_into(
        self,
        fd: int,
        progress: Callable[[int], object] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> int:
        """Copy the rest of the range into the file open at ``fd`` (from its position
        on) inside the kernel where the system allows it (see
        :class:`~simsage.store.blobs.RangeCopier`), with the checks :meth:`read` makes.

        ``progress(n)`` is called after each piece of ``n`` bytes; between pieces the
        copy stops once ``cancelled()`` says so. Returns the number of bytes copied.

        Raises:
            DamagedObjectError: a blob file ended early or went missing.
            OSError: writing to ``fd`` failed.
        """
        copier = RangeCopier()
        copied = 0
        while self._index < len(self._plan):
            if cancelled is not None and cancelled():
                break
            handle, left = self._segment()
            position = handle.tell()
            count = copier.copy(handle.fileno(), position, fd, min(left, COPY_PIECE))
            if not count:
                raise self._ended_early(left)
            handle.seek(position + count)  # a read() after this goes on from here
            copied += count
            self._consumed(count)
            if progress is not None:
                progress(count)
        return copied

    def _segment(self) -> tuple[io.BufferedReader, int]:
        """The open file of the segment the read has reached, and its bytes left."""
        handle = self._files[self._index] or self._open_mid_read(self._index)
        self._files[self._index] = handle
        return handle, self._plan[self._index][2]

    def _consumed(self, count: int) -> None:
        """``count`` bytes of the current segment were read: move on."""
        blob_id, offset, left = self._plan[self._index]
        left -= count
        self._plan[self._index] = (blob_id, offset, left)
        self._remaining -= count
        if left == 0:
            self._files[self._index].close()
            self._files[self._index] = None
            self._index += 1

    def _ended_early(self, left: int) -> DamagedObjectError:
        # The file shrank after it was opened: the length check could not see it.
        blob_id = self._plan[self._index][0]
        return DamagedObjectError(
            self._damaged(f"its blob file {blob_id} ended {left} bytes early")
        )

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


def damage_describer(home: Path, name: str) -> Callable[[str], str]:
    """Builds the message of a damaged object ``name`` (``s3://bucket/key``) of the
    store at ``home``: what is wrong, and what to do."""

    def describe(what: str) -> str:
        return (
            f"The object {name} is damaged in the store at {home}: {what}. Its bytes cannot "
            f"be served as stored. Run `{doctor_command(home)}` to list every damaged "
            "object, then upload this one again or delete it."
        )

    return describe


def etag_of(digests: Sequence[bytes], multipart: bool) -> str:
    """S3's ETag of bytes whose parts have these MD5 digests: the MD5 itself for a
    single upload, the MD5 of the concatenated digests and ``-<parts>`` for multipart."""
    if multipart:
        return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
    return digests[0].hex() if len(digests) == 1 else ""


def read_verified(
    reader: io.RawIOBase,
    segments: Sequence[tuple[str, int]],
    etag: str,
    damaged: Callable[[str], str],
) -> bytes:
    """All the bytes of an object read from ``reader`` (over all of ``segments``),
    checked against its ``etag``.

    Raises:
        DamagedObjectError: they hash to something else.
    """
    chunks, digests = [], []
    for _, size in segments:
        chunk = reader.read(size)
        chunks.append(chunk)
        digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    actual = etag_of(digests, multipart="-" in etag)
    if actual != etag:
        raise DamagedObjectError(
            damaged(f"its bytes hash to {actual or 'another value'}, not to its ETag {etag}")
        )
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
