"""Batch transform end to end: real runner, real inference servers over HTTP, real
``.out`` objects in simsage's S3 (CONTRACTS F)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import numpy as np
import pytest
import xgboost

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "transform"
GROUP = "/aws/sagemaker/TransformJobs"

# A script-mode model: JSON records in, the sum of "features" (or of the record) out,
# one output line per input line; SLEEP_SECONDS slows every request (for Stop).
SCRIPT = """
import json, os, time

def model_fn(model_dir):
    return float(os.environ.get("SLEEP_SECONDS", "0"))

def input_fn(body, content_type):
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

def predict_fn(rows, pause):
    time.sleep(pause)
    return [sum(r["features"] if isinstance(r, dict) else r) for r in rows]

def output_fn(predictions, accept):
    return "".join(json.dumps(p) + "\\n" for p in predictions), "application/jsonlines"
"""


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def booster_artifact():
    """A small trained XGBoost regressor (3 features) and its model.tar.gz."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = x[:, 0] * 2 + x[:, 1]
    booster = xgboost.train(
        {"max_depth": 3, "objective": "reg:squarederror"}, xgboost.DMatrix(x, label=y), 10
    )
    raw = booster.save_raw("json")
    return booster, _tar({"xgboost-model": bytes(raw)})


@pytest.fixture
def env(simsage_local, booster_artifact):
    booster, artifact = booster_artifact
    s3, sm = simsage_local.client("s3"), simsage_local.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/xgb.tar.gz", Body=artifact)
    s3.put_object(
        Bucket=BUCKET, Key="models/script.tar.gz", Body=_tar({"code/inference.py": SCRIPT.encode()})
    )
    sm.create_model(
        ModelName="xgb",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/models/xgb.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_model(
        ModelName="script",
        PrimaryContainer={
            "Image": SKLEARN,
            "ModelDataUrl": f"s3://{BUCKET}/models/script.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        ExecutionRoleArn=ROLE,
    )
    return s3, sm, simsage_local.client("logs"), booster


def _rows(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, 3)).astype(np.float32)


def _csv(rows: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows).encode()


def _expected(booster, rows: np.ndarray) -> np.ndarray:
    parsed = np.array([[float(f"{v:.6f}") for v in row] for row in rows], dtype=np.float32)
    return booster.inplace_predict(parsed)


def _create(sm, name, uri, model="xgb", data_type="S3Prefix", output="out", **changes):
    request = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/{output}", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return sm.create_transform_job(**request)["TransformJobArn"]


def _wait(sm, name, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish")


def _read(s3, key) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _keys(s3, prefix) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_multirecord_lines_keep_input_order_across_concurrent_batches(env):
    s3, sm, logs, booster = env
    big = _rows(40_000, 1)  # ~1.3 MB: several 1 MB mini-batches in flight at once
    small = _rows(7, 2)
    s3.put_object(Bucket=BUCKET, Key="in/a/big.csv", Body=_csv(big))
    s3.put_object(Bucket=BUCKET, Key="in/b/small.csv", Body=_csv(small))
    _create(
        sm,
        "multi",
        f"s3://{BUCKET}/in/",
        MaxPayloadInMB=1,
        MaxConcurrentTransforms=4,
        BatchStrategy="MultiRecord",
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="multi", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    described = sm.describe_transform_job(TransformJobName="multi")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformStartTime"] <= described["TransformEndTime"]
    assert described["MaxPayloadInMB"] == 1 and described["MaxConcurrentTransforms"] == 4
    assert described["TransformInput"]["CompressionType"] == "None"
    assert sorted(_keys(s3, "out/")) == ["out/a/big.csv.out", "out/b/small.csv.out"]
    for key, rows in (("out/a/big.csv.out", big), ("out/b/small.csv.out", small)):
        lines = _read(s3, key).decode().splitlines()
        assert len(lines) == len(rows)
        np.testing.assert_allclose(
            np.array(lines, dtype=np.float32), _expected(booster, rows), rtol=1e-5
        )

    streams = [
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    ]
    data_log = next(s for s in streams if s.endswith("/data-log"))
    assert data_log.startswith("multi/i-") and data_log[: -len("/data-log")] in streams
    messages = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName=GROUP, logStreamName=data_log, startFromHead=True
        )["events"]
    ]
    assert any("MaxConcurrentTransforms=4, MaxPayloadInMB=1" in m for m in messages)
    size = len(_csv(big))
    assert any(f"in/a/big.csv: completed, {size} bytes in 2 requests" in m for m in messages)


def test_single_record_with_assemble_none_concatenates_responses(env):
    s3, sm, _, booster = env
    rows = _rows(3, 3)
    s3.put_object(Bucket=BUCKET, Key="single/x.csv", Body=_csv(rows))
    common = {"BatchStrategy": "SingleRecord"}
    _create(
        sm,
        "glued",
        f"s3://{BUCKET}/single/",
        output="glued",
        TransformOutput={"Accept": "application/json", "AssembleWith": "None"},
        **common,
    )
    _create(
        sm,
        "lined",
        f"s3://{BUCKET}/single/",
        output="lined",
        TransformOutput={"Accept": "application/json", "AssembleWith": "Line"},
        **common,
    )
    assert _wait(sm, "glued")["TransformJobStatus"] == "Completed"
    assert _wait(sm, "lined")["TransformJobStatus"] == "Completed"
    glued = _read(s3, "glued/x.csv.out").decode()
    lined = _read(s3, "lined/x.csv.out").decode()
    assert glued.count("}{") == 2 and "\n" not in glued
    scores = [json.loads(line)["predictions"][0]["score"] for line in lined.splitlines()]
    np.testing.assert_allclose(scores, _expected(booster, rows), rtol=1e-5)
    assert s3.head_object(Bucket=BUCKET, Key="lined/x.csv.out")["ContentType"] == "application/json"


def test_gzip_objects_from_a_manifest_whole_objects_on_two_instances(env):
    s3, sm, logs, booster = env
    parts = {f"p{i}.csv": _rows(5 + i, 10 + i) for i in range(3)}
    for name, rows in parts.items():
        s3.put_object(Bucket=BUCKET, Key=f"gz/{name}", Body=gzip.compress(_csv(rows)))
    manifest = [{"prefix": f"s3://{BUCKET}/gz/"}, *parts]
    s3.put_object(Bucket=BUCKET, Key="manifests/m.json", Body=json.dumps(manifest).encode())
    _create(
        sm,
        "gz",
        f"s3://{BUCKET}/manifests/m.json",
        data_type="ManifestFile",
        TransformInput={"CompressionType": "Gzip", "SplitType": "None"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    described = _wait(sm, "gz")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    for name, rows in parts.items():
        values = np.array(_read(s3, f"out/{name}.out").decode().split(), dtype=np.float32)
        np.testing.assert_allclose(values, _expected(booster, rows), rtol=1e-5)
    data_logs = [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="gz/")[
            "logStreams"
        ]
        if s["logStreamName"].endswith("/data-log")
    ]
    assert len(data_logs) == 2  # one per instance


def test_a_record_over_max_payload_fails_the_job_and_writes_nothing(env):
    s3, sm, _, _ = env
    wide = ",".join(["1.0"] * 300_000)  # one ~1.2 MB line
    s3.put_object(Bucket=BUCKET, Key="wide/w.csv", Body=f"1,2,3\n{wide}\n".encode())
    _create(sm, "wide", f"s3://{BUCKET}/wide/", MaxPayloadInMB=1)
    described = _wait(sm, "wide")
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert (
        "wide/w.csv: the record starting at byte 6 is larger than MaxPayloadInMB (1 MB)" in reason
    )
    assert _keys(s3, "out/") == []


def test_a_bad_object_fails_the_job_but_the_good_outputs_remain(env):
    s3, sm, logs, _ = env
    s3.put_object(Bucket=BUCKET, Key="mixed/1-good.csv", Body=_csv(_rows(4, 5)))
    s3.put_object(Bucket=BUCKET, Key="mixed/2-bad.csv", Body=b"1,2,3\nnot,a,number\n")
    _create(sm, "mixed", f"s3://{BUCKET}/mixed/")
    described = _wait(sm, "mixed")
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: s3://transform/mixed/2-bad.csv: ")
    assert "Bad HTTP status received from algorithm: 415" in reason
    assert _keys(s3, "out/") == ["out/1-good.csv.out"]
    summary = sm.list_transform_jobs(StatusEquals="Failed")["TransformJobSummaries"][0]
    assert summary["TransformJobName"] == "mixed" and summary["FailureReason"] == reason


def test_csv_input_filter_join_and_output_filter(env):
    s3, sm, _, booster = env
    rows = _rows(5, 6)
    ids = [f"id{i}" for i in range(5)]
    body = "".join(
        f"{i}," + ",".join(f"{v:.6f}" for v in row) + "\n" for i, row in zip(ids, rows, strict=True)
    )
    s3.put_object(Bucket=BUCKET, Key="dp/rows.csv", Body=body.encode())
    _create(
        sm,
        "dp-csv",
        f"s3://{BUCKET}/dp/",
        BatchStrategy="MultiRecord",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )
    described = _wait(sm, "dp-csv")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    lines = [line.split(",") for line in _read(s3, "out/rows.csv.out").decode().splitlines()]
    assert [line[0] for line in lines] == ids
    np.testing.assert_allclose(
        np.array([line[1] for line in lines], dtype=np.float32), _expected(booster, rows), rtol=1e-5
    )


def test_json_lines_join_objects_and_wrap_other_values(env):
    s3, sm, _, _ = env
    objects = [{"id": i, "features": [i, 2 * i]} for i in range(4)]
    s3.put_object(
        Bucket=BUCKET,
        Key="json/obj/o.jsonl",
        Body="".join(json.dumps(o) + "\n" for o in objects).encode(),
    )
    s3.put_object(Bucket=BUCKET, Key="json/arr/a.jsonl", Body=b"[1, 2]\n[3, 4]\n")
    jsonl = {"ContentType": "application/jsonlines"}
    _create(
        sm,
        "dp-obj",
        f"s3://{BUCKET}/json/obj/",
        model="script",
        TransformInput=jsonl,
        TransformOutput={"Accept": "application/jsonlines"},
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )
    _create(
        sm,
        "dp-arr",
        f"s3://{BUCKET}/json/arr/",
        model="script",
        TransformInput=jsonl,
        TransformOutput={"Accept": "application/jsonlines"},
        DataProcessing={"JoinSource": "Input"},
    )
    assert _wait(sm, "dp-obj")["TransformJobStatus"] == "Completed"
    assert _wait(sm, "dp-arr")["TransformJobStatus"] == "Completed"
    joined = [json.loads(line) for line in _read(s3, "out/o.jsonl.out").decode().splitlines()]
    assert joined == [{"id": i, "SageMakerOutput": 3 * i} for i in range(4)]
    wrapped = [json.loads(line) for line in _read(s3, "out/a.jsonl.out").decode().splitlines()]
    assert wrapped == [
        {"SageMakerInput": [1, 2], "SageMakerOutput": 3},
        {"SageMakerInput": [3, 4], "SageMakerOutput": 7},
    ]


def test_stop_ends_the_job_as_stopped_without_partial_output(env):
    s3, sm, _, _ = env
    s3.put_object(Bucket=BUCKET, Key="slow/s.jsonl", Body=b"[1]\n" * 200)
    _create(
        sm,
        "slow",
        f"s3://{BUCKET}/slow/",
        model="script",
        TransformInput={"ContentType": "application/jsonlines"},
        BatchStrategy="SingleRecord",
        Environment={"SLEEP_SECONDS": "0.2"},
    )
    deadline = time.time() + 30
    while sm.describe_transform_job(TransformJobName="slow").get("TransformStartTime") is None:
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    sm.stop_transform_job(TransformJobName="slow")
    assert sm.describe_transform_job(TransformJobName="slow")["TransformJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    described = _wait(sm, "slow")
    assert described["TransformJobStatus"] == "Stopped"
    assert described["Environment"] == {"SLEEP_SECONDS": "0.2"}
    assert _keys(s3, "out/") == []


def test_invocations_timeout_and_retries_fail_the_object_with_the_reason(env):
    s3, sm, _, _ = env
    s3.put_object(Bucket=BUCKET, Key="late/l.jsonl", Body=b"[1]\n")
    _create(
        sm,
        "late",
        f"s3://{BUCKET}/late/",
        model="script",
        TransformInput={"ContentType": "application/jsonlines"},
        Environment={"SLEEP_SECONDS": "3"},
        ModelClientConfig={"InvocationsTimeoutInSeconds": 1, "InvocationsMaxRetries": 1},
    )
    described = _wait(sm, "late")
    assert described["TransformJobStatus"] == "Failed"
    assert (
        "late/l.jsonl: the model container did not answer: timed out" in described["FailureReason"]
    )
    assert _keys(s3, "out/") == []


def test_stop_while_the_model_is_still_loading(env):
    s3, sm, _, _ = env
    slow_load = "import time\n\ndef model_fn(model_dir):\n    time.sleep(60)\n"
    s3.put_object(
        Bucket=BUCKET,
        Key="models/slow-load.tar.gz",
        Body=_tar({"code/inference.py": slow_load.encode()}),
    )
    sm.create_model(
        ModelName="slow-load",
        PrimaryContainer={
            "Image": SKLEARN,
            "ModelDataUrl": f"s3://{BUCKET}/models/slow-load.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        ExecutionRoleArn=ROLE,
    )
    s3.put_object(Bucket=BUCKET, Key="loading/rows.csv", Body=b"1,2,3\n")
    _create(sm, "loading", f"s3://{BUCKET}/loading/", model="slow-load")
    time.sleep(1.0)
    sm.stop_transform_job(TransformJobName="loading")
    started = time.time()
    described = _wait(sm, "loading", timeout=30)
    assert described["TransformJobStatus"] == "Stopped"
    assert time.time() - started < 15  # not the 60 s the model takes to load
    assert _keys(s3, "out/") == []


def test_cli_lists_describes_and_prints_the_logs_of_transform_jobs(env):
    from click.testing import CliRunner

    from simsage.cli import main

    s3, sm, _, _ = env
    s3.put_object(Bucket=BUCKET, Key="cli/rows.csv", Body=_csv(_rows(5, 1)))
    _create(sm, "cli-job", f"s3://{BUCKET}/cli/")
    assert _wait(sm, "cli-job")["TransformJobStatus"] == "Completed"
    runner = CliRunner()
    listed = runner.invoke(main, ["transform", "ls"])
    assert listed.exit_code == 0 and "Completed" in listed.output and "cli-job" in listed.output
    described = runner.invoke(main, ["transform", "describe", "cli-job"])
    assert json.loads(described.output)["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/out"
    logs = runner.invoke(main, ["transform", "logs", "cli-job"])
    assert "cli/rows.csv: completed" in logs.output
    info = runner.invoke(main, ["info"])
    assert "transform jobs:    1" in info.output and "models:            2" in info.output


def _data_log(logs, job: str) -> list[str]:
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{job}/")
    data_log = next(
        s["logStreamName"] for s in streams["logStreams"] if s["logStreamName"].endswith("data-log")
    )
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=data_log, startFromHead=True)
    return [e["message"] for e in events["events"]]


def test_execution_parameters_fill_in_what_the_request_left_unset(env):
    import os

    s3, sm, logs, booster = env
    rows = _rows(6, 4)
    s3.put_object(Bucket=BUCKET, Key="params/rows.csv", Body=_csv(rows))
    # The built-in XGBoost container answers GET /execution-parameters: its CPU count
    # of concurrent transforms and MULTI_RECORD; the request leaves both unset.
    _create(sm, "params", f"s3://{BUCKET}/params/", output="params")
    # A request's own values win over the container's answer.
    _create(
        sm,
        "params-own",
        f"s3://{BUCKET}/params/",
        output="params-own",
        MaxConcurrentTransforms=1,
        BatchStrategy="SingleRecord",
    )
    # A script-mode container answers 404: SageMaker's defaults apply.
    s3.put_object(Bucket=BUCKET, Key="params-json/rows.jsonl", Body=b"[1, 2]\n[3, 4]\n")
    _create(
        sm,
        "params-script",
        f"s3://{BUCKET}/params-json/",
        model="script",
        output="params-script",
        TransformInput={"ContentType": "application/jsonlines"},
    )
    for job in ("params", "params-own", "params-script"):
        assert _wait(sm, job)["TransformJobStatus"] == "Completed", job
    cpus = min(os.cpu_count(), 64)
    answered = _data_log(logs, "params")
    assert (
        "[sagemaker logs]: GET /execution-parameters answered 200; "
        f"MaxConcurrentTransforms={cpus}, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD"
    ) in answered
    assert any("params/rows.csv: completed" in m and "in 1 requests" in m for m in answered)
    own = _data_log(logs, "params-own")
    assert any(
        "answered 200; MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=SINGLE_RECORD"
        in m
        for m in own
    )
    assert any("params/rows.csv: completed" in m and "in 6 requests" in m for m in own)
    assert any(
        "answered 404; MaxConcurrentTransforms=1, MaxPayloadInMB=6" in m
        for m in _data_log(logs, "params-script")
    )
    values = np.array(_read(s3, "params/rows.csv.out").decode().split(), dtype=np.float32)
    np.testing.assert_allclose(values, _expected(booster, rows), rtol=1e-5)


def test_a_model_larger_than_the_fixed_volume_fails_the_job_with_the_reason(env):
    s3, sm, _, _ = env
    info = tarfile.TarInfo("xgboost-model")
    info.size = 31 * 1024**3  # more than batch transform's fixed 30 GB volume
    s3.put_object(
        Bucket=BUCKET, Key="models/huge.tar.gz", Body=gzip.compress(info.tobuf(tarfile.GNU_FORMAT))
    )
    uri = f"s3://{BUCKET}/models/huge.tar.gz"
    sm.create_model(
        ModelName="huge",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": uri},
        ExecutionRoleArn=ROLE,
    )
    s3.put_object(Bucket=BUCKET, Key="huge-in/rows.csv", Body=b"1,2,3\n")
    _create(sm, "huge", f"s3://{BUCKET}/huge-in/", model="huge")
    described = _wait(sm, "huge")
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(
        f'ClientError: Failed to extract model data archive from URL "{uri}". The model data '
        "archive is too large: it expands to at least 31.0 GB"
    )
    assert "the instance's 30 GB ML storage volume" in reason
    assert _keys(s3, "out/") == []


def _manifests(s3, prefix) -> list[list]:
    keys = _keys(s3, prefix)
    for key in keys:  # <prefix>yyyy/mm/dd/hh/<uuid>.json
        parts = key[len(prefix) :].split("/")
        assert [len(p) for p in parts[:4]] == [4, 2, 2, 2] and parts[4].endswith(".json")
    return [json.loads(_read(s3, key)) for key in keys]


def test_data_capture_writes_manifests_and_inference_ids(env):
    s3, sm, _, booster = env
    rows = {"a.csv": _rows(4, 20), "b.csv": _rows(3, 21)}
    for name, part in rows.items():
        s3.put_object(Bucket=BUCKET, Key=f"cap/in/{name}", Body=_csv(part))
    objects = [{"id": i, "features": [i, 1]} for i in range(3)]
    s3.put_object(
        Bucket=BUCKET,
        Key="cap/json/o.jsonl",
        Body="".join(json.dumps(o) + "\n" for o in objects).encode(),
    )
    capture = {"DestinationS3Uri": f"s3://{BUCKET}/cap/captured", "GenerateInferenceId": True}
    _create(sm, "cap-csv", f"s3://{BUCKET}/cap/in/", output="cap/out", DataCaptureConfig=capture)
    _create(
        sm,
        "cap-json",
        f"s3://{BUCKET}/cap/json/o.jsonl",
        model="script",
        output="cap/json-out",
        TransformInput={"ContentType": "application/jsonlines"},
        TransformOutput={"Accept": "application/jsonlines"},
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input"},
        DataCaptureConfig={"DestinationS3Uri": f"s3://{BUCKET}/cap/json-captured/"}
        | {"GenerateInferenceId": True},
    )
    described = _wait(sm, "cap-csv")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["DataCaptureConfig"] == capture
    started = described["TransformStartTime"].strftime("%Y-%m-%dT%H:%M:%SZ")

    # Inference id and time: the last two columns of every CSV record, one id per record.
    ids = []
    for name, part in rows.items():
        lines = [line.split(",") for line in _read(s3, f"cap/out/{name}.out").decode().splitlines()]
        assert len(lines) == len(part) and all(len(line) == 3 for line in lines)
        np.testing.assert_allclose(
            np.array([line[0] for line in lines], dtype=np.float32),
            _expected(booster, part),
            rtol=1e-5,
        )
        assert {line[2] for line in lines} == {started}
        ids += [line[1] for line in lines]
    assert len(set(ids)) == len(ids) and all(len(i) == 36 for i in ids)

    # Manifests of the inputs and the outputs, not copies of the data.
    assert _manifests(s3, "cap/captured/input/") == [
        [{"prefix": f"s3://{BUCKET}/cap/in/"}, "a.csv", "b.csv"]
    ]
    assert _manifests(s3, "cap/captured/output/") == [
        [{"prefix": f"s3://{BUCKET}/cap/out/"}, "a.csv.out", "b.csv.out"]
    ]

    # JSON records get SageMakerInferenceId and SageMakerInferenceTime keys.
    assert _wait(sm, "cap-json")["TransformJobStatus"] == "Completed"
    joined = [
        json.loads(line) for line in _read(s3, "cap/json-out/o.jsonl.out").decode().splitlines()
    ]
    assert [r["SageMakerOutput"] for r in joined] == [i + 1 for i in range(3)]
    assert [r["id"] for r in joined] == [0, 1, 2]
    assert len({r["SageMakerInferenceId"] for r in joined}) == 3
    assert all(r["SageMakerInferenceTime"].endswith("Z") for r in joined)
    assert _manifests(s3, "cap/json-captured/input/") == [
        [{"prefix": f"s3://{BUCKET}/cap/json/o.jsonl"}, ""]
    ]
