"""The built-in linear learner (image ``linear-learner:1``) end to end through boto3: binary,
multiclass and regression training (CSV and RecordIO, one and two hosts), metrics,
refusals, serving in every format, batch transform and a tuning job."""

import io
import json
import tarfile

import numpy as np
import pytest
from first_party_helpers import batch_transform, channel, train, wait

from simsage.algorithms import recordio

IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/linear-learner:1"
ROLE = "arn:aws:iam::123456789012:role/R"
BUCKET = "ll-jobs"
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}
WEIGHTS = np.array([2.0, -1.0, 0.5, 0.0])


def _binary(rows: int, seed: int, intercept: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable: label 1 when x @ WEIGHTS + intercept > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype(np.float32) * np.float32([1, 3, 0.5, 2])
    return x, (x @ WEIGHTS + intercept > 0).astype(np.float64)


def _csv(x: np.ndarray, y: np.ndarray | None = None) -> bytes:
    rows = x if y is None else np.column_stack([y, x])
    return "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in rows).encode()


def _channel(name, prefix, content_type="text/csv", sharded=False):
    return channel(BUCKET, name, prefix, content_type, sharded)


def _train(sm, name, channels, hyperparameters, count=1):
    return train(
        sm, IMAGE, BUCKET, name, channels, {"mini_batch_size": "100", **hyperparameters}, count
    )


def _model(s3, described) -> dict:
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["linear-learner-model.json"]
        return json.load(tar.extractfile("linear-learner-model.json"))


def _metrics(described) -> dict[str, float]:
    return {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}


@pytest.fixture
def env(simsage_local):
    session = simsage_local.session(region_name="us-west-2")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return s3, sm, session.client("sagemaker-runtime")


def test_binary_csv_with_validation_and_test_serves_and_transforms(env):
    s3, sm, runtime = env
    for prefix, rows, seed in (("train", 1500, 1), ("validation", 300, 2), ("test", 300, 3)):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/d.csv", Body=_csv(*_binary(rows, seed)))
    described = _train(
        sm,
        "ll-binary",
        [_channel(c, f"{c}/") for c in ("train", "validation", "test")],
        {"predictor_type": "binary_classifier", "feature_dim": "4", "epochs": "10"},
    )
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = _metrics(described)
    assert metrics["test:binary_classification_accuracy"] >= 0.95
    assert metrics["validation:binary_classification_accuracy"] >= 0.95
    assert metrics["test:roc_auc_score"] >= 0.98
    assert 0 < metrics["test:objective_loss"] < 0.3
    assert {"validation:objective_loss", "train:objective_loss", "test:binary_f_beta",
            "test:precision", "test:recall"} <= set(metrics)  # fmt: skip
    model = _model(s3, described)
    assert model["predictor_type"] == "binary_classifier" and model["feature_dim"] == 4

    sm.create_model(
        ModelName="ll",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="ll-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "ll",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="ll", EndpointConfigName="ll-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ll", WaiterConfig=FAST_WAIT)

    x, y = _binary(50, 4)
    answer = runtime.invoke_endpoint(EndpointName="ll", ContentType="text/csv", Body=_csv(x))
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())["predictions"]
    labels = [p["predicted_label"] for p in predictions]
    assert all(isinstance(label, int) for label in labels)
    assert np.mean(np.array(labels) == y) >= 0.94
    scores = np.array([p["score"] for p in predictions])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert np.mean((scores > 0.5) == (y == 1)) >= 0.9  # the score is P(label 1)

    body = "".join(json.dumps({"features": r.tolist()}) + "\n" for r in x[:5])
    answer = runtime.invoke_endpoint(
        EndpointName="ll", ContentType="application/jsonlines", Accept="application/jsonlines",
        Body=body,
    )  # fmt: skip
    lines = [json.loads(line) for line in answer["Body"].read().splitlines()]
    assert [line["predicted_label"] for line in lines] == labels[:5]
    body = json.dumps(
        {"instances": [{"data": {"features": {"values": r.tolist()}}} for r in x[:5]]}
    )
    answer = runtime.invoke_endpoint(EndpointName="ll", ContentType="application/json", Body=body)
    assert [
        p["predicted_label"] for p in json.loads(answer["Body"].read())["predictions"]
    ] == labels[:5]
    answer = runtime.invoke_endpoint(
        EndpointName="ll", ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio.write_dense(None, x[:5]),
    )  # fmt: skip
    records = recordio.read_records(answer["Body"].read())
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == labels[:5]
    assert [r.label["score"].float32_tensor.values[0] for r in records] == pytest.approx(
        scores[:5].tolist(), rel=1e-3, abs=1e-4
    )
    answer = runtime.invoke_endpoint(
        EndpointName="ll", ContentType="text/csv", Accept="text/csv", Body=_csv(x[:2])
    )
    cells = [line.split(",") for line in answer["Body"].read().decode().splitlines()]
    assert [int(c[1]) for c in cells] == labels[:2]
    with pytest.raises(runtime.exceptions.ClientError) as error:  # wrong feature count
        runtime.invoke_endpoint(EndpointName="ll", ContentType="text/csv", Body=b"1,2\n")
    assert "feature_dim=4" in str(error.value)

    out = batch_transform(sm, s3, BUCKET, "ll", "in.csv", _csv(x), "text/csv")
    batch = [json.loads(line)["predicted_label"] for line in out.splitlines() if line.strip()]
    assert batch == labels


def test_multiclass_recordio_learns_the_blobs(env):
    s3, sm, _ = env
    centers = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 6.0], [6.0, 0.0]])
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=800)
    x = (centers[labels] + rng.normal(size=(800, 2))).astype(np.float32)
    s3.put_object(Bucket=BUCKET, Key="mc/train", Body=recordio.write_dense(None, x[:600],
                                                                         labels[:600]))  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key="mc-test/t", Body=recordio.write_dense(None, x[600:],
                                                                           labels[600:]))  # fmt: skip
    rio = "application/x-recordio-protobuf"
    described = _train(
        sm,
        "ll-multiclass",
        [_channel("train", "mc/", rio), _channel("test", "mc-test/", rio)],
        {"predictor_type": "multiclass_classifier", "num_classes": "4", "epochs": "8"},
    )
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = _metrics(described)
    assert metrics["test:multiclass_accuracy"] >= 0.95
    assert metrics["test:multiclass_top_k_accuracy"] == pytest.approx(1.0, abs=0.01)
    assert metrics["test:macro_f_beta"] >= 0.95 and metrics["test:dcg"] >= 0.95
    model = _model(s3, described)
    assert model["num_classes"] == 4 and np.asarray(model["weights"]).shape == (2, 4)


def test_regressor_matches_least_squares_and_refuses_sharded_validation(env):
    from sklearn.linear_model import LinearRegression

    s3, sm, _ = env
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(1200, 5)) * [1, 10, 100, 0.1, 3] + 50).astype(np.float32)
    y = x.astype(np.float64) @ np.array([3.0, -0.2, 0.01, 20.0, 1.0]) + 40 + rng.normal(size=1200)
    s3.put_object(Bucket=BUCKET, Key="reg/train.csv", Body=_csv(x[:1000], y[:1000]))
    s3.put_object(Bucket=BUCKET, Key="reg-val/val.csv", Body=_csv(x[1000:], y[1000:]))
    hps = {"predictor_type": "regressor", "epochs": "20"}
    described = _train(
        sm, "ll-regressor", [_channel("train", "reg/"), _channel("validation", "reg-val/")], hps
    )
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    reference = LinearRegression().fit(x[:1000], y[:1000]).score(x[1000:], y[1000:])
    metrics = _metrics(described)
    assert metrics["validation:r2"] > reference - 0.02
    assert metrics["validation:rmse"] == pytest.approx(metrics["validation:mse"] ** 0.5)
    assert metrics["validation:mse"] < 2.0  # the noise variance is 1

    described = _train(
        sm,
        "ll-sharded-validation",
        [_channel("train", "reg/"), _channel("validation", "reg-val/", sharded=True)],
        hps,
    )
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert "'ShardedByS3Key' is not one of ['FullyReplicated']" in described["FailureReason"]


@pytest.mark.parametrize("hosts", [2, 3])  # 3: one host has no shard and adds nothing
def test_sharded_hosts_train_one_model(env, hosts):
    s3, sm, _ = env
    x1, y1 = _binary(600, 7)
    x2, y2 = _binary(600, 8)
    s3.put_object(Bucket=BUCKET, Key="shards/part-1", Body=recordio.write_dense(None, x1, y1))
    s3.put_object(Bucket=BUCKET, Key="shards/part-2", Body=recordio.write_dense(None, x2, y2))
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(*_binary(300, 9)))
    described = _train(
        sm,
        f"ll-hosts-{hosts}",
        [_channel("train", "shards/", "application/x-recordio-protobuf", sharded=True),
         _channel("test", "test/")],
        {"predictor_type": "binary_classifier", "epochs": "6"},
        count=hosts,
    )  # fmt: skip
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert _metrics(described)["test:binary_classification_accuracy"] >= 0.95


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({}, "'predictor_type' is a required property"),
        ({"predictor_type": "multiclass_classifier"}, "'num_classes' is a required property"),
        ({"predictor_type": "binary_classifier", "loss": "squared_loss"},
         "loss 'squared_loss' is not valid for predictor_type 'binary_classifier'"),
        ({"predictor_type": "regressor", "quantile": "1"}, "maximum of 1 (quantile)"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_fail_with_a_client_error(env, hyperparameters, reason):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/d.csv", Body=_csv(*_binary(20, 10)))
    described = _train(sm, "ll-bad", [_channel("train", "train/")], hyperparameters)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: Unable to initialize the algorithm")
    assert reason in described["FailureReason"]


@pytest.mark.parametrize(
    ("content_type", "labels", "reason"),
    [
        ("text/csv", 2.0, "labels must be 0 or 1"),
        ("csv", 1.0, "No iterator has been registered for ContentType ('csv', '1.0')"),
    ],
)
def test_bad_labels_and_content_types_fail_with_a_client_error(env, content_type, labels,
                                                               reason):  # fmt: skip
    s3, sm, _ = env
    x, _ = _binary(20, 11)
    s3.put_object(Bucket=BUCKET, Key="train/d.csv", Body=_csv(x, np.full(20, labels)))
    described = _train(
        sm, "ll-labels", [_channel("train", "train/", content_type)],
        {"predictor_type": "binary_classifier"},
    )  # fmt: skip
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert reason in described["FailureReason"]


def test_tuning_minimises_validation_objective_loss_without_metric_definitions(env):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/d.csv", Body=_csv(*_binary(400, 12, 3.0)))
    s3.put_object(Bucket=BUCKET, Key="validation/d.csv", Body=_csv(*_binary(200, 13, 3.0)))
    objective = "validation:objective_loss"
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="ll-tune",
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": objective},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "use_bias", "Values": ["true", "false"]}]
            },
        },
        TrainingJobDefinition={
            # Early stopping and model selection on the loss (the default, accuracy, stops
            # as soon as the separable data are classified right).
            "StaticHyperParameters": {"predictor_type": "binary_classifier", "epochs": "15",
                                      "mini_batch_size": "50",
                                      "binary_classifier_model_selection_criteria":
                                      "loss_function"},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [_channel("train", "train/"), _channel("validation", "validation/")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )  # fmt: skip
    seen = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="ll-tune"),
        "HyperParameterTuningJobStatus",
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed"
    best = seen["BestTrainingJob"]
    final = best["FinalHyperParameterTuningJobObjectiveMetric"]
    assert final["MetricName"] == objective and final["Value"] < 0.3
    # The boundary has a large intercept: only the model with a bias fits the probabilities
    # (accuracy would not tell: the decision threshold chosen in training stands in for it).
    assert best["TunedHyperParameters"]["use_bias"] == "true"
