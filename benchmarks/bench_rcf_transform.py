"""Random cut forest batch transform benchmark: a transform job against the in-process
scoring of the same rows.

Measured in one run, on the same headerless CSV (default 100,000 rows x 20 float features,
one object) and the same forest (the defaults: 100 trees x 256 samples, trained in process
by ``rcf_train.fit_arrays`` on other rows of the same distribution):

- baseline: ``pandas.read_csv`` + ``Forest.score`` + writing one score per line, in this
  process (libraries imported, model decoded);
- simsage: wall time from ``create_transform_job`` to ``Completed`` as seen by polling
  ``describe_transform_job`` every 20 ms — runner start, model extraction, server start-up
  (the forest decoded from its JSON), streaming the object from S3 in MultiRecord
  mini-batches over HTTP to the inference server, CSV parsing, scoring, the JSON lines
  written back and the ``.out`` stored in S3.

Target: simsage >= 10,000 rows/s. Both figures and their ratio are printed.
Run: ``python benchmarks/bench_rcf_transform.py [--rows N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
COLUMNS = 20
TARGET_ROWS_PER_S = 10_000


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, COLUMNS)))
    frame.to_csv(path, header=False, index=False, float_format="%.5f")


def model_archive(model: dict) -> bytes:
    raw = json.dumps(model).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("randomcutforest-model.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def baseline(path: Path, forest, out: Path) -> float:
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path, header=None, dtype=np.float32)
    scores = forest.score(frame.to_numpy())
    out.write_text("\n".join(str(v) for v in scores) + "\n")
    return time.perf_counter() - started


def simsage_job(sm, name: str, args) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="bench-rcf",
        MaxConcurrentTransforms=args.concurrency,
        MaxPayloadInMB=args.payload,
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://bench/out/{name}",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },  # fmt: skip
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    )
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return time.perf_counter() - started, described
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--payload", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage
        from simsage.algorithms import rcf_forest, rcf_train

        csv_path = tmp_path / "data.csv"
        make_csv(csv_path, args.rows)
        train_x = np.random.default_rng(3).normal(size=(100_000, COLUMNS)).astype(np.float32)
        model = rcf_train.fit_arrays(train_x, None, {"feature_dim": str(COLUMNS)})
        forest = rcf_forest.Forest.from_arrays(rcf_forest.decode(model["forest"]))
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(csv_path), "bench", "in/data.csv")
        s3.put_object(Bucket="bench", Key="model/model.tar.gz", Body=model_archive(model))
        sm.create_model(
            ModelName="bench-rcf",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bench/model/model.tar.gz"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        )
        raw_s = baseline(csv_path, forest, tmp_path / "raw.out")
        job_s, described = simsage_job(sm, "bench-rcf-0", args)
        if described["TransformJobStatus"] != "Completed":
            print("job did not complete:", described.get("FailureReason"))
            return 1
        out = s3.get_object(Bucket="bench", Key="out/bench-rcf-0/data.csv.out")["Body"].read()
        same = np.allclose(np.array(out.split(), dtype=np.float64),
                           np.array((tmp_path / "raw.out").read_bytes().split(), dtype=np.float64),
                           rtol=1e-6)  # fmt: skip
        raw_rate, job_rate = args.rows / raw_s, args.rows / job_s
        print(f"data: {args.rows:,} rows x {COLUMNS} features, one CSV object; forest "
              f"{model['num_trees']} trees x {model['num_samples_per_tree']} samples")  # fmt: skip
        print(f"job: MultiRecord, SplitType Line, MaxPayloadInMB {args.payload}, "
              f"MaxConcurrentTransforms {args.concurrency}, InstanceCount 1")  # fmt: skip
        print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"  raw read_csv + Forest.score + write   {raw_s:7.3f} s  {raw_rate:10,.0f} rows/s")
        print(f"  simsage create -> Completed           {job_s:7.3f} s  {job_rate:10,.0f} rows/s")
        print(f"  outputs equal to raw scores: {same}")
        verdict = "PASS" if job_rate >= TARGET_ROWS_PER_S and same else "FAIL"
        print(f"{verdict}  simsage {job_rate:,.0f} rows/s (target >= {TARGET_ROWS_PER_S:,}); "
              f"simsage / raw = {job_rate / raw_rate:.0%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
