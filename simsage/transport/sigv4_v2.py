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

import base64
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import SplitResult, unquote

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


class _Headers:
    """The header lines as ``HmacV1Auth.canonical_string`` reads them, with
    ``email.message.Message``'s semantics (botocore's ``HTTPHeaders``): names match
    case-insensitively, iteration yields every line's name (repeats included), ``[name]``
    is the first line's value or None, ``get_all`` every value, ``del`` drops them all,
    assignment adds a line. A list of pairs instead of a Message: this is per request."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._index()

    def _index(self) -> None:
        self._first: dict[str, str] = {}
        for n, v in self._pairs:
            self._first.setdefault(n.lower(), v)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first

    def __iter__(self):
        return iter([n for n, _ in self._pairs])

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())

    def __setitem__(self, name: str, value: str) -> None:
        self._pairs.append((name, value))
        self._first.setdefault(name.lower(), value)

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self._pairs = [(n, v) for n, v in self._pairs if n.lower() != name]
        self._first.pop(name, None)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self._pairs if n.lower() == name]


def _unquote(text: str) -> str:
    return unquote(text) if "%" in text else text


class _V2Query(HmacV1Auth):
    """botocore's SigV2 (HMAC-SHA1) signer, with the URL's ``Expires`` in place of Date."""

    def __init__(self, access_key: str, secret: str, expires: str) -> None:
        super().__init__(Credentials(access_key, secret))
        self._expires = expires

    def _get_date(self) -> str:
        return self._expires

    def sign_string(self, string_to_sign: str) -> str:
        # = botocore's (base64 of the HMAC-SHA1, which is 20 bytes: one line, no newline)
        digest = hmac.digest(self.credentials.secret_key.encode(), string_to_sign.encode(), "sha1")
        return base64.b64encode(digest).decode()


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
    headers = _Headers([(n, v) for n, v in header_pairs if n.lower() != "date"])
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
