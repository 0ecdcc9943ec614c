"""S3 walkthrough: put a small training data set into S3 the way a SageMaker pipeline
would, then read it back (S3 only; ``make demo`` runs the full flight-delay example,
examples/flight_delay/).

Runs on the embedded store by default (``SIMSAGE_HOME``, else ``~/.simsage``) and, unchanged,
on real AWS with ``SIMSAGE_BACKEND=aws``. Steps:

1. make a bucket (idempotent: a second run reuses it);
2. generate 2,000 synthetic flights (standard library only, fixed seed, so every run
   writes the same bytes) into ``examples/output/flight-delay/v1/``: ``raw.csv`` plus an
   80/20 ``train.csv`` / ``validation.csv`` split;
3. upload the three files with ``upload_file`` under the versioned prefix ``flight-delay/v1/``;
4. list the prefix with a paginator; read ``raw.csv`` back with ``get_object`` and check
   it equals the local bytes;
5. print a summary: bucket, keys, sizes and where the data lives.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import random
import sys
from pathlib import Path

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

import simsage

PREFIX = "flight-delay/v1/"
FLIGHTS = 2000
SEED = 20240601
TRAIN_FRACTION = 0.8
COLUMNS = ["carrier", "origin", "dest", "month", "weekday", "dep_hour", "distance", "delayed"]

# IATA code -> (latitude, longitude); the distances between them are real great circles.
AIRPORTS = {
    "ATL": (33.64, -84.43),
    "BOS": (42.36, -71.01),
    "DEN": (39.86, -104.67),
    "DFW": (32.90, -97.04),
    "JFK": (40.64, -73.78),
    "LAX": (33.94, -118.41),
    "ORD": (41.98, -87.90),
    "SEA": (47.45, -122.31),
    "SFO": (37.62, -122.38),
    "MIA": (25.80, -80.29),
}
# carrier -> how much more (or less) often it runs late than average (log-odds).
CARRIERS = {"AA": 0.15, "DL": -0.25, "UA": 0.10, "WN": 0.05, "B6": 0.35, "AS": -0.30}


def great_circle_miles(a: str, b: str) -> int:
    """Distance between two airports of :data:`AIRPORTS`, in statute miles."""
    (lat1, lon1), (lat2, lon2) = (map(math.radians, AIRPORTS[code]) for code in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return round(2 * 3958.8 * math.asin(math.sqrt(h)))


def synthetic_flights(count: int = FLIGHTS, seed: int = SEED) -> list[dict]:
    """``count`` flights whose delay odds grow with the departure hour, winter and summer
    months, Fridays and the carrier; the same ``seed`` gives the same rows."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        origin, dest = rng.sample(sorted(AIRPORTS), 2)
        carrier = rng.choice(sorted(CARRIERS))
        month, weekday = rng.randint(1, 12), rng.randint(1, 7)
        dep_hour = min(23, max(5, round(rng.gauss(13, 4))))
        distance = great_circle_miles(origin, dest)
        log_odds = (
            -2.0
            + 0.09 * (dep_hour - 12)
            + (0.45 if month in (6, 7, 12) else 0.0)
            + (0.30 if weekday == 5 else 0.0)
            + CARRIERS[carrier]
            + 0.0002 * distance
        )
        delayed = int(rng.random() < 1 / (1 + math.exp(-log_odds)))
        rows.append(
            dict(
                zip(
                    COLUMNS,
                    [carrier, origin, dest, month, weekday, dep_hour, distance, delayed],
                    strict=True,
                )
            )
        )
    return rows


def to_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_data_set(folder: Path) -> dict[str, Path]:
    """Write raw/train/validation CSVs into ``folder``; returns ``{file name: path}``."""
    rows = synthetic_flights()
    split = int(len(rows) * TRAIN_FRACTION)
    parts = {"raw.csv": rows, "train.csv": rows[:split], "validation.csv": rows[split:]}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, part in parts.items():
        paths[name] = folder / name
        paths[name].write_bytes(to_csv(part))
    return paths


def ensure_bucket(s3, bucket: str) -> bool:
    """Create ``bucket`` unless this account already owns it; True if it was created.

    Raises:
        botocore.exceptions.ClientError: the bucket belongs to someone else (403) or
            cannot be created.
    """
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
    params: dict = {"Bucket": bucket}
    if s3.meta.region_name != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": s3.meta.region_name}
    try:
        s3.create_bucket(**params)
    except ClientError as err:  # another run created it meanwhile
        if err.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the walkthrough; returns the process exit status (0 when every check passed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="local folder for the generated CSVs (default: examples/output)",
    )
    args = parser.parse_args(argv)
    try:
        return walkthrough(args.output_dir)
    except (ClientError, BotoCoreError, Boto3Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def walkthrough(output_dir: Path) -> int:
    """Steps 1-5 of the module docstring; returns the exit status."""
    config = simsage.load_config()
    session = simsage.boto3_session()
    s3 = session.client("s3")
    region = s3.meta.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    bucket = f"simsage-demo-{region}-{account}"
    print(f"simsage S3 walkthrough (backend {config.backend})")

    created = ensure_bucket(s3, bucket)
    print(f"bucket:   s3://{bucket} ({'created' if created else 'already there, reused'})")
    files = write_data_set(output_dir / PREFIX)
    for name, path in files.items():
        s3.upload_file(str(path), bucket, PREFIX + name, ExtraArgs={"ContentType": "text/csv"})
    print(f"uploaded: {len(files)} files from {output_dir / PREFIX} (upload_file)")

    print(f"listing:  s3://{bucket}/{PREFIX} (list_objects_v2 paginator)")
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            listed.append(obj["Key"])
            print(f"  {obj['Key']:<32} {obj['Size']:>9,} bytes")
    expected = sorted(PREFIX + name for name in files)
    if sorted(listed) != expected:
        print(f"error: listed {sorted(listed)}, expected {expected}", file=sys.stderr)
        return 1

    local = files["raw.csv"].read_bytes()
    remote = s3.get_object(Bucket=bucket, Key=PREFIX + "raw.csv")["Body"].read()
    if remote != local:
        print(f"error: s3://{bucket}/{PREFIX}raw.csv differs from the local file", file=sys.stderr)
        return 1
    digest = hashlib.md5(local, usedforsecurity=False).hexdigest()
    print(f"checked:  get_object({PREFIX}raw.csv) equals the local file (md5 {digest})")
    rows = list(csv.DictReader(io.StringIO(local.decode())))
    delayed = sum(int(row["delayed"]) for row in rows) / len(rows)
    print(f"data set: {len(rows):,} flights, {delayed:.1%} delayed, split 80/20 train/validation")
    if config.is_local:
        print(
            f"store:    {config.home} (state.db: the index and small objects, blobs/: larger objects)"
        )
    else:
        print(f"store:    AWS S3, region {region}")
    print(f"next:     simsage s3 ls s3://{bucket}/{PREFIX} --human-readable --summarize")
    return 0


if __name__ == "__main__":
    sys.exit(main())
