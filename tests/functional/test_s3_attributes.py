"""GetObjectAttributes through real boto3 clients: the members the ObjectAttributes list
asks for (ETag, Checksum, ObjectParts, StorageClass, ObjectSize), the parts of a
multipart object with their checksums and their paging, and S3's errors."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

BUCKET = "attrs"
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PART = 5 * 1024 * 1024
PARTS = [b"a" * PART, b"b" * PART, b"tail"]


def _crc32(data: bytes) -> str:
    return base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _multipart(s3, key: str, **create) -> str:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    parts = []
    for number, data in enumerate(PARTS, 1):
        answer = s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **create
        )
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        if "ChecksumCRC32" in answer and create:
            part["ChecksumCRC32"] = answer["ChecksumCRC32"]
        parts.append(part)
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return done["ETag"].strip('"')


def _attributes(s3, key: str, names=ALL, **extra) -> dict:
    answer = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=names, **extra)
    answer.pop("ResponseMetadata")
    return answer


def test_the_attributes_of_an_object(s3):
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"hello", StorageClass="STANDARD_IA")
    modified = s3.head_object(Bucket=BUCKET, Key="k")["LastModified"]
    assert _attributes(s3, "k") == {
        "LastModified": modified,
        "ETag": hashlib.md5(b"hello").hexdigest(),  # without the quotes
        "Checksum": {"ChecksumCRC32": put["ChecksumCRC32"], "ChecksumType": "FULL_OBJECT"},
        "StorageClass": "STANDARD_IA",
        "ObjectSize": 5,
    }
    assert _attributes(s3, "k", ["ObjectSize", "ETag"]) == {
        "LastModified": modified,
        "ETag": hashlib.md5(b"hello").hexdigest(),
        "ObjectSize": 5,
    }


def test_the_parts_of_a_multipart_object_with_checksums(s3):
    etag = _multipart(s3, "mp", ChecksumAlgorithm="CRC32")
    answer = _attributes(s3, "mp")
    assert answer["ETag"] == etag and answer["ObjectSize"] == 2 * PART + 4
    digests = b"".join(base64.b64decode(_crc32(p)) for p in PARTS)
    assert answer["Checksum"] == {
        "ChecksumCRC32": f"{_crc32(digests)}-3",
        "ChecksumType": "COMPOSITE",
    }
    listed = [
        {"PartNumber": n, "Size": len(p), "ChecksumCRC32": _crc32(p)}
        for n, p in enumerate(PARTS, 1)
    ]
    assert answer["ObjectParts"] == {
        "TotalPartsCount": 3,
        "PartNumberMarker": 0,
        "NextPartNumberMarker": 3,
        "MaxParts": 1000,
        "IsTruncated": False,
        "Parts": listed,
    }
    page = _attributes(s3, "mp", ["ObjectParts"], MaxParts=2, PartNumberMarker=1)["ObjectParts"]
    assert (page["Parts"], page["NextPartNumberMarker"], page["IsTruncated"]) == (
        listed[1:3],
        3,
        False,
    )
    page = _attributes(s3, "mp", ["ObjectParts"], MaxParts=1)["ObjectParts"]
    assert (page["Parts"], page["NextPartNumberMarker"], page["IsTruncated"]) == (
        listed[:1],
        1,
        True,
    )
    page = _attributes(s3, "mp", ["ObjectParts"], PartNumberMarker=3)["ObjectParts"]
    assert "Parts" not in page and page["NextPartNumberMarker"] == 3


def test_a_multipart_object_without_an_algorithm_lists_no_parts(s3):
    _multipart(s3, "plain")
    answer = _attributes(s3, "plain", ["ObjectParts", "Checksum"])
    assert answer["ObjectParts"] == {"TotalPartsCount": 3}
    assert answer["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert "ChecksumCRC64NVME" in answer["Checksum"]


def test_get_object_attributes_refuses(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=BUCKET, Key="k", ObjectAttributes=["ETag", "Owner"])
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "Invalid attribute name specified.",
        "ETag,Owner",
    )
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket=BUCKET, Key="missing", ObjectAttributes=["ETag"])
    assert excinfo.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_attributes(Bucket="no-such-bucket", Key="k", ObjectAttributes=["ETag"])
    assert excinfo.value.response["Error"]["Code"] == "NoSuchBucket"
