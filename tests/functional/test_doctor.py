"""``simsage doctor`` through the CLI: it reports the store's health (pairing, index,
objects' bytes, orphans, leftovers) with exit status 1 while problems remain, and
``--repair`` rebuilds what can be rebuilt and moves aside what it cannot account for,
deleting nothing; afterwards the store works through boto3 again."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

import simsage
from simsage.cli import main

BUCKET = "doctored"
MIB = 1024 * 1024


@contextlib.contextmanager
def simsage_run() -> Iterator:
    """One run of a program that uses simsage (its home is closed at the end)."""
    with simsage.local() as transport:
        try:
            yield boto3.client("s3")
        finally:
            if transport._home is not None:
                transport._home.close()


def doctor(*args: str, code: int | tuple[int, ...]) -> str:
    result = CliRunner().invoke(main, ["doctor", *args])
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.stdout


def blob_of(home: Path, key: str) -> Path:
    conn = sqlite3.connect(home / "state.db")
    try:
        (segments,) = conn.execute(
            "SELECT segments FROM s3_objects WHERE key = ?", (key,)
        ).fetchone()
    finally:
        conn.close()
    blob = json.loads(segments)[0][0]
    return home / "blobs" / blob[:2] / blob


def blob_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp")


def age(paths, seconds: float = 3600) -> None:
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def stored(simsage_home: Path) -> dict[str, bytes]:
    """Inline, single-blob and multipart objects plus an upload in progress."""
    objects = {
        "small.csv": b"x,y\n1,2\n",
        "train.csv": b"label,feature\n" + b"1,0.5\n" * 40_000,
        "model.tar.gz": b"\x1f\x8b\x08\x00" + os.urandom(400_000),
        "multi": os.urandom(5 * MIB) + os.urandom(1000),
    }
    with simsage_run() as s3:
        s3.create_bucket(Bucket=BUCKET)
        for key, body in objects.items():
            if key != "multi":
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="multi")["UploadId"]
        parts = []
        for number, chunk in enumerate(
            (objects["multi"][: 5 * MIB], objects["multi"][5 * MIB :]), 1
        ):
            etag = s3.upload_part(
                Bucket=BUCKET, Key="multi", UploadId=upload, PartNumber=number, Body=chunk
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="multi", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        pending = s3.create_multipart_upload(Bucket=BUCKET, Key="pending")["UploadId"]
        s3.upload_part(
            Bucket=BUCKET, Key="pending", UploadId=pending, PartNumber=1, Body=b"p" * 1000
        )
    return objects


def test_no_store_yet_is_healthy(simsage_home):
    assert "there is no store here yet" in doctor(code=0)
    assert not simsage_home.exists()


def test_a_healthy_store_has_no_problems(simsage_home, stored):
    out = doctor(code=0)
    assert f"the store at {simsage_home}" in out
    assert "SQLite integrity check ok" in out
    assert "4 objects and 1 parts of uploads in progress" in out
    assert "lengths and MD5s checked" in out
    assert "no problems found" in out
    assert "lengths checked (--quick)" in doctor("--quick", code=0)


def test_a_lost_index_is_repaired_and_its_blobs_kept_in_lost_and_found(simsage_home, stored):
    (simsage_home / "state.db").unlink()
    before = {p.name: p.read_bytes() for p in blob_files(simsage_home)}
    out = doctor(code=1)
    assert f"the index {simsage_home / 'state.db'} is missing" in out
    assert "5 blob files the index cannot account for yet" in out
    assert "simsage doctor --repair" in out
    assert blob_files(simsage_home) and not (simsage_home / "state.db").exists()  # untouched

    out = doctor("--repair", code=0)
    assert "moved 5 blob files no row names into" in out
    assert "paired the index and the blob folder as store" in out
    assert "no problems found" in out
    (folder,) = (simsage_home / "lost+found").iterdir()
    moved = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "LISTING.txt"}
    assert moved == before  # every byte kept
    listing = (folder / "LISTING.txt").read_text()
    train = next(name for name, data in before.items() if data == stored["train.csv"])
    model = next(name for name, data in before.items() if data == stored["model.tar.gz"])
    assert f"{train}\t{len(stored['train.csv'])}\t" in listing
    assert "CSV text\tb'label,feature" in listing
    assert f"{model}\t{len(stored['model.tar.gz'])}\t" in listing and "gzip data" in listing

    with simsage_run() as s3:  # a usable (empty) store; the moved bytes can go back
        assert s3.list_buckets()["Buckets"] == []
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(folder / train), BUCKET, "train.csv")
        assert s3.get_object(Bucket=BUCKET, Key="train.csv")["Body"].read() == stored["train.csv"]


def test_a_truncated_index_is_salvaged_and_kept_beside_the_new_one(simsage_home, stored):
    with simsage_run() as s3:  # enough inline rows for the index to span many pages
        for i in range(400):
            s3.put_object(Bucket=BUCKET, Key=f"rows/{i:04d}", Body=os.urandom(2000))
    index = simsage_home / "state.db"
    size = index.stat().st_size
    os.truncate(index, size * 3 // 4)
    damaged_bytes = index.read_bytes()

    out = doctor(code=1)
    assert "is not a readable SQLite database (database disk image is malformed)" in out
    # objects whose inline row was on a lost page stay reported: their bytes are gone
    out = doctor("--repair", code=(0, 1))
    assert "moved the damaged index to state.db.damaged-" in out
    assert "rows may be missing from" in out
    problems = out.split("problems (", 1)[1].splitlines()[1:] if "problems (" in out else []
    reported = [line for line in problems if line.startswith("  - ")]
    assert all("its registry row lost its bytes" in line for line in reported), out
    (aside,) = simsage_home.glob("state.db.damaged-*")
    assert aside.read_bytes() == damaged_bytes  # kept as it was

    with simsage_run() as s3:
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
        ]
        assert 0 < len(keys) < 404  # some rows were on the lost pages
        for key in set(stored) & set(keys):
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == stored[key]
    recovered = {
        p.read_bytes() for p in (simsage_home / "lost+found").glob("*/*") if p.name != "LISTING.txt"
    }
    # every blob object is either indexed again or its bytes are set aside, never lost
    for key in ("train.csv", "model.tar.gz"):
        assert key in keys or stored[key] in recovered
    parts = {stored["multi"][: 5 * MIB], stored["multi"][5 * MIB :]}
    assert "multi" in keys or parts <= recovered


def test_damaged_objects_are_reported_and_left_for_the_user(simsage_home, stored):
    missing = blob_of(simsage_home, "train.csv")
    missing.unlink()
    os.truncate(blob_of(simsage_home, "model.tar.gz"), 100)
    multi = blob_of(simsage_home, "multi")
    with open(multi, "r+b") as handle:  # same length, other bytes: only the MD5 can tell
        handle.seek(1000)
        handle.write(b"\0" * 8)

    out = doctor(code=1)
    assert f"s3://{BUCKET}/train.csv: its blob file {missing.name} is missing" in out
    assert f"s3://{BUCKET}/model.tar.gz: its blob file" in out and "holds 100 bytes" in out
    assert f"s3://{BUCKET}/multi: its bytes hash to" in out
    assert "upload them again, or delete them" in out
    assert "multi" not in doctor("--quick", code=1)  # lengths only: the MD5 damage is unseen

    out = doctor("--repair", code=1)  # nothing to rebuild them from: still reported
    assert f"s3://{BUCKET}/train.csv" in out
    assert not (simsage_home / "lost+found").exists()


def test_orphans_and_dead_writers_leftovers_are_set_aside(simsage_home, stored):
    with simsage_run():
        pass  # the store is open and sound
    blobs = simsage_home / "blobs"
    old = blobs / "ab" / ("ab" + "1" * 30)
    old.parent.mkdir(exist_ok=True)
    old.write_bytes(b"renamed, never committed")
    age([old])
    recent = blobs / "cd" / ("cd" + "2" * 30)
    recent.parent.mkdir(exist_ok=True)
    recent.write_bytes(b"a write that may be about to commit")
    leftover = blobs / "tmp" / f"{os.getpid()}-{'3' * 32}"
    leftover.write_bytes(b"x" * 1000)  # unlocked and old: its writer is gone
    age([leftover])

    out = doctor(code=1)
    assert "1 blob files (24 bytes) that no row names, older than ten minutes" in out
    assert "and 1 younger ones, perhaps writes finishing: left alone" in out
    assert "1 temp files (1000 bytes) left in" in out

    out = doctor("--repair", code=0)
    assert "moved 1 blob files no row names" in out
    assert "removed 1 temp files of writers that are gone" in out
    assert not old.exists() and recent.exists() and not leftover.exists()
    (moved,) = (simsage_home / "lost+found").glob(f"*/{old.name}")
    assert moved.read_bytes() == b"renamed, never committed"


def test_an_index_of_another_store_is_paired_and_the_strays_kept(
    simsage_home, stored, tmp_path, monkeypatch
):
    other = tmp_path / "other-home"
    monkeypatch.setenv("SIMSAGE_HOME", str(other))
    with simsage_run() as s3:
        s3.create_bucket(Bucket="elsewhere")
    monkeypatch.setenv("SIMSAGE_HOME", str(simsage_home))
    shutil.copyfile(other / "state.db", simsage_home / "state.db")

    out = doctor(code=1)
    assert "the index is another store's" in out
    out = doctor("--repair", code=0)
    assert "moved 5 blob files no row names" in out
    assert "(the blob folder was marked as store" in out
    with simsage_run() as s3:
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["elsewhere"]


def test_a_lost_bucket_record_is_rebuilt(simsage_home, stored):
    conn = sqlite3.connect(simsage_home / "state.db")
    with conn:
        conn.execute("DELETE FROM s3_buckets")
    conn.close()
    out = doctor(code=1)
    assert f"bucket '{BUCKET}' has objects or uploads but no bucket record" in out
    out = doctor("--repair", code=0)
    assert f"recreated the record of bucket '{BUCKET}'" in out
    with simsage_run() as s3:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert sorted(keys) == sorted(stored)
