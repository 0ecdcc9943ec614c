"""A job's own code reaches S3 as on AWS: the script of a processing job run by
simsage's scikit-learn image (a process on this machine) calls boto3's S3 with no
endpoint or keys of its own, and reads and writes the home's buckets. The caller here
is not activated (a plain ``simsage.boto3_session()``), so what the script uses is what
the runner gave it: the home's S3 endpoint, simsage's keys and the job's region. With
EnableNetworkIsolation the script gets no endpoint, as on AWS."""

from __future__ import annotations

import json
import time

import pytest
from request_helpers import processing_input, processing_output, processing_resources

import simsage

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bkt-inside"
SCRIPT = """
import json, os
import boto3

seen = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL_S3", "AWS_REGION")}
if seen["AWS_ENDPOINT_URL_S3"]:
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket="bkt-inside", Key="in/rows.csv")["Body"].read()
    s3.put_object(Bucket="bkt-inside", Key="direct/rows.csv", Body=body.upper())
    seen["listed"] = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt-inside")["Contents"]]
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/seen.json", "w") as out:
    json.dump(seen, out)
"""


@pytest.fixture
def session(simsage_home, monkeypatch):
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    session = simsage.boto3_session(region_name="us-east-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/rows.csv", Body=b"a,b\nc,d\n")
    s3.put_object(Bucket=BUCKET, Key="code/job.py", Body=SCRIPT.encode())
    return session


def _run(session, name: str, **changes) -> dict:
    sm = session.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
        },
        ProcessingInputs=[
            processing_input("code", f"s3://{BUCKET}/code/", "/opt/ml/processing/input/code")
        ],
        ProcessingOutputConfig={
            "Outputs": [
                processing_output("seen", f"s3://{BUCKET}/seen/{name}", "/opt/ml/processing/output")
            ]
        },
        ProcessingResources=processing_resources(),
        **changes,
    )
    deadline = time.monotonic() + 120
    while True:
        done = sm.describe_processing_job(ProcessingJobName=name)
        if done["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline, done
        time.sleep(0.1)
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    body = session.client("s3").get_object(Bucket=BUCKET, Key=f"seen/{name}/seen.json")
    return json.loads(body["Body"].read())


def test_a_jobs_script_reads_and_writes_s3_with_plain_boto3(session):
    seen = _run(session, "inside-s3")
    assert seen["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
    assert seen["AWS_REGION"] == "us-east-1"
    assert "in/rows.csv" in seen["listed"] and "direct/rows.csv" in seen["listed"]
    body = session.client("s3").get_object(Bucket=BUCKET, Key="direct/rows.csv")["Body"].read()
    assert body == b"A,B\nC,D\n"


def test_an_isolated_jobs_script_gets_no_endpoint(session):
    seen = _run(session, "inside-isolated", NetworkConfig={"EnableNetworkIsolation": True})
    assert seen["AWS_ENDPOINT_URL_S3"] is None and "listed" not in seen


def test_an_isolated_job_drops_the_endpoint_an_activated_caller_had(simsage_local):
    """Activation names the endpoint in the caller's environment, which runners inherit;
    an isolated job's processes lose it."""
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/job.py", Body=SCRIPT.encode())
    seen = _run(
        simsage.boto3_session(region_name="us-east-1"),
        "inside-isolated-activated",
        NetworkConfig={"EnableNetworkIsolation": True},
    )
    assert seen["AWS_ENDPOINT_URL_S3"] is None
