"""CreateProcessingJob & co through boto3's ``sagemaker`` client: validation errors with
AWS's codes and messages that say what to do, missing jobs, names taken, listing
(filters, sort, paging, the paginator), stop of a finished job, and tags. The jobs here
need no successful run (their image has no command, so they fail at once)."""

from __future__ import annotations

import copy
import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "processing-api"


@pytest.fixture
def sm(simsage_local):
    simsage_local.client("s3").create_bucket(Bucket=BUCKET)
    return simsage_local.client("sagemaker")


def request(name: str = "job", **changes) -> dict:
    out = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        "AppSpecification": {"ImageUri": SKLEARN},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/in",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/out",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    out.update(changes)
    return out


def with_input(**s3_input) -> dict:
    base = request()["ProcessingInputs"][0]
    item = copy.deepcopy(base)
    item["S3Input"].update(s3_input)
    return {"ProcessingInputs": [item]}


def with_output(**s3_output) -> dict:
    item = copy.deepcopy(request()["ProcessingOutputConfig"]["Outputs"][0])
    item["S3Output"].update(s3_output)
    return {"ProcessingOutputConfig": {"Outputs": [item]}}


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def wait(sm, name: str) -> dict:
    deadline = time.time() + 30
    while time.time() < deadline:
        described = sm.describe_processing_job(ProcessingJobName=name)
        if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish")


INPUT = request()["ProcessingInputs"][0]


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        (
            with_input(LocalPath="/tmp/data"),
            "ValidationException",
            ["S3Input.LocalPath must be a folder under /opt/ml/processing/", "/tmp/data"],
        ),
        (
            with_input(LocalPath="/opt/ml/processing/../model"),
            "ValidationException",
            ["LocalPath"],
        ),
        (
            with_output(LocalPath="/opt/ml/model"),
            "ValidationException",
            ["S3Output.LocalPath must be a folder under /opt/ml/processing/"],
        ),
        (with_input(S3InputMode="Pipe"), "ValidationException", ["Pipe", "use S3InputMode File"]),
        (
            with_input(S3CompressionType="Gzip"),
            "ValidationException",
            ["Gzip is supported only with S3InputMode Pipe"],
        ),
        (with_input(S3Uri="https://example.com/in"), "ValidationException", ["s3:// URI"]),
        (
            {"ProcessingInputs": [INPUT, INPUT]},
            "ValidationException",
            ["InputName values must be unique", "'data' appears twice"],
        ),
        (
            {
                "ProcessingInputs": [
                    {
                        "InputName": "athena",
                        "DatasetDefinition": {
                            "AthenaDatasetDefinition": {
                                "Catalog": "c",
                                "Database": "d",
                                "QueryString": "select 1",
                                "OutputS3Uri": f"s3://{BUCKET}/athena",
                                "OutputFormat": "PARQUET",
                            },
                            "LocalPath": "/opt/ml/processing/athena",
                        },
                    }
                ]
            },
            "ValidationException",
            ["DatasetDefinition", "give an S3Input instead"],
        ),
        (
            {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "fs", "FeatureStoreOutput": {"FeatureGroupName": "fg"}}
                    ]
                }
            },
            "ValidationException",
            ["Feature Store", "give an S3Output instead"],
        ),
        (
            {
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": 40,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 5,
                    }
                }
            },
            "ResourceLimitExceeded",
            ["at most 16 instances"],
        ),
        (
            {"StoppingCondition": {"MaxRuntimeInSeconds": 777601}},
            "ValidationException",
            ["stoppingCondition.maxRuntimeInSeconds", "less than or equal to 777600"],
        ),
        (
            {"ProcessingJobName": "bad_name"},
            "ValidationException",
            ["'bad_name' at 'processingJobName'", "regular expression pattern"],
        ),
    ],
)
def test_bad_requests_are_refused_with_what_to_do(sm, changes, code, words):
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**request(**changes))
    got_code, message = error_of(caught)
    assert got_code == code
    for word in words:
        assert word in message
    assert sm.list_processing_jobs()["ProcessingJobSummaries"] == []  # nothing was recorded


def test_a_missing_job_is_a_validation_exception(sm):
    for call in (sm.describe_processing_job, sm.stop_processing_job):
        with pytest.raises(ClientError) as caught:
            call(ProcessingJobName="nope")
        assert error_of(caught) == ("ValidationException", "Requested resource not found.")


def test_names_are_unique_whatever_their_case(sm):
    sm.create_processing_job(**request("Prep-1"))
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**request("prep-1"))
    code, message = error_of(caught)
    assert code == "ResourceInUse"
    assert "Processing job names must be unique" in message


def test_create_answers_the_arn_and_describe_echoes_the_request(sm):
    arn = sm.create_processing_job(
        **request("echo", Environment={"A": "1"}, Tags=[{"Key": "team", "Value": "ml"}])
    )["ProcessingJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/echo"
    described = wait(sm, "echo")
    assert described["ProcessingJobArn"] == arn
    assert described["Environment"] == {"A": "1"}
    assert described["ProcessingInputs"] == request()["ProcessingInputs"]
    assert described["ProcessingOutputConfig"] == request()["ProcessingOutputConfig"]
    assert described["AppSpecification"] == {"ImageUri": SKLEARN}
    assert described["RoleArn"] == ROLE
    assert "Tags" not in described
    assert isinstance(described["CreationTime"], dt.datetime)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    # A finished job cannot be stopped.
    with pytest.raises(ClientError) as caught:
        sm.stop_processing_job(ProcessingJobName="echo")
    code, message = error_of(caught)
    assert code == "ValidationException"
    assert "status Failed" in message


def test_listing_filters_sorts_and_pages(sm):
    for name in ("list-b", "list-a", "list-c", "other"):
        sm.create_processing_job(**request(name))
    for name in ("list-b", "list-a", "list-c", "other"):
        wait(sm, name)
    summaries = sm.list_processing_jobs(NameContains="list", SortBy="Name", SortOrder="Ascending")[
        "ProcessingJobSummaries"
    ]
    assert [s["ProcessingJobName"] for s in summaries] == ["list-a", "list-b", "list-c"]
    assert {s["ProcessingJobStatus"] for s in summaries} == {"Failed"}
    newest_first = sm.list_processing_jobs()["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in newest_first] == ["other", "list-c", "list-a", "list-b"]
    assert sm.list_processing_jobs(StatusEquals="Completed")["ProcessingJobSummaries"] == []
    first = sm.list_processing_jobs(MaxResults=3)
    assert len(first["ProcessingJobSummaries"]) == 3
    rest = sm.list_processing_jobs(MaxResults=3, NextToken=first["NextToken"])
    assert [s["ProcessingJobName"] for s in rest["ProcessingJobSummaries"]] == ["list-b"]
    assert "NextToken" not in rest
    pages = sm.get_paginator("list_processing_jobs").paginate(PaginationConfig={"PageSize": 2})
    names = [s["ProcessingJobName"] for page in pages for s in page["ProcessingJobSummaries"]]
    assert names == ["other", "list-c", "list-a", "list-b"]
    with pytest.raises(ClientError) as caught:
        sm.list_training_jobs(NextToken=first["NextToken"])
    assert error_of(caught)[0] == "ValidationException"
