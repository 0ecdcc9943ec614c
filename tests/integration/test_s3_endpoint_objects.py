"""S3 over real HTTP: boto3 clients (not activated) talk to an S3Endpoint on 127.0.0.1."""

from __future__ import annotations

import os
import socket

import pytest
import s3_endpoint_helpers as helpers
from botocore.exceptions import ClientError
from s3_endpoint_helpers import client

from simsage.config import load_config
from simsage.transport.s3_endpoint import S3Endpoint
from simsage.transport.s3_endpoint_address import split_address

endpoint, s3 = helpers.endpoint, helpers.s3  # the fixtures


def _code(excinfo) -> tuple[str, int]:
    error = excinfo.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_buckets_and_objects_round_trip(s3):
    s3.create_bucket(Bucket="bkt-data")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt-data"]
    s3.head_bucket(Bucket="bkt-data")
    put = s3.put_object(
        Bucket="bkt-data",
        Key="dir/d.csv",
        Body=b"a,b\n1,2\n",
        ContentType="text/csv",
        Metadata={"owner": "ana", "note": "x y"},
    )
    got = s3.get_object(Bucket="bkt-data", Key="dir/d.csv")
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"owner": "ana", "note": "x y"}
    head = s3.head_object(Bucket="bkt-data", Key="dir/d.csv")
    assert head["ContentLength"] == 8
    listed = s3.list_objects_v2(Bucket="bkt-data", Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/d.csv"]
    s3.copy_object(Bucket="bkt-data", Key="copy.csv", CopySource="bkt-data/dir/d.csv")
    assert s3.get_object(Bucket="bkt-data", Key="copy.csv")["Body"].read() == b"a,b\n1,2\n"
    deleted = s3.delete_objects(
        Bucket="bkt-data", Delete={"Objects": [{"Key": "copy.csv"}, {"Key": "dir/d.csv"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["copy.csv", "dir/d.csv"]
    assert s3.list_objects_v2(Bucket="bkt-data")["KeyCount"] == 0
    s3.delete_bucket(Bucket="bkt-data")
    assert s3.list_buckets()["Buckets"] == []


@pytest.mark.parametrize(
    "key",
    ["ünïcode/ключ.txt", "with space+plus.txt", "a%2Fb", "x/../y", "trailing/", "semi;colon=&?#"],
)
def test_awkward_keys_keep_their_name(s3, key):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key=key, Body=b"v")
    assert s3.get_object(Bucket="bkt", Key=key)["Body"].read() == b"v"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == [key]
    s3.delete_object(Bucket="bkt", Key=key)


def test_ranged_get_is_206(s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=bytes(range(256)) * 4)
    got = s3.get_object(Bucket="bkt", Key="k", Range="bytes=10-19")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 10-19/1024"
    assert got["Body"].read() == bytes(range(10, 20))


def test_errors_carry_s3_codes(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="nope", Key="k")
    assert _code(excinfo) == ("NoSuchBucket", 404)
    s3.create_bucket(Bucket="bkt")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="bkt", Key="missing")
    assert _code(excinfo) == ("NoSuchKey", 404)
    assert excinfo.value.response["Error"]["Key"] == "missing"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket="bkt", Key="missing")
    assert _code(excinfo) == ("404", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket="nope")
    assert _code(excinfo) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket="nope", Key="k", Body=b"x" * (2 * 1024 * 1024))  # Expect: 100-continue
    assert _code(excinfo) == ("NoSuchBucket", 404)
    s3.put_object(Bucket="bkt", Key="k", Body=b"after an error the connection still works")


def test_multipart_upload_and_download_of_a_20_mib_file(s3, tmp_path):
    s3.create_bucket(Bucket="bkt")
    source = tmp_path / "big.bin"
    data = os.urandom(1024 * 1024) * 20
    source.write_bytes(data)
    s3.upload_file(str(source), "bkt", "big.bin")
    head = s3.head_object(Bucket="bkt", Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    target = tmp_path / "back.bin"
    s3.download_file("bkt", "big.bin", str(target))
    assert target.read_bytes() == data


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` raw, end the sending side, and read the answer to its end."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /bkt HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /bkt HTTP/1.1\r\n" + b"X-Pad: 1\r\n" * 201 + b"\r\n", 431),
        (b"GET /bkt HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /bkt HTTP/1.1\r\n Host: indented\r\n\r\n", 400),
    ],
)
def test_a_malformed_header_block_is_refused_and_the_connection_closed(
    endpoint, s3, request_bytes, status
):
    answer = _exchange(endpoint.server_port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert b"\r\nConnection: close" in answer.partition(b"\r\n\r\n")[0]
    s3.create_bucket(Bucket="bkt")  # the endpoint goes on serving
    assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0


def test_a_request_cut_off_in_its_headers_is_not_answered(endpoint, s3):
    host = f"Host: 127.0.0.1:{endpoint.server_port}\r\n".encode()
    assert _exchange(endpoint.server_port, b"GET /bkt HTTP/1.1\r\n" + host) == b""
    for cut in (b"X-Am", b"X-Amz-Date: 2026"):
        assert _exchange(endpoint.server_port, b"GET /bkt HTTP/1.1\r\n" + host + cut) == b""
    s3.create_bucket(Bucket="bkt")
    assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0


def test_the_endpoint_binds_loopback_only(simsage_home):
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        S3Endpoint(load_config(), host="0.0.0.0")
    wide = socket.socket()
    wide.bind(("0.0.0.0", 0))
    wide.listen()
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        S3Endpoint(load_config(), sock=wide)
    wide.close()
    server = S3Endpoint(load_config())
    try:
        assert server.socket.getsockname()[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.server_port}"
    finally:
        server.server_close()


def test_a_handed_over_socket_is_served(simsage_home):
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = S3Endpoint(load_config(), sock=listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        s3 = client(f"http://127.0.0.1:{listener.getsockname()[1]}")
        s3.create_bucket(Bucket="bkt")
        assert server.in_flight == 0
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("127.0.0.1:9000", "/bkt/a/b%20c", ("bkt", "a/b c")),
        ("localhost:9000", "/bkt", ("bkt", None)),
        ("localhost", "/", (None, None)),
        ("bkt.localhost:9000", "/a%2Fb", ("bkt", "a/b")),
        ("my.bkt.s3.localhost", "/k", ("my.bkt", "k")),
        ("bkt.s3.amazonaws.com", "/k%25", ("bkt", "k%")),
        ("bkt.s3.eu-west-1.amazonaws.com", "/k", ("bkt", "k")),
        ("s3.eu-west-1.amazonaws.com", "/bkt/k", ("bkt", "k")),
        ("s3.amazonaws.com", "/bkt/", ("bkt", None)),
        ("[::1]:9000", "/bkt/k", ("bkt", "k")),
        ("host.docker.internal:9000", "/bkt/k", ("bkt", "k")),
    ],
)
def test_addressing(host, path, expected):
    assert split_address(host, path) == expected
