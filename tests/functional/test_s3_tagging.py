"""Object and bucket tags through real boto3 clients: Put/Get/DeleteObjectTagging, the
``Tagging`` of PutObject, CreateMultipartUpload and CopyObject (with its
TaggingDirective), TagCount on GetObject/HeadObject, Put/Get/DeleteBucketTagging, and
S3's limits and errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

BUCKET = "tags"


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="obj", Body=b"hello")
    return client


def _error(excinfo) -> dict:
    response = excinfo.value.response
    return {"Status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def _tag_set(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in pairs]


def _tags(s3, key: str = "obj") -> list[tuple[str, str]]:
    tag_set = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return [(tag["Key"], tag["Value"]) for tag in tag_set]


# -- object tags ---------------------------------------------------------------------


def test_object_tags_round_trip_without_touching_the_object(s3):
    before = s3.head_object(Bucket=BUCKET, Key="obj")
    assert _tags(s3) == [] and "TagCount" not in before
    pairs = [(f"key-{i}", f"value-{i}") for i in range(7)]
    pairs += [("b c+d-e=f.g_h:i/j@k", "2 + 2 = 4"), ("empty", ""), ("𝒜" * 128, "文" * 256)]
    s3.put_object_tagging(Bucket=BUCKET, Key="obj", Tagging={"TagSet": _tag_set(*pairs)})
    assert _tags(s3) == pairs
    head = s3.head_object(Bucket=BUCKET, Key="obj")
    assert head["TagCount"] == 10
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "10"
    assert (head["ETag"], head["LastModified"]) == (before["ETag"], before["LastModified"])
    assert s3.get_object(Bucket=BUCKET, Key="obj")["TagCount"] == 10

    s3.put_object_tagging(Bucket=BUCKET, Key="obj", Tagging={"TagSet": _tag_set(("only", "1"))})
    assert _tags(s3) == [("only", "1")]
    deleted = s3.delete_object_tagging(Bucket=BUCKET, Key="obj")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _tags(s3) == [] and "TagCount" not in s3.get_object(Bucket=BUCKET, Key="obj")


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (
            [(f"k{i}", "") for i in range(11)],
            {"Code": "BadRequest", "Message": "Object tags cannot be greater than 10"},
        ),
        (
            [("a", "1"), ("a", "2")],
            {
                "Code": "InvalidTag",
                "Message": "Cannot provide multiple Tags with the same key",
                "TagKey": "a",
            },
        ),
        (
            [("k" * 129, "")],
            {"Code": "InvalidTag", "Message": "The TagKey you have provided is invalid"},
        ),
        (
            [("k", "v" * 257)],
            {"Code": "InvalidTag", "Message": "The TagValue you have provided is invalid"},
        ),
        ([("a#b", "v")], {"Code": "InvalidTag", "TagKey": "a#b"}),
        ([("k", "a;b")], {"Code": "InvalidTag", "TagKey": "k", "TagValue": "a;b"}),
        ([("k", "😀")], {"Code": "InvalidTag", "TagValue": "😀"}),
        (
            [("AWS:cost", "1")],
            {
                "Code": "InvalidTag",
                "Message": "System tags cannot be added/updated by requester",
                "TagKey": "AWS:cost",
            },
        ),
    ],
)
def test_tag_sets_s3_refuses(s3, pairs, expected):
    s3.put_object_tagging(Bucket=BUCKET, Key="obj", Tagging={"TagSet": _tag_set(("kept", "1"))})
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=BUCKET, Key="obj", Tagging={"TagSet": _tag_set(*pairs)})
    error = _error(excinfo)
    assert error["Status"] == 400
    assert {name: error.get(name) for name in expected} == expected
    assert _tags(s3) == [("kept", "1")]


def test_tagging_a_key_or_bucket_that_does_not_exist(s3):
    calls = [
        lambda **kw: s3.put_object_tagging(Tagging={"TagSet": []}, **kw),
        s3.get_object_tagging,
        s3.delete_object_tagging,
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=BUCKET, Key="missing")
        assert (_error(excinfo)["Code"], _error(excinfo)["Key"]) == ("NoSuchKey", "missing")
        with pytest.raises(ClientError) as excinfo:
            call(Bucket="no-such-bucket", Key="obj")
        assert _error(excinfo)["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    ("header", "pairs"),
    [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("a&b=", [("a", ""), ("b", "")]),
        ("a%20b=c%2Bd&e+f=g=h", [("a b", "c+d"), ("e f", "g=h")]),
        ("%C3%BC=%E6%96%87", [("ü", "文")]),
    ],
)
def test_the_tagging_header_of_an_upload(s3, header, pairs):
    s3.put_object(Bucket=BUCKET, Key="new", Body=b"x", Tagging=header)
    assert _tags(s3, "new") == pairs
    assert s3.head_object(Bucket=BUCKET, Key="new")["TagCount"] == len(pairs)


@pytest.mark.parametrize("header", ["a=1&a=2", "=1", "a=%FF"])
def test_a_tagging_header_s3_refuses(s3, header):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="new", Body=b"x", Tagging=header)
    error = _error(excinfo)
    assert (error["Code"], error["ArgumentName"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "x-amz-tagging",
        header,
    )
    assert "shall be encoded as UTF-8 then URLEncoded" in error["Message"]
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="new", Body=b"x", Tagging="aws:cost=1")
    assert _error(excinfo)["TagKey"] == "aws:cost"


def test_a_multipart_upload_tags_the_object_it_completes(s3):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="mp", Tagging="team=ml")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"p")[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert _tags(s3, "mp") == [("team", "ml")]


def test_a_copy_copies_or_replaces_the_tags(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"x", Tagging="a=1")
    source = f"{BUCKET}/src"
    s3.copy_object(Bucket=BUCKET, Key="same", CopySource=source, Tagging="ignored=1")
    assert _tags(s3, "same") == [("a", "1")]
    s3.copy_object(
        Bucket=BUCKET, Key="new", CopySource=source, TaggingDirective="REPLACE", Tagging="b=2&c=3"
    )
    assert _tags(s3, "new") == [("b", "2"), ("c", "3")]
    s3.copy_object(Bucket=BUCKET, Key="none", CopySource=source, TaggingDirective="REPLACE")
    assert _tags(s3, "none") == []
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="x", CopySource=source, TaggingDirective="MERGE")
    error = _error(excinfo)
    assert (error["Code"], error["Message"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "Unknown tagging directive.",
        "MERGE",
    )
    # New tags alone are no change: an object is not copied onto itself for them.
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(
            Bucket=BUCKET, Key="src", CopySource=source, TaggingDirective="REPLACE", Tagging="b=2"
        )
    assert _error(excinfo)["Code"] == "InvalidRequest"


# -- bucket tags ---------------------------------------------------------------------


def test_bucket_tags_round_trip(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket=BUCKET)
    error = _error(excinfo)
    assert (error["Status"], error["Code"], error["Message"], error["BucketName"]) == (
        404,
        "NoSuchTagSet",
        "The TagSet does not exist",
        BUCKET,
    )
    pairs = [(f"k{i}", str(i)) for i in range(50)]
    put = s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": _tag_set(*pairs)})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    tag_set = s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    assert [(t["Key"], t["Value"]) for t in tag_set] == pairs

    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_tagging(
            Bucket=BUCKET, Tagging={"TagSet": _tag_set(*pairs, ("one", "too many"))}
        )
    assert _error(excinfo)["Code"] == "BadRequest"
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": _tag_set(("aws:x", "1"))})
    assert _error(excinfo)["Code"] == "InvalidTag"
    assert len(s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]) == 50

    deleted = s3.delete_bucket_tagging(Bucket=BUCKET)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket=BUCKET)
    assert _error(excinfo)["Code"] == "NoSuchTagSet"


def test_bucket_tags_go_with_the_bucket(s3):
    s3.create_bucket(Bucket="short-lived")
    s3.put_bucket_tagging(Bucket="short-lived", Tagging={"TagSet": _tag_set(("a", "1"))})
    s3.delete_bucket(Bucket="short-lived")
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket="short-lived")
    assert _error(excinfo)["Code"] == "NoSuchBucket"
    s3.create_bucket(Bucket="short-lived")
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket="short-lived")
    assert _error(excinfo)["Code"] == "NoSuchTagSet"
