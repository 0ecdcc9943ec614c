"""Request and response bodies over real HTTP: streamed (the server's memory stays
small for a body larger than any buffer), Transfer-Encoding chunked, aws-chunked with
per-chunk signatures and with trailing checksums, and a payload hash checked as it
streams (nothing stored when it does not match)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import threading
import zlib
from xml.etree import ElementTree

import psutil
import pytest
import s3_endpoint_helpers as helpers
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from s3_endpoint_helpers import REGION

from simsage.transport import sigv4
from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

MIB = 1024 * 1024

endpoint, s3 = helpers.endpoint, helpers.s3  # the fixtures


class _Declared(S3SigV4Auth):
    """botocore's signer with the payload hash the test declares."""

    def __init__(self, payload: str) -> None:
        super().__init__(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "s3", REGION)
        self._payload = payload

    def payload(self, request) -> str:
        return self._payload


def _send(endpoint, method, path, body, headers, payload=None, chunked=False):
    """Sign (botocore) and send one request; returns (status, body bytes)."""
    url = f"http://127.0.0.1:{endpoint.server_port}{path}"
    request = AWSRequest(method, url, headers=dict(headers))
    signer = (
        _Declared(payload)
        if payload
        else S3SigV4Auth(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "s3", REGION)
    )
    signer.add_auth(request)
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.server_port, timeout=120)
    try:
        conn.request(
            method, path, body=body, headers=dict(request.headers.items()), encode_chunked=chunked
        )
        response = conn.getresponse()
        return response.status, response.read(), request
    finally:
        conn.close()


def _code(body: bytes) -> str:
    return ElementTree.fromstring(body).find("Code").text


def _pieces(count: int, piece: bytes):
    for _ in range(count):
        yield piece


def test_a_64_mib_upload_and_download_stream_through_small_memory(s3, endpoint):
    s3.create_bucket(Bucket="bkt")
    piece = bytes(range(256)) * (MIB // 256)
    process = psutil.Process()
    peak = [process.memory_info().rss]
    before = peak[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        status, body, _ = _send(
            endpoint,
            "PUT",
            "/bkt/big.bin",
            _pieces(64, piece),
            {"Content-Length": str(64 * MIB)},
            payload=sigv4.UNSIGNED_PAYLOAD,
        )
        assert status == 200, body
        got = s3.get_object(Bucket="bkt", Key="big.bin")
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := got["Body"].read(MIB):
            digest.update(chunk)
    finally:
        stop.set()
        sampler.join()
    expected = hashlib.md5(piece * 64, usedforsecurity=False).hexdigest()
    assert digest.hexdigest() == expected == got["ETag"].strip('"')
    assert peak[0] - before < 32 * MIB, f"RSS grew by {(peak[0] - before) / MIB:.0f} MiB"


def test_transfer_encoding_chunked_put(s3, endpoint):
    s3.create_bucket(Bucket="bkt")
    status, body, _ = _send(
        endpoint, "PUT", "/bkt/c", _pieces(3, b"x" * 70_000), {}, sigv4.UNSIGNED_PAYLOAD, True
    )
    assert status == 200, body
    assert s3.get_object(Bucket="bkt", Key="c")["Body"].read() == b"x" * 210_000


@pytest.mark.parametrize("size", [10, 3 * MIB])
def test_a_payload_not_matching_its_sha256_is_refused_and_not_stored(s3, endpoint, size):
    s3.create_bucket(Bucket="bkt")
    declared = hashlib.sha256(b"a" * size).hexdigest()
    status, body, _ = _send(
        endpoint, "PUT", "/bkt/k", b"b" * size, {"Content-Length": str(size)}, declared
    )
    assert (status, _code(body)) == (400, "XAmzContentSHA256Mismatch")
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket="bkt", Key="k")
    assert excinfo.value.response["Error"]["Code"] == "404"


def _signing_key(timestamp: str) -> bytes:
    key = f"AWS4{LOCAL_SECRET_KEY}".encode()
    for part in (timestamp[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signed_chunks(request: AWSRequest, chunks: list[bytes], tamper: int = -1) -> bytes:
    """The aws-chunked body of ``chunks`` signed as the S3 API reference describes."""
    timestamp = request.context["timestamp"]
    key = _signing_key(timestamp)
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    out = []
    for i, data in enumerate([*chunks, b""]):
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                timestamp,
                scope,
                previous,
                sigv4.EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            )
        )
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = data.replace(b"a", b"b", 1) if i == tamper else data
        out.append(f"{len(data):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n")
    return b"".join(out)


@pytest.mark.parametrize("tamper", [None, 1])
def test_a_signed_aws_chunked_upload(s3, endpoint, tamper):
    s3.create_bucket(Bucket="bkt")
    chunks = [b"a" * 65536, b"a" * 1024]
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(66560),
    }
    url = f"http://127.0.0.1:{endpoint.server_port}/bkt/chunked.txt"
    request = AWSRequest("PUT", url, headers=headers)
    _Declared(sigv4.STREAMING_SIGNED).add_auth(request)
    body = _signed_chunks(request, chunks, -1 if tamper is None else tamper)
    headers = dict(request.headers.items())
    headers["Content-Length"] = str(len(body))
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.server_port, timeout=60)
    conn.request("PUT", "/bkt/chunked.txt", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    if tamper is None:
        assert response.status == 200, answer
        got = s3.get_object(Bucket="bkt", Key="chunked.txt")
        assert got["Body"].read() == b"a" * 66560
        assert "ContentEncoding" not in got
    else:
        assert (response.status, _code(answer)) == (403, "SignatureDoesNotMatch")
        assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("right", [True, False])
def test_an_unsigned_payload_with_a_trailing_checksum(s3, endpoint, right):
    s3.create_bucket(Bucket="bkt")
    data = b"trailing checksum " * 1000
    value = _crc32(data if right else b"other")
    body = (
        f"{len(data):x}\r\n".encode()
        + data
        + f"\r\n0\r\nx-amz-checksum-crc32:{value}\r\n\r\n".encode()
    )
    status, answer, _ = _send(
        endpoint,
        "PUT",
        "/bkt/t",
        body,
        {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "Content-Length": str(len(body)),
        },
        sigv4.STREAMING_UNSIGNED_TRAILER,
    )
    if right:
        assert status == 200, answer
        head = s3.head_object(Bucket="bkt", Key="t", ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == value and head["ContentLength"] == len(data)
    else:
        assert (status, _code(answer)) == (400, "BadDigest")
        assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0
