"""Immutable blob files under ``<home>/blobs``.

A blob is written to ``tmp/<pid>-<id>``, flushed (and fsynced when durability is asked
for), then renamed to ``<id[:2]>/<id>``: a file at its final name is always complete.
Blob names are random ids, never user keys, so no key can reach outside the store.
A blob only becomes visible to readers when the registry commits a row naming it;
blobs are never modified afterwards, only unlinked, so a reader that opened one keeps
reading the same bytes even if the object is overwritten meanwhile.

Leftovers of crashed writers (temp files of dead processes, renamed blobs whose
commit never happened) are swept by :meth:`BlobStore.sweep`. The temp folder also
holds readers' pins (:meth:`BlobStore.pin`): hard links that keep an overwritten
blob's bytes readable until the read reaches them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

COPY_CHUNK = 8 * 1024 * 1024  # one read per boto3 part: fewer calls, hashing without the GIL


class BlobWriter:
    """Writes one blob, computing its MD5, its size and any further ``digests`` (objects
    with ``update``, such as S3's checksums) in the same pass over the bytes. Use as a
    context manager; :meth:`finish` renames the file into place and returns the blob id."""

    def __init__(self, store: BlobStore, blob_id: str, digests: Iterable = ()) -> None:
        self._store = store
        self.blob_id = blob_id
        self.tmp_path = store.tmp_dir / f"{os.getpid()}-{blob_id}"
        self._file = open(self.tmp_path, "wb", buffering=0)  # noqa: SIM115 - closed in finish/abort
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.digests = tuple(digests)
        self.size = 0
        self._done = False

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        # An unbuffered file may write less than asked (signals, huge writes): loop, or
        # the blob would silently miss bytes that the MD5 and size still count.
        written = 0
        while written < len(view):
            written += self._file.write(view[written:])
        self.md5.update(view)
        for digest in self.digests:
            digest.update(view)
        self.size += len(view)

    def write_from(self, stream, limit: int | None = None) -> None:
        """Copy ``stream`` (an object with ``read(n)``) until EOF or ``limit`` bytes."""
        remaining = limit
        while remaining is None or remaining > 0:
            chunk = stream.read(COPY_CHUNK if remaining is None else min(COPY_CHUNK, remaining))
            if not chunk:
                break
            if isinstance(chunk, str):
                chunk = chunk.encode()
            self.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)

    def finish(self) -> str:
        """Flush, rename into place and return the blob id."""
        if self._store.durable:
            os.fsync(self._file.fileno())
        self._file.close()
        final = self._store.path_of(self.blob_id)
        final.parent.mkdir(exist_ok=True)
        os.replace(self.tmp_path, final)
        self._done = True
        if self._store.durable:
            _fsync_dir(final.parent)
        return self.blob_id

    def abort(self) -> None:
        if not self._done:
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                self.tmp_path.unlink()
            self._done = True

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # A block that ends without finish() (an error, or an early return) leaves no file.
        self.abort()


class BlobStore:
    """The folder of blob files. ``new_id`` is injectable for deterministic tests."""

    def __init__(self, root: Path, new_id: Callable[[], str], durable: bool = False) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._new_id = new_id

    def path_of(self, blob_id: str) -> Path:
        # ids are ASCII alphanumerics we made: never a path separator, dot or user text
        if len(blob_id) < 8 or not (blob_id.isascii() and blob_id.isalnum()):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[:2] / blob_id

    def writer(self, digests: Iterable = ()) -> BlobWriter:
        return BlobWriter(self, self._new_id(), digests)

    def open(self, blob_id: str) -> io.BufferedReader:
        """Open a blob for reading (raises FileNotFoundError if it was deleted)."""
        return open(self.path_of(blob_id), "rb")  # noqa: SIM115 - the caller owns it

    def size(self, blob_id: str) -> int:
        return self.path_of(blob_id).stat().st_size

    def clone(self, blob_id: str) -> str:
        """A new blob with the same bytes: a hard link where the filesystem allows
        (blobs are immutable, so sharing the inode is safe), a copy otherwise."""
        new_id = self._new_id()
        target = self.path_of(new_id)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.path_of(blob_id), target)
            os.utime(target)  # a fresh mtime keeps sweep() off it until it is committed
        except FileNotFoundError:
            raise  # the source was deleted (overwritten meanwhile): the caller re-reads
        except OSError:
            tmp = self.tmp_dir / f"{os.getpid()}-{new_id}"
            try:
                shutil.copyfile(self.path_of(blob_id), tmp)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
        return new_id

    def pin(self, blob_id: str) -> Path | None:
        """A private hard link to a blob in the temp folder, so its bytes stay readable
        after the blob itself is unlinked (an overwrite). The caller removes the link;
        the sweep removes those of dead processes. Returns None where the filesystem
        has no hard links.

        Raises:
            FileNotFoundError: the blob is already gone.
        """
        pin = self.tmp_dir / f"{os.getpid()}-{self._new_id()}"
        try:
            os.link(self.path_of(blob_id), pin)
        except FileNotFoundError:
            raise
        except OSError:
            return None
        return pin

    def delete(self, blob_ids: Iterable[str]) -> None:
        for blob_id in blob_ids:
            with contextlib.suppress(FileNotFoundError):
                self.path_of(blob_id).unlink()

    def sweep(self, is_referenced: Callable[[str], bool], min_age: float = 600.0) -> int:
        """Remove temp files of dead writers and unreferenced blobs older than
        ``min_age`` seconds (younger ones may belong to a write about to commit).
        Returns how many files were removed."""
        removed = 0
        for tmp in self.tmp_dir.iterdir():
            pid = tmp.name.split("-", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                    removed += 1
        cutoff = time.time() - min_age
        for folder in self.root.iterdir():
            if folder == self.tmp_dir or not folder.is_dir():
                continue
            for blob in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if blob.stat().st_mtime < cutoff and not is_referenced(blob.name):
                        blob.unlink()
                        removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
