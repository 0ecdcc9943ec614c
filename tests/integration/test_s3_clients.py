"""Real S3 clients against simsage's S3 endpoint, as a notebook uses them.

With simsage active, clients that do not go through boto3 in this process reach simsage over
HTTP through the standard ``AWS_ENDPOINT_URL_S3`` setting (and simsage's local keys in
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``): pandas ``s3://`` (through s3fs, and through
pyarrow's own S3 filesystem for parquet), s3fs, pyarrow, the AWS CLI in a subprocess and
DuckDB's httpfs. Data written by the in-process boto3 client is read by the HTTP clients and
the other way round: one store, two transports.

Each client is an optional package of the ``test`` extra; a test whose client is missing is
skipped with the reason. What each client needs, found here:

- s3fs (aiobotocore) and the AWS CLI v1 (botocore) read ``AWS_ENDPOINT_URL_S3`` themselves.
  s3fs caches its filesystems per process (fsspec's instance cache), so a filesystem made
  before the endpoint changed keeps the old one: the fixture clears that cache.
- pyarrow honours ``AWS_ENDPOINT_URL_S3`` in ``FileSystem.from_uri`` (which pandas'
  ``read_parquet``/``to_parquet`` and ``pyarrow.parquet`` use for ``s3://`` paths), but not in
  the ``S3FileSystem()`` constructor (apache/arrow#49643): there ``endpoint_override``.
- DuckDB reads no endpoint variable: it needs an S3 secret naming the endpoint
  (``ENDPOINT '127.0.0.1:PORT'``, ``URL_STYLE 'path'``, ``USE_SSL false``). Its httpfs
  extension is loaded from the ``duckdb-extension-httpfs`` wheel's file, never downloaded.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.resources
import io
import json
import os
import random
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

MiB = 1024 * 1024
BUCKET = "clients-data"


@dataclass
class Endpoint:
    """simsage active, its S3 endpoint reachable: what a test gets."""

    url: str
    s3: object  # the in-process boto3 client (answered by simsage without HTTP)
    region: str

    @property
    def hostport(self) -> str:
        return urlsplit(self.url).netloc


def _clear_s3fs_cache() -> None:
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def endpoint(simsage_local, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Endpoint]:
    # No AWS config or credentials file of the machine's user takes part.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    server = None
    url = os.environ.get("AWS_ENDPOINT_URL_S3")
    if not url:
        # Until activation starts the endpoint itself: one in a thread of this process.
        from simsage.transport.s3_endpoint import S3Endpoint

        server = S3Endpoint(simsage_local.config)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = server.url
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.setenv("AWS_REGION", simsage_local.config.region)
        monkeypatch.setenv("AWS_DEFAULT_REGION", simsage_local.config.region)
    _clear_s3fs_cache()
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    try:
        yield Endpoint(url=url, s3=s3, region=simsage_local.config.region)
    finally:
        _clear_s3fs_cache()
        if server is not None:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 MiB of random bytes: more than the CLI's 8 MiB multipart threshold (3 parts)."""
    path = tmp_path_factory.mktemp("clients-data") / "big.bin"
    path.write_bytes(random.Random(16).randbytes(20 * MiB))
    return path


def _body(ep: Endpoint, key: str) -> bytes:
    return ep.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


# --- pandas ---------------------------------------------------------------------------------


def test_pandas_csv_both_ways(endpoint: Endpoint) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("s3fs", reason="pandas reads s3:// through s3fs")
    endpoint.s3.put_object(Bucket=BUCKET, Key="in/d.csv", Body=b"x,y\n1,a\n2,b\n")

    df = pd.read_csv(f"s3://{BUCKET}/in/d.csv")
    assert df.to_dict("list") == {"x": [1, 2], "y": ["a", "b"]}

    df.assign(z=df.x * 10).to_csv(f"s3://{BUCKET}/out/d.csv", index=False)
    assert _body(endpoint, "out/d.csv") == b"x,y,z\n1,a,10\n2,b,20\n"

    # S3's NoSuchKey / NoSuchBucket over HTTP are the file errors pandas users expect.
    with pytest.raises(FileNotFoundError):
        pd.read_csv(f"s3://{BUCKET}/in/missing.csv")
    with pytest.raises(FileNotFoundError):
        pd.read_csv("s3://no-such-bucket-here/d.csv")


def test_pandas_parquet_both_ways(endpoint: Endpoint) -> None:
    pd = pytest.importorskip("pandas")
    pq = pytest.importorskip("pyarrow.parquet")
    df = pd.DataFrame({"id": range(1000), "score": [i / 7 for i in range(1000)]})

    df.to_parquet(f"s3://{BUCKET}/out/scores.parquet")
    stored = pq.read_table(io.BytesIO(_body(endpoint, "out/scores.parquet"))).to_pandas()
    pd.testing.assert_frame_equal(stored, df)

    buf = io.BytesIO()
    df.head(10).to_parquet(buf)
    endpoint.s3.put_object(Bucket=BUCKET, Key="in/head.parquet", Body=buf.getvalue())
    pd.testing.assert_frame_equal(pd.read_parquet(f"s3://{BUCKET}/in/head.parquet"), df.head(10))


# --- s3fs -----------------------------------------------------------------------------------


def test_s3fs_ls_glob_info_open(endpoint: Endpoint) -> None:
    s3fs = pytest.importorskip("s3fs")
    for key, body in {
        "logs/a.csv": b"1\n",
        "logs/b.csv": b"22\n",
        "logs/deep/c.txt": b"333\n",
        "top.txt": b"0123456789",
    }.items():
        endpoint.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    fs = s3fs.S3FileSystem()

    assert sorted(fs.ls(BUCKET)) == [f"{BUCKET}/logs", f"{BUCKET}/top.txt"]
    listed = {e["name"]: e for e in fs.ls(f"{BUCKET}/logs", detail=True)}
    assert listed[f"{BUCKET}/logs/deep"]["type"] == "directory"
    assert listed[f"{BUCKET}/logs/b.csv"]["size"] == 3
    assert fs.glob(f"{BUCKET}/logs/*.csv") == [f"{BUCKET}/logs/a.csv", f"{BUCKET}/logs/b.csv"]
    assert fs.find(f"{BUCKET}/logs") == [
        f"{BUCKET}/logs/a.csv",
        f"{BUCKET}/logs/b.csv",
        f"{BUCKET}/logs/deep/c.txt",
    ]

    info = fs.info(f"{BUCKET}/top.txt")
    head = endpoint.s3.head_object(Bucket=BUCKET, Key="top.txt")
    assert (info["type"], info["size"], info["ETag"]) == ("file", 10, head["ETag"])
    assert fs.isdir(f"{BUCKET}/logs/deep") and not fs.exists(f"{BUCKET}/nothing-here")

    with fs.open(f"{BUCKET}/top.txt", "rb") as f:
        f.seek(3)
        assert f.read(4) == b"3456"
    assert fs.cat_file(f"{BUCKET}/top.txt", start=8) == b"89"


def test_s3fs_multipart_write(endpoint: Endpoint) -> None:
    s3fs = pytest.importorskip("s3fs")
    data = random.Random(5).randbytes(12 * MiB + 12345)  # 5 MiB blocks: 3 parts
    fs = s3fs.S3FileSystem(default_block_size=5 * MiB)

    with fs.open(f"{BUCKET}/multi/blob.bin", "wb") as f:
        for start in range(0, len(data), 1 * MiB):
            f.write(data[start : start + 1 * MiB])

    head = endpoint.s3.head_object(Bucket=BUCKET, Key="multi/blob.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    assert _body(endpoint, "multi/blob.bin") == data
    assert fs.cat_file(f"{BUCKET}/multi/blob.bin") == data


def test_wrong_secret_refused_through_s3fs(endpoint: Endpoint) -> None:
    s3fs = pytest.importorskip("s3fs")
    fs = s3fs.S3FileSystem(key=LOCAL_ACCESS_KEY, secret="not-the-secret")
    with pytest.raises(PermissionError) as caught:
        fs.ls(BUCKET)
    assert caught.value.__cause__.response["Error"]["Code"] == "SignatureDoesNotMatch"


# --- pyarrow --------------------------------------------------------------------------------


def test_pyarrow_s3_filesystem(endpoint: Endpoint) -> None:
    pafs = pytest.importorskip("pyarrow.fs")
    endpoint.s3.put_object(Bucket=BUCKET, Key="arrow/in.txt", Body=b"from boto3")

    # from_uri reads AWS_ENDPOINT_URL_S3.
    fs, path = pafs.FileSystem.from_uri(f"s3://{BUCKET}/arrow/in.txt")
    with fs.open_input_stream(path) as f:
        assert f.read() == b"from boto3"
    with fs.open_output_stream(f"{BUCKET}/arrow/out.txt") as f:
        f.write(b"from pyarrow")
    assert _body(endpoint, "arrow/out.txt") == b"from pyarrow"

    # The constructor does not (apache/arrow#49643): it is given the endpoint.
    fs = pafs.S3FileSystem(
        access_key=LOCAL_ACCESS_KEY,
        secret_key=LOCAL_SECRET_KEY,
        region=endpoint.region,
        endpoint_override=endpoint.url,
    )
    infos = fs.get_file_info(pafs.FileSelector(f"{BUCKET}/arrow"))
    assert sorted((i.path, i.size) for i in infos) == [
        (f"{BUCKET}/arrow/in.txt", 10),
        (f"{BUCKET}/arrow/out.txt", 12),
    ]


# --- DuckDB ---------------------------------------------------------------------------------


def _duckdb(endpoint: Endpoint):
    duckdb = pytest.importorskip("duckdb")
    ext = pytest.importorskip("duckdb_extension_httpfs", reason="httpfs comes from its wheel")
    (path,) = glob.glob(
        str(importlib.resources.files(ext) / "extensions" / "*" / "httpfs.duckdb_extension")
    )
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute(f"LOAD '{path}'")
    con.execute(
        "CREATE SECRET simsage (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?,"
        " URL_STYLE 'path', USE_SSL false)",
        [LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, endpoint.region, endpoint.hostport],
    )
    return con


def test_duckdb_httpfs_reads_and_writes(endpoint: Endpoint) -> None:
    con = _duckdb(endpoint)
    rows = "".join(f"{i},{i % 3}\n" for i in range(100))
    endpoint.s3.put_object(Bucket=BUCKET, Key="duck/t.csv", Body=f"n,g\n{rows}".encode())

    got = con.sql(
        f"SELECT g, count(*), sum(n) FROM read_csv('s3://{BUCKET}/duck/t.csv') GROUP BY g ORDER BY g"
    ).fetchall()
    assert got == [(0, 34, 1683), (1, 33, 1617), (2, 33, 1650)]

    con.execute(f"COPY (SELECT * FROM range(5) t(i)) TO 's3://{BUCKET}/duck/r.parquet'")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(io.BytesIO(_body(endpoint, "duck/r.parquet")))
    assert table.column("i").to_pylist() == [0, 1, 2, 3, 4]


# --- AWS CLI --------------------------------------------------------------------------------


def _aws(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The AWS CLI v1 in a subprocess, inheriting the environment simsage set."""
    pytest.importorskip("awscli", reason="the AWS CLI v1 (awscli) is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "awscli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_cli_cp_multipart_both_ways_ls_head(endpoint: Endpoint, big_file: Path, tmp_path: Path):
    _aws("s3", "cp", str(big_file), f"s3://{BUCKET}/cli/big.bin", "--only-show-errors")
    head = endpoint.s3.head_object(Bucket=BUCKET, Key="cli/big.bin")
    assert head["ContentLength"] == 20 * MiB
    assert head["ETag"].endswith('-3"')  # the CLI's 8 MiB parts

    down = tmp_path / "down.bin"
    _aws("s3", "cp", f"s3://{BUCKET}/cli/big.bin", str(down), "--only-show-errors")
    assert down.read_bytes() == big_file.read_bytes()

    listing = _aws("s3", "ls", f"s3://{BUCKET}/cli/").stdout.split()
    assert listing[-2:] == [str(20 * MiB), "big.bin"]
    assert f" {BUCKET}" in _aws("s3", "ls").stdout

    meta = json.loads(
        _aws("s3api", "head-object", "--bucket", BUCKET, "--key", "cli/big.bin").stdout
    )
    assert (meta["ContentLength"], meta["ETag"]) == (20 * MiB, head["ETag"])

    # `aws s3 presign`: a URL any HTTP client can GET, no credentials needed.
    url = _aws("s3", "presign", f"s3://{BUCKET}/cli/big.bin", "--expires-in", "60").stdout
    with urllib.request.urlopen(url.strip(), timeout=60) as response:
        assert (
            hashlib.sha256(response.read()).digest() == hashlib.sha256(down.read_bytes()).digest()
        )


def test_cli_sync_both_ways(endpoint: Endpoint, tmp_path: Path) -> None:
    local = tmp_path / "up"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a")
    (local / "sub" / "b.txt").write_text("bb")
    # Files made a while ago: S3's LastModified has whole seconds, and sync sends again a
    # file changed later than its object (as it would to S3 within the same second).
    for path in (local / "a.txt", local / "sub" / "b.txt"):
        os.utime(path, (path.stat().st_mtime - 3600,) * 2)
    _aws("s3", "sync", str(local), f"s3://{BUCKET}/sync", "--only-show-errors")
    listed = endpoint.s3.list_objects_v2(Bucket=BUCKET, Prefix="sync/")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("sync/a.txt", 1), ("sync/sub/b.txt", 2)]

    # A second sync has nothing to send; a new remote object comes down.
    assert _aws("s3", "sync", str(local), f"s3://{BUCKET}/sync").stdout == ""
    endpoint.s3.put_object(Bucket=BUCKET, Key="sync/sub/c.txt", Body=b"ccc")
    mirror = tmp_path / "down"
    _aws("s3", "sync", f"s3://{BUCKET}/sync", str(mirror), "--only-show-errors")
    got = {p.relative_to(mirror).as_posix(): p.read_text() for p in mirror.rglob("*.txt")}
    assert got == {"a.txt": "a", "sub/b.txt": "bb", "sub/c.txt": "ccc"}


def test_cli_wrong_secret_refused(endpoint: Endpoint) -> None:
    done = _aws(
        "s3api",
        "list-objects-v2",
        "--bucket",
        BUCKET,
        env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"},
        check=False,
    )
    assert done.returncode != 0
    assert "SignatureDoesNotMatch" in done.stderr
