"""simsage.runtime.outputs: a processing job's output folders uploaded to S3, at the end of
the job (EndOfJob) or while it runs, as files are closed (Continuous). Real S3 backend on a
temporary home; the continuous tests wait for S3 with a deadline, never a fixed sleep."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.runtime.outputs import (
    ContinuousUpload,
    output_target,
    polling_observer,
    upload_folder,
)
from simsage.runtime.staging import DataError
from simsage.s3.backend import S3Backend

DEADLINE = 20.0  # seconds a continuous upload may take on a loaded machine
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="close events come from inotify (Linux)"
)


@pytest.fixture
def s3(tmp_path):
    home = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    backend = S3Backend(home)
    backend.create_bucket("out", "us-east-1", "owner")
    yield backend
    home.close()


@pytest.fixture
def job(tmp_path) -> Path:
    """The job folder (``within``) with an empty output folder, as the platform makes it."""
    folder = tmp_path / "job"
    (folder / "processing" / "output").mkdir(parents=True)
    return folder


@pytest.fixture
def watchers():
    """Continuous uploads a test starts; finished at teardown even when the test fails."""
    started: list[ContinuousUpload] = []
    yield started
    for watcher in started:
        with contextlib.suppress(DataError):
            watcher.finish()  # a second finish() only sweeps again


def _objects(s3: S3Backend, bucket: str = "out") -> dict[str, bytes]:
    page = s3.list_objects(bucket, prefix="", after="", max_keys=1000)
    out = {}
    for obj in page.objects:
        _, _, stream = s3.read_object(bucket, obj.key)
        with stream:
            out[obj.key] = stream.read()
    return out


def _eventually(check, what: str):
    """Wait (polling, up to DEADLINE) until ``check()`` is truthy; returns its value."""
    end = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        time.sleep(0.02)


def _start(watchers, s3, folder, within, uri="s3://out/results", **kwargs) -> ContinuousUpload:
    errors = kwargs.pop("errors", [])
    watcher = ContinuousUpload(s3, folder, uri, within, errors.append, **kwargs)
    watchers.append(watcher)
    watcher.start()
    return watcher


# -- output_target ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, target",
    [
        ("s3://out/results", ("out", "results")),
        ("s3://out/results/", ("out", "results")),
        ("s3://out/a/b/", ("out", "a/b")),
        ("s3://out", ("out", "")),
        ("s3://out/", ("out", "")),
    ],
)
def test_an_output_uri_is_a_bucket_and_a_prefix_without_trailing_slash(uri, target):
    assert output_target(uri) == target


@pytest.mark.parametrize("uri", ["https://out.s3.amazonaws.com/results", "/local/path", "s3:///x"])
def test_an_output_uri_that_is_not_s3_is_a_client_error(uri):
    with pytest.raises(DataError) as caught:
        output_target(uri)
    assert str(caught.value).startswith("ClientError: ")
    assert uri in str(caught.value) and "s3://<bucket>/<prefix>" in str(caught.value)


# -- EndOfJob ----------------------------------------------------------------------------


def test_end_of_job_uploads_every_file_under_its_relative_path(s3, job):
    folder = job / "processing" / "output"
    (folder / "train" / "part").mkdir(parents=True)
    (folder / "train.csv").write_text("1,2\n")
    (folder / "train" / "part" / "x.bin").write_bytes(b"\x00\x01")
    (folder / "report.json").write_text('{"ok": true}')

    count = upload_folder(s3, folder, "s3://out/results/", job)

    assert count == 3
    assert _objects(s3) == {
        "results/report.json": b'{"ok": true}',
        "results/train.csv": b"1,2\n",
        "results/train/part/x.bin": b"\x00\x01",
    }
    types = {key: s3.get_object("out", key).attrs["content_type"] for key in _objects(s3)}
    assert types == {
        "results/report.json": "application/json",
        "results/train.csv": "text/csv",
        "results/train/part/x.bin": "application/octet-stream",
    }


def test_end_of_job_to_a_bucket_root_has_no_leading_slash(s3, job):
    folder = job / "processing" / "output"
    (folder / "a.txt").write_text("a")
    assert upload_folder(s3, folder, "s3://out", job) == 1
    assert _objects(s3) == {"a.txt": b"a"}


def test_a_large_file_is_uploaded_whole(s3, job):
    folder = job / "processing" / "output"
    data = os.urandom(300_000)  # above the inline limit: stored as a blob
    (folder / "big.npy").write_bytes(data)
    assert upload_folder(s3, folder, "s3://out/r", job) == 1
    assert _objects(s3) == {"r/big.npy": data}


def test_symlinks_are_neither_uploaded_nor_followed(s3, job, tmp_path):
    folder = job / "processing" / "output"
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.pem").write_text("private")
    (folder / "real.txt").write_text("real")
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.txt").write_text("inner")
    (folder / "to-file").symlink_to(folder / "real.txt")
    (folder / "to-outside-file").symlink_to(secret / "key.pem")
    (folder / "to-outside-dir").symlink_to(secret, target_is_directory=True)
    (folder / "to-inside-dir").symlink_to(folder / "sub", target_is_directory=True)

    assert upload_folder(s3, folder, "s3://out/r", job) == 2
    assert _objects(s3) == {"r/real.txt": b"real", "r/sub/inner.txt": b"inner"}


def test_an_output_folder_that_is_a_symlink_uploads_nothing(s3, job, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.csv").write_text("x")
    link = job / "processing" / "linked"
    link.symlink_to(outside, target_is_directory=True)
    assert upload_folder(s3, link, "s3://out/r", job) == 0
    assert _objects(s3) == {}


def test_an_empty_or_missing_folder_uploads_nothing_even_without_a_bucket(s3, job):
    folder = job / "processing" / "output"
    assert upload_folder(s3, folder, "s3://out/r", job) == 0
    assert upload_folder(s3, folder, "s3://no-such-bucket/r", job) == 0
    assert upload_folder(s3, job / "processing" / "never-made", "s3://out/r", job) == 0
    assert _objects(s3) == {}


def test_a_missing_bucket_is_a_client_error_that_says_to_create_it(s3, job):
    folder = job / "processing" / "output"
    (folder / "a.csv").write_text("1")
    with pytest.raises(DataError) as caught:
        upload_folder(s3, folder, "s3://no-such-bucket/r", job)
    message = str(caught.value)
    assert message.startswith("ClientError: ")
    assert '"no-such-bucket" does not exist' in message and "Create it" in message


def test_skipped_and_vanished_files_are_not_uploaded(s3, job):
    folder = job / "processing" / "output"
    for name in ("keep.txt", "skip.txt", "gone.txt"):
        (folder / name).write_text(name)

    def skip(path: Path) -> bool:
        if path.name == "gone.txt":
            path.unlink()  # removed by the job between the listing and the upload
        return path.name == "skip.txt"

    assert upload_folder(s3, folder, "s3://out/r", job, skip=skip) == 1
    assert _objects(s3) == {"r/keep.txt": b"keep.txt"}


def test_a_key_longer_than_s3_allows_is_a_client_error(s3, job):
    folder = job / "processing" / "output"
    deep = folder.joinpath(*(letter * 220 for letter in "defgh"))  # 1100+ bytes of key
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("x")
    with pytest.raises(DataError, match="longer than the 1024 bytes S3 allows"):
        upload_folder(s3, folder, "s3://out/r", job)


@linux_only  # macOS and Windows file names are Unicode by construction
def test_a_file_name_that_is_not_utf8_is_a_client_error(s3, job):
    folder = job / "processing" / "output"
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.csv"), "wb") as latin1_named:
        latin1_named.write(b"x")
    with pytest.raises(DataError, match="not valid UTF-8"):
        upload_folder(s3, folder, "s3://out/r", job)


# -- Continuous, with close events (inotify) ----------------------------------------------


@linux_only
def test_a_closed_file_is_in_s3_while_the_job_runs_and_again_after_a_rewrite(s3, job, watchers):
    folder = job / "processing" / "output"
    watcher = _start(watchers, s3, folder, job)
    assert watcher.close_events

    (folder / "progress.txt").write_text("epoch 1")
    _eventually(lambda: _objects(s3).get("results/progress.txt") == b"epoch 1", "first upload")
    (folder / "progress.txt").write_text("epoch 2, longer")
    _eventually(lambda: _objects(s3).get("results/progress.txt") == b"epoch 2, longer", "rewrite")

    assert watcher.finish() == 1
    assert _objects(s3) == {"results/progress.txt": b"epoch 2, longer"}


@linux_only
def test_files_in_a_subfolder_made_during_the_run_are_uploaded(s3, job, watchers):
    folder = job / "processing" / "output"
    _start(watchers, s3, folder, job, settle=0.2)

    (folder / "shard" / "0").mkdir(parents=True)  # written before its watch may exist
    (folder / "shard" / "0" / "a.csv").write_text("a")
    (folder / "shard" / "0" / "b.csv").write_text("b")
    _eventually(
        lambda: {"results/shard/0/a.csv", "results/shard/0/b.csv"} <= set(_objects(s3)),
        "files of the new subfolder",
    )
    (folder / "shard" / "0" / "a.csv").write_text("a2")
    _eventually(lambda: _objects(s3)["results/shard/0/a.csv"] == b"a2", "rewrite in subfolder")


@linux_only
def test_a_file_still_open_is_not_uploaded_until_finish(s3, job, watchers):
    folder = job / "processing" / "output"
    watcher = _start(watchers, s3, folder, job, settle=0.2)

    with open(folder / "log.txt", "w") as still_open:
        still_open.write("line 1\n")
        still_open.flush()
        (folder / "done.txt").write_text("done")
        _eventually(lambda: "results/done.txt" in _objects(s3), "the closed file")
        # A file moved in is uploaded once stable; had log.txt been taken for one that
        # only waits to be stable, it would have been uploaded no later (seen earlier).
        (job / "moved.txt").write_text("moved")
        (job / "moved.txt").rename(folder / "moved.txt")
        _eventually(lambda: "results/moved.txt" in _objects(s3), "the moved-in file")
        assert "results/log.txt" not in _objects(s3)

        assert watcher.finish() == 3  # the job exited with log.txt open
        assert _objects(s3)["results/log.txt"] == b"line 1\n"


@linux_only
def test_a_file_moved_into_the_folder_is_uploaded_without_a_close_event(s3, job, watchers):
    folder = job / "processing" / "output"
    _start(watchers, s3, folder, job, settle=0.2)
    scratch = job / "scratch.csv"
    scratch.write_text("moved")
    scratch.rename(folder / "final.csv")
    _eventually(lambda: _objects(s3).get("results/final.csv") == b"moved", "the moved-in file")


# -- Continuous, either way ---------------------------------------------------------------


def test_without_close_events_a_file_is_uploaded_once_stable(s3, job, watchers):
    folder = job / "processing" / "output"
    watcher = _start(watchers, s3, folder, job, settle=0.2, observer=lambda: polling_observer(0.05))
    assert not watcher.close_events

    (folder / "sub").mkdir()
    (folder / "sub" / "model.json").write_text('{"v": 1}')
    _eventually(lambda: _objects(s3).get("results/sub/model.json") == b'{"v": 1}', "upload")
    (folder / "sub" / "model.json").write_text('{"v": 2, "more": true}')
    _eventually(
        lambda: _objects(s3).get("results/sub/model.json") == b'{"v": 2, "more": true}',
        "rewrite",
    )
    assert watcher.finish() == 1


@pytest.mark.parametrize("polling", [False, True], ids=["native", "polling"])
def test_continuous_never_uploads_symlinks(s3, job, watchers, tmp_path, polling):
    folder = job / "processing" / "output"
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.pem").write_text("private")
    kwargs = {"observer": lambda: polling_observer(0.05)} if polling else {}
    watcher = _start(watchers, s3, folder, job, settle=0.2, **kwargs)

    (folder / "to-outside-file").symlink_to(secret / "key.pem")
    (folder / "to-outside-dir").symlink_to(secret, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (secret / "written-later.txt").write_text("also private")
    (folder / "real.txt").write_text("real")
    _eventually(lambda: "results/real.txt" in _objects(s3), "the real file")

    assert watcher.finish() == 1
    assert _objects(s3) == {"results/real.txt": b"real"}


def test_finish_uploads_what_was_never_seen_and_stops_watching(s3, job, watchers):
    folder = job / "processing" / "output"
    (folder / "before.txt").write_text("there before the start")
    watcher = _start(watchers, s3, folder, job)
    assert watcher.finish() == 1
    assert _objects(s3) == {"results/before.txt": b"there before the start"}
    assert not [t for t in threading.enumerate() if t.name.startswith("continuous upload")]


@linux_only
def test_stop_ends_the_watching_without_a_final_upload(s3, job, watchers):
    folder = job / "processing" / "output"
    watcher = _start(watchers, s3, folder, job, settle=0.2)
    (job / "ready.txt").write_text("ready")
    (job / "ready.txt").rename(folder / "ready.txt")  # complete: uploaded while running
    _eventually(lambda: "results/ready.txt" in _objects(s3), "the file moved in")
    with open(folder / "partial.txt", "w") as writer:
        writer.write("half")
        writer.flush()
        watcher.stop()  # the job was stopped while writing
        watcher.stop()  # the runner's cleanup stops it again
    assert _objects(s3) == {"results/ready.txt": b"ready"}
    assert not [t for t in threading.enumerate() if t.name.startswith("continuous upload")]


def test_upload_errors_are_reported_once_and_the_watching_goes_on(s3, job, watchers):
    folder = job / "processing" / "output"
    errors: list[str] = []
    watcher = _start(watchers, s3, folder, job, uri="s3://later/r", settle=0.2, errors=errors)
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    _eventually(lambda: errors, "the missing bucket reported")
    assert len(errors) == 1 and '"later" does not exist' in errors[0]

    s3.create_bucket("later", "us-east-1", "owner")
    (folder / "c.txt").write_text("c")
    _eventually(lambda: "r/c.txt" in _objects(s3, "later"), "an upload after the error")

    assert watcher.finish() == 3  # a.txt and b.txt, which failed, are uploaded at the end
    assert _objects(s3, "later") == {"r/a.txt": b"a", "r/b.txt": b"b", "r/c.txt": b"c"}
    assert len(errors) == 1


def test_finish_raises_when_the_bucket_is_still_missing(s3, job, watchers):
    folder = job / "processing" / "output"
    errors: list[str] = []
    watcher = _start(watchers, s3, folder, job, uri="s3://never/r", errors=errors)
    (folder / "a.txt").write_text("a")
    with pytest.raises(DataError, match='"never" does not exist'):
        watcher.finish()


def test_a_failing_error_callback_does_not_stop_the_uploads(s3, job, watchers):
    folder = job / "processing" / "output"

    errors: list[str] = []

    def broken_logger(message: str) -> None:
        errors.append(message)
        raise RuntimeError("the log is gone")

    watcher = ContinuousUpload(s3, folder, "s3://late/r", job, broken_logger, settle=0.2)
    watchers.append(watcher)
    watcher.start()
    (folder / "a.txt").write_text("a")
    _eventually(lambda: errors, "the missing bucket reported")
    s3.create_bucket("late", "us-east-1", "owner")
    (folder / "b.txt").write_text("b")
    _eventually(lambda: "r/b.txt" in _objects(s3, "late"), "an upload after the error")
    assert watcher.finish() == 2


def test_without_watchdog_the_files_are_uploaded_at_the_end(s3, job, watchers, monkeypatch):
    for name in ["watchdog", *(n for n in sys.modules if n.startswith("watchdog."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails
    folder = job / "processing" / "output"
    errors: list[str] = []
    watcher = _start(watchers, s3, folder, job, errors=errors)
    assert len(errors) == 1 and "uploaded when the job ends" in errors[0]
    (folder / "a.txt").write_text("a")
    assert watcher.finish() == 1
    assert _objects(s3) == {"results/a.txt": b"a"}


def test_a_continuous_uri_that_is_not_s3_fails_at_start(s3, job):
    watcher = ContinuousUpload(s3, job / "processing" / "output", "file:///tmp/x", job, print)
    with pytest.raises(DataError, match="is not an s3:// URI"):
        watcher.start()
