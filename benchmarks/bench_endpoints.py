"""Benchmark: invoke_endpoint latency and throughput against its floors.

Model: built-in XGBoost, binary:logistic, 100 trees of depth 6 on 20 features, served
by a one-instance endpoint on a fresh SIMSAGE_HOME. Each request is one CSV row.

Measured in the same run:

- raw predict: ``Booster.inplace_predict`` of one row in-process (the model's own
  cost, no parsing, no HTTP);
- botocore floor: a plain boto3 ``sagemaker-runtime`` client whose ``before-call``
  handler answers at once with a canned body (everything botocore does, no work);
- raw HTTP: ``http.client`` keep-alive POST of the row straight to the instance's
  ``/invocations`` (the inference server alone);
- simsage: ``invoke_endpoint`` through a ``simsage.boto3_session()`` client.

Latency: p50 and p99 over sequential calls after a warm-up. Throughput: requests/s with
4 client threads (one client each) for a few seconds.
Targets: simsage p50 <= 1.5 ms; throughput >= 500 requests/s. (Which HTTP server the
instances run on is measured by ``bench_serving_http.py``.)

Usage: ``python3 benchmarks/bench_endpoints.py [--quick]``
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import boto3
import numpy as np
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
FEATURES = 20


def train() -> tuple[object, bytes]:
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.random((20_000, FEATURES), dtype=np.float32)
    y = (x[:, 0] + x[:, 1] * 0.5 + rng.normal(0, 0.1, len(x)) > 0.8).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "nthread": 1},
        xgb.DMatrix(x, label=y),
        num_boost_round=100,
    )
    raw = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return booster, buffer.getvalue()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(call, n: int, warmup: int = 200) -> tuple[float, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def throughput(make_call, threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = threading.Event()

    def run(i: int) -> None:
        call = make_call()
        call()
        while not stop.is_set():
            call()
            counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    start_counts = sum(counts)
    start = time.perf_counter()
    time.sleep(seconds)
    done = sum(counts) - start_counts
    elapsed = time.perf_counter() - start
    stop.set()
    for worker in workers:
        worker.join()
    return done / elapsed


def floor_client():
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="dummy", aws_secret_access_key="dummy"
    )
    client = session.client("sagemaker-runtime")

    def answer(params, **_):
        body = StreamingBody(io.BytesIO(b"0.5\n"), 4)
        parsed = {
            "Body": body,
            "ContentType": "text/csv",
            "InvokedProductionVariant": "AllTraffic",
            "ResponseMetadata": {
                "RequestId": "0",
                "HTTPStatusCode": 200,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        }
        return AWSResponse(params["url"], 200, {}, None), parsed

    client.meta.events.register_first("before-call.sagemaker-runtime.InvokeEndpoint", answer)
    return client


def deploy(session, artifact: bytes):
    """Model and endpoint configuration ``bench`` (one ml.m5.large instance) serving
    ``artifact``; returns the sagemaker client, for the caller's CreateEndpoint."""
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="model.tar.gz", Body=artifact)
    sm.create_model(
        ModelName="bench",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bench/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bench",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return sm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    n = 1000 if args.quick else 3000
    seconds = 2.0 if args.quick else 5.0

    home = tempfile.mkdtemp(prefix="simsage-bench-endpoints-")
    os.environ["SIMSAGE_HOME"] = home
    os.environ["SIMSAGE_BACKEND"] = "local"
    import simsage

    booster, artifact = train()
    row = np.random.default_rng(1).random((1, FEATURES), dtype=np.float32)
    body = ",".join(f"{v:.6f}" for v in row[0]).encode()

    session = simsage.boto3_session()
    sm = deploy(session, artifact)
    start = time.perf_counter()
    sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000}
    )
    ready = time.perf_counter() - start
    try:
        from simsage.home import Home
        from simsage.hosting.endpoint_state import EndpointStore

        port = EndpointStore(Home.open(simsage.load_config())).instances("bench")[0].port

        runtime = session.client("sagemaker-runtime")

        def simsage_call(client=runtime):
            return client.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")[
                "Body"
            ].read()

        def make_simsage_call():
            client = simsage.boto3_session().client("sagemaker-runtime")
            return lambda: simsage_call(client)

        floor = floor_client()

        def floor_call():
            return floor.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")[
                "Body"
            ].read()

        def make_http_call():
            connection = http.client.HTTPConnection("127.0.0.1", port)
            headers = {"Content-Type": "text/csv"}

            def call():
                connection.request("POST", "/invocations", body, headers)
                return connection.getresponse().read()

            return call

        raw = timed(lambda: booster.inplace_predict(row), n)
        floor_p = timed(floor_call, n)
        http_p = timed(make_http_call(), n)
        simsage_p = timed(simsage_call, n)
        http_rps = throughput(make_http_call, 4, seconds)
        simsage_rps = throughput(make_simsage_call, 4, seconds)
    finally:
        sm.delete_endpoint(EndpointName="bench")
        sm.get_waiter("endpoint_deleted").wait(
            EndpointName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000}
        )

    def ms(value: float) -> str:
        return f"{value * 1000:7.3f} ms"

    print(f"endpoint InService after {ready:.2f} s (create_endpoint → waiter)")
    print(f"{'case':<34} {'p50':>10} {'p99':>10}")
    for label, (p50, p99) in (
        ("raw inplace_predict (1 row)", raw),
        ("botocore floor (canned answer)", floor_p),
        ("raw HTTP to the instance", http_p),
        ("simsage invoke_endpoint", simsage_p),
    ):
        print(f"{label:<34} {ms(p50)} {ms(p99)}")
    overhead = simsage_p[0] - floor_p[0] - http_p[0]
    print(
        f"simsage p50 = floor + raw HTTP + {overhead * 1000:.3f} ms routing; "
        f"{simsage_p[0] / (floor_p[0] + http_p[0]):.0%} of floor+HTTP"
    )
    print(
        f"throughput, 4 threads: raw HTTP {http_rps:,.0f} req/s; simsage {simsage_rps:,.0f} req/s"
    )
    verdict_latency = "met" if simsage_p[0] <= 0.0015 else "MISSED"
    verdict_rps = "met" if simsage_rps >= 500 else "MISSED"
    print(f"target p50 <= 1.5 ms: {verdict_latency}; target >= 500 req/s: {verdict_rps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
