"""A store whose index was lost or damaged while simsage was not running: every call of
every service fails with that service's own server-fault code and a message naming the
folder, what was found and the command to run, instead of showing an empty store (and
sweeping its data away). Once the index is back, the next call works."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

import simsage
from simsage.cli import main

BUCKET = "precious"


@contextlib.contextmanager
def simsage_run() -> Iterator[None]:
    """One run of a program that uses simsage: its home is closed at the end, as when
    the program exits."""
    with simsage.local() as transport:
        try:
            yield
        finally:
            if transport._home is not None:
                transport._home.close()


@pytest.fixture
def stored(simsage_home: Path) -> dict[str, bytes]:
    """A store holding a blob object and an inline one, written by an earlier run."""
    objects = {"model.tar.gz": os.urandom(300_000), "small.txt": b"hello"}
    with simsage_run():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key, body in objects.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return objects


def blob_files(home: Path) -> list[Path]:
    return [p for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp"]


def error_of(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_a_lost_index_fails_every_service_with_its_own_code(simsage_home, stored):
    (simsage_home / "state.db").unlink()
    blobs = blob_files(simsage_home)
    with simsage_run():
        s3 = boto3.client("s3")
        response = error_of(s3.list_buckets)
        assert response["Error"]["Code"] == "InternalError"  # S3's code for a server fault
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert response["ResponseMetadata"]["RetryAttempts"] == 0
        message = response["Error"]["Message"]
        assert f"The store at {simsage_home} cannot be used safely" in message
        assert f"the index {simsage_home / 'state.db'} is missing" in message
        assert "holds 1 blob files" in message
        assert "simsage doctor --repair" in message
        assert "deletes nothing" in message

        assert (
            error_of(lambda: s3.get_object(Bucket=BUCKET, Key="small.txt"))["Error"]["Code"]
            == "InternalError"
        )
        head = error_of(lambda: s3.head_bucket(Bucket=BUCKET))
        assert head["Error"]["Code"] == "500"  # a HEAD answer has no body
        for service, call in (
            ("sagemaker", lambda c: c.list_training_jobs()),
            ("logs", lambda c: c.describe_log_groups()),
            ("sagemaker-runtime", lambda c: c.invoke_endpoint(EndpointName="e", Body=b"1")),
        ):
            response = error_of(lambda call=call, service=service: call(boto3.client(service)))
            assert response["Error"]["Code"] == "InternalFailure", service
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert "cannot be used safely" in response["Error"]["Message"]
    assert blob_files(simsage_home) == blobs  # nothing swept, nothing moved
    assert not (simsage_home / "state.db").exists()  # and no empty index made


@pytest.mark.parametrize("damage", ["emptied", "truncated"])
def test_a_damaged_index_is_a_clear_error(simsage_home, stored, damage):
    index = simsage_home / "state.db"
    if damage == "emptied":
        index.write_bytes(b"")
        found = "is empty (0 bytes)"
    else:
        os.truncate(index, index.stat().st_size // 2)
        found = "is not a readable SQLite database (database disk image is malformed)"
    with simsage_run():
        response = error_of(boto3.client("s3").list_buckets)
    assert response["Error"]["Code"] == "InternalError"
    assert found in response["Error"]["Message"]


def test_the_cli_prints_the_error_on_one_line(simsage_home, stored):
    (simsage_home / "state.db").unlink()
    result = CliRunner().invoke(main, ["s3", "ls", f"s3://{BUCKET}"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "(InternalError)" in lines[0] and "simsage doctor" in lines[0]


def test_the_store_answers_again_once_its_index_is_back(simsage_home, stored, tmp_path):
    shutil.move(simsage_home / "state.db", tmp_path / "state.db")
    with simsage_run():
        s3 = boto3.client("s3")
        assert error_of(s3.list_buckets)["Error"]["Code"] == "InternalError"
        shutil.move(tmp_path / "state.db", simsage_home / "state.db")
        for key, body in stored.items():  # same process, same client: no restart needed
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
