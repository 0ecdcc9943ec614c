"""Hostile keys and bucket names: every valid key is stored, read and listed exactly as
given and never reaches outside SIMSAGE_HOME (blob files are named by ids, not keys);
invalid bucket names are rejected with S3's error code and leave nothing on disk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

BUCKET = "hostile-keys"

HOSTILE_KEYS = [
    "../../etc/passwd",
    "../../../../../../../../../../tmp/simsage-escape-canary",
    "..",
    ".",
    "./",
    "../",
    "//",
    "/",
    "a//b",
    "/leading",
    "trailing/",
    "a\\b",
    "\\..\\..\\windows\\system32",
    "%2e%2e/x",
    "%2F%2f",
    "blobs/tmp/../../state.db",
    "state.db",
    "state.db-wal",
    "~",
    "~/.ssh/id_rsa",
    "$HOME/${PATH}",
    "CON",
    "nul.txt",
    "a b  c ",
    " ",
    "a\nb",
    "\n",
    "tab\there",
    "cr\rlf\r\n",
    "quote\"'`",
    "<xml>&amp;</xml>",
    "?query=1&x#frag",
    "+plus+",
    "🙂",
    "emoji/👩‍👩‍👧/🚀.txt",
    "\u00e9",  # é precomposed
    "e\u0301",  # é as e + combining acute: a different key
    "中文/键",
    "\u202eevil.txt",  # right-to-left override
    "zero\u200bwidth",
    "\ufeffbom",
    "\U0010fffd",
    "a",
    "a/",
    "a/b",
    "a/b/",
    "a/b/c",
    "../" * 341 + "x",  # 1024 bytes exactly
    "é" * 512,  # 1024 bytes in 512 characters
]

# Names S3 itself rejects (InvalidBucketName) and names botocore rejects before any
# request is made (ParamValidationError), as each really happens against AWS.
INVALID_BUCKETS = {
    "..": "InvalidBucketName",
    "a..b": "InvalidBucketName",
    "UPPER": "InvalidBucketName",
    "under_score": "InvalidBucketName",
    "192.168.1.1": "InvalidBucketName",
    "xn--abc": "InvalidBucketName",
    "x" * 64: "InvalidBucketName",
    "ab": "InvalidBucketName",
    ".leading-dot": "InvalidBucketName",
    "trailing-dash-": "InvalidBucketName",
    "../../etc": ParamValidationError,
    "a/b": ParamValidationError,
    "a b": ParamValidationError,
    "é-bucket": ParamValidationError,
    "": ParamValidationError,
}

HOME_ENTRY = re.compile(
    r"state\.db(-wal|-shm|-journal)?|store\.lock|blobs|blobs/store\.json|blobs/tmp"
    r"|blobs/[0-9a-f]{2}|blobs/[0-9a-f]{2}/[0-9a-f]{32}"
    # the record of the home's S3 endpoint (simsage_local activates simsage)
    r"|s3-endpoint|s3-endpoint/s3\.(json|lock|log)"
)


def tree(root: Path, skip: Path | None = None) -> set[str]:
    """Every path under ``root`` (relative), except ``skip`` and what is inside it."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if skip is None or not (p == skip or skip in p.parents)
    }


def assert_home_holds_only_store_files(home: Path) -> None:
    for entry in tree(home):
        assert HOME_ENTRY.fullmatch(entry), f"unexpected file in SIMSAGE_HOME: {entry!r}"


def body_of(key: str) -> bytes:
    return f"content of {key!r}".encode() * (1 if len(key) % 2 else 3000)  # inline or blob


def utf8(key: str) -> bytes:
    return key.encode()


def list_all(s3, **params) -> tuple[list[str], list[str]]:
    keys, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, **params):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


@pytest.fixture
def jail(simsage_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The test runs in its own working directory; everything outside the home is
    snapshotted before, and must be unchanged after."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    outside = tree(tmp_path, skip=simsage_local.home)
    yield s3
    assert tree(tmp_path, skip=simsage_local.home) == outside
    assert_home_holds_only_store_files(simsage_local.home)


def test_hostile_keys_round_trip_exactly_and_stay_in_the_store(jail, simsage_local):
    s3 = jail
    assert len(set(HOSTILE_KEYS)) == len(HOSTILE_KEYS)
    for key in HOSTILE_KEYS:
        answer = s3.put_object(Bucket=BUCKET, Key=key, Body=body_of(key))
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    for key in HOSTILE_KEYS:
        got = s3.get_object(Bucket=BUCKET, Key=key)
        assert got["Body"].read() == body_of(key), key
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body_of(key))

    expected = sorted(HOSTILE_KEYS, key=utf8)
    assert list_all(s3) == (expected, [])
    assert list_all(s3, PaginationConfig={"PageSize": 3}) == (expected, [])
    v1 = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket=BUCKET, PaginationConfig={"PageSize": 4}
        )
        for o in page.get("Contents", [])
    ]
    assert v1 == expected

    # every key is its own prefix, and rolls up at '/' like any other
    for key in HOSTILE_KEYS:
        keys, _ = list_all(s3, Prefix=key)
        assert keys == sorted((k for k in HOSTILE_KEYS if k.startswith(key)), key=utf8)
    keys, prefixes = list_all(s3, Delimiter="/", PaginationConfig={"PageSize": 2})
    assert keys == [k for k in expected if "/" not in k]
    assert prefixes == sorted({k[: k.index("/") + 1] for k in HOSTILE_KEYS if "/" in k}, key=utf8)

    # nothing was written anywhere but the store's own files
    assert_home_holds_only_store_files(simsage_local.home)
    assert not Path("/tmp/simsage-escape-canary").exists()

    for key in HOSTILE_KEYS:
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert list_all(s3) == ([], [])
    assert list((simsage_local.home / "blobs" / "tmp").iterdir()) == []
    assert list((simsage_local.home / "blobs").glob("*/*")) == []


def test_hostile_keys_in_copy_multipart_and_delete_objects(jail, simsage_local, tmp_path):
    s3 = jail
    pairs = list(zip(HOSTILE_KEYS, reversed(HOSTILE_KEYS), strict=True))
    for key in HOSTILE_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body_of(key))
    for source, target in pairs[:12]:  # hostile keys copied onto hostile keys
        s3.copy_object(Bucket=BUCKET, Key=target, CopySource={"Bucket": BUCKET, "Key": source})
        assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == body_of(source)
    for key in ["../../mp", "mp/../../../x", "\n", "🙂/..", "a\\b"]:
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etag = s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"part of " + key.encode()
        )["ETag"]
        listed = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
        assert [u["Key"] for u in listed] == [key]
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"part of " + key.encode()

    # boto3's transfer manager with a hostile key, to and from a file we choose
    source = tmp_path / "upload.bin"
    source.write_bytes(b"transfer" * 10_000)
    s3.upload_file(str(source), BUCKET, "../../transfer/../x")
    target = tmp_path / "download.bin"
    s3.download_file(BUCKET, "../../transfer/../x", str(target))
    assert target.read_bytes() == source.read_bytes()
    source.unlink()
    target.unlink()

    everything, _ = list_all(s3)
    for start in range(0, len(everything), 7):
        batch = everything[start : start + 7]
        answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in batch]})
        assert sorted(d["Key"] for d in answer["Deleted"]) == sorted(batch)
    assert list_all(s3) == ([], [])
    assert list((simsage_local.home / "blobs").glob("*/*")) == []


@pytest.mark.parametrize(
    "key",
    ["k" * 1025, "é" * 512 + "k", "../" * 341 + "xy", "中" * 342],
    ids=["ascii", "two-byte", "dot-dot", "three-byte"],
)
def test_keys_over_1024_bytes_are_key_too_long(jail, key):
    s3 = jail
    assert len(key.encode()) > 1024
    calls = [
        (s3.put_object, {"Body": b"x"}),
        (s3.copy_object, {"CopySource": {"Bucket": BUCKET, "Key": "source"}}),
        (s3.create_multipart_upload, {}),
    ]
    s3.put_object(Bucket=BUCKET, Key="source", Body=b"x")
    for call, extra in calls:
        with pytest.raises(ClientError) as caught:
            call(Bucket=BUCKET, Key=key, **extra)
        assert caught.value.response["Error"]["Code"] == "KeyTooLongError"
    assert list_all(s3) == (["source"], [])


def test_invalid_bucket_names_are_rejected_and_create_nothing(simsage_local, tmp_path):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="a-real-bucket")
    before = tree(tmp_path)
    for name, expected in INVALID_BUCKETS.items():
        if expected is ParamValidationError:
            with pytest.raises(ParamValidationError):
                s3.create_bucket(Bucket=name)
            continue
        with pytest.raises(ClientError) as caught:
            s3.create_bucket(Bucket=name)
        error = caught.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            expected,
            400,
        ), name
        # writing into the bucket that was never made fails too, and makes nothing
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=name, Key="k", Body=b"x" * 100_000)
        assert caught.value.response["Error"]["Code"] in ("NoSuchBucket", "InvalidBucketName")
    assert tree(tmp_path) == before
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["a-real-bucket"]
    assert_home_holds_only_store_files(simsage_local.home)
