"""What simsage itself publishes to CloudWatch metrics: a training job's metric values as
series in ``/aws/sagemaker/TrainingJobs`` while it runs (by TrainingJobName, as the
console and the official SDK's ``TrainingJobAnalytics`` read them, and by Host) and its
hosts' CPU and memory utilization, read through boto3's ``cloudwatch`` client and the
official SDK v2, unmodified."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import time

import pytest

from simsage.home import Home
from simsage.store.metrics import MetricStore

sagemaker = pytest.importorskip("sagemaker")

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-metrics"
NAMESPACE = "/aws/sagemaker/TrainingJobs"
EPOCHS = 5

# Each host prints one loss per epoch (algo-2's twice algo-1's), then waits to be stopped.
SCRIPT = r"""
import os, time
scale = int(os.environ["SM_CURRENT_HOST"].split("-")[1])
for epoch in range(1, 6):
    print(f"epoch {epoch}: loss={scale / epoch:.4f}", flush=True)
while True:
    time.sleep(0.05)
"""


def losses(host: int) -> list[float]:
    return [round(host / epoch, 4) for epoch in range(1, EPOCHS + 1)]


def _source() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(SCRIPT.encode())
        archive.addfile(info, io.BytesIO(SCRIPT.encode()))
    return buffer.getvalue()


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def stopped_job(simsage_local):
    """A two-host script-mode job whose metrics were seen while it ran, then stopped;
    its description."""
    sm, s3 = simsage_local.client("sagemaker"), simsage_local.client("s3")
    cw = simsage_local.client("cloudwatch")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_source())
    name = "metrics-published"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": SKLEARN,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        },
        RoleArn=ROLE,
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )

    def hosts_of(metric: str) -> set[str]:
        metrics = cw.list_metrics(Namespace=NAMESPACE, MetricName=metric)["Metrics"]
        return {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Host"}

    everyone = {f"{name}/algo-1", f"{name}/algo-2"}
    wait_for(lambda: hosts_of("loss") == everyone, "the loss series of both hosts")
    # The hosts' instance metrics too (CPU needs a second sample, a few seconds later).
    wait_for(lambda: hosts_of("CPUUtilization") == everyone, "CPUUtilization of both hosts")
    assert hosts_of("MemoryUtilization") == everyone
    listed = cw.list_metrics(Namespace=NAMESPACE, MetricName="loss")["Metrics"]
    # Visible while the job runs, as on AWS.
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
    assert [{"Name": "TrainingJobName", "Value": name}] in [m["Dimensions"] for m in listed]
    sm.stop_training_job(TrainingJobName=name)
    return wait_for(
        lambda: (
            (d := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"]
            in ("Stopped", "Failed", "Completed")
            and d
        ),
        "the job to stop",
    )


def totals(cw, job: dict, dimension: dict) -> dict[str, float]:
    """SampleCount, Sum, Minimum and Maximum over the job's whole run."""
    points = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="loss",
        Dimensions=[dimension],
        StartTime=job["TrainingStartTime"],
        EndTime=job["TrainingEndTime"] + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )["Datapoints"]
    return {
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Sum": round(sum(p["Sum"] for p in points), 6),
        "Minimum": min(p["Minimum"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
    }


def test_training_metrics_are_series_by_job_and_by_host(simsage_local, stopped_job, isolated_sdk):
    cw = simsage_local.client("cloudwatch")
    name = stopped_job["TrainingJobName"]
    assert stopped_job["TrainingJobStatus"] == "Stopped"
    for host in (1, 2):
        assert totals(cw, stopped_job, {"Name": "Host", "Value": f"{name}/algo-{host}"}) == {
            "SampleCount": EPOCHS,
            "Sum": round(sum(losses(host)), 6),
            "Minimum": min(losses(host)),
            "Maximum": max(losses(host)),
        }
    everything = losses(1) + losses(2)
    assert totals(cw, stopped_job, {"Name": "TrainingJobName", "Value": name}) == {
        "SampleCount": 2 * EPOCHS,
        "Sum": round(sum(everything), 6),
        "Minimum": min(everything),
        "Maximum": max(everything),
    }
    memory = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="MemoryUtilization",
        Dimensions=[{"Name": "Host", "Value": f"{name}/algo-1"}],
        StartTime=stopped_job["TrainingStartTime"],
        EndTime=stopped_job["TrainingEndTime"] + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert memory and all(0 < p["Maximum"] < 100 and p["Unit"] == "Percent" for p in memory)

    # Each epoch's value, in order: what a tuning job's early stopping reads.
    store = MetricStore(Home.open(simsage_local.config))
    series = store.series(NAMESPACE, "loss", {"Host": f"{name}/algo-2"})
    assert [value for _, value in series] == losses(2)

    # The official SDK's TrainingJobAnalytics reads the same datapoints.
    from sagemaker.analytics import TrainingJobAnalytics

    frame = TrainingJobAnalytics(
        name, metric_names=["loss"], sagemaker_session=sagemaker.Session()
    ).dataframe()
    averages = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="loss",
        Dimensions=[{"Name": "TrainingJobName", "Value": name}],
        StartTime=stopped_job["TrainingStartTime"],
        EndTime=stopped_job["TrainingEndTime"] + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Average"],
    )["Datapoints"]
    expected = [p["Average"] for p in sorted(averages, key=lambda p: p["Timestamp"])]
    assert list(frame.columns) == ["timestamp", "metric_name", "value"]
    assert list(frame["metric_name"]) == ["loss"] * len(expected)
    assert list(frame["value"]) == pytest.approx(expected)
    assert frame["timestamp"].iloc[0] == 0.0


def test_a_processing_job_publishes_its_hosts_memory_utilization(simsage_local):
    sm = simsage_local.client("sagemaker")
    cw = simsage_local.client("cloudwatch")
    sm.create_processing_job(
        ProcessingJobName="usage",
        RoleArn=ROLE,
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            }
        },
        AppSpecification={
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", "-c", "import time; time.sleep(1)"],
        },
    )
    job = wait_for(
        lambda: (
            (d := sm.describe_processing_job(ProcessingJobName="usage"))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        "the processing job",
    )
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    (point,) = cw.get_metric_statistics(
        Namespace="/aws/sagemaker/ProcessingJobs",
        MetricName="MemoryUtilization",
        Dimensions=[{"Name": "Host", "Value": "usage/algo-1"}],
        StartTime=job["ProcessingStartTime"] - dt.timedelta(minutes=1),
        EndTime=job["ProcessingEndTime"] + dt.timedelta(minutes=1),
        Period=180,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert 0 < point["Maximum"] < 100 and point["Unit"] == "Percent"
