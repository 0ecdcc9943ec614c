"""A home's settings that come from the environment."""

from simsage.config import load_config
from simsage.home import Home


def test_fsync_setting_makes_blob_writes_durable(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMSAGE_FSYNC", "1")
    home = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    try:
        assert home.blobs.durable
        with home.blobs.writer() as writer:
            writer.write(b"x" * 100)
            blob = writer.finish()
        assert home.blobs.path_of(blob).read_bytes() == b"x" * 100
    finally:
        home.close()


def test_blobs_are_flushed_not_fsynced_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SIMSAGE_FSYNC", raising=False)
    home = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    try:
        assert not home.blobs.durable
    finally:
        home.close()
