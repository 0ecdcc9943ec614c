"""Processing benchmark: a processing job running a pandas script against the same script
run directly in a fresh Python process.

Measured in one run, interleaved, on the same 100,000-row CSV (numeric and categorical
columns, a few missing values and repeated rows) and the same script (read, clean,
derive, group, write a summary and a sample):

- direct: ``subprocess.run([sys.executable, script, --input DIR, --output DIR])`` on the
  local files: interpreter start-up, imports, the work;
- simsage: wall time from ``create_processing_job`` to ``Completed`` as seen by polling
  ``describe_processing_job`` every 20 ms: the job runner's start, the code and data
  downloaded to their LocalPaths, the script in the scikit-learn image (simsage's own
  Python, no Docker), the outputs uploaded to S3 (EndOfJob, before Completed).

The job runs in both container modes, alternating with the direct run: ``namespace``
(the host in a private mount namespace where its folder is ``/opt/ml``, the default on
Linux) and ``process`` (``SIMSAGE_CONTAINER_MODE=process``). Each job's outputs are
checked against the direct run's, byte for byte.

Target: simsage <= direct + 1.0 s. Run: ``python benchmarks/bench_processing.py [--rows N]``.
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

import numpy as np  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-processing"
TARGET_EXTRA_SECONDS = 1.0
MODES = ("namespace", "process")

# The workload: what a preprocessing step does with pandas. The job passes its LocalPaths
# as the folders, the direct run local ones.
SCRIPT = """\
import argparse
import os

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--input", default="/opt/ml/processing/input/data")
parser.add_argument("--output", default="/opt/ml/processing/output")
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.input, "records.csv"))
frame = frame.dropna().drop_duplicates()
frame["income_band"] = pd.cut(frame["income"], bins=[0, 20e3, 50e3, 100e3, float("inf")],
                              labels=["low", "mid", "high", "top"])
frame["spend_ratio"] = frame["spend"] / frame["income"]
summary = frame.groupby(["region", "income_band"], observed=True).agg(
    rows=("id", "size"), mean_age=("age", "mean"), mean_spend_ratio=("spend_ratio", "mean"),
    churned=("churned", "mean"))
summary.round(6).to_csv(os.path.join(args.output, "summary.csv"))
frame.sample(frac=0.1, random_state=0).to_csv(os.path.join(args.output, "sample.csv"),
                                              index=False, float_format="%.6f")
print(f"kept {len(frame)} rows, {len(summary)} groups")
"""


def make_csv(path: Path, rows: int, seed: int = 11) -> None:
    """Records with numeric and categorical columns, ~1% missing values, ~1% repeats."""
    rng = np.random.default_rng(seed)
    regions = np.array(["north", "south", "east", "west", "central"])
    income = rng.lognormal(10.5, 0.6, size=rows).round(2)
    spend = (income * rng.uniform(0.05, 0.6, size=rows)).round(2)
    age = rng.integers(18, 90, size=rows).astype(float)
    age[rng.random(rows) < 0.01] = np.nan
    columns = {
        "id": np.arange(rows),
        "region": regions[rng.integers(0, len(regions), size=rows)],
        "age": age,
        "income": income,
        "spend": spend,
        "churned": (rng.random(rows) < 0.2).astype(int),
    }
    lines = ["id,region,age,income,spend,churned"]
    for i in range(rows):
        row = [columns[name][i] for name in columns]
        lines.append(",".join("" if isinstance(v, float) and np.isnan(v) else str(v) for v in row))
    lines += lines[1::100]
    path.write_text("\n".join(lines) + "\n")


def direct(script: Path, data: Path, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(script), "--input", str(data), "--output", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def simsage_job(sm, name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/transform.py"],
            # The folders as arguments: in process mode (no private /opt/ml) simsage gives
            # arguments naming /opt/ml paths as the host folder's paths.
            "ContainerArguments": [
                "--input",
                "/opt/ml/processing/input/data",
                "--output",
                "/opt/ml/processing/output",
            ],
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/transform.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/data/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "summary",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            }
        },
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    while True:
        described = sm.describe_processing_job(ProcessingJobName=name)
        if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return time.perf_counter() - started, described
        time.sleep(0.02)


def same_outputs(s3, name: str, out: Path) -> bool:
    """The job's outputs in S3 are the direct run's files, byte for byte."""
    for file in ("summary.csv", "sample.csv"):
        body = s3.get_object(Bucket=BUCKET, Key=f"out/{name}/{file}")["Body"].read()
        if body != (out / file).read_bytes():
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["SIMSAGE_HOME"] = str(tmp_path / "home")
        os.environ["SIMSAGE_BACKEND"] = "local"
        import simsage

        data = tmp_path / "data"
        data.mkdir()
        make_csv(data / "records.csv", args.rows)
        script = tmp_path / "transform.py"
        script.write_text(SCRIPT)
        session = simsage.boto3_session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(script), BUCKET, "code/transform.py")
        s3.upload_file(str(data / "records.csv"), BUCKET, "data/records.csv")
        out = tmp_path / "direct-out"
        direct(script, data, out)  # warm the page cache and the libraries' files
        simsage_job(sm, "bench-warm-up")
        raw: list[float] = []
        job: dict[str, list[float]] = {mode: [] for mode in MODES}
        for i in range(args.repeats):
            raw.append(direct(script, data, out))
            for mode in MODES:
                os.environ["SIMSAGE_CONTAINER_MODE"] = mode
                name = f"bench-{mode}-{i}"
                seconds, described = simsage_job(sm, name)
                if described["ProcessingJobStatus"] != "Completed":
                    print("job did not complete:", described.get("FailureReason"))
                    return 1
                if not same_outputs(s3, name, out):
                    print(f"job {name}: its outputs differ from the direct run's")
                    return 1
                job[mode].append(seconds)
        os.environ.pop("SIMSAGE_CONTAINER_MODE")
        raw_s = statistics.median(raw)
        size_mb = (data / "records.csv").stat().st_size / 1e6
        print(f"data: {args.rows:,} rows x 6 columns, {size_mb:.1f} MB CSV; pandas script")
        print(
            f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
            f"median of {args.repeats} runs, interleaved"
        )
        print(
            f"  direct   fresh python script.py          {raw_s:7.3f} s   "
            f"{[round(x, 3) for x in raw]}"
        )
        verdicts = []
        for mode in MODES:
            job_s = statistics.median(job[mode])
            extra = job_s - raw_s
            print(
                f"  simsage {mode:<9} create -> Completed   {job_s:7.3f} s   "
                f"{[round(x, 3) for x in job[mode]]}   {job_s / raw_s:5.2f}x direct, "
                f"+{extra:.3f} s"
            )
            verdicts.append(extra <= TARGET_EXTRA_SECONDS)
        namespace_s, process_s = (statistics.median(job[m]) for m in MODES)
        print(f"  namespace - process                       {namespace_s - process_s:+7.3f} s")
        extra = namespace_s - raw_s
        verdict = "PASS" if all(verdicts) else "FAIL"
        print(f"{verdict}  simsage - direct = {extra:.3f} s   target <= {TARGET_EXTRA_SECONDS} s")
        print("outputs: identical to the direct run's in every job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
