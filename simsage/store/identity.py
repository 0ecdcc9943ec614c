"""The store id that pairs the index (``state.db``) with its blob folder.

A new store writes one random id in both places: the ``store_id`` row of the ``meta``
table and ``blobs/store.json``. Every open checks them (:func:`open_pairing`) before
anything is written or swept, under the home's lock (``store.lock``):

- the ids match: the store opens;
- nothing can be lost (no index, or an index with no tables, and no blob file), or the
  index is one an older simsage wrote (a ``meta`` row, no id) beside an unmarked blob
  folder: the id is written to both;
- anything else (index missing, empty, replaced, truncated or not a database; an index
  of another store; a blob folder missing, unmarked or marked for another store) raises
  :class:`~simsage.store.errors.StoreDamaged` saying what was found and how to recover,
  and modifies nothing: the sweep, which only trusts the index, can never run on it.

Reading the index here uses a plain SQLite connection opened in ``rw`` mode, so a
missing ``state.db`` is never created as an empty one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simsage.store.blobs import fsync_dir, iter_blob_files
from simsage.store.db import register_schema
from simsage.store.errors import StoreDamaged, doctor_command, is_damage

INDEX_NAME = "state.db"
BLOBS_NAME = "blobs"
MARKER_NAME = "store.json"
LOCK_NAME = "store.lock"
META_DDL = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)"

log = logging.getLogger("simsage.store")

register_schema(META_DDL)


@dataclass
class IndexState:
    """What ``state.db`` is. ``status``: ``sound`` (SQLite reads its schema and ``meta``),
    ``missing`` or ``unreadable`` (``error`` says why)."""

    path: Path
    status: str
    size: int = 0
    store_id: str | None = None
    tables: int = 0
    has_meta_rows: bool = False
    error: str = ""

    def describe(self) -> str:
        if self.status == "missing":
            return f"the index {self.path} is missing"
        if self.status == "unreadable":
            return (
                f"the index {self.path} ({self.size} bytes) is not a readable SQLite "
                f"database ({self.error})"
            )
        if self.size == 0 and not self.tables:
            return f"the index {self.path} is empty (0 bytes)"
        if self.store_id is None:
            return f"the index {self.path} has no store id ({self.tables} tables: new or replaced)"
        return f"the index {self.path} belongs to store {self.store_id}"


@dataclass
class BlobFolderState:
    """What ``blobs/`` is: whether it exists, the id its marker carries (or why the
    marker is unreadable), and, when counted, how many blob files and bytes it holds."""

    root: Path
    exists: bool
    store_id: str | None = None
    marker_error: str = ""
    files: int = 0
    bytes: int = 0

    def describe(self) -> str:
        holds = f"{self.files} blob files ({size_text(self.bytes)})"
        if not self.exists:
            return f"the blob folder {self.root} is missing"
        if self.marker_error:
            return f"the blob folder {self.root} holds {holds}; its {MARKER_NAME} is unreadable ({self.marker_error})"
        if self.store_id is None:
            return f"the blob folder {self.root} holds {holds} and has no store id"
        return f"the blob folder {self.root} belongs to store {self.store_id} and holds {holds}"


def inspect_index(path: Path, keep: list | None = None) -> IndexState:
    """Look at ``state.db`` without creating or changing it. With ``keep`` (a list), a
    sound index's connection is appended to it, left open (autocommit), instead of
    being closed: closing the last connection checkpoints and removes the WAL, which
    costs more than the check itself."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return IndexState(path, "missing")
    uri = f"file:{urllib.parse.quote(str(path))}?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
    except sqlite3.OperationalError:
        if not path.exists():
            return IndexState(path, "missing")
        raise
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        rows: dict[str, str] = {}
        if "meta" in tables:
            rows = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        state = IndexState(
            path,
            "sound",
            size=size,
            store_id=rows.get("store_id"),
            tables=len(tables),
            has_meta_rows=bool(rows),
        )
    except sqlite3.DatabaseError as exc:
        conn.close()
        if not is_damage(exc):
            raise
        return IndexState(path, "unreadable", size=size, error=str(exc))
    except BaseException:
        conn.close()
        raise
    if keep is None:
        conn.close()
    else:
        keep.append(conn)
    return state


def inspect_blob_folder(root: Path, count: bool = False) -> BlobFolderState:
    """Look at ``blobs/`` and its marker; with ``count``, also count its blob files."""
    state = BlobFolderState(root, root.is_dir())
    try:
        state.store_id = str(json.loads((root / MARKER_NAME).read_text())["store_id"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        state.marker_error = f"{type(exc).__name__}: {exc}"
    if count:
        for blob in iter_blob_files(root):
            with contextlib.suppress(FileNotFoundError):
                state.bytes += blob.stat().st_size
                state.files += 1
    return state


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """The home's lock: held (briefly) by every open and by ``simsage doctor --repair``."""
    with open(home / LOCK_NAME, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def open_pairing(home: Path, new_id: Callable[[], str]) -> tuple[str, sqlite3.Connection | None]:
    """Check that ``home``'s index and blob folder are one store's (creating the id of
    a new or older store). Returns the store id and, when the index was sound, the open
    connection the check used (for :class:`~simsage.store.Database` to keep).

    Raises:
        StoreDamaged: they are not; nothing was modified.
    """
    with home_lock(home):
        kept: list[sqlite3.Connection] = []
        index = inspect_index(home / INDEX_NAME, keep=kept)
        blobs = inspect_blob_folder(home / BLOBS_NAME)
        if index.status == "sound" and index.store_id and index.store_id == blobs.store_id:
            return index.store_id, kept[0]
        for conn in kept:
            conn.close()
        problem = diagnose(index, blobs)
        if problem is not None:
            raise StoreDamaged(home, damage_message(home, problem))
        store_id = write_store_id(home, new_id(), replace_marker=False)
        if index.has_meta_rows:
            log.info("%s: store of an older simsage, now marked as store %s", home, store_id)
        return store_id, None


def check_pairing(home: Path, store_id: str) -> None:
    """Raise :class:`StoreDamaged` unless both places still carry ``store_id``."""
    index = inspect_index(home / INDEX_NAME)
    blobs = inspect_blob_folder(home / BLOBS_NAME)
    if index.status == "sound" and index.store_id == store_id == blobs.store_id:
        return
    problem = diagnose(index, blobs) or "the store changed while it was open"
    raise StoreDamaged(home, damage_message(home, problem))


def diagnose(index: IndexState, blobs: BlobFolderState) -> str | None:
    """What is wrong with this pair (counting the blob files when it matters), or None
    when they match or may be paired with a new id without losing anything."""
    if index.status == "sound" and index.store_id and index.store_id == blobs.store_id:
        return None
    if index.status == "unreadable":
        return index.describe()
    counted = inspect_blob_folder(blobs.root, count=True)
    if counted.marker_error:
        return f"{index.describe()}, and {counted.describe()}"
    if index.status == "sound" and index.store_id:
        if counted.store_id is None and not counted.exists:
            return f"{counted.describe()} ({index.describe()})"
        if counted.store_id is None:
            return f"{counted.describe()}, while {index.describe()}"
        return f"{index.describe()}, but {counted.describe()}: the index is another store's"
    if counted.store_id is not None:
        return f"{index.describe()}, but {counted.describe()}"
    if index.has_meta_rows:
        return None  # an older simsage's store: its index accounts for its blobs
    if counted.files:
        return f"{index.describe()}, but {counted.describe()}"
    return None  # a new store


def damage_message(home: Path, problem: str) -> str:
    return (
        f"The store at {home} cannot be used safely: {problem}. simsage refuses to open it "
        "(it would show an empty or wrong store) and sweeps nothing from it. If you have "
        f"the original {INDEX_NAME}, put it back while simsage is stopped. Otherwise run "
        f"`{doctor_command(home)}` to see what is there, then "
        f"`{doctor_command(home, repair=True)}`: it rebuilds what can be rebuilt (the "
        "readable rows of a damaged index, kept beside the new one) and moves every blob it "
        f"cannot account for into {home / 'lost+found'}; it deletes nothing."
    )


def write_store_id(home: Path, store_id: str, replace_marker: bool) -> str:
    """Write ``store_id`` to the index (if it has none) and to the blob folder's marker
    (if it has none, or always with ``replace_marker``). Returns the id both carry.

    Raises:
        StoreDamaged: the marker carries another id (and ``replace_marker`` is false).
    """
    conn = sqlite3.connect(home / INDEX_NAME, isolation_level=None, timeout=60.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(META_DDL)
        conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('store_id', ?)", (store_id,))
        (store_id,) = conn.execute("SELECT value FROM meta WHERE name = 'store_id'").fetchone()
        conn.execute("COMMIT")
    finally:
        conn.close()
    root = home / BLOBS_NAME
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER_NAME
    tmp = root / f".{MARKER_NAME}.{os.getpid()}"
    body = {"store_id": store_id, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp.write_text(json.dumps(body) + "\n")
    try:
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # the marker is what every later open trusts
        if replace_marker:
            os.replace(tmp, marker)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, marker)  # never overwrite a marker another process wrote
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(root)
    found = inspect_blob_folder(root).store_id
    if found != store_id:
        raise StoreDamaged(
            home, damage_message(home, f"the blob folder {root} belongs to store {found}")
        )
    return store_id


def size_text(count: int) -> str:
    """``1234567`` as ``1.2 MiB``."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"
