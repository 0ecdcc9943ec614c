"""S3 through simsage: how close to the cost of botocore itself, and of the disk.

Everything is measured in one run of this script, against baselines measured in the
same run, on the same machine and disk (never as timed assertions in the test suite).

1. Small objects (1 KiB): put_object, then get_object with the body read fully.
   Per-op latency is the median of several timed rounds of N ops, after a warm-up
   round; the cases' rounds are interleaved so that a load change hits them alike, and
   the garbage collector is paused during each round (as ``timeit`` does). Cases:
     - botocore floor: a plain boto3 client whose ``before-call`` handler answers at
       once with a canned response: all botocore does before the wire, nothing else;
     - simsage: a ``simsage.boto3_session()`` client on a fresh SIMSAGE_HOME;
     - moto: ``moto.mock_aws`` with a boto3 client created inside it;
     - filesystem: open/write/close of a 1 KiB file, and reading it back.
   Targets: simsage >= 50% of the botocore floor's ops/s; simsage >= 5x moto's ops/s.
2. Large transfer: a file of random bytes (200 MiB, 50 MiB with --quick) sent with
   ``upload_file`` and fetched with ``download_file`` (boto3 defaults, so multipart),
   best of a few runs, against ``shutil.copyfile`` of the same file on the same disk.
   The downloaded file must hash the same as the original.
   Target: each direction >= 40% of the copy's MB/s (1 MB = 10**6 bytes).
3. Listing: 10,000 keys under one prefix (plus keys before and after it); listing all
   pages of ListObjectsV2 under the prefix with the paginator (1000 keys a page),
   best of a few runs. Target: <= 0.3 s.

Usage: ``python3 benchmarks/bench_s3.py [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

# Measure the checkout this file lives in, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUCKET = "bench-bucket"
SMALL = os.urandom(1024)
MB = 10**6
LIST_KEYS = 10_000
LIST_PREFIX = "data/2024/"


def timed(fn: Callable[[], object]) -> float:
    """Seconds taken by ``fn()``, with the garbage collector paused."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()


def per_op(
    cases: dict[str, tuple], n: int, repeats: int, contexts: dict | None = None
) -> dict[str, tuple[float, float]]:
    """Median seconds per op of each case's (put, get), over ``repeats`` rounds of ``n`` ops.

    Rounds of all cases are interleaved, after one warm-up round each, so that a load
    change on the machine hits every case alike and the ratios stay fair. A case listed
    in ``contexts`` runs its rounds inside that context (moto's mock is active only
    while moto is measured: it slows every botocore client down).
    """
    contexts = contexts or {}

    def round_(fn: Callable[[int], object]) -> Callable[[], None]:
        def run() -> None:
            for i in range(n):
                fn(i)

        return run

    samples: dict[str, tuple[list, list]] = {name: ([], []) for name in cases}
    for repeat in range(repeats + 1):
        for name, ops in cases.items():
            for fn, times in zip(ops, samples[name], strict=True):
                context = contexts.get(name)
                if context is None:
                    seconds = timed(round_(fn))
                else:
                    with context():
                        seconds = timed(round_(fn))
                if repeat:  # round 0 is the warm-up
                    times.append(seconds / n)
    return {name: tuple(map(statistics.median, times)) for name, times in samples.items()}


# -- 1. small objects ---------------------------------------------------------------


def client_ops(client) -> tuple[Callable[[int], object], Callable[[int], object]]:
    def put(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"small/{i:05d}", Body=SMALL)

    def get(i: int) -> None:
        client.get_object(Bucket=BUCKET, Key=f"small/{i:05d}")["Body"].read()

    return put, get


def floor_client():
    """A plain boto3 client answered by a canned ``before-call`` handler."""
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="dummy", aws_secret_access_key="dummy"
    )
    client = session.client("s3")

    def meta() -> dict:
        return {"RequestId": "0", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}

    def answer_put(params, **_):
        return AWSResponse(params["url"], 200, {}, None), {
            "ETag": '"etag"',
            "ResponseMetadata": meta(),
        }

    def answer_get(params, **_):
        body = StreamingBody(io.BytesIO(SMALL), len(SMALL))
        parsed = {"Body": body, "ETag": '"etag"', "ContentLength": len(SMALL)}
        parsed["ResponseMetadata"] = meta()
        return AWSResponse(params["url"], 200, {}, None), parsed

    client.meta.events.register_first("before-call.s3.PutObject", answer_put)
    client.meta.events.register_first("before-call.s3.GetObject", answer_get)
    return client


def bench_small(work: Path, n: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Per-op (put, get) seconds for each case."""
    from moto import mock_aws

    import simsage

    client = simsage.boto3_session().client("s3")
    client.create_bucket(Bucket=BUCKET)
    cases = {"botocore floor": client_ops(floor_client()), "simsage": client_ops(client)}

    # moto answers at before-send, the floor and simsage at before-call: they don't mix.
    # Its mock is active only while moto's own rounds run.
    mock = mock_aws()

    @contextlib.contextmanager
    def moto_active():
        mock.start(reset=False)
        try:
            yield
        finally:
            mock.stop(remove_data=False)

    with moto_active():
        moto_client = boto3.client("s3", region_name="us-east-1")
        moto_client.create_bucket(Bucket=BUCKET)
    cases["moto"] = client_ops(moto_client)

    folder = work / "raw-small"
    folder.mkdir()

    def fs_put(i: int) -> None:
        with open(folder / f"{i:05d}", "wb") as f:
            f.write(SMALL)

    def fs_get(i: int) -> None:
        with open(folder / f"{i:05d}", "rb") as f:
            f.read()

    cases["filesystem"] = (fs_put, fs_get)
    return per_op(cases, n, repeats, contexts={"moto": moto_active})


# -- 2. large transfer --------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def bench_large(client, work: Path, size: int, runs: int) -> dict:
    """Best seconds for copy, upload and download of one file of ``size`` bytes."""
    source, copy, fetched = work / "large.bin", work / "large-copy.bin", work / "large-down.bin"
    with open(source, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))

    def fresh(path: Path) -> None:
        path.unlink(missing_ok=True)

    best = {"copy": float("inf"), "upload": float("inf"), "download": float("inf")}
    for _ in range(runs):
        fresh(copy)
        best["copy"] = min(best["copy"], timed(lambda: shutil.copyfile(source, copy)))
        best["upload"] = min(
            best["upload"], timed(lambda: client.upload_file(str(source), BUCKET, "large.bin"))
        )
        fresh(fetched)
        best["download"] = min(
            best["download"],
            timed(lambda: client.download_file(BUCKET, "large.bin", str(fetched))),
        )
    best["same"] = sha256(source) == sha256(fetched)
    for path in (source, copy, fetched):
        fresh(path)
    return best


# -- 3. listing ---------------------------------------------------------------------


def bench_listing(client, runs: int) -> tuple[float, int]:
    """Best seconds to list every page under the prefix, and the number of keys seen."""
    bucket = "bench-listing"
    client.create_bucket(Bucket=bucket)
    keys = [f"{LIST_PREFIX}part-{i:06d}.csv" for i in range(LIST_KEYS)]
    keys += [f"data/2023/part-{i:04d}.csv" for i in range(500)]  # before the prefix
    keys += [f"zzz/other-{i:04d}" for i in range(500)]  # after it
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))

    paginator = client.get_paginator("list_objects_v2")
    seen = 0

    def list_all() -> None:
        nonlocal seen
        seen = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=LIST_PREFIX):
            seen += len(page.get("Contents", []))

    list_all()  # warm-up
    return min(timed(list_all) for _ in range(runs)), seen


# -- report -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ops, a 50 MiB file")
    args = parser.parse_args()
    n, repeats = (500, 3) if args.quick else (2000, 5)
    size = (50 if args.quick else 200) << 20
    runs = 2 if args.quick else 3

    with tempfile.TemporaryDirectory(prefix="simsage-bench-") as tmp:
        work = Path(tmp)
        os.environ["SIMSAGE_BACKEND"] = "local"
        os.environ["SIMSAGE_HOME"] = str(work / "home")
        import simsage

        print(f"1. small objects: 1 KiB, median of {repeats} interleaved rounds of {n} ops")
        small = bench_small(work, n, repeats)
        print(f"   {'case':<16}{'put µs':>10}{'put ops/s':>12}{'get µs':>10}{'get ops/s':>12}")
        for case, (put, get) in small.items():
            print(
                f"   {case:<16}{put * 1e6:>10.1f}{1 / put:>12,.0f}{get * 1e6:>10.1f}{1 / get:>12,.0f}"
            )

        client = simsage.boto3_session().client("s3")
        print(f"\n2. large transfer: {size >> 20} MiB, best of {runs} runs")
        large = bench_large(client, work, size, runs)
        copy_rate = size / large["copy"] / MB
        print(f"   {'case':<16}{'seconds':>10}{'MB/s':>10}{'% of copy':>11}")
        for case in ("copy", "upload", "download"):
            rate = size / large[case] / MB
            print(f"   {case:<16}{large[case]:>10.3f}{rate:>10.0f}{rate / copy_rate:>10.0%}")
        print(f"   downloaded file equals the original (sha256): {large['same']}")

        print(f"\n3. listing: {LIST_KEYS:,} keys under {LIST_PREFIX!r}, best of {runs + 2} runs")
        list_seconds, seen = bench_listing(client, runs + 2)
        print(f"   all pages: {list_seconds:.3f} s, {seen:,} keys seen")

    rows = []  # (passed, what, figure, target)
    for i, op in enumerate(("put", "get")):
        floor, sim, moto = (small[case][i] for case in ("botocore floor", "simsage", "moto"))
        rows.append(
            (floor / sim >= 0.5, f"{op}: simsage ops/s, % of floor", f"{floor / sim:.0%}", ">= 50%")
        )
        rows.append(
            (moto / sim >= 5, f"{op}: simsage speed-up over moto", f"{moto / sim:.1f}x", ">= 5x")
        )
    for case in ("upload", "download"):
        share = large["copy"] / large[case]
        rows.append((share >= 0.4, f"{case}: % of copy throughput", f"{share:.0%}", ">= 40%"))
    rows.append((large["same"], "download equals the original", "sha256", "same"))
    listed = list_seconds <= 0.3 and seen == LIST_KEYS
    rows.append(
        (listed, f"list {LIST_KEYS:,} keys, all pages", f"{list_seconds:.3f} s", "<= 0.3 s")
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nSummary ({os.cpu_count()} CPUs, load average {load}: a busy machine blurs the figures)"
    )
    for passed, what, figure, target in rows:
        print(f"   {'PASS' if passed else 'FAIL'}  {what:<36}{figure:>9}   target {target}")


if __name__ == "__main__":
    main()
