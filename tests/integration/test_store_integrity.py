"""The whole story in real processes: a program stores data and exits; the index is
deleted while nothing runs; the next program's every call fails with a clear error
(and sweeps nothing), ``simsage doctor`` says what is there, ``--repair`` pairs a new
index and keeps every blob in lost+found, and the data can be put back from there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import simsage

PROJECT_ROOT = Path(simsage.__file__).resolve().parents[1]
BUCKET = "precious"

WRITER = textwrap.dedent(
    """
    import sys
    import simsage

    s3 = simsage.boto3_session().client("s3")
    s3.create_bucket(Bucket="precious")
    s3.put_object(Bucket="precious", Key="data.bin", Body=open(sys.argv[1], "rb").read())
    """
)


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SIMSAGE_HOME=str(home), SIMSAGE_BACKEND="local")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_lost_index_between_runs_is_reported_repaired_and_nothing_is_lost(tmp_path):
    home = tmp_path / "home"
    original = tmp_path / "data.bin"
    original.write_bytes(os.urandom(2 * 1024 * 1024))
    assert run(home, "-c", WRITER, str(original)).returncode == 0
    blobs = [p for p in (home / "blobs").glob("*/*") if p.parent.name != "tmp"]
    assert len(blobs) == 1
    past = 1_000_000_000  # older than any sweep's age limit
    os.utime(blobs[0], (past, past))
    (home / "state.db").unlink()

    listed = run(home, "-m", "simsage", "s3", "ls", f"s3://{BUCKET}")
    assert listed.returncode == 1
    (line,) = listed.stderr.splitlines()  # one line, no traceback
    assert "(InternalError)" in line and "the index" in line and "is missing" in line
    assert "simsage doctor --repair" in line
    assert blobs[0].exists()  # the new process swept nothing

    checked = run(home, "-m", "simsage", "doctor")
    assert checked.returncode == 1
    assert "1 blob files the index cannot account for yet" in checked.stdout

    repaired = run(home, "-m", "simsage", "doctor", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "no problems found" in repaired.stdout
    (kept,) = (home / "lost+found").glob(f"*/{blobs[0].name}")
    assert kept.read_bytes() == original.read_bytes()

    assert run(home, "-m", "simsage", "s3", "mb", f"s3://{BUCKET}").returncode == 0
    put_back = run(home, "-m", "simsage", "s3", "cp", str(kept), f"s3://{BUCKET}/data.bin")
    assert put_back.returncode == 0, put_back.stderr
    fetched = tmp_path / "fetched.bin"
    got = run(home, "-m", "simsage", "s3", "cp", f"s3://{BUCKET}/data.bin", str(fetched))
    assert got.returncode == 0, got.stderr
    assert fetched.read_bytes() == original.read_bytes()
