"""Requests through the REST-XML codec, with botocore as the oracle: botocore serializes
boto3 params into an HTTP request (as it would send it to S3), and the codec's route and
parse must name the same operation and give back the same params."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import prepare_request_dict
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsage.transport.rest_xml import CodecError, RestXmlCodec

ENDPOINT = "http://127.0.0.1:9000"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def client():
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def codec(client):
    return RestXmlCodec(client.meta.service_model)


def wire(client, operation: str, params: dict):
    """The HTTP request botocore's serializer makes of ``params`` for ``operation``, split
    as the endpoint hands it to the codec (path-style; decoded bucket, key and query)."""
    op = client.meta.service_model.operation_model(operation)
    request = client._serializer.serialize_to_request(params, op)
    prepare_request_dict(request, ENDPOINT)
    url = urlsplit(request["url"])
    path = unquote(url.path)
    bucket, _, key = path[1:].partition("/")
    query = parse_qsl(url.query, keep_blank_values=True)
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = request["body"]
    if isinstance(body, bytes | str):
        body = io.BytesIO(body.encode() if isinstance(body, str) else body)
    return op, bucket or None, key or None, query, headers, body


def round_trip(client, codec, operation: str, params: dict) -> dict:
    op, bucket, key, query, headers, body = wire(client, operation, params)
    routed = codec.route(op.http["method"], bucket, key, query, headers)
    assert routed.name == operation
    return codec.parse(routed, bucket, key, query, headers, body)


def readable(params: dict) -> dict:
    """``params`` with a streaming Body read, to compare with what was sent."""
    out = dict(params)
    if "Body" in out and hasattr(out["Body"], "read"):
        out["Body"] = out["Body"].read()
    return out


CASES = [
    ("ListBuckets", {}),
    ("ListBuckets", {"MaxBuckets": 10, "Prefix": "p", "ContinuationToken": "t"}),
    ("CreateBucket", {"Bucket": "bkt"}),
    (
        "CreateBucket",
        {
            "Bucket": "bkt",
            "ACL": "private",
            "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"},
        },
    ),
    ("HeadBucket", {"Bucket": "bkt"}),
    ("GetBucketLocation", {"Bucket": "bkt"}),
    ("DeleteBucket", {"Bucket": "bkt"}),
    (
        "PutObject",
        {
            "Bucket": "bkt",
            "Key": "dir/a b+c.csv",
            "Body": b"hello",
            "ContentType": "text/csv",
            "ContentMD5": "XUFAKrxLKna5cZ2REBfFkg==",
            "CacheControl": "no-cache",
            "Expires": WHEN,
            "Metadata": {"owner": "ana", "x-y": "1 2"},
            "ServerSideEncryption": "AES256",
            "StorageClass": "STANDARD",
            "Tagging": "a=b&c=d",
            "ContentLength": 5,
        },
    ),
    (
        "GetObject",
        {
            "Bucket": "bkt",
            "Key": "k",
            "Range": "bytes=0-9",
            "IfModifiedSince": WHEN,
            "IfNoneMatch": '"abc"',
            "ResponseContentType": "text/plain",
            "ResponseExpires": WHEN,
            "VersionId": "v1",
            "PartNumber": 2,
        },
    ),
    ("HeadObject", {"Bucket": "bkt", "Key": "k", "IfMatch": '"e"', "ChecksumMode": "ENABLED"}),
    ("DeleteObject", {"Bucket": "bkt", "Key": "k", "VersionId": "v1"}),
    (
        "DeleteObjects",
        {
            "Bucket": "bkt",
            "Delete": {
                "Objects": [{"Key": "a"}, {"Key": "b&<c>", "VersionId": "v"}],
                "Quiet": True,
            },
        },
    ),
    (
        "CopyObject",
        {
            "Bucket": "bkt",
            "Key": "dst",
            "CopySource": "src/a%20b?versionId=v1",
            "MetadataDirective": "REPLACE",
            "Metadata": {"m": "v"},
            "CopySourceIfMatch": '"e"',
            "CopySourceIfUnmodifiedSince": WHEN,
            "TaggingDirective": "COPY",
        },
    ),
    (
        "ListObjectsV2",
        {
            "Bucket": "bkt",
            "Prefix": "a/",
            "Delimiter": "/",
            "MaxKeys": 5,
            "ContinuationToken": "tok==",
            "StartAfter": "a/b",
            "FetchOwner": True,
            "EncodingType": "url",
        },
    ),
    ("ListObjects", {"Bucket": "bkt", "Marker": "m", "MaxKeys": 0, "Prefix": "p"}),
    (
        "CreateMultipartUpload",
        {
            "Bucket": "bkt",
            "Key": "big",
            "ContentType": "application/octet-stream",
            "Metadata": {"a": "b"},
            "ChecksumAlgorithm": "CRC32",
        },
    ),
    (
        "UploadPart",
        {"Bucket": "bkt", "Key": "big", "PartNumber": 3, "UploadId": "u-1", "Body": b"x" * 10},
    ),
    (
        "UploadPartCopy",
        {
            "Bucket": "bkt",
            "Key": "big",
            "PartNumber": 1,
            "UploadId": "u-1",
            "CopySource": "src/k",
            "CopySourceRange": "bytes=0-4",
        },
    ),
    (
        "CompleteMultipartUpload",
        {
            "Bucket": "bkt",
            "Key": "big",
            "UploadId": "u-1",
            "MultipartUpload": {
                "Parts": [
                    {"ETag": '"a"', "PartNumber": 1, "ChecksumCRC32": "AAAAAA=="},
                    {"ETag": '"b"', "PartNumber": 2},
                ]
            },
        },
    ),
    ("AbortMultipartUpload", {"Bucket": "bkt", "Key": "big", "UploadId": "u-1"}),
    (
        "ListParts",
        {"Bucket": "bkt", "Key": "big", "UploadId": "u-1", "MaxParts": 2, "PartNumberMarker": 1},
    ),
    (
        "ListMultipartUploads",
        {"Bucket": "bkt", "Prefix": "b", "KeyMarker": "k", "UploadIdMarker": "u", "MaxUploads": 3},
    ),
    (
        "PutObjectTagging",
        {"Bucket": "bkt", "Key": "k", "Tagging": {"TagSet": [{"Key": "a", "Value": "1"}]}},
    ),
    ("GetObjectTagging", {"Bucket": "bkt", "Key": "k"}),
    ("DeleteObjectTagging", {"Bucket": "bkt", "Key": "k"}),
    ("PutBucketTagging", {"Bucket": "bkt", "Tagging": {"TagSet": [{"Key": "a", "Value": ""}]}}),
    ("GetBucketTagging", {"Bucket": "bkt"}),
    ("DeleteBucketTagging", {"Bucket": "bkt"}),
    (
        "PutBucketEncryption",
        {
            "Bucket": "bkt",
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": "arn:aws:kms:us-east-1:1:key/k",
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        },
    ),
    ("GetBucketEncryption", {"Bucket": "bkt"}),
    ("DeleteBucketEncryption", {"Bucket": "bkt"}),
    (
        "GetObjectAttributes",
        {"Bucket": "bkt", "Key": "k", "ObjectAttributes": ["ETag", "ObjectParts"], "MaxParts": 4},
    ),
    (
        "PutBucketVersioning",
        {
            "Bucket": "bkt",
            "VersioningConfiguration": {"Status": "Enabled", "MFADelete": "Disabled"},
        },
    ),
    ("GetBucketVersioning", {"Bucket": "bkt"}),
    (
        "ListObjectVersions",
        {"Bucket": "bkt", "Prefix": "p", "KeyMarker": "k", "VersionIdMarker": "v", "MaxKeys": 2},
    ),
]


@pytest.mark.parametrize(("operation", "params"), CASES, ids=[c[0] for c in CASES])
def test_botocore_request_routes_and_parses_back(client, codec, operation, params):
    assert readable(round_trip(client, codec, operation, params)) == params


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
)
def test_any_key_survives_the_wire(client, codec, key):
    """Spaces, unicode, ``+``, ``%2F``, ``..``, a trailing ``/``: uri members with ``+``
    are greedy and keep every ``/``."""
    params = {"Bucket": "bkt", "Key": key}
    assert round_trip(client, codec, "HeadObject", params) == params


@pytest.mark.parametrize("key", ["a b", "a+b", "a%2Fb", "../x", "dir/", "/lead", "é/ü 🙂", "a//b"])
def test_awkward_keys(client, codec, key):
    params = {"Bucket": "bkt", "Key": key}
    assert round_trip(client, codec, "GetObject", params) == params


_META_KEY = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
_META_VALUE = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metadata=st.dictionaries(_META_KEY, _META_VALUE, max_size=5))
def test_metadata_headers_round_trip(client, codec, metadata):
    params = {"Bucket": "bkt", "Key": "k", "Body": b"", "Metadata": metadata}
    parsed = readable(round_trip(client, codec, "PutObject", params))
    assert parsed.get("Metadata", {}) == metadata


def test_streaming_body_is_handed_over_unread(client, codec):
    op, bucket, key, query, headers, _ = wire(
        client, "PutObject", {"Bucket": "b", "Key": "k", "Body": b"abc"}
    )
    body = io.BytesIO(b"abc")
    params = codec.parse(op, bucket, key, query, headers, body)
    assert params["Body"] is body and body.tell() == 0


def _headers(**extra):
    return {k.replace("_", "-"): v for k, v in extra.items()}


@pytest.mark.parametrize(
    ("method", "bucket", "key", "query", "headers", "operation"),
    [
        # Clients other than botocore (pyarrow's C++ SDK, DuckDB, curl) send no x-id.
        ("GET", None, None, [], {}, "ListBuckets"),
        ("GET", "b", None, [], {}, "ListObjects"),
        ("GET", "b", None, [("list-type", "2"), ("prefix", "")], {}, "ListObjectsV2"),
        ("GET", "b", None, [("location", "")], {}, "GetBucketLocation"),
        ("GET", "b", None, [("versions", "")], {}, "ListObjectVersions"),
        ("GET", "b", None, [("uploads", "")], {}, "ListMultipartUploads"),
        ("PUT", "b", None, [], {}, "CreateBucket"),
        ("PUT", "b", "k", [], {}, "PutObject"),
        ("PUT", "b", "k", [], _headers(x_amz_copy_source="/s/k"), "CopyObject"),
        ("PUT", "b", "k", [("partNumber", "1"), ("uploadId", "u")], {}, "UploadPart"),
        (
            "PUT",
            "b",
            "k",
            [("partNumber", "1"), ("uploadId", "u")],
            _headers(x_amz_copy_source="s/k"),
            "UploadPartCopy",
        ),
        ("POST", "b", "k", [("uploads", "")], {}, "CreateMultipartUpload"),
        ("POST", "b", "k", [("uploadId", "u")], {}, "CompleteMultipartUpload"),
        ("GET", "b", "k", [("uploadId", "u")], {}, "ListParts"),
        ("DELETE", "b", "k", [("uploadId", "u")], {}, "AbortMultipartUpload"),
        ("GET", "b", "k", [], {}, "GetObject"),
        ("HEAD", "b", "k", [], {}, "HeadObject"),
        ("HEAD", "b", None, [], {}, "HeadBucket"),
        ("POST", "b", None, [("delete", "")], {}, "DeleteObjects"),
        ("GET", "b", "k", [("x-id", "GetObject")], {}, "GetObject"),
        ("GET", "b", None, [("lifecycle", "")], {}, "GetBucketLifecycleConfiguration"),
    ],
)
def test_routes_without_botocore_hints(codec, method, bucket, key, query, headers, operation):
    assert codec.route(method, bucket, key, query, headers).name == operation


def test_x_id_breaks_a_tie(codec):
    query = [("x-id", "ListDirectoryBuckets")]
    assert codec.route("GET", None, None, query, {}).name == "ListDirectoryBuckets"


def test_a_method_nothing_serves_is_method_not_allowed(codec):
    with pytest.raises(CodecError) as caught:
        codec.route("PATCH", "b", "k", [], {})
    assert (caught.value.code, caught.value.status) == ("MethodNotAllowed", 405)
    assert caught.value.message == "The specified method is not allowed against this resource."
    assert caught.value.error_fields == {"Method": "PATCH", "ResourceType": "OBJECT"}


@pytest.mark.parametrize(
    "document",
    [b"<Delete><Object><Key>a</Key>", b"not xml", b"<Other><Object/></Other>", b"\xff\xfe"],
)
def test_malformed_xml(client, codec, document):
    op, bucket, key, query, headers, _ = wire(
        client, "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}]}}
    )
    with pytest.raises(CodecError) as caught:
        codec.parse(op, bucket, key, query, headers, io.BytesIO(document))
    assert (caught.value.code, caught.value.status) == ("MalformedXML", 400)
    assert caught.value.message == (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


def test_a_document_of_the_wrong_type_is_malformed(client, codec):
    op, bucket, key, query, headers, _ = wire(
        client, "CompleteMultipartUpload", {"Bucket": "b", "Key": "k", "UploadId": "u"}
    )
    document = b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>"
    with pytest.raises(CodecError) as caught:
        codec.parse(op, bucket, key, query, headers, io.BytesIO(document))
    assert caught.value.code == "MalformedXML"


def test_document_without_namespace_is_read(client, codec):
    op = client.meta.service_model.operation_model("PutBucketVersioning")
    document = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
    params = codec.parse(op, "b", None, [("versioning", "")], {}, io.BytesIO(document))
    assert params == {"Bucket": "b", "VersioningConfiguration": {"Status": "Suspended"}}


def test_empty_body_means_no_payload(client, codec):
    op = client.meta.service_model.operation_model("CreateBucket")
    assert codec.parse(op, "b", None, [], {}, io.BytesIO(b"")) == {"Bucket": "b"}


def test_non_integer_query_value_is_invalid_argument(client, codec):
    op = client.meta.service_model.operation_model("ListObjectsV2")
    query = [("list-type", "2"), ("max-keys", "ten")]
    with pytest.raises(CodecError) as caught:
        codec.parse(op, "b", None, query, {}, None)
    assert (caught.value.code, caught.value.status) == ("InvalidArgument", 400)
    assert caught.value.message == "Provided max-keys not an integer or within integer range"
    assert caught.value.error_fields == {"ArgumentName": "max-keys", "ArgumentValue": "ten"}


def test_unreadable_conditional_date_is_ignored(client, codec):
    op = client.meta.service_model.operation_model("GetObject")
    headers = {"if-modified-since": "yesterday-ish"}
    assert codec.parse(op, "b", "k", [], headers, None) == {"Bucket": "b", "Key": "k"}


def test_rfc822_header_dates(client, codec):
    op = client.meta.service_model.operation_model("PutObject")
    headers = {"expires": "Fri, 02 Jan 2026 03:04:05 GMT"}
    assert codec.parse(op, "b", "k", [], headers, None)["Expires"] == WHEN


def test_text_payload_is_read_as_text(client, codec):
    params = {"Bucket": "bkt", "Policy": '{"Version": "2012-10-17", "Statement": []}'}
    assert round_trip(client, codec, "PutBucketPolicy", params) == params


def test_rfc2047_metadata_is_decoded_as_s3_stores_it(client, codec):
    op = client.meta.service_model.operation_model("PutObject")
    headers = {"x-amz-meta-city": "=?UTF-8?B?TcO8bmNoZW4g8J+Zgg==?=", "x-amz-meta-plain": "a=?b"}
    params = codec.parse(op, "b", "k", [], headers, None)
    assert params["Metadata"] == {"city": "München 🙂", "plain": "a=?b"}
