"""The home's sweep against a real S3 store: it removes only blobs no row names, keeps
every blob of objects, copies and in-progress uploads, and never trusts a stale view
of the registry to call a blob garbage."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from simsage.config import load_config
from simsage.home import Home
from simsage.s3 import integrity

MIB = 1024 * 1024


def blob_files(home: Path) -> set[str]:
    return {p.name for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp"}


def age_everything(home: Path, seconds: float) -> None:
    past = time.time() - seconds
    for path in (home / "blobs").glob("*/*"):
        os.utime(path, (past, past))


def test_sweep_keeps_every_referenced_blob_and_moves_orphans_aside(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="sweep")
    big = os.urandom(100_000)
    s3.put_object(Bucket="sweep", Key="big", Body=big)
    s3.put_object(Bucket="sweep", Key="small", Body=b"inline")
    s3.copy_object(Bucket="sweep", Key="copy", CopySource={"Bucket": "sweep", "Key": "big"})
    upload = s3.create_multipart_upload(Bucket="sweep", Key="mp")["UploadId"]
    part = os.urandom(5 * MIB)
    etag = s3.upload_part(Bucket="sweep", Key="mp", UploadId=upload, PartNumber=1, Body=part)[
        "ETag"
    ]
    home = Home.open(load_config())
    orphan = home.blobs.writer()
    orphan.write(b"renamed, but its commit never happened")
    orphan_id = orphan.finish()
    kept = blob_files(simsage_local.home) - {orphan_id}
    assert len(kept) == 3  # big, its copy, the part

    age_everything(simsage_local.home, 3600)
    assert home.sweep() == 1
    assert blob_files(simsage_local.home) == kept
    # Never deleted: what no row names may be the only copy of someone's data (an
    # index restored from an older backup); it waits in lost+found, listed.
    (moved,) = (simsage_local.home / "lost+found").iterdir()
    assert (moved / orphan_id).read_bytes() == b"renamed, but its commit never happened"
    listing = (moved / "LISTING.txt").read_text()
    assert "moved here by the daily sweep" in listing and orphan_id in listing

    assert s3.get_object(Bucket="sweep", Key="big")["Body"].read() == big
    assert s3.get_object(Bucket="sweep", Key="copy")["Body"].read() == big
    s3.complete_multipart_upload(
        Bucket="sweep",
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    got = s3.get_object(Bucket="sweep", Key="mp")["Body"].read()
    assert hashlib.md5(got).digest() == hashlib.md5(part).digest()


def test_a_blob_committed_after_the_snapshot_is_still_referenced(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="sweep")
    home = Home.open(load_config())
    assert not integrity.blob_referenced(home.db, "0" * 32)  # takes a snapshot
    s3.put_object(Bucket="sweep", Key="later", Body=os.urandom(100_000))
    (segments,) = home.db.query_one("SELECT segments FROM s3_objects WHERE key = 'later'")
    (blob_id, _) = json.loads(segments)[0]
    assert integrity.blob_referenced(home.db, blob_id)
    age_everything(simsage_local.home, 3600)
    assert home.sweep() == 0
    assert blob_id in blob_files(simsage_local.home)
