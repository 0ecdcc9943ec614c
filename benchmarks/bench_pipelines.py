"""Benchmark: what the pipeline scheduler adds to its steps' own jobs.

A 4-step pipeline, each step a small processing job (the scikit-learn image running a
one-line ``python3 -c``), each step reading the previous one's output so they run in
turn. Measured in the same run, on one fresh SIMSAGE_HOME:

- **baseline**: the same 4 processing jobs created one after the other through boto3,
  each waited to Completed (10 ms polls) — the jobs' own wall time;
- **pipeline**: ``start_pipeline_execution`` → Succeeded (10 ms polls), caching on;
- **cached**: a second execution, every step reusing the first's runs.

Targets: scheduler overhead per step ≤ 0.5 s beyond the jobs' own wall time; the cached
run ≤ 2 s. Median of ``--runs``.

Usage: ``python3 benchmarks/bench_pipelines.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-pipelines"
STEPS = 4
COMMAND = (
    "import os; os.makedirs('/opt/ml/processing/out', exist_ok=True); "
    "open('/opt/ml/processing/out/part.txt', 'w').write('ok')"
)


def job(index: int, source: str | None, output: str) -> dict:
    request = {
        "AppSpecification": {
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", "-c", COMMAND],
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            }
        },
        "RoleArn": ROLE,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": output,
                        "LocalPath": "/opt/ml/processing/out",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    if source is not None:
        request["ProcessingInputs"] = [
            {
                "InputName": "in",
                "S3Input": {
                    "S3Uri": source,
                    "LocalPath": "/opt/ml/processing/in",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ]
    return request


def definition() -> dict:
    steps = []
    for i in range(STEPS):
        source = None
        if i:
            source = {
                "Get": f"Steps.Step{i - 1}.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"
            }
        steps.append(
            {
                "Name": f"Step{i}",
                "Type": "Processing",
                "Arguments": job(i, source, f"s3://{BUCKET}/pipeline/step{i}"),
                "CacheConfig": {"Enabled": True, "ExpireAfter": "P1D"},
            }
        )
    return {"Version": "2020-12-01", "Steps": steps}


def wait(describe, key: str, done: tuple[str, ...]) -> dict:
    while True:
        answer = describe()
        if answer[key] in done:
            return answer
        time.sleep(0.01)


def direct_jobs(sm, run: int) -> float:
    start = time.perf_counter()
    source = None
    for i in range(STEPS):
        name = f"direct-{run}-{i}"
        output = f"s3://{BUCKET}/direct/{run}/step{i}"
        sm.create_processing_job(ProcessingJobName=name, **job(i, source, output))
        answer = wait(
            lambda n=name: sm.describe_processing_job(ProcessingJobName=n),
            "ProcessingJobStatus",
            ("Completed", "Failed", "Stopped"),
        )
        assert answer["ProcessingJobStatus"] == "Completed", answer.get("FailureReason")
        source = output
    return time.perf_counter() - start


def execution(sm, name: str) -> float:
    start = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)[
        "PipelineExecutionArn"
    ]
    answer = wait(
        lambda: sm.describe_pipeline_execution(PipelineExecutionArn=arn),
        "PipelineExecutionStatus",
        ("Succeeded", "Failed", "Stopped"),
    )
    assert answer["PipelineExecutionStatus"] == "Succeeded", answer.get("FailureReason")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import simsage

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SIMSAGE_HOME"] = str(Path(tmp) / "home")
        session = simsage.boto3_session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=BUCKET)
        sm = session.client("sagemaker")
        direct, fresh, cached = [], [], []
        for run in range(args.runs):
            name = f"bench-{run}"
            sm.create_pipeline(
                PipelineName=name,
                PipelineDefinition=json.dumps(definition()),
                RoleArn=ROLE,
                ClientRequestToken=uuid.uuid4().hex,
            )
            direct.append(direct_jobs(sm, run))
            fresh.append(execution(sm, name))
            cached.append(execution(sm, name))
        d, f, c = (statistics.median(v) for v in (direct, fresh, cached))
        print(f"{STEPS} processing steps in turn, median of {args.runs}:")
        print(f"  the jobs alone (boto3, one after another)  {d:6.3f} s")
        print(f"  pipeline execution                          {f:6.3f} s  ({f / d:4.2f}x)")
        print(
            f"  scheduler overhead per step                 {(f - d) / STEPS:+6.3f} s  (target <= 0.5)"
        )
        print(f"  second execution, every step cached         {c:6.3f} s  (target <= 2)")


if __name__ == "__main__":
    main()
