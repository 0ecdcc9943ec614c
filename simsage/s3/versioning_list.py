"""ListObjectVersions on the embedded store: every version and delete marker in S3's order.

The versions of a bucket are the rows of ``s3_objects`` (current objects) and of
``s3_versions`` (noncurrent objects and delete markers), read as one sequence ordered by
key (UTF-8 byte order, the primary keys' BINARY collation) and, within a key, newest
first (``seq`` descending). A page resumes after ``(KeyMarker, VersionIdMarker)``; a
delimiter rolls keys up into common prefixes as ListObjects does, each counting as one
entry against MaxKeys (the walk is :class:`simsage.s3.listing.KeyWalk`, ListObjects').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from simsage.s3 import errors
from simsage.s3.listing import KeyWalk
from simsage.s3.names import prefix_upper_bound
from simsage.s3.versioning import stored_version

_COLUMNS = "key, seq, version_id, {marker}, size, etag, modified, storage_class, " + (
    "checksum_algorithm, checksum_type"
)


class ListedVersion(NamedTuple):
    key: str
    seq: int
    version_id: str | None  # None: the null version
    marker: bool
    size: int
    etag: str
    modified: float
    storage_class: str
    checksum_algorithm: str | None
    checksum_type: str | None
    latest: bool = False


@dataclass
class VersionPage:
    """Versions and delete markers (together, in S3 order) and common prefixes."""

    versions: list[ListedVersion] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    # Where the next page starts: the last key (or common prefix) and, for a version,
    # its id (``"null"`` for the null version), else None.
    next_key: str | None = None
    next_version: str | None = None


def _seq_of(db, bucket: str, key: str, version_id: str | None) -> int | None:
    for table in ("s3_objects", "s3_versions"):
        row = db.query_one(
            f"SELECT seq FROM {table} WHERE bucket = ? AND key = ? AND version_id IS ?",
            (bucket, key, version_id),
        )
        if row is not None:
            return row[0]
    return None


def list_versions(
    db,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    version_marker: str | None = None,
    max_keys: int = 1000,
) -> VersionPage:
    """One page of ``bucket``'s versions under ``prefix`` (the bucket is checked by the
    caller).

    Raises:
        InvalidArgument: a version marker without a key marker, or a malformed one.
    """
    if version_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            "version-id-marker",
            version_marker,
        )
    page = VersionPage()
    if max_keys <= 0:
        return page
    upper = prefix_upper_bound(prefix) if prefix else None
    lower, inclusive, below = prefix, True, None  # below: within `lower`, only seq < below
    previous = None  # the key whose latest version is already behind the start
    if key_marker:
        seq = None
        if version_marker:
            seq = _seq_of(db, bucket, key_marker, stored_version(version_marker))
        if seq is not None:
            lower, inclusive, below, previous = key_marker, True, seq, key_marker
        else:
            lower, inclusive = key_marker, False
        if lower < prefix:
            lower, inclusive, below, previous = prefix, True, None, None

    def fetch(lower: str, inclusive: bool, limit: int) -> list[tuple]:
        nonlocal below  # the first fetch only: the next ones start past a common prefix
        rows = _rows(db, bucket, lower, inclusive, below, upper, limit)
        below = None
        return rows

    walk = KeyWalk(fetch, prefix, delimiter, lower, inclusive, max_keys)
    for rows, common in walk:
        for row in rows:
            key = row[0]
            entry = ListedVersion(*row[:3], bool(row[3]), *row[4:], latest=key != previous)
            previous = key
            page.versions.append(entry)
        if rows:
            last = page.versions[-1]
            page.next_key = last.key
            page.next_version = "null" if last.version_id is None else last.version_id
        if common is not None:
            page.prefixes.append(common)
            page.next_key, page.next_version = common, None
    page.truncated = walk.truncated
    return page


def _rows(db, bucket, lower, inclusive, below, upper, limit) -> list[tuple]:
    where = f"bucket = ? AND key {'>=' if inclusive else '>'} ?"
    params: list[Any] = [bucket, lower]
    if upper is not None:
        where += " AND key < ?"
        params.append(upper)
    if below is not None:
        where += " AND NOT (key = ? AND seq >= ?)"
        params += [lower, below]
    sql = (
        f"SELECT {_COLUMNS.format(marker='0')} FROM s3_objects WHERE {where} UNION ALL "
        f"SELECT {_COLUMNS.format(marker='marker')} FROM s3_versions WHERE {where} "
        "ORDER BY 1, 2 DESC LIMIT ?"
    )
    return db.query(sql, [*params, *params, limit])
