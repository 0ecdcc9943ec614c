"""Immutable blob files under ``<home>/blobs``.

A blob is written to ``tmp/<pid>-<id>``, flushed (and fsynced when durability is asked
for), then renamed to ``<id[:2]>/<id>``: a file at its final name is always complete.
Blob names are random ids, never user keys, so no key can reach outside the store.
A blob only becomes visible to readers when the registry commits a row naming it;
blobs are never modified afterwards, only unlinked, so a reader that opened one keeps
reading the same bytes even if the object is overwritten meanwhile.

The temp folder holds two kinds of files, told apart by name:

- ``<pid>-<id>``: a blob being written. Its writer holds an exclusive ``flock`` on it
  for as long as it writes, so a temp file whose lock can be taken belongs to a dead
  writer, whatever pid the system has given out since (:meth:`BlobStore.reclaim_temp`,
  run on every open of the home, removes those);
- ``pin-<pid>-<id>``: a reader's pin (:meth:`BlobStore.pin`), a hard link that keeps an
  overwritten blob's bytes readable until the read reaches them. Pins are not held open
  (that is their point), so they are kept while their pid is alive: a reused pid keeps
  a dead reader's pin a little longer, never removes a live one.

Renamed blobs whose commit never happened are removed by :meth:`BlobStore.sweep`,
which the home runs only once the index is known to be this blob folder's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil

# Bytes per read of a body being written (and its MD5 and checksums, which release the
# GIL for it): small enough to stay in the CPU cache from the write to the last hash (and
# for boto3's 10 parts in flight to hold 20 MiB, not 80), large enough that the calls
# cost nothing next to the hashing (2 MiB made 200 MiB uploads ~8% faster than 8 MiB).
COPY_CHUNK = 2 * 1024 * 1024
PIN_PREFIX = "pin-"
# A writer creates its temp file, then locks it: a file whose lock is free is only taken
# for a live writer's if it is this young (and its pid alive).
TEMP_GRACE = 60.0
# What a system says when it cannot copy between two files one way (another filesystem,
# an old kernel, a file type it does not handle): the next way is tried.
_COPY_REFUSED = frozenset(
    {
        errno.EXDEV,
        errno.EINVAL,
        errno.ENOSYS,
        errno.EOPNOTSUPP,
        errno.ENOTSUP,
        errno.EBADF,
        errno.ENOTSOCK,  # sendfile of systems that send files only to sockets (macOS)
    }
)


class BlobWriter:
    """Writes one blob, computing its MD5, its size and any further ``digests`` (objects
    with ``update``, such as S3's checksums) in the same pass over the bytes. Use as a
    context manager; :meth:`finish` renames the file into place and returns the blob id."""

    def __init__(self, store: BlobStore, blob_id: str, digests: Iterable = ()) -> None:
        self._store = store
        self.blob_id = blob_id
        self.tmp_path = store.tmp_dir / f"{os.getpid()}-{blob_id}"
        self._file = open(self.tmp_path, "xb", buffering=0)  # noqa: SIM115 - closed in finish/abort
        try:
            # Held until the file is renamed or unlinked: the mark of a live writer. (It
            # blocks only while a reclaimer looks at the new file and lets it go.)
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        except BaseException:
            self._file.close()
            self.tmp_path.unlink()
            raise
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
        final = self._store.path_of(self.blob_id)
        final.parent.mkdir(exist_ok=True)
        # Renamed while still locked: a reclaimer never sees an unlocked temp file of a
        # writer that is about to finish.
        os.replace(self.tmp_path, final)
        self._file.close()
        self._done = True
        if self._store.durable:
            fsync_dir(final.parent)
        return self.blob_id

    def abort(self) -> None:
        if not self._done:
            with contextlib.suppress(FileNotFoundError):
                self.tmp_path.unlink()
            self._file.close()
            self._done = True

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # A block that ends without finish() (an error, or an early return) leaves no file.
        self.abort()


class RangeCopier:
    """Copies byte ranges between two open files inside the kernel where the system
    allows it, so no byte passes through a Python object and the GIL is free meanwhile:
    ``copy_file_range`` (page cache to page cache, or shared extents where the
    filesystem can), else ``sendfile`` (any two files on Linux, such as two filesystems
    ``copy_file_range`` will not span), else ``pread`` and ``write``.

    One copier per copy job: it remembers the ways the system refused, so each refusal
    costs one failed call."""

    def __init__(self) -> None:
        self._ways = [
            way
            for way, name in (
                (_copy_file_range, "copy_file_range"),
                (_sendfile, "sendfile"),
                (_pread_write, "pread"),
            )
            if hasattr(os, name)
        ]

    def copy(self, source: int, offset: int, target: int, count: int) -> int:
        """Copy up to ``count`` bytes from ``offset`` of file descriptor ``source`` to
        ``target`` at its position (which advances; the source's does not move).
        Returns the number copied: 0 only at the end of the source."""
        while True:
            try:
                copied = self._ways[0](source, offset, target, count)
            except OSError as exc:
                if exc.errno not in _COPY_REFUSED or len(self._ways) == 1:
                    raise
                self._ways.pop(0)
                continue
            if copied or len(self._ways) == 1 or os.fstat(source).st_size <= offset:
                return copied
            # Nothing copied although the source goes on: a file this way does not
            # handle (some kernels answer 0 rather than an error), not the end.
            self._ways.pop(0)


def _copy_file_range(source: int, offset: int, target: int, count: int) -> int:
    return os.copy_file_range(source, target, count, offset)


def _sendfile(source: int, offset: int, target: int, count: int) -> int:
    return os.sendfile(target, source, offset, count)


def _pread_write(source: int, offset: int, target: int, count: int) -> int:
    data = memoryview(os.pread(source, min(count, COPY_CHUNK), offset))
    written = 0
    while written < len(data):  # a write may take less than it is given
        written += os.write(target, data[written:])
    return len(data)


class BlobStore:
    """The folder of blob files. ``new_id`` is injectable for deterministic tests."""

    def __init__(self, root: Path, new_id: Callable[[], str], durable: bool = False) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._new_id = new_id

    def path_of(self, blob_id: str) -> Path:
        return blob_path(self.root, blob_id)

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
            with self.open(blob_id) as source, BlobWriter(self, new_id) as writer:
                writer.write_from(source)
                writer.finish()
        return new_id

    def pin(self, blob_id: str) -> Path | None:
        """A private hard link to a blob in the temp folder, so its bytes stay readable
        after the blob itself is unlinked (an overwrite). The caller removes the link;
        the sweep removes those of dead processes. Returns None where the filesystem
        has no hard links.

        Raises:
            FileNotFoundError: the blob is already gone.
        """
        pin = self.tmp_dir / f"{PIN_PREFIX}{os.getpid()}-{self._new_id()}"
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

    def reclaim_temp(self) -> int:
        """Remove the temp files of dead writers and the pins of dead readers (one
        listing of the temp folder: cheap enough for every open). Returns how many."""
        return sum(_unlink(path) for path in self.dead_temp())

    def dead_temp(self) -> list[Path]:
        """Temp files whose writer (or pinning reader) is gone, for removal or report."""
        return dead_temp_files(self.tmp_dir)

    def blob_files(self) -> Iterator[Path]:
        """Every file at a blob's place (``<id[:2]>/<id>``), committed or not."""
        return iter_blob_files(self.root)

    def sweep(
        self,
        is_referenced: Callable[[str], bool],
        min_age: float = 600.0,
        dispose: Callable[[list[Path]], None] | None = None,
    ) -> int:
        """Remove temp files of dead writers, and dispose of unreferenced blobs older
        than ``min_age`` seconds (younger ones may belong to a write about to commit):
        ``dispose(paths)`` moves them aside, or, without it, they are unlinked.
        Returns how many files went. Only for a blob folder whose index is known to be
        its own: ``is_referenced`` is the only judge of a blob."""
        removed = self.reclaim_temp()
        cutoff = time.time() - min_age
        orphans = []
        for blob in self.blob_files():
            with contextlib.suppress(FileNotFoundError):
                if blob.stat().st_mtime < cutoff and not is_referenced(blob.name):
                    orphans.append(blob)
        if dispose is not None:
            dispose(orphans)
        else:
            for blob in orphans:
                with contextlib.suppress(FileNotFoundError):
                    blob.unlink()
        return removed + len(orphans)


def blob_path(root: Path, blob_id: str) -> Path:
    """Where blob ``blob_id`` lives under ``root``."""
    # ids are ASCII alphanumerics we made: never a path separator, dot or user text
    if len(blob_id) < 8 or not (blob_id.isascii() and blob_id.isalnum()):
        raise ValueError(f"not a blob id: {blob_id!r}")
    return root / blob_id[:2] / blob_id


def dead_temp_files(tmp_dir: Path) -> list[Path]:
    """Entries of the temp folder whose writer (or pinning reader) is gone."""
    now = time.time()
    try:
        entries = list(tmp_dir.iterdir())
    except FileNotFoundError:
        return []
    return [path for path in entries if _temp_is_dead(path, now)]


def iter_blob_files(root: Path) -> Iterator[Path]:
    """Files in the blob folders of ``root`` (every sub-folder but ``tmp``)."""
    try:
        folders = sorted(root.iterdir())
    except FileNotFoundError:
        return
    for folder in folders:
        if folder.name == "tmp" or not folder.is_dir():
            continue
        with contextlib.suppress(FileNotFoundError):
            yield from (blob for blob in sorted(folder.iterdir()) if blob.is_file())


def _temp_is_dead(path: Path, now: float) -> bool:
    """Whether a temp-folder entry belongs to a process that is gone (foreign names: no)."""
    name = path.name
    if name.startswith(PIN_PREFIX):
        pid = name[len(PIN_PREFIX) :].split("-", 1)[0]
        return pid.isdigit() and not psutil.pid_exists(int(pid))
    pid = name.split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError):
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer holds the lock: alive, however old the file
        young = now - os.fstat(fd).st_mtime < TEMP_GRACE
        return not (young and psutil.pid_exists(int(pid)))
    finally:
        os.close(fd)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename or a new file in it survives a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
