"""Multipart uploads through real boto3 clients: CreateMultipartUpload, UploadPart,
UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts and
ListMultipartUploads, with S3's part-size rule, part checks, ETags (computed here
independently) and error codes; reading a completed upload by part number."""

from __future__ import annotations

import base64
import hashlib
import itertools

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()

BUCKET = "multipart"
MIB = 1024 * 1024
MIN_PART = 5 * MIB
# Distinct contents, so a part in the wrong place or missing is noticed.
PART_A = bytes(range(256)) * (MIN_PART // 256)
PART_B = b"B" * MIN_PART
TAIL = b"the last part may be small"


def _client():
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name="us-east-1").client("s3")


@pytest.fixture
def s3(simsage_local):
    client = _client()
    client.create_bucket(Bucket=BUCKET)
    return client


def _error(excinfo) -> tuple[str, int, dict]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"],
    )


def _multipart_etag(*parts: bytes) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then -N."""
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def _start(s3, key: str = "obj", **kwargs) -> str:
    return s3.create_multipart_upload(Bucket=BUCKET, Key=key, **kwargs)["UploadId"]


def _upload(s3, upload_id: str, number: int, data: bytes, key: str = "obj") -> dict:
    etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=data)[
        "ETag"
    ]
    return {"PartNumber": number, "ETag": etag}


def _complete(s3, upload_id: str, parts: list[dict], key: str = "obj") -> dict:
    return s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def _pages(page_iterator, limit: int = 50) -> list[dict]:
    pages = list(itertools.islice(page_iterator, limit + 1))
    assert len(pages) <= limit, "the paginator did not stop"
    return pages


# -- the happy path ----------------------------------------------------------------------------


def test_upload_in_parts(s3):
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key="data/obj.bin", ContentType="text/csv", Metadata={"Stage": "raw"}
    )
    assert created["Bucket"] == BUCKET
    assert created["Key"] == "data/obj.bin"
    upload_id = created["UploadId"]
    part1 = _upload(s3, upload_id, 1, PART_A, key="data/obj.bin")
    part2 = _upload(s3, upload_id, 2, TAIL, key="data/obj.bin")
    assert part1["ETag"] == f'"{hashlib.md5(PART_A).hexdigest()}"'
    assert part2["ETag"] == f'"{hashlib.md5(TAIL).hexdigest()}"'
    # The object does not exist until the upload completes.
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="data/obj.bin")
    assert _error(excinfo)[0] == "404"

    done = _complete(s3, upload_id, [part1, part2], key="data/obj.bin")
    expected_etag = _multipart_etag(PART_A, TAIL)
    assert done["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert done["ETag"] == expected_etag
    assert done["Bucket"] == BUCKET
    assert done["Key"] == "data/obj.bin"
    assert done["Location"].endswith("/data/obj.bin")

    got = s3.get_object(Bucket=BUCKET, Key="data/obj.bin")
    assert got["Body"].read() == PART_A + TAIL
    assert got["ETag"] == expected_etag
    assert got["ContentLength"] == len(PART_A) + len(TAIL)
    assert got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"stage": "raw"}
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]
    assert (listed["Key"], listed["ETag"], listed["Size"]) == (
        "data/obj.bin",
        expected_etag,
        len(PART_A) + len(TAIL),
    )
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_single_small_part_is_allowed(s3):
    upload_id = _start(s3)
    done = _complete(s3, upload_id, [_upload(s3, upload_id, 1, TAIL)])
    assert done["ETag"] == _multipart_etag(TAIL)
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=BUCKET, Key="obj")["Body"].read() == TAIL


def test_part_numbers_need_not_be_contiguous(s3):
    upload_id = _start(s3)
    parts = [_upload(s3, upload_id, 3, PART_A), _upload(s3, upload_id, 10, TAIL)]
    done = _complete(s3, upload_id, parts)
    assert done["ETag"] == _multipart_etag(PART_A, TAIL)
    assert s3.get_object(Bucket=BUCKET, Key="obj")["Body"].read() == PART_A + TAIL


def test_parts_left_out_of_complete_are_dropped(s3):
    upload_id = _start(s3)
    part1 = _upload(s3, upload_id, 1, PART_A)
    _upload(s3, upload_id, 2, PART_B)
    part3 = _upload(s3, upload_id, 3, TAIL)
    done = _complete(s3, upload_id, [part1, part3])
    assert done["ETag"] == _multipart_etag(PART_A, TAIL)
    got = s3.get_object(Bucket=BUCKET, Key="obj")
    assert got["Body"].read() == PART_A + TAIL
    assert got["ContentLength"] == len(PART_A) + len(TAIL)


def test_reuploading_a_part_replaces_it(s3):
    upload_id = _start(s3)
    _upload(s3, upload_id, 1, b"first version")
    part1 = _upload(s3, upload_id, 1, TAIL)
    parts = s3.list_parts(Bucket=BUCKET, Key="obj", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, part1["ETag"], len(TAIL))
    ]
    _complete(s3, upload_id, [part1])
    assert s3.get_object(Bucket=BUCKET, Key="obj")["Body"].read() == TAIL


def test_completing_replaces_an_existing_object(s3):
    s3.put_object(Bucket=BUCKET, Key="obj", Body=b"old", Metadata={"old": "1"})
    upload_id = _start(s3, Metadata={"new": "1"})
    _complete(s3, upload_id, [_upload(s3, upload_id, 1, TAIL)])
    got = s3.get_object(Bucket=BUCKET, Key="obj")
    assert got["Body"].read() == TAIL
    assert got["Metadata"] == {"new": "1"}


def test_upload_part_with_content_md5(s3):
    upload_id = _start(s3)
    digest = base64.b64encode(hashlib.md5(TAIL).digest()).decode()
    s3.upload_part(
        Bucket=BUCKET, Key="obj", UploadId=upload_id, PartNumber=1, Body=TAIL, ContentMD5=digest
    )
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(
            Bucket=BUCKET,
            Key="obj",
            UploadId=upload_id,
            PartNumber=2,
            Body=b"something else",
            ContentMD5=digest,
        )
    assert _error(excinfo)[:2] == ("BadDigest", 400)
    parts = s3.list_parts(Bucket=BUCKET, Key="obj", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]


# -- errors at Complete --------------------------------------------------------------------------


def test_parts_but_the_last_must_be_5_mib(s3):
    upload_id = _start(s3)
    small = _upload(s3, upload_id, 1, b"x" * (MIN_PART - 1))
    last = _upload(s3, upload_id, 2, TAIL)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [small, last])
    code, status, error = _error(excinfo)
    assert (code, status) == ("EntityTooSmall", 400)
    assert error["ProposedSize"] == str(MIN_PART - 1)
    assert error["MinSizeAllowed"] == str(MIN_PART)
    assert error["PartNumber"] == "1"
    assert "smaller than the minimum allowed" in error["Message"]
    # The upload is still there, and can be fixed and completed.
    big = _upload(s3, upload_id, 1, PART_A)
    done = _complete(s3, upload_id, [big, last])
    assert done["ETag"] == _multipart_etag(PART_A, TAIL)


def test_exactly_5_mib_parts_are_fine(s3):
    upload_id = _start(s3)
    parts = [_upload(s3, upload_id, 1, PART_B), _upload(s3, upload_id, 2, PART_B)]
    assert _complete(s3, upload_id, parts)["ETag"] == _multipart_etag(PART_B, PART_B)


def test_wrong_etag_is_invalid_part(s3):
    upload_id = _start(s3)
    part = _upload(s3, upload_id, 1, TAIL)
    wrong = {"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [wrong])
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidPart", 400)
    assert error["PartNumber"] == "1"
    assert "could not be found" in error["Message"]
    _complete(s3, upload_id, [part])  # the upload survived the failed attempt


def test_missing_part_is_invalid_part(s3):
    upload_id = _start(s3)
    part1 = _upload(s3, upload_id, 1, PART_A)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [part1, {"PartNumber": 2, "ETag": part1["ETag"]}])
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidPart", 400)
    assert error["PartNumber"] == "2"


@pytest.mark.parametrize("dropped", ["PartNumber", "ETag"])
def test_a_part_without_its_number_or_etag_is_malformed(s3, dropped):
    upload_id = _start(s3)
    part = _upload(s3, upload_id, 1, TAIL)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [{k: v for k, v in part.items() if k != dropped}])
    code, status, error = _error(excinfo)
    assert (code, status) == ("MalformedXML", 400)
    assert error["Message"].startswith(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    _complete(s3, upload_id, [part])  # the upload survived the refused request


def test_invalid_part_names_the_upload_part_and_etag(s3):
    upload_id = _start(s3)
    _upload(s3, upload_id, 1, TAIL)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}])
    _, _, error = _error(excinfo)
    assert (error["UploadId"], error["PartNumber"], error["ETag"]) == (upload_id, "1", "0" * 32)
    assert error["Message"] == (
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag."
    )


def test_parts_out_of_order(s3):
    upload_id = _start(s3)
    part1 = _upload(s3, upload_id, 1, PART_A)
    part2 = _upload(s3, upload_id, 2, TAIL)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [part2, part1])
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidPartOrder", 400)
    assert "ascending order" in error["Message"]


def test_complete_without_parts_is_malformed(s3):
    upload_id = _start(s3)
    _upload(s3, upload_id, 1, TAIL)
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="obj", UploadId=upload_id)
    assert _error(excinfo)[:2] == ("MalformedXML", 400)
    with pytest.raises(ClientError) as excinfo:
        _complete(s3, upload_id, [])
    assert _error(excinfo)[:2] == ("MalformedXML", 400)


def test_part_number_outside_1_to_10000(s3):
    upload_id = _start(s3)
    for number in (0, 10001):
        with pytest.raises(ClientError) as excinfo:
            s3.upload_part(
                Bucket=BUCKET, Key="obj", UploadId=upload_id, PartNumber=number, Body=b"x"
            )
        code, status, error = _error(excinfo)
        assert (code, status) == ("InvalidArgument", 400)
        assert error["ArgumentName"] == "partNumber"


# -- NoSuchUpload --------------------------------------------------------------------------------


def _assert_no_such_upload(call, upload_id: str, **kwargs) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(Bucket=BUCKET, Key="obj", UploadId=upload_id, **kwargs)
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchUpload", 404)
    assert "does not exist" in error["Message"]
    assert error["UploadId"] == upload_id


def test_aborted_upload_is_gone(s3):
    upload_id = _start(s3)
    part = _upload(s3, upload_id, 1, TAIL)
    response = s3.abort_multipart_upload(Bucket=BUCKET, Key="obj", UploadId=upload_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    _assert_no_such_upload(s3.upload_part, upload_id, PartNumber=2, Body=b"x")
    _assert_no_such_upload(s3.list_parts, upload_id)
    _assert_no_such_upload(
        s3.complete_multipart_upload, upload_id, MultipartUpload={"Parts": [part]}
    )
    _assert_no_such_upload(s3.abort_multipart_upload, upload_id)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_completed_upload_is_gone(s3):
    upload_id = _start(s3)
    _complete(s3, upload_id, [_upload(s3, upload_id, 1, TAIL)])
    _assert_no_such_upload(s3.upload_part, upload_id, PartNumber=2, Body=b"x")
    _assert_no_such_upload(s3.list_parts, upload_id)


def test_unknown_upload_id_or_other_key(s3):
    _assert_no_such_upload(s3.list_parts, "not-an-upload-id")
    _assert_no_such_upload(s3.upload_part, "not-an-upload-id", PartNumber=1, Body=b"x")
    upload_id = _start(s3, key="one-key")
    # An upload id belongs to its key.
    _assert_no_such_upload(s3.upload_part, upload_id, PartNumber=1, Body=b"x")


def test_multipart_in_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.create_multipart_upload(Bucket="no-such-bucket", Key="k")
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchBucket", 404)
    assert error["BucketName"] == "no-such-bucket"


# -- ListParts -----------------------------------------------------------------------------------


def test_list_parts(s3):
    upload_id = _start(s3, StorageClass="STANDARD_IA")
    sizes = {n: n * 10 for n in range(1, 6)}
    etags = {n: _upload(s3, upload_id, n, b"p" * size)["ETag"] for n, size in sizes.items()}
    response = s3.list_parts(Bucket=BUCKET, Key="obj", UploadId=upload_id)
    assert response["Bucket"] == BUCKET
    assert response["Key"] == "obj"
    assert response["UploadId"] == upload_id
    assert response["IsTruncated"] is False
    assert response["StorageClass"] == "STANDARD_IA"
    assert response["Owner"]["ID"] and response["Initiator"]["ID"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in response["Parts"]] == [
        (n, etags[n], sizes[n]) for n in range(1, 6)
    ]
    assert all(p["LastModified"].tzinfo is not None for p in response["Parts"])

    first = s3.list_parts(Bucket=BUCKET, Key="obj", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True
    assert first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(
        Bucket=BUCKET, Key="obj", UploadId=upload_id, PartNumberMarker=first["NextPartNumberMarker"]
    )
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5]
    assert rest["IsTruncated"] is False


def test_list_parts_of_an_upload_without_parts(s3):
    upload_id = _start(s3)
    response = s3.list_parts(Bucket=BUCKET, Key="obj", UploadId=upload_id)
    assert response.get("Parts", []) == []
    assert response["IsTruncated"] is False


def test_list_parts_paginator(s3):
    upload_id = _start(s3)
    for n in range(1, 8):
        _upload(s3, upload_id, n, str(n).encode())
    pages = _pages(
        s3.get_paginator("list_parts").paginate(
            Bucket=BUCKET, Key="obj", UploadId=upload_id, PaginationConfig={"PageSize": 3}
        )
    )
    assert [[p["PartNumber"] for p in page["Parts"]] for page in pages] == [
        [1, 2, 3],
        [4, 5, 6],
        [7],
    ]


# -- ListMultipartUploads -----------------------------------------------------------------------


def test_list_multipart_uploads(s3):
    ids = {key: _start(s3, key=key) for key in ["b/2", "a", "b/1", "c"]}
    second_a = _start(s3, key="a")
    response = s3.list_multipart_uploads(Bucket=BUCKET)
    assert response["Bucket"] == BUCKET
    assert response["IsTruncated"] is False
    listed = [(u["Key"], u["UploadId"]) for u in response["Uploads"]]
    # By key, then by initiation time.
    assert listed == [
        ("a", ids["a"]),
        ("a", second_a),
        ("b/1", ids["b/1"]),
        ("b/2", ids["b/2"]),
        ("c", ids["c"]),
    ]
    for upload in response["Uploads"]:
        assert upload["Initiated"].tzinfo is not None
        assert upload["StorageClass"] == "STANDARD"
        assert upload["Owner"]["ID"]

    prefixed = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="b/")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["b/1", "b/2"]
    assert prefixed["Prefix"] == "b/"

    rolled = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/")
    assert [u["Key"] for u in rolled["Uploads"]] == ["a", "a", "c"]
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]

    s3.abort_multipart_upload(Bucket=BUCKET, Key="c", UploadId=ids["c"])
    remaining = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [u["Key"] for u in remaining] == ["a", "a", "b/1", "b/2"]


def test_list_multipart_uploads_markers(s3):
    first_a, second_a = _start(s3, key="a"), _start(s3, key="a")
    b_id = _start(s3, key="b")
    page = s3.list_multipart_uploads(Bucket=BUCKET, MaxUploads=1)
    assert page["IsTruncated"] is True
    assert [u["UploadId"] for u in page["Uploads"]] == [first_a]
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == ("a", first_a)
    page = s3.list_multipart_uploads(
        Bucket=BUCKET, MaxUploads=1, KeyMarker="a", UploadIdMarker=first_a
    )
    assert [u["UploadId"] for u in page["Uploads"]] == [second_a]
    # A key marker alone skips every upload of that key.
    page = s3.list_multipart_uploads(Bucket=BUCKET, KeyMarker="a")
    assert [u["UploadId"] for u in page["Uploads"]] == [b_id]
    assert page["KeyMarker"] == "a"


def test_list_multipart_uploads_paginator(s3):
    keys = [f"k{i}" for i in range(5)]
    ids = [_start(s3, key=key) for key in keys]
    pages = _pages(
        s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=BUCKET, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["Uploads"]) for p in pages] == [2, 2, 1]
    assert [u["UploadId"] for p in pages for u in p["Uploads"]] == ids


# -- UploadPartCopy -------------------------------------------------------------------------------


def test_upload_part_copy_with_ranges(s3):
    source = PART_A + PART_B
    s3.put_object(Bucket=BUCKET, Key="source", Body=source)
    upload_id = _start(s3, key="assembled")
    copy_source = {"Bucket": BUCKET, "Key": "source"}
    first = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource=copy_source,
        CopySourceRange=f"bytes={MIN_PART}-{2 * MIN_PART - 1}",  # PART_B
    )["CopyPartResult"]
    assert first["ETag"] == f'"{hashlib.md5(PART_B).hexdigest()}"'
    assert first["LastModified"].tzinfo is not None
    second = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=2,
        CopySource=copy_source,
        CopySourceRange="bytes=0-99",
    )["CopyPartResult"]
    whole = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=3,
        CopySource="multipart/source",
    )["CopyPartResult"]
    assert whole["ETag"] == f'"{hashlib.md5(source).hexdigest()}"'
    parts = [
        {"PartNumber": 1, "ETag": first["ETag"]},
        {"PartNumber": 2, "ETag": second["ETag"]},
    ]
    done = _complete(s3, upload_id, parts, key="assembled")
    assert done["ETag"] == _multipart_etag(PART_B, PART_A[:100])
    body = s3.get_object(Bucket=BUCKET, Key="assembled")["Body"].read()
    assert body == PART_B + PART_A[:100]


@pytest.mark.parametrize("header", ["bytes=0-10", "bytes=5-2", "bytes=20-30"])
def test_upload_part_copy_range_outside_source(s3, header):
    s3.put_object(Bucket=BUCKET, Key="source", Body=b"0123456789")
    upload_id = _start(s3)
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part_copy(
            Bucket=BUCKET,
            Key="obj",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": BUCKET, "Key": "source"},
            CopySourceRange=header,
        )
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidArgument", 400)
    assert error["Message"] == "Range specified is not valid for source object of size: 10"


@pytest.mark.parametrize("header", ["0-5", "bytes=3-", "bytes=-3", "bytes=a-b"])
def test_upload_part_copy_malformed_range(s3, header):
    s3.put_object(Bucket=BUCKET, Key="source", Body=b"0123456789")
    upload_id = _start(s3)
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part_copy(
            Bucket=BUCKET,
            Key="obj",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": BUCKET, "Key": "source"},
            CopySourceRange=header,
        )
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidArgument", 400)
    assert error["ArgumentName"] == "x-amz-copy-source-range"
    assert error["ArgumentValue"] == header


def test_upload_part_copy_missing_source(s3):
    upload_id = _start(s3)
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part_copy(
            Bucket=BUCKET,
            Key="obj",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": BUCKET, "Key": "absent"},
        )
    assert _error(excinfo)[:2] == ("NoSuchKey", 404)


# -- reading a multipart object --------------------------------------------------------------------


@pytest.fixture
def two_part_object(s3) -> str:
    upload_id = _start(s3)
    parts = [_upload(s3, upload_id, 1, PART_A), _upload(s3, upload_id, 2, TAIL)]
    return _complete(s3, upload_id, parts)["ETag"]


def test_get_by_part_number(s3, two_part_object):
    total = len(PART_A) + len(TAIL)
    first = s3.get_object(Bucket=BUCKET, Key="obj", PartNumber=1)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert first["Body"].read() == PART_A
    assert first["ContentLength"] == len(PART_A)
    assert first["ContentRange"] == f"bytes 0-{len(PART_A) - 1}/{total}"
    assert first["PartsCount"] == 2
    assert first["ETag"] == two_part_object  # the whole object's ETag
    second = s3.get_object(Bucket=BUCKET, Key="obj", PartNumber=2)
    assert second["Body"].read() == TAIL
    assert second["ContentRange"] == f"bytes {len(PART_A)}-{total - 1}/{total}"
    head = s3.head_object(Bucket=BUCKET, Key="obj", PartNumber=2)
    assert head["ContentLength"] == len(TAIL)
    assert head["PartsCount"] == 2


def test_part_number_and_range_together_are_refused(s3, two_part_object):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="obj", PartNumber=1, Range="bytes=0-9")
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidRequest", 400)
    assert error["Message"] == "Cannot specify both Range header and partNumber query parameter"


def test_part_number_1_of_a_simple_object_is_all_of_it(s3):
    s3.put_object(Bucket=BUCKET, Key="simple", Body=b"0123456789")
    response = s3.get_object(Bucket=BUCKET, Key="simple", PartNumber=1)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert response["ContentRange"] == "bytes 0-9/10"
    assert response["Body"].read() == b"0123456789"
    assert "PartsCount" not in response


def test_get_part_number_beyond_the_parts(s3, two_part_object):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="obj", PartNumber=3)
    code, status, _ = _error(excinfo)
    assert (code, status) == ("InvalidPartNumber", 416)


def test_range_across_the_part_boundary(s3, two_part_object):
    start = len(PART_A) - 5
    response = s3.get_object(Bucket=BUCKET, Key="obj", Range=f"bytes={start}-{start + 9}")
    assert response["Body"].read() == PART_A[-5:] + TAIL[:5]


def test_copy_of_a_multipart_object_gets_a_plain_md5_etag(s3, two_part_object):
    response = s3.copy_object(
        Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "obj"}
    )
    expected = f'"{hashlib.md5(PART_A + TAIL).hexdigest()}"'
    assert response["CopyObjectResult"]["ETag"] == expected
    got = s3.get_object(Bucket=BUCKET, Key="copy")
    assert got["Body"].read() == PART_A + TAIL
    assert got["ETag"] == expected
    assert "PartsCount" not in s3.head_object(Bucket=BUCKET, Key="copy", PartNumber=1)
