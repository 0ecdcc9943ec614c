"""Processing outputs: a job's output folders uploaded to simsage's S3, as
``ProcessingOutputConfig`` does on SageMaker.

Layer: runtime, used by the processing runner (one call per output). It knows folders and
S3's backend, never a job's records. Two modes, as ``S3Output.S3UploadMode`` says:

- ``EndOfJob``: :func:`upload_folder` after the job exits cleanly.
- ``Continuous``: :class:`ContinuousUpload` watches the folder while the job runs and
  uploads each file as it is closed after writing; ``finish()`` uploads the rest after a
  clean exit, ``stop()`` only stops watching (a stopped job).

Invariants:

- Every regular file below the folder lands at ``<prefix>/<its path relative to the
  folder, POSIX>``, with a content type guessed from its name (else
  ``application/octet-stream``). Empty folders upload nothing and are not an error.
- Symlinks, to files or folders, are neither uploaded nor followed (SageMaker: "symlinks
  are not uploaded"), and nothing is read outside ``within`` (the job folder): the walk
  is :func:`simsage.runtime.paths.files`, and each file is checked again (lstat, no
  symlink on the way) just before it is read. A job that swaps a file for a link in
  that instant is not defended against, as in :func:`simsage.runtime.staging.sync_up`.
- A file is uploaded as it is when it is read; a file that vanished first is skipped.
- A missing bucket is a :class:`~simsage.runtime.staging.DataError` whose message (the
  job's FailureReason) names the bucket and says to create it.

Why watchdog: it gives, behind one API, inotify on Linux — whose ``IN_CLOSE_WRITE``
(``FileClosedEvent``) is exactly "a file was closed after writing" — and each other
platform's native observer (FSEvents, ReadDirectoryChangesW), with recursive watches
that follow folders created during the run. Where no close event exists, a file is
uploaded once its (size, mtime) has been stable for ``settle`` seconds. watchdog is
imported only when a continuous upload starts: a runner without one never loads it.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import queue
import stat
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.runtime import paths, staging
from simsage.runtime.staging import DataError
from simsage.s3 import errors as s3_errors
from simsage.s3.backend import S3Backend
from simsage.s3.names import check_key

DEFAULT_CONTENT_TYPE = "application/octet-stream"
SETTLE_SECONDS = 1.0  # how long a file must stay unchanged where no close event exists
POLL_SECONDS = 1.0  # the polling observer's interval, where no native observer works

Stamp = tuple[int, int]  # (size, mtime_ns): what tells a rewritten file apart


class _MissingBucket(DataError):
    """The output bucket does not exist (raised even where other upload errors are only
    reported, since nothing of the output can reach S3)."""


def output_target(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → ``("bucket", "some/prefix")``.

    Raises:
        DataError: ``uri`` is not an ``s3://`` URI naming a bucket.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise DataError(
            f'ClientError: The output S3Uri "{uri}" is not an s3:// URI. Give the output '
            "location as s3://<bucket>/<prefix>."
        )
    bucket, prefix = staging.split_uri(uri)
    if not bucket:
        raise DataError(
            f'ClientError: The output S3Uri "{uri}" names no bucket. Give the output '
            "location as s3://<bucket>/<prefix>."
        )
    return bucket, prefix.rstrip("/")


def content_type(path: Path) -> str:
    """The content type an uploaded file gets: guessed from its name, else binary."""
    return mimetypes.guess_type(path.name)[0] or DEFAULT_CONTENT_TYPE


@dataclass(frozen=True)
class _Target:
    """Where one output goes: its URI as given, the bucket and the key prefix."""

    uri: str
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> _Target:
        return cls(uri, *output_target(uri))

    def key(self, relative: str) -> str:
        key = f"{self.prefix}/{relative}" if self.prefix else relative
        try:
            key.encode("utf-8")
            check_key(key)
        except UnicodeEncodeError:
            raise DataError(
                f"ClientError: Could not upload {relative!r} to {self.uri}: its name is not "
                "valid UTF-8, which S3 keys must be. Rename the file."
            ) from None
        except s3_errors.KeyTooLongError:
            raise DataError(
                f"ClientError: Could not upload {relative!r} to {self.uri}: its S3 key would "
                "be longer than the 1024 bytes S3 allows. Use a shorter path or prefix."
            ) from None
        return key

    def missing_bucket(self) -> _MissingBucket:
        return _MissingBucket(
            f"ClientError: Could not upload the output to {self.uri}: the bucket "
            f'"{self.bucket}" does not exist. Create it (for example s3.create_bucket('
            f'Bucket="{self.bucket}")) or give an existing bucket in the output\'s S3Uri.'
        )


def _upload_file(s3: S3Backend, target: _Target, folder: Path, relative: str, within: Path):
    """Upload ``folder/relative`` to its key; returns the (size, mtime) it had just before
    it was read, or None when it is gone or no longer a regular file inside ``within``.

    Raises:
        DataError: the bucket is missing, the key is invalid, or the file is unreadable.
    """
    path = folder / relative
    if not paths.inside(path.parent, within):  # a folder on the way became a symlink
        return None
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    key = target.key(relative)
    try:
        staging.upload(s3, path, target.bucket, key, content_type(path))
    except (FileNotFoundError, NotADirectoryError):  # removed meanwhile
        return None
    except s3_errors.NoSuchBucket:
        raise target.missing_bucket() from None
    except OSError as exc:
        raise DataError(
            f"ClientError: Could not read {relative!r} in the output folder to upload it to "
            f"{target.uri}: {exc.strerror or exc}."
        ) from None
    return (info.st_size, info.st_mtime_ns)


def upload_folder(
    s3: S3Backend,
    folder: Path,
    uri: str,
    within: Path,
    skip: Callable[[Path], bool] | None = None,
) -> int:
    """Upload every regular file below ``folder`` (S3UploadMode ``EndOfJob``).

    Args:
        s3: the store's S3 backend.
        folder: the output's LocalPath in the job folder.
        uri: the output's S3Uri; files land at ``<prefix>/<relative path>``.
        within: the job folder: nothing outside it is read (see the module invariants).
        skip: files (by path) not to upload, e.g. another output's folder inside this one.

    Returns:
        How many files were uploaded.

    Raises:
        DataError: ``uri`` is not an S3 URI, its bucket does not exist (checked at the
            first file: an empty folder needs no bucket), a file's key is invalid, or a
            file cannot be read.
    """
    target = _Target.parse(uri)
    count = 0
    for relative, path, _ in paths.files(folder, within):
        if skip is not None and skip(path):
            continue
        if _upload_file(s3, target, folder, relative, within) is not None:
            count += 1
    return count


def polling_observer(interval: float = POLL_SECONDS) -> Any:
    """A watchdog observer that polls with ``lstat``, so a symlinked folder is never
    walked (the default polling observer stats through links, and loops on a cycle)."""
    from watchdog.observers.polling import PollingObserverVFS

    return PollingObserverVFS(os.lstat, os.scandir, polling_interval=interval)


def _emits_close_events(observer: Any) -> bool:
    try:
        from watchdog.observers.inotify import InotifyObserver
    except Exception:  # not Linux, or a libc without inotify
        return False
    return isinstance(observer, InotifyObserver)


# watchdog event types → what the worker does with the path
_FINISHED = "finished"  # closed after writing, or renamed into place: upload now
_CREATED = "created"
_MODIFIED = "modified"
_OPENED = "opened"
_READ = "read"  # closed without writing
_EVENTS = {
    "closed": _FINISHED,
    "created": _CREATED,
    "modified": _MODIFIED,
    "opened": _OPENED,
    "closed_no_write": _READ,
}
_STOP = object()


class _Handler:
    """Turns watchdog's events into ``(what, path)`` items on a queue; it runs in the
    observer's thread, so it only queues (the uploads happen in the worker)."""

    def __init__(self, put: Callable[[Any], None]) -> None:
        self._put = put

    def dispatch(self, event: Any) -> None:
        if event.is_directory:  # watchdog itself adds watches for new folders
            return
        if event.event_type == "moved":
            self._put((_FINISHED, event.dest_path))
        elif event.event_type in _EVENTS:
            self._put((_EVENTS[event.event_type], event.src_path))


class ContinuousUpload:
    """S3UploadMode Continuous: files are uploaded as they are closed after writing, while
    the job runs; :meth:`finish` uploads whatever was written but not yet uploaded (a file
    still open at exit, a platform without close events) and stops watching.

    With close events (inotify): a closed or renamed-in file is uploaded at once, again
    each time it is closed after writing (its latest content). A file that appears
    without being opened here (moved in, or written in a new folder before its watch
    existed) is uploaded once its (size, mtime) has been stable for ``settle`` seconds.
    Without close events, every created or modified file is uploaded that way. Upload
    errors go to ``on_error`` (each message once) and never stop the watching.

    Args:
        s3: the store's S3 backend.
        folder: the output's LocalPath in the job folder (it should exist at start()).
        uri: the output's S3Uri.
        within: the job folder: nothing outside it is read.
        on_error: called with a message for an upload that failed (``ClientError: ...``),
            or for watching that could not start (the files are then uploaded by finish()).
        settle: seconds a file must stay unchanged where no close event tells it is done.
        observer: makes the watchdog observer (default: the platform's, or a polling one
            when it cannot watch); a polling observer has no close events.
    """

    def __init__(
        self,
        s3: S3Backend,
        folder: Path,
        uri: str,
        within: Path,
        on_error: Callable[[str], None],
        *,
        settle: float = SETTLE_SECONDS,
        observer: Callable[[], Any] | None = None,
    ) -> None:
        self.s3 = s3
        self.folder = folder
        self.uri = uri
        self.within = within
        self.on_error = on_error
        self.settle = settle
        self.make_observer = observer
        self._target: _Target | None = None
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._uploaded: dict[str, Stamp] = {}  # relative path → stamp of its last upload
        self._pending: dict[str, tuple[Stamp, float] | None] = {}  # waiting to be stable
        self._open: set[str] = set()  # created here and opened: a close event will come
        self._reported: set[str] = set()
        self._observer: Any = None
        self._worker: threading.Thread | None = None
        self._close_events = False
        self._watched: Path | None = None

    # -- the caller's side -------------------------------------------------------------

    @property
    def close_events(self) -> bool:
        """Whether the watcher sees files being closed (inotify) once started; without,
        files are uploaded once stable (for the job's log: how uploads are timed)."""
        return self._close_events

    def start(self) -> None:
        """Start watching ``folder`` (recursively).

        Raises:
            DataError: ``uri`` is not an S3 URI.
        """
        self._target = _Target.parse(self.uri)
        if not self.folder.is_dir() or not paths.inside(self.folder, self.within):
            return  # nothing can be watched; finish() uploads what appears meanwhile
        self._watched = Path(os.path.realpath(self.folder))  # as observers report paths
        self._observer = self._observe()
        self._close_events = _emits_close_events(self._observer)
        self._worker = threading.Thread(
            target=self._work, name=f"continuous upload {self.folder.name}", daemon=True
        )
        self._worker.start()

    def finish(self) -> int:
        """Stop watching, then upload every file not uploaded in its current state.

        Returns:
            How many files (distinct keys) were uploaded during the job.

        Raises:
            DataError: ``uri`` is not an S3 URI, or files remain that cannot be uploaded
                because the bucket does not exist. Other failures go to ``on_error``.
        """
        self.stop()
        if self._target is None:
            self._target = _Target.parse(self.uri)
        for relative, _, info in paths.files(self.folder, self.within):
            if self._uploaded.get(relative) != (info.st_size, info.st_mtime_ns):
                self._upload(relative, raise_missing_bucket=True)
        return len(self._uploaded)

    def stop(self) -> None:
        """Stop watching, with no final upload (the job was stopped: what was closed and
        uploaded stays in S3). Events already seen are still handled. Safe to call again,
        and after :meth:`finish`."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._worker is not None:
            self._events.put(_STOP)  # after every event the observer queued
            self._worker.join()
            self._worker = None

    # -- watching ------------------------------------------------------------------------

    def _observe(self) -> Any:
        makers = [self.make_observer] if self.make_observer else []
        makers += [_native_observer, polling_observer]
        problem: Exception | None = None
        for make in makers:
            try:
                observer = make()
            except ImportError as exc:  # an environment installed without watchdog
                problem = exc
                continue
            try:
                observer.schedule(_Handler(self._events.put), str(self._watched), recursive=True)
                observer.start()
            except OSError as exc:  # e.g. the user's inotify watch limit is reached
                problem = exc
                with contextlib.suppress(Exception):
                    observer.stop()
                continue
            return observer
        self._report(
            f"Could not watch the output folder for {self.uri} ({problem}); its files are "
            "uploaded when the job ends."
        )
        return None

    def _work(self) -> None:
        """The worker thread: uploads what the events say, and stable pending files."""
        checked = time.monotonic()
        while True:
            try:
                item = self._events.get(timeout=self.settle / 4 if self._pending else None)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            try:
                if item is not None:
                    self._on_event(*item)
                if self._pending and time.monotonic() - checked >= self.settle / 4:
                    checked = time.monotonic()
                    self._upload_stable()
            except Exception as exc:  # a bug here must not end the watching
                self._report(f"Continuous upload to {self.uri} failed: {exc!r}")

    def _on_event(self, what: str, raw_path: bytes | str) -> None:
        relative = self._relative(raw_path)
        if relative is None:
            return
        if what == _FINISHED:
            self._pending.pop(relative, None)
            self._open.discard(relative)
            self._upload(relative)
        elif not self._close_events:
            if what in (_CREATED, _MODIFIED):
                self._pending[relative] = None
        elif what == _CREATED:
            self._pending[relative] = None
        elif what == _OPENED and relative in self._pending:
            # The writer has it open: its close event will upload it.
            del self._pending[relative]
            self._open.add(relative)
        elif what == _READ and relative in self._open:
            # Only read, never written: wait for it to be stable instead.
            self._open.discard(relative)
            self._pending[relative] = None

    def _relative(self, raw_path: bytes | str) -> str | None:
        try:
            relative = Path(os.fsdecode(raw_path)).relative_to(self._watched)
        except ValueError:
            return None
        return relative.as_posix() if relative.parts else None

    def _upload_stable(self) -> None:
        now = time.monotonic()
        for relative, seen in list(self._pending.items()):
            try:
                info = (self.folder / relative).lstat()
            except OSError:  # removed meanwhile
                del self._pending[relative]
                continue
            stamp = (info.st_size, info.st_mtime_ns)
            if not stat.S_ISREG(info.st_mode):
                del self._pending[relative]
            elif seen is None or seen[0] != stamp:
                self._pending[relative] = (stamp, now)
            elif now - seen[1] >= self.settle:
                del self._pending[relative]
                if self._uploaded.get(relative) != stamp:
                    self._upload(relative)

    def _upload(self, relative: str, raise_missing_bucket: bool = False) -> None:
        try:
            stamp = _upload_file(self.s3, self._target, self.folder, relative, self.within)
        except _MissingBucket as exc:
            if raise_missing_bucket:
                raise
            self._report(str(exc))
            return
        except DataError as exc:
            self._report(str(exc))
            return
        if stamp is not None:
            self._uploaded[relative] = stamp

    def _report(self, message: str) -> None:
        if message in self._reported:
            return
        self._reported.add(message)
        with contextlib.suppress(Exception):  # the caller's logger must not stop uploads
            self.on_error(message)


def _native_observer() -> Any:
    from watchdog.observers import Observer

    # inotify: a folder made with its parent (mkdir -p) may be registered twice, the second
    # time with the same callback; watchdog warns though nothing is lost. Not for job logs.
    warnings.filterwarnings(
        "ignore", r"Callback with id '.*' already exists for watch", RuntimeWarning
    )
    return Observer()
