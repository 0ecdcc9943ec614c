"""The built-in k-NN algorithm (image ``knn:1``) end to end through boto3: training
(classifier on CSV with a test channel, regressor on RecordIO over two sharded hosts),
metrics, serving in every format (verbose too), batch transform and refusals."""

import io
import json
import tarfile

import numpy as np
import pytest
from first_party_helpers import batch_transform, channel, train, wait

from simsage.algorithms import recordio

IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/knn:1"
ROLE = "arn:aws:iam::123456789012:role/R"
BUCKET = "knn-jobs"
CENTERS = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}


def _blobs(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=rows)
    return (CENTERS[labels] + rng.normal(scale=0.8, size=(rows, 3))).astype(np.float32), labels


def _csv(x: np.ndarray, y: np.ndarray | None = None) -> bytes:
    rows = x if y is None else np.column_stack([y, x])
    return "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in rows).encode()


def _channel(name, prefix, content_type="text/csv", sharded=False):
    return channel(BUCKET, name, prefix, content_type, sharded)


def _train(sm, name, channels, hyperparameters, count=1):
    hps = {"feature_dim": "3", "k": "5", "predictor_type": "classifier", "sample_size": "400"}
    hps.update(hyperparameters)
    return train(sm, IMAGE, BUCKET, name, channels, hps, count)


def _model(s3, described) -> tuple[dict, dict]:
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["knn-model.json", "knn-model.npz"]
        meta = json.load(tar.extractfile("knn-model.json"))
        with np.load(io.BytesIO(tar.extractfile("knn-model.npz").read())) as stored:
            arrays = {name: stored[name] for name in stored.files}
    return meta, arrays


@pytest.fixture
def env(simsage_local):
    session = simsage_local.session(region_name="us-west-2")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return s3, sm, session.client("sagemaker-runtime")


def test_classifier_on_csv_scores_the_test_channel_serves_and_transforms(env):
    s3, sm, runtime = env
    x, y = _blobs(600, 1)
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(x, y))
    test_x, test_y = _blobs(90, 2)
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(test_x, test_y))
    described = _train(sm, "knn-csv", [_channel("train", "train/"), _channel("test", "test/")],
                       {"index_type": "faiss.IVFFlat"})  # fmt: skip
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["test:accuracy"] > 0.95  # well separated blobs
    meta, arrays = _model(s3, described)
    assert (meta["k"], meta["sample_count"], meta["faiss_index_ivf_nlists"]) == (5, 400, 20)
    assert arrays["points"].shape == (400, 3) and set(arrays["labels"].tolist()) == {0, 1, 2}

    sm.create_model(
        ModelName="knn",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="knn-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "knn",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="knn", EndpointConfigName="knn-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="knn", WaiterConfig=FAST_WAIT)

    rows, truth = test_x[:6], test_y[:6].astype(float).tolist()
    answer = runtime.invoke_endpoint(EndpointName="knn", ContentType="text/csv", Body=_csv(rows))
    assert answer["ContentType"] == "application/json"
    assert [p["predicted_label"] for p in json.loads(answer["Body"].read())["predictions"]] == truth

    body = json.dumps({"instances": [{"features": r.tolist()} for r in rows]})
    answer = runtime.invoke_endpoint(EndpointName="knn", ContentType="application/json",
                                     Accept="application/json; verbose=true", Body=body)  # fmt: skip
    verbose = json.loads(answer["Body"].read())["predictions"]
    points, labels = arrays["points"].astype(float), arrays["labels"]
    for row, prediction in zip(rows, verbose, strict=True):
        squared = ((points - row) ** 2).sum(axis=1)
        nearest = np.argsort(squared)[:5]
        assert prediction["distances"] == pytest.approx(squared[nearest].tolist(), rel=1e-4)
        assert prediction["labels"] == labels[nearest].tolist()

    answer = runtime.invoke_endpoint(
        EndpointName="knn", ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio.write_dense(None, rows),
    )  # fmt: skip
    records = recordio.read_records(answer["Body"].read())
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == truth

    lines = "".join(json.dumps({"features": r.tolist()}) + "\n" for r in rows)
    answer = runtime.invoke_endpoint(EndpointName="knn", ContentType="application/jsonlines",
                                     Accept="text/csv", Body=lines)  # fmt: skip
    assert answer["Body"].read().decode().split() == [str(t) for t in truth]

    with pytest.raises(runtime.exceptions.ClientError) as error:  # wrong feature count
        runtime.invoke_endpoint(EndpointName="knn", ContentType="text/csv", Body=b"1,2\n")
    assert "feature_dim=3" in str(error.value)

    out = batch_transform(sm, s3, BUCKET, "knn", "in.jsonl", lines, "application/jsonlines")
    assert [json.loads(line)["predicted_label"] for line in out.splitlines()] == truth


def test_regressor_on_recordio_over_two_sharded_hosts(env):
    s3, sm, _ = env
    # The target is a smooth function of the features; each shard covers half the space,
    # so test records of both halves are predicted well only if both samples were merged.
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, size=(800, 3)).astype(np.float32)
    order = np.argsort(x[:, 0])
    x = x[order]
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1]
    s3.put_object(
        Bucket=BUCKET, Key="rio/part-1", Body=recordio.write_dense(None, x[:400], y[:400])
    )
    s3.put_object(
        Bucket=BUCKET, Key="rio/part-2", Body=recordio.write_dense(None, x[400:], y[400:])
    )
    test_x = rng.uniform(-3, 3, size=(100, 3)).astype(np.float32)
    test_y = np.sin(test_x[:, 0]) + 0.5 * test_x[:, 1]
    s3.put_object(Bucket=BUCKET, Key="rtest/t", Body=recordio.write_dense(None, test_x, test_y))
    rio = "application/x-recordio-protobuf"
    described = _train(
        sm, "knn-hosts",
        [_channel("train", "rio/", rio, sharded=True), _channel("test", "rtest/", rio)],
        {"predictor_type": "regressor", "sample_size": "600", "k": "4",
         "dimension_reduction_type": "fjlt", "dimension_reduction_target": "2"},
        count=2,
    )  # fmt: skip
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    meta, arrays = _model(s3, described)
    assert meta["sample_count"] == 600 and meta["dimension_reduction"]["type"] == "fjlt"
    labels = arrays["labels"]
    assert (labels < 0).sum() > 200 and (labels > 0).sum() > 200  # 300 from each shard's half
    mse = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}["test:mse"]
    assert mse < 0.5 * float(np.var(test_y))  # far better than predicting the mean


@pytest.mark.parametrize(
    ("hyperparameters", "data", "reason"),
    [
        ({"predictor_type": None}, None, "'predictor_type' is a required property"),
        (
            {"index_type": "faiss.IVFPQ", "index_metric": "INNER_PRODUCT"},
            None,
            "is not supported with index_type 'faiss.IVFPQ'",
        ),
        ({}, "unlabelled", "k-NN needs a label for every training record"),
    ],
)
def test_refusals_fail_the_job_with_a_client_error(env, hyperparameters, data, reason):
    s3, sm, _ = env
    x, y = _blobs(30, 6)
    if data == "unlabelled":
        s3.put_object(Bucket=BUCKET, Key="bad/a", Body=recordio.write_dense(None, x))
        channel = _channel("train", "bad/", "application/x-recordio-protobuf")
    else:
        s3.put_object(Bucket=BUCKET, Key="bad/a.csv", Body=_csv(x, y))
        channel = _channel("train", "bad/")
    described = _train(sm, "knn-bad", [channel], hyperparameters)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert reason in described["FailureReason"]


def test_tuning_maximises_test_accuracy_without_metric_definitions(env):
    s3, sm, _ = env
    x, y = _blobs(200, 8)
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(x, y))
    test_x, test_y = _blobs(60, 9)
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(test_x, test_y))
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="knn-tune",
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "test:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "k", "Values": ["3", "200"]}]
            },
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"feature_dim": "3", "predictor_type": "classifier",
                                      "sample_size": "200"},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [_channel("train", "train/"), _channel("test", "test/")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )  # fmt: skip
    seen = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="knn-tune"),
        "HyperParameterTuningJobStatus",
    )
    # k=200 votes over the whole sample (the majority class, ~1/3 right); k=3 wins.
    best = seen["BestTrainingJob"]
    assert best["TunedHyperParameters"]["k"] == "3"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "test:accuracy"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.9
