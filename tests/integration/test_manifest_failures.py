"""A malformed manifest fails a training job and a transform job with a ClientError
FailureReason that says what is wrong (it used to be "'int' object has no attribute
'startswith'")."""

from __future__ import annotations

import json

from test_training_jobs import BUCKET, Training, channel, wait_until

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PROBLEM = "its prefix 5 is not an s3:// URI string."


def test_training_job_with_a_malformed_manifest_fails_with_a_client_error(simsage_local):
    training = Training(simsage_local)
    training.put("manifests/bad.json", json.dumps([{"prefix": 5}, "a.csv"]).encode())
    uri = f"s3://{BUCKET}/manifests/bad.json"
    done = training.run(
        "bad-manifest", InputDataConfig=[channel("train", uri, S3DataType="ManifestFile")]
    )
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith(f"ClientError: The manifest file {uri} must be ")
    assert done["FailureReason"].endswith(PROBLEM)


def test_transform_job_with_a_malformed_manifest_fails_with_a_client_error(simsage_local):
    training = Training(simsage_local)  # the bucket
    training.put("manifests/entries.json", json.dumps([{"prefix": f"s3://{BUCKET}/"}, 5]).encode())
    training.put("models/model.tar.gz", b"never read: the input fails first")
    sm = training.sm
    sm.create_model(
        ModelName="any-model",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
    )
    uri = f"s3://{BUCKET}/manifests/entries.json"
    sm.create_transform_job(
        TransformJobName="bad-manifest",
        ModelName="any-model",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": uri}},
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/transformed"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )

    def failed():
        described = sm.describe_transform_job(TransformJobName="bad-manifest")
        return described["TransformJobStatus"] != "InProgress" and described

    described = wait_until(failed, what="the transform job to end")
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"ClientError: The manifest file {uri} must be ")
    assert described["FailureReason"].endswith("element 2 is a number (5), not a key string.")
