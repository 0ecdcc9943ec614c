"""Benchmark: what running a custom image under the Docker engine costs, against
simsage's process path measured in the same run.

Needs a Docker engine and a base image with python3 (``.ci/docker-engine start`` makes
``simsage-base:bookworm``; ``SIMSAGE_TEST_BASE_IMAGE`` names another). The image is the
tests' standard-library one (``tests/integration/docker_image``), built here.

Measured, each on a fresh SIMSAGE_HOME:

- **job start overhead**: ``create_training_job`` → Completed for the same one-line
  command (``ContainerEntrypoint: python3 -c "<write a model file>"``, no input data),
  once as a process job (the scikit-learn framework image, simsage's interpreter) and
  once as a container job (the custom image); plus a bare ``docker run --rm`` of that
  command (the engine's own floor). Median of ``--runs``.
- **invoke latency**: ``invoke_endpoint`` p50/p99 of one CSV row through a container
  instance (the image's ``serve``, ``http.server`` in the container), the same request
  straight to the container's published port (raw HTTP: the container alone), and
  through a process instance (built-in XGBoost, one tree) as the baseline.

Usage: ``python3 benchmarks/bench_docker.py [--runs N] [--calls N]``
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import boto3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
IMAGE_DIR = ROOT / "tests" / "integration" / "docker_image"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-docker"
COMMAND = ["python3", "-c", "open('/opt/ml/model/model.txt', 'w').write('ok')"]
TAG = "simsage-bench-algo:latest"


def build_image() -> str:
    import docker
    from docker.errors import ImageNotFound

    client = docker.from_env()
    for base in (os.environ.get("SIMSAGE_TEST_BASE_IMAGE", "simsage-base:bookworm"),
                 "python:3.11-slim"):  # fmt: skip
        try:
            client.images.get(base)
            break
        except ImageNotFound:
            continue
    else:
        sys.exit("no base image: run `.ci/docker-engine start` (Linux, root) first")
    client.images.build(path=str(IMAGE_DIR), tag=TAG, buildargs={"BASE_IMAGE": base}, rm=True)
    return TAG


def fresh_session(folder: Path) -> boto3.Session:
    import simsage

    os.environ["SIMSAGE_HOME"] = str(folder)
    session = simsage.boto3_session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket=BUCKET)
    return session


def training_wall(session: boto3.Session, image: str, name: str) -> float:
    sm = session.client("sagemaker")
    start = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": COMMAND,
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    while True:
        status = sm.describe_training_job(TrainingJobName=name)
        if status["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.01)
    wall = time.perf_counter() - start
    if status["TrainingJobStatus"] != "Completed":
        sys.exit(f"{name}: {status['TrainingJobStatus']}: {status.get('FailureReason')}")
    return wall


def docker_run_wall(image: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "model").mkdir()
        start = time.perf_counter()
        subprocess.run(
            ["docker", "run", "--rm", "-v", f"{folder}:/opt/ml", image, *COMMAND], check=True
        )
        return time.perf_counter() - start


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def xgboost_artifact() -> bytes:
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.random((200, 3), dtype=np.float32)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=x[:, 0]), num_boost_round=1)
    return tar_gz({"xgboost-model": bytes(booster.save_raw("ubj"))})


def deploy(session: boto3.Session, name: str, image: str, artifact: bytes) -> None:
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.put_object(Bucket=BUCKET, Key=f"{name}.tar.gz", Body=artifact)
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{BUCKET}/{name}.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(call, n: int, warmup: int = 100) -> tuple[float, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def published_port(endpoint: str) -> int:
    import docker

    (container,) = docker.from_env().containers.list(filters={"label": f"simsage.job={endpoint}"})
    return int(container.ports["8080/tcp"][0]["HostPort"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    image = build_image()
    row = b"0.5,0.25,0.125"

    with tempfile.TemporaryDirectory() as tmp:
        session = fresh_session(Path(tmp) / "home")
        process, container, bare = [], [], []
        for run in range(args.runs):
            process.append(training_wall(session, SKLEARN, f"process-{run}"))
            container.append(training_wall(session, image, f"container-{run}"))
            bare.append(docker_run_wall(image))
        p, c, b = (statistics.median(v) for v in (process, container, bare))
        print(f"training job, median of {args.runs} (create → Completed):")
        print(f"  process job (framework image)   {p:7.3f} s")
        print(f"  container job (custom image)    {c:7.3f} s   ({c / p:4.2f}x the process job)")
        print(f"  start overhead of a container   {c - p:+7.3f} s")
        print(f"  bare `docker run --rm`          {b:7.3f} s   (the engine's own floor)")
        print(f"  simsage around the container    {c - b:+7.3f} s")

        runtime = session.client("sagemaker-runtime")
        deploy(session, "bench-container", image, tar_gz({"model.json": b'{"weight": 2}'}))
        deploy(session, "bench-process", XGBOOST, xgboost_artifact())
        port = published_port("bench-container")
        connection = http.client.HTTPConnection("127.0.0.1", port)

        def raw() -> None:
            connection.request(
                "POST", "/invocations", body=row, headers={"Content-Type": "text/csv"}
            )
            connection.getresponse().read()

        def invoke(endpoint: str):
            def call() -> None:
                runtime.invoke_endpoint(EndpointName=endpoint, Body=row, ContentType="text/csv")[
                    "Body"
                ].read()

            return call

        results = {
            "process instance (XGBoost)": timed(invoke("bench-process"), args.calls),
            "container instance": timed(invoke("bench-container"), args.calls),
            "raw HTTP to the container": timed(raw, args.calls),
        }
        base = results["process instance (XGBoost)"][0]
        print(f"invoke_endpoint, one CSV row, {args.calls} sequential calls:")
        for what, (p50, p99) in results.items():
            print(
                f"  {what:28s} p50 {p50 * 1e3:6.3f} ms  p99 {p99 * 1e3:6.3f} ms"
                f"  ({p50 / base:4.2f}x the process instance)"
            )
        print(json.dumps({k: round(v[0] * 1e3, 3) for k, v in results.items()}))
        sm = session.client("sagemaker")
        for name in ("bench-container", "bench-process"):
            sm.delete_endpoint(EndpointName=name)
        time.sleep(1)  # the supervisors drain and remove the containers


if __name__ == "__main__":
    main()
