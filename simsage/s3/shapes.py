"""Pieces of S3's request and response shapes shared by the API modules: times, owners,
continuation tokens, the attributes an upload stores, and the checksum, encryption
and tag members an object's answers carry.

Boto3 params in, botocore-parsed members out; no state.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import quote

from botocore.utils import parse_to_aware_datetime

from simsage.ids import from_epoch
from simsage.s3 import checksums, encryption, errors, tagging
from simsage.transport import Request

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
MAX_METADATA_BYTES = 2048

# Request/response members stored with an object, and their attr names.
SYSTEM_ATTRS = {
    "ContentType": "content_type",
    "ContentEncoding": "content_encoding",
    "ContentDisposition": "content_disposition",
    "ContentLanguage": "content_language",
    "CacheControl": "cache_control",
    "Expires": "expires",
    "WebsiteRedirectLocation": "website_redirect_location",
}


def seconds(epoch: float) -> dt.datetime:
    """S3 answers times to the whole second (Last-Modified is an HTTP date), so a time
    read back from one call compares equal to the same time from another."""
    return from_epoch(int(epoch))


def timestamp(value: Any) -> dt.datetime:
    """A timestamp param as the caller gave it (aware or naive datetime, ISO-8601 or
    HTTP-date string, epoch number), read as botocore reads it: naive means UTC."""
    return parse_to_aware_datetime(value)


def owner(account_id: str) -> dict[str, str]:
    canonical = hashlib.sha256(f"simsage:{account_id}".encode()).hexdigest()
    return {"DisplayName": "simsage", "ID": canonical}


def metadata_attrs(params: dict[str, Any]) -> dict[str, Any]:
    """The system metadata and user metadata an upload request carries."""
    attrs: dict[str, Any] = {}
    for member, name in SYSTEM_ATTRS.items():
        value = params.get(member)
        if value is not None:
            attrs[name] = timestamp(value).timestamp() if member == "Expires" else value
    attrs.setdefault("content_type", DEFAULT_CONTENT_TYPE)
    metadata = {k.lower(): v for k, v in (params.get("Metadata") or {}).items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise errors.MetadataTooLarge(size)
    attrs["metadata"] = metadata
    return attrs


def upload_attrs(request: Request, bucket_encryption=None, with_encryption=True) -> dict[str, Any]:
    """What PutObject and CreateMultipartUpload store with the object besides its bytes:
    metadata, the tags of its ``Tagging`` header and (``with_encryption``) the
    encryption it gets, from the request or the bucket's ``bucket_encryption`` rules."""
    params = request.params
    attrs = metadata_attrs(params)
    encryption.check_request(params)
    if with_encryption:
        attrs["sse"] = encryption.for_object(
            params, bucket_encryption, request.region, request.account_id
        )
    if params.get("Tagging"):
        attrs["tags"] = tagging.parse_header(params["Tagging"])
    return attrs


def checksum_members(checksum: dict[str, Any] | None, part: int | None = None) -> dict[str, Any]:
    """``Checksum<ALGORITHM>`` and ``ChecksumType`` of a stored checksum (of one part of
    a multipart object when ``part`` is its 1-based number, if S3 kept the parts')."""
    if not checksum:
        return {}
    value = checksum["value"]
    if part is not None:
        parts = checksum.get("parts")
        if parts is None:
            return {}
        value = parts[part - 1]
    return {checksums.member(checksum["algorithm"]): value, "ChecksumType": checksum["type"]}


def encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode()


def decode_token(token: str, name: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(f"The {name} provided is incorrect", name, token) from None


# What quote(value, safe="/") leaves as it is: most keys, which then skip its encoding.
_URL_UNCHANGED = re.compile(r"[A-Za-z0-9_.~/-]*")


def url_encode(value: str) -> str:
    """S3's ``EncodingType=url`` form of a key, prefix, delimiter or marker."""
    if _URL_UNCHANGED.fullmatch(value):
        return value  # a listing encodes every key: this is most of its time otherwise
    return quote(value, safe="/")


def location(bucket: str, key: str, region: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{quote(key)}"
