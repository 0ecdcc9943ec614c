"""The official SageMaker Python SDK (v2), unmodified, runs its classic flow on simsage.

The test body is what a learner's notebook does: ``sagemaker.Session()``,
``default_bucket``, ``upload_data``, ``image_uris.retrieve``, ``Estimator.fit`` with
``TrainingInput`` channels, ``deploy`` with a ``CSVSerializer``, ``predict``,
``transformer(...).transform(...)`` and ``delete_endpoint``. The only difference from a
notebook is the ``simsage_local`` fixture, which activates simsage so every boto3 client
the SDK creates is answered in-process (``isolated_sdk`` and ``fast_sdk_polls``: conftest.py).

Needs the ``official-sdk`` extra (part of ``test``); without it the module is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sdk_helpers import dataset, write_csv

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.s3 import S3Downloader  # noqa: E402
from sagemaker.serializers import CSVSerializer  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"


def test_classic_xgboost_flow(simsage_local, isolated_sdk, fast_sdk_polls, tmp_path, capsys):
    # --- the notebook ---------------------------------------------------------------
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    assert bucket == "sagemaker-us-east-1-123456789012"

    x_train, y_train = dataset(400, seed=1)
    x_val, y_val = dataset(100, seed=2)
    x_test, y_test = dataset(50, seed=3)
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    (tmp_path / "batch").mkdir()
    write_csv(tmp_path / "train" / "train.csv", x_train, y_train)
    write_csv(tmp_path / "validation" / "validation.csv", x_val, y_val)
    write_csv(tmp_path / "batch" / "batch.csv", x_test)

    prefix = "xgboost-demo"
    train_uri = sess.upload_data(str(tmp_path / "train"), bucket, f"{prefix}/train")
    val_uri = sess.upload_data(str(tmp_path / "validation"), bucket, f"{prefix}/validation")
    batch_uri = sess.upload_data(str(tmp_path / "batch"), bucket, f"{prefix}/batch")
    assert train_uri == f"s3://{bucket}/{prefix}/train"

    image_uri = image_uris.retrieve("xgboost", "us-east-1", "1.7-1")
    estimator = Estimator(
        image_uri,
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        output_path=f"s3://{bucket}/{prefix}/out",
        sagemaker_session=sess,
    )
    estimator.set_hyperparameters(objective="binary:logistic", num_round=20)
    estimator.fit(
        {
            "train": TrainingInput(s3_data=train_uri, content_type="text/csv"),
            "validation": TrainingInput(s3_data=val_uri, content_type="text/csv"),
        },
        logs=True,
    )

    # fit tailed the job's CloudWatch stream: the algorithm's own evaluation lines.
    printed = capsys.readouterr().out
    assert "[19]#011train-logloss:" in printed and "#011validation-logloss:" in printed
    assert "Billable seconds:" in printed

    # The model is a real archive in simsage's S3.
    job_name = estimator.latest_training_job.name
    assert estimator.model_data == f"s3://{bucket}/{prefix}/out/{job_name}/output/model.tar.gz"
    s3 = simsage_local.client("s3")
    head = s3.head_object(Bucket=bucket, Key=f"{prefix}/out/{job_name}/output/model.tar.gz")
    assert head["ContentLength"] > 0

    # A later notebook picks the finished job up again by name.
    attached = Estimator.attach(job_name, sagemaker_session=sess)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters()["num_round"] == "20"

    predictor = estimator.deploy(
        initial_instance_count=1, instance_type=INSTANCE, serializer=CSVSerializer()
    )
    raw = predictor.predict(x_test)
    scores = np.array([float(v) for v in raw.decode().split()], dtype=float)
    assert scores.shape == (len(x_test),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[y_test == 1].mean() > scores[y_test == 0].mean() + 0.3

    transformer = estimator.transformer(
        instance_count=1, instance_type=INSTANCE, output_path=f"s3://{bucket}/{prefix}/batch-out"
    )
    transformer.transform(batch_uri, content_type="text/csv", split_type="Line")
    transformer.wait()

    outputs = S3Downloader.list(f"s3://{bucket}/{prefix}/batch-out", sagemaker_session=sess)
    assert outputs == [f"s3://{bucket}/{prefix}/batch-out/batch.csv.out"]
    out = S3Downloader.read_file(outputs[0], sagemaker_session=sess)
    batch_scores = np.array([float(v) for v in out.split()], dtype=float)
    np.testing.assert_allclose(batch_scores, scores, rtol=1e-5)

    endpoint_name = predictor.endpoint_name
    config = sess.sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint_name)
    model_names = [config["ProductionVariants"][0]["ModelName"], transformer.model_name]
    sess.delete_endpoint(endpoint_name)
    sess.delete_endpoint_config(endpoint_name)
    for model_name in model_names:
        sess.delete_model(model_name)

    # --- what it left behind ----------------------------------------------------------
    sm = simsage_local.client("sagemaker")
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    with pytest.raises(ClientError) as caught:
        sm.describe_endpoint(EndpointName=endpoint_name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []


TRAIN_SCRIPT = """\
import argparse
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    model = LogisticRegression(C=args.C).fit(data[:, 1:], data[:, 0])
    print(f"train accuracy: {model.score(data[:, 1:], data[:, 0]):.3f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return model.predict_proba(data)[:, 1]
"""


def test_sklearn_script_mode_flow(simsage_local, isolated_sdk, fast_sdk_polls, tmp_path, capsys):
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.sklearn import SKLearn

    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT)
    (tmp_path / "train").mkdir()
    x_train, y_train = dataset(300, seed=4)
    x_test, y_test = dataset(40, seed=5)
    write_csv(tmp_path / "train" / "train.csv", x_train, y_train)

    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    train_uri = sess.upload_data(str(tmp_path / "train"), bucket, "sklearn-demo/train")

    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        hyperparameters={"C": 0.5},
        sagemaker_session=sess,
    )
    estimator.fit({"train": TrainingInput(train_uri, content_type="text/csv")}, logs=True)
    assert "train accuracy: " in capsys.readouterr().out  # the script's print, via the logs
    assert estimator.model_data.endswith(
        f"/{estimator.latest_training_job.name}/output/model.tar.gz"
    )

    predictor = estimator.deploy(
        initial_instance_count=1,
        instance_type=INSTANCE,
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    rows = predictor.predict(x_test)
    scores = np.array([float(v) for row in rows for v in row])
    assert scores.shape == (len(x_test),)
    assert scores[y_test == 1].mean() > scores[y_test == 0].mean() + 0.3

    predictor.delete_model()  # before the endpoint config that names the model is gone
    predictor.delete_endpoint()
    sm = simsage_local.client("sagemaker")
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
