"""Random sequences of versioned S3 calls through a real boto3 client, against a plain
model of S3 versioning (per key, a newest-first list of versions and delete markers):
no divergence in reads by version, ListObjectVersions (paged), ListObjectsV2 or delete
answers, and the store keeps exactly the bytes its version rows name (no leaked blob or
inline row, no lost one).

Each state-machine run gets its own SIMSAGE_HOME, removed when the run ends.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

import simsage
from simsage.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Config
from simsage.store.identity import INDEX_NAME

BUCKET = "versioned-model"
keys = st.sampled_from(["a", "a/b", "b", "é", "中"])
sizes = st.sampled_from([0, 10, 70 * 1024])  # inline, inline, a blob file

_sessions: list[boto3.Session] = []


def _session() -> boto3.Session:
    if not _sessions:
        _sessions.append(boto3.Session(region_name=DEFAULT_REGION))
    return _sessions[0]


@dataclass
class Version:
    version_id: str  # "null" for the null version
    data: bytes | None  # None: a delete marker


class VersioningModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="simsage-versioning-"))
        config = Config(
            backend="local", home=self.home, region=DEFAULT_REGION, account_id=DEFAULT_ACCOUNT_ID
        )
        with simsage.local(config) as transport:
            self.s3 = _session().client("s3")
        self.transport = transport
        self.status: str | None = None
        self.versions: dict[str, list[Version]] = {}  # newest first
        self.counter = 0

    def teardown(self) -> None:
        try:
            if self.transport._home is not None:
                self.transport.home.close()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    @initialize()
    def bucket(self) -> None:
        self.s3.create_bucket(Bucket=BUCKET)

    def _drop_null(self, key: str) -> None:
        self.versions[key] = [v for v in self.versions.get(key, []) if v.version_id != "null"]

    @rule(status=st.sampled_from(["Enabled", "Suspended"]))
    def set_status(self, status: str) -> None:
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": status})
        self.status = status

    @rule(key=keys, size=sizes)
    def put(self, key: str, size: int) -> None:
        self.counter += 1
        data = random.Random(self.counter).randbytes(size)
        out = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        if self.status is None:
            assert "VersionId" not in out
            self.versions[key] = [Version("null", data)]
            return
        if self.status == "Suspended":
            assert out["VersionId"] == "null"
            self._drop_null(key)
        else:
            assert out["VersionId"] != "null"
        self.versions.setdefault(key, []).insert(0, Version(out["VersionId"], data))

    @rule(key=keys)
    def delete(self, key: str) -> None:
        out = self.s3.delete_object(Bucket=BUCKET, Key=key)
        if self.status is None:
            assert "DeleteMarker" not in out and "VersionId" not in out
            self.versions.pop(key, None)
            return
        assert out["DeleteMarker"] is True
        if self.status == "Suspended":
            assert out["VersionId"] == "null"
            self._drop_null(key)
        self.versions.setdefault(key, []).insert(0, Version(out["VersionId"], None))

    @rule(data=st.data())
    def delete_version(self, data) -> None:
        known = [(k, v) for k, vs in self.versions.items() for v in vs]
        if not known:
            return
        key, version = data.draw(st.sampled_from(known))
        out = self.s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version.version_id)
        assert out["VersionId"] == version.version_id
        assert out.get("DeleteMarker", False) == (version.data is None)
        self.versions[key].remove(version)

    @rule(data=st.data())
    def get_version(self, data) -> None:
        known = [(k, v) for k, vs in self.versions.items() for v in vs]
        if not known:
            return
        key, version = data.draw(st.sampled_from(known))
        try:
            got = self.s3.get_object(Bucket=BUCKET, Key=key, VersionId=version.version_id)
        except ClientError as exc:
            assert version.data is None
            assert exc.response["Error"]["Code"] == "MethodNotAllowed"
            return
        assert got["Body"].read() == version.data
        assert got["VersionId"] == version.version_id

    @invariant()
    def latest_reads_and_listings_agree(self) -> None:
        current = {
            k: vs[0].data for k, vs in self.versions.items() if vs and vs[0].data is not None
        }
        listed = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        assert [o["Key"] for o in listed] == sorted(current, key=str.encode)
        for key in self.versions:
            try:
                body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            except ClientError as exc:
                assert key not in current
                assert exc.response["Error"]["Code"] == "NoSuchKey"
            else:
                assert body == current[key]
        expected = [
            (k, v.version_id, i == 0, v.data is None)
            for k in sorted(self.versions, key=str.encode)
            for i, v in enumerate(self.versions[k])
        ]
        versions, markers = [], []
        for page in self.s3.get_paginator("list_object_versions").paginate(
            Bucket=BUCKET, MaxKeys=2
        ):
            versions += [
                (v["Key"], v["VersionId"], v["IsLatest"]) for v in page.get("Versions", [])
            ]
            markers += [
                (m["Key"], m["VersionId"], m["IsLatest"]) for m in page.get("DeleteMarkers", [])
            ]
        assert versions == [e[:3] for e in expected if not e[3]]
        assert markers == [e[:3] for e in expected if e[3]]

    @invariant()
    def store_keeps_exactly_what_rows_name(self) -> None:
        conn = sqlite3.connect(self.home / INDEX_NAME)
        try:
            referenced: set[str] = set()
            inline: set[int] = set()
            for table in ("s3_objects", "s3_versions"):
                for segments, inline_id in conn.execute(f"SELECT segments, inline_id FROM {table}"):
                    referenced.update(blob for blob, _ in json.loads(segments))
                    if inline_id is not None:
                        inline.add(inline_id)
            stored_inline = {row[0] for row in conn.execute("SELECT id FROM s3_inline")}
        finally:
            conn.close()
        blobs = self.home / "blobs"
        on_disk = {p.name for p in blobs.glob("*/*") if p.parent.name != "tmp"}
        assert on_disk == referenced
        assert stored_inline == inline


def test_versioning_matches_a_model(simsage_home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMSAGE_CHECK_OUTPUT", "1")  # answers checked against AWS's shapes
    run_state_machine_as_test(
        VersioningModel,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
