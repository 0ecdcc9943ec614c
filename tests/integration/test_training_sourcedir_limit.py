"""A training job's script-mode source archive must fit on its ML storage volume
(ResourceConfig.VolumeSizeInGB): checked from the archive's headers before anything
is extracted, with a FailureReason that names the archive, its size and the limit."""

from __future__ import annotations

import gzip
import json
import tarfile
import time

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_a_sourcedir_larger_than_the_volume_fails_the_job(simsage_local):
    s3, sm = simsage_local.client("s3"), simsage_local.client("sagemaker")
    s3.create_bucket(Bucket="src")
    info = tarfile.TarInfo("train.py")
    info.size = 2 * 1024**3  # declared in the header; only a header check can refuse it
    s3.put_object(
        Bucket="src", Key="sourcedir.tar.gz", Body=gzip.compress(info.tobuf(tarfile.GNU_FORMAT))
    )
    sm.create_training_job(
        TrainingJobName="big-source",
        AlgorithmSpecification={"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps("s3://src/sourcedir.tar.gz"),
        },
        OutputDataConfig={"S3OutputPath": "s3://src/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    deadline = time.monotonic() + 60
    while (described := sm.describe_training_job(TrainingJobName="big-source"))[
        "TrainingJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.1)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        "ClientError: the sagemaker_submit_directory archive s3://src/sourcedir.tar.gz expands "
        "to at least 2.0 GB (2147483648 bytes): more than the 1 GB ML storage volume "
        "(ResourceConfig.VolumeSizeInGB) allows (1.0 GB (1073741824 bytes))."
    )
