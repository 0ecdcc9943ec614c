"""Authentication over real HTTP: SigV4 headers, presigned URLs, refusals with S3's codes,
virtual-hosted requests and a non-botocore signer (curl's --aws-sigv4)."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import botocore.auth
import botocore.compat
import botocore.crt.auth
import pytest
import s3_endpoint_helpers as helpers
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from s3_endpoint_helpers import REGION, client

from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

endpoint, s3 = helpers.endpoint, helpers.s3  # the fixtures


def _error(body: bytes) -> dict[str, str]:
    return {child.tag: child.text for child in ElementTree.fromstring(body)}


def _http(method: str, url: str, data: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_a_wrong_secret_is_signature_does_not_match(endpoint):
    wrong = client(endpoint.url, secret="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        wrong.list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unknown_access_key_is_invalid_access_key_id(endpoint):
    import boto3

    other = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id="AKIAUNKNOWN",
        aws_secret_access_key=LOCAL_SECRET_KEY,
    )
    with pytest.raises(ClientError) as excinfo:
        other.list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_anonymous_and_sigv2_requests_are_refused(s3, endpoint):
    s3.create_bucket(Bucket="bkt")
    status, _, body = _http("GET", f"{endpoint.url}/bkt/k")
    assert status == 403 and _error(body)["Code"] == "AccessDenied"
    status, _, body = _http("GET", f"{endpoint.url}/bkt/k", headers={"Authorization": "AWS a:b"})
    assert status == 400 and "AWS4-HMAC-SHA256" in _error(body)["Message"]


@pytest.mark.parametrize("version", [None, "s3v4"])
def test_presigned_get_and_put_with_plain_http(endpoint, version):
    """boto3's default presigned URLs for S3 are SigV2 (query ``Signature``); with
    ``signature_version="s3v4"`` they are SigV4. Both are accepted."""
    s3 = client(endpoint.url, signature_version=version) if version else client(endpoint.url)
    s3.create_bucket(Bucket="bkt")
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "up.txt"}, ExpiresIn=600
    )
    assert ("X-Amz-Signature" in put_url) == (version == "s3v4")
    # urllib would add a form Content-Type, which a SigV2 signature covers
    status, _, body = _http("PUT", put_url, b"uploaded by urllib", {"Content-Type": ""})
    assert status == 200, body
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "up.txt"}, ExpiresIn=600
    )
    status, headers, body = _http("GET", get_url)
    assert (status, body) == (200, b"uploaded by urllib")
    assert headers["ETag"] == s3.head_object(Bucket="bkt", Key="up.txt")["ETag"]
    status, _, body = _http("GET", get_url.replace("up.txt", "other.txt"))
    assert status == 403 and _error(body)["Code"] == "SignatureDoesNotMatch"


def test_an_expired_presigned_url_is_access_denied(endpoint, monkeypatch):
    s3 = client(endpoint.url, signature_version="s3v4")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"v")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    def clock(remove_tzinfo=True):
        return an_hour_ago.replace(tzinfo=None) if remove_tzinfo else an_hour_ago

    # botocore signs with awscrt's signer when awscrt is installed (botocore.crt.auth)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", clock)
    monkeypatch.setattr(botocore.crt.auth, "get_current_datetime", clock)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=60
    )
    monkeypatch.setattr(botocore.auth, "get_current_datetime", botocore.compat.get_current_datetime)
    monkeypatch.setattr(
        botocore.crt.auth, "get_current_datetime", botocore.compat.get_current_datetime
    )
    status, _, body = _http("GET", url)
    error = _error(body)
    assert status == 403 and (error["Code"], error["Message"]) == (
        "AccessDenied",
        "Request has expired",
    )


def test_a_week_is_the_longest_expiry(endpoint):
    s3 = client(endpoint.url, signature_version="s3v4")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=604801
    )
    status, _, body = _http("GET", url)
    assert status == 400 and _error(body)["Code"] == "AuthorizationQueryParametersError"


def _signed(method: str, url: str, body: bytes = b"", headers=None) -> AWSRequest:
    request = AWSRequest(method, url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "s3", REGION).add_auth(request)
    return request


def test_virtual_hosted_requests(s3, endpoint):
    s3.create_bucket(Bucket="bkt")
    port = endpoint.server_port
    for host in (f"bkt.localhost:{port}", "bkt.s3.amazonaws.com", "bkt.s3.us-east-1.amazonaws.com"):
        request = _signed("PUT", f"http://{host}/v%20k.txt", b"virtual")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": host, **dict(request.headers.items())}
        conn.request("PUT", "/v%20k.txt", body=b"virtual", headers=headers)
        response = conn.getresponse()
        assert response.status == 200, response.read()
        response.read()
        request = _signed("GET", f"http://{host}/v%20k.txt")
        conn.request("GET", "/v%20k.txt", headers={"Host": host, **dict(request.headers.items())})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"virtual")
        conn.close()
        assert s3.get_object(Bucket="bkt", Key="v k.txt")["Body"].read() == b"virtual"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_aws_sigv4_is_accepted(s3, endpoint, tmp_path):
    s3.create_bucket(Bucket="bkt")
    source = tmp_path / "f.txt"
    source.write_bytes(b"sent by curl")
    signing = [
        "--aws-sigv4",
        f"aws:amz:{REGION}:s3",
        "--user",
        f"{LOCAL_ACCESS_KEY}:{LOCAL_SECRET_KEY}",
        # S3 requires x-amz-content-sha256 with a SigV4 header; curl 7.x does not add it
        "-H",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
    ]
    put = subprocess.run(
        ["curl", "-sS", "-f", *signing, "-T", str(source), f"{endpoint.url}/bkt/curl%20key.txt"],
        capture_output=True,
        timeout=60,
    )
    assert put.returncode == 0, put.stderr
    got = subprocess.run(
        ["curl", "-sS", "-f", *signing, f"{endpoint.url}/bkt/curl%20key.txt"],
        capture_output=True,
        timeout=60,
    )
    assert got.stdout == b"sent by curl", got.stderr
    wrong = subprocess.run(
        [
            "curl",
            "-sS",
            "--aws-sigv4",
            f"aws:amz:{REGION}:s3",
            "--user",
            f"{LOCAL_ACCESS_KEY}:x",
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            f"{endpoint.url}/bkt/curl%20key.txt",
        ],
        capture_output=True,
        timeout=60,
    )
    assert _error(wrong.stdout)["Code"] == "SignatureDoesNotMatch"
