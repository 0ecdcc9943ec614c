"""``make demo`` runs the flight-delay example (its run is tested in test_examples.py);
examples/s3_walkthrough.py, the S3-only walk-through, is run as a user runs it, in its
own process, against its own SIMSAGE_HOME; then the store is checked from this process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import simsage

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "s3_walkthrough.py"
BUCKET = "simsage-demo-us-east-1-123456789012"
KEYS = ["flight-delay/v1/raw.csv", "flight-delay/v1/train.csv", "flight-delay/v1/validation.csv"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_runs_the_flight_delay_example():
    """The demo's command (``make -n`` prints the commands without running them)."""
    # Not the flags of a make that runs this suite (`make test`): a plain `make -n demo`.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ".venv/bin/python examples/flight_delay/flight_delay.py"
    assert (REPO / "examples" / "flight_delay" / "flight_delay.py").is_file()


@pytest.fixture
def home(simsage_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin's fresh SIMSAGE_HOME; the child process inherits the environment."""
    monkeypatch.setenv("SIMSAGE_CHECK_OUTPUT", "1")
    return simsage_home.resolve()


def run_walkthrough(output_dir: Path) -> subprocess.CompletedProcess:
    """The walkthrough in a child process; the environment (SIMSAGE_HOME …) is inherited."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(output_dir)],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_walkthrough_uploads_the_data_set_and_reports_where_it_lives(home, tmp_path):
    out = tmp_path / "out"
    done = run_walkthrough(out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert f"bucket:   s3://{BUCKET} (created)" in lines
    assert (
        f"store:    {home} (state.db: the index and small objects, blobs/: larger objects)" in lines
    )
    assert "checked:  get_object(flight-delay/v1/raw.csv) equals the local file" in done.stdout
    assert "data set: 2,000 flights" in done.stdout
    for key in KEYS:
        assert any(line.split()[:1] == [key] for line in lines), key

    # The store (read from this process) holds exactly the three files, byte for byte.
    s3 = simsage.boto3_session().client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET)
    assert [obj["Key"] for obj in listing["Contents"]] == KEYS
    for key in KEYS:
        local = (out / key).read_bytes()
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == local
    raw, train, validation = ((out / key).read_text().splitlines() for key in KEYS)
    assert raw[0] == "carrier,origin,dest,month,weekday,dep_hour,distance,delayed"
    assert (len(raw), len(train), len(validation)) == (2001, 1601, 401)
    assert raw[1:] == train[1:] + validation[1:]
    assert (home / "state.db").is_file()


def test_walkthrough_runs_again_on_the_same_store_and_writes_the_same_bytes(home, tmp_path):
    first = run_walkthrough(tmp_path / "first")
    second = run_walkthrough(tmp_path / "second")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert f"bucket:   s3://{BUCKET} (already there, reused)" in second.stdout.splitlines()
    for key in KEYS:
        assert (tmp_path / "first" / key).read_bytes() == (tmp_path / "second" / key).read_bytes()
    s3 = simsage.boto3_session().client("s3")
    assert [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == KEYS
