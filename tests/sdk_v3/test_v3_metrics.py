"""The official SDK v3's ``sagemaker.core.analytics.TrainingJobAnalytics`` reads a
training job's metric series from simsage's CloudWatch, as a notebook plots a loss curve."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

pytest.importorskip("sagemaker.core.analytics")

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BUCKET = "v3-metrics"
SCRIPT = b"""
for epoch in range(1, 5):
    print(f"epoch {epoch}: loss={1 / epoch:.4f}", flush=True)
"""


def _source() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(SCRIPT)
        archive.addfile(info, io.BytesIO(SCRIPT))
    return buffer.getvalue()


def test_training_job_analytics_reads_the_loss_series(v3, role):
    from sagemaker.core.analytics import TrainingJobAnalytics
    from sagemaker.core.helper.session_helper import Session

    sm, s3 = v3.client("sagemaker"), v3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_source())
    sm.create_training_job(
        TrainingJobName="v3-loss",
        AlgorithmSpecification={
            "TrainingImage": SKLEARN,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        },
        RoleArn=role,
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    deadline = time.monotonic() + 60
    while sm.describe_training_job(TrainingJobName="v3-loss")["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    frame = TrainingJobAnalytics("v3-loss", sagemaker_session=Session()).dataframe()
    # The metric names come from the job's MetricDefinitions; one row per minute with data.
    assert set(frame["metric_name"]) == {"loss"}
    losses = [1 / epoch for epoch in range(1, 5)]
    assert len(frame) in (1, 2)
    assert all(min(losses) - 1e-4 <= value <= max(losses) + 1e-4 for value in frame["value"])
    if len(frame) == 1:
        assert frame["value"].iloc[0] == pytest.approx(sum(losses) / len(losses), abs=1e-3)
