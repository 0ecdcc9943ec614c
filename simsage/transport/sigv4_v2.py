"""SigV2 (HMAC-SHA1) where S3 still accepts it: presigned query URLs (``AWSAccessKeyId``,
``Expires``, ``Signature``) and POST policies (``AWSAccessKeyId``, ``signature``).

Layer: transport (HTTP side), called by :func:`simsage.transport.sigv4.verify` and
:func:`~simsage.transport.sigv4.verify_post_policy`. botocore's ``generate_presigned_url``
and ``generate_presigned_post`` make SigV2 for S3 unless the client is configured with
``signature_version="s3v4"``, so these must work; SigV2 ``Authorization`` headers are
refused (no current client sends them). The string to sign is botocore's
(:class:`botocore.auth.HmacV1Auth`'s ``canonical_string``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import SplitResult, unquote

from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from simsage.transport.sigv4 import (
    MISMATCH_MESSAGE,
    UNSIGNED_PAYLOAD,
    Verified,
    auth_error,
    iso_time,
    unknown_key,
)


class _V2Query(HmacV1Auth):
    """botocore's SigV2 (HMAC-SHA1) signer, with the URL's ``Expires`` in place of Date."""

    def __init__(self, access_key: str, secret: str, expires: str) -> None:
        super().__init__(Credentials(access_key, secret))
        self._expires = expires

    def _get_date(self) -> str:
        return self._expires


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
    values = {unquote(k): unquote(v) for k, v in query}
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
    if now.timestamp() > int(expires):
        raise auth_error(
            "AccessDenied",
            "Request has expired",
            Expires=iso_time(datetime.fromtimestamp(int(expires), UTC)),
            ServerTime=iso_time(now),
        )
    headers = HTTPHeaders()
    for name, value in header_pairs:
        if name.lower() != "date":
            headers[name] = value
    raw_query = "&".join(f"{k}={v}" for k, v in query)
    split = SplitResult("http", "", raw_path, raw_query, "")
    signer = _V2Query(access_key, secret, expires)
    string_to_sign = signer.canonical_string(method, split, headers, auth_path=auth_path)
    if not hmac.compare_digest(signer.sign_string(string_to_sign), given):
        raise auth_error(
            "SignatureDoesNotMatch",
            MISMATCH_MESSAGE,
            AWSAccessKeyId=access_key,
            StringToSign=string_to_sign,
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
