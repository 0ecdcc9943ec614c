"""Tuning benchmark: what a tuning job adds on top of the training jobs it runs.

A Random tuning job of 8 small built-in XGBoost training jobs, 2 in parallel
(``MaxNumberOfTrainingJobs=8``, ``MaxParallelTrainingJobs=2``, over ``eta``,
``max_depth`` and ``min_child_weight``). Measured in one run, for each repetition:

- tuning: wall time from ``create_hyper_parameter_tuning_job`` to ``Completed`` as seen by
  polling ``describe_hyper_parameter_tuning_job`` every 20 ms (the tuning runner's start,
  the strategy's proposals, each child created through the training API, watched, its
  objective read, the next one launched);
- children: each child's own wall time from its ``ListTrainingJobsForHyperParameterTuningJob``
  summary, ``CreationTime`` -> ``TrainingEndTime`` (its runner, data staging, the
  algorithm, the model stored) and ``TrainingStartTime`` -> ``TrainingEndTime``;
- the baseline is the ideal with two slots: the sum of the children's wall times / 2, as
  if the tuning job cost nothing and both slots were always busy. The overhead is the
  tuning wall time minus that, and the ratio tuning / (sum / 2).

Where the overhead goes: the time from the tuning job's creation to its first child's,
and from its last child's end to its own end, are printed too (the rest is the gaps
between one child ending and the next one being created).

For scale, a standalone training job with the same data and hyperparameters runs
(create -> Completed) before each tuning job: what a child would take alone.

Target (issue 12): tuning <= sum(children create -> end) / 2 + 2.0 s.
Run: ``python benchmarks/bench_tuning.py [--rows N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-tuning"
JOBS, PARALLEL = 8, 2
ROUNDS = 30
TARGET_EXTRA_SECONDS = 2.0
TERMINAL = ("Completed", "Failed", "Stopped")
STATIC = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": str(ROUNDS)}


def make_csv(path: Path, rows: int, seed: int, cols: int = 10) -> None:
    """A noisy linear binary problem, label first, no header (the built-in's CSV)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, cols)).astype(np.float32)
    weights = np.random.default_rng(0).normal(size=cols)
    label = (features @ weights + rng.normal(scale=1.0, size=rows) > 0).astype(np.int8)
    np.savetxt(
        path, np.column_stack([label, features]), delimiter=",", fmt=["%d"] + ["%.5f"] * cols
    )


def channels() -> list[dict]:
    return [
        {
            "ChannelName": channel,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{BUCKET}/{channel}/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for channel in ("train", "validation")
    ]


def standalone(sm, name: str) -> float:
    """A training job with the static and mid-range tuned values, create -> Completed."""
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={**STATIC, "eta": "0.25", "max_depth": "4", "min_child_weight": "3"},
        InputDataConfig=channels(),
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/standalone"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    while True:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in TERMINAL:
            if described["TrainingJobStatus"] != "Completed":
                raise SystemExit(f"{name}: {described.get('FailureReason')}")
            return time.perf_counter() - started
        time.sleep(0.02)


def tuning_job(sm, name: str, seed: int) -> tuple[float, dict]:
    """Create the tuning job; its wall time to a terminal status and its last Describe."""
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
                "MaxNumberOfTrainingJobs": JOBS,
                "MaxParallelTrainingJobs": PARALLEL,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"},
                    {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "5"},
                ],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
            },
            "RandomSeed": seed,
        },
        TrainingJobDefinition={
            "StaticHyperParameters": STATIC,
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": channels(),
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )
    while True:
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] in TERMINAL:
            return time.perf_counter() - started, described
        time.sleep(0.02)


def children(sm, name: str) -> list[dict]:
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    return [
        summary
        for page in pages.paginate(HyperParameterTuningJobName=name)
        for summary in page["TrainingJobSummaries"]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage

        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        for channel, seed in (("train", 1), ("validation", 2)):
            local = tmp_path / f"{channel}.csv"
            make_csv(local, args.rows if channel == "train" else args.rows // 4, seed)
            s3.upload_file(str(local), BUCKET, f"{channel}/{channel}.csv")
        standalone(sm, "bench-warm")  # warm the page cache and the imports
        rows = []
        for i in range(args.repeats):
            alone = standalone(sm, f"bench-alone-{i}")
            name = f"bench-tuning-{i}"
            wall, described = tuning_job(sm, name, seed=i)
            if described["HyperParameterTuningJobStatus"] != "Completed":
                print(f"{name} did not complete:", described.get("FailureReason"))
                return 1
            summaries = children(sm, name)
            if len(summaries) != JOBS or any(
                s["TrainingJobStatus"] != "Completed" for s in summaries
            ):
                print(f"{name}: expected {JOBS} Completed children, got", summaries)
                return 1
            life = [(s["TrainingEndTime"] - s["CreationTime"]).total_seconds() for s in summaries]
            run = [
                (s["TrainingEndTime"] - s["TrainingStartTime"]).total_seconds() for s in summaries
            ]
            described_wall = (
                described["HyperParameterTuningEndTime"] - described["CreationTime"]
            ).total_seconds()
            created = described["CreationTime"]
            first = min(s["CreationTime"] for s in summaries)
            last = max(s["TrainingEndTime"] for s in summaries)
            rows.append(
                {
                    "startup": (first - created).total_seconds(),
                    "tail": (described["HyperParameterTuningEndTime"] - last).total_seconds(),
                    "alone": alone,
                    "wall": wall,
                    "described": described_wall,
                    "life": life,
                    "run": run,
                    "best": described["BestTrainingJob"][
                        "FinalHyperParameterTuningJobObjectiveMetric"
                    ]["Value"],
                }
            )

        print(
            f"data: {args.rows:,} train + {args.rows // 4:,} validation rows x 10 features; "
            f"built-in XGBoost, {ROUNDS} rounds; Random, {JOBS} jobs, {PARALLEL} in parallel"
        )
        print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.repeats} runs")
        verdicts = []
        for i, row in enumerate(rows):
            ideal = sum(row["life"]) / PARALLEL
            ideal_run = sum(row["run"]) / PARALLEL
            extra = row["wall"] - ideal
            verdicts.append(extra <= TARGET_EXTRA_SECONDS)
            print(
                f"  run {i}: standalone job {row['alone']:6.3f} s; children create -> end "
                f"median {statistics.median(row['life']):6.3f} s, start -> end median "
                f"{statistics.median(row['run']):6.3f} s; best validation:auc {row['best']:.4f}"
            )
            print(
                f"         first child created {row['startup']:.3f} s after the tuning job, "
                f"the tuning job ended {row['tail']:.3f} s after its last child"
            )
            print(
                f"         tuning create -> Completed {row['wall']:7.3f} s (Describe: "
                f"{row['described']:.3f} s)   sum(create -> end) / {PARALLEL} {ideal:7.3f} s   "
                f"{row['wall'] / ideal:5.2f}x, {extra:+.3f} s   "
                f"sum(start -> end) / {PARALLEL} {ideal_run:7.3f} s  {row['wall'] / ideal_run:5.2f}x"
            )
        wall = statistics.median(r["wall"] for r in rows)
        ideal = statistics.median(sum(r["life"]) / PARALLEL for r in rows)
        extra = statistics.median(r["wall"] - sum(r["life"]) / PARALLEL for r in rows)
        print(
            f"  median: tuning {wall:.3f} s, sum(children) / {PARALLEL} {ideal:.3f} s, "
            f"ratio {wall / ideal:.2f}x, overhead {extra:+.3f} s"
        )
        verdict = "PASS" if extra <= TARGET_EXTRA_SECONDS else "FAIL"
        print(
            f"{verdict}  tuning - sum(children) / {PARALLEL} = {extra:.3f} s (median; "
            f"{sum(verdicts)}/{len(verdicts)} runs within)   target <= {TARGET_EXTRA_SECONDS} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
