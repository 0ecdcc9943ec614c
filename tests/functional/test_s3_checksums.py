"""S3's additional checksums through real boto3 clients: what PutObject, UploadPart,
CreateMultipartUpload, CompleteMultipartUpload, ListParts and CopyObject store and
check, what GetObject/HeadObject answer with ``ChecksumMode=ENABLED``, S3's errors and
messages, and the CRC32 that boto3 ≥ 1.36 asks for by default (single PUT and the
transfer manager's multipart uploads).

Expected values are computed here independently (zlib, hashlib, botocore's own CRT
checksum classes) or are the published vectors for ``123456789``."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.httpchecksum import CrtCrc32cChecksum, CrtCrc64NvmeChecksum

BUCKET = "checks"
MIB = 1024 * 1024
PART = 5 * MIB
BODY = b"123456789"
# The checksums of BODY, as S3 answers them.
VECTORS = {
    "CRC32": "y/Q5Jg==",
    "CRC32C": "4waSgw==",
    "CRC64NVME": "rosUhgp5mIg=",
    "SHA1": "98O8HYCOBHMq32eZZczDTKeuNEE=",
    "SHA256": "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
}
# A multipart upload of two parts: the first at S3's minimum, then a short one.
PART_1 = bytes(range(256)) * (PART // 256)
PART_2 = b"the last part"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def checksum_of(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        return _b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algorithm in ("SHA1", "SHA256"):
        return _b64(hashlib.new(algorithm.lower(), data).digest())
    digest = {"CRC32C": CrtCrc32cChecksum, "CRC64NVME": CrtCrc64NvmeChecksum}[algorithm]()
    digest.update(data)
    return _b64(digest.digest())


def composite(algorithm: str, *parts: bytes) -> str:
    digests = b"".join(base64.b64decode(checksum_of(algorithm, part)) for part in parts)
    return f"{checksum_of(algorithm, digests)}-{len(parts)}"


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _error(excinfo) -> tuple[str, int, str]:
    response = excinfo.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error.get("Message")


def _absent(s3, key: str) -> bool:
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key=key)
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- PutObject, GetObject, HeadObject ------------------------------------------------


def test_the_default_crc32_of_boto3_is_stored_and_answered(s3):
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=BODY)
    assert put["ChecksumCRC32"] == VECTORS["CRC32"]
    assert put["ChecksumType"] == "FULL_OBJECT"
    assert put["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-crc32"] == VECTORS["CRC32"]
    # boto3 asks GetObject for the checksum by default; HeadObject only when told to.
    got = s3.get_object(Bucket=BUCKET, Key="k")
    assert (got["ChecksumCRC32"], got["ChecksumType"]) == (VECTORS["CRC32"], "FULL_OBJECT")
    assert got["Body"].read() == BODY
    assert "ChecksumCRC32" not in s3.head_object(Bucket=BUCKET, Key="k")
    head = s3.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (VECTORS["CRC32"], "FULL_OBJECT")


@pytest.mark.parametrize("algorithm", sorted(VECTORS))
def test_each_algorithm_is_computed_and_checked(s3, algorithm):
    member = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=BUCKET, Key="asked", Body=BODY, ChecksumAlgorithm=algorithm)
    assert put[member] == VECTORS[algorithm]
    given = s3.put_object(Bucket=BUCKET, Key="given", Body=BODY, **{member: VECTORS[algorithm]})
    assert given[member] == VECTORS[algorithm]
    head = s3.head_object(Bucket=BUCKET, Key="given", ChecksumMode="ENABLED")
    assert (head[member], head["ChecksumType"]) == (VECTORS[algorithm], "FULL_OBJECT")

    wrong = checksum_of(algorithm, b"other bytes")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="bad", Body=BODY, **{member: wrong})
    assert _error(excinfo) == (
        "BadDigest",
        400,
        f"The {algorithm} you specified did not match the calculated checksum.",
    )
    assert _absent(s3, "bad")


def test_a_large_body_is_checked_while_it_is_written(s3):
    body = bytes(range(256)) * 1024  # 256 KiB: a blob file, not an inline row
    value = checksum_of("CRC32C", body)
    put = s3.put_object(Bucket=BUCKET, Key="big", Body=body, ChecksumCRC32C=value)
    assert put["ChecksumCRC32C"] == value
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="big", Body=body[:-1] + b"x", ChecksumCRC32C=value)
    assert _error(excinfo)[:2] == ("BadDigest", 400)
    got = s3.get_object(Bucket=BUCKET, Key="big")
    assert got["Body"].read() == body and got["ChecksumCRC32C"] == value


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ChecksumCRC32": "y/Q5Jh=="}, "Value for x-amz-checksum-crc32 header is invalid."),
        ({"ChecksumCRC32": "short==="}, "Value for x-amz-checksum-crc32 header is invalid."),
        ({"ChecksumSHA256": "y/Q5Jg=="}, "Value for x-amz-checksum-sha256 header is invalid."),
        (
            {"ChecksumCRC32": VECTORS["CRC32"], "ChecksumSHA1": VECTORS["SHA1"]},
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ),
        (
            {"ChecksumAlgorithm": "SHA1", "ChecksumCRC32": VECTORS["CRC32"]},
            "Value for x-amz-sdk-checksum-algorithm header is invalid.",
        ),
    ],
)
def test_checksum_headers_s3_refuses(s3, params, message):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="refused", Body=BODY, **params)
    assert _error(excinfo) == ("InvalidRequest", 400, message)
    assert _absent(s3, "refused")


def test_an_upload_without_a_checksum_gets_s3s_default_crc64nvme(simsage_local, s3):
    plain = simsage_local.client(
        "s3", region_name="us-east-1", config=Config(request_checksum_calculation="when_required")
    )
    put = plain.put_object(Bucket=BUCKET, Key="plain", Body=BODY)
    assert (put["ChecksumCRC64NVME"], put["ChecksumType"]) == (VECTORS["CRC64NVME"], "FULL_OBJECT")
    head = s3.head_object(Bucket=BUCKET, Key="plain", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == VECTORS["CRC64NVME"]


def test_a_range_gets_the_checksum_only_when_it_covers_the_object(s3):
    s3.put_object(Bucket=BUCKET, Key="r", Body=BODY, ChecksumAlgorithm="SHA1")
    whole = s3.get_object(Bucket=BUCKET, Key="r", Range=f"bytes=0-{len(BODY) - 1}")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert whole["ChecksumSHA1"] == VECTORS["SHA1"]
    part = s3.get_object(Bucket=BUCKET, Key="r", Range="bytes=1-3")
    assert part["Body"].read() == b"234"
    assert not [k for k in part if k.startswith("Checksum")]
    head = s3.head_object(Bucket=BUCKET, Key="r", Range="bytes=0-3", ChecksumMode="ENABLED")
    assert not [k for k in head if k.startswith("Checksum")]


def test_a_checksum_mode_s3_does_not_know(s3):
    s3.put_object(Bucket=BUCKET, Key="m", Body=BODY)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="m", ChecksumMode="SOMETIMES")
    assert _error(excinfo) == (
        "InvalidRequest",
        400,
        "Value for x-amz-checksum-mode header is invalid.",
    )
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="m", ChecksumMode="SOMETIMES")
    assert _error(excinfo)[:2] == ("400", 400)


def test_listings_name_the_checksum_algorithm(s3):
    s3.put_object(Bucket=BUCKET, Key="a", Body=BODY, ChecksumAlgorithm="SHA256")
    (item,) = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert (item["ChecksumAlgorithm"], item["ChecksumType"]) == (["SHA256"], "FULL_OBJECT")
    assert s3.list_objects(Bucket=BUCKET)["Contents"][0]["ChecksumAlgorithm"] == ["SHA256"]


# -- CopyObject ------------------------------------------------------------------------


def test_a_copy_keeps_the_checksum_or_computes_the_one_asked_for(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=BODY, ChecksumAlgorithm="SHA1")
    kept = s3.copy_object(Bucket=BUCKET, Key="kept", CopySource=f"{BUCKET}/src")
    assert kept["CopyObjectResult"]["ChecksumSHA1"] == VECTORS["SHA1"]
    assert kept["CopyObjectResult"]["ChecksumType"] == "FULL_OBJECT"
    asked = s3.copy_object(
        Bucket=BUCKET, Key="asked", CopySource=f"{BUCKET}/src", ChecksumAlgorithm="CRC32C"
    )
    assert asked["CopyObjectResult"]["ChecksumCRC32C"] == VECTORS["CRC32C"]
    # Adding a checksum is a change: an object may be copied onto itself for it.
    s3.copy_object(Bucket=BUCKET, Key="src", CopySource=f"{BUCKET}/src", ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=BUCKET, Key="src", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == VECTORS["CRC32"] and "ChecksumSHA1" not in head


# -- multipart uploads -------------------------------------------------------------------


def _multipart(s3, key: str, algorithm: str | None, checksum_type: str | None = None):
    create = {}
    if algorithm:
        create["ChecksumAlgorithm"] = algorithm
    if checksum_type:
        create["ChecksumType"] = checksum_type
    started = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)
    parts = []
    for number, data in ((1, PART_1), (2, PART_2)):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=started["UploadId"],
            PartNumber=number,
            Body=data,
            **extra,
        )
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        if algorithm:
            assert answer[f"Checksum{algorithm}"] == checksum_of(algorithm, data)
            part[f"Checksum{algorithm}"] = answer[f"Checksum{algorithm}"]
        parts.append(part)
    return started, parts


def test_a_composite_upload(s3):
    started, parts = _multipart(s3, "comp", "SHA256")
    assert (started["ChecksumAlgorithm"], started["ChecksumType"]) == ("SHA256", "COMPOSITE")
    listed = s3.list_parts(Bucket=BUCKET, Key="comp", UploadId=started["UploadId"])
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ("SHA256", "COMPOSITE")
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [p["ChecksumSHA256"] for p in parts]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert uploads[0]["ChecksumAlgorithm"] == "SHA256"

    expected = composite("SHA256", PART_1, PART_2)
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="comp",
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": parts},
        ChecksumSHA256=expected,
    )
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (expected, "COMPOSITE")
    head = s3.head_object(Bucket=BUCKET, Key="comp", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (expected, "COMPOSITE")
    # A part read by its number answers that part's checksum.
    second = s3.get_object(Bucket=BUCKET, Key="comp", PartNumber=2)
    assert second["Body"].read() == PART_2
    assert second["ChecksumSHA256"] == checksum_of("SHA256", PART_2)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_a_full_object_upload(s3, algorithm):
    started, parts = _multipart(s3, "full", algorithm, "FULL_OBJECT")
    assert started["ChecksumType"] == "FULL_OBJECT"
    whole = checksum_of(algorithm, PART_1 + PART_2)
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="full",
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": parts},
        **{f"Checksum{algorithm}": whole},
    )
    assert (done[f"Checksum{algorithm}"], done["ChecksumType"]) == (whole, "FULL_OBJECT")


def test_crc64nvme_uploads_are_full_object_by_default(s3):
    started = s3.create_multipart_upload(Bucket=BUCKET, Key="n", ChecksumAlgorithm="CRC64NVME")
    assert started["ChecksumType"] == "FULL_OBJECT"


def test_an_upload_without_an_algorithm_gets_the_default_full_object_crc64nvme(s3):
    started, parts = _multipart(s3, "plain", None)
    assert "ChecksumAlgorithm" not in started
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="plain", UploadId=started["UploadId"], MultipartUpload={"Parts": parts}
    )
    whole = checksum_of("CRC64NVME", PART_1 + PART_2)
    assert (done["ChecksumCRC64NVME"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    got = s3.get_object(Bucket=BUCKET, Key="plain")
    assert got["ChecksumCRC64NVME"] == whole and got["Body"].read() == PART_1 + PART_2


@pytest.mark.parametrize(
    ("create", "message"),
    [
        (
            {"ChecksumType": "FULL_OBJECT"},
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm "
            "header.",
        ),
        (
            {"ChecksumAlgorithm": "SHA1", "ChecksumType": "FULL_OBJECT"},
            "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.",
        ),
        (
            {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
        ),
        (
            {"ChecksumAlgorithm": "CRC32", "ChecksumType": "TEST"},
            "Value for x-amz-checksum-type header is invalid.",
        ),
        (
            {"ChecksumAlgorithm": "nope"},
            "Checksum algorithm provided is unsupported. Please try again with any of the valid "
            "types: [CRC32, CRC32C, SHA1, SHA256]",
        ),
    ],
)
def test_create_multipart_upload_refuses(s3, create, message):
    with pytest.raises(ClientError) as excinfo:
        s3.create_multipart_upload(Bucket=BUCKET, Key="x", **create)
    assert _error(excinfo) == ("InvalidRequest", 400, message)


def test_a_part_must_have_the_uploads_algorithm(s3):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="u", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    # Without ChecksumAlgorithm, boto3 sends its default CRC32, which S3 refuses here.
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=BUCKET, Key="u", UploadId=upload_id, PartNumber=1, Body=BODY)
    assert _error(excinfo) == (
        "InvalidRequest",
        400,
        "Checksum Type mismatch occurred, expected checksum Type: sha256, "
        "actual checksum Type: crc32",
    )
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(
            Bucket=BUCKET,
            Key="u",
            UploadId=upload_id,
            PartNumber=1,
            Body=BODY,
            ChecksumSHA256=VECTORS["SHA1"][:-2] + "xx",
        )
    assert _error(excinfo)[:2] == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(
            Bucket=BUCKET,
            Key="u",
            UploadId=upload_id,
            PartNumber=1,
            Body=BODY,
            ChecksumSHA256=checksum_of("SHA256", b"other"),
        )
    assert _error(excinfo) == (
        "BadDigest",
        400,
        "The SHA256 you specified did not match the calculated checksum.",
    )
    assert s3.list_parts(Bucket=BUCKET, Key="u", UploadId=upload_id).get("Parts") is None


def _complete_error(s3, upload_id, parts, key="comp", **extra):
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
        )
    return excinfo.value.response


def test_complete_checks_the_checksums_it_is_given(s3):
    started, parts = _multipart(s3, "comp", "CRC32")
    upload_id = started["UploadId"]

    missing = [parts[0], {k: v for k, v in parts[1].items() if k != "ChecksumCRC32"}]
    error = _complete_error(s3, upload_id, missing)["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidRequest",
        "The upload was created using a crc32 checksum. The complete request must include "
        "the checksum for each part. It was missing for part 2 in the request.",
    )

    wrong = [parts[0], {**parts[1], "ChecksumCRC32": VECTORS["CRC32"]}]
    error = _complete_error(s3, upload_id, wrong)["Error"]
    assert error["Code"] == "InvalidPart"
    assert (error["PartNumber"], error["UploadId"]) == ("2", upload_id)
    assert error["ETag"] == parts[1]["ETag"].strip('"')

    other = [parts[0], {"PartNumber": 2, "ETag": parts[1]["ETag"], "ChecksumSHA1": VECTORS["SHA1"]}]
    error = _complete_error(s3, upload_id, other)["Error"]
    assert (error["Code"], error["Message"]) == (
        "BadDigest",
        "The sha1 you specified for part 2 did not match what we received.",
    )

    invalid = [parts[0], {**parts[1], "ChecksumCRC32": "y/Q5Jh=="}]
    error = _complete_error(s3, upload_id, invalid)["Error"]
    assert (error["Code"], error["ArgumentName"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "Checksum",
        "CRC32:y/Q5Jh==;",
    )

    error = _complete_error(s3, upload_id, parts, ChecksumCRC32=VECTORS["CRC32"])["Error"]
    assert (error["Code"], error["Message"]) == (
        "BadDigest",
        "The crc32 you specified did not match the calculated checksum.",
    )
    error = _complete_error(s3, upload_id, parts, ChecksumType="FULL_OBJECT")["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidRequest",
        "The upload was created using the COMPOSITE checksum mode. "
        "The complete request must use the same checksum mode.",
    )
    # The upload is still there after each refusal, and completes as it should.
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="comp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumCRC32"] == composite("CRC32", PART_1, PART_2)


def test_upload_part_copy_computes_the_uploads_checksum(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=PART_1, ChecksumAlgorithm="SHA256")
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="dst", ChecksumAlgorithm="CRC32C")[
        "UploadId"
    ]
    copied = s3.upload_part_copy(
        Bucket=BUCKET, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{BUCKET}/src"
    )["CopyPartResult"]
    assert copied["ChecksumCRC32C"] == checksum_of("CRC32C", PART_1)
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="dst",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {
                    "PartNumber": 1,
                    "ETag": copied["ETag"],
                    "ChecksumCRC32C": copied["ChecksumCRC32C"],
                }
            ]
        },
    )
    assert done["ChecksumCRC32C"] == composite("CRC32C", PART_1)


def test_a_copy_of_a_composite_object_has_a_full_object_checksum(s3):
    started, parts = _multipart(s3, "comp", "CRC32")
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="comp", UploadId=started["UploadId"], MultipartUpload={"Parts": parts}
    )
    result = s3.copy_object(Bucket=BUCKET, Key="copy", CopySource=f"{BUCKET}/comp")
    result = result["CopyObjectResult"]
    assert result["ETag"] == f'"{hashlib.md5(PART_1 + PART_2).hexdigest()}"'
    assert (result["ChecksumCRC32"], result["ChecksumType"]) == (
        checksum_of("CRC32", PART_1 + PART_2),
        "FULL_OBJECT",
    )


# -- the transfer manager with boto3's defaults ------------------------------------------


def test_upload_file_and_download_file_keep_boto3s_default_checksums(s3, tmp_path):
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=PART)
    data = PART_1 * 2 + PART_2  # three parts
    source = tmp_path / "up.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), BUCKET, "big", Config=config)
    head = s3.head_object(Bucket=BUCKET, Key="big", ChecksumMode="ENABLED")
    # s3transfer asks for CRC32 on CreateMultipartUpload and on each part.
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (
        composite("CRC32", PART_1, PART_1, PART_2),
        "COMPOSITE",
    )
    small = tmp_path / "small.bin"
    small.write_bytes(BODY)
    s3.upload_file(str(small), BUCKET, "small", Config=config)
    head = s3.head_object(Bucket=BUCKET, Key="small", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (VECTORS["CRC32"], "FULL_OBJECT")

    target = tmp_path / "down.bin"
    s3.download_file(BUCKET, "big", str(target), Config=config)
    assert target.read_bytes() == data
    s3.download_file(BUCKET, "small", str(target), Config=config)
    assert target.read_bytes() == BODY
