"""The ``simsage`` command line on the local backend: what a user sees on stdout and
stderr, the exit status, and what ends up in (or comes out of) the store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import simsage
from simsage import cli_s3
from simsage.cli import human_readable_size, main

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.MULTILINE)


@pytest.fixture(autouse=True)
def home(simsage_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SIMSAGE_HOME per test (the simsage pytest plugin's), answers checked against
    AWS's output shapes; the working folder is tmp_path/work."""
    monkeypatch.setenv("SIMSAGE_CHECK_OUTPUT", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return simsage_home


@pytest.fixture
def s3():
    return simsage.boto3_session().client("s3")


def run(*args: str, code: int = 0):
    """Invoke the CLI; checks the exit status and that no exception escaped."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def ls_output(*args: str) -> str:
    """``simsage s3 ls`` output with each timestamp replaced by ``TS``."""
    return TIMESTAMP.sub("TS", run("s3", "ls", *args).stdout)


def keys(s3, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.csv": b"x,y\n1,2\n",
        "empty.txt": b"",
        "bin/data.bin": bytes(range(256)) * 300,
        "bin/deep/ünïcode name.txt": "héllo".encode(),
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_mb_then_ls_lists_the_bucket_with_its_creation_time():
    assert run("s3", "mb", "s3://alpha").stdout == "make_bucket: alpha\n"
    run("s3", "mb", "s3://beta")
    assert ls_output() == "TS alpha\nTS beta\n"
    assert ls_output("s3://") == "TS alpha\nTS beta\n"


def test_cp_uploads_and_downloads_a_file_byte_for_byte(s3):
    run("s3", "mb", "s3://bkt")
    data = bytes(range(256)) * 1000
    Path("data.bin").write_bytes(data)

    result = run("s3", "cp", "data.bin", "s3://bkt/in/")
    assert result.stdout == "upload: data.bin to s3://bkt/in/data.bin\n"
    assert s3.get_object(Bucket="bkt", Key="in/data.bin")["Body"].read() == data

    result = run("s3", "cp", "s3://bkt/in/data.bin", "copy.bin")
    assert result.stdout == "download: s3://bkt/in/data.bin to copy.bin\n"
    assert Path("copy.bin").read_bytes() == data

    Path("out").mkdir()
    run("s3", "cp", "s3://bkt/in/data.bin", "out")
    assert Path("out/data.bin").read_bytes() == data


def test_cp_sets_the_content_type_given_or_guessed(s3):
    run("s3", "mb", "s3://bkt")
    Path("table.csv").write_text("a,b\n")
    run("s3", "cp", "table.csv", "s3://bkt/guessed.csv")
    run("s3", "cp", "table.csv", "s3://bkt/given", "--content-type", "application/x-custom")
    assert s3.head_object(Bucket="bkt", Key="guessed.csv")["ContentType"] == "text/csv"
    assert s3.head_object(Bucket="bkt", Key="given")["ContentType"] == "application/x-custom"


def test_cp_recursive_round_trips_a_folder(s3, tmp_path):
    run("s3", "mb", "s3://bkt")
    files = make_tree(Path("data"))

    result = run("s3", "cp", "data", "s3://bkt/set/v1", "--recursive")
    assert sorted(keys(s3, "bkt")) == sorted(f"set/v1/{name}" for name in files)
    assert f"upload: {os.path.join('data', 'a.csv')} to s3://bkt/set/v1/a.csv" in result.stdout
    assert len(result.stdout.splitlines()) == len(files)

    result = run("s3", "cp", "s3://bkt/set/v1", "restored", "--recursive")
    assert read_tree(Path("restored")) == files
    assert f"download: s3://bkt/set/v1/a.csv to {os.path.join('restored', 'a.csv')}" in (
        result.stdout
    )


def test_cp_recursive_download_never_writes_outside_the_destination(s3, tmp_path):
    run("s3", "mb", "s3://bkt")
    for key in ["set/ok.txt", "set/../../escape.txt", "set//abs.txt", "set/sub/.."]:
        s3.put_object(Bucket="bkt", Key=key, Body=b"data")

    result = run("s3", "cp", "s3://bkt/set", "out", "--recursive")
    assert read_tree(Path("out")) == {"ok.txt": b"data"}
    assert sorted(p.name for p in tmp_path.rglob("*.txt")) == ["ok.txt"]
    assert len(result.stderr.splitlines()) == 3
    assert "warning: skipping s3://bkt/set/../../escape.txt" in result.stderr


def test_cp_copies_within_s3_one_key_or_a_whole_prefix(s3):
    run("s3", "mb", "s3://src")
    run("s3", "mb", "s3://dst")
    files = make_tree(Path("data"))
    run("s3", "cp", "data", "s3://src/p", "--recursive")

    result = run("s3", "cp", "s3://src/p/a.csv", "s3://dst/one/")
    assert result.stdout == "copy: s3://src/p/a.csv to s3://dst/one/a.csv\n"
    run("s3", "cp", "s3://src/p/", "s3://dst/all", "--recursive")

    expected = ["one/a.csv"] + [f"all/{name}" for name in files]
    assert sorted(keys(s3, "dst")) == sorted(expected)
    for name, data in files.items():
        assert s3.get_object(Bucket="dst", Key=f"all/{name}")["Body"].read() == data


def test_ls_shows_prefixes_and_names_relative_to_the_folder(s3):
    run("s3", "mb", "s3://bkt")
    for key, size in [("a.txt", 5), ("pre/b.txt", 1), ("pre/sub/c.txt", 2048), ("prefix.txt", 0)]:
        s3.put_object(Bucket="bkt", Key=key, Body=b"x" * size)

    assert ls_output("s3://bkt") == (
        "                           PRE pre/\nTS          5 a.txt\nTS          0 prefix.txt\n"
    )
    assert ls_output("s3://bkt/pre/") == (
        "                           PRE sub/\nTS          1 b.txt\n"
    )
    assert ls_output("s3://bkt/pre") == (
        "                           PRE pre/\nTS          0 prefix.txt\n"
    )
    assert ls_output("s3://bkt", "--recursive", "--summarize") == (
        "TS          5 a.txt\n"
        "TS          1 pre/b.txt\n"
        "TS       2048 pre/sub/c.txt\n"
        "TS          0 prefix.txt\n"
        "\nTotal Objects: 4\n   Total Size: 2054\n"
    )
    assert ls_output("s3://bkt/pre/sub/", "--human-readable") == "TS    2.0 KiB c.txt\n"


def test_ls_of_a_prefix_that_matches_nothing_exits_1_silently():
    run("s3", "mb", "s3://bkt")
    result = run("s3", "ls", "s3://bkt/nothing-here", code=1)
    assert result.stdout == "" and result.stderr == ""
    assert run("s3", "ls", "s3://bkt").stdout == ""  # an empty bucket is not an error


def test_rm_deletes_one_key_or_a_prefix(s3):
    run("s3", "mb", "s3://bkt")
    for key in ["keep.txt", "logs/1", "logs/2", "logs/deep/3", "logsbook"]:
        s3.put_object(Bucket="bkt", Key=key, Body=b"1")

    assert run("s3", "rm", "s3://bkt/keep.txt").stdout == "delete: s3://bkt/keep.txt\n"
    result = run("s3", "rm", "s3://bkt/logs", "--recursive")
    assert sorted(result.stdout.splitlines()) == [
        "delete: s3://bkt/logs/1",
        "delete: s3://bkt/logs/2",
        "delete: s3://bkt/logs/deep/3",
    ]
    assert keys(s3, "bkt") == ["logsbook"]


def test_rm_recursive_sends_delete_objects_in_batches(s3, monkeypatch):
    run("s3", "mb", "s3://bkt")
    for index in range(5):
        s3.put_object(Bucket="bkt", Key=f"k{index}", Body=b"")
    batches: list[int] = []
    make_client = cli_s3._s3

    def recording_client():
        client = make_client()
        client.meta.events.register(
            "provide-client-params.s3.DeleteObjects",
            lambda params, **_: batches.append(len(params["Delete"]["Objects"])),
        )
        return client

    monkeypatch.setattr(cli_s3, "DELETE_BATCH", 2)
    monkeypatch.setattr(cli_s3, "_s3", recording_client)
    result = run("s3", "rm", "s3://bkt/", "--recursive")
    assert batches == [2, 2, 1]
    assert len(result.stdout.splitlines()) == 5
    assert keys(s3, "bkt") == []


def test_rb_refuses_a_non_empty_bucket_unless_forced(s3):
    run("s3", "mb", "s3://bkt")
    s3.put_object(Bucket="bkt", Key="a/b", Body=b"data")

    result = run("s3", "rb", "s3://bkt", code=1)
    assert "(BucketNotEmpty)" in result.stderr
    result = run("s3", "rb", "s3://bkt", "--force")
    assert result.stdout == "delete: s3://bkt/a/b\nremove_bucket: bkt\n"
    assert ls_output() == ""


def test_info_reports_configuration_and_store_contents(home, s3):
    run("s3", "mb", "s3://bkt")
    s3.put_object(Bucket="bkt", Key="a", Body=b"x" * 1000)
    s3.put_object(Bucket="bkt", Key="b/c", Body=b"y" * 24)

    fields = dict(line.split(":", 1) for line in run("info").stdout.splitlines() if ":" in line)
    fields = {name: value.strip() for name, value in fields.items()}
    assert fields["home"] == str(home.resolve())
    assert fields["backend"] == "local"
    assert fields["region"] == "us-east-1"
    assert fields["account id"] == "123456789012"
    assert "s3" in fields["emulated services"].split(", ")
    assert fields["buckets"] == "1"
    assert fields["objects"] == "2 (1.0 KiB, 1024 bytes)"
    total, db, blobs = map(
        int,
        re.search(r"\((\d+) bytes: state.db (\d+), blobs (\d+)\)", fields["store size"]).groups(),
    )
    assert total == db + blobs >= 1024  # small objects live inside state.db, large ones in blobs/
    assert db >= (home / "state.db").stat().st_size


def test_a_missing_bucket_is_one_line_with_the_aws_error_code():
    result = run("s3", "ls", "s3://no-such-bucket", code=1)
    assert result.stderr.startswith(
        "An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation"
    )
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_upload_to_a_missing_bucket_names_the_s3_error():
    Path("f.txt").write_text("x")
    result = run("s3", "cp", "f.txt", "s3://no-such-bucket/f.txt", code=1)
    assert "(NoSuchBucket)" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_download_of_a_missing_key_exits_1():
    run("s3", "mb", "s3://bkt")
    result = run("s3", "cp", "s3://bkt/missing", "out.bin", code=1)
    assert "(404)" in result.stderr or "(NoSuchKey)" in result.stderr
    assert not Path("out.bin").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s3", "ls", "bucket/key"], "is not an S3 URI"),
        (["s3", "mb", "bkt"], "is not an S3 URI"),
        (["s3", "rm", "s3:///key"], "names no bucket"),
        (["s3", "cp", "a.txt", "b.txt"], "needs at least one s3:// URI"),
        (["s3", "cp", "missing.txt", "s3://bkt/x"], "does not exist"),
        (["s3", "rm", "s3://bkt"], "use --recursive"),
    ],
)
def test_bad_arguments_exit_1_with_a_message(args, message):
    result = run(*args, code=1)
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_usage_errors_exit_2():
    assert "Missing argument" in run("s3", "cp", "s3://bkt/x", code=2).stderr


def test_human_readable_sizes_match_the_aws_cli():
    assert [human_readable_size(n) for n in (0, 1, 1023, 1024, 1536, 10 * 1024**3)] == [
        "0 Bytes",
        "1 Byte",
        "1023 Bytes",
        "1.0 KiB",
        "1.5 KiB",
        "10.0 GiB",
    ]


def test_python_dash_m_simsage_runs_the_same_cli(home):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "simsage", "s3", "ls", "not-a-uri"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "is not an S3 URI" in done.stderr
    assert "Traceback" not in done.stderr
