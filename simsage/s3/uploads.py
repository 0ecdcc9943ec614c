"""Multipart uploads on the embedded store: uploads, parts, and their completion.

Part of :class:`simsage.s3.backend.S3Backend` (a mixin over its ``db``, ``blobs`` and
object commit). Invariants:
- a part is one immutable blob, written (with its MD5 and checksums in the same pass)
  before the row naming it commits; re-uploading a part number replaces the row and
  unlinks the old blob after the commit;
- completing an upload turns the listed parts' blobs into the object's segments in the
  one transaction that removes the upload: no byte is copied, and the object's
  checksum is derived from the parts' checksums (COMPOSITE: the checksum of their
  digests; FULL_OBJECT: their CRCs combined), never by reading the bytes again.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import json
from typing import Any

from simsage.s3 import checksums, errors
from simsage.s3.records import Part, StoredObject, Upload
from simsage.store.db import register_schema

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000

# A part: its number, ETag and the checksums the complete request gives for it.
RequestedPart = tuple[int, str, dict[str, str]]

_UPLOAD_COLUMNS = "upload_id, bucket, key, initiated, storage_class, attrs"


def ensure_part_checksums(db) -> None:
    """Stores made before parts had checksums get the column (nullable: their parts
    have none, and an upload they belong to completes without an object checksum)."""
    db.add_columns("s3_parts", {"checksums": "TEXT"})


register_schema(
    """
    CREATE TABLE IF NOT EXISTS s3_uploads (
        upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
        initiated REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, initiated);
    CREATE TABLE IF NOT EXISTS s3_parts (
        upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
        etag TEXT NOT NULL, modified REAL NOT NULL, blob TEXT NOT NULL, checksums TEXT,
        PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS s3_parts_by_blob ON s3_parts (blob)
    """
)


def _upload(row: tuple) -> Upload:
    return Upload(*row[:5], json.loads(row[5]))


def check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PARTS:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            part_number,
        )


class UploadStore:
    """The multipart half of the S3 backend (see the module docstring)."""

    def create_upload(
        self, bucket: str, key: str, attrs: dict[str, Any], storage_class: str
    ) -> Upload:
        upload = Upload(self.ids.token(), bucket, key, self.clock.time(), storage_class, attrs)
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            conn.execute(
                f"INSERT INTO s3_uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (upload.upload_id, bucket, key, upload.initiated, storage_class, json.dumps(attrs)),
            )
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        row = self.db.query_one(
            f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads "
            "WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        )
        if row is None:
            self.get_bucket(bucket)
            raise errors.NoSuchUpload(upload_id)
        return _upload(row)

    def upload_part(
        self,
        upload: Upload,
        part_number: int,
        body,
        content_md5: str | None = None,
        algorithms: tuple[str, ...] = (),
        expected: tuple[str, str] | None = None,
    ) -> Part:
        """Store one part of ``upload`` (replacing an earlier upload of the same number),
        computing ``algorithms``' checksums with the MD5.

        Raises:
            InvalidArgument (part number), BadDigest (Content-MD5 or ``expected``, an
            ``(algorithm, value)`` the caller gave), NoSuchUpload.
        """
        check_part_number(part_number)
        if body is None:
            body = b""
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        digests = [checksums.hasher(name) for name in algorithms]
        with self.blobs.writer(digests) as writer:
            writer.write_from(stream)
            checksums.check_md5(content_md5, writer.md5)
            values = _values(algorithms, digests)
            if expected is not None:
                checksums.verify(expected[0], expected[1], values[expected[0]])
            blob = writer.finish()
        return self._commit_part(upload, part_number, blob, writer, values)

    def upload_part_copy(
        self,
        upload: Upload,
        part_number: int,
        source: StoredObject,
        start: int,
        end: int,
        algorithms: tuple[str, ...] = (),
    ) -> Part:
        """Store bytes ``[start, end]`` of ``source`` as a part."""
        check_part_number(part_number)
        digests = [checksums.hasher(name) for name in algorithms]
        reader = self.open_object(source, start, end + 1)
        with reader, self.blobs.writer(digests) as writer:
            writer.write_from(reader)
            blob = writer.finish()
        return self._commit_part(upload, part_number, blob, writer, _values(algorithms, digests))

    def _commit_part(self, upload: Upload, part_number, blob, writer, values) -> Part:
        part = Part(part_number, writer.size, writer.md5.hexdigest(), self.clock.time(), values)
        garbage = [blob]
        with self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM s3_uploads WHERE upload_id = ?", (upload.upload_id,)
            ).fetchone():
                old = conn.execute(
                    "SELECT blob FROM s3_parts WHERE upload_id = ? AND part_number = ?",
                    (upload.upload_id, part_number),
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, size, etag, "
                    "modified, blob, checksums) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        upload.upload_id,
                        part_number,
                        part.size,
                        part.etag,
                        part.modified,
                        blob,
                        json.dumps(values),
                    ),
                )
                garbage = [old[0]] if old else []
        self.blobs.delete(garbage)
        if garbage == [blob]:  # aborted or completed while this part was being written
            raise errors.NoSuchUpload(upload.upload_id)
        return part

    def list_parts(self, upload_id: str) -> list[Part]:
        rows = self.db.query(
            "SELECT part_number, size, etag, modified, checksums FROM s3_parts "
            "WHERE upload_id = ? ORDER BY part_number",
            (upload_id,),
        )
        return [Part(*row[:4], json.loads(row[4] or "{}")) for row in rows]

    def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        requested: list[RequestedPart],
        whole: tuple[str, str] | None = None,
        checksum_type: str | None = None,
    ) -> StoredObject:
        """Assemble the listed parts (in ascending order, ETags and given checksums
        matching) into the object, with its checksum.

        ``whole`` is the ``(algorithm, value)`` the caller gave for the whole object;
        ``checksum_type`` the type it expects.

        Raises:
            MalformedXML (no parts), InvalidPartOrder, InvalidPart, EntityTooSmall,
            InvalidRequest (a checksum missing or of the wrong mode), BadDigest,
            NoSuchUpload, NoSuchBucket.
        """
        if not requested:
            raise errors.MalformedXML("the request lists no parts")
        numbers = [number for number, _, _ in requested]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise errors.InvalidPartOrder()
        with self.db.write() as conn:
            self._require_bucket(conn, bucket)
            row = conn.execute(
                f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads "
                "WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id, bucket, key),
            ).fetchone()
            if row is None:
                raise errors.NoSuchUpload(upload_id)
            upload = _upload(row)
            stored = {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT part_number, size, etag, blob, checksums FROM s3_parts "
                    "WHERE upload_id = ?",
                    (upload_id,),
                )
            }
            segments, digests, parts = [], [], []
            for i, (number, etag, _) in enumerate(requested):
                part = stored.get(number)
                if part is None or part[1] != etag.strip('"'):
                    raise errors.InvalidPart(number, etag, upload_id)
                if i < len(requested) - 1 and part[0] < MIN_PART_SIZE:
                    raise errors.EntityTooSmall(part[0], MIN_PART_SIZE, number, etag)
                segments.append((part[2], part[0]))
                digests.append(binascii.unhexlify(part[1]))
                parts.append((part[0], json.loads(part[3] or "{}")))
            attrs = dict(upload.attrs)
            attrs.pop("checksum", None)
            checksum = _object_checksum(upload, requested, parts, whole, checksum_type)
            if checksum is not None:
                attrs["checksum"] = checksum
            md5 = hashlib.md5(b"".join(digests), usedforsecurity=False)
            obj = StoredObject(
                bucket,
                key,
                sum(size for _, size in segments),
                f"{md5.hexdigest()}-{len(segments)}",
                self.clock.time(),
                upload.storage_class,
                attrs,
                segments,
            )
            used = set(numbers)
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
            f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads "
            "WHERE bucket = ? AND substr(key, 1, ?) = ? ORDER BY key, initiated, upload_id",
            (bucket, len(prefix), prefix),
        )
        return [_upload(row) for row in rows]


def _values(algorithms: tuple[str, ...], digests: list) -> dict[str, str]:
    return {
        name: checksums.encode(digest.digest())
        for name, digest in zip(algorithms, digests, strict=True)
    }


def _object_checksum(
    upload: Upload,
    requested: list[RequestedPart],
    parts: list[tuple[int, dict[str, str]]],
    whole: tuple[str, str] | None,
    checksum_type: str | None,
) -> dict[str, Any] | None:
    """The completed object's checksum, after S3's checks of the part checksums the
    request gives and of the whole-object value (``parts`` are the stored ``(size,
    checksums)`` of the requested parts, in order)."""
    algorithm, kind = upload.checksum_algorithm, upload.checksum_type
    if algorithm is not None and checksum_type is not None and checksum_type != kind:
        raise errors.InvalidRequest(
            f"The upload was created using the {kind} checksum mode. "
            "The complete request must use the same checksum mode."
        )
    mismatch = None
    for (number, etag, given), (_, stored) in zip(requested, parts, strict=True):
        for name, value in given.items():
            if algorithm is not None and name != algorithm:
                raise errors.BadDigest(
                    f"The {name.lower()} you specified for part {number} did not match "
                    "what we received."
                )
            if stored.get(name) != value and mismatch is None:
                mismatch = errors.InvalidPart(number, etag, upload.upload_id)
        if algorithm is not None and kind == checksums.COMPOSITE and not given:
            raise errors.InvalidRequest(
                f"The upload was created using a {algorithm.lower()} checksum. The complete "
                "request must include the checksum for each part. It was missing for part "
                f"{number} in the request."
            )
    if mismatch is not None:
        if whole is not None and algorithm is not None:
            # With a whole-object value, S3 reports the parts' mismatch as that value's.
            raise errors.BadDigest(
                f"The {whole[0].lower()} you specified did not match the calculated checksum."
            )
        raise mismatch
    if algorithm is None:
        # S3's default: a full-object CRC64NVME, from the parts' (parts stored before
        # simsage kept checksums have none, and then neither has the object).
        values = [stored.get(checksums.DEFAULT) for _, stored in parts]
        if None in values:
            return None
        value = checksums.full_object(
            checksums.DEFAULT, [(v, size) for v, (size, _) in zip(values, parts, strict=True)]
        )
        return {"algorithm": checksums.DEFAULT, "type": checksums.FULL_OBJECT, "value": value}
    values = [stored.get(algorithm) for _, stored in parts]
    if None in values:
        return None
    if kind == checksums.COMPOSITE:
        value = checksums.composite(algorithm, values)
    else:
        value = checksums.full_object(
            algorithm, [(v, size) for v, (size, _) in zip(values, parts, strict=True)]
        )
    if whole is not None:
        name, given = whole
        expected, count = checksums.split_composite(value)
        sent, sent_count = checksums.split_composite(given)
        if name != algorithm or sent != expected or sent_count not in (None, count):
            raise errors.BadDigest(
                f"The {name.lower()} you specified did not match the calculated checksum."
            )
    return {"algorithm": algorithm, "type": kind, "value": value, "parts": values}
