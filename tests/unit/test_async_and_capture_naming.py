"""Pure logic of asynchronous inference and batch transform capture: where the outputs
of an InvokeEndpointAsync request go, which input locations name an S3 object, and how
GenerateInferenceId tags the records of each content type."""

from __future__ import annotations

import json

import pytest

from simsage.hosting.async_inference import locations, s3_location
from simsage.hosting.runtime_errors import ValidationError
from simsage.transform.capture import BatchCapture

CONFIG = {"OutputConfig": {"S3OutputPath": "s3://out/async/", "S3FailurePath": "s3://out/err"}}


def test_output_and_failure_locations():
    assert locations(CONFIG, {}, "abc") == (
        "s3://out/async/abc.out",
        "s3://out/err/abc-error.out",
        "s3://out/err/abc-error.out",
    )
    params = {"S3OutputPathExtension": "day/1", "Filename": "result.json"}
    assert locations(CONFIG, params, "abc")[:2] == (
        "s3://out/async/day/1/result.json",
        "s3://out/err/day/1/abc-error.out",
    )
    no_failure_path = {"OutputConfig": {"S3OutputPath": "s3://out"}}
    assert locations(no_failure_path, {}, "abc") == (
        "s3://out/abc.out",
        None,
        "s3://out/abc-error.out",
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.csv", ("bucket", "a/b.csv")),
        ("https://bucket.s3.amazonaws.com/a/b.csv", ("bucket", "a/b.csv")),
        ("https://my.bucket.s3.eu-west-1.amazonaws.com/k", ("my.bucket", "k")),
        ("https://s3.us-east-1.amazonaws.com/bucket/k/x", ("bucket", "k/x")),
    ],
)
def test_input_locations(uri, expected):
    assert s3_location(uri, "InputLocation") == expected


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "/tmp/x", "https://example.com/k"])
def test_locations_that_name_no_object(uri):
    with pytest.raises(ValidationError):
        s3_location(uri, "InputLocation")


def capture(generate: bool = True) -> BatchCapture:
    spec = {"DataCaptureConfig": {"DestinationS3Uri": "s3://c", "GenerateInferenceId": generate}}
    tagged = BatchCapture(None, spec)
    tagged.begin(0.0)
    return tagged


def test_csv_records_get_two_columns_each_with_its_own_id():
    out = capture().tag(b"0.5\r\n0.7\n\n0.9", "text/csv").decode()
    lines = out.split("\n")
    assert lines[0].endswith(",1970-01-01T00:00:00Z\r") and lines[2] == ""
    ids = [line.split(",")[1] for line in (lines[0], lines[1], lines[3])]
    assert len(set(ids)) == 3 and all(len(i) == 36 for i in ids)
    assert lines[3].startswith("0.9,")


def test_json_objects_get_id_and_time_keys_first_and_other_values_stay():
    tagging = capture()
    single = json.loads(tagging.tag(b'{"predictions": [1]}', "application/json"))
    assert list(single) == ["SageMakerInferenceId", "SageMakerInferenceTime", "predictions"]
    lines = tagging.tag(b'{"a": 1}\n[1, 2]\n{"a": 2}\n', "application/jsonlines").splitlines()
    assert json.loads(lines[1]) == [1, 2]
    assert json.loads(lines[0])["a"] == 1 and "SageMakerInferenceId" in json.loads(lines[2])
    assert tagging.tag(b"[1, 2]", "application/json") == b"[1, 2]"
    assert tagging.tag(b"not json", "application/json") == b"not json"
    assert tagging.tag(b"\x00\x01", "application/x-recordio-protobuf") == b"\x00\x01"


def test_nothing_is_tagged_without_generate_inference_id():
    assert capture(generate=False).tag(b"0.5\n", "text/csv") == b"0.5\n"
