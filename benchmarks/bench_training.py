"""Training benchmark: a built-in XGBoost training job against raw in-process XGBoost.

Measured in one run, on the same 100,000 x 20 label-first CSV (binary labels):

- baseline: ``pandas.read_csv`` + ``xgboost.DMatrix`` + ``xgboost.train`` (100 rounds,
  depth 6) + ``save_model`` in this process (libraries already imported);
- simsage: wall time from ``create_training_job`` to ``Completed`` as seen by polling
  ``describe_training_job`` every 20 ms — runner start, data staging, the algorithm
  process (start-up, parsing, training), model.tar.gz packed and stored in S3.

Target: simsage <= baseline + 1.5 s. Run: ``python benchmarks/bench_training.py [--rows N]``.
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

import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore", message=".*UBJSON.*")

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PARAMS = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.3}
ROUNDS = 100
TARGET_EXTRA_SECONDS = 1.5


def make_csv(path: Path, rows: int, cols: int = 20, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, cols)).astype(np.float32)
    weights = rng.normal(size=cols)
    label = (features @ weights + rng.normal(scale=0.5, size=rows) > 0).astype(np.int8)
    table = np.column_stack([label, features])
    np.savetxt(path, table, delimiter=",", fmt=["%d"] + ["%.5f"] * cols)


def baseline(path: Path, workdir: Path) -> float:
    import pandas as pd
    import xgboost as xgb

    started = time.perf_counter()
    frame = pd.read_csv(path, header=None)
    matrix = xgb.DMatrix(frame.iloc[:, 1:].to_numpy(), label=frame.iloc[:, 0].to_numpy())
    booster = xgb.train(PARAMS, matrix, ROUNDS)
    booster.save_model(str(workdir / "xgboost-model"))
    return time.perf_counter() - started


def simsage_job(sm, name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "num_round": str(ROUNDS),
            "objective": PARAMS["objective"],
            "max_depth": str(PARAMS["max_depth"]),
            "eta": str(PARAMS["eta"]),
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/train/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://bench/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    while True:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return time.perf_counter() - started, described
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage

        csv_path = tmp_path / "train.csv"
        make_csv(csv_path, args.rows)
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(csv_path), "bench", "train/train.csv")
        baseline(csv_path, tmp_path)  # warm the page cache and the libraries
        raw, job = [], []
        for i in range(args.repeats):
            raw.append(baseline(csv_path, tmp_path))
            seconds, described = simsage_job(sm, f"bench-{i}")
            if described["TrainingJobStatus"] != "Completed":
                print("job did not complete:", described.get("FailureReason"))
                return 1
            job.append(seconds)
        raw_s, job_s = statistics.median(raw), statistics.median(job)
        extra = job_s - raw_s
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"data: {args.rows:,} rows x 20 features, {size_mb:.1f} MB CSV; {ROUNDS} rounds, depth 6"
        )
        print(
            f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median of {args.repeats} runs"
        )
        print(
            f"  raw in-process read_csv + train + save   {raw_s:7.3f} s   {[round(x, 3) for x in raw]}"
        )
        print(
            f"  simsage create_training_job -> Completed {job_s:7.3f} s   {[round(x, 3) for x in job]}"
        )
        print(f"  simsage / raw                             {job_s / raw_s:7.2f}x")
        verdict = "PASS" if extra <= TARGET_EXTRA_SECONDS else "FAIL"
        print(f"{verdict}  simsage - raw = {extra:.3f} s   target <= {TARGET_EXTRA_SECONDS} s")
        print("model:", described["ModelArtifacts"]["S3ModelArtifacts"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
