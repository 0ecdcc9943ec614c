"""Serverless variants and asynchronous inference configurations through boto3's
``sagemaker`` client: what CreateEndpointConfig accepts and echoes, and what it refuses
with ValidationException (the rules of the DG's serverless feature exclusions and of
AsyncInferenceConfig). Nothing here starts a process."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ParamValidationError

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-modes"
SNS = "arn:aws:sns:us-east-1:123456789012:async-done"


@pytest.fixture
def sm(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=b"not really gzip")
    client = simsage_local.client("sagemaker")
    client.create_model(
        ModelName="m1",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    return client


def serverless_variant(name: str = "AllTraffic", **config) -> dict:
    return {
        "VariantName": name,
        "ModelName": "m1",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, **config},
    }


def instance_variant(name: str = "AllTraffic") -> dict:
    return {
        "VariantName": name,
        "ModelName": "m1",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }


def refused(sm, **request) -> str:
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="cfg", **request)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    with pytest.raises(ClientError):  # nothing half-written
        sm.describe_endpoint_config(EndpointConfigName="cfg")
    return error["Message"]


def test_a_serverless_variant_is_accepted_and_echoed_without_instances(sm):
    variant = serverless_variant(ProvisionedConcurrency=2, MaxConcurrency=4)
    sm.create_endpoint_config(EndpointConfigName="sls", ProductionVariants=[variant])
    (described,) = sm.describe_endpoint_config(EndpointConfigName="sls")["ProductionVariants"]
    assert described == {**variant, "InitialVariantWeight": 1.0}
    assert "InstanceType" not in described and "InitialInstanceCount" not in described


@pytest.mark.parametrize(
    ("variants", "extra", "words"),
    [
        ([{**serverless_variant(), "InitialInstanceCount": 1}], {}, ["InitialInstanceCount"]),
        ([serverless_variant(MemorySizeInMB=1500)], {}, ["1024, 2048"]),
        ([serverless_variant(MaxConcurrency=2, ProvisionedConcurrency=3)], {}, ["less than"]),
        ([serverless_variant("A"), instance_variant("B")], {}, ["exactly one"]),
        ([serverless_variant("A"), serverless_variant("B")], {}, ["exactly one"]),
        (
            [serverless_variant()],
            {
                "DataCaptureConfig": {
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": f"s3://{BUCKET}/capture",
                    "CaptureOptions": [{"CaptureMode": "Input"}],
                }
            },
            ["data capture"],
        ),
        (
            [serverless_variant()],
            {"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out"}}},
            ["asynchronous"],
        ),
        (
            [serverless_variant()],
            {"VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}},
            ["VPC"],
        ),
        ([serverless_variant()], {"EnableNetworkIsolation": True}, ["network isolation"]),
    ],
    ids=[
        "instances-too",
        "memory-not-whole-gb",
        "provisioned-over-max",
        "with-an-instance-variant",
        "two-serverless-variants",
        "data-capture",
        "async",
        "vpc",
        "network-isolation",
    ],
)
def test_serverless_configurations_sagemaker_refuses(sm, variants, extra, words):
    message = refused(sm, ProductionVariants=variants, **extra)
    for word in words:
        assert word in message


def test_serverless_limits_come_from_the_service_model(sm):
    # botocore refuses values under a minimum; the service refuses those above a maximum.
    with pytest.raises(ParamValidationError):
        sm.create_endpoint_config(
            EndpointConfigName="cfg", ProductionVariants=[serverless_variant(MaxConcurrency=0)]
        )
    refused(sm, ProductionVariants=[serverless_variant(MaxConcurrency=201)])
    refused(sm, ProductionVariants=[serverless_variant(MemorySizeInMB=7168)])


def test_an_async_inference_config_is_stored_and_echoed(sm):
    config = {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
        "OutputConfig": {
            "S3OutputPath": f"s3://{BUCKET}/async-out",
            "S3FailurePath": f"s3://{BUCKET}/async-failures",
            "KmsKeyId": "alias/async",
            "NotificationConfig": {
                "SuccessTopic": SNS,
                "ErrorTopic": SNS,
                "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"],
            },
        },
    }
    sm.create_endpoint_config(
        EndpointConfigName="queued",
        ProductionVariants=[instance_variant()],
        AsyncInferenceConfig=config,
    )
    described = sm.describe_endpoint_config(EndpointConfigName="queued")
    assert described["AsyncInferenceConfig"] == config
    assert (
        "AsyncInferenceConfig"
        not in sm.describe_endpoint_config(EndpointConfigName="queued")["ProductionVariants"][0]
    )


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ({"S3FailurePath": f"s3://{BUCKET}/failures"}, ["S3OutputPath is required"]),
        ({"S3OutputPath": f"https://{BUCKET}.s3.amazonaws.com/out"}, ["S3OutputPath", "s3://"]),
        (
            {"S3OutputPath": f"s3://{BUCKET}/out", "S3FailurePath": f"https://{BUCKET}/f"},
            ["S3FailurePath", "s3://"],
        ),
    ],
    ids=["no-output-path", "https-output", "https-failure"],
)
def test_async_configurations_refused(sm, output, words):
    message = refused(
        sm,
        ProductionVariants=[instance_variant()],
        AsyncInferenceConfig={"OutputConfig": output},
    )
    for word in words:
        assert word in message
