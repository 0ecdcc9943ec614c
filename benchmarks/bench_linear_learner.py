"""Linear learner benchmark: a ``linear-learner:1`` training job against the same training
done raw in-process (:func:`simsage.algorithms.linear_learner_train.fit_arrays`).

Measured in one run, on the same 100,000 x 20 label-first CSV (binary labels):

- baseline: ``pandas.read_csv`` + ``fit_arrays`` (15 epochs, mini_batch_size 1000, the
  auto 32 models) + the model written as JSON, in this process (libraries imported);
- simsage: wall time from ``create_training_job`` to ``Completed`` (polled every 20 ms):
  runner start, staging, the algorithm process (start-up, parsing, the same training, the
  final metrics on train), model.tar.gz packed and stored in S3.

Target: simsage <= baseline + 1.5 s. Run: ``python benchmarks/bench_linear_learner.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
HYPERPARAMETERS = {"predictor_type": "binary_classifier", "feature_dim": "20"}
TARGET_EXTRA_SECONDS = 1.5


def make_csv(path: Path, rows: int, cols: int = 20, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, cols)).astype(np.float32)
    label = features @ rng.normal(size=cols) + rng.normal(scale=0.5, size=rows) > 0
    np.savetxt(path, np.column_stack([label.astype(np.int8), features]), delimiter=",",
               fmt=["%d"] + ["%.5f"] * cols)  # fmt: skip


def baseline(path: Path, workdir: Path) -> float:
    import pandas as pd

    from simsage.algorithms.linear_learner_train import fit_arrays

    started = time.perf_counter()
    values = pd.read_csv(path, header=None).to_numpy()
    model = fit_arrays(values[:, 1:].astype(np.float32), values[:, 0], HYPERPARAMETERS)
    (workdir / "model.json").write_text(json.dumps(model))
    return time.perf_counter() - started


def simsage_job(sm, name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters=HYPERPARAMETERS,
        InputDataConfig=[{
            "ChannelName": "train", "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                            "S3Uri": "s3://bench/train/"}},
        }],
        OutputDataConfig={"S3OutputPath": "s3://bench/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )  # fmt: skip
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
            seconds, described = simsage_job(sm, f"bench-ll-{i}")
            if described["TrainingJobStatus"] != "Completed":
                print("job did not complete:", described.get("FailureReason"))
                return 1
            job.append(seconds)
        raw_s, job_s = statistics.median(raw), statistics.median(job)
        metrics = {m["MetricName"]: round(m["Value"], 4) for m in described["FinalMetricDataList"]}
        print(f"data: {args.rows:,} rows x 20 features; load {os.getloadavg()[0]:.2f} on "
              f"{os.cpu_count()} CPUs; median of {args.repeats} runs")  # fmt: skip
        print(
            f"  raw read_csv + fit_arrays + write   {raw_s:7.3f} s   {[round(x, 3) for x in raw]}"
        )
        print(f"  simsage create -> Completed         {job_s:7.3f} s   {[round(x, 3) for x in job]}"
              f"   {job_s / raw_s:5.2f}x raw, +{job_s - raw_s:.3f} s")  # fmt: skip
        print("  train:binary_classification_accuracy", metrics.get(
            "train:binary_classification_accuracy"))  # fmt: skip
        verdict = "PASS" if job_s - raw_s <= TARGET_EXTRA_SECONDS else "FAIL"
        print(f"{verdict}  simsage - raw = {job_s - raw_s:.3f} s   target <= "
              f"{TARGET_EXTRA_SECONDS} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
