"""The built-in XGBoost algorithm through CreateTrainingJob: real runner, real processes."""

import io
import tarfile
import time

import numpy as np
import xgboost

IMAGE = "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"
LEGACY_IMAGE = "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:1"  # XGBoost 0.72
BUCKET = "xgb-jobs"


def _csv(rows: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    lines = [
        ",".join([str(label), *(f"{v:.4f}" for v in row)]) for label, row in zip(y, x, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def _channel(name: str, prefix: str, sharded: bool = False) -> dict:
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{BUCKET}/{prefix}",
                "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
            }
        },
    }


def _create(sm, name, hyperparameters, channels, count=1, image=IMAGE):
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/R",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters=hyperparameters,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )


def _wait(sm, name):
    deadline = time.time() + 120
    while time.time() < deadline:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish")


def _log_messages(logs, job: str, host: str = "algo-1") -> list[str]:
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job}/{host}-"
    )["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    return [e["message"] for e in events]


def _setup(simsage_local):
    session = simsage_local.session(region_name="us-west-2")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for i in range(2):
        s3.put_object(Bucket=BUCKET, Key=f"train/part-{i}.csv", Body=_csv(400, seed=i))
    s3.put_object(Bucket=BUCKET, Key="validation/v.csv", Body=_csv(200, seed=9))
    return s3, sm, session.client("logs")


def test_builtin_xgboost_trains_reports_metrics_and_stores_a_loadable_model(
    simsage_local, tmp_path
):
    s3, sm, logs = _setup(simsage_local)
    hps = {
        "num_round": "20",
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "max_depth": "3",
    }
    _create(sm, "xgb-ok", hps, [_channel("train", "train/"), _channel("validation", "validation/")])
    described = _wait(sm, "xgb-ok")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobArn"].startswith("arn:aws:sagemaker:us-west-2:")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:auc"] > 0.9
    assert "train:auc" in metrics
    names = {d["Name"] for d in described["AlgorithmSpecification"]["MetricDefinitions"]}
    assert "validation:auc" in names

    uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/models/xgb-ok/output/model.tar.gz"
    body = s3.get_object(Bucket=BUCKET, Key="models/xgb-ok/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        tar.extractall(tmp_path, filter="data")
    booster = xgboost.Booster()
    booster.load_model(str(tmp_path / "xgboost-model"))
    assert booster.num_boosted_rounds() == 20

    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="xgb-ok/"
    )["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    rounds = [e["message"] for e in events if e["message"].startswith("[19]")]
    assert rounds and "#011train-auc:" in rounds[0] and "#011validation-auc:" in rounds[0]


def test_invalid_hyperparameter_fails_the_job_naming_it(simsage_local):
    _, sm, _ = _setup(simsage_local)
    _create(sm, "xgb-bad", {"num_round": "ten"}, [_channel("train", "train/")])
    described = _wait(sm, "xgb-bad")
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert "num_round" in described["FailureReason"]


def test_distributed_training_over_sharded_data(simsage_local):
    _, sm, _ = _setup(simsage_local)
    hps = {"num_round": "10", "objective": "binary:logistic", "eval_metric": "error"}
    channels = [_channel("train", "train/", sharded=True), _channel("validation", "validation/")]
    _create(sm, "xgb-two", hps, channels, count=2)
    described = _wait(sm, "xgb-two")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]  # per instance
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:error"] < 0.2


def test_legacy_image_trains_exact_on_two_hosts_with_the_approximate_method(simsage_local):
    """The 0.72 container trained tree_method=exact on several hosts with its approximate
    algorithm; XGBoost 3 refuses exact there, so the job runs approx and says so. Its
    other 0.72 spellings (silent, reg:linear) are mapped and logged too."""
    _, sm, logs = _setup(simsage_local)
    hps = {
        "num_round": "10",
        "objective": "reg:linear",
        "tree_method": "exact",
        "silent": "1",
        "eval_metric": "rmse",
    }
    channels = [_channel("train", "train/", sharded=True), _channel("validation", "validation/")]
    _create(sm, "xgb-legacy", hps, channels, count=2, image=LEGACY_IMAGE)
    described = _wait(sm, "xgb-legacy")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:rmse"] < 0.45  # labels are 0/1: better than a constant
    for host in ("algo-1", "algo-2"):
        messages = _log_messages(logs, "xgb-legacy", host)
        assert any("training with tree_method 'approx' on 2 hosts" in m for m in messages)
        assert any("training with objective reg:squarederror" in m for m in messages)
        assert any("silent=1 is verbosity=0" in m for m in messages)


def test_modern_image_fails_exact_on_two_hosts_at_once_with_xgboost_s_reason(simsage_local):
    """The 1.x containers run XGBoost's own check: exact does not train on several hosts.
    The job fails at once with XGBoost's message (no host waits for a peer that has gone)."""
    _, sm, logs = _setup(simsage_local)
    hps = {"num_round": "10", "objective": "binary:logistic", "tree_method": "exact"}
    _create(sm, "xgb-exact-two", hps, [_channel("train", "train/", sharded=True)], count=2)
    described = _wait(sm, "xgb-exact-two")
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: XGB train call failed")
    assert "doesn't support distributed training" in described["FailureReason"]
    # The first host to fail reports it; the other may be stopped before it gets there.
    reported = [
        any("Reporting training FAILURE" in m for m in _log_messages(logs, "xgb-exact-two", host))
        for host in ("algo-1", "algo-2")
    ]
    assert any(reported)
