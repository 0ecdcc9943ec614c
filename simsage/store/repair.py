"""Repairing a store without deleting what it cannot account for (``simsage doctor``).

- :func:`move_aside` renames a damaged ``state.db`` (with its ``-wal``) to
  ``state.db.damaged-<time>``: it is kept, never overwritten.
- :func:`salvage_rows` copies every row SQLite can still read from such a file into a
  new database. It works on a copy whose header is mended (the magic string, and the
  page count, so that a truncated file is read up to where it ends) and scans each table
  forwards then backwards, so that the rows on both sides of a bad page are kept.
- :func:`move_to_lost_and_found` moves blob files into ``lost+found/<time>/`` with a
  listing (size, time, what the bytes look like, the first bytes), so that the user can
  tell them apart and upload them again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
LOST_AND_FOUND = "lost+found"
LISTING_NAME = "LISTING.txt"


def stamp() -> str:
    """A UTC time for file names (``20260102-030405``)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(2, 1000):
        candidate = path.with_name(f"{path.name}-{n}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)


def move_aside(index: Path, suffix: str) -> Path:
    """Rename ``index`` (and its ``-wal``; the ``-shm`` is rebuilt by SQLite) to
    ``<name>.<suffix>``; returns the new path of the database file."""
    target = _free_name(index.with_name(f"{index.name}.{suffix}"))
    os.replace(index, target)
    wal = index.with_name(index.name + "-wal")
    if wal.exists():
        os.replace(wal, target.with_name(target.name + "-wal"))
    with contextlib.suppress(FileNotFoundError):
        index.with_name(index.name + "-shm").unlink()
    return target


@dataclass
class Salvage:
    """What :func:`salvage_rows` copied: rows per table, the tables it could not read to
    the end (rows may be missing there), and why nothing could be read, if so."""

    rows: dict[str, int] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)
    error: str = ""

    def summary(self) -> str:
        """``salvaged 12 rows of 3 tables (rows may be missing from t)``."""
        if self.error:
            return f"could salvage nothing ({self.error})"
        total = sum(self.rows.values())
        text = f"salvaged {total} rows of {len(self.rows)} tables"
        if self.incomplete:
            text += f" (rows may be missing from {', '.join(sorted(self.incomplete))})"
        return text


def salvage_rows(damaged: Path, target: Path) -> Salvage:
    """Copy every readable row of the database ``damaged`` into a new database at
    ``target`` (which must not exist). ``damaged`` itself is only read."""
    result = Salvage()
    work = _free_name(target.with_name(f".{target.name}.salvage"))
    shutil.copyfile(damaged, work)
    wal = damaged.with_name(damaged.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, work.with_name(work.name + "-wal"))
    try:
        _mend_header(work)
        source = sqlite3.connect(work)
        try:
            try:
                schema = source.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                    "AND name NOT LIKE 'sqlite_%'"
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                result.error = f"SQLite: {exc}"
                schema = []
            _copy(source, schema, target, result)
        finally:
            source.close()
    finally:
        for leftover in (work, *(work.with_name(work.name + s) for s in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return result


def _mend_header(path: Path) -> None:
    """Restore the magic string, drop a partial last page, and make SQLite take the page
    count from the file's length rather than the header (it is only trusted when bytes
    92-95 equal the change counter at 24-27).

    A file cut in the middle of a page keeps that page's cell pointers but loses the
    cell contents stored at the page's end: SQLite would read the cells it still points
    at as rows of garbage rather than report them, so the partial page goes."""
    with open(path, "r+b") as handle:
        header = handle.read(100)
        if len(header) < 100:
            return
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size >= 512 and page_size & (page_size - 1) == 0:
            length = handle.seek(0, os.SEEK_END)
            if length % page_size:
                handle.truncate(length - length % page_size)
        if header[:16] != SQLITE_MAGIC:
            handle.seek(0)
            handle.write(SQLITE_MAGIC)
        counter = int.from_bytes(header[24:28], "big")
        handle.seek(92)
        handle.write(((counter + 1) & 0xFFFFFFFF).to_bytes(4, "big"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy(source: sqlite3.Connection, schema: list[tuple], target: Path, result: Salvage) -> None:
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        dest.execute("PRAGMA journal_mode=WAL")
        dest.execute("BEGIN")
        for kind, name, sql in schema:
            if kind == "table":
                dest.execute(sql)
                result.rows[name] = _copy_table(source, dest, name, sql, result)
        for kind, _, sql in schema:
            if kind == "index":
                with contextlib.suppress(sqlite3.DatabaseError):  # rebuilt by its schema
                    dest.execute(sql)
        dest.execute("COMMIT")
    finally:
        dest.close()


def _copy_table(source, dest, name: str, sql: str, result: Salvage) -> int:
    """Rows of one table, forwards then (past a bad page) backwards."""
    try:
        columns = source.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
    except sqlite3.DatabaseError:
        result.incomplete.append(name)
        return 0
    keys = [row[1] for row in sorted(columns, key=lambda c: c[5]) if row[5]]
    order = ", ".join(_quote(k) for k in keys) if "WITHOUT ROWID" in sql.upper() else "rowid"
    insert = f"INSERT OR IGNORE INTO {_quote(name)} VALUES ({', '.join('?' * len(columns))})"
    copied = 0
    for direction in ("ASC", "DESC"):
        try:
            for row in source.execute(f"SELECT * FROM {_quote(name)} ORDER BY {order} {direction}"):
                copied += dest.execute(insert, row).rowcount
            if direction == "ASC":
                return copied  # read to the end: nothing is missing
        except sqlite3.DatabaseError:
            if name not in result.incomplete:
                result.incomplete.append(name)
    return copied


# -- lost+found ------------------------------------------------------------------------

_MAGIC = (
    (b"\x1f\x8b", "gzip data (a model.tar.gz?)"),
    (b"PK\x03\x04", "zip archive"),
    (b"PAR1", "Parquet file"),
    (b"\x93NUMPY", "NumPy array (.npy)"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ", "xz data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (SQLITE_MAGIC, "SQLite database"),
)


def looks_like(head: bytes) -> str:
    """A cheap guess at what bytes are, from their first bytes."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar archive"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "Python pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is still text
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "binary data"
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            return "JSON text"
        first = text.split("\n", 1)[0]
        return "CSV text" if "," in first else "text"
    return "binary data"


def move_to_lost_and_found(
    home: Path, blobs: list[Path], reason: str, by: str = "`simsage doctor --repair`"
) -> Path | None:
    """Move ``blobs`` into ``<home>/lost+found/<time>/`` and write its listing; returns
    the folder (None if there was nothing to move). ``by`` names who moved them."""
    if not blobs:
        return None
    folder = _free_name(home / LOST_AND_FOUND / stamp())
    folder.mkdir(parents=True)
    lines = [
        f"# Blob files of the store at {home} that {reason},",
        f"# moved here by {by} on {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}.",
        "# Each file holds the bytes of one object (or one part of a multipart upload).",
        "# Put one back with: simsage s3 cp <file> s3://<bucket>/<key>",
        "# file\tbytes\tmodified (UTC)\tlooks like\tfirst bytes",
    ]
    for blob in sorted(blobs):
        try:
            info = blob.stat()
            with open(blob, "rb") as handle:
                head = handle.read(512)
        except FileNotFoundError:
            continue
        os.replace(blob, folder / blob.name)
        modified = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info.st_mtime))
        lines.append(f"{blob.name}\t{info.st_size}\t{modified}\t{looks_like(head)}\t{head[:24]!r}")
    (folder / LISTING_NAME).write_text("\n".join(lines) + "\n")
    return folder
