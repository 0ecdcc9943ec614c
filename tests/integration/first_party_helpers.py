"""What the first-party algorithms' integration tests (test_kmeans, test_knn, test_pca,
test_rcf, test_linear_learner) share: a training channel, a training job run to its end,
and a batch transform over one uploaded file with its output read back."""

from __future__ import annotations

import time

TERMINAL = ("Completed", "Failed", "Stopped")


def wait(describe, key: str, timeout: float = 120) -> dict:
    """Poll ``describe()`` every 50 ms until its ``key`` status is terminal; the last
    description. Fails the test after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = describe()
        if described[key] in TERMINAL:
            return described
        time.sleep(0.05)
    raise AssertionError(f"still {described[key]} after {timeout} s")


def batch_transform(
    sm,
    s3,
    bucket: str,
    model: str,
    file: str,
    body: bytes,
    content_type: str,
    accept: str = "application/jsonlines",
    **request,
) -> bytes:
    """Upload ``body`` as ``s3://bucket/batch/<file>``, transform it line by line with
    ``model`` (job ``<model>-batch``, one ml.m5.large, output assembled by line; extra
    CreateTransformJob fields in ``request``), assert the job completed and return
    ``batch-out/<file>.out``."""
    s3.put_object(Bucket=bucket, Key=f"batch/{file}", Body=body)
    job = f"{model}-batch"
    sm.create_transform_job(
        TransformJobName=job,
        ModelName=model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/"}
            },
            "ContentType": content_type,
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{bucket}/batch-out",
            "Accept": accept,
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **request,
    )
    status = wait(lambda: sm.describe_transform_job(TransformJobName=job), "TransformJobStatus")
    assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
    return s3.get_object(Bucket=bucket, Key=f"batch-out/{file}.out")["Body"].read()


def channel(bucket: str, name: str, prefix: str, content_type: str, sharded: bool) -> dict:
    """An S3Prefix training channel over ``s3://bucket/<prefix>``."""
    distribution = "ShardedByS3Key" if sharded else "FullyReplicated"
    return {
        "ChannelName": name,
        "ContentType": content_type,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{bucket}/{prefix}",
                "S3DataDistributionType": distribution,
            }
        },
    }


def train(
    sm, image: str, bucket: str, name: str, channels: list, hyperparameters: dict, count: int = 1
) -> dict:
    """Run training job ``name`` of ``image`` on ``count`` ml.m5.large hosts (hyperparameters
    whose value is None are left out) to its end; its last description."""
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/R",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters={k: v for k, v in hyperparameters.items() if v is not None},
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    return wait(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus")
