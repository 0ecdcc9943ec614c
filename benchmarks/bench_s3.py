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
   ``upload_file`` and fetched with ``download_file`` (boto3 defaults: 8 MiB parts, 10
   threads, CRC32 asked for), best of a few interleaved runs, against two baselines on
   the same disk, in the same runs:
     - copy: ``shutil.copyfile`` of the file;
     - hashing floor: what S3 must do with an upload's bytes, parts in parallel as
       boto3 sends them: 10 threads each read one 8 MiB part of the file, hash it (MD5
       for the ETag, and the CRC32 the SDK asks for) and write it to a file of its own
       in the store's blob folder.
   Every timed run starts from nothing at its destination (the copy's target and the
   floor's files are removed, the uploaded object deleted, the download's target gone)
   and with the previous case's writes on disk (``os.sync``), outside the timing. The
   downloaded file must hash the same as the original. Peak memory: how far the RSS of a
   fresh process rises during one more transfer each way (untimed), so that no earlier
   run's memory hides it (Linux only).
   Targets: upload >= 70% of the floor's MB/s, download >= 60% of the copy's
   (1 MB = 10**6 bytes).
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
import subprocess
import sys
import tempfile
import time
import zlib
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
MIB = 1 << 20
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


PART = 8 * 1024 * 1024  # boto3's multipart_chunksize
THREADS = 10  # boto3's max_concurrency


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def hashing_floor(source: Path, size: int, folder: Path) -> Callable[[], None]:
    """Reading, hashing (MD5 and CRC32) and writing ``source`` part by part, in parallel."""

    def part(number: int) -> None:
        with open(source, "rb", buffering=0) as f:
            f.seek(number * PART)
            data = f.read(PART)
        hashlib.md5(data, usedforsecurity=False).digest()
        zlib.crc32(data)
        with open(folder / f"floor-{number}", "wb", buffering=0) as f:
            f.write(data)

    def run() -> None:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(part, range(-(-size // PART))))

    return run


# Run in a fresh process, so that memory an earlier transfer left to the allocator cannot
# hide what this one needs: its RSS rise from just before the transfer to the peak.
# (VmHWM, the peak of this process's memory map: ru_maxrss would start at the parent's.)
_MEMORY_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import simsage

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

client = simsage.boto3_session().client("s3")
client.head_object(Bucket=sys.argv[3], Key=sys.argv[4])  # opens the home, loads S3
before = status("VmRSS:")
if sys.argv[2] == "upload":
    client.upload_file(sys.argv[5], sys.argv[3], sys.argv[4])
else:
    client.download_file(sys.argv[3], sys.argv[4], sys.argv[5])
print(status("VmHWM:") - before)
"""


def peak_rss_rise(direction: str, key: str, path: Path) -> int | None:
    """Bytes the RSS of a fresh process rose by during one ``upload_file`` of ``path``
    to ``key`` (or ``download_file`` of ``key`` to it); None where /proc is missing."""
    if not Path("/proc/self/status").exists():
        return None
    checkout = str(Path(__file__).resolve().parents[1])
    args = [checkout, direction, BUCKET, key, str(path)]
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, *args], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1])


def bench_large(client, work: Path, blob_folder: Path, size: int, runs: int) -> dict:
    """Best seconds of each case over ``runs`` interleaved runs, and peak memory."""
    source, copy, fetched = work / "large.bin", work / "large-copy.bin", work / "large-down.bin"
    with open(source, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    floor = hashing_floor(source, size, blob_folder)

    def upload() -> None:
        client.upload_file(str(source), BUCKET, "large.bin")

    def download() -> None:
        client.download_file(BUCKET, "large.bin", str(fetched))

    def fresh() -> None:  # every destination empty again, outside the timings
        for path in (copy, fetched, *blob_folder.glob("floor-*")):
            path.unlink(missing_ok=True)

    def settled(fn: Callable[[], None]) -> float:
        # The previous case's written pages reach the disk first, outside the timing:
        # otherwise their writeback competes with whichever case runs next.
        if hasattr(os, "sync"):
            os.sync()
        return timed(fn)

    best = dict.fromkeys(("copy", "floor", "upload", "download"), float("inf"))
    for _ in range(runs):
        fresh()
        best["copy"] = min(best["copy"], settled(lambda: shutil.copyfile(source, copy)))
        best["floor"] = min(best["floor"], settled(floor))
        client.delete_object(Bucket=BUCKET, Key="large.bin")
        best["upload"] = min(best["upload"], settled(upload))
        best["download"] = min(best["download"], settled(download))
    best["same"] = sha256(source) == sha256(fetched)
    fresh()
    best["upload rss"] = peak_rss_rise("upload", "large.bin", source)
    best["download rss"] = peak_rss_rise("download", "large.bin", fetched)
    for path in (source, copy, fetched):
        path.unlink(missing_ok=True)
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
    runs = 3 if args.quick else 5

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
        print(f"\n2. large transfer: {size >> 20} MiB, best of {runs} interleaved runs")
        # Where the store writes each blob before renaming it into place (the floor's
        # files are foreign names there, which the store leaves alone).
        blob_folder = work / "home" / "blobs" / "tmp"
        large = bench_large(client, work, blob_folder, size, runs)
        print(f"   {'case':<16}{'seconds':>10}{'MB/s':>10}{'% of copy':>11}{'% of floor':>12}")
        for case in ("copy", "floor", "upload", "download"):
            rate = size / large[case] / MB
            copy_share, floor_share = large["copy"] / large[case], large["floor"] / large[case]
            print(
                f"   {case:<16}{large[case]:>10.3f}{rate:>10.0f}{copy_share:>10.0%}"
                f"{floor_share:>12.0%}"
            )
        print(f"   downloaded file equals the original (sha256): {large['same']}")
        if large["upload rss"] is not None:
            print(
                f"   peak memory (RSS rise in a fresh process): upload "
                f"{large['upload rss'] / MIB:.0f} MiB, download "
                f"{large['download rss'] / MIB:.0f} MiB, for an object of {size >> 20} MiB"
            )

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
    share = large["floor"] / large["upload"]
    rows.append((share >= 0.7, "upload: % of hashing floor", f"{share:.0%}", ">= 70%"))
    share = large["copy"] / large["download"]
    rows.append((share >= 0.6, "download: % of copy throughput", f"{share:.0%}", ">= 60%"))
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
