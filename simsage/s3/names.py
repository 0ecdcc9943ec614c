"""S3's rules for names and request values: bucket names, keys, ranges, copy sources,
ETags and list bounds. Pure functions; each raises the S3 error S3 would answer."""

from __future__ import annotations

import re
from urllib.parse import unquote

from simsage.s3.errors import InvalidArgument, InvalidBucketName, InvalidRange, KeyTooLongError

MAX_KEY_BYTES = 1024

_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def check_bucket_name(name: str) -> None:
    """Raise InvalidBucketName unless ``name`` follows S3's general-purpose bucket rules."""
    if not 3 <= len(name) <= 63:
        raise InvalidBucketName(name, "bucket names must be between 3 and 63 characters long")
    if not _BUCKET_CHARS.fullmatch(name):
        raise InvalidBucketName(
            name,
            "use only lowercase letters, numbers, dots and hyphens, "
            "beginning and ending with a letter or number",
        )
    if ".." in name:
        raise InvalidBucketName(name, "bucket names must not contain two adjacent periods")
    if _IP_ADDRESS.fullmatch(name):
        raise InvalidBucketName(name, "bucket names must not be formatted as an IP address")
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            raise InvalidBucketName(name, f"bucket names must not start with {prefix!r}")
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            raise InvalidBucketName(name, f"bucket names must not end with {suffix!r}")


def check_key(key: str) -> None:
    """Raise KeyTooLongError for keys over 1024 UTF-8 bytes. Every other key is valid:
    keys never become file paths, so ``..``, ``//`` and the like are plain names."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError(size)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → inclusive (start, end) within an object of ``size`` bytes.

    Returns None when the header is not a single byte range S3 understands (S3 then
    answers the whole object). Raises InvalidRange when it cannot be satisfied.
    """
    match = _RANGE.fullmatch(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise InvalidRange(header, size)
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None  # not a valid byte-range-spec: HTTP says ignore the header
    if start >= size:
        raise InvalidRange(header, size)
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


def parse_copy_range(header: str, size: int) -> tuple[int, int]:
    """``x-amz-copy-source-range`` must be ``bytes=first-last`` inside the source.

    Raises:
        InvalidArgument: a malformed range, or one outside the source.
    """
    match = _RANGE.fullmatch(header.strip())
    if not match or not match.group(1) or not match.group(2):
        raise InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where "
            "first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            header,
        )
    start, end = int(match.group(1)), int(match.group(2))
    if start > end or end >= size:
        # Unlike a GET's Range, S3 answers this with InvalidArgument (400), not 416.
        raise InvalidArgument(
            f"Range specified is not valid for source object of size: {size}",
            "x-amz-copy-source-range",
            header,
        )
    return start, end


def parse_copy_source(source: str) -> tuple[str, str, str | None]:
    """``bucket/key[?versionId=v]`` (URL-encoded, as botocore sends it) → parts."""
    version = None
    if "?versionId=" in source:
        source, version = source.split("?versionId=", 1)
    source = unquote(source).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise InvalidArgument("Invalid copy source object key", "x-amz-copy-source", source)
    return bucket, key, version


def quote_etag(etag: str) -> str:
    return f'"{etag}"'


def etag_matches(condition: str, etag: str) -> bool:
    """An If-Match/If-None-Match value (a list, ``*`` allowed) against an unquoted ETag."""
    for candidate in condition.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.strip('"') == etag:
            return True
    return False


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (in code
    point order, which is UTF-8 byte order), or None if there is none."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None
