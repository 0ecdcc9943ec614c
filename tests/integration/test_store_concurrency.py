"""Concurrency: processes overwriting the same keys while other processes read them.

Every object is self-describing: it is a run of fixed-size units, each naming the
writer, the version and the object's total length, so any byte range of it can be
regenerated and compared. Readers check every full, ranged and slowly streamed read
against that: never torn, never a mix of two versions, lengths and ETags right.

The last test does the same in one process, for an object with more parts than a
reader opens up front. The workers are this module run as a script (``python test_store_concurrency.py
writer|reader|opener ...``), so they are real, separate processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

import simsage
from simsage.s3 import streams

BUCKET = "shared-bucket"
MIB = 1024 * 1024
PART = 5 * MIB
PROJECT_ROOT = Path(simsage.__file__).resolve().parents[1]
RUN_SECONDS = 5.0

# key -> (smallest, largest) size a writer gives it
KEYS = {
    "inline": (100, 60_000),  # always a row of s3_inline
    "blob": (70_000, 300_000),  # always one blob file
    "shifty/one": (10, 200_000),  # flips between inline and blob
    "multipart": (PART + 1, PART + 50_000),  # two parts: 5 MiB + the rest
}
UNIT_RE = re.compile(rb"\[w(\d{2}) v(\d{7}) n(\d{9}) -----\]\n")
UNIT_SIZE = 32


def unit(writer: int, version: int, total: int) -> bytes:
    data = f"[w{writer:02d} v{version:07d} n{total:09d} -----]\n".encode()
    assert len(data) == UNIT_SIZE
    return data


def payload(writer: int, version: int, total: int) -> bytes:
    return (unit(writer, version, total) * (total // UNIT_SIZE + 1))[:total]


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def identify(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(writer, version, total) from the first whole unit of ``data``, which starts at
    byte ``offset`` of its object; None if ``data`` holds no whole unit."""
    start = -offset % UNIT_SIZE
    match = UNIT_RE.fullmatch(data[start : start + UNIT_SIZE])
    if match is None:
        if len(data) - start < UNIT_SIZE:
            return None
        raise AssertionError(f"garbage at object offset {offset + start}: {data[start:][:40]!r}")
    writer, version, total = (int(g) for g in match.groups())
    return writer, version, total


# -- workers (run in child processes) ----------------------------------------------


def wait_for_go(folder: Path, name: str) -> None:
    (folder / f"ready-{name}").touch()
    deadline = time.monotonic() + 120
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)


def run_writer(writer: int, folder: Path) -> dict:
    s3 = simsage.boto3_session().client("s3")
    rng = random.Random(writer)
    wait_for_go(folder, f"writer-{writer}")
    deadline = time.monotonic() + RUN_SECONDS
    version, writes = 0, 0
    while time.monotonic() < deadline:
        version += 1
        # multipart objects are 5 MiB each: write one now and then
        key = rng.choice(["inline", "blob", "shifty/one"] * 3 + ["multipart"])
        low, high = KEYS[key]
        total = rng.randint(low, high)
        if key == "shifty/one":
            total = rng.choice([rng.randint(10, 60_000), rng.randint(66_000, 200_000)])
        body = payload(writer, version, total)
        if key == "multipart":
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            parts = []
            for number, chunk in enumerate([body[:PART], body[PART:]], start=1):
                etag = s3.upload_part(
                    Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=chunk
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            answer = s3.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
            assert answer["ETag"] == multipart_etag([body[:PART], body[PART:]])
        else:
            answer = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            assert answer["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        writes += 1
    return {"writes": writes}


def check_full(key: str, body: bytes, answer: dict, seen: dict) -> None:
    assert len(body) == answer["ContentLength"], (key, len(body), answer["ContentLength"])
    who = identify(body, 0)
    assert who is not None, (key, len(body))
    writer, version, total = who
    assert total == len(body), f"{key}: {len(body)} bytes, but the object says {total}"
    assert body == payload(writer, version, total), f"{key}: torn object w{writer} v{version}"
    if key == "multipart":
        expected = multipart_etag([body[:PART], body[PART:]])
    else:
        expected = f'"{hashlib.md5(body).hexdigest()}"'
    assert answer["ETag"] == expected, f"{key}: ETag {answer['ETag']} is not the content's"
    seen.setdefault(key, set()).add((writer, version))


def run_reader(reader: int, folder: Path) -> dict:
    from botocore.exceptions import ClientError

    s3 = simsage.boto3_session().client("s3")
    rng = random.Random(1000 + reader)
    wait_for_go(folder, f"reader-{reader}")
    deadline = time.monotonic() + RUN_SECONDS
    existed: set[str] = set()
    seen: dict[str, set] = {}
    counts = {"full": 0, "range": 0, "stream": 0, "missing": 0}
    while time.monotonic() < deadline:
        key = rng.choice(list(KEYS))
        mode = rng.choice(["full", "range", "range", "stream"])
        try:
            if mode == "full":
                answer = s3.get_object(Bucket=BUCKET, Key=key)
                check_full(key, answer["Body"].read(), answer, seen)
            elif mode == "stream":
                # read slowly in small chunks, so overwrites land in the middle of the read
                answer = s3.get_object(Bucket=BUCKET, Key=key)
                chunks = []
                for i, chunk in enumerate(answer["Body"].iter_chunks(16 * 1024)):
                    chunks.append(chunk)
                    if i < 5:
                        time.sleep(0.005)
                check_full(key, b"".join(chunks), answer, seen)
            else:
                low, high = KEYS[key]
                start = rng.randrange(0, high)
                end = start + rng.randint(2 * UNIT_SIZE, 100_000)
                try:
                    answer = s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={start}-{end}")
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "InvalidRange":
                        raise
                    existed.add(key)  # past the end of the current version
                    continue
                body = answer["Body"].read()
                first, last, total = (
                    int(x)
                    for x in re.fullmatch(
                        r"bytes (\d+)-(\d+)/(\d+)", answer["ContentRange"]
                    ).groups()
                )
                assert (first, last) == (start, min(end, total - 1)), answer["ContentRange"]
                assert len(body) == last - first + 1 == answer["ContentLength"]
                who = identify(body, first)
                if who is not None:
                    writer, version, unit_total = who
                    assert unit_total == total, (
                        f"{key}: range of a {unit_total}-byte version, header says {total}"
                    )
                    assert body == payload(writer, version, total)[first : last + 1], (
                        f"{key}: torn range {first}-{last} of w{writer} v{version}"
                    )
                    seen.setdefault(key, set()).add((writer, version))
            existed.add(key)
            counts[mode] += 1
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchKey" and key not in existed:
                counts["missing"] += 1  # not written yet: the only error allowed
                continue
            raise
    return {"counts": counts, "versions": {k: len(v) for k, v in seen.items()}}


def run_opener(opener: int, folder: Path) -> dict:
    s3 = simsage.boto3_session().client("s3")
    wait_for_go(folder, f"opener-{opener}")
    s3.create_bucket(Bucket=BUCKET)  # everyone at once, on a home nobody opened yet
    body = payload(opener, 1, 70_000 if opener % 2 else 1000)
    s3.put_object(Bucket=BUCKET, Key=f"from/{opener}", Body=body)
    assert s3.get_object(Bucket=BUCKET, Key=f"from/{opener}")["Body"].read() == body
    return {"ok": True}


def worker_main(argv: list[str]) -> None:
    role, number, folder = argv[0], int(argv[1]), Path(argv[2])
    roles = {"writer": run_writer, "reader": run_reader, "opener": run_opener}
    try:
        result = {"result": roles[role](number, folder)}
    except BaseException as exc:
        result = {"error": f"{role} {number}: {exc!r}\n{traceback.format_exc()}"}
    print(json.dumps(result), flush=True)


# -- the tests ---------------------------------------------------------------------


def run_workers(home: Path, folder: Path, roles: list[tuple[str, int]]) -> list[dict]:
    env = dict(os.environ, SIMSAGE_HOME=str(home), SIMSAGE_BACKEND="local")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, role, str(number), str(folder)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, number in roles
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("ready-*"))) < len(procs):
            failed = [p for p in procs if p.poll() is not None]
            assert not failed, failed[0].communicate()
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.02)
        (folder / "go").touch()
        results = []
        for (role, number), proc in zip(roles, procs, strict=True):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{role} {number} exited {proc.returncode}:\n{err}"
            answer = json.loads(out.strip().splitlines()[-1])
            assert "error" not in answer, answer["error"]
            results.append(answer["result"])
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_readers_never_see_torn_objects_while_writers_overwrite(simsage_local, tmp_path):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    folder = tmp_path / "sync"
    folder.mkdir()
    roles = [("writer", 1), ("writer", 2), ("reader", 1), ("reader", 2)]
    results = run_workers(simsage_local.home, folder, roles)
    writes = sum(r["writes"] for r in results[:2])
    readers = results[2:]
    reads = sum(sum(r["counts"][m] for m in ("full", "range", "stream")) for r in readers)
    assert writes > 20 and reads > 20, results
    # the readers really did run while the objects kept changing
    versions = {}
    for r in readers:
        for key, n in r["versions"].items():
            versions[key] = versions.get(key, 0) + n
    assert all(versions.get(key, 0) > 1 for key in ("inline", "blob", "shifty/one")), results

    # what is left is consistent, and the store holds no garbage
    for key in KEYS:
        try:
            answer = s3.get_object(Bucket=BUCKET, Key=key)
        except s3.exceptions.NoSuchKey:
            continue
        check_full(key, answer["Body"].read(), answer, {})
    home = simsage_local.home
    assert list((home / "blobs" / "tmp").iterdir()) == []
    blobs = [p for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp"]
    segments = sum(
        len(json.loads(row[0])) for row in registry_rows(home, "SELECT segments FROM s3_objects")
    )
    assert len(blobs) == segments


def registry_rows(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "state.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_many_processes_open_a_fresh_home_at_once(simsage_local, tmp_path):
    home = simsage_local.home
    # This process opens the store only after the workers did (activation only records
    # its S3 endpoint in the home).
    assert not (home / "state.db").exists()
    folder = tmp_path / "sync"
    folder.mkdir()
    run_workers(home, folder, [("opener", n) for n in range(4)])
    s3 = simsage_local.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"from/{n}" for n in range(4)]
    assert registry_rows(home, "PRAGMA integrity_check") == [("ok",)]
    assert registry_rows(home, "PRAGMA journal_mode") == [("wal",)]


def test_overwrite_during_a_boto3_read_of_a_many_part_object(
    simsage_local, monkeypatch: pytest.MonkeyPatch
):
    """Through boto3: a multipart object with more parts than are opened up front."""
    monkeypatch.setattr(streams, "EAGER_OPEN_SEGMENTS", 1)
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="parts")
    upload = s3.create_multipart_upload(Bucket="parts", Key="big")["UploadId"]
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket="parts", Key="big", UploadId=upload, PartNumber=n, Body=chunk
            )["ETag"],
        }
        for n, chunk in enumerate(chunks, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket="parts", Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    body = s3.get_object(Bucket="parts", Key="big")["Body"]
    head = body.read(100)
    s3.put_object(Bucket="parts", Key="big", Body=b"new")  # unlinks the three part blobs
    assert head + body.read() == b"".join(chunks)
    assert s3.get_object(Bucket="parts", Key="big")["Body"].read() == b"new"
    assert list((simsage_local.home / "blobs" / "tmp").iterdir()) == []


if __name__ == "__main__":
    worker_main(sys.argv[1:])
