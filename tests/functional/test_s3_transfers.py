"""boto3's high-level S3 layer against simsage: the transfer manager (upload_file,
download_file, upload_fileobj, download_fileobj, managed copy) above its multipart
threshold, and the resource API (Bucket, Object, collections, batch delete).
``download_file`` of a simsage client copies in the kernel (simsage.transport.transfers)
and must keep what boto3's own download does: progress, the ETag guard, no file left
behind on failure, and every other kind of target."""

from __future__ import annotations

import hashlib
import io
import os

import boto3
import boto3.s3.transfer
import botocore.loaders
import botocore.session
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from s3transfer.exceptions import S3DownloadFailedError
from s3transfer.manager import TransferManager

from simsage.transport.transfers import LocalTransferManager

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()

BUCKET = "transfers"
MIB = 1024 * 1024
CHUNK = 5 * MIB
# Multipart above 8 MiB in 5 MiB parts: a 20 MiB file goes up in 4 parts, and
# downloads come back in concurrent ranged GETs.
CONFIG = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=CHUNK, max_concurrency=4)
SIZE = 20 * MIB + 12345


def _session() -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name="us-east-1")


@pytest.fixture
def session(simsage_local) -> boto3.Session:
    session = _session()
    session.client("s3").create_bucket(Bucket=BUCKET)
    return session


@pytest.fixture
def s3(session):
    return session.client("s3")


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def big_file(tmp_path, data):
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path


def _multipart_etag(data: bytes, chunk: int) -> str:
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


# -- the transfer manager ------------------------------------------------------------------


def test_upload_file_and_download_file_above_the_threshold(s3, big_file, data, tmp_path):
    s3.upload_file(str(big_file), BUCKET, "big/file.bin", Config=CONFIG)
    head = s3.head_object(Bucket=BUCKET, Key="big/file.bin")
    assert head["ContentLength"] == SIZE
    # It went up in parts: the ETag is the multipart one, computed here independently.
    assert head["ETag"] == _multipart_etag(data, CHUNK)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    target = tmp_path / "downloaded.bin"
    s3.download_file(BUCKET, "big/file.bin", str(target), Config=CONFIG)
    assert target.stat().st_size == SIZE
    assert target.read_bytes() == data


def test_upload_fileobj_and_download_fileobj(s3, data):
    s3.upload_fileobj(io.BytesIO(data), BUCKET, "stream.bin", Config=CONFIG)
    out = io.BytesIO()
    s3.download_fileobj(BUCKET, "stream.bin", out, Config=CONFIG)
    assert out.getvalue() == data


def test_small_upload_file_is_a_single_put(s3, tmp_path):
    path = tmp_path / "small.txt"
    path.write_bytes(b"small file")
    s3.upload_file(
        str(path),
        BUCKET,
        "small.txt",
        ExtraArgs={"ContentType": "text/plain", "Metadata": {"A": "1"}},
    )
    head = s3.head_object(Bucket=BUCKET, Key="small.txt")
    assert head["ETag"] == f'"{hashlib.md5(b"small file").hexdigest()}"'
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"a": "1"}
    target = tmp_path / "back.txt"
    s3.download_file(BUCKET, "small.txt", str(target))
    assert target.read_bytes() == b"small file"


def test_multipart_upload_file_keeps_extra_args(s3, big_file):
    s3.upload_file(
        str(big_file),
        BUCKET,
        "with-args.bin",
        Config=CONFIG,
        ExtraArgs={"ContentType": "application/x-parquet", "Metadata": {"Source": "test"}},
    )
    head = s3.head_object(Bucket=BUCKET, Key="with-args.bin")
    assert head["ContentType"] == "application/x-parquet"
    assert head["Metadata"] == {"source": "test"}


def test_download_of_a_missing_key(s3, tmp_path):
    target = tmp_path / "never.bin"
    with pytest.raises(ClientError) as excinfo:
        s3.download_file(BUCKET, "missing.bin", str(target))
    # The transfer manager starts with a HEAD, so the error is the bare 404.
    assert excinfo.value.response["Error"]["Code"] == "404"
    assert not target.exists()


def test_upload_to_a_missing_bucket(s3, big_file):
    with pytest.raises(Exception) as excinfo:  # boto3 wraps it in S3UploadFailedError
        s3.upload_file(str(big_file), "no-such-bucket", "k", Config=CONFIG)
    assert "NoSuchBucket" in str(excinfo.value)


def test_managed_copy_in_parts(s3, data):
    s3.upload_fileobj(io.BytesIO(data), BUCKET, "source.bin", Config=CONFIG)
    s3.copy({"Bucket": BUCKET, "Key": "source.bin"}, BUCKET, "copy/dest.bin", Config=CONFIG)
    head = s3.head_object(Bucket=BUCKET, Key="copy/dest.bin")
    assert head["ContentLength"] == SIZE
    assert head["ETag"] == _multipart_etag(data, CHUNK)  # copied part by part
    out = io.BytesIO()
    s3.download_fileobj(BUCKET, "copy/dest.bin", out, Config=CONFIG)
    assert out.getvalue() == data


# -- the resource API ------------------------------------------------------------------------


def test_resource_object_put_get_load(session):
    s3r = session.resource("s3")
    obj = s3r.Object(BUCKET, "res/obj.json")
    body = b'{"a": 1}'
    put = obj.put(Body=body, ContentType="application/json", Metadata={"Kind": "doc"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert obj.get()["Body"].read() == body
    fresh = s3r.Object(BUCKET, "res/obj.json")
    fresh.load()
    assert fresh.content_length == 8
    assert fresh.content_type == "application/json"
    assert fresh.metadata == {"kind": "doc"}
    assert fresh.e_tag == put["ETag"]
    missing = s3r.Object(BUCKET, "res/missing")
    with pytest.raises(ClientError) as excinfo:
        missing.load()
    assert excinfo.value.response["Error"]["Code"] == "404"


def test_resource_bucket_create_and_list(session):
    s3r = session.resource("s3")
    bucket = s3r.create_bucket(Bucket="resource-made")
    assert bucket.name == "resource-made"
    assert "resource-made" in [b.name for b in s3r.buckets.all()]
    bucket.put_object(Key="a", Body=b"1")
    bucket.Object("b").upload_fileobj(io.BytesIO(b"22"))
    assert [(o.key, o.size) for o in bucket.objects.all()] == [("a", 1), ("b", 2)]


def test_resource_objects_all_delete(session):
    s3r = session.resource("s3")
    bucket = s3r.Bucket(BUCKET)
    client = session.client("s3")
    # More than one DeleteObjects batch (1000 keys each).
    for i in range(1001):
        client.put_object(Bucket=BUCKET, Key=f"k/{i:04d}")
    client.put_object(Bucket=BUCKET, Key="keep/me")
    responses = bucket.objects.filter(Prefix="k/").delete()
    assert sum(len(r["Deleted"]) for r in responses) == 1001
    assert [o.key for o in bucket.objects.all()] == ["keep/me"]
    bucket.objects.all().delete()
    assert list(bucket.objects.all()) == []
    bucket.delete()
    assert BUCKET not in [b.name for b in s3r.buckets.all()]


def test_resource_upload_and_download_file(session, big_file, data, tmp_path):
    obj = session.resource("s3").Object(BUCKET, "res/big.bin")
    obj.upload_file(str(big_file), Config=CONFIG)
    target = tmp_path / "res.bin"
    obj.download_file(str(target), Config=CONFIG)
    assert target.read_bytes() == data


def test_transfers_stay_on_simsage_when_boto3_would_pick_its_crt_client(simsage_local, tmp_path):
    """With awscrt installed, boto3 uses its CRT transfer manager (HTTP past botocore)
    on optimized EC2 instances or when asked to; simsage clients keep the classic one."""
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="crt-bucket")
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(9 * 1024 * 1024))
    config = TransferConfig(preferred_transfer_client="crt")
    s3.upload_file(str(source), "crt-bucket", "payload.bin", Config=config)
    target = tmp_path / "back.bin"
    s3.download_file("crt-bucket", "payload.bin", str(target), Config=config)
    assert target.read_bytes() == source.read_bytes()


# -- download_file of a simsage client: copied in the kernel ------------------------------


@pytest.fixture
def downloads(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def leftovers(folder) -> list[str]:
    """What is in ``folder`` (a download writes ``<target>.<random>`` first)."""
    return sorted(p.name for p in folder.iterdir())


def test_uploads_report_progress_as_boto3_does_on_aws(s3, big_file, data):
    """upload_file/upload_fileobj count what is read from their bodies once botocore
    says the body is being sent; in-process simsage says so too (tqdm bars move)."""
    for config in (CONFIG, TransferConfig(multipart_threshold=64 * MIB)):
        seen: list[int] = []
        s3.upload_file(str(big_file), BUCKET, "up.bin", Config=config, Callback=seen.append)
        assert sum(seen) == SIZE and all(n > 0 for n in seen)
    seen = []
    s3.upload_fileobj(io.BytesIO(data), BUCKET, "up2.bin", Config=CONFIG, Callback=seen.append)
    assert sum(seen) == SIZE
    body = s3.get_object(Bucket=BUCKET, Key="up2.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()


def test_download_file_reports_progress_and_leaves_only_the_file(s3, big_file, data, downloads):
    s3.upload_file(str(big_file), BUCKET, "big.bin", Config=CONFIG)
    seen: list[int] = []
    target = downloads / "down.bin"
    s3.download_file(BUCKET, "big.bin", str(target), Config=CONFIG, Callback=seen.append)
    assert target.read_bytes() == data
    assert sum(seen) == SIZE and all(n > 0 for n in seen)
    assert leftovers(downloads) == ["down.bin"]
    # The resource API and S3Transfer go the same way.
    s3transfer = boto3.s3.transfer.S3Transfer(s3)
    s3transfer.download_file(BUCKET, "big.bin", str(downloads / "again.bin"))
    assert (downloads / "again.bin").read_bytes() == data


def test_download_file_of_an_object_overwritten_after_the_head_fails_cleanly(
    session, s3, big_file, downloads
):
    """As s3transfer's ranged GETs do, the GET carries the HEAD's ETag: an overwrite in
    between fails the download instead of mixing versions, and no file is left."""
    s3.upload_file(str(big_file), BUCKET, "moving.bin", Config=CONFIG)
    other = session.client("s3")

    def overwrite(**_):
        other.put_object(Bucket=BUCKET, Key="moving.bin", Body=b"new version")

    s3.meta.events.register("before-parameter-build.s3.GetObject", overwrite)
    with pytest.raises(S3DownloadFailedError, match="did not match expected ETag"):
        s3.download_file(BUCKET, "moving.bin", str(downloads / "down.bin"), Config=CONFIG)
    assert leftovers(downloads) == []


def test_a_download_that_fails_midway_leaves_no_file(s3, big_file, downloads):
    s3.upload_file(str(big_file), BUCKET, "big.bin", Config=CONFIG)

    def fail(_count):
        raise RuntimeError("the caller's callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        s3.download_file(BUCKET, "big.bin", str(downloads / "down.bin"), Callback=fail)
    assert leftovers(downloads) == []


def test_downloads_s3transfer_writes_in_place_or_paces_still_work(s3, big_file, data, downloads):
    s3.upload_file(str(big_file), BUCKET, "big.bin", Config=CONFIG)
    s3.download_file(BUCKET, "big.bin", os.devnull)  # a device: written in place
    paced = TransferConfig(max_bandwidth=10**10, multipart_chunksize=CHUNK)
    s3.download_file(BUCKET, "big.bin", str(downloads / "paced.bin"), Config=paced)
    assert (downloads / "paced.bin").read_bytes() == data


def test_only_simsage_clients_get_the_local_transfer_manager(simsage_home):
    """A plain boto3 client (what talks to AWS) keeps boto3's own manager."""
    import simsage

    local = simsage.boto3_session().client("s3")
    plain = _session().client(
        "s3", aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    create = boto3.s3.transfer.create_transfer_manager
    with create(plain, TransferConfig()) as manager:
        assert type(manager) is TransferManager
    with create(local, TransferConfig()) as manager:
        assert isinstance(manager, LocalTransferManager)
