"""S3's rules for tags: the ``x-amz-tagging`` header and tag sets of objects and buckets.

Pure functions; each raises the error S3 answers. Tags are kept as an ordered list of
``[key, value]`` pairs (S3 gives them back in the order they were set).
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote_to_bytes

from simsage.s3 import errors

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
# Besides Unicode letters, numbers and separators (spaces).
_ALLOWED_SYMBOLS = frozenset("_.:/=+-@")
_RESERVED_PREFIX = "aws:"

Tags = list[list[str]]


def _allowed(text: str) -> bool:
    return all(char in _ALLOWED_SYMBOLS or unicodedata.category(char)[0] in "LNZ" for char in text)


def check_tags(tags: Tags, limit: int, what: str) -> None:
    """Raise what S3 answers for a tag set it refuses.

    ``what`` names the resource in the count message (S3's: "Object tags cannot be
    greater than 10", "Bucket tag count cannot be greater than 50").
    """
    if len(tags) > limit:
        message = (
            f"Object tags cannot be greater than {limit}"
            if what == "object"
            else f"Bucket tag count cannot be greater than {limit}"
        )
        raise errors.BadRequest(message)
    seen: set[str] = set()
    for key, value in tags:
        if key in seen:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key", key)
        seen.add(key)
        if not 1 <= len(key) <= MAX_KEY_CHARS or not _allowed(key):
            raise errors.InvalidTag("The TagKey you have provided is invalid", key)
        if key[: len(_RESERVED_PREFIX)].lower() == _RESERVED_PREFIX:
            raise errors.InvalidTag("System tags cannot be added/updated by requester", key)
        if len(value) > MAX_VALUE_CHARS or not _allowed(value):
            raise errors.InvalidTag("The TagValue you have provided is invalid", key, value)


def from_tag_set(tag_set: list[dict[str, Any]]) -> Tags:
    """A ``TagSet`` param (``[{"Key": …, "Value": …}]``) as tag pairs."""
    return [[tag.get("Key", ""), tag.get("Value", "")] for tag in tag_set]


def to_tag_set(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags]


def parse_header(header: str, limit: int = MAX_OBJECT_TAGS) -> Tags:
    """The ``Tagging`` param of PutObject, CreateMultipartUpload and CopyObject: URL query
    parameters (``a=1&b=2``), keys unique, UTF-8 once decoded; then the tag-set rules.

    Raises:
        InvalidArgument: a part without a key, a duplicate key, or bytes not UTF-8.
        BadRequest, InvalidTag: as :func:`check_tags`.
    """

    def invalid() -> errors.S3Error:
        return errors.InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.",
            "x-amz-tagging",
            header,
        )

    tags: Tags = []
    seen: set[str] = set()
    for part in header.split("&") if header else []:
        raw_key, _, raw_value = part.partition("=")
        try:
            key, value = (
                unquote_to_bytes(text.replace("+", " ")).decode("utf-8")
                for text in (raw_key, raw_value)
            )
        except UnicodeDecodeError:
            raise invalid() from None
        if not key or key in seen:
            raise invalid()
        seen.add(key)
        tags.append([key, value])
    check_tags(tags, limit, "object")
    return tags
