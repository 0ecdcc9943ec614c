"""S3 over HTTP: simsage's S3 endpoint against moto's server mode, and against the disk.

Everything is measured in one run of this script, against baselines measured in the same
run on the same machine (never as timed assertions in the test suite). The machine may be
shared with other work: the figures are medians of interleaved rounds, so that a load change
hits every case alike, and the ratios are what to read, not the absolute numbers.

Both servers run as users get them, each in a process of its own on 127.0.0.1: simsage's
endpoint on a fresh SIMSAGE_HOME (the ``S3Endpoint`` class ``simsage.activate()`` and
``simsage serve`` run), and moto's ``ThreadedMotoServer`` (the one moto documents for
non-boto3 clients). The clients run in this process.

1. Small objects (1 KiB GET, body read fully; PUT too), per-op latency as the median of
   several timed rounds of N ops after a warm-up round, interleaved across the servers:
     - boto3: one client per server with ``endpoint_url`` (keep-alive, botocore's pool);
     - raw HTTP: an ``http.client`` keep-alive connection looping over presigned GET URLs
       (made beforehand, boto3's default presign), so that botocore's own cost does not
       hide the server's;
     - lean GET: the same presigned requests as prebuilt bytes over one kept-alive socket,
       read back with the least parsing (``LeanClient``), identical for both servers.
   Target: simsage >= 10x moto's GETs/s (the raw loop shows the servers themselves).
2. Large transfer (200 MiB, 50 MiB with --quick) through s3fs (``fs.put`` up, ``fs.get``
   down to a local file, s3fs defaults) against ``shutil.copyfile`` (a copy inside the
   kernel) and ``shutil.copyfileobj`` with 1 MiB buffers (through user space, as any
   client reading a socket must) of the same file on the same disk, median of a few interleaved runs after a warm-up run; every run starts with its destination
   removed and the previous writes flushed (``os.sync``, untimed). Also one presigned GET
   read into a file with ``http.client`` (the server's throughput without s3fs's). The
   downloaded files must hash the same as the original.
   Target: download >= 50% of the copy's MB/s (1 MB = 10**6 bytes).

Usage: ``python3 benchmarks/bench_s3_http.py [--quick]`` (needs the ``test`` and ``bench``
extras: s3fs, moto[server]).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig

# Measure the checkout this file lives in, installed or not.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY  # noqa: E402

BUCKET = "bench-http"
REGION = "us-east-1"
SMALL = os.urandom(1024)
MB = 10**6
MIB = 1 << 20
SMALL_KEYS = 100

# The servers' processes: each prints its URL on its first line once it listens.
_SIMSAGE_SERVER = """
import sys
from simsage.config import load_config
from simsage.transport.s3_endpoint import S3Endpoint
server = S3Endpoint(load_config())
print(server.url, flush=True)
server.serve_forever()
"""
_MOTO_SERVER = """
import logging, socket, sys, threading
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print(f"http://127.0.0.1:{port}", flush=True)
threading.Event().wait()
"""


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


@contextlib.contextmanager
def server_process(code: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run ``code`` in a fresh interpreter (its stderr to ``log``); yield the URL it prints
    once it answers."""
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(
                f"server did not start (exit {proc.poll()}): {url!r}\n{log.read_text()[-2000:]}"
            )
        host, port = urlsplit(url).hostname, urlsplit(url).port
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_client(url: str):
    """A plain boto3 client over HTTP (no simsage in this process), keep-alive."""
    return boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_SECRET_KEY,
        region_name=REGION,
    ).client(
        "s3",
        endpoint_url=url,
        config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


# -- 1. small objects -------------------------------------------------------------------------


def small_cases(url: str) -> dict[str, Callable[[int], object]]:
    """The per-op calls measured against one server (its bucket seeded first)."""
    client = http_client(url)
    client.create_bucket(Bucket=BUCKET)
    for i in range(SMALL_KEYS):
        client.put_object(Bucket=BUCKET, Key=f"small/{i:04d}", Body=SMALL)
    presigned = []
    for i in range(SMALL_KEYS):
        parts = urlsplit(
            client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": f"small/{i:04d}"}, ExpiresIn=3600
            )
        )
        presigned.append(f"{parts.path}?{parts.query}")
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)

    def boto3_get(i: int) -> None:
        client.get_object(Bucket=BUCKET, Key=f"small/{i % SMALL_KEYS:04d}")["Body"].read()

    def boto3_put(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"put/{i % SMALL_KEYS:04d}", Body=SMALL)

    def raw_get(i: int) -> None:
        conn.request("GET", presigned[i % SMALL_KEYS])
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or len(body) != len(SMALL):
            raise RuntimeError(f"presigned GET answered {response.status}: {body[:200]!r}")

    lean = LeanClient(parts.hostname, parts.port)
    requests = [lean.request_bytes("GET", target) for target in presigned]

    def lean_get(i: int) -> None:
        status, body = lean.exchange(requests[i % SMALL_KEYS])
        if status != 200 or len(body) != len(SMALL):
            raise RuntimeError(f"presigned GET answered {status}: {body[:200]!r}")

    return {
        "boto3 GET": boto3_get,
        "boto3 PUT": boto3_put,
        "raw GET": raw_get,
        "lean GET": lean_get,
    }


class LeanClient:
    """The least a client can do per request, the same for both servers: one kept-alive
    socket, the request's bytes built beforehand, then the status line, the headers and a
    ``Content-Length`` body read back (no header parsing beyond that). It shows the
    servers' own cost, which ``http.client``'s (~100 µs a request) partly hides."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.host = f"{host}:{port}"
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request_bytes(self, method: str, target: str) -> bytes:
        return f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        sock = self.sock
        sock.sendall(request)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
        head = buffer[:end].decode("iso-8859-1")
        status = int(head[9:12])
        length, close = None, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and "close" in value.lower():
                close = True
        if length is None:
            raise RuntimeError(f"no Content-Length in {head!r}")
        buffer = buffer[end + 4 :]
        while len(buffer) < length:
            chunk = sock.recv(max(65536, length - len(buffer)))
            if not chunk:
                raise ConnectionError("the server closed the connection mid-body")
            buffer += chunk
        body, self.buffer = buffer[:length], buffer[length:]
        if close:
            sock.close()
            self.sock = None
        return status, body


def per_op(cases: dict[str, dict[str, Callable]], n: int, repeats: int) -> dict:
    """Median seconds per op of ``cases[server][op]`` over interleaved rounds of ``n`` ops."""
    samples = {server: {op: [] for op in ops} for server, ops in cases.items()}
    for repeat in range(repeats + 1):
        for server, ops in cases.items():
            for op, fn in ops.items():
                seconds = timed(lambda fn=fn: [fn(i) for i in range(n)])
                if repeat:  # round 0 is the warm-up
                    samples[server][op].append(seconds / n)
    return {
        server: {op: statistics.median(times) for op, times in ops.items()}
        for server, ops in samples.items()
    }


# -- 2. large transfer ------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def large_transfer(url: str, work: Path, size: int, runs: int) -> dict:
    """Median seconds of copy / s3fs put / s3fs get of a ``size``-byte file."""
    import s3fs

    src = work / "big.bin"
    with open(src, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    fs = s3fs.S3FileSystem(
        key=LOCAL_ACCESS_KEY,
        secret=LOCAL_SECRET_KEY,
        endpoint_url=url,
        client_kwargs={"region_name": REGION},
        skip_instance_cache=True,
    )
    remote = f"{BUCKET}/large/big.bin"
    copy_dst, down_dst, raw_dst = work / "copy.bin", work / "down.bin", work / "raw.bin"
    user_dst = work / "user.bin"

    def fresh(path: Path | None = None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)
        os.sync()

    def upload() -> None:
        fs.put_file(str(src), remote)

    client = http_client(url)

    def raw_download() -> None:
        # One presigned GET read into a file: the server's throughput without s3fs's cost.
        parts = urlsplit(
            client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": "large/big.bin"}
            )
        )
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        with open(raw_dst, "wb") as f:
            shutil.copyfileobj(response, f, 1 * MIB)
        conn.close()

    def user_copy() -> None:
        # A copy through user space in 1 MiB pieces, as a client reading a socket does.
        with open(src, "rb") as f, open(user_dst, "wb") as g:
            shutil.copyfileobj(f, g, 1 * MIB)

    times: dict[str, list[float]] = {
        "copy": [],
        "copyfileobj": [],
        "s3fs put": [],
        "s3fs get": [],
        "raw GET": [],
    }
    cases = {
        "copy": (copy_dst, lambda: shutil.copyfile(src, copy_dst)),
        "copyfileobj": (user_dst, user_copy),
        "s3fs put": (None, upload),
        "s3fs get": (down_dst, lambda: fs.get_file(remote, str(down_dst))),
        "raw GET": (raw_dst, raw_download),
    }
    for run in range(runs + 1):
        for case, (target, fn) in cases.items():
            if case == "s3fs put":
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(remote)
            fresh(target)
            seconds = timed(fn)
            if run:  # run 0 is the warm-up (the client's first connections, heap growth)
                times[case].append(seconds)
    same = sha256(down_dst) == sha256(src) == sha256(raw_dst)
    for path in (src, copy_dst, user_dst, down_dst, raw_dst):
        path.unlink(missing_ok=True)
    return {"seconds": {k: statistics.median(v) for k, v in times.items()}, "same": same}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ops, a 50 MiB transfer")
    args = parser.parse_args()
    n, repeats = (200, 3) if args.quick else (500, 5)
    size, runs = (50 * MIB, 2) if args.quick else (200 * MIB, 5)

    with tempfile.TemporaryDirectory(prefix="bench-s3-http-") as tmp:
        work = Path(tmp)
        simsage_env = {
            "SIMSAGE_HOME": str(work / "home"),
            "SIMSAGE_BACKEND": "local",
            "SIMSAGE_CHECK_OUTPUT": "0",
        }
        with (
            server_process(_SIMSAGE_SERVER, simsage_env, work / "simsage.log") as simsage_url,
            server_process(_MOTO_SERVER, {}, work / "moto.log") as moto_url,
        ):
            small = per_op(
                {"simsage": small_cases(simsage_url), "moto": small_cases(moto_url)}, n, repeats
            )
            large = large_transfer(simsage_url, work, size, runs)

    print("S3 over HTTP (servers in their own processes on 127.0.0.1; machine may be shared)")
    print(f"\n1. small objects: 1 KiB, median of {repeats} interleaved rounds of {n} ops")
    print(f"   {'case':<12}{'simsage µs':>12}{'moto µs':>10}{'simsage/s':>11}{'moto/s':>9}{'×':>7}")
    ratios = {}
    for op in small["simsage"]:
        ours, theirs = small["simsage"][op], small["moto"][op]
        ratios[op] = theirs / ours
        print(
            f"   {op:<12}{ours * 1e6:>12.0f}{theirs * 1e6:>10.0f}"
            f"{1 / ours:>11.0f}{1 / theirs:>9.0f}{ratios[op]:>7.1f}"
        )
    seconds = large["seconds"]
    print(f"\n2. large transfer: {size >> 20} MiB, median of {runs} interleaved runs")
    print(f"   {'case':<12}{'seconds':>10}{'MB/s':>10}{'% of copy':>11}")
    for case, s in seconds.items():
        print(f"   {case:<12}{s:>10.3f}{size / s / MB:>10.0f}{100 * seconds['copy'] / s:>10.0f}%")
    print(f"   downloaded files equal the original (sha256): {large['same']}")

    download = seconds["copy"] / seconds["s3fs get"]
    user_download = seconds["copyfileobj"] / seconds["s3fs get"]
    checks = [
        (
            "1 KiB GET, raw HTTP, vs moto",
            f"{ratios['raw GET']:.1f}x",
            ">= 10x",
            ratios["raw GET"] >= 10,
        ),
        (
            "1 KiB GET, lean client, vs moto",
            f"{ratios['lean GET']:.1f}x",
            ">= 10x",
            ratios["lean GET"] >= 10,
        ),
        (
            "1 KiB GET, boto3, vs moto",
            f"{ratios['boto3 GET']:.1f}x",
            ">= 10x",
            ratios["boto3 GET"] >= 10,
        ),
        (
            "s3fs download vs file copy",
            f"{100 * download:.0f}%",
            ">= 50%",
            download >= 0.5 and large["same"],
        ),
        (
            "s3fs download vs copyfileobj",
            f"{100 * user_download:.0f}%",
            ">= 50%",
            user_download >= 0.5 and large["same"],
        ),
    ]
    print("\ntargets:")
    for what, figure, target, passed in checks:
        print(f"   {'PASS' if passed else 'FAIL'}  {what:<32}{figure:>9}   target {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
