"""S3 object operations through real boto3 clients: PutObject, GetObject, HeadObject,
DeleteObject, DeleteObjects and CopyObject, with S3's semantics (metadata, content
types, MD5 ETags, ranges, conditional requests) and error codes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()

BUCKET = "objects"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
BIG = 200 * 1024  # above the size simsage keeps inline in the registry


def _client(region: str = "us-east-1"):
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region).client("s3")


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


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _get(s3, key: str, **kwargs) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key, **kwargs)["Body"].read()


# -- PutObject ---------------------------------------------------------------------------


def test_put_and_get_round_trip_with_md5_etag(s3):
    response = s3.put_object(Bucket=BUCKET, Key="hello.txt", Body=b"hello world")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ETag"] == f'"{_md5(b"hello world")}"'
    got = s3.get_object(Bucket=BUCKET, Key="hello.txt")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == b"hello world"
    assert got["ETag"] == response["ETag"]
    assert got["ContentLength"] == 11
    assert got["ContentType"] == "binary/octet-stream"
    assert got["AcceptRanges"] == "bytes"
    assert got["Metadata"] == {}


def test_put_large_body_streams_and_hashes(s3):
    data = bytes(range(256)) * (BIG // 256) + b"tail"
    response = s3.put_object(Bucket=BUCKET, Key="big.bin", Body=data)
    assert response["ETag"] == f'"{_md5(data)}"'
    got = s3.get_object(Bucket=BUCKET, Key="big.bin")
    assert got["ContentLength"] == len(data)
    chunks = list(got["Body"].iter_chunks(chunk_size=10_000))
    assert b"".join(chunks) == data
    assert len(chunks) > 1


def test_put_from_file_object(s3, tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"from a file" * 10_000)
    with path.open("rb") as body:
        s3.put_object(Bucket=BUCKET, Key="file", Body=body)
    assert _get(s3, "file") == path.read_bytes()


def test_put_string_body(s3):
    s3.put_object(Bucket=BUCKET, Key="text", Body="héllo")
    assert _get(s3, "text") == "héllo".encode()


def test_put_empty_object(s3):
    response = s3.put_object(Bucket=BUCKET, Key="empty")
    assert response["ETag"] == f'"{EMPTY_MD5}"'
    got = s3.get_object(Bucket=BUCKET, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""


def test_metadata_keys_are_lowercased_and_round_trip(s3):
    s3.put_object(
        Bucket=BUCKET,
        Key="meta",
        Body=b"x",
        Metadata={"Camel-Case": "Value Kept", "lower": "v", "UPPER": "MiXeD"},
    )
    expected = {"camel-case": "Value Kept", "lower": "v", "upper": "MiXeD"}
    assert s3.get_object(Bucket=BUCKET, Key="meta")["Metadata"] == expected
    assert s3.head_object(Bucket=BUCKET, Key="meta")["Metadata"] == expected


def test_system_metadata_round_trips(s3):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(
        Bucket=BUCKET,
        Key="page.html",
        Body=b"<html></html>",
        ContentType="text/html; charset=utf-8",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="page.html"',
        ContentEncoding="identity",
        ContentLanguage="en-GB",
        Expires=expires,
        StorageClass="STANDARD_IA",
    )
    for response in (
        s3.get_object(Bucket=BUCKET, Key="page.html"),
        s3.head_object(Bucket=BUCKET, Key="page.html"),
    ):
        assert response["ContentType"] == "text/html; charset=utf-8"
        assert response["CacheControl"] == "max-age=60"
        assert response["ContentDisposition"] == 'attachment; filename="page.html"'
        assert response["ContentEncoding"] == "identity"
        assert response["ContentLanguage"] == "en-GB"
        assert response["Expires"] == expires
        assert response["StorageClass"] == "STANDARD_IA"


def test_expires_string_is_answered_as_botocore_does(s3):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(Bucket=BUCKET, Key="exp", Body=b"x", Expires=expires)
    for response in (
        s3.get_object(Bucket=BUCKET, Key="exp"),
        s3.head_object(Bucket=BUCKET, Key="exp"),
    ):
        assert response["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_standard_storage_class_is_not_reported_on_head(s3):
    # S3 omits x-amz-storage-class for STANDARD objects.
    s3.put_object(Bucket=BUCKET, Key="std", Body=b"x")
    assert "StorageClass" not in s3.head_object(Bucket=BUCKET, Key="std")


def test_overwrite_replaces_body_and_metadata(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"one" * 100_000, Metadata={"v": "1"})
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"two", ContentType="text/plain")
    got = s3.get_object(Bucket=BUCKET, Key="k")
    assert got["Body"].read() == b"two"
    assert got["Metadata"] == {}
    assert got["ContentType"] == "text/plain"
    assert got["ETag"] == f'"{_md5(b"two")}"'


def test_keys_that_look_like_paths_coexist(s3):
    keys = ["a", "a/b", "a/b/", "a//b", "../a", "a/../b", "./a", "/leading", "é/中/🙂"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=str(i).encode())
    for i, key in enumerate(keys):
        assert _get(s3, key) == str(i).encode()


def test_put_with_correct_content_md5(s3):
    data = b"checked" * 20_000
    s3.put_object(Bucket=BUCKET, Key="ok", Body=data, ContentMD5=_b64md5(data))
    assert _get(s3, "ok") == data


@pytest.mark.parametrize("size", [10, BIG])
def test_put_with_wrong_content_md5_is_bad_digest(s3, size):
    data = b"z" * size
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="bad", Body=data, ContentMD5=_b64md5(b"other"))
    code, status, _ = _error(excinfo)
    assert (code, status) == ("BadDigest", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="bad")
    assert _error(excinfo)[0] == "404"


@pytest.mark.parametrize("value", ["not-base64!", base64.b64encode(b"short").decode()])
def test_put_with_malformed_content_md5_is_invalid_digest(s3, value):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="bad", Body=b"data", ContentMD5=value)
    code, status, _ = _error(excinfo)
    assert (code, status) == ("InvalidDigest", 400)


def test_put_if_none_match_star_creates_only_once(s3):
    s3.put_object(Bucket=BUCKET, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="once", Body=b"second", IfNoneMatch="*")
    code, status, error = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert error["Condition"] == "If-None-Match"
    assert "pre-conditions" in error["Message"]
    assert _get(s3, "once") == b"first"


def test_put_if_match(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="cas", Body=b"v1")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="cas", Body=b"v2", IfMatch=etag)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="cas", Body=b"v3", IfMatch=etag)  # now stale
    code, status, _ = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert _get(s3, "cas") == b"v2"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="absent", Body=b"v1", IfMatch=etag)
    assert _error(excinfo)[:2] == ("NoSuchKey", 404)


def test_key_of_1024_bytes_is_fine_1025_is_too_long(s3):
    s3.put_object(Bucket=BUCKET, Key="k" * 1024, Body=b"max")
    assert _get(s3, "k" * 1024) == b"max"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="k" * 1025, Body=b"x")
    code, status, error = _error(excinfo)
    assert (code, status) == ("KeyTooLongError", 400)
    assert error["Message"] == "Your key is too long"


def test_key_length_counts_utf8_bytes(s3):
    s3.put_object(Bucket=BUCKET, Key="é" * 512, Body=b"1024 bytes")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="é" * 513, Body=b"1026 bytes")
    assert _error(excinfo)[:2] == ("KeyTooLongError", 400)


def test_key_too_long_for_copy_and_multipart(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="k" * 1025, CopySource={"Bucket": BUCKET, "Key": "src"})
    assert _error(excinfo)[:2] == ("KeyTooLongError", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.create_multipart_upload(Bucket=BUCKET, Key="k" * 1025)
    assert _error(excinfo)[:2] == ("KeyTooLongError", 400)


def test_user_metadata_over_2_kib_is_too_large(s3):
    s3.put_object(Bucket=BUCKET, Key="fits", Body=b"x", Metadata={"m": "v" * 1500})
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100})
    code, status, _ = _error(excinfo)
    assert (code, status) == ("MetadataTooLarge", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="big-meta")
    assert _error(excinfo)[0] == "404"


def test_put_into_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchBucket", 404)
    assert error["BucketName"] == "no-such-bucket"


# -- GetObject -----------------------------------------------------------------------------

DIGITS = b"0123456789"


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-4", b"01234", "bytes 0-4/10"),
        ("bytes=3-3", b"3", "bytes 3-3/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=-30", DIGITS, "bytes 0-9/10"),  # suffix longer than the object
        ("bytes=5-100", b"56789", "bytes 5-9/10"),  # clamped at the end
        ("bytes=0-", DIGITS, "bytes 0-9/10"),
    ],
)
def test_get_range(s3, header, body, content_range):
    s3.put_object(Bucket=BUCKET, Key="digits", Body=DIGITS)
    response = s3.get_object(Bucket=BUCKET, Key="digits", Range=header)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert response["Body"].read() == body
    assert response["ContentRange"] == content_range
    assert response["ContentLength"] == len(body)
    assert response["ETag"] == f'"{_md5(DIGITS)}"'  # the whole object's ETag


def test_get_range_of_large_object(s3):
    data = bytes(i % 251 for i in range(BIG))
    s3.put_object(Bucket=BUCKET, Key="big", Body=data)
    response = s3.get_object(Bucket=BUCKET, Key="big", Range="bytes=1000-150999")
    assert response["Body"].read() == data[1000:151000]
    assert response["ContentRange"] == f"bytes 1000-150999/{BIG}"


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=10-20", "bytes=100-200"])
def test_get_unsatisfiable_range(s3, header):
    s3.put_object(Bucket=BUCKET, Key="digits", Body=DIGITS)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="digits", Range=header)
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidRange", 416)
    assert error["Message"] == "The requested range is not satisfiable"
    assert error["ActualObjectSize"] == "10"
    assert error["RangeRequested"] == header


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=5-10"])
def test_any_range_of_an_empty_object_is_unsatisfiable(s3, header):
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="empty", Range=header)
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidRange", 416)
    assert error["ActualObjectSize"] == "0"


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=abc", "items=0-1"])
def test_get_ignores_a_range_it_cannot_parse(s3, header):
    # As HTTP says, an invalid range header is ignored: the whole object, 200.
    s3.put_object(Bucket=BUCKET, Key="digits", Body=DIGITS)
    response = s3.get_object(Bucket=BUCKET, Key="digits", Range=header)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["Body"].read() == DIGITS
    assert "ContentRange" not in response


def test_get_if_match(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")["ETag"]
    assert _get(s3, "k", IfMatch=etag) == b"data"
    assert _get(s3, "k", IfMatch="*") == b"data"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    code, status, error = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert error["Condition"] == "If-Match"


def test_get_if_none_match_is_not_modified(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")["ETag"]
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfNoneMatch=etag)
    code, status, error = _error(excinfo)
    assert (code, status) == ("304", 304)
    assert error["Message"] == "Not Modified"
    assert _get(s3, "k", IfNoneMatch='"ffffffffffffffffffffffffffffffff"') == b"data"


def test_get_if_modified_since_and_unmodified_since(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")
    now = dt.datetime.now(dt.UTC)
    past, future = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    assert _get(s3, "k", IfModifiedSince=past) == b"data"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfModifiedSince=future)
    assert _error(excinfo)[:2] == ("304", 304)
    assert _get(s3, "k", IfUnmodifiedSince=future) == b"data"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfUnmodifiedSince=past)
    code, status, error = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert error["Condition"] == "If-Unmodified-Since"


def test_condition_times_in_every_form_botocore_accepts(s3):
    # botocore takes a timestamp as an aware or naive (UTC) datetime, an ISO-8601
    # string or epoch seconds.
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    for value in (
        future.replace(tzinfo=None),
        future.strftime("%Y-%m-%dT%H:%M:%SZ"),
        int(future.timestamp()),
    ):
        with pytest.raises(ClientError) as excinfo:
            s3.get_object(Bucket=BUCKET, Key="k", IfModifiedSince=value)
        assert _error(excinfo)[:2] == ("304", 304)
        assert _get(s3, "k", IfUnmodifiedSince=value) == b"data"


def test_expires_in_every_form_botocore_accepts(s3):
    expected = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for i, value in enumerate(
        (expected.replace(tzinfo=None), "2030-01-02T03:04:05Z", int(expected.timestamp()))
    ):
        s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=b"x", Expires=value)
        assert s3.head_object(Bucket=BUCKET, Key=f"k{i}")["Expires"] == expected
        response = s3.get_object(Bucket=BUCKET, Key="k0", ResponseExpires=value)
        assert response["Expires"] == expected


def test_conditions_combine_as_s3_documents(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")["ETag"]
    now = dt.datetime.now(dt.UTC)
    # If-Match true and If-Unmodified-Since false: 200.
    past = now - dt.timedelta(days=1)
    assert _get(s3, "k", IfMatch=etag, IfUnmodifiedSince=past) == b"data"
    # If-None-Match false and If-Modified-Since true: 304.
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfNoneMatch=etag, IfModifiedSince=past)
    assert _error(excinfo)[:2] == ("304", 304)


def test_last_modified_is_whole_seconds_and_consistent(s3):
    # S3 sends Last-Modified as an HTTP date (whole seconds); a listing agrees with it, so
    # a value read back can be used in a conditional request.
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")
    head = s3.head_object(Bucket=BUCKET, Key="k")["LastModified"]
    got = s3.get_object(Bucket=BUCKET, Key="k")["LastModified"]
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["LastModified"]
    assert head == got == listed
    assert head.microsecond == 0
    assert abs((dt.datetime.now(dt.UTC) - head).total_seconds()) < 60
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", IfModifiedSince=head)
    assert _error(excinfo)[:2] == ("304", 304)
    assert _get(s3, "k", IfUnmodifiedSince=head) == b"data"


def test_get_missing_key(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="missing/key.txt")
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchKey", 404)
    assert error["Key"] == "missing/key.txt"
    assert error["Message"] == "The specified key does not exist."
    assert isinstance(excinfo.value, s3.exceptions.NoSuchKey)


def test_get_from_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchBucket", 404)
    assert error["BucketName"] == "no-such-bucket"
    assert isinstance(excinfo.value, s3.exceptions.NoSuchBucket)


def test_get_response_overrides(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", ContentType="text/plain")
    expires = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    response = s3.get_object(
        Bucket=BUCKET,
        Key="k",
        ResponseContentType="application/json",
        ResponseContentDisposition="attachment; filename=x.json",
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
        ResponseExpires=expires,
    )
    assert response["ContentType"] == "application/json"
    assert response["ContentDisposition"] == "attachment; filename=x.json"
    assert response["CacheControl"] == "no-cache"
    assert response["ContentLanguage"] == "fr"
    assert response["ContentEncoding"] == "identity"
    assert response["Expires"] == expires
    # Overrides change the answer, not the stored object.
    assert s3.head_object(Bucket=BUCKET, Key="k")["ContentType"] == "text/plain"


# -- HeadObject ----------------------------------------------------------------------------


def test_head_object(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", Metadata={"a": "b"})
    response = s3.head_object(Bucket=BUCKET, Key="k")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ContentLength"] == 4
    assert response["ETag"] == f'"{_md5(b"data")}"'
    assert response["Metadata"] == {"a": "b"}
    assert response["ContentType"] == "binary/octet-stream"
    assert "Body" not in response


def test_head_object_range(s3):
    s3.put_object(Bucket=BUCKET, Key="digits", Body=DIGITS)
    response = s3.head_object(Bucket=BUCKET, Key="digits", Range="bytes=2-5")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert response["ContentLength"] == 4
    assert response["ContentRange"] == "bytes 2-5/10"


def test_head_missing_object_is_bare_404(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="missing")
    code, status, error = _error(excinfo)
    assert (code, status) == ("404", 404)
    assert error["Message"] == "Not Found"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket="no-such-bucket", Key="k")
    assert _error(excinfo)[:2] == ("404", 404)


def test_head_object_conditions(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")["ETag"]
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="k", IfMatch='"deadbeef"')
    code, status, error = _error(excinfo)
    assert (code, status) == ("412", 412)
    assert error["Message"] == "Precondition Failed"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="k", IfNoneMatch=etag)
    code, status, error = _error(excinfo)
    assert (code, status) == ("304", 304)
    assert error["Message"] == "Not Modified"


def test_object_exists_waiter(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    s3.get_waiter("object_exists").wait(Bucket=BUCKET, Key="k", WaiterConfig={"Delay": 0})
    s3.delete_object(Bucket=BUCKET, Key="k")
    s3.get_waiter("object_not_exists").wait(Bucket=BUCKET, Key="k", WaiterConfig={"Delay": 0})


# -- DeleteObject / DeleteObjects --------------------------------------------------------------


def test_delete_object_is_idempotent(s3):
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="a/b", Body=b"y")
    response = s3.delete_object(Bucket=BUCKET, Key="a")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="a")
    assert _error(excinfo)[0] == "NoSuchKey"
    again = s3.delete_object(Bucket=BUCKET, Key="a")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _get(s3, "a/b") == b"y"  # a sibling "under" it is untouched


def test_delete_object_in_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.delete_object(Bucket="no-such-bucket", Key="k")
    assert _error(excinfo)[:2] == ("NoSuchBucket", 404)


def test_delete_objects_reports_each_key(s3):
    for key in ["x", "y", "z"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"1")
    response = s3.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "x"}, {"Key": "y"}, {"Key": "never-was"}]}
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(d["Key"] for d in response["Deleted"]) == ["never-was", "x", "y"]
    assert "Errors" not in response or response["Errors"] == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["z"]


def test_delete_objects_quiet(s3):
    s3.put_object(Bucket=BUCKET, Key="q", Body=b"1")
    response = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert response.get("Deleted", []) == []
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_delete_objects_with_special_keys(s3):
    keys = ["a b", "a+b", "100%", "é/中", "a&b<c>", "x/../y"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"1")
    response = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in response["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_delete_objects_over_1000_keys_is_malformed(s3):
    s3.put_object(Bucket=BUCKET, Key="key-0", Body=b"kept")
    objects = [{"Key": f"key-{i}"} for i in range(1001)]
    with pytest.raises(ClientError) as excinfo:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
    code, status, error = _error(excinfo)
    assert (code, status) == ("MalformedXML", 400)
    assert "not well-formed" in error["Message"]
    assert _get(s3, "key-0") == b"kept"  # nothing was deleted
    response = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects[:1000]})
    assert len(response["Deleted"]) == 1000


def test_delete_objects_with_no_keys_is_malformed(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": []})
    assert _error(excinfo)[:2] == ("MalformedXML", 400)


def test_delete_objects_in_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.delete_objects(Bucket="no-such-bucket", Delete={"Objects": [{"Key": "k"}]})
    assert _error(excinfo)[:2] == ("NoSuchBucket", 404)


# -- CopyObject ------------------------------------------------------------------------------


def test_copy_keeps_metadata_by_default(s3):
    s3.put_object(
        Bucket=BUCKET,
        Key="src",
        Body=b"payload",
        ContentType="text/csv",
        Metadata={"origin": "src"},
    )
    s3.create_bucket(Bucket="other")
    response = s3.copy_object(
        Bucket="other",
        Key="dst",
        CopySource={"Bucket": BUCKET, "Key": "src"},
        Metadata={"ignored": "because COPY"},
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["CopyObjectResult"]["ETag"] == f'"{_md5(b"payload")}"'
    assert response["CopyObjectResult"]["LastModified"].tzinfo is not None
    got = s3.get_object(Bucket="other", Key="dst")
    assert got["Body"].read() == b"payload"
    assert got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"origin": "src"}


def test_copy_with_replace_sets_new_metadata(s3):
    s3.put_object(
        Bucket=BUCKET, Key="src", Body=b"payload", ContentType="text/csv", Metadata={"a": "1"}
    )
    s3.copy_object(
        Bucket=BUCKET,
        Key="dst",
        CopySource=f"{BUCKET}/src",
        MetadataDirective="REPLACE",
        Metadata={"B": "2"},
        ContentType="application/json",
    )
    got = s3.head_object(Bucket=BUCKET, Key="dst")
    assert got["Metadata"] == {"b": "2"}
    assert got["ContentType"] == "application/json"
    source = s3.head_object(Bucket=BUCKET, Key="src")
    assert source["Metadata"] == {"a": "1"}
    assert source["ContentType"] == "text/csv"


def test_copy_to_itself_needs_a_change(s3):
    s3.put_object(Bucket=BUCKET, Key="self", Body=b"x", Metadata={"v": "1"})
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="self", CopySource={"Bucket": BUCKET, "Key": "self"})
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidRequest", 400)
    assert "copy an object to itself without changing" in error["Message"]
    s3.copy_object(
        Bucket=BUCKET,
        Key="self",
        CopySource={"Bucket": BUCKET, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )
    assert s3.head_object(Bucket=BUCKET, Key="self")["Metadata"] == {"v": "2"}
    assert _get(s3, "self") == b"x"
    s3.copy_object(
        Bucket=BUCKET,
        Key="self",
        CopySource={"Bucket": BUCKET, "Key": "self"},
        StorageClass="STANDARD_IA",
    )
    assert s3.head_object(Bucket=BUCKET, Key="self")["StorageClass"] == "STANDARD_IA"


def test_copy_from_missing_source(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "nope"})
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchKey", 404)
    assert error["Key"] == "nope"
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": "no-bucket", "Key": "k"})
    assert _error(excinfo)[:2] == ("NoSuchBucket", 404)


def test_copy_into_missing_bucket(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket="no-bucket", Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"})
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchBucket", 404)
    assert error["BucketName"] == "no-bucket"


def test_copy_source_conditions(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="src", Body=b"x")["ETag"]
    source = {"Bucket": BUCKET, "Key": "src"}
    s3.copy_object(Bucket=BUCKET, Key="ok", CopySource=source, CopySourceIfMatch=etag)
    assert _get(s3, "ok") == b"x"
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="no", CopySource=source, CopySourceIfMatch='"bad"')
    code, status, error = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert error["Condition"] == "x-amz-copy-source-If-Match"
    # For a copy, a failing If-None-Match is a 412 too (not a 304).
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="no", CopySource=source, CopySourceIfNoneMatch=etag)
    code, status, error = _error(excinfo)
    assert (code, status) == ("PreconditionFailed", 412)
    assert error["Condition"] == "x-amz-copy-source-If-None-Match"
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="no", CopySource=source, CopySourceIfModifiedSince=future)
    assert _error(excinfo)[:2] == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="no")
    assert _error(excinfo)[0] == "404"


@pytest.mark.parametrize(
    "key", ["with space.txt", "plus+sign", "ünïcødé/中文.csv", "100%/a?b=c&d#e"]
)
def test_copy_keys_with_special_characters(s3, key):
    s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    s3.copy_object(Bucket=BUCKET, Key=f"dict/{key}", CopySource={"Bucket": BUCKET, "Key": key})
    s3.copy_object(Bucket=BUCKET, Key=f"str/{key}", CopySource=f"{BUCKET}/{key}")
    assert _get(s3, f"dict/{key}") == key.encode()
    assert _get(s3, f"str/{key}") == key.encode()


def test_copy_is_independent_of_later_source_changes(s3):
    data = b"a" * BIG
    s3.put_object(Bucket=BUCKET, Key="src", Body=data)
    s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"})
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"changed")
    assert _get(s3, "dst") == data
    s3.delete_object(Bucket=BUCKET, Key="src")
    assert _get(s3, "dst") == data
    assert s3.head_object(Bucket=BUCKET, Key="dst")["ETag"] == f'"{_md5(data)}"'
