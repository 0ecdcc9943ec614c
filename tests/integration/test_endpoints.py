"""Endpoints through real boto3 clients against real instance processes: the lifecycle
(Creating → InService → Deleting → gone), invoke_endpoint's answers and errors,
weighted variants and their updates, failed models, logs, and endpoints outliving the
process that created them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from botocore.exceptions import ClientError, WaiterError
from endpoint_helpers import (
    FAST_WAIT,
    SKLEARN,
    deploy,
    instances,
    score,
    tar_gz,
    variant,
    xgboost_artifact,
)

from simsage.runtime import processes

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return xgboost_artifact()


@pytest.fixture(scope="module")
def flipped() -> bytes:
    return xgboost_artifact(flip=True)


def error(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def pid_alive(pid: int) -> bool:
    return processes.running(pid)  # a zombie child of this process counts as gone


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_lifecycle_invoke_logs_and_delete(simsage_local, artifact):
    sm = deploy(simsage_local, "churn", {"churn-model": artifact}, wait=False)
    assert sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "Creating"
    sm.get_waiter("endpoint_in_service").wait(EndpointName="churn", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="churn")
    assert described["EndpointArn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn"
    assert described["EndpointConfigName"] == "churn-config"
    (summary,) = described["ProductionVariants"]
    assert summary["VariantName"] == "AllTraffic"
    assert summary["CurrentWeight"] == summary["DesiredWeight"] == 1.0
    assert summary["CurrentInstanceCount"] == summary["DesiredInstanceCount"] == 1
    assert summary["DeployedImages"][0]["SpecifiedImage"].endswith("sagemaker-xgboost:1.7-1")
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["churn"]
    assert sm.list_endpoints(StatusEquals="Creating")["Endpoints"] == []

    runtime = simsage_local.client("sagemaker-runtime")
    high, response = score(runtime, "churn", CustomAttributes="trace=1", InferenceId="req-1")
    low, _ = score(runtime, "churn", "0.1,0.5,0.5")
    assert high > 0.5 > low
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "trace=1"
    as_json = runtime.invoke_endpoint(
        EndpointName="churn", Body=b"0.9,0.1,0.1\n0.1,0.1,0.1", ContentType="text/csv",
        Accept="application/json",
    )  # fmt: skip
    scores = json.loads(as_json["Body"].read())["predictions"]
    assert len(scores) == 2 and scores[0]["score"] > scores[1]["score"]

    logs = simsage_local.client("logs")
    group = "/aws/sagemaker/Endpoints/churn"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["logStreamName"].startswith("AllTraffic/i-")

    pids = [i.pid for i in instances(simsage_local, "churn")]
    assert pids and all(pid_alive(p) for p in pids)
    sm.delete_endpoint(EndpointName="churn")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="churn", WaiterConfig=FAST_WAIT)
    with pytest.raises(ClientError) as excinfo:
        sm.describe_endpoint(EndpointName="churn")
    assert error(excinfo) == (
        "ValidationException",
        f'Could not find endpoint "arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn".',
    )
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "churn")
    assert error(excinfo) == ("ValidationError", f"Endpoint churn of account {ACCOUNT} not found.")
    wait_for(lambda: not any(pid_alive(p) for p in pids))
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]
    assert any("ready on" in m for m in messages) and messages[-1].endswith("stopped")


def test_invoke_errors(simsage_local, artifact):
    sm = deploy(simsage_local, "errors", {"errors-model": artifact})
    runtime = simsage_local.client("sagemaker-runtime")
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "nope")
    assert error(excinfo) == ("ValidationError", f"Endpoint nope of account {ACCOUNT} not found.")
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "ERRORS")  # invoke needs the name's own case
    assert error(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(EndpointName="errors", Body=b"1" * (6 * 1024 * 1024 + 1))
    assert error(excinfo)[0] == "ValidationError"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "errors", TargetVariant="Missing")
    assert error(excinfo)[0] == "ValidationError" and "Missing" in error(excinfo)[1]

    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(EndpointName="errors", Body=b"a,b,c", ContentType="text/csv")
    code, message = error(excinfo)
    response = excinfo.value.response
    assert code == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 415
    assert response["OriginalMessage"] in message
    assert message.startswith("Received client error (415) from primary with message")
    assert response["LogStreamArn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/errors"
    )
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(
            EndpointName="errors", Body=b"0.5,0.5,0.5", ContentType="text/csv", Accept="image/png"
        )
    assert excinfo.value.response["OriginalStatusCode"] == 406
    assert score(runtime, "errors")[0] > 0.5  # still serving

    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="Errors", EndpointConfigName="errors-config")
    assert error(excinfo) == (
        "ValidationException",
        f'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:{ACCOUNT}'
        ':endpoint/errors".',
    )
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="other", EndpointConfigName="no-such-config")
    assert "Could not find endpoint configuration" in error(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="errors",
            DesiredWeightsAndCapacities=[{"VariantName": "Nope", "DesiredWeight": 1.0}],
        )
    assert "Nope" in error(excinfo)[1]


def test_model_that_fails_to_load_makes_the_endpoint_failed(simsage_local):
    broken = tar_gz({"xgboost-model": b"this is not a model"})
    sm = deploy(simsage_local, "broken", {"broken-model": broken}, wait=False)
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert "Failed to load the model" in described["FailureReason"]
    assert instances(simsage_local, "broken") == []
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="broken", EndpointConfigName="broken-config")
    assert "failed endpoint" in error(excinfo)[1]
    runtime = simsage_local.client("sagemaker-runtime")
    with pytest.raises(ClientError) as excinfo:
        score(runtime, "broken")
    assert error(excinfo)[0] == "ValidationError" and "Failed" in error(excinfo)[1]
    sm.delete_endpoint(EndpointName="broken")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)


def test_weighted_variants_target_variant_and_weight_updates(simsage_local, artifact, flipped):
    sm = deploy(
        simsage_local,
        "ab",
        {"model-a": artifact, "model-b": flipped},
        variants=[variant("A", "model-a", weight=1.0), variant("B", "model-b", weight=0.0)],
    )
    runtime = simsage_local.client("sagemaker-runtime")
    served = {score(runtime, "ab")[1]["InvokedProductionVariant"] for _ in range(20)}
    assert served == {"A"}
    value, response = score(runtime, "ab", TargetVariant="B")
    assert response["InvokedProductionVariant"] == "B" and value < 0.5

    sm.update_endpoint_weights_and_capacities(
        EndpointName="ab",
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 1.0},
            {"VariantName": "B", "DesiredWeight": 1.0, "DesiredInstanceCount": 2},
        ],
    )
    assert sm.describe_endpoint(EndpointName="ab")["EndpointStatus"] == "Updating"
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ab", WaiterConfig=FAST_WAIT)
    variants = {
        v["VariantName"]: v for v in sm.describe_endpoint(EndpointName="ab")["ProductionVariants"]
    }
    assert variants["B"]["CurrentWeight"] == 1.0
    assert variants["B"]["CurrentInstanceCount"] == 2
    assert len([i for i in instances(simsage_local, "ab") if i.variant == "B"]) == 2
    counts = {"A": 0, "B": 0}
    for _ in range(200):
        counts[score(runtime, "ab")[1]["InvokedProductionVariant"]] += 1
    assert 50 < counts["A"] < 150, counts  # 1:1 weights, 200 draws


def test_update_endpoint_switches_models_without_failed_requests(simsage_local, artifact, flipped):
    sm = deploy(simsage_local, "blue", {"blue-model": artifact})
    s3 = simsage_local.client("s3")
    s3.put_object(Bucket="simsage-endpoints", Key="models/green/model.tar.gz", Body=flipped)
    sm.create_model(
        ModelName="green-model",
        PrimaryContainer={
            "Image": sm.describe_model(ModelName="blue-model")["PrimaryContainer"]["Image"],
            "ModelDataUrl": "s3://simsage-endpoints/models/green/model.tar.gz",
        },
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
    )
    sm.create_endpoint_config(
        EndpointConfigName="green-config", ProductionVariants=[variant("AllTraffic", "green-model")]
    )
    old_pids = [i.pid for i in instances(simsage_local, "blue")]
    runtime = simsage_local.client("sagemaker-runtime")
    results: list = []
    done = False

    import threading

    def load() -> None:
        client = simsage_local.client("sagemaker-runtime")
        while not done:
            try:
                results.append(score(client, "blue")[0])
            except Exception as exc:  # recorded: the test asserts there are none
                results.append(exc)

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        # blue must have answered before the update starts (a busy machine can take longer
        # than the whole update to build the workers' clients)
        wait_for(lambda: any(not isinstance(r, Exception) for r in results))
        sm.update_endpoint(EndpointName="blue", EndpointConfigName="green-config")
        assert sm.describe_endpoint(EndpointName="blue")["EndpointStatus"] == "Updating"
        pending = sm.describe_endpoint(EndpointName="blue").get("PendingDeploymentSummary")
        assert pending is None or pending["EndpointConfigName"] == "green-config"
        sm.get_waiter("endpoint_in_service").wait(EndpointName="blue", WaiterConfig=FAST_WAIT)
        answered = len(results)
        wait_for(lambda: len(results) > answered + 2)  # green answers the last calls
    finally:
        done = True
        for worker in workers:
            worker.join()
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == []
    assert results[0] > 0.5 and results[-1] < 0.5  # blue answered first, green last
    assert sm.describe_endpoint(EndpointName="blue")["EndpointConfigName"] == "green-config"
    wait_for(lambda: not any(pid_alive(p) for p in old_pids))
    assert score(runtime, "blue")[0] < 0.5


def test_endpoint_config_and_model_can_be_deleted_while_in_use(simsage_local, artifact):
    sm = deploy(simsage_local, "keep", {"keep-model": artifact})
    sm.delete_endpoint_config(EndpointConfigName="keep-config")
    sm.delete_model(ModelName="keep-model")
    runtime = simsage_local.client("sagemaker-runtime")
    assert score(runtime, "keep")[0] > 0.5


def test_data_capture_writes_the_sagemaker_jsonl_format(simsage_local, artifact):
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://simsage-endpoints/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    sm = deploy(simsage_local, "watched", {"watched-model": artifact}, DataCaptureConfig=capture)
    summary = sm.describe_endpoint(EndpointName="watched")["DataCaptureConfig"]
    assert summary["CaptureStatus"] == "Started" and summary["CurrentSamplingPercentage"] == 100
    runtime = simsage_local.client("sagemaker-runtime")
    for i in range(3):
        score(runtime, "watched", InferenceId=f"id-{i}")
    s3 = simsage_local.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="simsage-endpoints", Prefix="capture/")["Contents"]
    ]
    assert len(keys) == 3
    parts = keys[0].split("/")
    assert parts[:3] == ["capture", "watched", "AllTraffic"] and len(parts) == 8
    assert parts[7].endswith(".jsonl") and len(parts[3]) == 4  # yyyy/mm/dd/hh/file
    records = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket="simsage-endpoints", Key=key)["Body"].read().splitlines()
    ]
    record = records[0]
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "0.9,0.1,0.1",
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "CSV"
    assert float(output["data"]) > 0.5
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == ["id-0", "id-1", "id-2"]


SCRIPT = textwrap.dedent(
    """
    import json, os, pickle

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
            return pickle.load(f)

    def input_fn(body, content_type):
        return json.loads(body)["instances"]

    def predict_fn(data, model):
        return model.predict(data).tolist()

    def output_fn(prediction, accept):
        return json.dumps({"labels": prediction}), "application/json"
    """
)


def test_script_mode_sklearn_endpoint(simsage_local):
    import pickle

    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [0.1], [0.9], [1.0]], [0, 0, 1, 1])
    artifact = tar_gz({"model.pkl": pickle.dumps(model), "code/inference.py": SCRIPT.encode()})
    deploy(
        simsage_local,
        "script",
        {"script-model": artifact},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    runtime = simsage_local.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="script",
        Body=json.dumps({"instances": [[0.05], [0.95]]}),
        ContentType="application/json",
    )
    assert json.loads(response["Body"].read()) == {"labels": [0, 1]}
    assert response["ContentType"] == "application/json"


def test_endpoint_outlives_its_creator_and_the_cli_deletes_it(simsage_local, artifact, tmp_path):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="simsage-endpoints")
    s3.put_object(Bucket="simsage-endpoints", Key="m/model.tar.gz", Body=artifact)
    creator = textwrap.dedent(
        """
        import simsage
        sm = simsage.boto3_session().client("sagemaker")
        sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
            "sagemaker-xgboost:1.7-1", "ModelDataUrl": "s3://simsage-endpoints/m/model.tar.gz"})
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName="lasting", EndpointConfigName="c")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    subprocess.run([sys.executable, "-c", creator], check=True, env=env, timeout=60)
    sm = simsage_local.client("sagemaker")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="lasting", WaiterConfig=FAST_WAIT)
    runtime = simsage_local.client("sagemaker-runtime")
    assert score(runtime, "lasting")[0] > 0.5
    pids = [i.pid for i in instances(simsage_local, "lasting")]
    result = subprocess.run(
        [sys.executable, "-m", "simsage.cli", "endpoints", "delete", "lasting"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    sm.get_waiter("endpoint_deleted").wait(EndpointName="lasting", WaiterConfig=FAST_WAIT)
    wait_for(lambda: not any(pid_alive(p) for p in pids))


def test_killed_supervisor_takes_its_instances_and_is_revived(simsage_local, artifact):
    sm = deploy(simsage_local, "phoenix", {"phoenix-model": artifact})
    from simsage.config import load_config
    from simsage.home import Home
    from simsage.hosting.endpoint_state import EndpointStore

    endpoint = EndpointStore(Home.open(load_config())).find("phoenix")
    pids = [i.pid for i in instances(simsage_local, "phoenix")]
    os.kill(endpoint.supervisor_pid, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in pids))  # instances follow their parent
    # The next call finds no supervisor, starts one and waits for the instance.
    runtime = simsage_local.client("sagemaker-runtime")
    assert score(runtime, "phoenix")[0] > 0.5
    assert sm.describe_endpoint(EndpointName="phoenix")["EndpointStatus"] == "InService"


def test_list_endpoints_filters_sorts_and_pages(simsage_local, artifact):
    broken = tar_gz({"xgboost-model": b"not a model"})
    sm = deploy(simsage_local, "list-b", {"list-model": artifact})
    deploy(simsage_local, "list-a", {"list-broken": broken}, wait=False)
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="list-a", WaiterConfig=FAST_WAIT)
    sm.create_endpoint(EndpointName="other", EndpointConfigName="list-b-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="other", WaiterConfig=FAST_WAIT)

    def names(**kwargs) -> list[str]:
        pages = sm.get_paginator("list_endpoints").paginate(**kwargs)
        return [e["EndpointName"] for page in pages for e in page["Endpoints"]]

    assert names() == ["other", "list-a", "list-b"]  # newest first
    assert names(SortBy="Name", SortOrder="Ascending") == ["list-a", "list-b", "other"]
    assert names(NameContains="LIST", SortBy="Name", SortOrder="Ascending") == ["list-a", "list-b"]
    assert names(StatusEquals="Failed") == ["list-a"]
    assert names(SortBy="Status", SortOrder="Ascending") == ["list-a", "list-b", "other"]
    assert names(PaginationConfig={"PageSize": 1}) == ["other", "list-a", "list-b"]
    first = sm.list_endpoints(MaxResults=2)
    assert len(first["Endpoints"]) == 2 and "NextToken" in first
    tags = [{"Key": "team", "Value": "ml"}]
    arn = sm.describe_endpoint(EndpointName="other")["EndpointArn"]
    sm.add_tags(ResourceArn=arn, Tags=tags)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == tags


SLOW_SCRIPT = textwrap.dedent(
    """
    import time

    def model_fn(model_dir):
        return "slow"

    def transform_fn(model, body, content_type, accept):
        if body == b"sleep":
            time.sleep(3)
        return b"done", "text/plain"
    """
)


def test_invocation_timeout_is_a_model_error_and_the_endpoint_survives(simsage_local, monkeypatch):
    artifact = tar_gz({"code/inference.py": SLOW_SCRIPT.encode()})
    sm = deploy(
        simsage_local,
        "slow",
        {"slow-model": artifact},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
        wait=False,
    )
    runtime = simsage_local.client("sagemaker-runtime")
    with pytest.raises(ClientError) as excinfo:  # not in service yet
        runtime.invoke_endpoint(EndpointName="slow", Body=b"x")
    assert error(excinfo)[0] == "ValidationError" and "Creating" in error(excinfo)[1]
    sm.get_waiter("endpoint_in_service").wait(EndpointName="slow", WaiterConfig=FAST_WAIT)
    monkeypatch.setenv("SIMSAGE_INVOCATION_TIMEOUT_SECONDS", "1")
    started = time.monotonic()
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(EndpointName="slow", Body=b"sleep")
    assert time.monotonic() - started < 2.5
    code, message = error(excinfo)
    assert code == "ModelError" and "timed out" in message
    assert runtime.invoke_endpoint(EndpointName="slow", Body=b"fast")["Body"].read() == b"done"
