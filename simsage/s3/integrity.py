"""What S3 keeps in the store, checked against the blob folder (for ``simsage doctor``).

Every object row and every part of an in-progress upload says which bytes it stands
for: inline bytes, or blob segments ``(blob_id, size)``, and an ETag that records their
MD5 (a single upload's ETag is the MD5 of its bytes; a multipart object's is the MD5 of
its parts' MD5s, then ``-<parts>``). :func:`check` compares what is on disk with that.

These functions read the registry through a plain ``sqlite3`` connection and never
write: the doctor uses them on a store it has not opened (it may be one simsage refuses
to open). :func:`blob_referenced` answers the blob sweep of an open store the same way.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simsage.s3.streams import etag_of

HASH_CHUNK = 8 * 1024 * 1024


@dataclass
class StoredBytes:
    """One object (or upload part) as its row describes it."""

    label: str  # s3://bucket/key, or s3://bucket/key (upload …, part n)
    bucket: str
    key: str
    size: int
    etag: str
    segments: list[tuple[str, int]]
    inline: bytes | None = None
    inline_lost: bool = False  # the row names an inline row that is gone
    upload_part: tuple[str, int] | None = None  # (upload id, part number)
    version_seq: int | None = None  # a noncurrent version: its seq in s3_versions


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def iter_stored(conn: sqlite3.Connection) -> Iterator[StoredBytes]:
    """Every object and every stored upload part, in key order."""
    tables = _tables(conn)
    if "s3_objects" in tables:
        join = "LEFT JOIN s3_inline i ON i.id = o.inline_id" if "s3_inline" in tables else ""
        data = "i.data, i.id IS NULL" if join else "NULL, 1"
        rows = conn.execute(
            f"SELECT o.bucket, o.key, o.size, o.etag, o.segments, o.inline_id, {data} "
            f"FROM s3_objects o {join} ORDER BY o.bucket, o.key"
        )
        for bucket, key, size, etag, segments, inline_id, inline, missing in rows:
            yield StoredBytes(
                f"s3://{bucket}/{key}",
                bucket,
                key,
                size,
                etag,
                [tuple(s) for s in json.loads(segments)],
                inline=inline,
                inline_lost=inline_id is not None and bool(missing),
            )
    if "s3_versions" in tables:  # noncurrent versions (delete markers have no bytes)
        join = "LEFT JOIN s3_inline i ON i.id = v.inline_id" if "s3_inline" in tables else ""
        data = "i.data, i.id IS NULL" if join else "NULL, 1"
        rows = conn.execute(
            f"SELECT v.bucket, v.key, v.size, v.etag, v.segments, v.inline_id, {data}, "
            f"v.version_id, v.seq FROM s3_versions v {join} WHERE v.marker = 0 "
            "ORDER BY v.bucket, v.key, v.seq DESC"
        )
        for bucket, key, size, etag, segments, inline_id, inline, missing, vid, seq in rows:
            yield StoredBytes(
                f"s3://{bucket}/{key} (version {vid or 'null'})",
                bucket,
                key,
                size,
                etag,
                [tuple(s) for s in json.loads(segments)],
                inline,
                inline_lost=inline_id is not None and bool(missing),
                version_seq=seq,
            )
    if {"s3_parts", "s3_uploads"} <= tables:
        rows = conn.execute(
            "SELECT u.bucket, u.key, p.upload_id, p.part_number, p.size, p.etag, p.blob "
            "FROM s3_parts p JOIN s3_uploads u USING (upload_id) "
            "ORDER BY u.bucket, u.key, p.upload_id, p.part_number"
        )
        for bucket, key, upload_id, number, size, etag, blob in rows:
            yield StoredBytes(
                f"s3://{bucket}/{key} (upload {upload_id[:12]}…, part {number})",
                bucket,
                key,
                size,
                etag,
                [(blob, size)],
                upload_part=(upload_id, number),
            )


def referenced_blobs(conn: sqlite3.Connection) -> set[str]:
    """Every blob id an object (current or noncurrent version) or a part names
    (including parts of lost uploads)."""
    tables = _tables(conn)
    referenced: set[str] = set()
    if "s3_parts" in tables:
        referenced.update(row[0] for row in conn.execute("SELECT blob FROM s3_parts"))
    for table in ("s3_objects", "s3_versions"):
        if table in tables:
            for (segments,) in conn.execute(f"SELECT segments FROM {table} WHERE segments != '[]'"):
                referenced.update(blob for blob, _ in json.loads(segments))
    return referenced


# The sweep asks about every blob file. A scan of s3_objects per blob would make it
# quadratic (hours on a large store), so a snapshot of every referenced id, taken at
# most SNAPSHOT_SECONDS ago, answers "referenced"; "not referenced" is only ever
# answered by the exact query, so a blob committed after the snapshot is never lost.
SNAPSHOT_SECONDS = 30.0
_snapshots: dict[object, tuple[float, frozenset[str]]] = {}
_snapshots_lock = threading.Lock()


def blob_referenced(db, blob_id: str) -> bool:
    """Whether an object or a part names ``blob_id``, for the blob sweep of an open
    store (``db``, a :class:`~simsage.store.Database`)."""
    key = getattr(db, "path", db)
    now = time.monotonic()
    with _snapshots_lock:
        taken, referenced = _snapshots.get(key, (-SNAPSHOT_SECONDS, frozenset()))
        if now - taken >= SNAPSHOT_SECONDS:
            referenced = frozenset(referenced_blobs(db.connection()))
            _snapshots[key] = (now, referenced)
    if blob_id in referenced:
        return True
    if db.query_one("SELECT 1 FROM s3_parts WHERE blob = ? LIMIT 1", (blob_id,)):
        return True
    pattern = f'%"{blob_id}"%'
    return any(
        db.query_one(f"SELECT 1 FROM {table} WHERE segments LIKE ? LIMIT 1", (pattern,)) is not None
        for table in ("s3_objects", "s3_versions")
    )


def check(item: StoredBytes, path_of: Callable[[str], Path], hash_bytes: bool = True) -> str | None:
    """What is wrong with ``item``'s stored bytes, or None if they are sound.

    Lengths are always checked; with ``hash_bytes`` every byte is read and its MD5
    compared with the ETag.
    """
    if item.inline is not None:
        if hash_bytes and "-" not in item.etag:
            actual = hashlib.md5(item.inline, usedforsecurity=False).hexdigest()
            if actual != item.etag:
                return f"its inline bytes hash to {actual}, not to its ETag {item.etag}"
        return None
    if item.inline_lost and item.size:
        return "its registry row lost its bytes (the inline data row is gone)"
    if sum(size for _, size in item.segments) != item.size:
        return "its registry row lost its bytes (its segments do not add up to its size)"
    digests = []
    for number, (blob_id, size) in enumerate(item.segments, start=1):
        where = f"blob file {blob_id}" + (
            f" (segment {number} of {len(item.segments)})" if len(item.segments) > 1 else ""
        )
        path = path_of(blob_id)
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            return f"its {where} is missing"
        if actual != size:
            return f"its {where} holds {actual} bytes, the registry says {size}"
        if hash_bytes:
            digests.append(_md5_of(path))
    if hash_bytes and item.segments:
        actual_etag = etag_of(digests, multipart="-" in item.etag)
        if actual_etag != item.etag:
            return (
                f"its bytes hash to {actual_etag or 'another value'}, not to its ETag {item.etag}"
            )
    return None


def still_stored(conn: sqlite3.Connection, item: StoredBytes) -> bool:
    """Whether ``item``'s row still names the same bytes (a problem found while the
    store is in use may only be an overwrite that raced the check)."""
    if item.upload_part is not None:
        row = conn.execute(
            "SELECT blob, etag FROM s3_parts WHERE upload_id = ? AND part_number = ?",
            item.upload_part,
        ).fetchone()
        return row is not None and (row[0], row[1]) == (item.segments[0][0], item.etag)
    if item.version_seq is not None:
        row = conn.execute(
            "SELECT segments, etag FROM s3_versions WHERE bucket = ? AND key = ? AND seq = ?",
            (item.bucket, item.key, item.version_seq),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT segments, etag FROM s3_objects WHERE bucket = ? AND key = ?",
            (item.bucket, item.key),
        ).fetchone()
    return (
        row is not None
        and row[1] == item.etag
        and [tuple(s) for s in json.loads(row[0])] == item.segments
    )


def _md5_of(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.digest()


def index_problems(conn: sqlite3.Connection) -> list[str]:
    """What is wrong in S3's rows themselves (not in the blobs they name)."""
    return [
        f"bucket {name!r} has objects or uploads but no bucket record (they cannot be listed)"
        for name in buckets_without_row(conn)
    ]


def rebuild(conn: sqlite3.Connection, region: str, account_id: str, now: float) -> list[str]:
    """Rebuild what :func:`index_problems` reports; returns what was done."""
    names = buckets_without_row(conn)
    if not names:
        return []
    with conn:
        conn.executemany(
            "INSERT OR IGNORE INTO s3_buckets (name, region, owner, created) VALUES (?, ?, ?, ?)",
            [(name, region, account_id, now) for name in names],
        )
    return [f"recreated the record of bucket {name!r} (in {region})" for name in names]


def buckets_without_row(conn: sqlite3.Connection) -> list[str]:
    """Buckets that objects or uploads name but whose own row is gone (a salvaged index
    may have lost it): their objects can be read by key but not listed."""
    tables = _tables(conn)
    if not {"s3_buckets", "s3_objects", "s3_uploads"} <= tables:
        return []
    versions = "UNION SELECT bucket FROM s3_versions " if "s3_versions" in tables else ""
    rows = conn.execute(
        "SELECT bucket FROM s3_objects UNION SELECT bucket FROM s3_uploads "
        f"{versions}EXCEPT SELECT name FROM s3_buckets ORDER BY 1"
    )
    return [row[0] for row in rows]
