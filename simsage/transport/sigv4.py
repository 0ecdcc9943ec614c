"""Verifying AWS Signature Version 4 on the S3 endpoint's requests.

Layer: transport (HTTP side). :func:`verify` checks a request's ``Authorization:
AWS4-HMAC-SHA256 …`` header or its presigned query (``X-Amz-Algorithm`` …
``X-Amz-Signature``) against the credentials simsage knows (its fixed local ones), and
returns what the body readers need to go on checking: the seed signature and signing
key of ``aws-chunked`` bodies (:class:`ChunkVerifier`), and the declared payload hash.

The canonical request, string to sign and signing key are botocore's
(:class:`botocore.auth.S3SigV4Auth`'s ``canonical_headers`` / ``signed_headers`` /
``string_to_sign`` / ``signature``), fed with what the request carries instead of what a
client would build: the headers the client named in SignedHeaders, its payload hash.
Clients do not all write the canonical path and query the same way (botocore signs the
path and query exactly as it sends them; the C++ SDK, curl and the spec encode the
decoded values again), so both forms are tried; either matching is a valid signature.

Errors are S3's codes, statuses and messages (:func:`auth_error`): InvalidAccessKeyId,
SignatureDoesNotMatch, AccessDenied (no credentials: simsage has no anonymous access;
"Request has expired"), AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
RequestTimeTooSkewed, and InvalidRequest for SigV2 ("Please use AWS4-HMAC-SHA256").
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from simsage.errors import AWSError, aws_error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_EXPIRES = 604800  # a week: S3's limit for X-Amz-Expires
MAX_SKEW = timedelta(minutes=15)  # S3's allowed difference between request and server time
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MALFORMED = "The authorization header is malformed; "
_CREDENTIAL_SHAPE = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def auth_error(code: str, message: str, status: int | None = None, **fields: str) -> AWSError:
    """An S3 authentication error (403 unless the code is a 400 one)."""
    if status is None:
        status = 400 if code in _BAD_REQUEST_CODES else 403
    return aws_error(code, status, message, **fields)


_BAD_REQUEST_CODES = {
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "InvalidRequest",
    "InvalidArgument",
    "XAmzContentSHA256Mismatch",
    "IncompleteBody",
}


@functools.cache
def local_secrets() -> dict[str, str]:
    """simsage's one pair of credentials (``LOCAL_ACCESS_KEY`` → ``LOCAL_SECRET_KEY``)."""
    from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    return {LOCAL_ACCESS_KEY: LOCAL_SECRET_KEY}


class _Signer(S3SigV4Auth):
    """botocore's S3 signer with the request's own scope and timestamp."""

    def __init__(self, access_key: str, secret: str, region: str, timestamp: str) -> None:
        super().__init__(Credentials(access_key, secret), "s3", region)
        self.context = {"timestamp": timestamp}  # botocore reads it from request.context

    def sign(self, string_to_sign: str) -> str:
        # = botocore's signature(), with the derived key computed once per scope
        return hmac.new(self.signing_key(), string_to_sign.encode(), hashlib.sha256).hexdigest()

    def signing_key(self) -> bytes:
        return _signing_key(
            self.credentials.secret_key,
            self.context["timestamp"][:8],
            self._region_name,
            self._service_name,
        )


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (four HMACs), which only changes with the day and the scope."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass
class Verified:
    """A request whose signature checked out.

    Attributes:
        access_key, region: from the credential scope (the region is the call's).
        timestamp: the request's ``X-Amz-Date`` (``20130524T000000Z``).
        scope: ``20130524/us-east-1/s3/aws4_request``.
        signature: the request's signature (the seed of an aws-chunked body's chain).
        payload_hash: ``x-amz-content-sha256`` as signed (a hex SHA-256, one of the
            ``STREAMING-*`` values, ``UNSIGNED-PAYLOAD``; presigned: ``UNSIGNED-PAYLOAD``).
        presigned: authenticated by the query string.
    """

    access_key: str
    region: str
    timestamp: str
    scope: str
    signature: str
    payload_hash: str
    presigned: bool
    signing_key: bytes

    def chunks(self) -> ChunkVerifier:
        """The verifier of this request's ``aws-chunked`` chunk signatures."""
        return ChunkVerifier(self.signing_key, self.timestamp, self.scope, self.signature)


class ChunkVerifier:
    """The chain of an aws-chunked body's signatures (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``):
    each chunk's signature signs its data's SHA-256 and the previous signature, starting
    from the request's (the seed); the trailer's signs the trailing headers."""

    def __init__(self, signing_key: bytes, timestamp: str, scope: str, seed: str) -> None:
        self._key = signing_key
        self._prefix = f"{timestamp}\n{scope}\n"
        self.previous = seed

    def _check(self, string_to_sign: str, given: str) -> None:
        expected = hmac.new(self._key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise auth_error("SignatureDoesNotMatch", MISMATCH_MESSAGE)
        self.previous = expected

    def chunk(self, data_sha256: str, given: str) -> None:
        """Check one chunk's ``chunk-signature`` (``data_sha256``: its data's hex SHA-256).

        Raises:
            AWSError: SignatureDoesNotMatch.
        """
        self._check(
            f"AWS4-HMAC-SHA256-PAYLOAD\n{self._prefix}{self.previous}\n{EMPTY_SHA256}\n"
            f"{data_sha256}",
            given,
        )

    def trailer(self, lines: Sequence[tuple[str, str]], given: str) -> None:
        """Check ``x-amz-trailer-signature`` over the trailing headers ``lines``."""
        canonical = "".join(f"{name}:{value}\n" for name, value in lines)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        self._check(f"AWS4-HMAC-SHA256-TRAILER\n{self._prefix}{self.previous}\n{digest}", given)


def _parse_authorization(value: str) -> dict[str, str]:
    """``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`` → its fields."""
    if value.startswith("AWS "):
        raise _sigv2()
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise auth_error(
            "AuthorizationHeaderMalformed",
            f"{_MALFORMED}the authorization mechanism you have provided is not supported. "
            f"Please use {ALGORITHM}.",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field = part.strip().partition("=")
        if sep:
            fields[name] = field
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise auth_error(
                "AuthorizationHeaderMalformed",
                f"{_MALFORMED}missing {name}"
                if name != "Credential"
                else f"{_MALFORMED}{_CREDENTIAL_SHAPE}",
            )
    return fields


def _sigv2() -> AWSError:
    return auth_error(
        "InvalidRequest",
        f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}.",
    )


def _scope(credential: str, malformed: Callable[[str], AWSError]) -> tuple[str, str, str]:
    """``AKID/date/region/s3/aws4_request`` → (access key, date, region)."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not re.fullmatch(r"\d{8}", parts[1]):
        raise malformed(_CREDENTIAL_SHAPE)
    if parts[3] != "s3":
        raise malformed(f'incorrect service "{parts[3]}". This endpoint belongs to "s3".')
    return parts[0], parts[1], parts[2]


_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def _timestamp_of(text: str | None) -> datetime | None:
    """``20130524T000000Z`` → an aware datetime (None when malformed)."""
    match = _AMZ_DATE.fullmatch(text or "")
    if match is None:
        return None
    try:
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def iso_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def refuse_expired(now: datetime, expires_at: float, **fields: str) -> None:
    """S3's refusal of a presigned request (SigV4 or SigV2) past its expiry.

    Args:
        now: the server's time.
        expires_at: when the URL expires, in seconds since the epoch (a SigV2 URL's
            ``Expires`` may be far past any datetime: it is only turned into one once
            passed).
        fields: the error's members before ``Expires`` (SigV4: ``X-Amz-Expires``).

    Raises:
        AWSError: AccessDenied "Request has expired", with ``Expires`` and ``ServerTime``.
    """
    if now.timestamp() > expires_at:
        raise auth_error(
            "AccessDenied",
            "Request has expired",
            **fields,
            Expires=iso_time(datetime.fromtimestamp(expires_at, UTC)),
            ServerTime=iso_time(now),
        )


def _canonical_forms(raw_path: str, pairs: Sequence[tuple[str, str]]):
    """The canonical URI and query string as the client may have written them, the form
    as sent first (botocore signs its own encoding as sent) then, only if that one does
    not match, each part decoded and encoded again as the spec says (the path: every
    byte but ``/~`` and unreserved ones, not normalized for S3; the query: every byte
    but ``-_.~``)."""
    raw_query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    yield raw_path, raw_query
    spec_path = quote(unquote(raw_path), safe="/~")
    spec_query = "&".join(
        f"{k}={v}"
        for k, v in sorted(
            (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")) for k, v in pairs
        )
    )
    for path in dict.fromkeys((raw_path, spec_path)):
        for query in dict.fromkeys((raw_query, spec_query)):
            if (path, query) != (raw_path, raw_query):
                yield path, query


def _headers_to_sign(
    signed: str, header_pairs: Sequence[tuple[str, str]], malformed: Callable[[str], AWSError]
) -> HTTPHeaders:
    names = signed.split(";")
    if "host" not in names:
        # S3: "host" must be signed (AuthorizationHeaderMalformed / query error otherwise)
        raise malformed("the SignedHeaders must include host")
    wanted = set(names)
    found = HTTPHeaders()
    for name, value in header_pairs:
        lname = name.lower()
        if lname in wanted:
            found[lname] = value
    for name in names:
        if name not in found:
            found[name] = ""  # signed but absent: the signature will not match
    return found


def verify(
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    header_pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    *,
    secrets: Mapping[str, str] | None = None,
    now: datetime | None = None,
    auth_path: str | None = None,
) -> Verified:
    """Check a request's SigV4 signature.

    Args:
        method: the HTTP method.
        raw_path: the request path as sent (still percent-encoded).
        query: the raw query pairs as sent (``(name, value)``, not decoded).
        header_pairs: every header line as sent (name, value), in order.
        headers: the same with lower-cased names (repeated ones joined).
        secrets: access key → secret key (default: simsage's local pair).
        now: the server's time (default: now), for expiry and clock skew.
        auth_path: ``/bucket`` + the path of a virtual-hosted request (SigV2's
            canonical resource names the bucket); None for path style.

    Returns:
        The verified request (see :class:`Verified`).

    Raises:
        AWSError: S3's error for a missing, malformed, expired or wrong signature.
    """
    secrets = local_secrets() if secrets is None else secrets
    now = now or datetime.now(UTC)
    names = {name for name, _ in query}
    if "X-Amz-Algorithm" in names or "X-Amz-Signature" in names or "X-Amz-Credential" in names:
        return _verify_query(method, raw_path, query, header_pairs, secrets, now)
    if "Signature" in names and "AWSAccessKeyId" in names:
        from simsage.transport.sigv4_v2 import verify_query

        return verify_query(method, raw_path, query, header_pairs, secrets, now, auth_path)
    authorization = headers.get("authorization")
    if not authorization:
        raise auth_error("AccessDenied", "Access Denied")
    fields = _parse_authorization(authorization)

    def malformed(why: str) -> AWSError:
        return auth_error("AuthorizationHeaderMalformed", _MALFORMED + why)

    access_key, date, region = _scope(fields["Credential"], malformed)
    secret = secrets.get(access_key)
    if secret is None:
        raise unknown_key(access_key)
    timestamp = headers.get("x-amz-date")
    when = _timestamp_of(timestamp)
    if when is None and headers.get("date"):
        try:
            when = parsedate_to_datetime(headers["date"]).astimezone(UTC)
            timestamp = when.strftime(_TIMESTAMP)
        except (TypeError, ValueError):
            when = None
    if when is None:
        raise auth_error(
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    if timestamp[:8] != date:
        raise malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
    if abs(now - when) > MAX_SKEW:
        raise auth_error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            RequestTime=timestamp,
            ServerTime=iso_time(now),
            MaxAllowedSkewMilliseconds=str(int(MAX_SKEW.total_seconds() * 1000)),
        )
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        raise auth_error(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    if payload not in _PAYLOAD_WORDS and not _HEX64.fullmatch(payload):
        raise auth_error(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or "
            "a valid sha256 value.",
            ArgumentName="x-amz-content-sha256",
            ArgumentValue=payload,
        )
    signer = _Signer(access_key, secret, region, timestamp)
    to_sign = _headers_to_sign(fields["SignedHeaders"], header_pairs, malformed)
    _match(signer, method, raw_path, query, to_sign, payload, fields["Signature"], access_key)
    return Verified(
        access_key,
        region,
        timestamp,
        signer.credential_scope(signer),
        fields["Signature"],
        payload,
        False,
        signer.signing_key(),
    )


_PAYLOAD_WORDS = {
    UNSIGNED_PAYLOAD,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
}


def unknown_key(access_key: str) -> AWSError:
    return auth_error(
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        AWSAccessKeyId=access_key,
    )


def _match(
    signer: _Signer,
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    to_sign: HTTPHeaders,
    payload: str,
    given: str,
    access_key: str,
) -> None:
    """Accept ``given`` if it signs one of the canonical forms of the request."""
    headers_block = signer.canonical_headers(to_sign) + "\n"
    signed_names = signer.signed_headers(to_sign)
    first = None
    for path, query_string in _canonical_forms(raw_path, query):
        canonical = "\n".join(
            (method.upper(), path, query_string, headers_block, signed_names, payload)
        )
        string_to_sign = signer.string_to_sign(signer, canonical)
        if hmac.compare_digest(signer.sign(string_to_sign), given):
            return
        first = first or (canonical, string_to_sign)
    assert first is not None
    raise auth_error(
        "SignatureDoesNotMatch",
        MISMATCH_MESSAGE,
        AWSAccessKeyId=access_key,
        StringToSign=first[1],
        SignatureProvided=given,
        CanonicalRequest=first[0],
    )


def _verify_query(
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    header_pairs: Sequence[tuple[str, str]],
    secrets: Mapping[str, str],
    now: datetime,
) -> Verified:
    """A presigned URL: the signature and its parameters are in the query string."""
    values = {unquote(k): unquote(v) for k, v in query}

    def malformed(why: str) -> AWSError:
        return auth_error("AuthorizationQueryParametersError", why)

    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date")
    required += ("X-Amz-SignedHeaders",)
    if any(not values.get(name) for name in required):
        raise malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters."
        )
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    access_key, date, region = _scope(
        values["X-Amz-Credential"],
        lambda why: malformed(f"Error parsing the X-Amz-Credential parameter; {why}"),
    )
    timestamp = values["X-Amz-Date"]
    when = _timestamp_of(timestamp)
    if when is None:
        raise malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires_text = values.get("X-Amz-Expires", "")
    if not expires_text.isdigit():
        raise malformed("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires > MAX_EXPIRES:
        raise malformed(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )
    secret = secrets.get(access_key)
    if secret is None:
        raise unknown_key(access_key)
    if date != timestamp[:8]:
        raise malformed(
            "Error parsing the X-Amz-Credential parameter; the date does not match X-Amz-Date."
        )
    refuse_expired(now, when.timestamp() + expires, **{"X-Amz-Expires": expires_text})
    if when - now > MAX_SKEW:
        raise auth_error("AccessDenied", "Request is not valid yet")
    signer = _Signer(access_key, secret, region, timestamp)
    to_sign = _headers_to_sign(values["X-Amz-SignedHeaders"], header_pairs, malformed)
    unsigned = [(k, v) for k, v in query if unquote(k) != "X-Amz-Signature"]
    given = values["X-Amz-Signature"]
    _match(signer, method, raw_path, unsigned, to_sign, UNSIGNED_PAYLOAD, given, access_key)
    return Verified(
        access_key,
        region,
        timestamp,
        signer.credential_scope(signer),
        given,
        UNSIGNED_PAYLOAD,
        True,
        signer.signing_key(),
    )


def verify_post_policy(
    fields: Mapping[str, str],
    *,
    secrets: Mapping[str, str] | None = None,
) -> Verified:
    """Check a browser-based (presigned POST) upload's signature: ``x-amz-signature`` is
    the HMAC of the base64 ``policy`` field with the signing key of ``x-amz-credential``.

    Args:
        fields: the form's fields, names lower-cased.

    Raises:
        AWSError: AccessDenied / InvalidArgument / InvalidAccessKeyId / SignatureDoesNotMatch.
    """
    secrets = local_secrets() if secrets is None else secrets
    policy = fields.get("policy")
    if policy is None:
        raise auth_error("AccessDenied", "Access Denied")
    if fields.get("awsaccesskeyid") and "x-amz-signature" not in fields:
        from simsage.transport.sigv4_v2 import verify_post

        return verify_post(policy, fields, secrets)
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if not fields.get(name):
            raise auth_error(
                "InvalidArgument",
                f"Bucket POST must contain a field named '{name}'.  If it is specified, "
                "please check the order of the fields.",
                ArgumentName=name,
                ArgumentValue="",
            )
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise auth_error("InvalidArgument", f"Only {ALGORITHM} is supported for x-amz-algorithm.")

    def malformed(why: str) -> AWSError:
        return auth_error("InvalidArgument", f"Invalid x-amz-credential: {why}")

    access_key, date, region = _scope(fields["x-amz-credential"], malformed)
    secret = secrets.get(access_key)
    if secret is None:
        raise unknown_key(access_key)
    timestamp = fields["x-amz-date"]
    if _timestamp_of(timestamp) is None or timestamp[:8] != date:
        raise auth_error("InvalidArgument", "Invalid x-amz-date", ArgumentName="x-amz-date")
    signer = _Signer(access_key, secret, region, timestamp)
    if not hmac.compare_digest(signer.sign(policy), fields["x-amz-signature"]):
        raise auth_error(
            "SignatureDoesNotMatch",
            MISMATCH_MESSAGE,
            AWSAccessKeyId=access_key,
            StringToSign=policy,
            SignatureProvided=fields["x-amz-signature"],
        )
    return Verified(
        access_key,
        region,
        timestamp,
        signer.credential_scope(signer),
        fields["x-amz-signature"],
        UNSIGNED_PAYLOAD,
        False,
        signer.signing_key(),
    )
