"""simsage's S3 service behind the REST-XML codec, without a socket.

A botocore client whose requests go "over the wire" to the codec (its ``before-send``
hands the HTTP request to route + parse, the real S3 service answers, serialize writes
the HTTP answer botocore then parses) is compared with an in-process client on the same
home: a user must see the same answers both ways. This is the endpoint's path minus the
socket, SigV4 and aws-chunked, which the endpoint adds.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.config import Config
from botocore.exceptions import ClientError

from simsage.errors import AWSError
from simsage.transport import Request, activation
from simsage.transport.activation import active_transport
from simsage.transport.rest_xml import RestXmlCodec

MiB = 1024 * 1024


class _Raw:
    def __init__(self, body) -> None:
        self._body = io.BytesIO(body) if isinstance(body, bytes) else body

    def read(self, amt=None):
        return self._body.read(amt)

    def stream(self, amt=1024, decode_content=False):
        while chunk := self._body.read(amt):
            yield chunk


def _wire_client(local):
    """A client of ``local``'s home whose calls cross the codec."""
    transport = active_transport()
    # A client made as if simsage were not active (simsage's own clients skip endpoint
    # resolution and answer before anything is sent).
    create_client = activation._originals["create_client"]
    client = create_client(
        botocore.session.get_session(),
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    codec = RestXmlCodec(client.meta.service_model)

    def send(request, **_):
        url = urlsplit(request.url)
        bucket, _, key = unquote(url.path)[1:].partition("/")
        bucket, key = bucket or None, key or None
        query = parse_qsl(url.query, keep_blank_values=True)
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        body = request.body
        body = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        head = request.method == "HEAD"
        try:
            op = codec.route(request.method, bucket, key, query, headers)
            params = codec.parse(op, bucket, key, query, headers, body)
            call = Request("s3", op.name, params, "us-east-1", "123456789012", op)
            method, check = transport._method("s3", op)
            if check is not None:
                check(params)
            result = method(call)
            response = codec.serialize(op, result, call.status)
            response.headers += list(call.headers.items())
        except AWSError as err:
            fields = err.error_fields
            response = codec.serialize_error(err.code, err.message, err.status, fields, "R1", head)
        body = response.body
        return AWSResponse(request.url, response.status, HeadersDict(response.headers), _Raw(body))

    client.meta.events.register("before-send.s3", send)
    return client


@pytest.fixture
def clients(simsage_local):
    wire = _wire_client(simsage_local)
    local = simsage_local.client("s3")
    local.create_bucket(Bucket="bkt")
    return wire, local


def _same(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    a.pop("ResponseMetadata")
    b.pop("ResponseMetadata")
    assert a == b


KEYS = ["plain.csv", "dir/a b+c", "é/ü 🙂", "../dots", "trail/", "pct%2Fkey"]


def test_objects_read_the_same_both_ways(clients):
    wire, local = clients
    for key in KEYS:
        wire.put_object(
            Bucket="bkt", Key=key, Body=key.encode() * 3, Metadata={"who": "ana"}, ContentType="x/y"
        )
    for key in KEYS:
        w = wire.get_object(Bucket="bkt", Key=key)
        loc = local.get_object(Bucket="bkt", Key=key)
        assert w.pop("Body").read() == loc.pop("Body").read() == key.encode() * 3
        _same(w, loc)
        _same(wire.head_object(Bucket="bkt", Key=key), local.head_object(Bucket="bkt", Key=key))
    ranged = wire.get_object(Bucket="bkt", Key="plain.csv", Range="bytes=2-4")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["Body"].read() == b"ain"
    assert ranged["ContentRange"] == "bytes 2-4/27"


def test_listings_are_the_same_both_ways(clients):
    wire, local = clients
    for key in KEYS:
        local.put_object(Bucket="bkt", Key=key, Body=b"x")
    for kwargs in ({}, {"Delimiter": "/"}, {"Prefix": "d"}, {"MaxKeys": 2}):
        v2 = {"FetchOwner": True, **kwargs}
        _same(wire.list_objects_v2(Bucket="bkt", **v2), local.list_objects_v2(Bucket="bkt", **v2))
        _same(wire.list_objects(Bucket="bkt", **kwargs), local.list_objects(Bucket="bkt", **kwargs))
    paged = [
        [c["Key"] for c in page.get("Contents", [])]
        for page in wire.get_paginator("list_objects_v2").paginate(
            Bucket="bkt", PaginationConfig={"PageSize": 2}
        )
    ]
    assert sum(paged, []) == sorted(KEYS)
    _same(wire.list_buckets(), local.list_buckets())
    _same(wire.get_bucket_location(Bucket="bkt"), local.get_bucket_location(Bucket="bkt"))


def test_copy_and_delete(clients):
    wire, local = clients
    wire.put_object(Bucket="bkt", Key="src key", Body=b"abc", Metadata={"a": "1"})
    copied = wire.copy_object(
        Bucket="bkt", Key="dst", CopySource={"Bucket": "bkt", "Key": "src key"}
    )
    assert copied["CopyObjectResult"]["ETag"] == local.head_object(Bucket="bkt", Key="dst")["ETag"]
    assert local.get_object(Bucket="bkt", Key="dst")["Metadata"] == {"a": "1"}
    out = wire.delete_objects(
        Bucket="bkt", Delete={"Objects": [{"Key": "src key"}, {"Key": "dst"}, {"Key": "none"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["dst", "none", "src key"]
    assert wire.delete_object(Bucket="bkt", Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert local.list_objects_v2(Bucket="bkt")["KeyCount"] == 0


def test_multipart_upload(clients):
    wire, local = clients
    up = wire.create_multipart_upload(Bucket="bkt", Key="big", Metadata={"m": "v"})
    upload_id = up["UploadId"]
    first = wire.upload_part(
        Bucket="bkt", Key="big", UploadId=upload_id, PartNumber=1, Body=b"a" * (5 * MiB)
    )
    local.put_object(Bucket="bkt", Key="tail", Body=b"tail")
    second = wire.upload_part_copy(
        Bucket="bkt", Key="big", UploadId=upload_id, PartNumber=2, CopySource="bkt/tail"
    )
    parts = wire.list_parts(Bucket="bkt", Key="big", UploadId=upload_id)
    assert [p["PartNumber"] for p in parts["Parts"]] == [1, 2]
    assert wire.list_multipart_uploads(Bucket="bkt")["Uploads"][0]["UploadId"] == upload_id
    done = wire.complete_multipart_upload(
        Bucket="bkt",
        Key="big",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["ETag"].endswith('-2"')
    got = local.get_object(Bucket="bkt", Key="big")
    assert got["ContentLength"] == 5 * MiB + 4 and got["Metadata"] == {"m": "v"}
    other = wire.create_multipart_upload(Bucket="bkt", Key="x")["UploadId"]
    wire.abort_multipart_upload(Bucket="bkt", Key="x", UploadId=other)
    assert "Uploads" not in local.list_multipart_uploads(Bucket="bkt")


def test_tagging_encryption_and_attributes(clients):
    wire, local = clients
    wire.put_object(Bucket="bkt", Key="k", Body=b"abc", Tagging="a=1")
    tags = {"TagSet": [{"Key": "t", "Value": "v w"}]}
    wire.put_object_tagging(Bucket="bkt", Key="k", Tagging=tags)
    _same(
        wire.get_object_tagging(Bucket="bkt", Key="k"),
        local.get_object_tagging(Bucket="bkt", Key="k"),
    )
    wire.put_bucket_tagging(Bucket="bkt", Tagging=tags)
    assert wire.get_bucket_tagging(Bucket="bkt")["TagSet"] == tags["TagSet"]
    wire.delete_bucket_tagging(Bucket="bkt")
    wire.delete_object_tagging(Bucket="bkt", Key="k")
    assert local.get_object_tagging(Bucket="bkt", Key="k")["TagSet"] == []
    rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    wire.put_bucket_encryption(Bucket="bkt", ServerSideEncryptionConfiguration=rules)
    _same(wire.get_bucket_encryption(Bucket="bkt"), local.get_bucket_encryption(Bucket="bkt"))
    wire.delete_bucket_encryption(Bucket="bkt")
    attrs = ["ETag", "ObjectSize", "StorageClass"]
    _same(
        wire.get_object_attributes(Bucket="bkt", Key="k", ObjectAttributes=attrs),
        local.get_object_attributes(Bucket="bkt", Key="k", ObjectAttributes=attrs),
    )


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.get_object(Bucket="bkt", Key="missing"), "NoSuchKey"),
        (lambda c: c.get_object(Bucket="nobkt", Key="k"), "NoSuchBucket"),
        (lambda c: c.head_object(Bucket="bkt", Key="missing"), "404"),
        (lambda c: c.create_bucket(Bucket="Bad_Name"), "InvalidBucketName"),
        (lambda c: c.list_parts(Bucket="bkt", Key="k", UploadId="nope"), "NoSuchUpload"),
    ],
)
def test_errors_are_the_same_both_ways(clients, call, code):
    wire, local = clients
    with pytest.raises(ClientError) as over_wire:
        call(wire)
    with pytest.raises(ClientError) as in_process:
        call(local)
    w, loc = over_wire.value.response["Error"], in_process.value.response["Error"]
    assert w["Code"] == loc["Code"] == code
    assert w == loc
    status = over_wire.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == in_process.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_content_md5_is_checked_over_the_wire(clients):
    wire, _ = clients
    with pytest.raises(ClientError) as caught:
        wire.put_object(Bucket="bkt", Key="k", Body=b"abc", ContentMD5="XUFAKrxLKna5cZ2REBfFkg==")
    assert caught.value.response["Error"]["Code"] == "BadDigest"


def test_metadata_beyond_ascii_crosses_the_wire_as_on_s3(clients):
    """S3 decodes RFC 2047 metadata before storing it and encodes non-ASCII values on the
    way out; botocore leaves the encoded word to the caller."""
    wire, local = clients
    wire.put_object(Bucket="bkt", Key="k", Body=b"", Metadata={"c": "=?UTF-8?B?TcO8bmNoZW4=?="})
    assert local.head_object(Bucket="bkt", Key="k")["Metadata"] == {"c": "München"}
    assert wire.head_object(Bucket="bkt", Key="k")["Metadata"] == {"c": "=?UTF-8?B?TcO8bmNoZW4=?="}
