"""Batch transform benchmark: a transform job against raw in-process XGBoost scoring.

Measured in one run, on the same headerless CSV (default 1,000,000 rows x 20 float
features, one object) and the same built-in XGBoost model (100 trees, depth 6):

- baseline: ``pandas.read_csv`` + ``Booster.inplace_predict`` + writing one prediction
  per line to a file, in this process (libraries already imported, file cached);
- simsage: wall time from ``create_transform_job`` to ``Completed`` as seen by polling
  ``describe_transform_job`` every 20 ms — runner start, model extraction, server
  start-up, streaming the object from S3 in MultiRecord mini-batches (SplitType Line,
  MaxPayloadInMB 6) over HTTP to the inference server(s), and the ``.out`` stored in S3.

Peak memory is the largest VmHWM (peak resident set) seen in /proc for the job's runner
and inference server processes, sampled every 50 ms.

Target: simsage rows/s >= 40% of raw rows/s.
Run: ``python benchmarks/bench_transform.py [--rows N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore", message=".*UBJSON.*")

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROUNDS = 100
COLUMNS = 20
TARGET_RATIO = 0.40


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` x 20 floats (5 decimals) in blocks, without holding them all."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    block = 200_000
    with open(path, "w") as out:
        for start in range(0, rows, block):
            frame = pd.DataFrame(rng.normal(size=(min(block, rows - start), COLUMNS)))
            frame.to_csv(out, header=False, index=False, float_format="%.5f")


def train_model(seed: int = 3):
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20_000, COLUMNS)).astype(np.float32)
    y = (x @ rng.normal(size=COLUMNS) > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.3}
    return xgb.train(params, xgb.DMatrix(x, label=y), ROUNDS)


def model_archive(booster) -> bytes:
    raw = bytes(booster.save_raw("json"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def baseline(path: Path, booster, out: Path) -> float:
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path, header=None, dtype=np.float32)
    preds = booster.inplace_predict(frame.to_numpy())
    out.write_text("\n".join(str(v) for v in preds) + "\n")
    return time.perf_counter() - started


class PeakMemory:
    """Samples VmHWM of the transform runner and inference server processes."""

    MARKERS = (b"simsage.transform.runner", b"simsage.serving.server")

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = Path(entry.path, "cmdline").read_bytes()
                    kind = next((m.decode() for m in self.MARKERS if m in cmdline), None)
                    if kind is None:
                        continue
                    for line in Path(entry.path, "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            kb = int(line.split()[1])
                            self.peaks[int(entry.name)] = (kind, kb)
                except (OSError, ValueError):
                    continue

    def report(self) -> str:
        by_kind: dict[str, int] = {}
        for kind, kb in self.peaks.values():
            by_kind[kind.rsplit(".", 1)[-1]] = max(by_kind.get(kind.rsplit(".", 1)[-1], 0), kb)
        return ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in sorted(by_kind.items()))


def simsage_job(sm, name: str, args) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="bench-model",
        MaxConcurrentTransforms=args.concurrency,
        MaxPayloadInMB=args.payload,
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://bench/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": args.instances},
    )
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return time.perf_counter() - started, described
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--payload", type=int, default=6)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage

        csv_path = tmp_path / "data.csv"
        make_csv(csv_path, args.rows)
        booster = train_model()
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(csv_path), "bench", "in/data.csv")
        s3.put_object(Bucket="bench", Key="model/model.tar.gz", Body=model_archive(booster))
        sm.create_model(
            ModelName="bench-model",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bench/model/model.tar.gz"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        )
        baseline(csv_path, booster, tmp_path / "raw.out")  # warm the page cache and libraries
        raw, job = [], []
        with PeakMemory() as memory:
            for i in range(args.repeats):
                raw.append(baseline(csv_path, booster, tmp_path / "raw.out"))
                seconds, described = simsage_job(sm, f"bench-{i}", args)
                if described["TransformJobStatus"] != "Completed":
                    print("job did not complete:", described.get("FailureReason"))
                    return 1
                job.append(seconds)
        out = s3.get_object(Bucket="bench", Key="out/bench-0/data.csv.out")["Body"].read()
        expected = (tmp_path / "raw.out").read_bytes()
        same = np.allclose(
            np.array(out.split(), dtype=np.float32), np.array(expected.split(), dtype=np.float32)
        )
        raw_s, job_s = statistics.median(raw), statistics.median(job)
        raw_rate, job_rate = args.rows / raw_s, args.rows / job_s
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"data: {args.rows:,} rows x {COLUMNS} features, {size_mb:.1f} MB CSV, one object; "
            f"{ROUNDS} trees, depth 6"
        )
        print(
            f"job: MultiRecord, SplitType Line, MaxPayloadInMB {args.payload}, "
            f"MaxConcurrentTransforms {args.concurrency}, InstanceCount {args.instances}"
        )
        print(
            f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median of {args.repeats} runs"
        )
        print(f"  raw read_csv + inplace_predict + write  {raw_s:7.3f} s  {raw_rate:12,.0f} rows/s")
        print(f"  simsage create -> Completed            {job_s:7.3f} s  {job_rate:12,.0f} rows/s")
        print(f"  peak memory (VmHWM): {memory.report()}")
        print(f"  outputs equal to raw predictions: {same}")
        ratio = job_rate / raw_rate
        verdict = "PASS" if ratio >= TARGET_RATIO and same else "FAIL"
        print(f"{verdict}  simsage / raw throughput = {ratio:.0%}   target >= {TARGET_RATIO:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
