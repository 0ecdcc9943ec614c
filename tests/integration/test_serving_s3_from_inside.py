"""An endpoint's inference code reaches S3 as on AWS: a script-mode model (simsage's
scikit-learn image, a process on this machine) whose ``predict_fn`` calls boto3's S3
with no endpoint or keys of its own. The caller is not activated (a plain
``simsage.boto3_session()``), so what the script uses is what the endpoint's
supervisor gave it: the home's S3 endpoint, simsage's keys and the endpoint's region. A
model with EnableNetworkIsolation gets none, as on AWS."""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest
from endpoint_helpers import BUCKET, SKLEARN, deploy, tar_gz

import simsage

INFERENCE = textwrap.dedent(
    """
    import json, os
    import boto3

    def model_fn(model_dir):
        return None

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, model):
        if not os.environ.get("AWS_ENDPOINT_URL_S3"):
            return {"endpoint": None}
        s3 = boto3.client("s3")
        body = s3.get_object(Bucket=data["bucket"], Key=data["key"])["Body"].read()
        return {"endpoint": os.environ["AWS_ENDPOINT_URL_S3"], "body": body.decode()}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
    """
)


@pytest.fixture
def session(simsage_home, monkeypatch):
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    session = simsage.boto3_session(region_name="us-east-1")
    yield SimpleNamespace(client=session.client)
    sm = session.client("sagemaker")
    for endpoint in sm.list_endpoints()["Endpoints"]:
        sm.delete_endpoint(EndpointName=endpoint["EndpointName"])


def _ask(session, name: str) -> dict:
    answer = session.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name,
        Body=json.dumps({"bucket": BUCKET, "key": "notes/hello.txt"}),
        ContentType="application/json",
    )
    return json.loads(answer["Body"].read())


def test_inference_code_reads_s3_with_plain_boto3(session):
    artifact = tar_gz({"code/inference.py": INFERENCE.encode()})
    deploy(
        session,
        "s3-inside",
        {"s3-inside-model": artifact},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    session.client("s3").put_object(Bucket=BUCKET, Key="notes/hello.txt", Body=b"hello")
    answer = _ask(session, "s3-inside")
    assert answer["endpoint"].startswith("http://127.0.0.1:")
    assert answer["body"] == "hello"


def test_an_isolated_models_inference_code_gets_no_endpoint(session):
    artifact = tar_gz({"code/inference.py": INFERENCE.encode()})
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/iso/model.tar.gz", Body=artifact)
    sm = session.client("sagemaker")
    sm.create_model(
        ModelName="iso-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={
            "Image": SKLEARN,
            "ModelDataUrl": f"s3://{BUCKET}/models/iso/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        EnableNetworkIsolation=True,
    )
    sm.create_endpoint_config(
        EndpointConfigName="iso-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "iso-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="iso", EndpointConfigName="iso-config")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="iso", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
    )
    assert _ask(session, "iso") == {"endpoint": None}


def test_an_isolated_model_drops_the_endpoint_an_activated_caller_had(simsage_local):
    """Activation names the endpoint in the caller's environment, which the endpoint's
    supervisor inherits; an isolated model's server loses it."""
    test_an_isolated_models_inference_code_gets_no_endpoint(simsage_local)
