"""SigV2 (HMAC-SHA1) where S3 still accepts it: presigned query URLs (``AWSAccessKeyId``,
``Expires``, ``Signature``) and POST policies (``AWSAccessKeyId``, ``signature``).

Layer: transport (HTTP side), called by :func:`simsage.transport.sigv4.verify` and
:func:`~simsage.transport.sigv4.verify_post_policy`. botocore's ``generate_presigned_url``
and ``generate_presigned_post`` make SigV2 for S3 unless the client is configured with
``signature_version="s3v4"``, so these must work; SigV2 ``Authorization`` headers are
refused (no current client sends them). The string to sign is botocore's
(:class:`botocore.auth.HmacV1Auth`'s ``canonical_string``), written out directly for
query URLs (:func:`string_to_sign`, a presigned GET's hot path) with botocore's quirks
kept: a repeated Content-MD5 / Content-Type line repeats its first value, ``x-amz-*``
values are joined with ``,``, subresource values are percent-decoded.
"""

from __future__ import annotations

import base64
import functools
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import unquote

from botocore.auth import HmacV1Auth
from botocore.credentials import Credentials

from simsage.transport.sigv4 import (
    MISMATCH_MESSAGE,
    UNSIGNED_PAYLOAD,
    Verified,
    auth_error,
    refuse_expired,
    unknown_key,
)

# The query parameters S3's SigV2 canonical resource keeps (botocore's list).
_SUBRESOURCES = frozenset(HmacV1Auth.QSAOfInterest)
_STANDARD = ("content-md5", "content-type")


def unquote_base64(text: str) -> str | None:
    """``unquote(text)`` when its only escapes are base64's ``+``, ``/`` and ``=``
    (``%2B``, ``%2F``, ``%3D``, either case), as in a signature; else None. Exact: if no
    ``%`` is left once those triples are replaced, each ``%`` began one of them."""
    for escape, char in _BASE64_ESCAPES:
        if escape in text:
            text = text.replace(escape, char)
    return None if "%" in text else text


_BASE64_ESCAPES = (
    ("%2B", "+"),
    ("%2F", "/"),
    ("%3D", "="),
    ("%2b", "+"),
    ("%2f", "/"),
    ("%3d", "="),
)


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    fast = unquote_base64(text)
    return fast if fast is not None else unquote(text)


def string_to_sign(
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    header_pairs: Sequence[tuple[str, str]],
    expires: str,
    auth_path: str | None,
) -> str:
    """SigV2's string to sign of a presigned request: botocore's
    ``HmacV1Auth.canonical_string`` with the URL's ``Expires`` in place of the Date
    header (a Date line the request carries is ignored), for the request's raw path,
    raw query pairs and header lines as sent."""
    first: dict[str, str] = {}
    standard: dict[str, int] = {}  # Content-MD5 / Content-Type: how many lines
    custom: dict[str, list[str]] = {}
    for name, value in header_pairs:
        lname = name.lower()
        if lname == "date":
            continue
        if lname not in first:
            first[lname] = value
        if lname in _STANDARD:
            standard[lname] = standard.get(lname, 0) + 1
        elif lname.startswith("x-amz-"):
            custom.setdefault(lname, []).append(value.strip())
    lines = [method.upper()]
    for lname in _STANDARD:
        count = standard.get(lname)
        if count:
            lines.extend([first[lname].strip()] * count)
        else:
            lines.append("")
    lines.append(expires.strip())
    for lname in sorted(custom):
        lines.append(f"{lname}:{','.join(custom[lname])}")
    resource = raw_path if auth_path is None else auth_path
    kept = [(k, v) for k, v in query if k in _SUBRESOURCES]
    if kept:
        kept.sort(key=lambda pair: pair[0])
        resource += "?" + "&".join(f"{k}={unquote(v)}" for k, v in kept)
    lines.append(resource)
    return "\n".join(lines)


def _sign(secret: str, text: str) -> str:
    # = botocore's sign_string (base64 of the HMAC-SHA1, which is 20 bytes: one line),
    # from a copy of the key's HMAC state rather than setting the key up again
    mac = _keyed(secret).copy()
    mac.update(text.encode())
    return base64.b64encode(mac.digest()).decode()


@functools.lru_cache(maxsize=16)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod="sha1")


def verify_query(
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    header_pairs: Sequence[tuple[str, str]],
    secrets: Mapping[str, str],
    now: datetime,
    auth_path: str | None,
) -> Verified:
    """A SigV2 presigned URL (``AWSAccessKeyId``, ``Expires``, ``Signature``): what
    botocore's ``generate_presigned_url`` makes for S3 unless the client is configured
    with ``signature_version="s3v4"``, so S3 still accepts it. (SigV2 ``Authorization``
    headers are refused: no current client sends them.)"""
    values = {_unquote(k): _unquote(v) for k, v in query}
    access_key, expires, given = (
        values["AWSAccessKeyId"],
        values.get("Expires", ""),
        values["Signature"],
    )
    if not expires.isdigit():
        raise auth_error(
            "AccessDenied",
            "Query-string authentication requires the Signature, "
            "Expires and AWSAccessKeyId parameters",
        )
    secret = secrets.get(access_key)
    if secret is None:
        raise unknown_key(access_key)
    refuse_expired(now, int(expires))
    to_sign = string_to_sign(method, raw_path, query, header_pairs, expires, auth_path)
    if not hmac.compare_digest(_sign(secret, to_sign), given):
        raise auth_error(
            "SignatureDoesNotMatch",
            MISMATCH_MESSAGE,
            AWSAccessKeyId=access_key,
            StringToSign=to_sign,
            SignatureProvided=given,
        )
    return Verified(access_key, "", "", "", given, UNSIGNED_PAYLOAD, True, b"")


def verify_post(policy: str, fields: Mapping[str, str], secrets: Mapping[str, str]):
    """A SigV2 POST policy (``AWSAccessKeyId`` and ``signature`` = base64 HMAC-SHA1 of the
    policy): what boto3's ``generate_presigned_post`` makes unless the client is
    configured with ``signature_version="s3v4"``."""
    access_key = fields["awsaccesskeyid"]
    secret = secrets.get(access_key)
    if secret is None:
        raise unknown_key(access_key)
    given = fields.get("signature", "")
    expected = HmacV1Auth(Credentials(access_key, secret)).sign_string(policy)
    if not hmac.compare_digest(expected, given):
        raise auth_error(
            "SignatureDoesNotMatch",
            MISMATCH_MESSAGE,
            AWSAccessKeyId=access_key,
            StringToSign=policy,
            SignatureProvided=given,
        )
    return Verified(access_key, "", "", "", given, UNSIGNED_PAYLOAD, False, b"")
