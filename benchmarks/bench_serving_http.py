"""Benchmark: which HTTP server the inference server should run on.

Model: the built-in XGBoost model of ``bench_endpoints.py`` (100 trees of depth 6 on 20
features), one CSV row per request. Every candidate of ``serving_candidates.py`` runs
in its own long-lived process serving the same handler: the hand-written layer simsage
used before (the baseline), ``http.server`` as simsage ships it, werkzeug's threaded
server, waitress and gunicorn (gthread), whichever of the last three are installed.

One endpoint is created through ``simsage.boto3_session()``; this process then points
its connection pool at one candidate after another, so each figure is a real
``invoke_endpoint`` through boto3 (routing, botocore parsing, the pooled keep-alive
connection, the server). The candidates alternate in short turns (blocks of 25 calls,
windows of 0.5 s, the order rotating), so a noisy neighbour slows all of them alike:

- p50 of sequential ``invoke_endpoint`` calls, and of raw ``http.client`` POSTs;
- requests/s with 4 client threads (one boto3 client each) kept running while the
  target switches.

Ratios are against the baseline measured in the same run. Targets: ``invoke_endpoint`` p50 <= 1.5 ms and >= 500
requests/s with 4 threads.

Usage: ``python benchmarks/bench_serving_http.py [--quick]`` (run it from
a directory outside the repository, e.g. ``cd /tmp``, as the other benchmarks).
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_endpoints import FEATURES, deploy, train  # noqa: E402

OPTIONAL = {"werkzeug": "werkzeug", "waitress": "waitress", "gunicorn": "gunicorn"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ping(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"candidate on port {port} exited with {proc.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"candidate on port {port} never answered /ping")


def start_candidates(kinds: list[str], model_dir: str) -> dict[str, tuple[int, subprocess.Popen]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    started = {}
    for kind in kinds:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "serving_candidates.py"), kind, model_dir, str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        started[kind] = (port, proc)
    for port, proc in started.values():
        _wait_ping(port, proc)
    return started


def interleaved_latency(calls: dict[str, object], blocks: int, per_block: int) -> dict:
    """Per candidate, every sample of ``blocks`` short runs of ``per_block`` calls, the
    candidates alternating block by block (the order rotating), after a warm-up."""
    samples: dict[str, list[float]] = {kind: [] for kind in calls}
    kinds = list(calls)
    for kind in kinds:
        for _ in range(100):
            calls[kind]()
    for block in range(blocks):
        shift = block % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            call, out = calls[kind], samples[kind]
            for _ in range(per_block):
                start = time.perf_counter()
                call()
                out.append(time.perf_counter() - start)
    return samples


def interleaved_throughput(make_call, kinds: list[str], local, windows: int, window: float):
    """Requests/s per candidate with 4 client threads kept running while the target
    switches every ``window`` seconds (the order rotating); a call counts for the
    candidate it was sent to."""
    current = {"kind": kinds[0]}
    counts = dict.fromkeys(kinds, 0)
    elapsed = dict.fromkeys(kinds, 0.0)
    stop = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        call = make_call()
        while not stop.is_set():
            kind = local.kind = current["kind"]
            call()
            with lock:
                counts[kind] += 1

    workers = [threading.Thread(target=run) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every thread has its client and connections
    with lock:
        counts.update(dict.fromkeys(kinds, 0))
    for number in range(windows):
        shift = number % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            current["kind"] = kind
            start = time.perf_counter()
            time.sleep(window)
            elapsed[kind] += time.perf_counter() - start
    stop.set()
    for worker in workers:
        worker.join()
    return {kind: counts[kind] / elapsed[kind] for kind in kinds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    blocks, per_block = (20, 25) if args.quick else (60, 25)
    windows, window = (8, 0.5) if args.quick else (20, 0.5)

    home = tempfile.mkdtemp(prefix="simsage-bench-serving-")
    os.environ["SIMSAGE_HOME"] = home
    os.environ["SIMSAGE_BACKEND"] = "local"
    import simsage
    from simsage.runtime.instance_client import InstancePool

    _, artifact = train()
    model_dir = tempfile.mkdtemp(prefix="simsage-bench-model-")
    with tarfile.open(fileobj=io.BytesIO(artifact)) as archive:
        archive.extractall(model_dir, filter="data")
    row = np.random.default_rng(1).random((1, FEATURES), dtype=np.float32)
    body = ",".join(f"{v:.6f}" for v in row[0]).encode()

    kinds = ["handwritten", "stdlib", "stdlib-email"] + [
        k for k, mod in OPTIONAL.items() if find_spec(mod)
    ]
    candidates = start_candidates(kinds, model_dir)
    ports = {kind: port for kind, (port, _) in candidates.items()}

    # Every pooled request goes to the candidate the calling thread is measuring,
    # whatever port the endpoint's route names; connections to every candidate stay.
    local = threading.local()
    original = InstancePool.request

    def redirected(self, port, *rest, **kwargs):
        kind = getattr(local, "kind", None)
        return original(self, ports[kind] if kind else port, *rest, **kwargs)

    InstancePool.request = redirected
    original_retain = InstancePool.retain
    InstancePool.retain = lambda self, wanted: original_retain(
        self, set(wanted) | set(ports.values())
    )

    session = simsage.boto3_session()
    sm = deploy(session, artifact)
    sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000}
    )
    try:
        runtime = session.client("sagemaker-runtime")

        def invoke(client=runtime):
            answer = client.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")
            return answer["Body"].read()

        def invoke_on(kind):
            def call():
                local.kind = kind
                return invoke()

            return call

        def http_on(kind):
            connection = http.client.HTTPConnection("127.0.0.1", ports[kind])
            headers = {"Content-Type": "text/csv"}

            def call():
                connection.request("POST", "/invocations", body, headers)
                return connection.getresponse().read()

            return call

        def make_invoke():
            client = simsage.boto3_session().client("sagemaker-runtime")
            return lambda: invoke(client)

        invoke_samples = interleaved_latency({k: invoke_on(k) for k in kinds}, blocks, per_block)
        http_samples = interleaved_latency({k: http_on(k) for k in kinds}, blocks, per_block)
        rps = interleaved_throughput(make_invoke, kinds, local, windows, window)
        local.kind = None
    finally:
        sm.delete_endpoint(EndpointName="bench")
        sm.get_waiter("endpoint_deleted").wait(
            EndpointName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000}
        )
        for _, proc in candidates.values():
            proc.terminate()
        for _, proc in candidates.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    p50 = {k: statistics.median(v) for k, v in invoke_samples.items()}
    http_p50 = {k: statistics.median(v) for k, v in http_samples.items()}
    base = "handwritten"
    print(
        f"interleaved: {blocks} blocks of {per_block} calls per candidate; "
        f"4 threads for {windows} windows of {window} s per candidate"
    )
    print(
        f"{'server':<13} {'invoke p50':>11} {'ratio':>6} {'HTTP p50':>10} {'ratio':>6} "
        f"{'req/s (4 thr)':>14} {'ratio':>6}"
    )
    for kind in kinds:
        print(
            f"{kind:<13} {p50[kind] * 1000:8.3f} ms {p50[kind] / p50[base]:6.2f} "
            f"{http_p50[kind] * 1000:7.3f} ms {http_p50[kind] / http_p50[base]:6.2f} "
            f"{rps[kind]:14,.0f} {rps[kind] / rps[base]:6.2f}"
        )
    shipped_p50, shipped_rps = p50["stdlib"], rps["stdlib"]
    print(
        f"shipped (stdlib): p50 {shipped_p50 * 1000:.3f} ms "
        f"({'met' if shipped_p50 <= 0.0015 else 'MISSED'} <= 1.5 ms); "
        f"{shipped_rps:,.0f} req/s ({'met' if shipped_rps >= 500 else 'MISSED'} >= 500)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
