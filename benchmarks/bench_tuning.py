"""Tuning benchmark: the overhead of a tuning job over the training jobs it runs.

A Random tuning job of 8 small built-in XGBoost training jobs (20,000 x 10 CSV, 30 rounds,
``eta`` and ``max_depth`` tuned, objective ``validation:auc``), 2 in parallel, measured in
one run:

- baseline: the children's own wall times, each from its CreationTime to its
  TrainingEndTime (runner start, staging, the algorithm, the upload), summed and halved:
  what 2 perfectly packed slots would take;
- simsage: wall time from ``create_hyper_parameter_tuning_job`` to ``Completed`` as seen
  by polling ``describe_hyper_parameter_tuning_job`` every 20 ms: the tuning runner's
  start, each child launched as a slot frees (polled every 0.2 s), the strategy's
  proposals, the final bookkeeping.

Target (issue 12): simsage <= baseline + 2.0 s. Run: ``python benchmarks/bench_tuning.py
[--jobs N] [--rows N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-tuning"
PARALLEL = 2
TARGET_EXTRA_SECONDS = 2.0


def make_csv(path: Path, rows: int, cols: int = 10, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, cols)).astype(np.float32)
    weights = rng.normal(size=cols)
    label = (features @ weights + rng.normal(scale=1.0, size=rows) > 0).astype(np.int8)
    np.savetxt(
        path, np.column_stack([label, features]), delimiter=",", fmt=["%d"] + ["%.5f"] * cols
    )


def channel(name: str) -> dict:
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/"}
        },
    }


def tuning_job(sm, name: str, jobs: int) -> float:
    started = time.perf_counter()
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": jobs,
                "MaxParallelTrainingJobs": PARALLEL,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"}
                ],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
            },
            "RandomSeed": 1,
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {
                "objective": "binary:logistic",
                "num_round": "30",
                "eval_metric": "auc",
            },
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [channel("train"), channel("validation")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )
    while True:
        seen = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        status = seen["HyperParameterTuningJobStatus"]
        if status in ("Completed", "Failed", "Stopped"):
            elapsed = time.perf_counter() - started
            if status != "Completed":
                raise SystemExit(f"{name} ended {status}: {seen.get('FailureReason')}")
            return elapsed
        time.sleep(0.02)


def children_seconds(sm, name: str) -> list[float]:
    out = []
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    for page in pages.paginate(HyperParameterTuningJobName=name):
        for summary in page["TrainingJobSummaries"]:
            job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            out.append((job["TrainingEndTime"] - job["CreationTime"]).total_seconds())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage

        simsage.activate()
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        for name, rows, seed in (("train", args.rows, 3), ("validation", args.rows // 4, 4)):
            path = tmp_path / f"{name}.csv"
            make_csv(path, rows, seed=seed)
            s3.upload_file(str(path), BUCKET, f"{name}/{name}.csv")
        wall = tuning_job(sm, "bench-tuning", args.jobs)
        children = children_seconds(sm, "bench-tuning")
        baseline = sum(children) / PARALLEL
        print(
            f"children: {len(children)} jobs, {sum(children):.2f} s in all "
            f"(each {min(children):.2f}-{max(children):.2f} s)"
        )
        print(f"baseline (sum / {PARALLEL}): {baseline:.2f} s")
        print(f"tuning job, create -> Completed: {wall:.2f} s")
        print(
            f"overhead: {wall - baseline:+.2f} s (ratio {wall / baseline:.2f}); target <= "
            f"+{TARGET_EXTRA_SECONDS:.1f} s: {'met' if wall <= baseline + TARGET_EXTRA_SECONDS else 'NOT met'}"
        )
        simsage.deactivate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
