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
- Versions (noncurrent objects, delete markers) follow
  :mod:`simsage.s3.versioning`: ``s3_objects`` holds each key's current object only.
- Keys are rows, never paths: any key (``..``, ``//``, unicode, trailing ``/``) is stored
  as given, and keys ``a`` and ``a/b`` coexist. Listing follows the primary key, whose
  BINARY collation is UTF-8 byte order, S3's order.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsage.errors import aws_error
from simsage.ids import from_epoch
from simsage.s3 import checksums, errors
from simsage.s3.listing import KeyWalk
from simsage.s3.names import prefix_upper_bound
from simsage.s3.records import Bucket, ListedObject, ListPage, Part, StoredObject, Upload
from simsage.s3.streams import DamagedObjectError, SegmentReader, damage_describer, read_verified
from simsage.s3.uploads import MAX_PARTS, MIN_PART_SIZE, UploadStore, ensure_part_checksums
from simsage.s3.versioning import VERSION_COLUMNS, VersionStore, shown_version, stored_version
from simsage.store.db import register_schema
from simsage.transport.handler import http_date

INLINE_MAX = 64 * 1024
MAX_COPY_SIZE = 5 * 1024**3
# Whole reads of objects up to this size are checked against their MD5 before they are
# served. MD5 costs 2-4 ms per MiB, several times a read from the page cache: at this
# size it adds at most ~0.5 ms, about one call's own overhead. Larger and ranged reads
# (download_file's parts) are checked by length only; `simsage doctor` hashes them all.
VERIFY_MAX = 256 * 1024

__all__ = [
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "Bucket",
    "ListPage",
    "ListedObject",
    "Part",
    "S3Backend",
    "StoredObject",
    "Upload",
]

register_schema(
    """
    CREATE TABLE IF NOT EXISTS s3_buckets (
        name TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, created REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS s3_objects (
        bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        modified REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL,
        segments TEXT NOT NULL, inline_id INTEGER,
        checksum_algorithm TEXT, checksum_type TEXT,
        version_id TEXT, seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bucket, key)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS s3_inline (id INTEGER PRIMARY KEY, data BLOB NOT NULL)
    """
)
# What a listing shows of each object's checksum, also kept in attrs: columns of their
# own, since reading them out of attrs' JSON made listings ~15% slower. Stores made
# before them get them filled from attrs.
LISTING_COLUMNS = {"checksum_algorithm": "TEXT", "checksum_type": "TEXT"}
LISTING_FILL = (
    "UPDATE s3_objects SET checksum_algorithm = json_extract(attrs, '$.checksum.algorithm'), "
    "checksum_type = json_extract(attrs, '$.checksum.type')"
)
# A bucket's configurations (``tagging``, ``encryption`` …), one JSON document each:
# a table of its own, so stores made before it get it on open, without a migration.
register_schema(
    """
    CREATE TABLE IF NOT EXISTS s3_bucket_settings (
        bucket TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (bucket, kind)) WITHOUT ROWID
    """
)


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


class S3Backend(VersionStore, UploadStore):
    """S3 state of one home. Every method is safe to call from many threads and
    processes at once. Multipart uploads are in :class:`~simsage.s3.uploads.UploadStore`,
    versions and delete markers in :class:`~simsage.s3.versioning.VersionStore`."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.blobs = home.blobs
        self.clock = home.clock
        self.ids = home.ids
        ensure_part_checksums(self.db)
        self.db.add_columns("s3_objects", LISTING_COLUMNS, LISTING_FILL)
        self.db.add_columns("s3_objects", VERSION_COLUMNS)

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
            for table in ("s3_objects", "s3_versions"):  # versions and markers count
                if conn.execute(
                    f"SELECT 1 FROM {table} WHERE bucket = ? LIMIT 1", (name,)
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
            conn.execute("DELETE FROM s3_bucket_settings WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
        self.blobs.delete(blobs)

    def _require_bucket(self, conn, name: str) -> None:
        if not conn.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
            raise errors.NoSuchBucket(name)

    @staticmethod
    def _bucket_setting(conn, bucket: str, kind: str) -> Any | None:
        row = conn.execute(
            "SELECT b.name, s.value FROM s3_buckets b LEFT JOIN s3_bucket_settings s "
            "ON s.bucket = b.name AND s.kind = ? WHERE b.name = ?",
            (kind, bucket),
        ).fetchone()
        if row is None:
            raise errors.NoSuchBucket(bucket)
        return None if row[1] is None else json.loads(row[1])

    # -- objects -------------------------------------------------------------------

    _OBJECT_COLUMNS = (
        "o.bucket, o.key, o.size, o.etag, o.modified, o.storage_class, o.attrs, o.segments, "
        "o.version_id"
    )

    def get_object(
        self, bucket: str, key: str, with_data: bool = True, version: str | None = None
    ) -> StoredObject:
        """The current object's row, or with ``version`` (a request's VersionId,
        ``"null"`` included) that version's (and its inline bytes when ``with_data``).

        Raises:
            NoSuchBucket; NoSuchKey (with ``x-amz-delete-marker`` headers when a delete
            marker hides the key); NoSuchVersion, InvalidArgument (a malformed id),
            MethodNotAllowed (the version is a delete marker).
        """
        data = "i.data" if with_data else "NULL"
        join = "LEFT JOIN s3_inline i ON i.id = o.inline_id" if with_data else ""
        if version is None:
            sql = (
                f"SELECT {self._OBJECT_COLUMNS}, v.value IS NOT NULL, {data} FROM s3_objects o "
                "LEFT JOIN s3_bucket_settings v ON v.bucket = o.bucket AND v.kind = 'versioning' "
                f"{join} WHERE o.bucket = ? AND o.key = ?"
            )
            row = self.db.query_one(sql, (bucket, key))
            if row is None:
                self.get_bucket(bucket)
                missing = errors.NoSuchKey(key)
                marker = self.latest_marker(bucket, key)
                if marker is not False:
                    missing.headers = {
                        "x-amz-delete-marker": "true",
                        "x-amz-version-id": shown_version(marker),
                    }
                raise missing
            return self._object(row)
        version_id = stored_version(version)
        for table, marker in (("s3_objects", "0"), ("s3_versions", "o.marker")):
            row = self.db.query_one(
                f"SELECT {self._OBJECT_COLUMNS}, 1, {data}, {marker} FROM {table} o {join} "
                "WHERE o.bucket = ? AND o.key = ? AND o.version_id IS ?",
                (bucket, key, version_id),
            )
            if row is not None:
                break
        else:
            self.get_bucket(bucket)
            raise errors.NoSuchVersion(key, version)
        if row[-1]:
            raise errors.MethodNotAllowed(
                "GET",
                {
                    "x-amz-delete-marker": "true",
                    "x-amz-version-id": version,
                    "last-modified": http_date(from_epoch(row[4])),
                },
            )
        return self._object(row[:-1])

    @staticmethod
    def _object(row: tuple) -> StoredObject:
        bucket, key, size, etag, modified, storage_class, attrs, segments = row[:8]
        version_id, versioned, data = row[8:]
        return StoredObject(
            bucket,
            key,
            size,
            etag,
            modified,
            storage_class,
            json.loads(attrs),
            [] if segments == "[]" else [tuple(s) for s in json.loads(segments)],  # inline
            data,
            version_id,
            bool(versioned),
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
        """Whether some version of ``obj``'s key still names its blobs."""
        rows = self.db.query(
            "SELECT segments FROM s3_objects WHERE bucket = ? AND key = ? "
            "UNION ALL SELECT segments FROM s3_versions WHERE bucket = ? AND key = ?",
            (obj.bucket, obj.key, obj.bucket, obj.key),
        )
        return any([tuple(s) for s in json.loads(row[0])] == list(obj.segments) for row in rows)

    def read_object(self, bucket: str, key: str, byte_range=None, version: str | None = None):
        """Look up and open an object (the current one, or ``version``) in one step,
        retrying if an overwrite races.

        ``byte_range(obj)`` returns the inclusive (start, end) to read, or None for all.
        Returns ``(obj, (start, end_exclusive), stream)``.

        Raises:
            NoSuchBucket, NoSuchKey, DamagedObjectError (InternalError), and for a
            ``version`` those of :meth:`get_object`.
        """
        for _ in range(10):
            obj = self.get_object(bucket, key, version=version)
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
        checksum: str = checksums.DEFAULT,
        expected_checksum: str | None = None,
        encryption: Callable[[Any], dict[str, Any]] | None = None,
    ) -> StoredObject:
        """Store ``body`` (bytes or a stream) as ``bucket/key``, with its ``checksum``
        (an algorithm of :data:`simsage.s3.checksums.ALGORITHMS`) computed in the same
        pass as the MD5 and kept in ``attrs["checksum"]``. ``encryption(rules)``, given
        the bucket's encryption setting (None for the default), gives ``attrs["sse"]``.

        Raises:
            NoSuchBucket, BadDigest/InvalidDigest (Content-MD5), BadDigest (the
            ``expected_checksum`` is not the bytes'), PreconditionFailed (If-Match /
            If-None-Match).
        """
        if body is None:
            body = b""
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        head = _read_up_to(stream, INLINE_MAX + 1)
        inline: bytes | None = None
        segments: list[tuple[str, int]] = []
        digest = checksums.hasher(checksum)
        if len(head) <= INLINE_MAX:  # the commit's transaction checks the bucket
            inline, size = head, len(head)
            md5 = hashlib.md5(head, usedforsecurity=False)
            digest.update(head)
            checksums.check_md5(content_md5, md5)
            value = checksums.encode(digest.digest())
            checksums.verify(checksum, expected_checksum, value)
        else:
            self.get_bucket(bucket)  # before writing a large body for nothing
            with self.blobs.writer([digest]) as writer:
                writer.write(head)
                writer.write_from(stream)
                md5, size = writer.md5, writer.size
                checksums.check_md5(content_md5, md5)
                value = checksums.encode(digest.digest())
                checksums.verify(checksum, expected_checksum, value)
                segments = [(writer.finish(), size)]
        attrs = {
            **attrs,
            "checksum": {"algorithm": checksum, "type": checksums.FULL_OBJECT, "value": value},
        }
        obj = StoredObject(
            bucket, key, size, md5.hexdigest(), self.clock.time(), storage_class, attrs, segments
        )
        try:
            with self.db.write() as conn:
                status = self.versioning_status(conn, bucket)  # also checks the bucket
                if encryption is not None:
                    attrs["sse"] = encryption(self._bucket_setting(conn, bucket, "encryption"))
                garbage = self._replace_row(conn, obj, inline, if_match, if_none_match, status)
            self.blobs.delete(garbage)
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

    def copy_object(
        self,
        source: StoredObject,
        bucket: str,
        key: str,
        attrs: dict[str, Any],
        storage_class: str,
        checksum: str | None = None,
    ) -> StoredObject:
        """Copy ``source`` (a row read just before) to ``bucket/key`` with new attrs.

        A single-segment source shares its blob through a hard link; a multipart source
        is rewritten as one blob, so the copy gets a plain MD5 ETag as S3 gives it. The
        copy keeps the source's checksum unless ``checksum`` names an algorithm to
        compute; a rewritten multipart source gets a FULL_OBJECT checksum of its
        algorithm, computed while it is rewritten.
        """
        if source.size > MAX_COPY_SIZE:
            raise errors.InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {MAX_COPY_SIZE}"
            )
        self.get_bucket(bucket)
        kept = source.checksum
        if checksum is None and kept is not None and kept["type"] == checksums.FULL_OBJECT:
            kept = {"algorithm": kept["algorithm"], "type": kept["type"], "value": kept["value"]}
        else:
            checksum = checksum or (kept or {}).get("algorithm") or checksums.DEFAULT
            kept = None
        digest = checksums.hasher(checksum) if kept is None else None
        inline, segments, etag = source.inline, [], source.etag
        if inline is not None:
            if digest is not None:
                digest.update(inline)
        elif source.parts_count is None and digest is None:
            segments = [(self.blobs.clone(blob), size) for blob, size in source.segments]
        else:
            reader = self.open_object(source, 0, source.size)
            with reader, self.blobs.writer([digest] if digest else []) as writer:
                writer.write_from(reader)
                segments, etag = [(writer.finish(), writer.size)], writer.md5.hexdigest()
        attrs = dict(attrs)
        attrs["checksum"] = kept or {
            "algorithm": checksum,
            "type": checksums.FULL_OBJECT,
            "value": checksums.encode(digest.digest()),
        }
        obj = StoredObject(
            bucket, key, source.size, etag, self.clock.time(), storage_class, attrs, segments
        )
        try:
            self._commit_object(obj, inline)
        except BaseException:
            self.blobs.delete(blob for blob, _ in segments)
            raise
        return obj

    def set_object_tags(
        self, bucket: str, key: str, tags: list[list[str]], version: str | None = None
    ) -> StoredObject:
        """Replace the tags of an object (the current one, or ``version``); its bytes,
        ETag and LastModified stay as they are. Returns the object as it was.

        Raises:
            as :meth:`get_object`.
        """
        with self.db.write() as conn:
            obj = self.get_object(bucket, key, with_data=False, version=version)
            for table in ("s3_objects", "s3_versions"):
                conn.execute(
                    f"UPDATE {table} SET attrs = json_set(attrs, '$.tags', json(?)) "
                    "WHERE bucket = ? AND key = ? AND version_id IS ? AND etag = ?",
                    (json.dumps(tags), bucket, key, obj.version_id, obj.etag),
                )
        return obj

    # -- bucket settings -------------------------------------------------------------

    def get_setting(self, bucket: str, kind: str) -> Any | None:
        """A bucket's ``kind`` configuration (``tagging``, ``encryption``), or None.

        Raises:
            NoSuchBucket.
        """
        return self._bucket_setting(self.db.connection(), bucket, kind)

    def put_setting(self, bucket: str, kind: str, value: Any | None) -> None:
        """Store (or with None, remove) a bucket's ``kind`` configuration."""
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            if value is None:
                conn.execute(
                    "DELETE FROM s3_bucket_settings WHERE bucket = ? AND kind = ?", (bucket, kind)
                )
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO s3_bucket_settings (bucket, kind, value) "
                    "VALUES (?, ?, ?)",
                    (bucket, kind, json.dumps(value)),
                )

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
        upper = prefix_upper_bound(prefix) if prefix else None
        lower, inclusive = (after, False) if after >= prefix else (prefix, True)

        def fetch(lower: str, inclusive: bool, limit: int) -> list[tuple]:
            return self._object_rows(bucket, lower, inclusive, upper, limit)

        walk = KeyWalk(fetch, prefix, delimiter, lower, inclusive, max_keys)
        objects, prefixes = page.objects, page.prefixes
        for rows, common in walk:
            if rows:
                objects.extend(map(ListedObject._make, rows))
                page.last = rows[-1][0]
            if common is not None:
                prefixes.append(common)
                page.last = common
        page.truncated = walk.truncated
        return page

    def _object_rows(self, bucket, lower, inclusive, upper, limit) -> list[tuple]:
        sql = (
            "SELECT key, size, etag, modified, storage_class, checksum_algorithm, checksum_type "
            f"FROM s3_objects WHERE bucket = ? AND key {'>=' if inclusive else '>'} ?"
        )
        params: list[Any] = [bucket, lower]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return self.db.query(sql, params)
