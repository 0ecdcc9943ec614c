"""extract_archive: every header is checked (size, member count, free disk, safe paths)
before the first byte is written, and a decompression bomb is stopped early."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections import namedtuple

import pytest

from simsage.runtime import staging
from simsage.runtime.staging import ArchiveTooLarge, DataError, extract_archive

MB = 1024 * 1024


def _tar_gz(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_a_fitting_archive_extracts_and_reports_its_size(tmp_path):
    archive = _tar_gz(tmp_path / "ok.tar.gz", {"a": b"x" * 10, "d/b": b"y" * 5})
    assert extract_archive(archive, tmp_path / "out", limit=15) == 15
    assert (tmp_path / "out" / "d" / "b").read_bytes() == b"yyyyy"


def test_a_decompression_bomb_is_refused_before_anything_is_written(tmp_path):
    archive = _tar_gz(tmp_path / "bomb.tar.gz", {"first": b"1", "zeros": bytes(2 * MB)})
    assert archive.stat().st_size < 20_000  # 2 MB of zeros packs into a few KB
    with pytest.raises(ArchiveTooLarge) as excinfo:
        extract_archive(archive, tmp_path / "out", limit=MB, limit_name="the test volume")
    assert excinfo.value.limit == MB and excinfo.value.expanded > MB
    assert "more than the test volume allows (1.0 MB (1048576 bytes))" in str(excinfo.value)
    assert list((tmp_path / "out").iterdir()) == []  # not even the small first member


def test_a_header_declaring_too_much_is_refused_without_reading_on(tmp_path):
    info = tarfile.TarInfo("model")
    info.size = 10 * 1024**3  # the data is not even there: only the header is read
    archive = tmp_path / "claims.tar.gz"
    archive.write_bytes(gzip.compress(info.tobuf(tarfile.GNU_FORMAT)))
    with pytest.raises(ArchiveTooLarge) as excinfo:
        extract_archive(archive, tmp_path / "out", limit=staging.GB, source='"s3://b/m.tar.gz"')
    assert excinfo.value.expanded == 10 * 1024**3
    assert str(excinfo.value).startswith('ClientError: "s3://b/m.tar.gz" expands to at least 10.0')


def test_too_many_members_are_refused(tmp_path):
    archive = _tar_gz(tmp_path / "many.tar.gz", {f"f{i}": b"" for i in range(11)})
    with pytest.raises(ArchiveTooLarge) as excinfo:
        extract_archive(archive, tmp_path / "out", max_members=10)
    assert excinfo.value.limit is None and "more than 10 members" in str(excinfo.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_free_disk_space_is_a_limit_too(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(staging.shutil, "disk_usage", lambda path: usage(1000, 900, 100))
    archive = _tar_gz(tmp_path / "big.tar.gz", {"a": b"x" * 200})
    with pytest.raises(ArchiveTooLarge, match="more than the 100 bytes free on the disk"):
        extract_archive(archive, tmp_path / "out")


@pytest.mark.parametrize(
    ("members", "links"),
    [({"good": b"1", "../evil": b"2"}, None), ({"good": b"1"}, {"out": "/etc/passwd"})],
)
def test_a_member_leaving_the_folder_is_refused_before_anything_is_written(
    tmp_path, members, links
):
    archive = _tar_gz(tmp_path / "evil.tar.gz", members, links)
    with pytest.raises(DataError, match="ClientError: Could not extract evil.tar.gz"):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_a_truncated_archive_is_a_data_error(tmp_path):
    archive = _tar_gz(tmp_path / "t.tar.gz", {"a": bytes(100_000)})
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(DataError, match="Could not extract t.tar.gz"):
        extract_archive(archive, tmp_path / "out")
