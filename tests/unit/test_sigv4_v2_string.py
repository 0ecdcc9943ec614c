"""SigV2's string to sign as the S3 endpoint writes it directly (``sigv4_v2.string_to_sign``)
is botocore's (``HmacV1Auth.canonical_string`` over the same request, the URL's Expires
as its Date), quirks included, and boto3's presigned URLs verify against it."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import SplitResult, urlsplit

import pytest
from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from simsage.errors import AWSError
from simsage.transport import sigv4, sigv4_v2
from simsage.transport.s3_endpoint_address import query_pairs

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXPIRES = "1900000000"


class _ExpiresAsDate(HmacV1Auth):
    def _get_date(self) -> str:
        return EXPIRES


def _botocore(method, raw_path, raw_query, pairs, auth_path=None) -> str:
    headers = HTTPHeaders()
    for name, value in pairs:
        if name.lower() != "date":
            headers[name] = value
    split = SplitResult("http", "", raw_path, raw_query, "")
    signer = _ExpiresAsDate(Credentials(AKID, SECRET))
    return signer.canonical_string(method, split, headers, auth_path=auth_path)


CASES = [
    ("GET", "/bkt/key", "AWSAccessKeyId=A&Signature=s%2B&Expires=1", [("Host", "h")], None),
    (
        "get",
        "/bkt/a%20b/c",
        "versionId=v%2F1&response-content-type=text%2Fplain&uploads=&acl=&other=x",
        [
            ("Host", "h"),
            ("Content-Type", " text/plain "),
            ("content-type", "second"),
            ("Content-MD5", "abc=="),
            ("X-Amz-Meta-B", " two "),
            ("x-amz-meta-a", "one"),
            ("x-amz-meta-b", "three"),
            ("Date", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ("x-amz-date", "20260101T000000Z"),
        ],
        None,
    ),
    ("PUT", "/key", "partNumber=2&uploadId=u%3D1", [("Host", "bkt.localhost:9000")], "/bkt/key"),
    ("HEAD", "/", "", [], None),
    ("GET", "/bkt", "tagging=&list-type=2", [("X-AMZ-SECURITY-TOKEN", "t")], None),
]


@pytest.mark.parametrize("method,raw_path,raw_query,pairs,auth_path", CASES)
def test_the_direct_string_to_sign_is_botocores(method, raw_path, raw_query, pairs, auth_path):
    direct = sigv4_v2.string_to_sign(
        method, raw_path, query_pairs(raw_query), pairs, EXPIRES, auth_path
    )
    # The endpoint hands the query to the signer as the pairs it split (name=value).
    rebuilt = "&".join(f"{k}={v}" for k, v in query_pairs(raw_query))
    assert direct == _botocore(method, raw_path, rebuilt, pairs, auth_path)


def test_a_botocore_presigned_url_verifies_and_a_changed_one_does_not():
    import boto3
    from botocore.config import Config

    s3 = boto3.Session(AKID, SECRET, region_name="us-east-1").client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=Config(s3={"addressing_style": "path"}),
    )
    url = urlsplit(
        s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": "bkt", "Key": "a b/ü", "ResponseContentType": "text/plain"},
            ExpiresIn=600,
        )
    )
    assert "Signature=" in url.query  # boto3's default presign for S3 is SigV2
    pairs = [("Host", "127.0.0.1:9")]
    now = datetime.now(UTC)
    verified = sigv4.verify(
        "GET", url.path, query_pairs(url.query), pairs, {}, secrets={AKID: SECRET}, now=now
    )
    assert verified.presigned and verified.access_key == AKID
    with pytest.raises(AWSError) as excinfo:
        sigv4.verify(
            "PUT", url.path, query_pairs(url.query), pairs, {}, secrets={AKID: SECRET}, now=now
        )
    assert excinfo.value.code == "SignatureDoesNotMatch"
    assert excinfo.value.error_fields["StringToSign"].startswith("PUT\n")
