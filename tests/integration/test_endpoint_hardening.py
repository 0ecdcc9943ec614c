"""Endpoints under hostile or long-running use, through real boto3 clients and real
instance processes: idle keep-alive closes never fail an invoke, deleted endpoints
leave no socket and no folder behind, every InvokeEndpoint header member reaches the
container (and the session headers come back), header values that cannot go on the
wire are a ValidationError, duplicate variant names are refused, and a model archive
larger than the instance's volume fails the endpoint with a reason."""

from __future__ import annotations

import gzip
import json
import tarfile
import textwrap
import time

import psutil
import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import (
    BUCKET,
    FAST_WAIT,
    ROLE,
    SKLEARN,
    XGBOOST,
    deploy,
    instances,
    score,
    tar_gz,
    variant,
    xgboost_artifact,
)


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return xgboost_artifact()


def _wait_for(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _sockets_to(ports: set[int], status: str) -> list:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port in ports and c.status == status
    ]


def test_idle_closes_never_fail_an_invoke(simsage_local, artifact, monkeypatch):
    monkeypatch.setenv("SIMSAGE_SERVING_KEEPALIVE_SECONDS", "0.2")
    deploy(simsage_local, "idle", {"idle-model": artifact})
    runtime = simsage_local.client("sagemaker-runtime")
    port = instances(simsage_local, "idle")[0].port
    for _ in range(3):
        value, _ = score(runtime, "idle")
        assert 0.5 < value <= 1
        # The instance closes the kept-alive connection; this process closes its side
        # (within a second, or on the next request): nothing is left half-closed.
        _wait_for(lambda: not _sockets_to({port}, psutil.CONN_ESTABLISHED), "the idle close")
    _wait_for(lambda: not _sockets_to({port}, psutil.CONN_CLOSE_WAIT), "the reaper")


def test_deleted_endpoints_leave_no_socket_and_no_folder(simsage_local, artifact):
    sm = None
    runtime = simsage_local.client("sagemaker-runtime")
    ports: set[int] = set()
    for i in range(3):
        name = f"churn-{i}"
        sm = deploy(simsage_local, name, {f"churn-model-{i}": artifact})
        ports |= {instance.port for instance in instances(simsage_local, name)}
        for _ in range(3):
            score(runtime, name)
        sm.delete_endpoint(EndpointName=name)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST_WAIT)
    _wait_for(lambda: not _sockets_to(ports, psutil.CONN_CLOSE_WAIT), "no CLOSE_WAIT")
    assert _sockets_to(ports, psutil.CONN_ESTABLISHED) == []
    folder = simsage_local.home / "endpoints"
    assert not folder.exists() or list(folder.iterdir()) == []


ECHO_HEADERS = textwrap.dedent(
    """
    import json

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept, context):
        seen = {k: v for k, v in context.request_headers.items() if k.startswith("x-amzn")}
        session = seen.get("x-amzn-sagemaker-session-id")
        if session == "NEW_SESSION":
            context.set_response_header("X-Amzn-SageMaker-New-Session-Id", "sess-1; Expires=1")
        elif session:
            context.set_response_header("X-Amzn-SageMaker-Closed-Session-Id", session)
        return json.dumps(seen), "application/json"
    """
)


def test_every_header_member_is_forwarded_and_session_headers_answered(simsage_local):
    artifact = tar_gz({"code/inference.py": ECHO_HEADERS.encode()})
    sm = deploy(
        simsage_local,
        "headers",
        {"headers-model": artifact},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    runtime = simsage_local.client("sagemaker-runtime")
    opened = runtime.invoke_endpoint(
        EndpointName="headers",
        Body=b"{}",
        ContentType="application/json",
        SessionId="NEW_SESSION",
        CustomAttributes="c=1",
        InferenceId="inf-1",
        TargetModel="m.tar.gz",
        EnableExplanations="`true`",
        PrefixAwareId="p-1",
    )
    seen = json.loads(opened["Body"].read())
    assert seen["x-amzn-sagemaker-session-id"] == "NEW_SESSION"
    assert seen["x-amzn-sagemaker-custom-attributes"] == "c=1"
    assert seen["x-amzn-sagemaker-inference-id"] == "inf-1"
    assert seen["x-amzn-sagemaker-target-model"] == "m.tar.gz"
    assert seen["x-amzn-sagemaker-enable-explanations"] == "`true`"
    assert seen["x-amzn-sagemaker-prefix-aware-id"] == "p-1"
    assert opened["NewSessionId"] == "sess-1; Expires=1"
    closed = runtime.invoke_endpoint(
        EndpointName="headers", Body=b"{}", ContentType="application/json", SessionId="sess-1"
    )
    assert closed["ClosedSessionId"] == "sess-1" and "NewSessionId" not in closed

    # A value that cannot be an HTTP header is the caller's error, never InternalFailure.
    for bad in (
        {"CustomAttributes": "caf\u00e9 \u6771\u4eac"},
        {"InferenceId": "\u6771\u4eac"},
        {"CustomAttributes": "a\r\nX-Injected: 1"},
    ):
        with pytest.raises(ClientError) as excinfo:
            runtime.invoke_endpoint(
                EndpointName="headers", Body=b"{}", ContentType="application/json", **bad
            )
        err = excinfo.value.response["Error"]
        assert err["Code"] == "ValidationError", err
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # UpdateEndpointWeightsAndCapacities: each variant at most once.
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="headers",
            DesiredWeightsAndCapacities=[
                {"VariantName": "AllTraffic", "DesiredWeight": 1.0},
                {"VariantName": "AllTraffic", "DesiredInstanceCount": 2},
            ],
        )
    err = excinfo.value.response["Error"]
    assert err["Code"] == "ValidationException"
    assert 'The variant name "AllTraffic" was non-unique within the request.' in err["Message"]
    assert sm.describe_endpoint(EndpointName="headers")["EndpointStatus"] == "InService"


def _claims(size: int) -> bytes:
    """A tar.gz whose only member header declares ``size`` bytes (the data is not
    there: only a check of the headers, before any extraction, can refuse it)."""
    info = tarfile.TarInfo("xgboost-model")
    info.size = size
    return gzip.compress(info.tobuf(tarfile.GNU_FORMAT))


def test_a_model_larger_than_the_volume_fails_the_endpoint_with_the_reason(simsage_local):
    s3 = simsage_local.client("s3")
    sm = simsage_local.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="bomb/model.tar.gz", Body=_claims(3 * 1024**3))
    uri = f"s3://{BUCKET}/bomb/model.tar.gz"
    sm.create_model(
        ModelName="bomb",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": uri},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="bomb-config",
        ProductionVariants=[{**variant("AllTraffic", "bomb"), "VolumeSizeInGB": 2}],
    )
    sm.create_endpoint(EndpointName="bomb", EndpointConfigName="bomb-config")
    with pytest.raises(Exception):  # noqa: B017 - the waiter fails on Failed
        sm.get_waiter("endpoint_in_service").wait(EndpointName="bomb", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="bomb")
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(f'Failed to extract model data archive from URL "{uri}". ')
    assert "The model data archive is too large" in reason
    assert "3.0 GB (3221225472 bytes)" in reason and "2 GB ML storage volume" in reason
    folder = simsage_local.home / "endpoints" / "bomb"
    assert [p.name for p in folder.iterdir() if p.name.startswith("i-")] == []
    sm.delete_endpoint(EndpointName="bomb")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="bomb", WaiterConfig=FAST_WAIT)
    assert not folder.exists()
