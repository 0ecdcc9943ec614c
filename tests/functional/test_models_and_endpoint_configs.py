"""Models and endpoint configurations through boto3's ``sagemaker`` client: create,
describe, list (filters, sort, paginators), delete, the errors SageMaker answers with
(ValidationException for missing, duplicate and unsupported), tags on their ARNs, and
names given in another case.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-hosting"
MODEL_DATA = f"s3://{BUCKET}/models/model.tar.gz"


@pytest.fixture
def sm(simsage_local):
    """The sagemaker client, with a model artifact in S3."""
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"not really gzip")
    return simsage_local.client("sagemaker")


def create_model(sm, name: str, **changes) -> str:
    request = {
        "ModelName": name,
        "PrimaryContainer": {"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        "ExecutionRoleArn": ROLE,
    }
    request.update(changes)
    return sm.create_model(**request)["ModelArn"]


def variant(name: str = "AllTraffic", model: str = "m1", **changes) -> dict:
    out = {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    out.update(changes)
    return out


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def region_account(sm) -> tuple[str, str]:
    arn = create_model(sm, "probe-for-arn")
    parts = arn.split(":")
    sm.delete_model(ModelName="probe-for-arn")
    return parts[3], parts[4]


# -- models ------------------------------------------------------------------------


def test_create_and_describe_model_echoes_the_container(sm):
    container = {
        "Image": XGBOOST,
        "ModelDataUrl": MODEL_DATA,
        "Environment": {"SAGEMAKER_PROGRAM": "serve.py"},
        "Mode": "SingleModel",
        "ContainerHostname": "primary",
    }
    arn = sm.create_model(ModelName="My-Model", PrimaryContainer=container, ExecutionRoleArn=ROLE)[
        "ModelArn"
    ]
    region, account = arn.split(":")[3:5]
    assert arn == f"arn:aws:sagemaker:{region}:{account}:model/my-model"

    described = sm.describe_model(ModelName="My-Model")
    assert described["ModelName"] == "My-Model"
    assert described["ModelArn"] == arn
    assert described["PrimaryContainer"] == container
    assert described["ExecutionRoleArn"] == ROLE
    assert described["EnableNetworkIsolation"] is False
    assert "Containers" not in described
    age = dt.datetime.now(dt.UTC) - described["CreationTime"]
    assert dt.timedelta(0) <= age < dt.timedelta(seconds=30)


def test_model_names_are_case_insensitive(sm):
    arn = create_model(sm, "CaseModel")
    assert sm.describe_model(ModelName="casemodel")["ModelName"] == "CaseModel"
    with pytest.raises(ClientError) as excinfo:
        create_model(sm, "CASEMODEL")
    assert error_of(excinfo) == (
        "ValidationException",
        f'Cannot create already existing model "{arn}".',
    )
    sm.delete_model(ModelName="CASEmodel")
    with pytest.raises(ClientError):
        sm.describe_model(ModelName="CaseModel")


def test_containers_with_one_definition_is_accepted_and_echoed(sm):
    container = {"Image": XGBOOST, "ModelDataUrl": MODEL_DATA}
    sm.create_model(ModelName="listed", Containers=[container], ExecutionRoleArn=ROLE)
    described = sm.describe_model(ModelName="listed")
    assert described["Containers"] == [container]
    assert "PrimaryContainer" not in described


def test_more_than_one_container_is_refused(sm):
    container = {"Image": XGBOOST, "ModelDataUrl": MODEL_DATA}
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName="pipeline", Containers=[container, container], ExecutionRoleArn=ROLE
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "single-container" in message


def test_model_without_a_container_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="bare", ExecutionRoleArn=ROLE)
    assert error_of(excinfo)[0] == "ValidationException"


@pytest.mark.parametrize(
    "url",
    [
        f"https://{BUCKET}.s3.amazonaws.com/models/model.tar.gz",
        f"s3://{BUCKET}/models/model.zip",
        f"s3://{BUCKET}",
    ],
)
def test_model_data_url_must_be_an_s3_tarball(sm, url):
    with pytest.raises(ClientError) as excinfo:
        create_model(sm, "bad-url", PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": url})
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert ".tar.gz" in message


@pytest.mark.parametrize(
    "url", [f"s3://{BUCKET}/models/missing.tar.gz", "s3://no-such-bucket/model.tar.gz"]
)
def test_missing_model_data_is_refused(sm, url):
    with pytest.raises(ClientError) as excinfo:
        create_model(sm, "no-data", PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": url})
    assert error_of(excinfo) == ("ValidationException", f"Could not find model data at {url}.")
    with pytest.raises(ClientError):
        sm.describe_model(ModelName="no-data")


def test_missing_model_errors(sm):
    region, account = region_account(sm)
    expected = f'Could not find model "arn:aws:sagemaker:{region}:{account}:model/ghost".'
    for call in (sm.describe_model, sm.delete_model):
        with pytest.raises(ClientError) as excinfo:
            call(ModelName="Ghost")
        assert error_of(excinfo) == ("ValidationException", expected)
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_delete_model_removes_it_from_describe_and_list(sm):
    create_model(sm, "short-lived")
    assert sm.delete_model(ModelName="short-lived")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sm.list_models()["Models"] == []
    create_model(sm, "short-lived")  # the name is free again
    assert sm.describe_model(ModelName="short-lived")["ModelName"] == "short-lived"


def test_list_models_filters_sorts_and_pages(sm):
    names = ["alpha-1", "Beta-2", "alpha-3", "gamma-4"]
    stamps = []
    for name in names:
        create_model(sm, name)
        stamps.append(sm.describe_model(ModelName=name)["CreationTime"])
        time.sleep(0.02)

    newest_first = [m["ModelName"] for m in sm.list_models()["Models"]]
    assert newest_first == names[::-1]
    by_name = sm.list_models(SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in by_name] == ["alpha-1", "alpha-3", "Beta-2", "gamma-4"]
    assert set(by_name[0]) == {"ModelName", "ModelArn", "CreationTime"}

    contains = sm.list_models(NameContains="ALPHA", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in contains] == ["alpha-1", "alpha-3"]
    window = sm.list_models(CreationTimeAfter=stamps[0], CreationTimeBefore=stamps[3])
    assert sorted(m["ModelName"] for m in window["Models"]) == ["Beta-2", "alpha-3"]

    first = sm.list_models(MaxResults=3, SortBy="CreationTime", SortOrder="Ascending")
    assert [m["ModelName"] for m in first["Models"]] == names[:3]
    rest = sm.list_models(MaxResults=3, SortOrder="Ascending", NextToken=first["NextToken"])
    assert [m["ModelName"] for m in rest["Models"]] == names[3:]
    assert "NextToken" not in rest

    pages = list(sm.get_paginator("list_models").paginate(PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    assert [p["Models"][0]["ModelName"] for p in pages] == names[::-1]


def test_list_models_refuses_a_foreign_token(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(NextToken="not-a-token")
    assert error_of(excinfo)[0] == "ValidationException"


def test_model_tags(sm):
    arn = create_model(sm, "tagged", Tags=[{"Key": "team", "Value": "ml"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    sm.delete_model(ModelName="tagged")
    with pytest.raises(ClientError) as excinfo:
        sm.list_tags(ResourceArn=arn)
    assert error_of(excinfo)[0] == "ValidationException"
    arn = create_model(sm, "tagged")  # a new model of the same name starts without tags
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


# -- endpoint configurations -------------------------------------------------------


def test_create_and_describe_endpoint_config(sm):
    create_model(sm, "m1")
    create_model(sm, "m2")
    capture = {
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": f"s3://{BUCKET}/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    arn = sm.create_endpoint_config(
        EndpointConfigName="Two-Variants",
        ProductionVariants=[
            variant("A", "m1", InitialVariantWeight=3.0),
            variant("B", "M2", InitialInstanceCount=2, InstanceType="ml.c5.xlarge"),
        ],
        DataCaptureConfig=capture,
    )["EndpointConfigArn"]
    region, account = arn.split(":")[3:5]
    assert arn == f"arn:aws:sagemaker:{region}:{account}:endpoint-config/two-variants"

    described = sm.describe_endpoint_config(EndpointConfigName="two-variants")
    assert described["EndpointConfigName"] == "Two-Variants"
    assert described["EndpointConfigArn"] == arn
    assert described["ProductionVariants"] == [
        variant("A", "m1", InitialVariantWeight=3.0),
        variant(
            "B", "M2", InitialInstanceCount=2, InstanceType="ml.c5.xlarge", InitialVariantWeight=1.0
        ),
    ]
    assert described["DataCaptureConfig"] == {"EnableCapture": True, **capture}
    assert isinstance(described["CreationTime"], dt.datetime)


def test_duplicate_endpoint_config_in_another_case(sm):
    create_model(sm, "m1")
    arn = sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[variant()])[
        "EndpointConfigArn"
    ]
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="CFG", ProductionVariants=[variant()])
    assert error_of(excinfo) == (
        "ValidationException",
        f'Cannot create already existing endpoint configuration "{arn}".',
    )


def test_endpoint_config_needs_an_existing_model(sm):
    region, account = region_account(sm)
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(
            EndpointConfigName="cfg", ProductionVariants=[variant(model="Nowhere")]
        )
    assert error_of(excinfo) == (
        "ValidationException",
        f'Could not find model "arn:aws:sagemaker:{region}:{account}:model/nowhere".',
    )


@pytest.mark.parametrize(
    "bad",
    [
        [variant("A"), variant("A")],
        [variant("A"), variant("a")],
        [{"VariantName": "A", "ModelName": "m1", "InitialInstanceCount": 1}],
        [{"VariantName": "A", "ModelName": "m1", "InstanceType": "ml.m5.large"}],
        [{"VariantName": "A", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        [
            {
                "VariantName": "A",
                "ModelName": "m1",
                "InstanceType": "ml.m5.large",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    ],
    ids=[
        "same-name",
        "same-name-other-case",
        "no-type",
        "no-count",
        "no-model",
        "serverless-with-instances",
    ],
)
def test_invalid_variants_are_refused(sm, bad):
    create_model(sm, "m1")
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=bad)
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError):
        sm.describe_endpoint_config(EndpointConfigName="cfg")


def test_variant_limits_come_from_the_service_model(sm):
    create_model(sm, "m1")
    # botocore itself refuses values under a minimum; the service refuses the rest.
    for variants in ([], [variant(InitialInstanceCount=0)]):
        with pytest.raises(ParamValidationError):
            sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=variants)
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(
            EndpointConfigName="cfg", ProductionVariants=[variant(f"v{i}") for i in range(11)]
        )
    assert error_of(excinfo)[0] == "ValidationException"
    ten = [variant(f"v{i}") for i in range(10)]
    sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=ten)
    assert len(sm.describe_endpoint_config(EndpointConfigName="cfg")["ProductionVariants"]) == 10


def test_missing_endpoint_config_errors(sm):
    region, account = region_account(sm)
    expected = (
        "Could not find endpoint configuration "
        f'"arn:aws:sagemaker:{region}:{account}:endpoint-config/ghost".'
    )
    for call in (sm.describe_endpoint_config, sm.delete_endpoint_config):
        with pytest.raises(ClientError) as excinfo:
            call(EndpointConfigName="GHOST")
        assert error_of(excinfo) == ("ValidationException", expected)


def test_delete_endpoint_config(sm):
    create_model(sm, "m1")
    sm.create_endpoint_config(EndpointConfigName="Gone", ProductionVariants=[variant()])
    sm.delete_endpoint_config(EndpointConfigName="gone")
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    # The model it named is untouched, and can be deleted on its own.
    sm.delete_model(ModelName="m1")


def test_list_endpoint_configs_filters_sorts_and_pages(sm):
    create_model(sm, "m1")
    names = ["prod-b", "Dev-a", "prod-c"]
    for name in names:
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant()])
        time.sleep(0.02)
    listed = sm.list_endpoint_configs()["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in listed] == names[::-1]
    assert set(listed[0]) == {"EndpointConfigName", "EndpointConfigArn", "CreationTime"}
    by_name = sm.list_endpoint_configs(SortBy="Name", SortOrder="Descending")
    assert [c["EndpointConfigName"] for c in by_name["EndpointConfigs"]] == [
        "prod-c",
        "prod-b",
        "Dev-a",
    ]
    prod = sm.list_endpoint_configs(NameContains="PROD")["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in prod] == ["prod-c", "prod-b"]
    later = sm.list_endpoint_configs(CreationTimeAfter=listed[1]["CreationTime"])
    assert [c["EndpointConfigName"] for c in later["EndpointConfigs"]] == ["prod-c"]
    earlier = sm.list_endpoint_configs(CreationTimeBefore=listed[1]["CreationTime"])
    assert [c["EndpointConfigName"] for c in earlier["EndpointConfigs"]] == ["prod-b"]

    paginator = sm.get_paginator("list_endpoint_configs")
    pages = list(paginator.paginate(SortOrder="Ascending", PaginationConfig={"PageSize": 2}))
    assert [len(p["EndpointConfigs"]) for p in pages] == [2, 1]
    everything = paginator.paginate(SortOrder="Ascending").build_full_result()
    assert [c["EndpointConfigName"] for c in everything["EndpointConfigs"]] == names


def test_endpoint_config_tags(sm):
    create_model(sm, "m1")
    arn = sm.create_endpoint_config(
        EndpointConfigName="tagged",
        ProductionVariants=[variant()],
        Tags=[{"Key": "owner", "Value": "me"}],
    )["EndpointConfigArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "you"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "you"}]
    sm.delete_endpoint_config(EndpointConfigName="tagged")
    with pytest.raises(ClientError) as excinfo:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert error_of(excinfo)[0] == "ValidationException"


def test_model_data_in_another_region_is_refused(sm, simsage_local):
    region = sm.meta.region_name
    other = "eu-west-1" if region != "eu-west-1" else "us-west-2"
    s3 = simsage_local.client("s3", region_name=other)
    s3.create_bucket(
        Bucket="simsage-far-away", CreateBucketConfiguration={"LocationConstraint": other}
    )
    s3.put_object(Bucket="simsage-far-away", Key="model.tar.gz", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        create_model(
            sm,
            "far",
            PrimaryContainer={
                "Image": XGBOOST,
                "ModelDataUrl": "s3://simsage-far-away/model.tar.gz",
            },
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert other in message


@pytest.mark.parametrize(
    "changes",
    [
        {"AsyncInferenceConfig": {"OutputConfig": {"S3FailurePath": f"s3://{BUCKET}/async"}}},
        {
            "DataCaptureConfig": {
                "InitialSamplingPercentage": 10,
                "DestinationS3Uri": "/tmp/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            }
        },
    ],
    ids=["async-without-output-path", "capture-not-s3"],
)
def test_unsupported_or_invalid_config_fields_are_refused(sm, changes):
    create_model(sm, "m1")
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(
            EndpointConfigName="cfg", ProductionVariants=[variant()], **changes
        )
    assert error_of(excinfo)[0] == "ValidationException"


def test_capture_can_be_configured_disabled(sm):
    create_model(sm, "m1")
    capture = {
        "EnableCapture": False,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/capture",
        "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
    }
    sm.create_endpoint_config(
        EndpointConfigName="quiet", ProductionVariants=[variant()], DataCaptureConfig=capture
    )
    described = sm.describe_endpoint_config(EndpointConfigName="quiet")
    assert described["DataCaptureConfig"] == capture
