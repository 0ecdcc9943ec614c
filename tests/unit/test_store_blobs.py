"""The blob folder's promises: a blob appears at its final name only when complete, an
aborted write leaves nothing, clones are independent, reclaiming removes exactly the
temp files of dead writers (by their lock, whatever their pid) and pins of dead
readers, and the sweep removes exactly what crashed writers left behind. Ranges of a
blob copy into another file the same bytes whichever way the system allows."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simsage.store import BlobStore
from simsage.store.blobs import RangeCopier


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    counter = itertools.count()
    return BlobStore(tmp_path / "blobs", new_id=lambda: f"{next(counter):032x}")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_finish_renames_the_complete_file_into_place(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"hello ")
        writer.write(memoryview(b"world"))
        assert writer.tmp_path.exists()
        assert not store.path_of(writer.blob_id).exists()
        blob = writer.finish()
    assert files_under(store.root) == [f"{blob[:2]}/{blob}"]
    assert store.path_of(blob).read_bytes() == b"hello world"
    assert writer.size == 11
    assert writer.md5.hexdigest() == hashlib.md5(b"hello world").hexdigest()
    with store.open(blob) as handle:
        assert handle.read() == b"hello world"
    assert store.size(blob) == 11


def test_write_from_copies_a_stream_up_to_a_limit(store: BlobStore):
    data = os.urandom(3 * 1024 * 1024 + 17)
    with store.writer() as writer:
        writer.write_from(io.BytesIO(data), limit=2 * 1024 * 1024 + 5)
        blob = writer.finish()
    assert store.path_of(blob).read_bytes() == data[: 2 * 1024 * 1024 + 5]
    with store.writer() as writer:
        writer.write_from(io.BytesIO(data))
        blob = writer.finish()
    assert store.path_of(blob).read_bytes() == data


def test_abort_leaves_no_file(store: BlobStore):
    writer = store.writer()
    writer.write(b"partial")
    writer.abort()
    writer.abort()  # idempotent
    assert files_under(store.root) == []


def test_an_error_inside_the_block_aborts(store: BlobStore):
    with pytest.raises(RuntimeError), store.writer() as writer:
        writer.write(b"x" * 1000)
        raise RuntimeError("the client went away")
    assert files_under(store.root) == []


def test_a_block_left_without_finish_leaves_no_file(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"never finished")
    assert files_under(store.root) == []


def test_abort_after_finish_keeps_the_blob(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"kept")
        blob = writer.finish()
    writer.abort()
    assert store.path_of(blob).read_bytes() == b"kept"


def test_blob_ids_are_never_paths(store: BlobStore):
    for bad in ["../../etc/passwd", "..", "ab", "abcdefgh/", "abcdéfgh", "中中中中中中中中", ""]:
        with pytest.raises(ValueError):
            store.path_of(bad)


def test_clone_is_independent_of_its_source(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"shared bytes")
        source = writer.finish()
    clone = store.clone(source)
    assert clone != source
    store.delete([source])
    assert not store.path_of(source).exists()
    assert store.path_of(clone).read_bytes() == b"shared bytes"
    assert files_under(store.root) == [f"{clone[:2]}/{clone}"]


def test_clone_of_a_deleted_blob_raises_file_not_found_and_leaves_nothing(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"gone")
        source = writer.finish()
    store.delete([source])
    with pytest.raises(FileNotFoundError):
        store.clone(source)
    assert files_under(store.root) == []


def test_delete_ignores_missing_blobs(store: BlobStore):
    store.delete(["0" * 32, "f" * 32])


def test_sweep_removes_exactly_what_crashed_writers_left(store: BlobStore):
    def finished(data: bytes) -> str:
        with store.writer() as writer:
            writer.write(data)
            return writer.finish()

    referenced_old = finished(b"a committed object")
    unreferenced_old = finished(b"renamed, never committed, long ago")
    unreferenced_young = finished(b"renamed a moment ago; its commit may be coming")
    referenced_young = finished(b"just committed")
    for blob in (referenced_old, unreferenced_old):
        age(store.path_of(blob), 3600)

    dead_tmp = store.tmp_dir / f"{dead_pid()}-{'d' * 32}"
    dead_tmp.write_bytes(b"a writer that was killed")
    age(dead_tmp, 5)  # dead writers' temp files go whatever their age
    live = store.writer()  # this process: alive
    live.write(b"still being written")
    old_live_tmp = live.tmp_path
    age(old_live_tmp, 3600)  # even an old temp file of a live writer is kept

    referenced = {referenced_old, referenced_young}
    removed = store.sweep(lambda blob_id: blob_id in referenced, min_age=600)

    assert removed == 2
    assert not dead_tmp.exists()
    assert not store.path_of(unreferenced_old).exists()
    assert old_live_tmp.exists()
    for blob in (referenced_old, referenced_young, unreferenced_young):
        assert store.path_of(blob).exists()
    # the live writer is unaffected and still finishes
    live.write(b"!")
    blob = live.finish()
    assert store.path_of(blob).read_bytes() == b"still being written!"


def test_sweep_with_min_age_zero_removes_every_unreferenced_blob(store: BlobStore):
    blobs = []
    for i in range(3):
        with store.writer() as writer:
            writer.write(bytes([i]) * 10)
            blobs.append(writer.finish())
    time.sleep(0.01)
    assert store.sweep(lambda blob_id: blob_id == blobs[1], min_age=0) == 2
    assert files_under(store.root) == [f"{blobs[1][:2]}/{blobs[1]}"]


def test_sweep_keeps_a_fresh_clone_of_an_old_blob(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"old source")
        source = writer.finish()
    age(store.path_of(source), 3600)
    clone = store.clone(source)  # not committed yet: must survive a sweep right now
    store.sweep(lambda blob_id: blob_id == source, min_age=600)
    assert store.path_of(clone).exists()


def test_sweep_ignores_foreign_temp_names(store: BlobStore):
    odd = store.tmp_dir / "not-a-pid"
    odd.write_bytes(b"?")
    assert store.sweep(lambda blob_id: False, min_age=0) == 0
    assert odd.exists()


def test_reclaim_judges_writers_by_their_lock_not_their_pid(store: BlobStore):
    """A temp file is a dead writer's when its lock is free: an old unlocked file of a
    pid that is alive again (reused) goes; a locked one stays whatever its name says."""
    reused = store.tmp_dir / f"{os.getpid()}-{'a' * 32}"
    reused.write_bytes(b"a killed writer's bytes; its pid now belongs to someone else")
    age(reused, 3600)
    just_created = store.tmp_dir / f"{os.getpid()}-{'b' * 32}"
    just_created.write_bytes(b"")  # a writer between creating its file and locking it
    dead = store.tmp_dir / f"{dead_pid()}-{'c' * 32}"
    dead.write_bytes(b"killed")
    locked = store.tmp_dir / f"{dead_pid()}-{'d' * 32}"  # a pid this process cannot see
    locked.write_bytes(b"")
    holder = open(locked, "rb")  # noqa: SIM115 - closed below
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
    age(locked, 3600)
    try:
        assert store.reclaim_temp() == 2
        assert not reused.exists() and not dead.exists()
        assert just_created.exists() and locked.exists()
    finally:
        holder.close()
    assert store.reclaim_temp() == 1  # its lock is free now
    assert not locked.exists()


def test_reclaim_keeps_the_pins_of_live_readers_and_drops_the_dead_ones(store: BlobStore):
    with store.writer() as writer:
        writer.write(b"an overwritten version a reader still reads")
        blob = writer.finish()
    live_pin = store.pin(blob)
    assert live_pin.name.startswith("pin-")
    age(live_pin, 3600)  # a long read: pins are never judged by age
    dead_pin = store.tmp_dir / f"pin-{dead_pid()}-{'e' * 32}"
    os.link(store.path_of(blob), dead_pin)
    assert store.reclaim_temp() == 1
    assert live_pin.exists() and not dead_pin.exists()


def test_a_live_writer_survives_reclaims_and_finishes(store: BlobStore):
    live = store.writer()
    live.write(b"slow ")
    age(live.tmp_path, 3600)  # a client that stalled for an hour
    assert store.reclaim_temp() == 0
    live.write(b"upload")
    blob = live.finish()
    assert store.path_of(blob).read_bytes() == b"slow upload"
    assert list(store.tmp_dir.iterdir()) == []


# -- copying ranges between files ----------------------------------------------------------


def copy_all(copier: RangeCopier, source: Path, offset: int, target: Path, count: int) -> int:
    with open(source, "rb") as src, open(target, "wb") as dst:
        total = 0
        while total < count:
            done = copier.copy(src.fileno(), offset + total, dst.fileno(), count - total)
            if not done:
                break
            total += done
    return total


def refuse(monkeypatch: pytest.MonkeyPatch, name: str, code: int) -> list[int]:
    """Make ``os.<name>`` fail with ``code``; returns the list its calls are counted in."""
    calls: list[int] = []

    def refused(*_args):
        calls.append(1)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, name, refused)
    return calls


@pytest.mark.parametrize(
    "refused",
    [[], ["copy_file_range"], ["copy_file_range", "sendfile"]],
    ids=["copy_file_range", "sendfile", "pread-write"],
)
def test_range_copier_falls_back_where_the_system_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: list[str]
):
    """Another filesystem (EXDEV), an old kernel (ENOSYS) or a file type the call does not
    take (EINVAL): the next way copies the same bytes, and the refused way is not tried
    again for the rest of the job."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    source = tmp_path / "source"
    source.write_bytes(data)
    counts = [
        refuse(monkeypatch, name, code)
        for name, code in zip(refused, (errno.EXDEV, errno.EINVAL), strict=False)
    ]
    copier = RangeCopier()
    assert copy_all(copier, source, 1000, tmp_path / "target", len(data) - 1000) == len(data) - 1000
    assert (tmp_path / "target").read_bytes() == data[1000:]
    assert all(len(calls) == 1 for calls in counts)
    # past the end of the source: nothing, whichever way copies
    assert copy_all(copier, source, len(data), tmp_path / "nothing", 10) == 0


def test_range_copier_raises_real_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A full disk is not a refusal: it reaches the caller, with no other way tried."""
    source = tmp_path / "source"
    source.write_bytes(b"x" * 100)
    refuse(monkeypatch, "copy_file_range", errno.ENOSPC)
    sendfile_calls = refuse(monkeypatch, "sendfile", errno.EINVAL)
    with pytest.raises(OSError) as caught:
        copy_all(RangeCopier(), source, 0, tmp_path / "target", 100)
    assert caught.value.errno == errno.ENOSPC
    assert sendfile_calls == []


def test_range_copier_does_not_take_a_silent_zero_for_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Some kernels answer copy_file_range with 0 for files they do not handle: while
    the source goes on, that is a refusal (the next way copies), not its end."""
    source = tmp_path / "source"
    source.write_bytes(b"abcdef" * 1000)
    monkeypatch.setattr(os, "copy_file_range", lambda *_args: 0)
    assert copy_all(RangeCopier(), source, 6, tmp_path / "target", 6000) == 5994
    assert (tmp_path / "target").read_bytes() == (b"abcdef" * 1000)[6:]
