"""Responses through the REST-XML codec, with botocore as the oracle: what the codec
serializes from a service result, botocore's rest-xml parser (and, through a client, its
S3 handlers) must read back as the same result; error documents must give the right
``Error.Code`` and ``Error.Message``."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsage.transport.rest_xml import RestXmlCodec

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
WHEN_MS = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
OWNER = {
    "DisplayName": "simsage",
    "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
}


@pytest.fixture(scope="module")
def model():
    return botocore.session.get_session().get_service_model("s3")


@pytest.fixture(scope="module")
def codec(model):
    return RestXmlCodec(model)


def as_response_dict(response) -> dict:
    body = response.body if isinstance(response.body, bytes) else response.body
    return {"status_code": response.status, "headers": HeadersDict(response.headers), "body": body}


def parsed_back(model, codec, operation: str, result: dict, status: int | None = None) -> dict:
    op = model.operation_model(operation)
    response = codec.serialize(op, result, status)
    parsed = create_parser("rest-xml").parse(as_response_dict(response), op.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


CASES = [
    ("CreateBucket", {"Location": "/bkt"}),
    ("HeadBucket", {"BucketRegion": "us-east-1", "AccessPointAlias": False}),
    (
        "ListBuckets",
        {
            "Buckets": [
                {"Name": "a", "CreationDate": WHEN_MS, "BucketRegion": "us-east-1"},
                {"Name": "b", "CreationDate": WHEN},
            ],
            "Owner": OWNER,
            "Prefix": "a",
        },
    ),
    ("ListBuckets", {"Buckets": [], "Owner": OWNER}),
    (
        "PutObject",
        {
            "ETag": '"5d41402abc4b2a76b9719d911017c592"',
            "ChecksumCRC32": "NhCmhg==",
            "ChecksumType": "FULL_OBJECT",
            "ServerSideEncryption": "AES256",
            "VersionId": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        },
    ),
    (
        "HeadObject",
        {
            "AcceptRanges": "bytes",
            "LastModified": WHEN,
            "ContentLength": 11,
            "ETag": '"e"',
            "ContentType": "text/csv",
            "Metadata": {"owner": "ana", "x-y": "1 2"},
            "Expires": WHEN,
            "CacheControl": "no-cache",
            "StorageClass": "STANDARD_IA",
            "TagCount": 2,
            "PartsCount": 3,
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:aws:kms:us-east-1:1:key/k",
            "BucketKeyEnabled": True,
            "MissingMeta": 1,
        },
    ),
    ("DeleteObject", {"DeleteMarker": True, "VersionId": "v1"}),
    ("DeleteObject", {}),
    (
        "DeleteObjects",
        {
            "Deleted": [
                {"Key": "a"},
                {"Key": "b", "DeleteMarker": True, "DeleteMarkerVersionId": "v"},
            ],
            "Errors": [{"Key": "c", "Code": "AccessDenied", "Message": "Access Denied"}],
        },
    ),
    (
        "CopyObject",
        {
            "CopyObjectResult": {
                "ETag": '"e"',
                "LastModified": WHEN_MS,
                "ChecksumCRC32": "AAAAAA==",
            },
            "CopySourceVersionId": "v0",
            "VersionId": "v1",
            "ServerSideEncryption": "AES256",
        },
    ),
    (
        "ListObjectsV2",
        {
            "IsTruncated": True,
            "Contents": [
                {
                    "Key": "a%20b",
                    "LastModified": WHEN_MS,
                    "ETag": '"e"',
                    "ChecksumAlgorithm": ["CRC32"],
                    "ChecksumType": "FULL_OBJECT",
                    "Size": 0,
                    "StorageClass": "STANDARD",
                    "Owner": OWNER,
                }
            ],
            "Name": "bkt",
            "Prefix": "",
            "Delimiter": "/",
            "MaxKeys": 1000,
            "CommonPrefixes": [{"Prefix": "d/"}, {"Prefix": "e/"}],
            "EncodingType": "url",
            "KeyCount": 3,
            "ContinuationToken": "t0",
            "NextContinuationToken": "t1",
            "StartAfter": "a",
        },
    ),
    (
        "ListObjects",
        {
            "IsTruncated": False,
            "Marker": "",
            "Contents": [{"Key": "k", "LastModified": WHEN, "ETag": '"e"', "Size": 5}],
            "Name": "bkt",
            "Prefix": "",
            "MaxKeys": 1000,
        },
    ),
    (
        "CreateMultipartUpload",
        {"Bucket": "bkt", "Key": "big", "UploadId": "u-1", "ChecksumAlgorithm": "CRC32"},
    ),
    ("UploadPart", {"ETag": '"p"', "ChecksumCRC32": "AAAAAA==", "ServerSideEncryption": "AES256"}),
    (
        "UploadPartCopy",
        {"CopyPartResult": {"ETag": '"p"', "LastModified": WHEN}, "CopySourceVersionId": "v"},
    ),
    (
        "CompleteMultipartUpload",
        {
            "Location": "http://127.0.0.1/bkt/big",
            "Bucket": "bkt",
            "Key": "big",
            "ETag": '"abc-2"',
            "ChecksumCRC32": "AAAAAA==-2",
            "VersionId": "v",
        },
    ),
    ("AbortMultipartUpload", {}),
    (
        "ListParts",
        {
            "Bucket": "bkt",
            "Key": "big",
            "UploadId": "u-1",
            "PartNumberMarker": 0,
            "NextPartNumberMarker": 2,
            "MaxParts": 2,
            "IsTruncated": True,
            "Parts": [
                {"PartNumber": 1, "LastModified": WHEN, "ETag": '"a"', "Size": 5242880},
                {"PartNumber": 2, "LastModified": WHEN_MS, "ETag": '"b"', "Size": 1},
            ],
            "Initiator": OWNER,
            "Owner": OWNER,
            "StorageClass": "STANDARD",
            "ChecksumAlgorithm": "CRC32",
        },
    ),
    (
        "ListMultipartUploads",
        {
            "Bucket": "bkt",
            "KeyMarker": "",
            "UploadIdMarker": "",
            "MaxUploads": 1000,
            "IsTruncated": False,
            "Uploads": [
                {
                    "UploadId": "u-1",
                    "Key": "big",
                    "Initiated": WHEN_MS,
                    "StorageClass": "STANDARD",
                    "Owner": OWNER,
                    "Initiator": OWNER,
                }
            ],
            "CommonPrefixes": [{"Prefix": "x/"}],
        },
    ),
    ("PutObjectTagging", {"VersionId": "v"}),
    ("GetObjectTagging", {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}),
    ("GetObjectTagging", {"TagSet": []}),
    ("DeleteObjectTagging", {}),
    ("GetBucketTagging", {"TagSet": [{"Key": "a", "Value": "1"}]}),
    (
        "GetBucketEncryption",
        {
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": False,
                    }
                ]
            }
        },
    ),
    (
        "GetObjectAttributes",
        {
            "LastModified": WHEN,
            "VersionId": "v",
            "ETag": "e",
            "Checksum": {"ChecksumCRC32": "AAAAAA==", "ChecksumType": "COMPOSITE"},
            "ObjectParts": {
                "TotalPartsCount": 2,
                "PartNumberMarker": 0,
                "NextPartNumberMarker": 1,
                "MaxParts": 1,
                "IsTruncated": True,
                "Parts": [{"PartNumber": 1, "Size": 5, "ChecksumCRC32": "AAAAAA=="}],
            },
            "StorageClass": "STANDARD",
            "ObjectSize": 10,
        },
    ),
    ("GetBucketVersioning", {"Status": "Enabled", "MFADelete": "Disabled"}),
    ("GetBucketVersioning", {}),
    (
        "ListObjectVersions",
        {
            "IsTruncated": True,
            "KeyMarker": "",
            "VersionIdMarker": "",
            "NextKeyMarker": "b",
            "NextVersionIdMarker": "v2",
            "Versions": [
                {
                    "ETag": '"e"',
                    "Size": 3,
                    "StorageClass": "STANDARD",
                    "Key": "a",
                    "VersionId": "v1",
                    "IsLatest": True,
                    "LastModified": WHEN_MS,
                    "Owner": OWNER,
                }
            ],
            "DeleteMarkers": [
                {
                    "Owner": OWNER,
                    "Key": "b",
                    "VersionId": "v2",
                    "IsLatest": False,
                    "LastModified": WHEN,
                }
            ],
            "Name": "bkt",
            "Prefix": "",
            "MaxKeys": 1,
            "EncodingType": "url",
        },
    ),
]


@pytest.mark.parametrize(("operation", "result"), CASES, ids=[c[0] for c in CASES])
def test_result_parses_back(model, codec, operation, result):
    assert parsed_back(model, codec, operation, result) == result


def test_get_object_streams_its_body(model, codec):
    body = io.BytesIO(b"hello world")
    result = {"Body": body, "ContentLength": 11, "ContentType": "text/plain", "LastModified": WHEN}
    response = codec.serialize(model.operation_model("GetObject"), result, 206)
    assert response.body is body
    assert response.status == 206
    assert response.header("content-length") == "11"
    assert response.header("last-modified") == "Fri, 02 Jan 2026 03:04:05 GMT"
    assert response.header("content-type") == "text/plain"


def test_model_status_codes(model, codec):
    assert codec.serialize(model.operation_model("DeleteObject"), {}).status == 204
    assert codec.serialize(model.operation_model("DeleteBucket"), {}).status == 204
    assert codec.serialize(model.operation_model("PutObject"), {"ETag": '"e"'}).status == 200


def test_documents_are_s3s(model, codec):
    """Root names and namespace as S3 writes them; timestamps in UTC with milliseconds."""
    result = dict(CASES[10][1])
    response = codec.serialize(model.operation_model("ListObjectsV2"), result)
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert response.header("Content-Type") == "application/xml"
    assert int(response.header("Content-Length")) == len(response.body)
    root = ElementTree.fromstring(response.body)
    assert root.tag == f"{S3NS}ListBucketResult"
    assert root.find(f"{S3NS}Contents/{S3NS}LastModified").text == "2026-01-02T03:04:05.123Z"
    assert [e.text for e in root.iter(f"{S3NS}Prefix")][1:] == ["d/", "e/"]


@pytest.mark.parametrize(
    ("operation", "root"),
    [
        ("ListBuckets", "ListAllMyBucketsResult"),
        ("DeleteObjects", "DeleteResult"),
        ("CreateMultipartUpload", "InitiateMultipartUploadResult"),
        ("CompleteMultipartUpload", "CompleteMultipartUploadResult"),
        ("ListParts", "ListPartsResult"),
        ("ListMultipartUploads", "ListMultipartUploadsResult"),
        ("GetObjectTagging", "Tagging"),
        ("GetBucketVersioning", "VersioningConfiguration"),
        ("ListObjectVersions", "ListVersionsResult"),
        ("CopyObject", "CopyObjectResult"),
        ("GetBucketEncryption", "ServerSideEncryptionConfiguration"),
    ],
)
def test_root_element_names(model, codec, operation, root):
    result = next(r for op, r in CASES if op == operation)
    body = codec.serialize(model.operation_model(operation), result).body
    assert ElementTree.fromstring(body).tag == f"{S3NS}{root}"


def test_timestamps_in_another_zone_are_written_in_utc(model, codec):
    from datetime import timedelta, timezone

    local = WHEN_MS.astimezone(timezone(timedelta(hours=5)))
    result = {"CopyObjectResult": {"ETag": '"e"', "LastModified": local}}
    body = codec.serialize(model.operation_model("CopyObject"), result).body
    assert b"<LastModified>2026-01-02T03:04:05.123Z</LastModified>" in body


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1),
        max_size=5,
    )
)
def test_listed_keys_round_trip(model, codec, keys):
    """Keys are XML text (escaped by ElementTree): anything but control characters, which
    XML 1.0 cannot carry (clients ask for EncodingType=url for those)."""
    result = {
        "Contents": [{"Key": k, "Size": 1, "LastModified": WHEN} for k in keys],
        "Name": "b",
        "KeyCount": len(keys),
        "IsTruncated": False,
    }
    back = parsed_back(model, codec, "ListObjectsV2", result)
    assert [c["Key"] for c in back.get("Contents", [])] == keys


# -- through a client: botocore's S3 handlers read the answers ----------------------------


class _Raw:
    """What botocore reads a response body from (a urllib3 response's interface)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, amt=None):
        return self._data.read(amt)

    def stream(self, amt=1024, decode_content=False):
        while chunk := self._data.read(amt):
            yield chunk


def client_answering(codec, answer):
    """A botocore client whose requests never leave: ``answer(op_name, params)`` gives the
    result or an ``(code, message, status, fields)`` error; the codec writes it."""
    client = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )

    def send(request, **_):
        url = urlsplit(request.url)
        bucket, _, key = unquote(url.path)[1:].partition("/")
        query = parse_qsl(url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        model = codec.route(request.method, bucket or None, key or None, query, headers)
        outcome = answer(model.name, request)
        if isinstance(outcome, tuple):
            code, message, status, fields = outcome
            head = request.method == "HEAD"
            response = codec.serialize_error(code, message, status, fields, "REQ123", head=head)
        else:
            response = codec.serialize(model, outcome)
        body = response.body if isinstance(response.body, bytes) else response.body.read()
        return AWSResponse(request.url, response.status, HeadersDict(response.headers), _Raw(body))

    client.meta.events.register("before-send.s3", send)
    return client


def test_get_bucket_location_through_botocore(codec):
    client = client_answering(codec, lambda op, req: {"LocationConstraint": "eu-west-1"})
    assert client.get_bucket_location(Bucket="b")["LocationConstraint"] == "eu-west-1"
    client = client_answering(codec, lambda op, req: {})
    assert client.get_bucket_location(Bucket="b")["LocationConstraint"] is None


def test_listing_keys_encoded_by_the_service_are_decoded_by_botocore(codec):
    """botocore asks for EncodingType=url itself and decodes the answer; the service
    encodes when asked (in-process as over the wire), the codec writes what it gets."""
    seen = []

    def answer(op, request):
        seen.append(request.url)
        return {"Contents": [{"Key": "a%20b%01c", "Size": 1}], "EncodingType": "url", "Name": "b"}

    out = client_answering(codec, answer).list_objects_v2(Bucket="b")
    assert "encoding-type=url" in seen[0]
    assert out["Contents"][0]["Key"] == "a b\x01c"


def test_get_object_through_botocore(codec):
    def answer(op, request):
        return {
            "Body": io.BytesIO(b"data"),
            "ContentLength": 4,
            "Metadata": {"owner": "ana"},
            "Expires": WHEN,
            "LastModified": WHEN,
            "ETag": '"e"',
        }

    out = client_answering(codec, answer).get_object(Bucket="b", Key="k")
    assert out["Body"].read() == b"data"
    assert out["Metadata"] == {"owner": "ana"}
    assert out["ExpiresString"] == "Fri, 02 Jan 2026 03:04:05 GMT"
    assert out["LastModified"] == WHEN


@pytest.mark.parametrize(
    ("code", "message", "status", "fields"),
    [
        ("NoSuchKey", "The specified key does not exist.", 404, {"Key": "k"}),
        ("NoSuchBucket", "The specified bucket does not exist", 404, {"BucketName": "b"}),
        ("InvalidArgument", 'Bad <arg> & "more"', 400, {"ArgumentName": "x-amz-acl"}),
        (
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
            {"Condition": "If-Match"},
        ),
    ],
)
def test_error_bodies_parse_to_code_and_message(codec, code, message, status, fields):
    client = client_answering(codec, lambda op, req: (code, message, status, fields))
    with pytest.raises(ClientError) as caught:
        client.get_object(Bucket="b", Key="k")
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    for name, value in fields.items():
        assert error[name] == value
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert caught.value.response["ResponseMetadata"]["RequestId"] == "REQ123"


def test_head_error_has_no_body(codec):
    response = codec.serialize_error(
        "NoSuchKey", "The specified key does not exist.", 404, {}, "R", head=True
    )
    assert response.body == b"" and response.header("content-length") == "0"
    client = client_answering(codec, lambda op, req: ("NoSuchKey", "x", 404, {}))
    with pytest.raises(ClientError) as caught:
        client.head_object(Bucket="b", Key="k")
    assert caught.value.response["Error"]["Code"] == "404"


def test_error_document(codec):
    response = codec.serialize_error(
        "NoSuchKey", "The specified key does not exist.", 404, {"Key": "a&b"}, "REQ"
    )
    root = ElementTree.fromstring(response.body)
    assert [child.tag for child in root] == ["Code", "Message", "Key", "RequestId", "HostId"]
    assert root.find("Key").text == "a&b"
    assert response.header("x-amz-request-id") == "REQ"
    assert response.header("x-amz-id-2") == root.find("HostId").text


def test_text_payload_is_the_body(model, codec):
    policy = '{"Version": "2012-10-17", "Statement": []}'
    assert parsed_back(model, codec, "GetBucketPolicy", {"Policy": policy}) == {"Policy": policy}


def test_non_ascii_metadata_goes_out_rfc2047_encoded(model, codec):
    result = {"Metadata": {"city": "München 🙂", "plain": "x"}, "ContentLength": 0}
    response = codec.serialize(model.operation_model("HeadObject"), result)
    assert response.header("x-amz-meta-city") == "=?UTF-8?B?TcO8bmNoZW4g8J+Zgg==?="
    assert response.header("x-amz-meta-plain") == "x"
    for _, value in response.headers:
        value.encode("latin-1")  # every value can go on an HTTP/1.1 wire
