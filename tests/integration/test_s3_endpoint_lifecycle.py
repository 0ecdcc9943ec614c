"""The home's S3 endpoint: started by the first request, shared, stopped when unused.

Real processes: the endpoint process, activating subprocesses, ``simsage serve``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest

import simsage
from simsage.transport import endpoint_record
from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

# boto3 with nothing of simsage imported: it reaches simsage only through the environment.
PLAIN_BOTO3 = "import boto3; print(boto3.client('s3').list_objects_v2(Bucket='bkt')['KeyCount'])"


def _record(home: Path) -> dict | None:
    path = home / endpoint_record.FOLDER / endpoint_record.RECORD_NAME
    return json.loads(path.read_text()) if path.exists() else None


def _wait(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _plain(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PLAIN_BOTO3], env=env, capture_output=True, text=True, timeout=60
    )


def test_activation_points_the_environment_at_a_lazy_endpoint_and_restores_it(
    simsage_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    before = dict(os.environ)
    simsage.activate()
    try:
        url = os.environ["AWS_ENDPOINT_URL_S3"]
        assert url.startswith("http://127.0.0.1:")
        assert os.environ["AWS_ACCESS_KEY_ID"] == LOCAL_ACCESS_KEY
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == LOCAL_SECRET_KEY
        assert "AWS_SESSION_TOKEN" not in os.environ
        record = _record(simsage_home)
        # Nothing connected yet: no server process, the socket is held by this process.
        assert record["state"] == endpoint_record.PENDING and record["pid"] == os.getpid()
        simsage.activate()  # nested: the same endpoint
        assert os.environ["AWS_ENDPOINT_URL_S3"] == url
        simsage.deactivate()
        assert os.environ["AWS_ENDPOINT_URL_S3"] == url

        boto3.client("s3").create_bucket(Bucket="bkt")  # in-process, no HTTP
        boto3.client("s3").put_object(Bucket="bkt", Key="k", Body=b"1")
        answer = _plain(dict(os.environ))
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip() == "1"
        record = _record(simsage_home)
        assert record["state"] == endpoint_record.SERVING and record["pid"] != os.getpid()
        server = record["pid"]
        assert psutil.Process(server).is_running()
    finally:
        simsage.deactivate()
    assert dict(os.environ) == before
    assert _record(simsage_home) is None
    assert _wait(lambda: _gone(server))


def _listening_ports() -> set[int]:
    return {
        c.laddr.port
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


def _activates_without_the_endpoint(home: Path, caplog, monkeypatch) -> str:
    """simsage activates, boto3 is answered, the environment stays as it was (a real
    endpoint setting included) and a warning says why non-boto3 clients are left out;
    returns the warning."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
    before, ports = dict(os.environ), _listening_ports()
    with caplog.at_level(logging.WARNING, logger="simsage.transport.endpoint"):
        simsage.activate()
    try:
        assert dict(os.environ) == before
        boto3.client("s3").create_bucket(Bucket="bkt")
        assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == ["bkt"]
        assert _listening_ports() == ports  # no socket left bound for an endpoint
    finally:
        simsage.deactivate()
    assert dict(os.environ) == before
    (warning,) = [r for r in caplog.records if r.name == "simsage.transport.endpoint"]
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert str(home / endpoint_record.FOLDER) in message
    assert "will not reach simsage" in message and "AWS_ENDPOINT_URL_S3" in message
    return message


def test_a_home_whose_endpoint_folder_cannot_be_made_activates_without_it(
    simsage_home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    simsage_home.mkdir(parents=True)
    (simsage_home / endpoint_record.FOLDER).write_text("not a folder")
    assert "File exists" in _activates_without_the_endpoint(simsage_home, caplog, monkeypatch)


def test_a_home_where_the_record_cannot_be_written_activates_without_it(
    simsage_home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only home (root, as in CI, writes through chmod 0555): the record's write
    # fails as it would there, after the listening socket was bound.
    def read_only(home, record):
        raise PermissionError(13, "Permission denied", str(home / endpoint_record.FOLDER))

    monkeypatch.setattr(endpoint_record, "write", read_only)
    message = _activates_without_the_endpoint(simsage_home, caplog, monkeypatch)
    assert "Permission denied" in message


def test_a_second_process_reuses_the_endpoint_and_the_last_user_stops_it(
    simsage_home: Path,
) -> None:
    simsage.activate()
    try:
        url = os.environ["AWS_ENDPOINT_URL_S3"]
        boto3.client("s3").create_bucket(Bucket="bkt")
        other = textwrap.dedent(
            """
            import os, simsage, boto3
            simsage.activate()
            print(os.environ["AWS_ENDPOINT_URL_S3"])
            simsage.deactivate()
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", other], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == url
        # The other process left; this one still uses the endpoint, which still answers.
        answer = _plain(dict(os.environ))
        assert answer.returncode == 0, answer.stderr
        server = _record(simsage_home)["pid"]
    finally:
        simsage.deactivate()
    assert _wait(lambda: _gone(server))


def test_an_endpoint_whose_users_were_killed_exits_by_itself(simsage_home: Path) -> None:
    user = textwrap.dedent(
        """
        import os, subprocess, sys, time, simsage, boto3
        simsage.activate()
        boto3.client("s3").create_bucket(Bucket="bkt")
        code = "import boto3; boto3.client('s3').list_buckets()"
        subprocess.run([sys.executable, "-c", code], check=True)  # starts the server
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", user], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        server = _record(simsage_home)["pid"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait(lambda: _gone(server), 60)
        assert _record(simsage_home) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_simsage_serve_in_the_foreground(simsage_home: Path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "simsage.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [serve.stdout.readline().strip() for _ in range(4)]
        url = lines[1].removeprefix("export AWS_ENDPOINT_URL_S3=")
        assert url.startswith("http://127.0.0.1:")
        assert lines[2:] == [
            f"export AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY}",
            f"export AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_KEY}",
        ]
        # Anything else that activates simsage on this home uses the same endpoint.
        simsage.activate()
        try:
            assert os.environ["AWS_ENDPOINT_URL_S3"] == url
            boto3.client("s3").create_bucket(Bucket="bkt")
            answer = _plain(dict(os.environ))
            assert answer.returncode == 0, answer.stderr
        finally:
            simsage.deactivate()
        # The last activation leaving does not stop a foreground server.
        assert serve.poll() is None
        with pytest.raises(urllib.error.HTTPError) as refused:  # no signature: refused
            urllib.request.urlopen(f"{url}/bkt")
        assert refused.value.code == 403
        again = subprocess.run(
            [sys.executable, "-m", "simsage.cli", "serve"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 1 and url in again.stdout
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0
        assert _record(simsage_home) is None
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
