"""Asynchronous endpoints through real boto3 clients against real instance processes:
InvokeEndpointAsync answers at once with the InferenceId and the S3 locations, the
supervisor writes the output (or the error) there, the queue outlives the process that
filled it and a restart of the supervisor, and RequestTTLSeconds and
InvocationTimeoutSeconds are honoured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import (
    BUCKET,
    FAST_WAIT,
    SKLEARN,
    deploy,
    instances,
    tar_gz,
    variant,
    xgboost_artifact,
)
from test_endpoints import pid_alive, wait_for

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return xgboost_artifact()


def async_config(prefix: str, failures: bool = True, per_instance: int = 1) -> dict:
    output = {"S3OutputPath": f"s3://{BUCKET}/{prefix}/out"}
    if failures:
        output["S3FailurePath"] = f"s3://{BUCKET}/{prefix}/failed"
    output["NotificationConfig"] = {"SuccessTopic": f"arn:aws:sns:us-east-1:{ACCOUNT}:done"}
    return {
        "OutputConfig": output,
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": per_instance},
    }


def read_when_there(s3, uri: str, timeout: float = 30.0) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    found: list[bytes] = []

    def there() -> bool:
        try:
            found.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchKey"
            return False
        return True

    wait_for(there, timeout)
    return found[0]


def test_async_outputs_failures_and_what_invoke_endpoint_answers(simsage_local, artifact):
    config = async_config("queued", per_instance=2)
    sm = deploy(simsage_local, "queued", {"queued-model": artifact}, AsyncInferenceConfig=config)
    assert sm.describe_endpoint(EndpointName="queued")["AsyncInferenceConfig"] == config
    s3 = simsage_local.client("s3")
    runtime = simsage_local.client("sagemaker-runtime")
    s3.put_object(Bucket=BUCKET, Key="requests/high.csv", Body=b"0.9,0.1,0.1")
    s3.put_object(Bucket=BUCKET, Key="requests/bad.csv", Body=b"a,b,c")

    response = runtime.invoke_endpoint_async(
        EndpointName="queued",
        InputLocation=f"s3://{BUCKET}/requests/high.csv",
        ContentType="text/csv",
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    inference_id = response["InferenceId"]
    assert len(inference_id) == 36  # a UUID, since the caller gave none
    assert response["OutputLocation"] == f"s3://{BUCKET}/queued/out/{inference_id}.out"
    assert response["FailureLocation"] == f"s3://{BUCKET}/queued/failed/{inference_id}-error.out"
    assert float(read_when_there(s3, response["OutputLocation"])) > 0.5

    # The caller's id, an inline body and a path extension and file name of its own.
    named = runtime.invoke_endpoint_async(
        EndpointName="queued",
        Body=b"0.1,0.5,0.5",
        ContentType="text/csv",
        Accept="application/json",
        InferenceId="req-7",
        S3OutputPathExtension="batch-1",
        Filename="low.json",
    )
    assert named["InferenceId"] == "req-7"
    assert named["OutputLocation"] == f"s3://{BUCKET}/queued/out/batch-1/low.json"
    assert named["FailureLocation"] == f"s3://{BUCKET}/queued/failed/batch-1/req-7-error.out"
    low = json.loads(read_when_there(s3, named["OutputLocation"]))
    assert low["predictions"][0]["score"] < 0.5
    head = s3.head_object(Bucket=BUCKET, Key="queued/out/batch-1/low.json")
    assert head["ContentType"] == "application/json"

    # A request the container refuses, and one whose input is missing: the error file.
    bad = runtime.invoke_endpoint_async(
        EndpointName="queued",
        InputLocation=f"s3://{BUCKET}/requests/bad.csv",
        ContentType="text/csv",
    )
    message = read_when_there(s3, bad["FailureLocation"]).decode()
    assert message.startswith("Received client error (415) from primary with message")
    missing = runtime.invoke_endpoint_async(
        EndpointName="queued", InputLocation=f"s3://{BUCKET}/requests/none.csv"
    )
    assert "does not exist" in read_when_there(s3, missing["FailureLocation"]).decode()
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key=f"queued/out/{bad['InferenceId']}.out")

    # What the runtime refuses.
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(EndpointName="queued", Body=b"0.9,0.1,0.1", ContentType="text/csv")
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert "InvokeEndpointAsync" in excinfo.value.response["Error"]["Message"]
    for extra in ({}, {"Body": b"1", "InputLocation": f"s3://{BUCKET}/requests/high.csv"}):
        with pytest.raises(ClientError) as excinfo:
            runtime.invoke_endpoint_async(EndpointName="queued", **extra)
        assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint_async(
            EndpointName="nowhere", InputLocation=f"s3://{BUCKET}/requests/high.csv"
        )
    assert excinfo.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": f"Endpoint nowhere of account {ACCOUNT} not found.",
    }

    # An asynchronous request to a real-time endpoint is refused.
    deploy(simsage_local, "realtime", {"realtime-model": artifact})
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint_async(
            EndpointName="realtime", InputLocation=f"s3://{BUCKET}/requests/high.csv"
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert "not an asynchronous" in excinfo.value.response["Error"]["Message"]


# "sleep <s>" answers after <s> seconds, "wait:<path>" once the test creates <path>.
SLOW = textwrap.dedent(
    """
    import os, time

    def model_fn(model_dir):
        return "slow"

    def transform_fn(model, body, content_type, accept):
        if body.startswith(b"sleep"):
            time.sleep(float(body.split()[1]))
        if body.startswith(b"wait:"):
            deadline = time.time() + 20
            while not os.path.exists(body[5:].decode()) and time.time() < deadline:
                time.sleep(0.01)
        return b"done:" + body, "text/plain"
    """
)

ENQUEUE = textwrap.dedent(
    """
    import json, sys
    import simsage
    runtime = simsage.boto3_session().client("sagemaker-runtime")
    answers = []
    for body, extra in json.loads(sys.argv[1]):
        answers.append(runtime.invoke_endpoint_async(
            EndpointName="slow-queue", Body=body.encode(), **extra))
    print(json.dumps([{k: a.get(k) for k in ("InferenceId", "OutputLocation",
        "FailureLocation")} for a in answers]))
    """
)


def test_the_queue_outlives_its_caller_and_the_supervisor(simsage_local, tmp_path):
    sm = deploy(
        simsage_local,
        "slow-queue",
        {"slow-queue-model": tar_gz({"code/inference.py": SLOW.encode()})},
        variants=[variant("AllTraffic", "slow-queue-model")],
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
        AsyncInferenceConfig=async_config("slow", failures=False),
    )
    from simsage.config import load_config
    from simsage.home import Home

    home = Home.open(load_config())

    def state(inference_id: str) -> str | None:
        row = home.db.query_one(
            "SELECT state FROM hosting_async_requests WHERE inference_id = ?", (inference_id,)
        )
        return row[0] if row else None

    # Another process queues four requests and exits; one instance takes one at a time.
    release = tmp_path / "release"
    requests = [
        [f"wait:{release}", {"InferenceId": "busy"}],
        ["first", {}],
        ["sleep 3", {"InvocationTimeoutSeconds": 1}],
        ["last", {"InferenceId": "the-last"}],
    ]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    queued = subprocess.run(
        [sys.executable, "-c", ENQUEUE, json.dumps(requests)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    answers = json.loads(queued.stdout)
    assert all(a["FailureLocation"] is None for a in answers)  # no S3FailurePath
    wait_for(lambda: state("busy") == "running")

    # A request that has waited past its RequestTTLSeconds (aged in the registry, as a
    # minute in the queue would: "busy" holds the only instance until released).
    runtime = simsage_local.client("sagemaker-runtime")
    stale = runtime.invoke_endpoint_async(
        EndpointName="slow-queue", Body=b"stale", RequestTTLSeconds=60
    )
    home.db.connection().execute(
        "UPDATE hosting_async_requests SET enqueued = enqueued - 120 WHERE inference_id = ?",
        (stale["InferenceId"],),
    )

    # The supervisor dies while working on "busy": the next call starts another one,
    # which puts "busy" back in the queue and works through it.
    from simsage.hosting.endpoint_state import EndpointStore

    pids = [i.pid for i in instances(simsage_local, "slow-queue")]
    os.kill(EndpointStore(home).find("slow-queue").supervisor_pid, signal.SIGKILL)
    # Instances follow their parent once their requests end: "busy" holds its instance
    # until its own 20 s deadline (the release comes later), so wait longer than that.
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=45)
    assert state("busy") == "running"  # claimed by the supervisor that died
    release.touch()
    assert sm.describe_endpoint(EndpointName="slow-queue")["EndpointStatus"] == "InService"

    s3 = simsage_local.client("s3")
    assert read_when_there(s3, answers[1]["OutputLocation"]) == b"done:first"
    assert read_when_there(s3, answers[3]["OutputLocation"]) == b"done:last"
    assert answers[3]["OutputLocation"] == f"s3://{BUCKET}/slow/out/the-last.out"
    assert read_when_there(s3, answers[0]["OutputLocation"]) == f"done:wait:{release}".encode()

    def error_of(answer) -> str:  # without S3FailurePath the error sits by the output
        return read_when_there(s3, answer["OutputLocation"][: -len(".out")] + "-error.out").decode()

    assert "timed out" in error_of(answers[2])
    assert "expired" in error_of(stale) and "RequestTTLSeconds (60)" in error_of(stale)
    for answer in (answers[2], stale):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=BUCKET, Key=answer["OutputLocation"].split("/", 3)[3])

    logs = simsage_local.client("logs")
    group = "/aws/sagemaker/Endpoints/slow-queue"

    def logged() -> bool:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        for stream in streams:
            if stream["logStreamName"].endswith("/data-log"):
                events = logs.get_log_events(
                    logGroupName=group, logStreamName=stream["logStreamName"]
                )["events"]
                if any("[the-last] Inference request succeeded" in e["message"] for e in events):
                    return True
        return False

    wait_for(logged, timeout=10)

    sm.delete_endpoint(EndpointName="slow-queue")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="slow-queue", WaiterConfig=FAST_WAIT)
    assert home.db.query_one("SELECT COUNT(*) FROM hosting_async_requests")[0] == 0
