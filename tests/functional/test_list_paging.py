"""How SageMaker's List calls page: MaxResults items of the sorted resources are taken
first, then StatusEquals and NameContains filter them (AWS's documentation of
ListTrainingJobs, and what SageMaker answers for every List of the family), so a page
may be short or empty while a NextToken is still answered; paging to the end (boto3's
paginators) yields every match once. Tokens name a position, so resources created
between two pages neither repeat nor hide one."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "list-paging"
MODEL_DATA = f"s3://{BUCKET}/models/model.tar.gz"


def _sourcedir() -> bytes:
    script = b"print('nothing to learn')\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        archive.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


@pytest.fixture
def sm(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_sourcedir())
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"not really gzip")
    s3.put_object(Bucket=BUCKET, Key="in/x.csv", Body=b"1,2,3\n")
    return simsage_local.client("sagemaker")


def training_request(name: str, fail: bool) -> dict:
    prefix = "missing/" if fail else "data/"
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def create_model(sm, name: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        ExecutionRoleArn=ROLE,
    )
    time.sleep(0.005)  # distinct creation times


def pages(call, key: str, field: str, **params) -> list[list[str]]:
    """Every page of ``call`` followed by NextToken, as lists of names."""
    out, token = [], None
    while True:
        response = call(**params, **({"NextToken": token} if token else {}))
        out.append([item[field] for item in response[key]])
        token = response.get("NextToken")
        if not token:
            return out


def test_list_training_jobs_filters_status_after_max_results(sm):
    names = ["job-a", "job-b", "job-c", "job-d", "job-e"]
    failing = {"job-b", "job-d"}
    for name in names:
        sm.create_training_job(**training_request(name, fail=name in failing))
        time.sleep(0.01)
    deadline = time.time() + 60
    while time.time() < deadline:
        statuses = {
            s["TrainingJobName"]: s["TrainingJobStatus"]
            for s in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        }
        if all(status in ("Completed", "Failed") for status in statuses.values()):
            break
        time.sleep(0.05)
    assert statuses == {n: "Failed" if n in failing else "Completed" for n in names}

    def jobs(**params) -> list[list[str]]:
        return pages(sm.list_training_jobs, "TrainingJobSummaries", "TrainingJobName", **params)

    # Newest first: e d | c b | a — two jobs taken, then the Failed ones kept.
    assert jobs(MaxResults=2, StatusEquals="Failed") == [["job-d"], ["job-b"], []]
    assert jobs(MaxResults=2, StatusEquals="Completed", NameContains="JOB-E") == [
        ["job-e"],
        [],
        [],
    ]
    found = [
        s["TrainingJobName"]
        for page in sm.get_paginator("list_training_jobs").paginate(
            StatusEquals="Failed", PaginationConfig={"PageSize": 1}
        )
        for s in page["TrainingJobSummaries"]
    ]
    assert found == ["job-d", "job-b"]
    # Without a filter a page is full.
    assert [len(page) for page in jobs(MaxResults=2)] == [2, 2, 1]


def test_list_models_filters_names_after_max_results(sm):
    for name in ["alpha-1", "beta-1", "alpha-2", "beta-2"]:
        create_model(sm, name)
    # The newest model (beta-2) fills the first page of one; it does not match.
    first = sm.list_models(NameContains="alpha", MaxResults=1)
    assert first["Models"] == [] and "NextToken" in first
    assert pages(sm.list_models, "Models", "ModelName", NameContains="alpha", MaxResults=1) == [
        [],
        ["alpha-2"],
        [],
        ["alpha-1"],
    ]
    found = [
        m["ModelName"]
        for page in sm.get_paginator("list_models").paginate(
            NameContains="alpha", SortBy="Name", SortOrder="Ascending"
        )
        for m in page["Models"]
    ]
    assert found == ["alpha-1", "alpha-2"]


def test_list_endpoint_configs_and_transform_jobs_filter_after_max_results(sm):
    create_model(sm, "m1")
    for name in ["cfg-x-1", "cfg-y-1", "cfg-x-2"]:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m1",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        time.sleep(0.005)
    configs = pages(
        sm.list_endpoint_configs,
        "EndpointConfigs",
        "EndpointConfigName",
        NameContains="-x-",
        MaxResults=2,
        SortOrder="Ascending",
    )
    assert configs == [["cfg-x-1"], ["cfg-x-2"]]

    for name in ["tj-x-1", "tj-y-1", "tj-y-2"]:
        sm.create_transform_job(
            TransformJobName=name,
            ModelName="m1",
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}
                }
            },
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        time.sleep(0.005)
    transforms = pages(
        sm.list_transform_jobs,
        "TransformJobSummaries",
        "TransformJobName",
        NameContains="x",
        MaxResults=2,
    )
    assert transforms == [[], ["tj-x-1"]]


def test_list_endpoints_filters_names_after_max_results(sm):
    create_model(sm, "m1")
    sm.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    for name in ["ep-blue", "ep-green"]:
        sm.create_endpoint(EndpointName=name, EndpointConfigName="cfg")
        time.sleep(0.005)
    assert pages(
        sm.list_endpoints, "Endpoints", "EndpointName", NameContains="blue", MaxResults=1
    ) == [
        [],
        ["ep-blue"],
    ]


def test_tokens_survive_resources_created_between_pages(sm):
    for name in ["m-1", "m-2", "m-3", "m-4"]:
        create_model(sm, name)
    first = sm.list_models(MaxResults=2)  # newest first: m-4, m-3
    assert [m["ModelName"] for m in first["Models"]] == ["m-4", "m-3"]
    create_model(sm, "m-5")  # newer than every page: an offset would repeat m-3
    second = sm.list_models(MaxResults=2, NextToken=first["NextToken"])
    assert [m["ModelName"] for m in second["Models"]] == ["m-2", "m-1"]
    assert "NextToken" not in second


def test_bad_tokens_and_time_bounds_as_strings(sm):
    create_model(sm, "m-1")
    create_model(sm, "m-2")
    token = sm.list_models(MaxResults=1)["NextToken"]
    for params in ({"NextToken": "not-a-token"}, {"NextToken": token, "SortBy": "Name"}):
        with pytest.raises(ClientError) as info:
            sm.list_models(MaxResults=1, **params)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert "pagination token" in info.value.response["Error"]["Message"]
    # Timestamps as botocore accepts them: strings and epoch numbers too.
    listed = sm.list_models(CreationTimeAfter="2000-01-01T00:00:00Z", CreationTimeBefore=4102444800)
    assert [m["ModelName"] for m in listed["Models"]] == ["m-2", "m-1"]
    assert sm.list_models(CreationTimeBefore="2000-01-01")["Models"] == []


def test_list_tags_pages(sm):
    create_model(sm, "tagged")
    arn = sm.describe_model(ModelName="tagged")["ModelArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02d}", "Value": str(i)} for i in range(50)])
    first = sm.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(first["Tags"]) == 50 and "NextToken" not in first
    keys = [
        t["Key"]
        for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn)
        for t in page["Tags"]
    ]
    assert keys == [f"k{i:02d}" for i in range(50)]


def test_a_token_of_one_listing_is_refused_by_another(sm):
    """One token format for every SageMaker List, bound to what it lists: a ListModels
    token given to ListEndpointConfigs (or any other List) is the ValidationException
    SageMaker answers, not a page of the wrong listing."""
    for name in ["m-1", "m-2"]:
        create_model(sm, name)
        sm.create_endpoint_config(
            EndpointConfigName=f"c-{name}",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
    token = sm.list_models(MaxResults=1)["NextToken"]
    assert [m["ModelName"] for m in sm.list_models(MaxResults=1, NextToken=token)["Models"]] == [
        "m-1"
    ]
    for call in (
        sm.list_endpoint_configs,
        sm.list_endpoints,
        sm.list_training_jobs,
        sm.list_transform_jobs,
    ):
        with pytest.raises(ClientError) as info:
            call(MaxResults=1, NextToken=token)
        error = info.value.response["Error"]
        assert error["Code"] == "ValidationException", call
        assert error["Message"] == f"Invalid pagination token: {token}"
