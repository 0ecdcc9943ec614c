"""S3 versioning on the embedded store: version rows, delete markers, null versions.

Part of :class:`simsage.s3.backend.S3Backend` (a mixin over its ``db``, ``blobs`` and
``clock``). Layout and invariants:

- ``s3_objects`` keeps, for each key, its *current* version when that is an object
  (never a delete marker). Listings and plain GETs read only this table, so they cost
  what they cost before versioning.
- ``s3_versions`` keeps every other version: noncurrent objects and all delete markers
  (current or not). Its rows have the columns of ``s3_objects`` plus ``marker``.
- Within a key, ``seq`` orders versions (higher is newer). A row of ``s3_objects`` is
  always newer than every ``s3_versions`` row of its key; when it goes, the newest
  remaining version becomes current (moved back) unless that is a delete marker.
- ``version_id`` NULL is S3's ``null`` version: what a bucket that was never versioned,
  or is suspended, writes. A key has at most one null version; a suspended write (or
  delete) replaces it wherever it is.
- A bucket's versioning status (``Enabled``/``Suspended``) is its ``versioning``
  setting; a bucket that never had one is unversioned and keeps no ``s3_versions`` rows.
- A version's blobs are named by its row alone (copies hard-link into new blob ids), so
  they are unlinked after the commit that drops the row, and only then.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from simsage.s3 import errors
from simsage.s3.names import etag_matches
from simsage.store.db import register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS s3_versions (
        bucket TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, version_id TEXT,
        marker INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        modified REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL,
        segments TEXT NOT NULL, inline_id INTEGER,
        checksum_algorithm TEXT, checksum_type TEXT,
        PRIMARY KEY (bucket, key, seq)) WITHOUT ROWID
    """
)
# Columns s3_objects got with versioning (stores made before get them, all null versions).
VERSION_COLUMNS = {"version_id": "TEXT", "seq": "INTEGER NOT NULL DEFAULT 0"}

ENABLED, SUSPENDED = "Enabled", "Suspended"
NULL = "null"
# S3's version ids are 32 URL-safe characters (letters, digits, '.', '_'); simsage's
# are 24 random bytes in URL-safe base64 (letters, digits, '-', '_').
_VERSION_ID = re.compile(r"[A-Za-z0-9._-]{32}")
_ROW = (
    "bucket, key, seq, version_id, size, etag, modified, storage_class, attrs, segments, "
    "inline_id, checksum_algorithm, checksum_type"
)
_MARKER_FIELDS = "size, etag, modified, storage_class, attrs, segments"


def new_version_id(ids) -> str:
    """A new version id from ``ids`` (the home's :class:`~simsage.ids.IdSource`)."""
    return ids.token(24)


def stored_version(version_id: str | None) -> str | None:
    """A request's VersionId as stored (``null`` → None).

    Raises:
        InvalidArgument: not a version id S3 could have given.
    """
    if version_id is None or version_id == NULL:
        return None
    if not _VERSION_ID.fullmatch(version_id):
        raise errors.InvalidArgument("Invalid version id specified", "versionId", version_id)
    return version_id


def shown_version(version_id: str | None) -> str:
    return NULL if version_id is None else version_id


@dataclass
class Deleted:
    """What a delete did to one key: the version it named or created, and whether that
    is a delete marker. ``version_id`` None with ``versioned`` False: an unversioned
    delete (S3 answers neither VersionId nor DeleteMarker)."""

    key: str
    version_id: str | None = None
    marker: bool = False
    versioned: bool = False


class VersionStore:
    """The versioning half of the S3 backend (see the module docstring)."""

    @staticmethod
    def versioning_status(conn, bucket: str) -> str | None:
        """The bucket's status (None: never versioned); checks that the bucket exists.

        Raises:
            NoSuchBucket.
        """
        row = conn.execute(
            "SELECT b.name, s.value FROM s3_buckets b LEFT JOIN s3_bucket_settings s "
            "ON s.bucket = b.name AND s.kind = 'versioning' WHERE b.name = ?",
            (bucket,),
        ).fetchone()
        if row is None:
            raise errors.NoSuchBucket(bucket)
        return None if row[1] is None else json.loads(row[1])["Status"]

    @staticmethod
    def _next_seq(conn, bucket: str, key: str, current_seq: int | None) -> int:
        row = conn.execute(
            "SELECT max(seq) FROM s3_versions WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        return max(row[0] or 0, current_seq or 0) + 1

    @staticmethod
    def _retire_current(conn, bucket: str, key: str) -> None:
        """Move the current object row into ``s3_versions`` (it becomes noncurrent)."""
        conn.execute(
            f"INSERT INTO s3_versions ({_ROW}, marker) SELECT {_ROW}, 0 FROM s3_objects "
            "WHERE bucket = ? AND key = ?",
            (bucket, key),
        )
        conn.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))

    def _drop_null_version(self, conn, bucket: str, key: str) -> list[str]:
        """Remove a noncurrent null version (object or marker); returns its blobs."""
        old = conn.execute(
            "SELECT etag, segments, inline_id FROM s3_versions "
            "WHERE bucket = ? AND key = ? AND version_id IS NULL",
            (bucket, key),
        ).fetchone()
        if old is None:
            return []
        conn.execute(
            "DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND version_id IS NULL",
            (bucket, key),
        )
        return self._release(conn, old)

    def _settle(self, conn, bucket: str, key: str) -> None:
        """After the current row went: the newest version becomes current, unless it is
        a delete marker (which stays where it is and hides the key)."""
        row = conn.execute(
            "SELECT seq, marker FROM s3_versions WHERE bucket = ? AND key = ? "
            "ORDER BY seq DESC LIMIT 1",
            (bucket, key),
        ).fetchone()
        if row is None or row[1]:
            return
        conn.execute(
            f"INSERT INTO s3_objects ({_ROW}) SELECT {_ROW} FROM s3_versions "
            "WHERE bucket = ? AND key = ? AND seq = ?",
            (bucket, key, row[0]),
        )
        conn.execute(
            "DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND seq = ?",
            (bucket, key, row[0]),
        )

    def _replace_row(
        self, conn, obj, inline, if_match, if_none_match, status: str | bool | None = False
    ) -> list[str]:
        """Make ``obj`` the key's current version, as the bucket's versioning says: a new
        version id (Enabled, the old current version kept), or the null version (never
        versioned or Suspended, replacing the key's null version). Sets
        ``obj.version_id`` and ``obj.versioned``; returns the blobs to unlink after the
        commit. ``status`` False: read it here (which also checks the bucket)."""
        if status is False:
            status = self.versioning_status(conn, obj.bucket)
        old = conn.execute(
            "SELECT etag, segments, inline_id, version_id, seq FROM s3_objects "
            "WHERE bucket = ? AND key = ?",
            (obj.bucket, obj.key),
        ).fetchone()
        if if_none_match is not None and old is not None and etag_matches(if_none_match, old[0]):
            raise errors.PreconditionFailed("If-None-Match")
        if if_match is not None and (old is None or not etag_matches(if_match, old[0])):
            if old is None:
                raise errors.NoSuchKey(obj.key)
            raise errors.PreconditionFailed("If-Match")
        garbage: list[str] = []
        seq = 0
        obj.versioned = status is not None
        obj.version_id = new_version_id(self.ids) if status == ENABLED else None
        if status is not None:
            seq = self._next_seq(conn, obj.bucket, obj.key, None if old is None else old[4])
            if old is not None and (old[3] is not None or obj.version_id is not None):
                self._retire_current(conn, obj.bucket, obj.key)
                old = None
            if obj.version_id is None:
                garbage += self._drop_null_version(conn, obj.bucket, obj.key)
        inline_id = None
        if inline is not None:
            inline_id = conn.execute("INSERT INTO s3_inline (data) VALUES (?)", (inline,)).lastrowid
        checksum = obj.attrs.get("checksum") or {}
        conn.execute(
            "INSERT OR REPLACE INTO s3_objects (bucket, key, size, etag, modified, "
            "storage_class, attrs, segments, inline_id, checksum_algorithm, checksum_type, "
            "version_id, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                checksum.get("algorithm"),
                checksum.get("type"),
                obj.version_id,
                seq,
            ),
        )
        return garbage + self._release(conn, old)

    @staticmethod
    def _release(conn, old) -> list[str]:
        """Drop a gone version's inline row; return its blob ids to unlink after commit.
        ``old`` is ``(etag, segments, inline_id, …)``."""
        if old is None:
            return []
        if old[2] is not None:
            conn.execute("DELETE FROM s3_inline WHERE id = ?", (old[2],))
        return [blob for blob, _ in json.loads(old[1])]

    def delete_objects(self, bucket: str, keys: list[str]) -> None:
        """Delete keys as S3's DELETE without a version id does (missing ones are fine)."""
        self.delete_versions(bucket, [(key, None) for key in keys])

    def delete_versions(self, bucket: str, items: list[tuple[str, str | None]]) -> list[Deleted]:
        """Delete ``(key, version)`` pairs in one transaction, as S3's DELETE does.

        ``version`` None: a simple delete (unversioned: the object goes; Enabled: a new
        delete marker; Suspended: a null marker replacing the null version). Otherwise
        (a request's VersionId, ``"null"`` included) that version goes for good, object
        or marker, and the newest remaining version becomes current. An absent version
        is no error, whatever its form: S3 answers a delete of any version id it does
        not hold with success (and that id), unlike a read.

        Raises:
            NoSuchBucket.
        """
        garbage: list[str] = []
        done: list[Deleted] = []
        with self.db.write() as conn:
            status = self.versioning_status(conn, bucket)
            for key, version in items:
                if version is None:
                    result, freed = self._simple_delete(conn, bucket, key, status)
                else:
                    result, freed = self._delete_version(conn, bucket, key, version)
                done.append(result)
                garbage += freed
        self.blobs.delete(garbage)
        return done

    def _simple_delete(self, conn, bucket, key, status) -> tuple[Deleted, list[str]]:
        current = conn.execute(
            "SELECT etag, segments, inline_id, version_id, seq FROM s3_objects "
            "WHERE bucket = ? AND key = ?",
            (bucket, key),
        ).fetchone()
        if status is None:
            if current is None:
                return Deleted(key), []
            conn.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
            return Deleted(key), self._release(conn, current)
        garbage: list[str] = []
        seq = self._next_seq(conn, bucket, key, None if current is None else current[4])
        marker_id = new_version_id(self.ids) if status == ENABLED else None
        if current is not None:
            if current[3] is None and marker_id is None:  # the null version it replaces
                conn.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
                garbage += self._release(conn, current)
            else:
                self._retire_current(conn, bucket, key)
        if marker_id is None:
            garbage += self._drop_null_version(conn, bucket, key)
        conn.execute(
            f"INSERT INTO s3_versions (bucket, key, seq, version_id, marker, {_MARKER_FIELDS}) "
            "VALUES (?, ?, ?, ?, 1, 0, '', ?, '', '{}', '[]')",
            (bucket, key, seq, marker_id, self.clock.time()),
        )
        return Deleted(key, marker_id, True, True), garbage

    def _delete_version(self, conn, bucket, key, version) -> tuple[Deleted, list[str]]:
        version_id = None if version == NULL else version
        current = conn.execute(
            "SELECT etag, segments, inline_id FROM s3_objects "
            "WHERE bucket = ? AND key = ? AND version_id IS ?",
            (bucket, key, version_id),
        ).fetchone()
        if current is not None:
            conn.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
            self._settle(conn, bucket, key)
            return Deleted(key, version_id, False, True), self._release(conn, current)
        row = conn.execute(
            "SELECT etag, segments, inline_id, marker, seq FROM s3_versions "
            "WHERE bucket = ? AND key = ? AND version_id IS ?",
            (bucket, key, version_id),
        ).fetchone()
        if row is None:
            return Deleted(key, version_id, False, True), []
        conn.execute(
            "DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND seq = ?",
            (bucket, key, row[4]),
        )
        has_current = conn.execute(
            "SELECT 1 FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if not has_current:
            self._settle(conn, bucket, key)
        return Deleted(key, version_id, bool(row[3]), True), self._release(conn, row)

    def latest_marker(self, bucket: str, key: str) -> str | None | bool:
        """The version id of the delete marker hiding ``key`` (None: the null marker),
        or False if no marker is its latest version. Only asked after a miss in
        ``s3_objects``, so a marker found is the latest version."""
        row = self.db.query_one(
            "SELECT version_id, marker FROM s3_versions WHERE bucket = ? AND key = ? "
            "ORDER BY seq DESC LIMIT 1",
            (bucket, key),
        )
        if row is None or not row[1]:
            return False
        return row[0]

    def set_versioning(self, bucket: str, status: str) -> None:
        """Set a bucket's versioning status (``Enabled`` or ``Suspended``)."""
        self.put_setting(bucket, "versioning", {"Status": status})
