"""k-NN and PCA benchmark: built-in training jobs against the same work done in-process.

Measured in one run, on the same 100,000 x 20 array (labels for k-NN), uploaded as a
label-first CSV:

- baseline: ``knn_train.fit_arrays`` / ``pca_train.fit_arrays`` on the in-memory array in
  this process (libraries already imported): what the algorithm itself costs;
- simsage: wall time from ``create_training_job`` to ``Completed`` as seen by polling
  ``describe_training_job`` every 20 ms — runner start, data staging, the algorithm
  process (start-up, CSV parsing, training), model.tar.gz packed and stored in S3.

Cases: k-NN classifier (k=10, sample_size=50,000; and with sign reduction to 10), PCA
regular and randomized (num_components=5). Target: simsage <= baseline + 1.5 s.
Run: ``python benchmarks/bench_knn_pca.py [--rows N] [--repeats N]``.
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

TARGET_EXTRA_SECONDS = 1.5
KNN_IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/knn:1"
PCA_IMAGE = "174872318107.dkr.ecr.us-west-2.amazonaws.com/pca:1"
KNN = {"feature_dim": "20", "k": "10", "predictor_type": "classifier", "sample_size": "50000"}
PCA = {"feature_dim": "20", "num_components": "5", "mini_batch_size": "500"}
CASES = {
    "knn flat": (KNN_IMAGE, KNN),
    "knn sign->10": (
        KNN_IMAGE,
        {**KNN, "dimension_reduction_type": "sign", "dimension_reduction_target": "10"},
    ),  # fmt: skip
    "pca regular": (PCA_IMAGE, PCA),
    "pca randomized": (PCA_IMAGE, {**PCA, "algorithm_mode": "randomized"}),
}


def make_data(rows: int, cols: int = 20, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    y = (x @ rng.normal(size=cols) > 0).astype(np.float64)
    return x, y


def baseline(image: str, x: np.ndarray, y: np.ndarray, hyperparameters: dict) -> float:
    from simsage.algorithms import knn_train, pca_train

    module = knn_train if image == KNN_IMAGE else pca_train
    started = time.perf_counter()
    module.fit_arrays(x, y, hyperparameters)
    return time.perf_counter() - started


def simsage_job(sm, name: str, image: str, hyperparameters: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/Bench",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters=hyperparameters,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv" if image == KNN_IMAGE else "text/csv;label_size=1",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/train/"}
                },
            }
        ],  # fmt: skip
        OutputDataConfig={"S3OutputPath": "s3://bench/out"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
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

        x, y = make_data(args.rows)
        csv_path = tmp_path / "train.csv"
        np.savetxt(csv_path, np.column_stack([y, x]), delimiter=",",
                   fmt=["%d"] + ["%.5f"] * x.shape[1])  # fmt: skip
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(csv_path), "bench", "train/train.csv")
        print(f"data: {args.rows:,} rows x 20 features, {csv_path.stat().st_size / 1e6:.1f} MB "
              f"CSV; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median of "
              f"{args.repeats} runs")  # fmt: skip
        verdicts = []
        for label, (image, hps) in CASES.items():
            baseline(image, x, y, hps)  # warm the libraries
            raw = [baseline(image, x, y, hps) for _ in range(args.repeats)]
            job = []
            for i in range(args.repeats):
                seconds, described = simsage_job(sm, f"bench-{label.replace(' ', '-')}-{i}"
                                                 .replace(">", ""), image, hps)  # fmt: skip
                if described["TrainingJobStatus"] != "Completed":
                    print(label, "did not complete:", described.get("FailureReason"))
                    return 1
                job.append(seconds)
            raw_s, job_s = statistics.median(raw), statistics.median(job)
            extra = job_s - raw_s
            verdicts.append(extra <= TARGET_EXTRA_SECONDS)
            print(f"  {label:<15} raw fit_arrays {raw_s:7.3f} s   job {job_s:7.3f} s "
                  f"{[round(v, 3) for v in job]}   +{extra:.3f} s")  # fmt: skip
        verdict = "PASS" if all(verdicts) else "FAIL"
        print(f"{verdict}  target: job <= raw + {TARGET_EXTRA_SECONDS} s for every case")
    return 0


if __name__ == "__main__":
    sys.exit(main())
