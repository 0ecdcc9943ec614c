"""Training benchmark: a built-in XGBoost training job against raw in-process XGBoost.

Measured in one run, on the same 100,000 x 20 label-first CSV (binary labels):

- baseline: ``pandas.read_csv`` + ``xgboost.DMatrix`` + ``xgboost.train`` (100 rounds,
  depth 6) + ``save_model`` in this process (libraries already imported);
- simsage: wall time from ``create_training_job`` to ``Completed`` as seen by polling
  ``describe_training_job`` every 20 ms — runner start, data staging, the algorithm
  process (start-up, parsing, training), model.tar.gz packed and stored in S3.

The job runs in both container modes, alternating in the same run: ``namespace`` (the
host in a private mount namespace where its folder is ``/opt/ml``, the default on Linux)
and ``process`` (``SIMSAGE_CONTAINER_MODE=process``, the job-folder fallback). A focused
measurement prints what the namespace costs one container start: ``/bin/true`` and
``python -c pass`` started plainly and in a namespace, with the ratios.

Target: simsage <= baseline + 1.0 s. Run: ``python benchmarks/bench_training.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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
TARGET_EXTRA_SECONDS = 1.0
MODES = ("namespace", "process")


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


def namespace_start_cost(repeats: int = 30) -> None:
    """Median start-to-exit time of short commands, plain and in a mount namespace.

    Run in a fresh process (``--start-cost``), as small as a job runner: ``preexec_fn``
    means ``fork`` rather than ``vfork``, whose cost grows with the parent's memory, and
    this benchmark's own process holds pandas, xgboost and the data set."""
    from simsage.runtime import mountns

    works, why = mountns.probe()
    if not works:
        print(f"namespace start cost: no private mount namespaces here ({why})")
        return
    with tempfile.TemporaryDirectory() as folder:
        plan = mountns.MountPlan(folder, hide=[folder + "/hidden"]).prepare()
        for command in (["/bin/true"], [sys.executable, "-S", "-c", "pass"]):
            timings: dict[str, list[float]] = {"plain": [], "namespace": []}
            for _ in range(repeats):
                for kind in timings:
                    setup = mountns.preexec(plan) if kind == "namespace" else None
                    started = time.perf_counter()
                    subprocess.run(command, preexec_fn=setup, check=True)
                    timings[kind].append(time.perf_counter() - started)
            plain, inside = (statistics.median(timings[k]) for k in ("plain", "namespace"))
            name = " ".join(Path(command[0]).name if i == 0 else c for i, c in enumerate(command))
            print(
                f"  start {name:<22} plain {plain * 1e3:6.1f} ms   namespace {inside * 1e3:6.1f} ms"
                f"   +{(inside - plain) * 1e3:5.1f} ms  ({inside / plain:4.2f}x)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--start-cost", action="store_true", help="only the start cost")
    args = parser.parse_args()
    if args.start_cost:
        namespace_start_cost()
        return 0
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
        raw: list[float] = []
        job: dict[str, list[float]] = {mode: [] for mode in MODES}
        for i in range(args.repeats):
            raw.append(baseline(csv_path, tmp_path))
            for mode in MODES:
                os.environ["SIMSAGE_CONTAINER_MODE"] = mode
                seconds, described = simsage_job(sm, f"bench-{mode}-{i}")
                if described["TrainingJobStatus"] != "Completed":
                    print("job did not complete:", described.get("FailureReason"))
                    return 1
                job[mode].append(seconds)
        os.environ.pop("SIMSAGE_CONTAINER_MODE")
        raw_s = statistics.median(raw)
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
        verdicts = []
        for mode in MODES:
            job_s = statistics.median(job[mode])
            extra = job_s - raw_s
            print(
                f"  simsage {mode:<9} create -> Completed   {job_s:7.3f} s   "
                f"{[round(x, 3) for x in job[mode]]}   {job_s / raw_s:5.2f}x raw, +{extra:.3f} s"
            )
            verdicts.append(extra <= TARGET_EXTRA_SECONDS)
        namespace_s, process_s = (statistics.median(job[m]) for m in MODES)
        print(f"  namespace - process                       {namespace_s - process_s:+7.3f} s")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--start-cost"], check=False)
        extra = namespace_s - raw_s
        verdict = "PASS" if all(verdicts) else "FAIL"
        print(f"{verdict}  simsage - raw = {extra:.3f} s   target <= {TARGET_EXTRA_SECONDS} s")
        print("model:", described["ModelArtifacts"]["S3ModelArtifacts"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
