"""Crash safety: a process killed with SIGKILL in the middle of an upload leaves the old
object (or none), the store opens, checks and lists cleanly in a new process, new
writes work, and the next open of the home (that new process) removes what the dead
writer left in ``blobs/tmp``, without waiting for the daily sweep."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import simsage
from simsage.config import load_config
from simsage.home import Home

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

BUCKET = "crash-bucket"
MIB = 1024 * 1024
PROJECT_ROOT = Path(simsage.__file__).resolve().parents[1]

# A body that streams 1 MiB chunks, then stalls once ``stall_after`` bytes went out:
# the writer is then certainly in the middle of the upload when it is killed.
CHILD_PRELUDE = textwrap.dedent(
    """
    import sys, time
    import simsage

    class SlowBody:
        def __init__(self, total, stall_after, fill):
            self.left, self.sent, self.stall_after, self.fill = total, 0, stall_after, fill

        def read(self, n=-1):
            if self.left <= 0:
                return b""
            if self.sent >= self.stall_after:
                time.sleep(60)
            n = min(self.left, 1 << 20 if n is None or n < 0 else n, 1 << 20)
            self.left -= n
            self.sent += n
            return self.fill * n

    s3 = simsage.boto3_session().client("s3")
    """
)

PUT_CHILD = CHILD_PRELUDE + textwrap.dedent(
    """
    key, total = sys.argv[1], int(sys.argv[2])
    s3.put_object(Bucket="crash-bucket", Key=key, Body=SlowBody(total, 8 << 20, b"N"))
    print("finished", flush=True)
    """
)

MULTIPART_CHILD = CHILD_PRELUDE + textwrap.dedent(
    """
    key = sys.argv[1]
    upload_id = s3.create_multipart_upload(Bucket="crash-bucket", Key=key)["UploadId"]
    s3.upload_part(Bucket="crash-bucket", Key=key, UploadId=upload_id, PartNumber=1,
                   Body=b"1" * (5 << 20))
    print(upload_id, flush=True)
    s3.upload_part(Bucket="crash-bucket", Key=key, UploadId=upload_id, PartNumber=2,
                   Body=SlowBody(64 << 20, 8 << 20, b"2"))
    print("finished", flush=True)
    """
)

LOCK_CHILD = textwrap.dedent(
    """
    import time
    from simsage.config import load_config
    from simsage.home import Home
    import simsage.s3.backend  # registers the S3 tables

    home = Home.open(load_config())
    with home.db.write() as conn:
        conn.execute(
            "INSERT INTO s3_buckets (name, region, owner, created) VALUES (?, ?, ?, ?)",
            ("never-committed", "us-east-1", "123456789012", 0.0),
        )
        print("locked", flush=True)
        time.sleep(60)
    """
)

LIST_CHILD = textwrap.dedent(
    """
    import hashlib, json
    import simsage

    s3 = simsage.boto3_session().client("s3")
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash-bucket"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket="crash-bucket", Key=item["Key"])["Body"].read()
            listed[item["Key"]] = [item["Size"], hashlib.md5(body).hexdigest(), len(body)]
    print(json.dumps(listed))
    """
)


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, SIMSAGE_HOME=str(home), SIMSAGE_BACKEND="local")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def start(code: str, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=child_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def temp_files_of(home: Path, pid: int) -> list[Path]:
    return sorted((home / "blobs" / "tmp").glob(f"{pid}-*"))


def wait_for_temp_file(home: Path, proc: subprocess.Popen, min_size: int) -> Path:
    """Wait until ``proc`` has a temp blob of at least ``min_size`` bytes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in temp_files_of(home, proc.pid):
            try:
                if path.stat().st_size >= min_size:
                    return path
            except FileNotFoundError:
                pass
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the writer ended (rc={proc.returncode}) before it was killed:\n{err}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("the writer never started its temp blob")


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()


def assert_store_is_sound(home: Path, new_process: bool = False) -> dict[str, list] | None:
    """The registry passes SQLite's integrity check and, with ``new_process``, a brand-new
    process lists and reads every object. Returns what that process saw:
    key -> [size, md5, bytes read]."""
    conn = sqlite3.connect(home / "state.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    if not new_process:
        return None
    done = subprocess.run(
        [sys.executable, "-c", LIST_CHILD],
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    for key, (size, _, read) in listed.items():
        assert size == read, f"{key!r}: listed {size} bytes, read {read}"
    return listed


def sweep_now() -> int:
    return Home.open(load_config()).sweep(min_age=0)


def blob_files(home: Path) -> set[str]:
    return {p.name for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp"}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_killed_puts_leave_the_old_object_or_none(simsage_local):
    """Three writers killed at once: over no object, over an inline one, over a blob."""
    home = simsage_local.home
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    old = {"no-old-object": None, "old-inline": os.urandom(1000), "old-blob": os.urandom(300_000)}
    for key, body in old.items():
        if body is not None:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=BUCKET, Key="bystander", Body=b"unrelated")

    writers = {key: start(PUT_CHILD, home, key, str(128 * MIB)) for key in old}
    temps = [wait_for_temp_file(home, writer, 4 * MIB) for writer in writers.values()]
    for writer in writers.values():
        kill(writer)
    assert all(temp.exists() for temp in temps)  # nobody cleaned up after the dead yet

    for key, body in old.items():
        if body is None:
            with pytest.raises(ClientError) as caught:
                s3.get_object(Bucket=BUCKET, Key=key)
            assert caught.value.response["Error"]["Code"] == "NoSuchKey"
        else:
            answer = s3.get_object(Bucket=BUCKET, Key=key)
            assert answer["Body"].read() == body
            assert answer["ETag"] == f'"{md5(body)}"'

    kept = blob_files(home)
    expected = {k: [len(b), md5(b), len(b)] for k, b in old.items() if b is not None}
    expected["bystander"] = [9, md5(b"unrelated"), 9]
    assert assert_store_is_sound(home, new_process=True) == expected
    # that process's open reclaimed the dead writers' temp files (their locks were free)
    assert list((home / "blobs" / "tmp").iterdir()) == []
    assert blob_files(home) == kept

    assert sweep_now() == 0
    assert blob_files(home) == kept  # committed blobs survive the sweep

    for key in old:
        new = os.urandom(200 * 1024)
        s3.put_object(Bucket=BUCKET, Key=key, Body=new)
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == new
    assert_store_is_sound(home)


def test_killed_part_upload_keeps_the_upload_and_its_finished_parts(simsage_local):
    home = simsage_local.home
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    key = "model/weights.bin"

    writer = start(MULTIPART_CHILD, home, key)
    upload_id = writer.stdout.readline().strip()
    assert upload_id, writer.stderr.read()
    temp = wait_for_temp_file(home, writer, 4 * MIB)
    kill(writer)

    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=BUCKET, Key=key)
    assert caught.value.response["Error"]["Code"] == "404"
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload_id)]
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)["Parts"]
    first = b"1" * (5 * MIB)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [
        (1, len(first), f'"{md5(first)}"')
    ]
    assert temp.exists()
    assert assert_store_is_sound(home, new_process=True) == {}
    assert not temp.exists()  # reclaimed by that process's open

    assert sweep_now() == 0  # part 1 is referenced
    assert len(blob_files(home)) == 1

    # the upload goes on from another process (this one)
    last = b"2" * 1000
    etag2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=2, Body=last)[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": parts[0]["ETag"]},
                {"PartNumber": 2, "ETag": etag2},
            ]
        },
    )
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == first + last
    assert_store_is_sound(home)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_killed_part_upload_then_abort_leaves_no_blob(simsage_local):
    home = simsage_local.home
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    writer = start(MULTIPART_CHILD, home, "k")
    upload_id = writer.stdout.readline().strip()
    assert upload_id, writer.stderr.read()
    wait_for_temp_file(home, writer, 4 * MIB)
    kill(writer)

    s3.abort_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload_id)
    sweep_now()
    assert blob_files(home) == set()
    assert list((home / "blobs" / "tmp").iterdir()) == []
    assert_store_is_sound(home)


def test_killed_inside_a_write_transaction_commits_nothing(simsage_local):
    home = simsage_local.home
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    holder = start(LOCK_CHILD, home)
    line = holder.stdout.readline().strip()
    assert line == "locked", holder.stderr.read()
    kill(holder)

    started = time.monotonic()
    s3.put_object(Bucket=BUCKET, Key="after", Body=b"x")  # the lock died with its holder
    assert time.monotonic() - started < 10
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == [BUCKET]
    assert_store_is_sound(home)
