"""S3 state on the embedded store: buckets, objects, multipart uploads and parts.

Invariants:
- An object's bytes are either inline (small objects, a row of ``s3_inline`` written in
  the same transaction) or a list of immutable blob segments (a single PUT gives one,
  a completed multipart upload gives one per part, with no copy).
- A new version of an object is fully written (blob renamed into place) before the
  transaction that names it commits; the blobs it replaces are unlinked after the
  commit. A reader therefore sees the old bytes or the new bytes, never a mix, and a
  crash at any point leaves a consistent registry (at worst an unreferenced blob, which
  :meth:`simsage.store.BlobStore.sweep` removes later).
- Keys are rows, never paths: any key (``..``, ``//``, unicode, trailing ``/``) is stored
  as given, and keys ``a`` and ``a/b`` coexist. Listing follows the primary key, whose
  BINARY collation is UTF-8 byte order, S3's order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsage.errors import aws_error
from simsage.s3 import errors
from simsage.s3.names import etag_matches, prefix_upper_bound
from simsage.s3.streams import DamagedObjectError, SegmentReader, damage_describer, read_verified
from simsage.store.db import register_schema

INLINE_MAX = 64 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
MAX_COPY_SIZE = 5 * 1024**3
# Whole reads of objects up to this size are checked against their MD5 before they are
# served. MD5 costs 2-4 ms per MiB, several times a read from the page cache: at this
# size it adds at most ~0.5 ms, about one call's own overhead. Larger and ranged reads
# (download_file's parts) are checked by length only; `simsage doctor` hashes them all.
VERIFY_MAX = 256 * 1024

register_schema(
    """
    CREATE TABLE IF NOT EXISTS s3_buckets (
        name TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, created REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS s3_objects (
        bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        modified REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL,
        segments TEXT NOT NULL, inline_id INTEGER,
        PRIMARY KEY (bucket, key)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS s3_inline (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS s3_uploads (
        upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
        initiated REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, initiated);
    CREATE TABLE IF NOT EXISTS s3_parts (
        upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
        etag TEXT NOT NULL, modified REAL NOT NULL, blob TEXT NOT NULL,
        PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS s3_parts_by_blob ON s3_parts (blob)
    """
)


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    owner: str
    created: float


@dataclass
class StoredObject:
    """An object's registry row. ``etag`` is unquoted; ``attrs`` holds the system
    metadata (content_type, cache_control …) and ``metadata`` (user metadata)."""

    bucket: str
    key: str
    size: int
    etag: str
    modified: float
    storage_class: str
    attrs: dict[str, Any]
    segments: list[tuple[str, int]]
    inline: bytes | None = None

    @property
    def parts_count(self) -> int | None:
        return len(self.segments) if "-" in self.etag else None

    def part_range(self, part_number: int) -> tuple[int, int] | None:
        """Inclusive byte range of part ``part_number`` (1-based), or None if absent."""
        if self.parts_count is None:
            return (0, self.size - 1) if part_number == 1 else None
        if not 1 <= part_number <= len(self.segments):
            return None
        start = sum(size for _, size in self.segments[: part_number - 1])
        return start, start + self.segments[part_number - 1][1] - 1


@dataclass
class Part:
    part_number: int
    size: int
    etag: str
    modified: float


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    storage_class: str
    attrs: dict[str, Any]


@dataclass(frozen=True)
class ListedObject:
    """What a listing shows of an object."""

    key: str
    size: int
    etag: str
    modified: float
    storage_class: str


@dataclass
class ListPage:
    """One page of a listing: objects and common prefixes in S3 order."""

    objects: list[ListedObject] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned


def _read_up_to(stream, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = stream.read(limit - total)
        if not chunk:
            break
        if isinstance(chunk, str):
            chunk = chunk.encode()
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


class S3Backend:
    """S3 state of one home. Every method is safe to call from many threads and
    processes at once."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.blobs = home.blobs
        self.clock = home.clock
        self.ids = home.ids

    # -- buckets -------------------------------------------------------------------

    def create_bucket(self, name: str, region: str, owner: str) -> tuple[Bucket, bool]:
        """Create a bucket; returns it and whether it already existed (same owner)."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT name, region, owner, created FROM s3_buckets WHERE name = ?", (name,)
            ).fetchone()
            if row is not None:
                bucket = Bucket(*row)
                if bucket.owner != owner:
                    raise errors.BucketAlreadyExists(name)
                return bucket, True
            bucket = Bucket(name, region, owner, self.clock.time())
            conn.execute(
                "INSERT INTO s3_buckets (name, region, owner, created) VALUES (?, ?, ?, ?)",
                (bucket.name, bucket.region, bucket.owner, bucket.created),
            )
        return bucket, False

    def get_bucket(self, name: str) -> Bucket:
        row = self.db.query_one(
            "SELECT name, region, owner, created FROM s3_buckets WHERE name = ?", (name,)
        )
        if row is None:
            raise errors.NoSuchBucket(name)
        return Bucket(*row)

    def list_buckets(self) -> list[Bucket]:
        rows = self.db.query("SELECT name, region, owner, created FROM s3_buckets ORDER BY name")
        return [Bucket(*row) for row in rows]

    def delete_bucket(self, name: str) -> None:
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
                raise errors.NoSuchBucket(name)
            if conn.execute(
                "SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,)
            ).fetchone():
                raise errors.BucketNotEmpty(name)
            blobs = [
                row[0]
                for row in conn.execute(
                    "SELECT p.blob FROM s3_parts p JOIN s3_uploads u USING (upload_id) "
                    "WHERE u.bucket = ?",
                    (name,),
                )
            ]
            conn.execute(
                "DELETE FROM s3_parts WHERE upload_id IN "
                "(SELECT upload_id FROM s3_uploads WHERE bucket = ?)",
                (name,),
            )
            conn.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
        self.blobs.delete(blobs)

    def _require_bucket(self, conn, name: str) -> None:
        if not conn.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
            raise errors.NoSuchBucket(name)

    # -- objects -------------------------------------------------------------------

    _OBJECT_COLUMNS = (
        "o.bucket, o.key, o.size, o.etag, o.modified, o.storage_class, o.attrs, o.segments"
    )

    def get_object(self, bucket: str, key: str, with_data: bool = True) -> StoredObject:
        """The object's row (and its inline bytes when ``with_data``).

        Raises:
            NoSuchBucket, NoSuchKey.
        """
        if with_data:
            sql = (
                f"SELECT {self._OBJECT_COLUMNS}, i.data FROM s3_objects o "
                "LEFT JOIN s3_inline i ON i.id = o.inline_id WHERE o.bucket = ? AND o.key = ?"
            )
        else:
            sql = f"SELECT {self._OBJECT_COLUMNS}, NULL FROM s3_objects o WHERE bucket = ? AND key = ?"
        row = self.db.query_one(sql, (bucket, key))
        if row is None:
            self.get_bucket(bucket)
            raise errors.NoSuchKey(key)
        return self._object(row)

    @staticmethod
    def _object(row: tuple) -> StoredObject:
        bucket, key, size, etag, modified, storage_class, attrs, segments, data = row
        return StoredObject(
            bucket,
            key,
            size,
            etag,
            modified,
            storage_class,
            json.loads(attrs),
            [tuple(s) for s in json.loads(segments)],
            data,
        )

    def open_object(self, obj: StoredObject, start: int, end: int) -> io.RawIOBase:
        """A raw stream of bytes ``[start, end)`` of ``obj``.

        Every blob's length is checked as it is opened; a whole read of an object of at
        most ``VERIFY_MAX`` bytes is also checked against its ETag (its MD5, or the MD5
        of its parts' MD5s) before any byte is returned.

        Raises:
            FileNotFoundError: a blob was removed because the object was overwritten
                after ``obj`` was read; read the row again.
            DamagedObjectError: the stored bytes are not the row's (a blob file missing
                although the row still names it, of another length, or with another MD5).
        """
        if obj.inline is not None:
            return io.BytesIO(obj.inline[start:end])
        damaged = damage_describer(self.blobs.root.parent, f"s3://{obj.bucket}/{obj.key}")
        if sum(size for _, size in obj.segments) != obj.size:
            raise DamagedObjectError(damaged("its registry row lost its bytes (no blob, no data)"))
        try:
            reader = SegmentReader(
                obj.segments, self.blobs.open, start, end, pinner=self.blobs.pin, damaged=damaged
            )
        except FileNotFoundError as exc:
            if self._names_same_blobs(obj):  # no overwrite raced this read: a real loss
                missing = Path(exc.filename or "?").name
                raise DamagedObjectError(damaged(f"its blob file {missing} is missing")) from None
            raise
        if start == 0 and end == obj.size and 0 < obj.size <= VERIFY_MAX:
            with reader:
                return io.BytesIO(read_verified(reader, obj.segments, obj.etag, damaged))
        return reader

    def _names_same_blobs(self, obj: StoredObject) -> bool:
        row = self.db.query_one(
            "SELECT segments FROM s3_objects WHERE bucket = ? AND key = ?", (obj.bucket, obj.key)
        )
        return row is not None and [tuple(s) for s in json.loads(row[0])] == list(obj.segments)

    def read_object(self, bucket: str, key: str, byte_range=None):
        """Look up and open an object in one step, retrying if an overwrite races.

        ``byte_range(obj)`` returns the inclusive (start, end) to read, or None for all.
        Returns ``(obj, (start, end_exclusive), stream)``.

        Raises:
            NoSuchBucket, NoSuchKey, DamagedObjectError (InternalError).
        """
        for _ in range(10):
            obj = self.get_object(bucket, key)
            span = byte_range(obj) if byte_range else None
            start, end = (0, obj.size) if span is None else (span[0], span[1] + 1)
            try:
                return obj, (start, end), self.open_object(obj, start, end)
            except FileNotFoundError:
                continue
        raise aws_error(
            "InternalError",
            500,
            f"The object {key!r} was overwritten 10 times while being read; retry.",
        )

    def put_object(
        self,
        bucket: str,
        key: str,
        body,
        attrs: dict[str, Any],
        storage_class: str = "STANDARD",
        content_md5: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> StoredObject:
        """Store ``body`` (bytes or a stream) as ``bucket/key``.

        Raises:
            NoSuchBucket, BadDigest/InvalidDigest (Content-MD5), PreconditionFailed
            (If-Match / If-None-Match).
        """
        if body is None:
            body = b""
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        head = _read_up_to(stream, INLINE_MAX + 1)
        inline: bytes | None = None
        segments: list[tuple[str, int]] = []
        if len(head) <= INLINE_MAX:  # the commit's transaction checks the bucket
            inline, size = head, len(head)
            md5 = hashlib.md5(head, usedforsecurity=False)
        else:
            self.get_bucket(bucket)  # before writing a large body for nothing
            with self.blobs.writer() as writer:
                writer.write(head)
                writer.write_from(stream)
                md5, size = writer.md5, writer.size
                _check_md5(content_md5, md5)
                segments = [(writer.finish(), size)]
        if inline is not None:
            _check_md5(content_md5, md5)
        obj = StoredObject(
            bucket, key, size, md5.hexdigest(), self.clock.time(), storage_class, attrs, segments
        )
        try:
            self._commit_object(obj, inline, if_match=if_match, if_none_match=if_none_match)
        except BaseException:
            self.blobs.delete(blob for blob, _ in segments)
            raise
        return obj

    def _commit_object(
        self,
        obj: StoredObject,
        inline: bytes | None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        conn=None,
    ) -> None:
        """Insert or replace the row in one transaction (or in ``conn``'s), then unlink
        the blobs of the version it replaced."""
        if conn is None:
            with self.db.write() as conn:
                garbage = self._replace_row(conn, obj, inline, if_match, if_none_match)
        else:
            garbage = self._replace_row(conn, obj, inline, if_match, if_none_match)
        self.blobs.delete(garbage)

    def _replace_row(self, conn, obj, inline, if_match, if_none_match) -> list[str]:
        self._require_bucket(conn, obj.bucket)
        old = conn.execute(
            "SELECT etag, segments, inline_id FROM s3_objects WHERE bucket = ? AND key = ?",
            (obj.bucket, obj.key),
        ).fetchone()
        if if_none_match is not None and old is not None and etag_matches(if_none_match, old[0]):
            raise errors.PreconditionFailed("If-None-Match")
        if if_match is not None and (old is None or not etag_matches(if_match, old[0])):
            if old is None:
                raise errors.NoSuchKey(obj.key)
            raise errors.PreconditionFailed("If-Match")
        inline_id = None
        if inline is not None:
            inline_id = conn.execute("INSERT INTO s3_inline (data) VALUES (?)", (inline,)).lastrowid
        conn.execute(
            "INSERT OR REPLACE INTO s3_objects (bucket, key, size, etag, modified, "
            "storage_class, attrs, segments, inline_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                obj.bucket,
                obj.key,
                obj.size,
                obj.etag,
                obj.modified,
                obj.storage_class,
                json.dumps(obj.attrs),
                json.dumps(obj.segments),
                inline_id,
            ),
        )
        return self._release(conn, old)

    @staticmethod
    def _release(conn, old) -> list[str]:
        """Drop an old version's inline row; return its blob ids to unlink after commit."""
        if old is None:
            return []
        if old[2] is not None:
            conn.execute("DELETE FROM s3_inline WHERE id = ?", (old[2],))
        return [blob for blob, _ in json.loads(old[1])]

    def delete_objects(self, bucket: str, keys: list[str]) -> None:
        """Delete keys (missing ones are fine, as in S3)."""
        garbage: list[str] = []
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            for key in keys:
                old = conn.execute(
                    "SELECT etag, segments, inline_id FROM s3_objects WHERE bucket = ? AND key = ?",
                    (bucket, key),
                ).fetchone()
                if old is not None:
                    conn.execute(
                        "DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
                    )
                    garbage += self._release(conn, old)
        self.blobs.delete(garbage)

    def copy_object(
        self,
        source: StoredObject,
        bucket: str,
        key: str,
        attrs: dict[str, Any],
        storage_class: str,
    ) -> StoredObject:
        """Copy ``source`` (a row read just before) to ``bucket/key`` with new attrs.

        A single-segment source shares its blob through a hard link; a multipart source
        is rewritten as one blob, so the copy gets a plain MD5 ETag as S3 gives it.
        """
        if source.size > MAX_COPY_SIZE:
            raise errors.InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {MAX_COPY_SIZE}"
            )
        self.get_bucket(bucket)
        inline, segments, etag = source.inline, [], source.etag
        if inline is None:
            if source.parts_count is None:
                segments = [(self.blobs.clone(blob), size) for blob, size in source.segments]
            else:
                reader = self.open_object(source, 0, source.size)
                with reader, self.blobs.writer() as writer:
                    writer.write_from(reader)
                    segments, etag = [(writer.finish(), writer.size)], writer.md5.hexdigest()
        obj = StoredObject(
            bucket, key, source.size, etag, self.clock.time(), storage_class, attrs, segments
        )
        try:
            self._commit_object(obj, inline)
        except BaseException:
            self.blobs.delete(blob for blob, _ in segments)
            raise
        return obj

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        """Keys under ``prefix`` strictly after ``after``, rolled up at ``delimiter``.

        If ``after`` is itself a common prefix of this listing (a page ended on it), the
        keys it rolls up are skipped rather than repeated.
        """
        self.get_bucket(bucket)
        page = ListPage()
        if max_keys <= 0:
            return page
        upper = prefix_upper_bound(prefix) if prefix else None
        lower, inclusive = (after, False) if after >= prefix else (prefix, True)
        if delimiter and after and after.startswith(prefix) and after.endswith(delimiter):
            rest = after[len(prefix) :]
            # (an empty rest is the key equal to the prefix: an object, not a roll-up)
            if rest and rest.find(delimiter) == len(rest) - len(delimiter):
                skip = prefix_upper_bound(after)
                if skip is None:
                    return page
                lower, inclusive = skip, True
        count = 0
        while True:
            rows = self._object_rows(bucket, lower, inclusive, upper, max_keys - count + 1)
            for row in rows:
                if count == max_keys:  # one row more than asked for: there is a next page
                    page.truncated = True
                    return page
                count += 1
                key = row[0]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut < 0:
                    page.objects.append(ListedObject(*row))
                    page.last = key
                    continue
                common = key[: cut + len(delimiter)]
                page.prefixes.append(common)
                page.last = common
                lower, inclusive = prefix_upper_bound(common), True
                if lower is None:
                    return page
                break  # query again past every key the common prefix rolls up
            else:
                return page

    def _object_rows(self, bucket, lower, inclusive, upper, limit) -> list[tuple]:
        sql = (
            "SELECT key, size, etag, modified, storage_class "
            f"FROM s3_objects WHERE bucket = ? AND key {'>=' if inclusive else '>'} ?"
        )
        params: list[Any] = [bucket, lower]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return self.db.query(sql, params)

    # -- multipart uploads ---------------------------------------------------------

    def create_upload(
        self, bucket: str, key: str, attrs: dict[str, Any], storage_class: str
    ) -> Upload:
        upload = Upload(self.ids.token(), bucket, key, self.clock.time(), storage_class, attrs)
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            conn.execute(
                "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, storage_class, attrs) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (upload.upload_id, bucket, key, upload.initiated, storage_class, json.dumps(attrs)),
            )
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        row = self.db.query_one(
            "SELECT upload_id, bucket, key, initiated, storage_class, attrs FROM s3_uploads "
            "WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        )
        if row is None:
            self.get_bucket(bucket)
            raise errors.NoSuchUpload(upload_id)
        return Upload(*row[:5], json.loads(row[5]))

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body,
        content_md5: str | None = None,
    ) -> Part:
        """Store one part (replacing an earlier upload of the same number)."""
        _check_part_number(part_number)
        self.get_upload(bucket, key, upload_id)
        if body is None:
            body = b""
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        with self.blobs.writer() as writer:
            writer.write_from(stream)
            _check_md5(content_md5, writer.md5)
            blob = writer.finish()
        return self._commit_part(upload_id, bucket, key, part_number, blob, writer)

    def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        source: StoredObject,
        start: int,
        end: int,
    ) -> Part:
        """Store bytes ``[start, end]`` of ``source`` as a part."""
        _check_part_number(part_number)
        self.get_upload(bucket, key, upload_id)
        reader = self.open_object(source, start, end + 1)
        with reader, self.blobs.writer() as writer:
            writer.write_from(reader)
            blob = writer.finish()
        return self._commit_part(upload_id, bucket, key, part_number, blob, writer)

    def _commit_part(self, upload_id, bucket, key, part_number, blob, writer) -> Part:
        part = Part(part_number, writer.size, writer.md5.hexdigest(), self.clock.time())
        garbage = [blob]
        with self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM s3_uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone():
                old = conn.execute(
                    "SELECT blob FROM s3_parts WHERE upload_id = ? AND part_number = ?",
                    (upload_id, part_number),
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO s3_parts "
                    "(upload_id, part_number, size, etag, modified, blob) VALUES (?, ?, ?, ?, ?, ?)",
                    (upload_id, part_number, part.size, part.etag, part.modified, blob),
                )
                garbage = [old[0]] if old else []
        self.blobs.delete(garbage)
        if garbage == [blob]:  # aborted or completed while this part was being written
            raise errors.NoSuchUpload(upload_id)
        return part

    def list_parts(self, upload_id: str) -> list[Part]:
        rows = self.db.query(
            "SELECT part_number, size, etag, modified FROM s3_parts WHERE upload_id = ? "
            "ORDER BY part_number",
            (upload_id,),
        )
        return [Part(*row) for row in rows]

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, requested: list[tuple[int, str]]
    ) -> StoredObject:
        """Assemble the listed parts (in ascending order, ETags matching) into the object.

        Raises:
            MalformedXML (no parts), InvalidPartOrder, InvalidPart, EntityTooSmall,
            NoSuchUpload, NoSuchBucket.
        """
        if not requested:
            raise errors.MalformedXML("the request lists no parts")
        numbers = [number for number, _ in requested]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise errors.InvalidPartOrder()
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            row = conn.execute(
                "SELECT upload_id, bucket, key, initiated, storage_class, attrs FROM s3_uploads "
                "WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id, bucket, key),
            ).fetchone()
            if row is None:
                raise errors.NoSuchUpload(upload_id)
            upload = Upload(*row[:5], json.loads(row[5]))
            stored = {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT part_number, size, etag, blob FROM s3_parts WHERE upload_id = ?",
                    (upload_id,),
                )
            }
            segments, digests = [], []
            for i, (number, etag) in enumerate(requested):
                part = stored.get(number)
                if part is None or part[1] != etag.strip('"'):
                    raise errors.InvalidPart(number, etag)
                if i < len(requested) - 1 and part[0] < MIN_PART_SIZE:
                    raise errors.EntityTooSmall(part[0], MIN_PART_SIZE, number, etag)
                segments.append((part[2], part[0]))
                digests.append(binascii.unhexlify(part[1]))
            etag = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(segments)}"
            obj = StoredObject(
                bucket,
                key,
                sum(size for _, size in segments),
                etag,
                self.clock.time(),
                upload.storage_class,
                upload.attrs,
                segments,
            )
            used = {number for number in numbers}
            garbage = [part[2] for number, part in stored.items() if number not in used]
            conn.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))
            garbage += self._replace_row(conn, obj, None, None, None)
        self.blobs.delete(garbage)
        return obj

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            if not conn.execute(
                "SELECT 1 FROM s3_uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id, bucket, key),
            ).fetchone():
                raise errors.NoSuchUpload(upload_id)
            blobs = [
                r[0]
                for r in conn.execute("SELECT blob FROM s3_parts WHERE upload_id = ?", (upload_id,))
            ]
            conn.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))
        self.blobs.delete(blobs)

    def list_uploads(self, bucket: str, prefix: str = "") -> list[Upload]:
        """In-progress uploads under ``prefix``, by key then initiation time."""
        self.get_bucket(bucket)
        rows = self.db.query(
            "SELECT upload_id, bucket, key, initiated, storage_class, attrs FROM s3_uploads "
            "WHERE bucket = ? AND substr(key, 1, ?) = ? ORDER BY key, initiated, upload_id",
            (bucket, len(prefix), prefix),
        )
        return [Upload(*row[:5], json.loads(row[5])) for row in rows]


def _check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PARTS:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            part_number,
        )


def _check_md5(content_md5: str | None, md5) -> None:
    if content_md5 is None:
        return
    try:
        expected = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest(content_md5) from None
    if len(expected) != 16:
        raise errors.InvalidDigest(content_md5)
    if expected != md5.digest():
        raise errors.BadDigest()


# The sweep asks about every blob file. A scan of s3_objects per blob would make it
# quadratic (hours on a large store), so a snapshot of every referenced id, taken at
# most SNAPSHOT_SECONDS ago, answers "referenced"; "not referenced" is only ever
# answered by the exact query, so a blob committed after the snapshot is never lost.
SNAPSHOT_SECONDS = 30.0
_snapshots: dict[object, tuple[float, frozenset[str]]] = {}
_snapshots_lock = threading.Lock()


def blob_referenced(db, blob_id: str) -> bool:
    """Whether an object or a part names ``blob_id`` (for the blob sweep)."""
    key = getattr(db, "path", db)
    now = time.monotonic()
    with _snapshots_lock:
        taken, referenced = _snapshots.get(key, (-SNAPSHOT_SECONDS, frozenset()))
        if now - taken >= SNAPSHOT_SECONDS:
            referenced = _referenced_blobs(db)
            _snapshots[key] = (now, referenced)
    if blob_id in referenced:
        return True
    if db.query_one("SELECT 1 FROM s3_parts WHERE blob = ? LIMIT 1", (blob_id,)):
        return True
    pattern = f'%"{blob_id}"%'
    return (
        db.query_one("SELECT 1 FROM s3_objects WHERE segments LIKE ? LIMIT 1", (pattern,))
        is not None
    )


def _referenced_blobs(db) -> frozenset[str]:
    referenced = {row[0] for row in db.query("SELECT blob FROM s3_parts")}
    for (segments,) in db.query("SELECT segments FROM s3_objects WHERE segments != '[]'"):
        referenced.update(blob for blob, _ in json.loads(segments))
    return frozenset(referenced)
