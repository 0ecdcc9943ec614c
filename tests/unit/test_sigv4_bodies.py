"""The S3 endpoint's body readers on in-memory bytes: AWS's published signed-chunk
example decoded and verified, a tampered chunk refused, chunked framing, trailers."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib

import pytest

from simsage.errors import AWSError
from simsage.transport.s3_endpoint_bodies import (
    AwsChunkedReader,
    ChunkedReader,
    LengthReader,
    Sha256Reader,
)
from simsage.transport.sigv4 import ChunkVerifier

SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"


def _example_body(tamper: bool = False) -> bytes:
    out = []
    for size, signature in zip((65536, 1024, 0), SIGNATURES, strict=True):
        data = b"a" * size
        if tamper and size == 1024:
            data = b"b" + data[1:]
        out.append(f"{size:x};chunk-signature={signature}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _chain() -> ChunkVerifier:
    import hmac

    key = b"AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return ChunkVerifier(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", SEED)


def _length(body: bytes) -> LengthReader:
    return LengthReader(io.BufferedReader(io.BytesIO(body)), len(body))


@pytest.mark.parametrize("piece", [1, 1000, 70000, -1])
def test_the_published_signed_chunks_decode(piece):
    reader = AwsChunkedReader(_length(_example_body()), _chain(), 66560)
    out = bytearray()
    while chunk := reader.read(piece):
        out += chunk
        if piece == -1:
            break
    assert bytes(out) == b"a" * 66560 and reader.done


def test_a_tampered_chunk_fails_before_the_end():
    reader = AwsChunkedReader(_length(_example_body(tamper=True)), _chain(), 66560)
    with pytest.raises(AWSError) as excinfo:
        reader.read()
    assert excinfo.value.code == "SignatureDoesNotMatch"


def test_a_short_body_is_incomplete():
    body = _example_body()[:-200]
    with pytest.raises(AWSError) as excinfo:
        AwsChunkedReader(_length(body), _chain(), 66560).read()
    assert excinfo.value.code == "IncompleteBody"


def test_an_unsigned_trailer_checksum_is_checked():
    data = b"hello world" * 100
    value = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = (
        f"{len(data):x}\r\n".encode()
        + data
        + f"\r\n0\r\nx-amz-checksum-crc32:{value}\r\n\r\n".encode()
    )
    reader = AwsChunkedReader(_length(body), None, len(data), "x-amz-checksum-crc32")
    assert reader.read() == data and reader.trailers == {"x-amz-checksum-crc32": value}
    wrong = body.replace(value.encode(), b"AAAAAA==")
    with pytest.raises(AWSError) as excinfo:
        AwsChunkedReader(_length(wrong), None, len(data), "x-amz-checksum-crc32").read()
    assert excinfo.value.code == "BadDigest"


def test_http_chunked_with_trailers_and_sha256():
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n"
    reader = ChunkedReader(io.BufferedReader(io.BytesIO(body)))
    checked = Sha256Reader(reader, hashlib.sha256(b"hello world").hexdigest())
    assert checked.read() == b"hello world" and reader.trailers == {"x-t": "1"}
    reader = ChunkedReader(io.BufferedReader(io.BytesIO(body)))
    with pytest.raises(AWSError) as excinfo:
        Sha256Reader(reader, hashlib.sha256(b"other").hexdigest()).read()
    assert excinfo.value.code == "XAmzContentSHA256Mismatch"
    assert excinfo.value.status == 400
