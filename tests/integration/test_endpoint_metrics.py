"""An endpoint's invocation metrics in CloudWatch (``AWS/SageMaker``, by EndpointName and
VariantName), as a user reads them with boto3 right after invoking: the request count,
the 4xx and 5xx counts and rates, and the model and overhead latencies in microseconds."""

from __future__ import annotations

import datetime as dt
import textwrap
import time

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import SKLEARN, deploy, tar_gz

SCRIPT = textwrap.dedent(
    """
    class Teapot(Exception):
        status_code = 418

    def model_fn(model_dir):
        return "model"

    def transform_fn(model, body, content_type, accept):
        if body == b"boom":
            raise RuntimeError("the model fell over")
        if body == b"teapot":
            raise Teapot("I am a teapot")
        return b"ok", "text/plain"
    """
)
DIMS = [
    {"Name": "EndpointName", "Value": "counted"},
    {"Name": "VariantName", "Value": "AllTraffic"},
]


def window() -> dict:
    now = dt.datetime.now(dt.UTC)
    return {"StartTime": now - dt.timedelta(minutes=5), "EndTime": now + dt.timedelta(minutes=1)}


def over_window(cw, metric: str, statistics: list[str], **extra) -> list[dict]:
    return cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=DIMS,
        Period=60,
        Statistics=statistics,
        **window(),
        **extra,
    )["Datapoints"]


def total(points: list[dict], statistic: str) -> float:
    return sum(p[statistic] for p in points)


def test_invocation_metrics_count_every_request_that_reached_the_model(simsage_local):
    deploy(
        simsage_local,
        "counted",
        {"counted-model": tar_gz({"code/inference.py": SCRIPT.encode()})},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    runtime = simsage_local.client("sagemaker-runtime")
    cw = simsage_local.client("cloudwatch")
    for body in (b"a", b"b", b"c", b"d", b"boom", b"teapot", b"teapot", b"e"):
        try:
            runtime.invoke_endpoint(EndpointName="counted", Body=body, ContentType="text/plain")
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError):  # refused before any model saw it: not counted
        runtime.invoke_endpoint(EndpointName="counted", Body=b"x", TargetVariant="Nope")

    # Read at once: this process's queued values are written before the read.
    assert total(over_window(cw, "Invocations", ["Sum"]), "Sum") == 8
    four = over_window(cw, "Invocation4XXErrors", ["Sum", "SampleCount"])
    assert (total(four, "Sum"), total(four, "SampleCount")) == (2, 8)  # 0 or 1 per request
    assert total(over_window(cw, "Invocation5XXErrors", ["Sum"]), "Sum") == 1
    assert total(over_window(cw, "InvocationsPerInstance", ["Sum"]), "Sum") == 8

    latency = over_window(cw, "ModelLatency", ["SampleCount", "Minimum", "Maximum"])
    assert total(latency, "SampleCount") == 8
    assert all(p["Unit"] == "Microseconds" and 0 < p["Minimum"] <= p["Maximum"] for p in latency)
    overhead = over_window(cw, "OverheadLatency", ["SampleCount"], Unit="Microseconds")
    assert total(overhead, "SampleCount") == 8
    assert over_window(cw, "ModelLatency", ["SampleCount"], Unit="Seconds") == []
    p50 = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMS,
        Period=360,
        ExtendedStatistics=["p50"],
        **window(),
    )["Datapoints"]
    assert p50 and all(p["ExtendedStatistics"]["p50"] > 0 for p in p50)

    # The error rate as a dashboard computes it.
    results = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": name.lower(),
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": name,
                        "Dimensions": DIMS,
                    },
                    "Period": 360,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            }
            for name in ("Invocations", "Invocation5XXErrors", "Invocation4XXErrors")
        ]
        + [
            {
                "Id": "errors",
                "Expression": "100 * (invocation4xxerrors + invocation5xxerrors) / invocations",
            }
        ],
        **window(),
    )["MetricDataResults"]
    assert [r["Id"] for r in results] == ["errors"]
    assert sum(results[0]["Values"]) == pytest.approx(100 * 3 / 8)

    listed = cw.list_metrics(
        Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": "counted"}]
    )["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
    }
    assert all(m["Dimensions"] == DIMS for m in listed)


def test_instance_metrics_of_the_real_processes(simsage_local):
    """The supervisor samples each instance's process tree every few seconds."""
    deploy(
        simsage_local,
        "counted",
        {"counted-model": tar_gz({"code/inference.py": SCRIPT.encode()})},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    cw = simsage_local.client("cloudwatch")

    def sampled(metric: str) -> list[dict]:
        return cw.get_metric_statistics(
            Namespace="/aws/sagemaker/Endpoints",
            MetricName=metric,
            Dimensions=DIMS,
            Period=60,
            Statistics=["Maximum", "SampleCount"],
            **window(),
        )["Datapoints"]

    deadline = time.monotonic() + 60
    while not sampled("CPUUtilization"):  # a CPU figure needs two samples
        assert time.monotonic() < deadline, "no CPUUtilization was published"
        time.sleep(0.2)
    memory = sampled("MemoryUtilization")
    assert memory and all(0 < p["Maximum"] < 100 and p["Unit"] == "Percent" for p in memory)
    assert all(p["Maximum"] >= 0 for p in sampled("CPUUtilization"))
