"""CreateTrainingJob refuses what would reach outside the job folder, and MetricDefinitions
that are not valid regular expressions, with a ValidationException and no job created."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-job-paths"


def request(name: str, **changes) -> dict:
    out = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"sagemaker_program": '"train.py"'},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    out.update(changes)
    return out


def refused(sm, name: str, **changes) -> str:
    """Create ``name`` expecting a ValidationException; returns its message and checks
    that no job was recorded."""
    with pytest.raises(ClientError) as error:
        sm.create_training_job(**request(name, **changes))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        sm.describe_training_job(TrainingJobName=name)
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    return error.value.response["Error"]["Message"]


@pytest.fixture
def sm(simsage_local):
    return simsage_local.client("sagemaker")


@pytest.mark.parametrize(
    ("local_path", "problem"),
    [
        ("../../../x", "is not an absolute path"),
        ("checkpoints", "is not an absolute path"),
        ("/opt/ml/../../../x", "contains a '.' or '..' segment"),
        ("/opt/ml/checkpoints/../../..", "contains a '.' or '..' segment"),
        ("/opt/ml/./checkpoints", "contains a '.' or '..' segment"),
    ],
)
def test_checkpoint_local_path_that_could_leave_the_job_folder_is_refused(
    sm, simsage_local, local_path, problem
):
    message = refused(
        sm,
        "escape",
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints", "LocalPath": local_path},
    )
    assert message.startswith(f"CheckpointConfig.LocalPath {local_path!r} {problem}.")
    assert "absolute path in the container (for example /opt/ml/checkpoints)" in message
    assert not (simsage_local.home / "jobs" / "training" / "escape").exists()


@pytest.mark.parametrize("channel", [".", ".."])
def test_channel_name_that_is_not_a_folder_name_is_refused(sm, channel):
    job = request("dots")
    job["InputDataConfig"][0]["ChannelName"] = channel
    message = refused(sm, "dots", InputDataConfig=job["InputDataConfig"])
    assert message.startswith(f"ChannelName {channel!r} cannot name a folder")


def test_invalid_metric_regex_is_refused_at_create_time(sm):
    message = refused(
        sm,
        "bad-regex",
        AlgorithmSpecification={
            "TrainingImage": SKLEARN,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                {"Name": "train:acc", "Regex": r"acc=([0-9.]+"},
            ],
        },
    )
    assert message.startswith(
        "Invalid regular expression 'acc=([0-9.]+' in the metric definition 'train:acc'"
    )
    assert "missing ), unterminated subpattern" in message
