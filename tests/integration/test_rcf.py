"""The built-in random cut forest (image ``randomcutforest:1``) end to end through boto3:
training (CSV with a labelled test channel, RecordIO on two sharded hosts), test metrics,
serving in every format, batch transform and a refused hyperparameter."""

import io
import json
import tarfile
import time

import numpy as np
import pytest
from first_party_helpers import batch_transform, channel, train

from simsage.algorithms import recordio

IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/randomcutforest:1"
ROLE = "arn:aws:iam::123456789012:role/R"
BUCKET = "rcf-jobs"
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}
HPS = {"feature_dim": "3", "num_trees": "50", "num_samples_per_tree": "128"}


def _normal(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, 3)).astype(np.float32)


def _anomalies(rows: int, seed: int) -> np.ndarray:
    direction = np.random.default_rng(seed).normal(size=(rows, 3))
    return (9 * direction / np.linalg.norm(direction, axis=1, keepdims=True)).astype(np.float32)


def _csv(x: np.ndarray, labels=None) -> bytes:
    rows = x if labels is None else np.column_stack([labels, x])
    return "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in rows).encode()


def _channel(name, prefix, content_type="text/csv;label_size=0", sharded=True):
    return channel(BUCKET, name, prefix, content_type, sharded)


def _train(sm, name, channels, hyperparameters=None, count=1):
    return train(sm, IMAGE, BUCKET, name, channels, {**HPS, **(hyperparameters or {})}, count)


def _model(s3, described) -> dict:
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["randomcutforest-model.json"]
        return json.load(tar.extractfile("randomcutforest-model.json"))


@pytest.fixture
def env(simsage_local):
    session = simsage_local.session(region_name="us-west-2")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return s3, sm, session.client("sagemaker-runtime")


def test_trains_on_csv_reports_test_f1_serves_and_transforms(env):
    s3, sm, runtime = env
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(_normal(1500, 1)))
    test_x = np.vstack([_normal(300, 2), _anomalies(6, 3)])
    labels = np.r_[np.zeros(300), np.ones(6)]
    s3.put_object(Bucket=BUCKET, Key="test/t.csv", Body=_csv(test_x, labels))
    described = _train(
        sm,
        "rcf-csv",
        [_channel("train", "train/", sharded=False),
         _channel("test", "test/", "text/csv;label_size=1", sharded=False)],
    )  # fmt: skip
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["test:recall"] == 1.0  # every injected anomaly is above the cutoff
    # Gaussian tails: mean + 3σ of the scores flags a few percent of normal records too.
    assert metrics["test:f1"] > 0.4 and metrics["test:accuracy"] > 0.95
    names = {d["Name"] for d in described["AlgorithmSpecification"]["MetricDefinitions"]}
    assert {"test:f1", "test:accuracy", "test:precision", "test:recall"} <= names
    model = _model(s3, described)
    assert model["num_trees"] == 50 and model["score_cutoff"] > 0.5

    sm.create_model(
        ModelName="rcf",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="rcf-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "rcf",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="rcf", EndpointConfigName="rcf-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="rcf", WaiterConfig=FAST_WAIT)

    rows = np.vstack([_normal(3, 4), _anomalies(1, 5)])
    answer = runtime.invoke_endpoint(EndpointName="rcf", ContentType="text/csv", Body=_csv(rows))
    assert answer["ContentType"] == "application/json"
    scores = [s["score"] for s in json.loads(answer["Body"].read())["scores"]]
    assert len(scores) == 4 and scores[3] > model["score_cutoff"] > max(scores[:3])

    body = json.dumps({"instances": [{"features": r.tolist()} for r in rows]})
    answer = runtime.invoke_endpoint(
        EndpointName="rcf", ContentType="application/json", Accept="application/jsonlines",
        Body=body,
    )  # fmt: skip
    lines = [json.loads(line) for line in answer["Body"].read().splitlines()]
    assert [line["score"] for line in lines] == pytest.approx(scores)

    answer = runtime.invoke_endpoint(
        EndpointName="rcf", ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio.write_dense(None, rows),
    )  # fmt: skip
    records = recordio.read_records(answer["Body"].read())
    got = [r.label["score"].float32_tensor.values[0] for r in records]
    assert got == pytest.approx(scores, rel=1e-6)

    answer = runtime.invoke_endpoint(
        EndpointName="rcf", ContentType="application/jsonlines", Accept="text/csv",
        Body="".join(json.dumps({"features": r.tolist()}) + "\n" for r in rows),
    )  # fmt: skip
    assert [float(v) for v in answer["Body"].read().split()] == pytest.approx(scores)

    with pytest.raises(runtime.exceptions.ClientError) as error:  # wrong feature count
        runtime.invoke_endpoint(EndpointName="rcf", ContentType="text/csv", Body=b"1,2\n")
    assert "feature_dim=3" in str(error.value)

    out = batch_transform(
        sm, s3, BUCKET, "rcf", "in.csv", _csv(test_x), "text/csv", BatchStrategy="MultiRecord"
    )
    batch = np.array([json.loads(line)["score"] for line in out.splitlines() if line.strip()])
    assert len(batch) == 306
    flagged = batch > model["score_cutoff"]
    assert flagged[300:].all() and flagged[:300].mean() < 0.05


@pytest.mark.parametrize("sharded", [True, False])
def test_recordio_on_two_hosts_samples_all_the_data(env, sharded):
    s3, sm, _ = env
    # Sharded, each host holds one blob: only a merge of both hosts' samples knows both.
    # Replicated, every host holds both and the first host's sample alone is used.
    left, right = _normal(600, 6) - 10, _normal(600, 7) + 10
    s3.put_object(Bucket=BUCKET, Key="rio/part-1", Body=recordio.write_dense(None, left))
    s3.put_object(Bucket=BUCKET, Key="rio/part-2", Body=recordio.write_dense(None, right))
    channel = _channel("train", "rio/", "application/x-recordio-protobuf", sharded=sharded)
    described = _train(sm, f"rcf-hosts-{sharded}".lower(), [channel], count=2)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    from simsage.algorithms import rcf_forest as rf

    model = _model(s3, described)
    forest = rf.Forest.from_arrays(rf.decode(model["forest"]))
    share = (forest.points[:, 0] > 0).mean()
    assert 0.4 < share < 0.6  # about half of every tree's sample from each shard
    scores = forest.score(np.vstack([_normal(50, 8) - 10, _normal(50, 9) + 10, [[0, 0, 0]]]))
    # Both blobs are known (a few Gaussian tail records pass mean + 3σ); the gap is not.
    assert (scores[:100] > model["score_cutoff"]).mean() <= 0.05
    assert scores[100] > model["score_cutoff"]


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"num_trees": "10"}, "less than the minimum of 50 (num_trees)"),
        ({"feature_dim": None}, "'feature_dim' is a required property"),
    ],
)
def test_bad_hyperparameter_fails_with_a_client_error(env, hyperparameters, reason):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(_normal(20, 10)))
    hps = {key: value for key, value in {**HPS, **hyperparameters}.items() if value is not None}
    sm.create_training_job(
        TrainingJobName="rcf-bad",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters=hps,
        InputDataConfig=[_channel("train", "train/")],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    deadline = time.time() + 60
    while (described := sm.describe_training_job(TrainingJobName="rcf-bad"))[
        "TrainingJobStatus"
    ] not in ("Completed", "Failed") and time.time() < deadline:
        time.sleep(0.05)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert reason in described["FailureReason"]
