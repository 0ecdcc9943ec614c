"""``simsage training`` commands against a real (script-mode) training job."""

import io
import json
import tarfile
import time

from click.testing import CliRunner

from simsage.cli import main

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = b"""
import os, sys, time
print("hello\\tfrom the job")
if os.environ.get("SLEEP"):
    time.sleep(60)
open(os.path.join(os.environ["SM_MODEL_DIR"], "m.txt"), "w").write("ok")
"""


def _sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(SCRIPT)
        tar.addfile(info, io.BytesIO(SCRIPT))
    return buffer.getvalue()


def _create(sm, name: str, environment: dict) -> None:
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/R",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps("s3://cli-bucket/src/sourcedir.tar.gz"),
        },
        Environment=environment,
        OutputDataConfig={"S3OutputPath": "s3://cli-bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    )


def _wait(sm, name: str, statuses=("Completed", "Failed", "Stopped")) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in statuses:
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} did not reach {statuses}")


def test_ls_describe_logs_and_stop(simsage_local, monkeypatch):
    monkeypatch.setenv("SIMSAGE_STOP_GRACE_SECONDS", "1")
    s3, sm = simsage_local.client("s3"), simsage_local.client("sagemaker")
    s3.create_bucket(Bucket="cli-bucket")
    s3.put_object(Bucket="cli-bucket", Key="src/sourcedir.tar.gz", Body=_sourcedir())
    _create(sm, "cli-done", {})
    _create(sm, "cli-sleeper", {"SLEEP": "1"})
    assert _wait(sm, "cli-done")["TrainingJobStatus"] == "Completed"
    runner = CliRunner()

    listed = runner.invoke(main, ["training", "ls"])
    assert listed.exit_code == 0, listed.output
    names = [line.split()[-1] for line in listed.output.splitlines()]
    assert names == ["cli-sleeper", "cli-done"]

    described = runner.invoke(main, ["training", "describe", "cli-done"])
    assert json.loads(described.output)["TrainingJobStatus"] == "Completed"

    logs = runner.invoke(main, ["training", "logs", "cli-done"])
    assert "hello#011from the job" in logs.output.splitlines()

    _wait(sm, "cli-sleeper", statuses=("InProgress",))
    stopped = runner.invoke(main, ["training", "stop", "cli-sleeper"])
    assert stopped.exit_code == 0 and "stopping: cli-sleeper" in stopped.output
    assert _wait(sm, "cli-sleeper")["TrainingJobStatus"] == "Stopped"

    missing = runner.invoke(main, ["training", "describe", "nope"])
    assert missing.exit_code == 1
    assert (
        "ValidationException" in missing.output
        and "Requested resource not found." in missing.output
    )
