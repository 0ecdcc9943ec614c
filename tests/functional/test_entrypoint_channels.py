"""The built-in XGBoost channel check through boto3: it applies to the built-in algorithm
only, not to an entrypoint job on the XGBoost image, which brings the SDK v3's ``code``
and ``sm_drivers`` channels."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-entrypoint-channels"


def _request(name: str, channels: list[str], **algorithm) -> dict:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": XGBOOST,
            "TrainingInputMode": "File",
            **algorithm,
        },
        "RoleArn": ROLE,
        "HyperParameters": {"num_round": "1"},
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/{channel}/",
                    }
                },
            }
            for channel in channels
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


@pytest.fixture
def sm(simsage_local):
    simsage_local.client("s3").create_bucket(Bucket=BUCKET)
    return simsage_local.client("sagemaker")


def test_the_built_in_algorithm_refuses_channels_it_does_not_read(sm):
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**_request("builtin-extra", ["train", "sm_drivers"]))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "remove sm_drivers" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "algorithm",
    [
        {
            "ContainerEntrypoint": ["/bin/bash"],
            "ContainerArguments": ["-c", "/opt/ml/input/data/sm_drivers/sm_train.sh"],
        },
        {"ContainerArguments": ["python3", "/opt/ml/input/data/code/train.py"]},
    ],
)
def test_an_entrypoint_job_on_the_xgboost_image_may_bring_code_and_driver_channels(sm, algorithm):
    request = _request("entrypoint-channels", ["train", "code", "sm_drivers"], **algorithm)
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn.endswith(":training-job/entrypoint-channels")
    described = sm.describe_training_job(TrainingJobName="entrypoint-channels")
    assert described["AlgorithmSpecification"]["TrainingImage"] == XGBOOST
    sm.stop_training_job(TrainingJobName="entrypoint-channels")
