"""Containers under a real Docker engine reach simsage's S3 as SageMaker's containers
reach S3: a training job's hosts, a processing job and an endpoint's container call
AWS_ENDPOINT_URL_S3 (their own 127.0.0.1, relayed to the home's endpoint on the host's)
with SigV4 signatures made from the keys in their environment. A job with
EnableNetworkIsolation gets no S3, as on AWS.

Marked ``docker`` (see tests/docker_helpers.py); the relay needs root with a local engine,
which is how CI runs them."""

from __future__ import annotations

import json
import os

import pytest
from docker_helpers import ecr_name, leftovers
from endpoint_helpers import tar_gz
from request_helpers import processing_input, processing_resources
from test_docker_images import (
    BUCKET,
    ROLE,
    _delete_endpoint,
    _endpoint,
    _model_json,
    _train,
    _wait,
    aws,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]
__all__ = ["aws"]  # the fixture, shared with test_docker_images

if os.geteuid() != 0:
    pytest.skip(
        "a container's S3 relay enters its network namespace, which needs root",
        allow_module_level=True,
    )


def _model_archive() -> bytes:
    return tar_gz({"model.json": json.dumps({"weight": 3}).encode()})


def _seen(aws, done: dict, host: str) -> dict:
    return _model_json(aws, done["ModelArtifacts"]["S3ModelArtifacts"], f"{host}.json")


def test_training_hosts_read_and_write_s3_through_the_endpoint(aws, docker_client, custom_image):
    done = _train(
        aws,
        ecr_name(custom_image),
        "docker-s3",
        count=2,
        mode="s3",
        bucket=BUCKET,
        source="data/part-1.csv",
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    s3 = aws.client("s3")
    for host in ("algo-1", "algo-2"):
        seen = _seen(aws, done, host)
        assert seen["endpoint"].startswith("http://127.0.0.1:")
        assert seen["region"] == "us-east-1"
        assert seen["get"] == [200, "1,0\n1,1\n1,2\n"]
        assert seen["put"] == 200
        body = s3.get_object(Bucket=BUCKET, Key=f"from-container/{host}.csv")["Body"].read()
        assert body == f"{host}\n1,0\n1,1\n1,2\n".encode()
    assert leftovers(docker_client, "docker-s3") == []


def test_an_isolated_training_job_gets_no_s3(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    sm.create_training_job(
        TrainingJobName="docker-s3-isolated",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": custom_image, "TrainingInputMode": "File"},
        HyperParameters={"mode": "s3", "bucket": BUCKET, "source": "data/part-1.csv"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        EnableNetworkIsolation=True,
    )
    done = _wait(
        lambda: sm.describe_training_job(TrainingJobName="docker-s3-isolated"),
        "TrainingJobStatus",
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert _seen(aws, done, "algo-1") == {"endpoint": None, "region": None}


def test_a_processing_container_puts_its_own_object(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName="docker-s3-process",
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": custom_image,
            "ContainerEntrypoint": ["process", "/opt/ml/processing/input/data", "/tmp/out"],
        },
        Environment={"SUMMARY_TO": f"{BUCKET}/direct/summary.json"},
        ProcessingInputs=[
            processing_input("data", f"s3://{BUCKET}/data/", "/opt/ml/processing/input/data")
        ],
        ProcessingResources=processing_resources(),
    )
    done = _wait(
        lambda: sm.describe_processing_job(ProcessingJobName="docker-s3-process"),
        "ProcessingJobStatus",
    )
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    body = aws.client("s3").get_object(Bucket=BUCKET, Key="direct/summary.json")["Body"].read()
    assert json.loads(body)["rows"] == 14
    assert leftovers(docker_client, "docker-s3-process") == []


def test_an_endpoints_container_reads_s3(aws, docker_client, custom_image):
    done = _endpoint(aws, ecr_name(custom_image), "docker-s3-serve")
    assert done["EndpointStatus"] == "InService", done.get("FailureReason")
    try:
        answer = aws.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="docker-s3-serve",
            Body=f"s3://{BUCKET}/data/part-0.csv".encode(),
            ContentType="application/x-s3-object",
        )
        assert answer["Body"].read() == b"0,0\n0,1\n"
    finally:
        _delete_endpoint(aws, "docker-s3-serve")


def test_an_isolated_models_container_gets_no_s3(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    aws.client("s3").put_object(Bucket=BUCKET, Key="models/iso.tar.gz", Body=_model_archive())
    sm.create_model(
        ModelName="docker-s3-iso",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": custom_image,
            "ModelDataUrl": f"s3://{BUCKET}/models/iso.tar.gz",
        },
        EnableNetworkIsolation=True,
    )
    sm.create_endpoint_config(
        EndpointConfigName="docker-s3-iso",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "docker-s3-iso",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="docker-s3-iso", EndpointConfigName="docker-s3-iso")
    done = _wait(
        lambda: sm.describe_endpoint(EndpointName="docker-s3-iso"),
        "EndpointStatus",
        done=("InService", "Failed"),
    )
    assert done["EndpointStatus"] == "InService", done.get("FailureReason")
    try:
        runtime = aws.client("sagemaker-runtime")
        with pytest.raises(runtime.exceptions.ModelError, match="no S3 endpoint"):
            runtime.invoke_endpoint(
                EndpointName="docker-s3-iso",
                Body=f"s3://{BUCKET}/data/part-0.csv".encode(),
                ContentType="application/x-s3-object",
            )
    finally:
        _delete_endpoint(aws, "docker-s3-iso")
