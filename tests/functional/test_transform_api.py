"""CreateTransformJob & co through boto3's ``sagemaker`` client: validation errors with
AWS's codes and messages that say what to do, missing resources, names, listing
(filters, sort, paging) and tags. Jobs here need no successful run."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "transform-api"


@pytest.fixture
def sm(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"not really gzip")
    s3.put_object(Bucket=BUCKET, Key="in/x.csv", Body=b"1,2,3\n")
    client = simsage_local.client("sagemaker")
    client.create_model(
        ModelName="m1",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    return client


def request(name: str = "job", **changes) -> dict:
    out = {
        "TransformJobName": name,
        "ModelName": "m1",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def wait(sm, name: str) -> dict:
    deadline = time.time() + 30
    while time.time() < deadline:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish")


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        (
            {"ModelName": "nope"},
            "ValidationException",
            ['Could not find model "arn:aws:sagemaker:', "model/nope"],
        ),
        (
            {"TransformInput": {"SplitType": "None"}, "BatchStrategy": "MultiRecord"},
            "ValidationException",
            ["BatchStrategy MultiRecord", "SplitType"],
        ),
        (
            {"TransformInput": {"SplitType": "TFRecord"}},
            "ValidationException",
            ["TFRecord", "RecordIO"],
        ),
        ({"MaxPayloadInMB": 101}, "ValidationException", ["MaxPayloadInMB must be at most 100"]),
        (
            {"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4},
            "ValidationException",
            ["MaxConcurrentTransforms (4) × MaxPayloadInMB (30)"],
        ),
        (
            {"TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 40}},
            "ResourceLimitExceeded",
            ["at most 16 instances"],
        ),
        (
            {
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "AugmentedManifestFile",
                            "S3Uri": f"s3://{BUCKET}/m",
                        }
                    }
                }
            },
            "ValidationException",
            ["S3Prefix or ManifestFile"],
        ),
        (
            {"TransformOutput": {"S3OutputPath": "https://example.com/out"}},
            "ValidationException",
            ["s3:// URI"],
        ),
        (
            {
                "DataProcessing": {"InputFilter": "$[1:]"},
                "TransformInput": {"ContentType": "text/libsvm"},
            },
            "ValidationException",
            ["DataProcessing", "text/libsvm"],
        ),
        (
            {
                "DataProcessing": {"JoinSource": "Input"},
                "TransformOutput": {"AssembleWith": "None"},
            },
            "ValidationException",
            ["AssembleWith Line"],
        ),
        (
            {"DataProcessing": {"InputFilter": "$..a"}},
            "ValidationException",
            ["InputFilter", "Descendants"],
        ),
        (
            {"DataProcessing": {"OutputFilter": "$[1"}},
            "ValidationException",
            ["OutputFilter", "not a JSONPath"],
        ),
        (
            {"DataCaptureConfig": {"DestinationS3Uri": f"https://{BUCKET}/capture"}},
            "ValidationException",
            ["DataCaptureConfig.DestinationS3Uri", "s3://"],
        ),
    ],
)
def test_invalid_requests_are_refused_with_what_to_do(sm, changes, code, words):
    with pytest.raises(ClientError) as excinfo:
        sm.create_transform_job(**request(**changes))
    got_code, message = error_of(excinfo)
    assert got_code == code
    for word in words:
        assert word in message
    assert sm.list_transform_jobs()["TransformJobSummaries"] == []


def test_missing_jobs_and_duplicate_names(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_transform_job(TransformJobName="ghost")
    assert error_of(excinfo) == ("ValidationException", "Requested resource not found.")
    with pytest.raises(ClientError) as excinfo:
        sm.stop_transform_job(TransformJobName="ghost")
    assert error_of(excinfo)[0] == "ValidationException"
    arn = sm.create_transform_job(**request("Dup-Job"))["TransformJobArn"]
    assert arn.endswith(":transform-job/dup-job")
    with pytest.raises(ClientError) as excinfo:
        sm.create_transform_job(**request("dup-job"))
    code, message = error_of(excinfo)
    assert code == "ResourceInUse" and arn in message
    described = wait(sm, "DUP-JOB")
    assert described["TransformJobName"] == "Dup-Job"
    # The artifact is not a tar.gz: the job fails and says so, and cannot be stopped.
    assert described["TransformJobStatus"] == "Failed"
    assert "model data archive" in described["FailureReason"]
    with pytest.raises(ClientError) as excinfo:
        sm.stop_transform_job(TransformJobName="dup-job")
    assert error_of(excinfo) == (
        "ValidationException",
        "The request was rejected because the transform job is in status Failed.",
    )


def test_list_filters_sorts_and_pages(sm):
    for name in ("alpha-1", "beta-2", "alpha-3"):
        sm.create_transform_job(**request(name))
    for name in ("alpha-1", "beta-2", "alpha-3"):
        wait(sm, name)
    names = [s["TransformJobName"] for s in sm.list_transform_jobs()["TransformJobSummaries"]]
    assert names == ["alpha-3", "beta-2", "alpha-1"]  # newest first by default
    alpha = sm.list_transform_jobs(NameContains="ALPHA", SortBy="Name", SortOrder="Ascending")
    assert [s["TransformJobName"] for s in alpha["TransformJobSummaries"]] == ["alpha-1", "alpha-3"]
    assert sm.list_transform_jobs(StatusEquals="Completed")["TransformJobSummaries"] == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert sm.list_transform_jobs(CreationTimeAfter=future)["TransformJobSummaries"] == []
    first = sm.list_transform_jobs(MaxResults=2)
    assert len(first["TransformJobSummaries"]) == 2 and first["NextToken"]
    rest = sm.list_transform_jobs(MaxResults=2, NextToken=first["NextToken"])
    assert [s["TransformJobName"] for s in rest["TransformJobSummaries"]] == ["alpha-1"]
    assert "NextToken" not in rest
    pages = sm.get_paginator("list_transform_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert sum(len(p["TransformJobSummaries"]) for p in pages) == 3
    summary = sm.list_transform_jobs(NameContains="beta")["TransformJobSummaries"][0]
    assert summary["TransformJobStatus"] == "Failed" and "TransformEndTime" in summary


def test_tags_on_transform_jobs(sm):
    arn = sm.create_transform_job(**request("tagged", Tags=[{"Key": "team", "Value": "ml"}]))[
        "TransformJobArn"
    ]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    wait(sm, "tagged")


def test_describe_echoes_the_request_with_defaults(sm):
    sm.create_transform_job(
        **request(
            "echo",
            TransformInput={"SplitType": "None", "ContentType": "text/csv"},
            TransformOutput={
                "Accept": "text/csv",
                "KmsKeyId": "alias/mine",
                "AssembleWith": "None",
            },
            ModelClientConfig={"InvocationsTimeoutInSeconds": 30},
            Environment={"A": "1"},
            DataCaptureConfig={
                "DestinationS3Uri": f"s3://{BUCKET}/capture",
                "KmsKeyId": "alias/capture",
                "GenerateInferenceId": True,
            },
        )
    )
    described = sm.describe_transform_job(TransformJobName="echo")
    assert described["ModelName"] == "m1"
    assert described["MaxPayloadInMB"] == 6 and described["MaxConcurrentTransforms"] == 1
    assert described["TransformInput"]["CompressionType"] == "None"
    assert described["TransformOutput"]["KmsKeyId"] == "alias/mine"
    assert described["ModelClientConfig"] == {
        "InvocationsTimeoutInSeconds": 30,
        "InvocationsMaxRetries": 3,
    }
    assert described["Environment"] == {"A": "1"}
    assert described["DataCaptureConfig"] == {
        "DestinationS3Uri": f"s3://{BUCKET}/capture",
        "KmsKeyId": "alias/capture",
        "GenerateInferenceId": True,
    }
    assert "BatchStrategy" not in described
    wait(sm, "echo")


def test_jobs_without_input_or_output_bucket_fail_saying_so(sm):
    empty = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/none/"}}
    }
    sm.create_transform_job(**request("no-input", TransformInput=empty))
    sm.create_transform_job(
        **request("no-bucket", TransformOutput={"S3OutputPath": "s3://nowhere/out"})
    )
    reason = wait(sm, "no-input")["FailureReason"]
    assert reason.startswith(
        'ClientError: No S3 objects found under S3 URL "s3://transform-api/none/"'
    )
    assert ROLE in reason
    reason = wait(sm, "no-bucket")["FailureReason"]
    assert reason == (
        "ClientError: The output bucket nowhere (TransformOutput.S3OutputPath) does not exist; "
        "create it first."
    )
