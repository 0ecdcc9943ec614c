"""The built-in k-means algorithm (image ``kmeans:1``) end to end through boto3: training
(CSV and RecordIO, one and two hosts), metrics, serving and batch transform."""

import io
import json
import tarfile
import time

import numpy as np
import pytest
from first_party_helpers import batch_transform, channel, train, wait

from simsage.algorithms import recordio

IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/kmeans:1"
ROLE = "arn:aws:iam::123456789012:role/R"
BUCKET = "km-jobs"
CENTERS = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 0.0], [0.0, 10.0, 10.0]])
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}


def _blobs(rows: int, seed: int, which=(0, 1, 2)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(which), size=rows)
    return (CENTERS[labels] + rng.normal(scale=0.3, size=(rows, 3))).astype(np.float32), labels


def _csv(x: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in x).encode()


def _channel(name, prefix, content_type="text/csv;label_size=0", sharded=False):
    return channel(BUCKET, name, prefix, content_type, sharded)


def _train(sm, name, channels, hyperparameters=None, count=1):
    hps = {"k": "3", "feature_dim": "3", "mini_batch_size": "50", "epochs": "3"}
    hps.update(hyperparameters or {})
    return train(sm, IMAGE, BUCKET, name, channels, hps, count)


def _centers(s3, described) -> np.ndarray:
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["kmeans-model.json"]
        model = json.load(tar.extractfile("kmeans-model.json"))
    return np.asarray(model["centers"])


def _matches_blobs(centers: np.ndarray) -> bool:
    """Each true blob center has exactly one learned center near it."""
    distances = np.linalg.norm(centers[:, None, :] - CENTERS[None, :, :], axis=2)
    return sorted(distances.argmin(axis=1).tolist()) == [0, 1, 2] and distances.min(1).max() < 1


@pytest.fixture
def env(simsage_local):
    session = simsage_local.session(region_name="us-west-2")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return s3, sm, session.client("sagemaker-runtime")


def test_trains_on_csv_reports_metrics_serves_and_transforms(env):
    s3, sm, runtime = env
    x, _ = _blobs(300, 1)
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(x))
    test_x, test_labels = _blobs(60, 2)
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(test_x))
    described = _train(
        sm,
        "km-csv",
        [_channel("train", "train/"), _channel("test", "test/")],
        {"eval_metrics": '["msd", "ssd"]', "init_method": "kmeans++"},
    )
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    # Noise of σ=0.3 in 3 dimensions: the squared distance to the right center is ~0.27.
    assert 0.1 < metrics["test:msd"] < 0.6
    assert metrics["test:ssd"] == pytest.approx(metrics["test:msd"] * 60, rel=1e-3)
    assert "train:msd" in metrics
    names = {d["Name"] for d in described["AlgorithmSpecification"]["MetricDefinitions"]}
    assert {"test:msd", "test:ssd"} <= names
    centers = _centers(s3, described)
    assert _matches_blobs(centers)

    sm.create_model(
        ModelName="km",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="km-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "km",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="km", EndpointConfigName="km-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="km", WaiterConfig=FAST_WAIT)

    rows = test_x[:4]
    answer = runtime.invoke_endpoint(EndpointName="km", ContentType="text/csv", Body=_csv(rows))
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())["predictions"]
    clusters = [p["closest_cluster"] for p in predictions]
    # The same true blob always maps to the same learned cluster, different blobs to others.
    expected = np.linalg.norm(rows[:, None, :] - centers[None], axis=2)
    assert clusters == [float(c) for c in expected.argmin(axis=1)]
    assert all(isinstance(c, float) for c in clusters)
    distances = [p["distance_to_cluster"] for p in predictions]
    assert distances == pytest.approx(expected.min(axis=1).tolist(), rel=1e-4)

    body = json.dumps({"instances": [{"features": r.tolist()} for r in rows]})
    answer = runtime.invoke_endpoint(
        EndpointName="km", ContentType="application/json", Accept="application/jsonlines",
        Body=body,
    )  # fmt: skip
    lines = [json.loads(line) for line in answer["Body"].read().splitlines()]
    assert [line["closest_cluster"] for line in lines] == clusters

    answer = runtime.invoke_endpoint(
        EndpointName="km", ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio.write_dense(None, rows),
    )  # fmt: skip
    records = recordio.read_records(answer["Body"].read())
    got = [r.label["closest_cluster"].float32_tensor.values[0] for r in records]
    assert got == clusters

    with pytest.raises(runtime.exceptions.ClientError) as error:  # wrong feature count
        runtime.invoke_endpoint(EndpointName="km", ContentType="text/csv", Body=b"1,2\n")
    assert "feature_dim=3" in str(error.value)

    out = batch_transform(sm, s3, BUCKET, "km", "in.csv", _csv(test_x), "text/csv")
    batch = [json.loads(line)["closest_cluster"] for line in out.splitlines() if line.strip()]
    assert len(batch) == 60
    # Records of one true blob share one cluster, and the three blobs get three clusters.
    mapping = {int(t): set() for t in test_labels}
    for label, cluster in zip(test_labels, batch, strict=True):
        mapping[int(label)].add(cluster)
    assert all(len(c) == 1 for c in mapping.values())
    assert len({next(iter(c)) for c in mapping.values()}) == 3


@pytest.mark.parametrize("hosts", [2, 3])  # 3: one host has no shard and adds nothing
def test_recordio_on_sharded_hosts_finds_every_blob(env, hosts):
    s3, sm, _ = env
    # Each shard holds two of the three blobs: only a correct merge finds all three.
    x1, _ = _blobs(200, 3, which=(0, 1))
    x2, _ = _blobs(200, 4, which=(1, 2))
    s3.put_object(Bucket=BUCKET, Key="rio/part-1", Body=recordio.write_dense(None, x1))
    s3.put_object(Bucket=BUCKET, Key="rio/part-2", Body=recordio.write_dense(None, x2))
    channel = _channel("train", "rio/", "application/x-recordio-protobuf", sharded=True)
    described = _train(sm, f"km-hosts-{hosts}", [channel], count=hosts)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert _matches_blobs(_centers(s3, described))


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"k": None}, "'k' is a required property"),
        ({"k": "three"}, "k: an integer"),
        ({"init_method": "best"}, "'best' is not one of ['random', 'kmeans++']"),
    ],
)
def test_bad_hyperparameter_fails_with_a_client_error(env, hyperparameters, reason):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(_blobs(20, 5)[0]))
    hps = {"k": "3", "feature_dim": "3"}
    hps.update(hyperparameters)
    hps = {key: value for key, value in hps.items() if value is not None}
    sm.create_training_job(
        TrainingJobName="km-bad",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters=hps,
        InputDataConfig=[_channel("train", "train/")],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    deadline = time.time() + 60
    while (described := sm.describe_training_job(TrainingJobName="km-bad"))[
        "TrainingJobStatus"
    ] not in ("Completed", "Failed") and time.time() < deadline:
        time.sleep(0.05)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert reason in described["FailureReason"]


def test_a_first_party_image_not_emulated_is_refused_at_create(env, monkeypatch):
    from simsage.runtime import images

    # Every catalog row is emulated today; one marked not emulated is refused, not run.
    monkeypatch.setitem(images.FIRST_PARTY_ALGORITHMS, "pca", None)
    pending = ["pca"]
    _, sm, _ = env
    with pytest.raises(sm.exceptions.ClientError) as error:
        sm.create_training_job(
            TrainingJobName="pending",
            RoleArn=ROLE,
            AlgorithmSpecification={
                "TrainingImage": f"382416733822.dkr.ecr.us-east-1.amazonaws.com/{pending[0]}:1",
                "TrainingInputMode": "File",
            },
            HyperParameters={"feature_dim": "3"},
            InputDataConfig=[_channel("train", "train/")],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "not yet emulated" in str(error.value)


def test_a_host_with_bad_data_fails_the_whole_job_with_its_reason(env):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="mixed/part-1.csv", Body=_csv(_blobs(50, 6)[0]))
    s3.put_object(Bucket=BUCKET, Key="mixed/part-2.csv", Body=b"1,2\n3,4\n")
    channel = _channel("train", "mixed/", sharded=True)
    described = _train(sm, "km-mixed", [channel], count=2)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert "feature_dim is 3" in described["FailureReason"]


def test_tuning_minimises_test_msd_without_metric_definitions(env):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(_blobs(150, 8)[0]))
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(_blobs(30, 9)[0]))
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="km-tune",
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "k", "Values": ["1", "3"]}]
            },
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"feature_dim": "3", "mini_batch_size": "50"},
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
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="km-tune"),
        "HyperParameterTuningJobStatus",
    )
    # k=1 is refused by the algorithm (k ≥ 2); k=3 fits the three blobs and wins.
    best = seen["BestTrainingJob"]
    assert best["TunedHyperParameters"]["k"] == "3"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "test:msd"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < 0.6
