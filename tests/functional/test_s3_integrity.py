"""Blob integrity on reads, through real boto3 clients: a blob file that is missing,
truncated or (for whole reads of objects up to 256 KiB) corrupted answers S3's
``InternalError`` (500) naming the object and ``simsage doctor``; damage found in the
middle of a body is a botocore exception, not a bare OSError; an overwrite racing a read
is still retried, not reported as damage."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from simsage import services
from simsage.config import load_config
from simsage.home import Home
from simsage.s3.backend import VERIFY_MAX

BUCKET = "integrity"
MIB = 1024 * 1024


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def blob_files(home: Path, key: str) -> list[Path]:
    conn = sqlite3.connect(home / "state.db")
    try:
        (segments,) = conn.execute(
            "SELECT segments FROM s3_objects WHERE key = ?", (key,)
        ).fetchone()
    finally:
        conn.close()
    return [home / "blobs" / blob[:2] / blob for blob, _ in json.loads(segments)]


def scribble(path: Path, offset: int = 500) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\0bit rot\0")


def put_multipart(s3, key: str, parts: list[bytes]) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    done = []
    for number, body in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
    )


def get_error(s3, key: str, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=BUCKET, Key=key, **kwargs)
    return caught.value.response


def assert_damage_answer(response: dict, key: str, what: str) -> None:
    assert response["Error"]["Code"] == "InternalError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["ResponseMetadata"]["RetryAttempts"] == 0  # answered once, no retry loop
    message = response["Error"]["Message"]
    assert f"The object s3://{BUCKET}/{key} is damaged" in message
    assert what in message
    assert "simsage doctor" in message


def test_a_missing_blob_file_is_internal_error_naming_the_object(s3, simsage_local):
    s3.put_object(Bucket=BUCKET, Key="gone", Body=os.urandom(200_000))
    (blob,) = blob_files(simsage_local.home, "gone")
    blob.unlink()
    assert_damage_answer(get_error(s3, "gone"), "gone", f"its blob file {blob.name} is missing")
    assert_damage_answer(get_error(s3, "gone", Range="bytes=0-9"), "gone", "is missing")


def test_a_truncated_blob_is_reported_before_any_byte(s3, simsage_local):
    s3.put_object(Bucket=BUCKET, Key="short", Body=os.urandom(3 * MIB))
    (blob,) = blob_files(simsage_local.home, "short")
    os.truncate(blob, 1000)
    assert_damage_answer(
        get_error(s3, "short"), "short", f"holds 1000 bytes, the registry says {3 * MIB}"
    )
    with pytest.raises(ClientError) as caught:  # one answer, not five retries of a bare OSError
        s3.download_file(BUCKET, "short", str(simsage_local.home.parent / "out.bin"))
    assert caught.value.response["Error"]["Code"] == "InternalError"


def test_a_corrupted_small_object_is_caught_by_its_md5(s3, simsage_local):
    body = os.urandom(VERIFY_MAX - 1000)
    s3.put_object(Bucket=BUCKET, Key="rotten", Body=body)
    (blob,) = blob_files(simsage_local.home, "rotten")
    scribble(blob)
    response = get_error(s3, "rotten")
    assert_damage_answer(response, "rotten", "not to its ETag")
    # a range is checked by length only: its bytes are served as stored
    part = s3.get_object(Bucket=BUCKET, Key="rotten", Range="bytes=100000-100099")
    assert part["Body"].read() == body[100_000:100_100]
    # above VERIFY_MAX a whole read is checked by length only (MD5 costs more than the
    # read): `simsage doctor` is what hashes those
    s3.put_object(Bucket=BUCKET, Key="large", Body=os.urandom(VERIFY_MAX + 1000))
    scribble(blob_files(simsage_local.home, "large")[0])
    assert len(s3.get_object(Bucket=BUCKET, Key="large")["Body"].read()) == VERIFY_MAX + 1000


def test_damage_found_mid_stream_is_a_botocore_error(s3, simsage_local):
    s3.put_object(Bucket=BUCKET, Key="shrinking", Body=os.urandom(4 * MIB))
    body = s3.get_object(Bucket=BUCKET, Key="shrinking")["Body"]
    (blob,) = blob_files(simsage_local.home, "shrinking")
    os.truncate(blob, MIB)  # after the answer: only the read can see it
    with pytest.raises(BotoCoreError) as caught:
        body.read()
    assert isinstance(caught.value, FlexibleChecksumError)
    message = str(caught.value)
    assert f"The object s3://{BUCKET}/shrinking is damaged" in message
    assert "ended" in message and "simsage doctor" in message


def test_a_range_away_from_a_damaged_part_is_served(s3, simsage_local):
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    put_multipart(s3, "parts", parts)
    first, second = blob_files(simsage_local.home, "parts")
    second.unlink()
    got = s3.get_object(Bucket=BUCKET, Key="parts", Range="bytes=0-99")["Body"].read()
    assert got == parts[0][:100]
    assert_damage_answer(get_error(s3, "parts"), "parts", f"its blob file {second.name} is missing")
    with pytest.raises(ClientError) as caught:  # a copy reads the same way
        s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "parts"})
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert "is missing" in caught.value.response["Error"]["Message"]


def test_an_overwrite_racing_a_read_is_retried_not_reported(s3, simsage_local):
    backend = services.service(Home.open(load_config()), "s3").backend
    s3.put_object(Bucket=BUCKET, Key="moving", Body=b"1" * 200_000)
    old = backend.get_object(BUCKET, "moving")
    s3.put_object(Bucket=BUCKET, Key="moving", Body=b"2" * 200_000)  # unlinks old's blob
    with pytest.raises(FileNotFoundError):  # not damage: the caller reads the row again
        backend.open_object(old, 0, old.size)
    assert s3.get_object(Bucket=BUCKET, Key="moving")["Body"].read() == b"2" * 200_000
