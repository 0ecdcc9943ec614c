"""Serverless endpoints through real boto3 clients against real instance processes: no
instance until the first invocation (a cold start the caller waits through), the
instance stopping after the idle period (``SIMSAGE_SERVERLESS_IDLE_SECONDS``),
ProvisionedConcurrency keeping it warm, MaxConcurrency answering ThrottlingException,
DescribeEndpoint's serverless fields, and a container that cannot start."""

from __future__ import annotations

import textwrap
import threading

import pytest
from botocore.exceptions import ClientError, WaiterError
from endpoint_helpers import FAST_WAIT, SKLEARN, deploy, instances, score, tar_gz, xgboost_artifact
from test_endpoints import pid_alive, wait_for

IDLE_ENV = "SIMSAGE_SERVERLESS_IDLE_SECONDS"


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return xgboost_artifact()


def serverless(name: str, model: str, **config) -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2, **config},
    }


def error(excinfo) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_cold_start_on_first_invoke_then_idle_stop_and_delete(simsage_local, artifact, monkeypatch):
    monkeypatch.setenv(IDLE_ENV, "2")  # the supervisor inherits it
    sm = deploy(
        simsage_local,
        "sls",
        {"sls-model": artifact},
        variants=[serverless("AllTraffic", "sls-model")],
    )
    (variant,) = sm.describe_endpoint(EndpointName="sls")["ProductionVariants"]
    config = {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert variant["CurrentServerlessConfig"] == variant["DesiredServerlessConfig"] == config
    assert "CurrentInstanceCount" not in variant and "DesiredInstanceCount" not in variant
    assert variant["CurrentWeight"] == 1.0
    wait_for(lambda: instances(simsage_local, "sls") == [])  # nothing runs before an invoke

    runtime = simsage_local.client("sagemaker-runtime")
    # A cold start longer than the invocation timeout: the caller is told to retry.
    monkeypatch.setenv("SIMSAGE_INVOCATION_TIMEOUT_SECONDS", "0.05")
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "sls")
    assert error(excinfo)[0::2] == ("ModelNotReadyException", 429)
    monkeypatch.delenv("SIMSAGE_INVOCATION_TIMEOUT_SECONDS")

    value, response = score(runtime, "sls")  # waits through (the rest of) the cold start
    assert value > 0.5 and response["InvokedProductionVariant"] == "AllTraffic"
    (first,) = instances(simsage_local, "sls")
    assert pid_alive(first.pid)
    wait_for(lambda: instances(simsage_local, "sls") == [])  # stopped after 2 s idle
    wait_for(lambda: not pid_alive(first.pid))

    assert score(runtime, "sls", "0.1,0.5,0.5")[0] < 0.5  # a second cold start
    (second,) = instances(simsage_local, "sls")
    assert second.pid != first.pid

    sm.update_endpoint_weights_and_capacities(
        EndpointName="sls",
        DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"MaxConcurrency": 4}}
        ],
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName="sls", WaiterConfig=FAST_WAIT)
    (variant,) = sm.describe_endpoint(EndpointName="sls")["ProductionVariants"]
    assert variant["CurrentServerlessConfig"]["MaxConcurrency"] == 4
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="sls",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
        )
    assert error(excinfo)[0] == "ValidationException" and "serverless" in error(excinfo)[1]

    sm.delete_endpoint(EndpointName="sls")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="sls", WaiterConfig=FAST_WAIT)
    wait_for(lambda: not pid_alive(second.pid))


# "wait:<path>" holds the request until the test creates <path> (at most 20 s).
HOLD = textwrap.dedent(
    """
    import os, time

    def model_fn(model_dir):
        return "hold"

    def transform_fn(model, body, content_type, accept):
        if body.startswith(b"wait:"):
            deadline = time.time() + 20
            while not os.path.exists(body[5:].decode()) and time.time() < deadline:
                time.sleep(0.01)
        return b"done", "text/plain"
    """
)


def test_provisioned_concurrency_stays_warm_and_max_concurrency_throttles(
    simsage_local, monkeypatch, tmp_path
):
    monkeypatch.setenv(IDLE_ENV, "0.2")
    deploy(
        simsage_local,
        "warm",
        {"warm-model": tar_gz({"code/inference.py": HOLD.encode()})},
        variants=[
            serverless("AllTraffic", "warm-model", MaxConcurrency=1, ProvisionedConcurrency=1)
        ],
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    # Provisioned: warm from the start and never stopped for idleness.
    wait_for(lambda: [i.state for i in instances(simsage_local, "warm")] == ["ready"])
    (warm,) = instances(simsage_local, "warm")
    runtime = simsage_local.client("sagemaker-runtime")
    assert runtime.invoke_endpoint(EndpointName="warm", Body=b"x")["Body"].read() == b"done"

    answers: list = []
    release = tmp_path / "release"
    held = f"wait:{release}".encode()

    def held_request() -> None:
        client = simsage_local.client("sagemaker-runtime")
        while True:  # the probes below may hold the only slot for a moment
            try:
                answers.append(client.invoke_endpoint(EndpointName="warm", Body=held))
                return
            except ClientError as exc:
                if error_code(exc)[0] != "ThrottlingException":
                    answers.append(exc)
                    return

    held_thread = threading.Thread(target=held_request)
    held_thread.start()
    try:
        # MaxConcurrency 1 is taken by the held request: the next one is throttled.
        def throttled() -> bool:
            try:
                runtime.invoke_endpoint(EndpointName="warm", Body=b"x")
            except ClientError as exc:
                assert error_code(exc) == ("ThrottlingException", 400)
                return True
            return False

        wait_for(throttled)
    finally:
        release.touch()
        held_thread.join()
    assert [a["Body"].read() for a in answers] == [b"done"]
    assert runtime.invoke_endpoint(EndpointName="warm", Body=b"x")["Body"].read() == b"done"
    assert [i.pid for i in instances(simsage_local, "warm")] == [warm.pid]  # still warm


def error_code(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_serverless_model_that_cannot_start_fails_the_endpoint(simsage_local):
    broken = tar_gz({"xgboost-model": b"this is not a model"})
    sm = deploy(
        simsage_local,
        "sls-broken",
        {"sls-broken-model": broken},
        variants=[serverless("AllTraffic", "sls-broken-model")],
        wait=False,
    )
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="sls-broken", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="sls-broken")
    assert described["EndpointStatus"] == "Failed"
    assert "Failed to load the model" in described["FailureReason"]
    assert instances(simsage_local, "sls-broken") == []
