"""The S3 records the backend reads and writes, in Python types (no SQL, no wire format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    owner: str
    created: float


@dataclass
class StoredObject:
    """An object's registry row. ``etag`` is unquoted; ``attrs`` holds the system
    metadata (content_type, cache_control …), ``metadata`` (user metadata) and, for
    objects stored since simsage kept them, ``checksum`` (``{"algorithm", "type",
    "value", "parts"?}``, ``parts`` being each part's value for a multipart upload made
    with an algorithm), ``sse`` (see :mod:`simsage.s3.encryption`) and ``tags``
    (``[[key, value], …]``). ``version_id`` None is the null version; ``versioned``
    says whether its bucket has a versioning status (S3 then names every version, the
    null one as ``null``, in its answers)."""

    bucket: str
    key: str
    size: int
    etag: str
    modified: float
    storage_class: str
    attrs: dict[str, Any]
    segments: list[tuple[str, int]]
    inline: bytes | None = None
    version_id: str | None = None
    versioned: bool = False

    @property
    def version_member(self) -> dict[str, str]:
        """``{"VersionId": …}`` as S3 answers it for this object (nothing when its bucket
        was never versioned)."""
        if self.version_id is not None:
            return {"VersionId": self.version_id}
        return {"VersionId": "null"} if self.versioned else {}

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

    @property
    def checksum(self) -> dict[str, Any] | None:
        return self.attrs.get("checksum")

    @property
    def tags(self) -> list[list[str]]:
        return self.attrs.get("tags") or []


@dataclass
class Part:
    """A part of a multipart upload; ``checksums`` maps each algorithm computed for it to
    its value (the upload's algorithm, or the one the part was sent with plus S3's
    default CRC64NVME for an upload without one)."""

    part_number: int
    size: int
    etag: str
    modified: float
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    """An upload in progress; ``attrs`` is what the object will get, plus ``checksum``
    (``{"algorithm", "type"}``) when CreateMultipartUpload named an algorithm."""

    upload_id: str
    bucket: str
    key: str
    initiated: float
    storage_class: str
    attrs: dict[str, Any]

    @property
    def checksum_algorithm(self) -> str | None:
        return (self.attrs.get("checksum") or {}).get("algorithm")

    @property
    def checksum_type(self) -> str | None:
        return (self.attrs.get("checksum") or {}).get("type")


class ListedObject(NamedTuple):
    """What a listing shows of an object (a named tuple: a listing makes a thousand a
    page, and a frozen dataclass costs several times as much to build)."""

    key: str
    size: int
    etag: str
    modified: float
    storage_class: str
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass
class ListPage:
    """One page of a listing: objects and common prefixes in S3 order."""

    objects: list[ListedObject] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned
