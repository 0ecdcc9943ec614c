"""S3 bucket versioning through real boto3 clients: Put/GetBucketVersioning, version ids
on writes, reads and deletes by VersionId, delete markers, suspended buckets and their
null versions, ListObjectVersions (paged with botocore's paginator), copies from a
version, multipart uploads into a versioned bucket, and old versions' bytes surviving
the blob sweep and the doctor."""

from __future__ import annotations

import os
import re
import time

import pytest
from botocore.exceptions import ClientError

from simsage import doctor
from simsage.config import load_config
from simsage.home import Home
from simsage.runtime.staging import sync_down
from simsage.s3.backend import S3Backend

BUCKET = "versions"
BIG = 200 * 1024  # stored as a blob file, not inline
MIB = 1024 * 1024


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _enable(s3, bucket: str = BUCKET, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def _error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _get(s3, key: str, **kwargs) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key, **kwargs)["Body"].read()


def _versions(s3, prefix: str = "") -> tuple[list, list]:
    """(key, version id, is latest) of the versions, and of the delete markers, each in
    S3's order (key, then newest first; botocore splits S3's one sequence in two)."""
    out = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
    return tuple(
        [(e["Key"], e["VersionId"], e["IsLatest"]) for e in out.get(kind, [])]
        for kind in ("Versions", "DeleteMarkers")
    )


# -- bucket status ------------------------------------------------------------------------


def test_bucket_versioning_status_is_empty_until_set_then_follows_puts(s3):
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    _enable(s3)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    _enable(s3, status="Suspended")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Suspended"


def test_mfa_delete_is_refused_without_mfa_and_bad_status_is_malformed(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}
        )
    assert _error(excinfo) == ("AccessDenied", 403)
    assert "Mfa Authentication" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "On"})
    assert _error(excinfo) == ("MalformedXML", 400)
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_versioning(Bucket="no-such-bucket-here")
    assert _error(excinfo) == ("NoSuchBucket", 404)


# -- writes and reads -----------------------------------------------------------------


def test_unversioned_bucket_answers_no_version_ids(s3):
    out = s3.put_object(Bucket=BUCKET, Key="k", Body=b"one")
    assert "VersionId" not in out
    assert "VersionId" not in s3.head_object(Bucket=BUCKET, Key="k")
    assert "VersionId" not in s3.delete_object(Bucket=BUCKET, Key="k")
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="k")
    assert _error(excinfo) == ("404", 404)


def test_each_put_makes_a_version_readable_by_its_id(s3):
    _enable(s3)
    ids = []
    for body in (b"first", os.urandom(BIG), b"third"):
        out = s3.put_object(Bucket=BUCKET, Key="doc", Body=body)
        assert re.fullmatch(r"[A-Za-z0-9._-]{32}", out["VersionId"])
        ids.append((out["VersionId"], body))
    assert len({vid for vid, _ in ids}) == 3
    assert _get(s3, "doc") == b"third"
    for vid, body in ids:
        got = s3.get_object(Bucket=BUCKET, Key="doc", VersionId=vid)
        assert got["VersionId"] == vid
        assert got["Body"].read() == body
        assert s3.head_object(Bucket=BUCKET, Key="doc", VersionId=vid)["ContentLength"] == len(body)
    # a plain ListObjects shows the key once, with its latest bytes
    (listed,) = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert (listed["Key"], listed["Size"]) == ("doc", 5)


def test_object_written_before_versioning_is_the_null_version(s3):
    s3.put_object(Bucket=BUCKET, Key="old", Body=b"before")
    _enable(s3)
    assert s3.head_object(Bucket=BUCKET, Key="old")["VersionId"] == "null"
    new = s3.put_object(Bucket=BUCKET, Key="old", Body=b"after")["VersionId"]
    assert _get(s3, "old", VersionId="null") == b"before"
    assert _get(s3, "old") == b"after"
    assert _versions(s3) == ([("old", new, True), ("old", "null", False)], [])


def test_bad_and_unknown_version_ids(s3):
    _enable(s3)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", VersionId="not-a-version")
    assert _error(excinfo) == ("InvalidArgument", 400)
    assert excinfo.value.response["Error"]["ArgumentName"] == "versionId"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", VersionId="A" * 32)
    assert _error(excinfo) == ("NoSuchVersion", 404)
    assert excinfo.value.response["Error"]["VersionId"] == "A" * 32
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", VersionId="null")
    assert _error(excinfo) == ("NoSuchVersion", 404)
    # deleting a version S3 does not hold succeeds, naming it (whatever its form)
    for absent in ("B" * 32, "01KF2YVN948NAZ4JJR4X1AAVRA", "null"):
        out = s3.delete_object(Bucket=BUCKET, Key="k", VersionId=absent)
        assert out["VersionId"] == absent and "DeleteMarker" not in out
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _get(s3, "k") == b"x"


# -- delete markers -------------------------------------------------------------------


def test_delete_inserts_a_marker_that_hides_the_key(s3):
    _enable(s3)
    first = s3.put_object(Bucket=BUCKET, Key="gone", Body=b"keep me")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="stays", Body=b"here")
    out = s3.delete_object(Bucket=BUCKET, Key="gone")
    assert out["DeleteMarker"] is True
    marker = out["VersionId"]
    assert marker != first
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="gone")
    assert _error(excinfo) == ("NoSuchKey", 404)
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == ("true", marker)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="gone", VersionId=marker)
    assert _error(excinfo) == ("MethodNotAllowed", 405)
    assert (
        excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    )
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="gone", VersionId=marker)
    assert _error(excinfo)[1] == 405
    assert _get(s3, "gone", VersionId=first) == b"keep me"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["stays"]
    assert [o["Key"] for o in s3.list_objects(Bucket=BUCKET)["Contents"]] == ["stays"]
    assert _versions(s3, "gone") == ([("gone", first, False)], [("gone", marker, True)])
    # deleting the marker brings the object back
    out = s3.delete_object(Bucket=BUCKET, Key="gone", VersionId=marker)
    assert (out["DeleteMarker"], out["VersionId"]) == (True, marker)
    assert _get(s3, "gone") == b"keep me"
    assert _versions(s3, "gone") == ([("gone", first, True)], [])


def test_deleting_a_version_removes_it_for_good_and_the_previous_becomes_current(s3):
    _enable(s3)
    v1 = s3.put_object(Bucket=BUCKET, Key="k", Body=os.urandom(BIG))["VersionId"]
    body2 = os.urandom(BIG)
    v2 = s3.put_object(Bucket=BUCKET, Key="k", Body=body2)["VersionId"]
    v3 = s3.put_object(Bucket=BUCKET, Key="k", Body=b"small")["VersionId"]
    out = s3.delete_object(Bucket=BUCKET, Key="k", VersionId=v3)
    assert out == {**out, "VersionId": v3} and "DeleteMarker" not in out
    assert _get(s3, "k") == body2
    assert s3.head_object(Bucket=BUCKET, Key="k")["VersionId"] == v2
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=v1)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="k", VersionId=v1)
    assert _error(excinfo) == ("NoSuchVersion", 404)
    assert _versions(s3) == ([("k", v2, True)], [])
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=v2)
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_delete_objects_with_versions_and_markers(s3):
    _enable(s3)
    a1 = s3.put_object(Bucket=BUCKET, Key="a", Body=b"a1")["VersionId"]
    a2 = s3.put_object(Bucket=BUCKET, Key="a", Body=b"a2")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="b", Body=b"b")
    out = s3.delete_objects(
        Bucket=BUCKET,
        Delete={
            "Objects": [
                {"Key": "a", "VersionId": a2},
                {"Key": "b"},
                {"Key": "c", "VersionId": "A" * 32},
            ]
        },
    )
    deleted = {d["Key"]: d for d in out["Deleted"]}
    assert deleted["a"] == {"Key": "a", "VersionId": a2}
    assert deleted["b"]["DeleteMarker"] is True
    marker = deleted["b"]["DeleteMarkerVersionId"]
    assert "VersionId" not in deleted["b"]
    # a version S3 does not hold is deleted as far as S3 is concerned
    assert deleted["c"] == {"Key": "c", "VersionId": "A" * 32}
    assert "Errors" not in out
    assert _get(s3, "a") == b"a1"
    assert s3.head_object(Bucket=BUCKET, Key="a")["VersionId"] == a1
    out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    (entry,) = out["Deleted"]
    assert entry == {
        "Key": "b",
        "VersionId": marker,
        "DeleteMarker": True,
        "DeleteMarkerVersionId": marker,
    }
    assert _get(s3, "b") == b"b"


def test_delete_bucket_with_only_versions_or_markers_is_not_empty(s3):
    _enable(s3)
    vid = s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=BUCKET, Key="k")["VersionId"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=BUCKET)
    assert _error(excinfo) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=vid)
    with pytest.raises(ClientError) as excinfo:  # the marker alone still counts
        s3.delete_bucket(Bucket=BUCKET)
    assert _error(excinfo) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=marker)
    s3.delete_bucket(Bucket=BUCKET)


# -- suspended ------------------------------------------------------------------------


def test_suspended_bucket_writes_and_deletes_the_null_version(s3):
    _enable(s3)
    kept = s3.put_object(Bucket=BUCKET, Key="k", Body=b"versioned")["VersionId"]
    _enable(s3, status="Suspended")
    assert s3.put_object(Bucket=BUCKET, Key="k", Body=b"null one")["VersionId"] == "null"
    assert s3.put_object(Bucket=BUCKET, Key="k", Body=b"null two")["VersionId"] == "null"
    assert _versions(s3) == ([("k", "null", True), ("k", kept, False)], [])
    assert _get(s3, "k") == b"null two"
    out = s3.delete_object(Bucket=BUCKET, Key="k")
    assert (out["DeleteMarker"], out["VersionId"]) == (True, "null")
    # the null object was replaced by the null marker; the versioned one stays
    assert _versions(s3) == ([("k", kept, False)], [("k", "null", True)])
    assert s3.put_object(Bucket=BUCKET, Key="k", Body=b"back")["VersionId"] == "null"
    assert _versions(s3) == ([("k", "null", True), ("k", kept, False)], [])
    assert _get(s3, "k", VersionId=kept) == b"versioned"
    _enable(s3)
    latest = s3.put_object(Bucket=BUCKET, Key="k", Body=b"new")["VersionId"]
    assert [v[1] for v in _versions(s3)[0]] == [latest, "null", kept]


# -- listing --------------------------------------------------------------------------


def test_list_object_versions_pages_with_the_paginator(s3):
    _enable(s3)
    written: dict[str, list[str]] = {}
    for key in ("a", "b/1", "b/2", "c", "é"):
        for n in range(3):
            vid = s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key}{n}".encode())["VersionId"]
            written.setdefault(key, []).insert(0, vid)  # newest first
    markers = {"c": s3.delete_object(Bucket=BUCKET, Key="c")["VersionId"]}
    expected = []
    for key in sorted(written, key=str.encode):
        ids = ([markers[key]] if key in markers else []) + written[key]
        expected += [(key, vid) for vid in ids]

    pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, MaxKeys=4))
    assert len(pages) == 4  # 16 entries, 4 a page
    seen, latest = [], []
    for page in pages:
        entries = [(v, False) for v in page.get("Versions", [])]
        entries += [(m, True) for m in page.get("DeleteMarkers", [])]
        assert len(entries) <= 4
        for entry, is_marker in entries:
            seen.append((entry["Key"], entry["VersionId"]))
            if entry["IsLatest"]:
                latest.append((entry["Key"], entry["VersionId"], is_marker))
            if not is_marker:
                assert entry["Owner"]["ID"] and entry["StorageClass"] == "STANDARD"
                assert entry["ETag"].startswith('"')
                assert entry["Size"] == len(entry["Key"].encode()) + 1
    assert sorted(seen) == sorted(expected)
    order = {item: i for i, item in enumerate(expected)}
    for page in pages:
        for kind in ("Versions", "DeleteMarkers"):
            got = [order[(e["Key"], e["VersionId"])] for e in page.get(kind, [])]
            assert got == sorted(got)
    assert sorted(latest) == sorted(
        [(k, written[k][0], False) for k in written if k not in markers]
        + [("c", markers["c"], True)]
    )
    assert pages[0]["IsTruncated"] and not pages[-1]["IsTruncated"]
    assert (
        pages[0]["NextKeyMarker"] == "b/1" and pages[0]["NextVersionIdMarker"] == written["b/1"][0]
    )


def test_list_object_versions_delimiter_prefix_and_markers(s3):
    _enable(s3)
    for key in ("dir/a", "dir/b", "top", "dir2/x"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"1")
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"2")
    out = s3.list_object_versions(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir/", "dir2/"]
    assert [v["Key"] for v in out["Versions"]] == ["top", "top"]
    assert out["Delimiter"] == "/"
    out = s3.list_object_versions(Bucket=BUCKET, Delimiter="/", MaxKeys=1)
    assert out["IsTruncated"] and out["NextKeyMarker"] == "dir/"
    out = s3.list_object_versions(Bucket=BUCKET, Delimiter="/", KeyMarker="dir/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir2/"]
    out = s3.list_object_versions(Bucket=BUCKET, Prefix="dir/")
    assert [v["Key"] for v in out["Versions"]] == ["dir/a"] * 2 + ["dir/b"] * 2
    assert [v["IsLatest"] for v in out["Versions"]] == [True, False, True, False]
    out = s3.list_object_versions(Bucket=BUCKET, KeyMarker="dir/a")
    assert out["Versions"][0]["Key"] == "dir/b"
    with pytest.raises(ClientError) as excinfo:
        s3.list_object_versions(Bucket=BUCKET, VersionIdMarker="null")
    assert _error(excinfo) == ("InvalidArgument", 400)


def test_list_object_versions_of_an_unversioned_bucket_are_null(s3):
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"22")
    (version,) = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert (version["Key"], version["VersionId"], version["IsLatest"], version["Size"]) == (
        "a",
        "null",
        True,
        2,
    )


def test_list_object_versions_encodes_keys_on_request(s3):
    _enable(s3)
    s3.put_object(Bucket=BUCKET, Key="a b+c", Body=b"1")
    # botocore asks for url encoding itself, and decodes what it asked encoded
    assert s3.list_object_versions(Bucket=BUCKET)["Versions"][0]["Key"] == "a b+c"
    out = s3.list_object_versions(Bucket=BUCKET, EncodingType="url")
    assert out["Versions"][0]["Key"] == "a%20b%2Bc"
    assert out["EncodingType"] == "url"


# -- copies, tags, attributes, multipart ---------------------------------------------


def test_copy_from_a_version(s3):
    _enable(s3)
    old_body = os.urandom(BIG)
    old = s3.put_object(Bucket=BUCKET, Key="src", Body=old_body)["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"newer")
    out = s3.copy_object(
        Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src", "VersionId": old}
    )
    assert out["CopySourceVersionId"] == old
    assert out["VersionId"] != old
    assert _get(s3, "dst") == old_body
    out = s3.copy_object(Bucket=BUCKET, Key="dst2", CopySource=f"{BUCKET}/src?versionId={old}")
    assert _get(s3, "dst2") == old_body
    # restoring an old version by copying it onto its own key
    s3.copy_object(
        Bucket=BUCKET, Key="src", CopySource={"Bucket": BUCKET, "Key": "src", "VersionId": old}
    )
    assert _get(s3, "src") == old_body
    marker = s3.delete_object(Bucket=BUCKET, Key="src")["VersionId"]
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(
            Bucket=BUCKET, Key="x", CopySource={"Bucket": BUCKET, "Key": "src", "VersionId": marker}
        )
    assert _error(excinfo) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="x", CopySource={"Bucket": BUCKET, "Key": "src"})
    assert _error(excinfo) == ("NoSuchKey", 404)


def test_tags_and_attributes_of_a_version(s3):
    _enable(s3)
    old = s3.put_object(Bucket=BUCKET, Key="k", Body=b"old", Tagging="v=old")["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="k", Body=b"newer")["VersionId"]
    got = s3.get_object_tagging(Bucket=BUCKET, Key="k", VersionId=old)
    assert (got["VersionId"], got["TagSet"]) == (old, [{"Key": "v", "Value": "old"}])
    out = s3.put_object_tagging(
        Bucket=BUCKET, Key="k", VersionId=old, Tagging={"TagSet": [{"Key": "t", "Value": "1"}]}
    )
    assert out["VersionId"] == old
    assert s3.get_object_tagging(Bucket=BUCKET, Key="k")["TagSet"] == []
    assert s3.get_object_tagging(Bucket=BUCKET, Key="k", VersionId=old)["TagSet"] == [
        {"Key": "t", "Value": "1"}
    ]
    assert s3.delete_object_tagging(Bucket=BUCKET, Key="k", VersionId=old)["VersionId"] == old
    attrs = s3.get_object_attributes(
        Bucket=BUCKET, Key="k", VersionId=old, ObjectAttributes=["ObjectSize", "ETag"]
    )
    assert (attrs["VersionId"], attrs["ObjectSize"]) == (old, 3)
    assert (
        s3.get_object_attributes(Bucket=BUCKET, Key="k", ObjectAttributes=["ObjectSize"])[
            "VersionId"
        ]
        == new
    )


def test_multipart_upload_into_a_versioned_bucket(s3):
    _enable(s3)
    first = s3.put_object(Bucket=BUCKET, Key="mp", Body=b"before")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    parts = [os.urandom(5 * MIB), b"tail"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in enumerate(parts, start=1)
    ]
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    assert done["VersionId"] not in (first, "null")
    assert _get(s3, "mp") == b"".join(parts)
    assert _get(s3, "mp", VersionId=first) == b"before"
    # a part copied from the old version
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="copy")["UploadId"]
    out = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="copy",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": BUCKET, "Key": "mp", "VersionId": first},
    )
    assert out["CopySourceVersionId"] == first
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="copy",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": out["CopyPartResult"]["ETag"]}]},
    )
    assert _get(s3, "copy") == b"before"


# -- the store ------------------------------------------------------------------------


def _age_blobs(home, seconds: float) -> None:
    past = time.time() - seconds
    for path in (home / "blobs").glob("*/*"):
        os.utime(path, (past, past))


def test_sweep_and_doctor_keep_noncurrent_versions(simsage_local, s3):
    _enable(s3)
    old_body = os.urandom(BIG)
    old = s3.put_object(Bucket=BUCKET, Key="k", Body=old_body)["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="k", Body=os.urandom(BIG))
    hidden_body = os.urandom(BIG)
    hidden = s3.put_object(Bucket=BUCKET, Key="hidden", Body=hidden_body)["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="hidden")
    _age_blobs(simsage_local.home, 3600)
    home = Home.open(load_config())
    assert home.sweep() == 0
    assert _get(s3, "k", VersionId=old) == old_body
    assert _get(s3, "hidden", VersionId=hidden) == hidden_body
    exam = doctor.examine(simsage_local.home)
    assert not exam.orphans and not exam.problems
    # a version deleted for good frees its blob at once
    blobs = {p.name for p in (simsage_local.home / "blobs").glob("*/*") if p.parent.name != "tmp"}
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=old)
    after = {p.name for p in (simsage_local.home / "blobs").glob("*/*") if p.parent.name != "tmp"}
    assert len(blobs - after) == 1 and not after - blobs


def test_a_damaged_old_version_is_reported_by_the_doctor(simsage_local, s3):
    _enable(s3)
    old = s3.put_object(Bucket=BUCKET, Key="k", Body=os.urandom(BIG))["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"current")
    (blob,) = [p for p in (simsage_local.home / "blobs").glob("*/*") if p.parent.name != "tmp"]
    blob.write_bytes(b"truncated")
    exam = doctor.examine(simsage_local.home)
    assert any(f"version {old}" in p.text for p in exam.problems)


def test_job_staging_reads_the_latest_versions(simsage_local, s3, tmp_path):
    _enable(s3)
    s3.put_object(Bucket=BUCKET, Key="data/a.csv", Body=b"old a")
    s3.put_object(Bucket=BUCKET, Key="data/a.csv", Body=os.urandom(BIG))
    latest = s3.get_object(Bucket=BUCKET, Key="data/a.csv")["Body"].read()
    s3.put_object(Bucket=BUCKET, Key="data/gone.csv", Body=b"deleted")
    s3.delete_object(Bucket=BUCKET, Key="data/gone.csv")
    home = Home.open(load_config())
    folder = tmp_path / "staged"
    assert sync_down(S3Backend(home), BUCKET, "data", folder) == 1
    assert [p.name for p in folder.iterdir()] == ["a.csv"]
    assert (folder / "a.csv").read_bytes() == latest
