"""SigV4 verification against AWS's published examples (S3 API reference, "Examples of
signature calculations": the GET with a Range header, the presigned GET, the chunked PUT)
and botocore's own signer, with the server's clock set to the example's time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from simsage.errors import AWSError
from simsage.transport import sigv4

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {AKID: SECRET}
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
SCOPE = f"{AKID}/20130524/us-east-1/s3/aws4_request"


def _headers(pairs):
    return {name.lower(): value for name, value in pairs}


def _get_example(signature="f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"):
    pairs = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", sigv4.EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={SCOPE},"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            f"Signature={signature}",
        ),
    ]
    return pairs


def _verify(method, path, query, pairs, now=WHEN, secrets=SECRETS):
    return sigv4.verify(method, path, query, pairs, _headers(pairs), secrets=secrets, now=now)


def _code(excinfo) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.status


def test_the_published_get_example_verifies():
    verified = _verify("GET", "/test.txt", [], _get_example())
    assert verified.region == "us-east-1" and verified.access_key == AKID
    assert verified.scope == "20130524/us-east-1/s3/aws4_request"
    assert not verified.presigned


def test_a_wrong_signature_is_signature_does_not_match():
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", [], _get_example("0" * 64))
    assert _code(excinfo) == ("SignatureDoesNotMatch", 403)
    assert excinfo.value.message.startswith("The request signature we calculated does not match")
    assert "GET\n/test.txt" in excinfo.value.error_fields["CanonicalRequest"]


def test_an_unknown_access_key_and_a_wrong_secret():
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", [], _get_example(), secrets={"OTHER": SECRET})
    assert _code(excinfo) == ("InvalidAccessKeyId", 403)
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", [], _get_example(), secrets={AKID: "not-the-secret"})
    assert _code(excinfo) == ("SignatureDoesNotMatch", 403)


def test_no_credentials_is_access_denied_and_sigv2_is_refused():
    pairs = [("Host", "b.localhost"), ("x-amz-date", "20130524T000000Z")]
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/", [], pairs)
    assert _code(excinfo) == ("AccessDenied", 403)
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/", [], [*pairs, ("Authorization", "AWS AKID:c2lnbmF0dXJl")])
    assert _code(excinfo) == ("InvalidRequest", 400)
    assert "Please use AWS4-HMAC-SHA256" in excinfo.value.message


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 SignedHeaders=host,Signature=abc",
        f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3,SignedHeaders=host,Signature=a",
        f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/ec2/aws4_request,"
        "SignedHeaders=host,Signature=abc",
        f"AWS4-HMAC-SHA256 Credential={AKID}/20130525/us-east-1/s3/aws4_request,"
        "SignedHeaders=host,Signature=abc",
    ],
)
def test_a_malformed_authorization_header(authorization):
    pairs = [p for p in _get_example() if p[0] != "Authorization"]
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", [], [*pairs, ("Authorization", authorization)])
    assert _code(excinfo) == ("AuthorizationHeaderMalformed", 400)


def test_a_skewed_clock_is_request_time_too_skewed():
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", [], _get_example(), now=WHEN + timedelta(minutes=16))
    assert _code(excinfo) == ("RequestTimeTooSkewed", 403)
    assert excinfo.value.error_fields["MaxAllowedSkewMilliseconds"] == "900000"
    _verify("GET", "/test.txt", [], _get_example(), now=WHEN + timedelta(minutes=14))


PRESIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def _pairs(query: str):
    return [tuple(p.split("=", 1)) for p in query.split("&")]


def test_the_published_presigned_example_verifies_until_it_expires():
    host = [("Host", "examplebucket.s3.amazonaws.com")]
    verified = _verify("GET", "/test.txt", _pairs(PRESIGNED), host)
    assert verified.presigned and verified.payload_hash == sigv4.UNSIGNED_PAYLOAD
    with pytest.raises(AWSError) as excinfo:
        _verify(
            "GET", "/test.txt", _pairs(PRESIGNED), host, now=WHEN + timedelta(days=1, seconds=1)
        )
    assert _code(excinfo) == ("AccessDenied", 403)
    assert excinfo.value.message == "Request has expired"
    assert excinfo.value.error_fields["X-Amz-Expires"] == "86400"
    tampered = PRESIGNED.replace("Expires=86400", "Expires=86401")
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", _pairs(tampered), host)
    assert _code(excinfo) == ("SignatureDoesNotMatch", 403)


SIGV2_PRESIGNED = [
    ("AWSAccessKeyId", AKID),
    ("Expires", "1175139620"),
    ("Signature", "NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"),
]


def test_the_published_sigv2_presigned_example_verifies_until_it_expires():
    host = [("Host", "johnsmith.s3.amazonaws.com")]

    def verify(query, now):
        return sigv4.verify(
            "GET",
            "/photos/puppy.jpg",
            query,
            host,
            _headers(host),
            secrets=SECRETS,
            now=now,
            auth_path="/johnsmith/photos/puppy.jpg",
        )

    expires = datetime(2007, 3, 29, 3, 40, 20, tzinfo=UTC)  # Expires=1175139620
    assert verify(SIGV2_PRESIGNED, expires).presigned
    with pytest.raises(AWSError) as excinfo:
        verify(SIGV2_PRESIGNED, expires + timedelta(seconds=1))
    assert _code(excinfo) == ("AccessDenied", 403)
    assert excinfo.value.message == "Request has expired"
    assert excinfo.value.error_fields["Expires"] == "2007-03-29T03:40:20Z"
    assert excinfo.value.error_fields["ServerTime"] == "2007-03-29T03:40:21Z"
    # an Expires past any date a datetime holds is not expired: only the signature fails
    far = [SIGV2_PRESIGNED[0], ("Expires", "9" * 20), SIGV2_PRESIGNED[2]]
    with pytest.raises(AWSError) as excinfo:
        verify(far, expires)
    assert _code(excinfo) == ("SignatureDoesNotMatch", 403)


def test_presigned_expiry_beyond_a_week_is_refused():
    query = PRESIGNED.replace("Expires=86400", "Expires=604801")
    with pytest.raises(AWSError) as excinfo:
        _verify("GET", "/test.txt", _pairs(query), [("Host", "examplebucket.s3.amazonaws.com")])
    assert _code(excinfo) == ("AuthorizationQueryParametersError", 400)
    assert "604800" in excinfo.value.message


def test_the_published_chunked_upload_example():
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    pairs = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=content-encoding;content-length;"
            "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            f"x-amz-storage-class,Signature={seed}",
        ),
        ("x-amz-content-sha256", sigv4.STREAMING_SIGNED),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ]
    verified = _verify("PUT", "/examplebucket/chunkObject.txt", [], pairs)
    chain = verified.chunks()
    sha = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    chain.chunk(
        sha(b"a" * 65536), "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    )
    chain.chunk(
        sha(b"a" * 1024), "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    )
    with pytest.raises(AWSError) as excinfo:
        verified.chunks().chunk(sha(b"b" * 65536), chain.previous)
    assert _code(excinfo) == ("SignatureDoesNotMatch", 403)
    chain.chunk(
        sigv4.EMPTY_SHA256, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    )


@pytest.mark.parametrize(
    "key", ["plain.txt", "with space.txt", "ünïcode/ключ", "a+b=c&d", "semi;colon!*'()", "~t"]
)
def test_botocore_signed_requests_verify(key, monkeypatch):
    """botocore's own header and query signing of awkward keys and query values."""
    from urllib.parse import quote

    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    creds = Credentials(AKID, SECRET)
    url = f"http://127.0.0.1:9000/bkt/{quote(key, safe='/~')}?prefix=a%2Fb%20c&list-type=2"
    request = AWSRequest("GET", url, headers={})
    S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)
    parts = urlsplit(request.url)
    pairs = [("Host", "127.0.0.1:9000"), *request.headers.items()]
    assert _verify("GET", parts.path, _pairs(parts.query), pairs).region == "eu-west-1"

    request = AWSRequest("GET", url, headers={})
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%SZ")
    S3SigV4QueryAuth(creds, "s3", "eu-west-1", expires=60).add_auth(request)
    parts = urlsplit(request.url)
    assert _verify("GET", parts.path, _pairs(parts.query), [("Host", "127.0.0.1:9000")]).presigned
