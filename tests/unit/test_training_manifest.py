"""Manifest files for training and transform input: malformed ones are a clear
ClientError, never a crash."""

from __future__ import annotations

import json

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.runtime.staging import DataError, channel_objects
from simsage.s3.backend import S3Backend


@pytest.fixture
def s3(tmp_path):
    home = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    backend = S3Backend(home)
    backend.create_bucket("data", "us-east-1", "owner")
    yield backend
    home.close()


def _manifest(s3, body) -> list:
    s3.put_object("data", "m.json", json.dumps(body).encode(), {"metadata": {}})
    source = {"S3DataType": "ManifestFile", "S3Uri": "s3://data/m.json"}
    return channel_objects(s3, source, "us-east-1", "role")


def test_a_manifest_lists_keys_below_its_prefix(s3):
    objects = _manifest(s3, [{"prefix": "s3://data/train/"}, "a.csv", "sub/b.csv"])
    assert [(o.key, o.relative) for o in objects] == [
        ("train/a.csv", "a.csv"),
        ("train/sub/b.csv", "sub/b.csv"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        ["s3://data/train/", "a.csv"],  # the prefix entry as a bare string
        [{"prefix": "s3://data/train/"}, {"key": "a.csv"}],
        {"prefix": "s3://data/train/"},
        [],
    ],
)
def test_malformed_manifests_are_client_errors(s3, body):
    with pytest.raises(DataError, match=r"ClientError: The manifest file s3://data/m.json"):
        _manifest(s3, body)
