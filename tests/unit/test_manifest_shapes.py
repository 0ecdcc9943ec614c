"""Every malformed manifest shape is a ClientError that says which element is wrong and
what the format is (never "'int' object has no attribute 'startswith'")."""

from __future__ import annotations

import json

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.runtime.staging import DataError, channel_objects
from simsage.s3.backend import S3Backend

URI = "s3://data/m.json"
SHAPE = (
    f"ClientError: The manifest file {URI} must be a JSON array whose first element is "
    '{"prefix": "s3://bucket/prefix/"} and whose other elements are object keys relative '
    "to that prefix; "
)


@pytest.fixture
def s3(tmp_path):
    home = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    backend = S3Backend(home)
    backend.create_bucket("data", "us-east-1", "owner")
    yield backend
    home.close()


def _objects(s3, raw: bytes) -> list:
    s3.put_object("data", "m.json", raw, {"metadata": {}})
    source = {"S3DataType": "ManifestFile", "S3Uri": URI}
    return channel_objects(s3, source, "us-east-1", "role")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"prefix": "s3://data/train/"}, "it is an object"),
        ("s3://data/train/", "it is a string"),
        (5, "it is a number"),
        (None, "it is null"),
        ([], "it is an empty array"),
        (
            ["s3://data/train/", "a.csv"],
            'its first element is a string, not an object with a "prefix"',
        ),
        ([{"Prefix": "s3://data/"}], 'its first element has no "prefix"'),
        ([{"prefix": 5}, "a.csv"], "its prefix 5 is not an s3:// URI string"),
        ([{"prefix": None}, "a.csv"], "its prefix null is not an s3:// URI string"),
        ([{"prefix": ["s3://data/"]}, "a.csv"], 'its prefix ["s3://data/"] is not an s3:// URI'),
        ([{"prefix": "/local/train/"}, "a.csv"], 'its prefix "/local/train/" is not an s3://'),
        ([{"prefix": "s3://"}, "a.csv"], 'its prefix "s3://" is not an s3:// URI string'),
        ([{"prefix": "s3://data/"}, "a.csv", 5], "element 3 is a number (5), not a key string"),
        ([{"prefix": "s3://data/"}, True], "element 2 is a boolean (true), not a key string"),
        ([{"prefix": "s3://data/"}, None], "element 2 is null (null), not a key string"),
        ([{"prefix": "s3://data/"}, ["a"]], 'element 2 is an array (["a"]), not a key string'),
        ([{"prefix": "s3://data/"}, {"k": "a"}], 'element 2 is an object ({"k": "a"})'),
        ([{"prefix": "s3://data/"}, ""], "element 2 is an empty key"),
        ([{"prefix": "s3://data/"}], "it lists no keys after the prefix"),
    ],
)
def test_malformed_shapes_say_what_is_wrong(s3, body, problem):
    with pytest.raises(DataError) as refused:
        _objects(s3, json.dumps(body).encode())
    assert str(refused.value).startswith(SHAPE + problem)


@pytest.mark.parametrize("raw", [b"\xff\xfe not utf-8", b"[" * 100000, b"[{]"])
def test_unreadable_manifests_are_client_errors(s3, raw):
    with pytest.raises(
        DataError, match=rf"^ClientError: The manifest file {URI} is not valid JSON"
    ):
        _objects(s3, raw)


def test_keys_from_another_bucket_and_nested_keys(s3):
    objects = _objects(s3, json.dumps([{"prefix": "s3://other/p/"}, "a/b.csv"]).encode())
    assert [(o.bucket, o.key, o.relative) for o in objects] == [("other", "p/a/b.csv", "a/b.csv")]
