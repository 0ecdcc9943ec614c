"""simsage.runtime.paths: user-given container paths and S3 keys map inside their job
folder or are refused, and reading a folder back never follows a symlink."""

from __future__ import annotations

import os

import pytest

from simsage.runtime import paths
from simsage.runtime.paths import PathError


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("/opt/ml/checkpoints", "/opt/ml/checkpoints"),
        ("/opt/ml/checkpoints/", "/opt/ml/checkpoints"),
        ("/opt/ml//checkpoints", "/opt/ml/checkpoints"),
        ("/checkpoints", "/checkpoints"),
        ("/opt/ml", "/opt/ml"),
    ],
)
def test_absolute_paths_are_accepted_and_normalised(value, normalised):
    assert paths.container_path(value, "CheckpointConfig.LocalPath") == normalised


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("../../../x", "is not an absolute path"),
        ("checkpoints", "is not an absolute path"),
        ("", "is not an absolute path"),
        ("/opt/ml/../../../x", "'..' segment"),
        ("/opt/ml/./checkpoints", "'..' segment"),
        ("/opt/ml/checkpoints/..", "'..' segment"),
        ("/opt/ml/a\x00b", "is not a valid path"),
        ("/" + "a" * 5000, "is not a valid path"),
    ],
)
def test_relative_escaping_or_invalid_paths_are_refused(value, problem):
    with pytest.raises(PathError, match=problem) as refused:
        paths.container_path(value, "CheckpointConfig.LocalPath")
    assert "CheckpointConfig.LocalPath" in str(refused.value)
    assert "absolute path in the container" in str(refused.value)  # says what is allowed


def test_a_path_can_be_required_below_a_folder():
    under = "/opt/ml/processing"
    assert paths.container_path("/opt/ml/processing/in", "LocalPath", under) == (
        "/opt/ml/processing/in"
    )
    with pytest.raises(PathError, match=r"is not under /opt/ml/processing/"):
        paths.container_path("/opt/ml/model", "LocalPath", under)


def test_container_paths_map_into_the_host_folder(tmp_path):
    root = tmp_path / "algo-1"
    assert paths.host_path(root, "/opt/ml/checkpoints") == root / "checkpoints"
    assert paths.host_path(root, "/opt/ml") == root
    assert paths.host_path(root, "/data/ckpt/") == root / "external" / "data" / "ckpt"
    with pytest.raises(PathError):
        paths.host_path(root, "/opt/ml/../../../x")


def test_keys_map_below_their_folder_and_never_out(tmp_path):
    folder = tmp_path / "train"
    assert paths.key_path(folder, "a/b.csv") == folder / "a" / "b.csv"
    assert paths.key_path(folder, "/a//./b.csv") == folder / "a" / "b.csv"
    for key in ("", "/", "../x", "a/../../x", "a/\x00"):
        with pytest.raises(PathError):
            paths.key_path(folder, key)


def test_keys_are_never_written_through_a_symlink(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "sub").symlink_to(outside)
    (folder / "file").symlink_to(outside / "target")
    with pytest.raises(PathError, match="symbolic link"):
        paths.key_path(folder, "sub/x")
    with pytest.raises(PathError, match="symbolic link"):
        paths.key_path(folder, "file")


def test_folder_names_are_single_segments():
    assert paths.folder_name("train.v2", "ChannelName") == "train.v2"
    for name in (".", "..", "", "a/b"):
        with pytest.raises(PathError):
            paths.folder_name(name, "ChannelName")


def test_files_skips_symlinks_and_folders_reached_through_one(tmp_path):
    job = tmp_path / "job"
    folder = job / "algo-1" / "checkpoints"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.pem").write_text("private")
    (folder / "link.pem").symlink_to(secret / "key.pem")
    (folder / "linked-folder").symlink_to(secret)

    assert [rel for rel, _, _ in paths.files(folder, job)] == ["a.txt", "sub/b.txt"]

    # The folder itself replaced by a symlink out of the job folder: nothing is read.
    model = job / "algo-1" / "model"
    model.symlink_to(secret)
    assert list(paths.files(model, job)) == []
    assert not paths.has_files(model, job)
    # ... or reached through a symlinked parent.
    (job / "algo-2").symlink_to(secret.parent)
    assert list(paths.files(job / "algo-2" / "secret", job)) == []
    assert paths.has_files(folder, job)
    assert not paths.inside(tmp_path, job)
    assert os.path.isdir(job)


def test_read_text_reads_regular_files_only(tmp_path):
    job = tmp_path / "job"
    output = job / "algo-1" / "output"
    output.mkdir(parents=True)
    (output / "failure").write_text("ClientError: bad data")
    assert paths.read_text(output / "failure", job, 1024) == "ClientError: bad data"
    assert paths.read_text(output / "failure", job, 6) == "Client"
    (tmp_path / "secret").write_text("PRIVATE")
    (output / "linked").symlink_to(tmp_path / "secret")
    assert paths.read_text(output / "linked", job, 1024) is None
    assert paths.read_text(output / "missing", job, 1024) is None
    os.mkfifo(output / "fifo")
    assert paths.read_text(output / "fifo", job, 1024) is None
    (job / "algo-2").symlink_to(tmp_path)  # a parent replaced by a link out
    assert paths.read_text(job / "algo-2" / "secret", job, 1024) is None
