"""The S3 version store below the service: version id rules, the headers S3 sends with
the errors of delete markers, and stores made before versioning (their objects become
null versions)."""

from __future__ import annotations

import re

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.ids import IdSource
from simsage.s3 import errors
from simsage.s3.backend import S3Backend
from simsage.s3.versioning import new_version_id, stored_version
from simsage.s3.versioning_list import list_versions


@pytest.fixture
def backend(simsage_home):
    home = Home.open(load_config())
    s3 = S3Backend(home)
    s3.create_bucket("vers", "us-east-1", "123456789012")
    yield s3
    home.close()


def test_version_ids_are_32_url_safe_characters_and_distinct():
    source = IdSource()
    ids = {new_version_id(source) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{32}", vid) for vid in ids)
    assert all(stored_version(vid) == vid for vid in ids)


@pytest.mark.parametrize("bad", ["", "x", "a" * 31, "a" * 33, "a/" * 16, "ü" * 32])
def test_malformed_version_ids_are_invalid_arguments(bad):
    with pytest.raises(errors.InvalidArgument) as excinfo:
        stored_version(bad)
    assert excinfo.value.error_fields == {"ArgumentName": "versionId", "ArgumentValue": bad}
    assert stored_version("null") is None
    assert stored_version(None) is None


def test_a_key_hidden_by_a_marker_says_so_in_its_error_headers(backend):
    backend.set_versioning("vers", "Enabled")
    backend.put_object("vers", "k", b"data", {})
    (done,) = backend.delete_versions("vers", [("k", None)])
    assert done.marker and done.version_id
    with pytest.raises(errors.NoSuchKey) as excinfo:
        backend.get_object("vers", "k")
    assert excinfo.value.headers == {
        "x-amz-delete-marker": "true",
        "x-amz-version-id": done.version_id,
    }
    with pytest.raises(errors.MethodNotAllowed) as excinfo:
        backend.get_object("vers", "k", version=done.version_id)
    headers = excinfo.value.headers
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == done.version_id
    assert headers["last-modified"].endswith(" GMT")
    assert excinfo.value.status == 405
    # a key that never existed has no such headers
    with pytest.raises(errors.NoSuchKey) as excinfo:
        backend.get_object("vers", "never")
    assert excinfo.value.headers == {}


def test_objects_of_a_store_made_before_versioning_are_null_versions(simsage_home, backend):
    backend.put_object("vers", "old", b"from an older simsage", {})
    conn = backend.db.connection()
    # (s3_versions, a table of its own, is made on open like any new table)
    conn.execute("ALTER TABLE s3_objects DROP COLUMN version_id")
    conn.execute("ALTER TABLE s3_objects DROP COLUMN seq")
    conn.commit()
    backend.db.close()
    home = Home.open(load_config())
    try:
        s3 = S3Backend(home)
        obj = s3.get_object("vers", "old")
        assert (obj.version_id, obj.version_member) == (None, {})
        s3.set_versioning("vers", "Enabled")
        new = s3.put_object("vers", "old", b"new", {})
        assert new.version_id is not None
        assert s3.get_object("vers", "old", version="null").inline == b"from an older simsage"
    finally:
        home.close()


def test_versions_and_markers_persist_across_a_reopen(simsage_home, backend):
    backend.set_versioning("vers", "Enabled")
    old = backend.put_object("vers", "k", b"x" * 70_000, {})
    backend.put_object("vers", "k", b"new", {})
    (marker,) = backend.delete_versions("vers", [("k", None)])
    before = list_versions(backend.db, "vers").versions
    backend.db.close()
    home = Home.open(load_config())
    try:
        s3 = S3Backend(home)
        after = list_versions(s3.db, "vers").versions
        assert after == before
        assert [(v.version_id, v.marker, v.latest) for v in after][0] == (
            marker.version_id,
            True,
            True,
        )
        _, _, stream = s3.read_object("vers", "k", version=old.version_id)
        with stream:
            assert stream.read() == b"x" * 70_000
    finally:
        home.close()
