"""simsage.sdk pieces that need no service: image URIs, serializers, deserializers,
names, source archives and request fragments."""

from __future__ import annotations

import io
import json
import re
import tarfile

import numpy as np
import pandas as pd
import pytest

from simsage.runtime.images import parse_image
from simsage.sdk import image_uris
from simsage.sdk.deserializers import (
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    NumpyDeserializer,
    StringDeserializer,
)
from simsage.sdk.inputs import TrainingInput, TransformInput
from simsage.sdk.model_monitor import DataCaptureConfig
from simsage.sdk.serializers import (
    CSVSerializer,
    IdentitySerializer,
    JSONSerializer,
    NumpySerializer,
)
from simsage.sdk.utils import base_name_from_image, name_from_base, sourcedir_archive


@pytest.mark.parametrize(
    ("args", "uri"),
    [
        (
            ("xgboost", "us-east-1", "1.7-1"),
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        ),
        (
            ("xgboost", "us-west-2", "1.5-1"),
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1",
        ),
        (
            ("sklearn", "eu-west-1", "1.2-1"),
            "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        ),
        (
            ("xgboost", "cn-north-1", "1.7-1"),
            "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1",
        ),
        (("xgboost", "us-east-1", "1"), "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"),
    ],
)
def test_image_uris_are_the_real_ones_and_simsage_recognises_them(args, uri):
    assert image_uris.retrieve(*args) == uri
    assert parse_image(uri).framework in ("xgboost", "sklearn")


def test_image_uris_refuse_what_does_not_exist():
    with pytest.raises(ValueError, match="Unsupported xgboost version: 9.9"):
        image_uris.retrieve("xgboost", "us-east-1", "9.9")
    with pytest.raises(ValueError, match="Unsupported region: mars-1"):
        image_uris.retrieve("sklearn", "mars-1", "1.2-1")
    with pytest.raises(ValueError, match="Unsupported framework: tensorflow"):
        image_uris.retrieve("tensorflow", "us-east-1", "2.13")
    with pytest.raises(ValueError, match="gpu"):
        image_uris.retrieve("xgboost", "us-east-1", "1.7-1", instance_type="ml.p3.2xlarge")
    with pytest.raises(ValueError, match="1.4-2"):  # a training-only version
        image_uris.retrieve("sklearn", "us-east-1", "1.4-2", image_scope="inference")


def test_csv_serializer_writes_rows():
    serializer = CSVSerializer()
    assert serializer.content_type == "text/csv"
    assert serializer.serialize([1, 2.5, 3]) == "1,2.5,3"
    assert serializer.serialize(np.array([[1.0, 2.0], [3.0, 4.0]])) == "1.0,2.0\n3.0,4.0"
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    assert serializer.serialize(frame) == "1,0.5\n2,0.25"
    assert serializer.serialize("7,8") == "7,8"
    assert serializer.serialize(io.BytesIO(b"1,2")) == "1,2"


def test_json_numpy_and_identity_serializers():
    assert json.loads(JSONSerializer().serialize(np.array([1, 2]))) == [1, 2]
    assert json.loads(JSONSerializer().serialize({"x": np.array([1.5])})) == {"x": [1.5]}
    npy = NumpySerializer().serialize([[1, 2], [3, 4]])
    assert np.load(io.BytesIO(npy)).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="empty"):
        NumpySerializer().serialize([])
    identity = IdentitySerializer(content_type="application/x-image")
    assert identity.serialize(b"\x00\x01") == b"\x00\x01"
    assert identity.content_type == "application/x-image"


def test_deserializers():
    assert CSVDeserializer().deserialize(b"0.5\n0.25\n", "text/csv") == [["0.5"], ["0.25"]]
    assert JSONDeserializer().deserialize(b'{"a": 1}', "application/json") == {"a": 1}
    assert BytesDeserializer().deserialize(b"x", None) == b"x"
    assert StringDeserializer().deserialize("é".encode(), None) == "é"
    numpy = NumpyDeserializer()
    assert numpy.deserialize(b"0.5\n0.25\n", "text/csv").tolist() == [0.5, 0.25]
    assert numpy.deserialize(b"1,2\n3,4\n", "text/csv").tolist() == [[1, 2], [3, 4]]
    assert numpy.deserialize(b"[1, 2]", "application/json").tolist() == [1, 2]
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    assert numpy.deserialize(buffer.getvalue(), "application/x-npy").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="image/png"):
        numpy.deserialize(b"", "image/png")


def test_names_follow_the_sdk():
    uri = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert base_name_from_image(uri) == "sagemaker-xgboost"
    name = name_from_base("sagemaker-xgboost")
    assert re.fullmatch(r"sagemaker-xgboost-\d{4}(-\d{2}){5}-\d{3}", name)
    assert len(name_from_base("x" * 100)) == 63


def test_sourcedir_archive(tmp_path):
    (tmp_path / "src" / "lib").mkdir(parents=True)
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    (tmp_path / "src" / "lib" / "util.py").write_text("X = 1\n")
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "junk.pyc").write_bytes(b"")
    archive = sourcedir_archive("train.py", str(tmp_path / "src"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["lib/util.py", "train.py"]
    alone = sourcedir_archive(str(tmp_path / "src" / "train.py"), None)
    with tarfile.open(fileobj=io.BytesIO(alone)) as tar:
        assert tar.getnames() == ["train.py"]
    with pytest.raises(FileNotFoundError, match="missing.py"):
        sourcedir_archive("missing.py", str(tmp_path / "src"))


def test_request_fragments():
    channel = TrainingInput("s3://b/train", content_type="text/csv").config
    assert channel == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": "s3://b/train",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "text/csv",
    }
    source = TransformInput("s3://b/test", content_type="text/csv", split_type="Line").config
    assert source["SplitType"] == "Line" and source["ContentType"] == "text/csv"
    capture = DataCaptureConfig(True, sampling_percentage=50).to_request("bucket")
    assert capture["DestinationS3Uri"] == "s3://bucket/model-monitor/data-capture"
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"]["CsvContentTypes"] == ["text/csv"]


@pytest.mark.parametrize(
    ("args", "uri"),
    [
        (("kmeans", "us-west-2"), "174872318107.dkr.ecr.us-west-2.amazonaws.com/kmeans:1"),
        (
            ("linear-learner", "us-east-1", "1"),
            "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
        ),
        (
            ("randomcutforest", "cn-north-1"),
            "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/randomcutforest:1",
        ),
        (("pca", "eu-west-1"), "438346466558.dkr.ecr.eu-west-1.amazonaws.com/pca:1"),
    ],
)
def test_first_party_image_uris_are_the_real_ones(args, uri):
    assert image_uris.retrieve(*args) == uri
    assert parse_image(uri).first_party == args[0]
    with pytest.raises(ValueError, match=f"Unsupported {args[0]} version: 2"):
        image_uris.retrieve(args[0], args[1], "2")
