"""What a container pays to reach S3 through simsage's relay (simsage.runtime.netns_relay),
against the same client reaching the same host service directly, in the same run.

The "container" is a process in a network namespace of its own (``unshare --net``,
loopback up), as Docker gives one; the relay gives its 127.0.0.1:PORT the host's
127.0.0.1:PORT. The host service is a plain socket server, so only the relay's cost is
measured, not S3's:

1. download: the service sends 512 MiB (128 MiB with --quick) on one connection; the
   client reads it with 1 MiB ``recv_into`` (MB/s, best of 3 interleaved rounds);
2. upload: the client sends as much, the service reads it;
3. small exchanges: 300 connections, each sending 1 KiB and reading 1 KiB back, one
   after the other (µs per connection: connect, relay's connect to the host, both ways).

Needs root, ``unshare`` and ``ip`` (as the relay itself needs root). Usage:
``python3 benchmarks/bench_container_relay.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simsage.runtime.netns_relay import ContainerRelay  # noqa: E402

CHUNK = 1 << 20
CLIENT = textwrap.dedent(
    """
    import socket, sys, time
    port, mode, size, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print("up", flush=True)
    sys.stdin.readline()
    buffer = bytearray(1 << 20)
    start = time.perf_counter()
    if mode == "small":
        for _ in range(count):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.sendall(b"x" * 1024)
                got = 0
                while got < 1024:
                    got += conn.recv_into(buffer)
    else:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(mode.encode()[:1])
            if mode == "down":
                while conn.recv_into(buffer):
                    pass
            else:
                view = memoryview(buffer)
                for _ in range(size // len(buffer)):
                    conn.sendall(view)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)
    print(time.perf_counter() - start, flush=True)
    """
)


def serve(server: socket.socket, size: int) -> None:
    """``d``: send ``size`` bytes; ``u``: read until EOF, answer one byte; otherwise (the
    small exchanges): answer 1 KiB for the first 1 KiB."""
    payload = memoryview(bytes(CHUNK))
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=_one, args=(conn, payload, size), daemon=True).start()


def _one(conn: socket.socket, payload: memoryview, size: int) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = conn.recv(1)
        if first == b"d":
            for _ in range(size // CHUNK):
                conn.sendall(payload)
        elif first == b"u":
            buffer = bytearray(CHUNK)
            while conn.recv_into(buffer):
                pass
            conn.sendall(b"k")
        else:
            got = len(first)
            while got < 1024:
                got += len(conn.recv(1024 - got))
            conn.sendall(bytes(1024))


def run(port: int, relay: ContainerRelay | None, mode: str, size: int, count: int) -> float:
    command = [sys.executable, "-c", CLIENT, str(port), mode, str(size), str(count)]
    if relay is not None:
        quoted = " ".join(f"'{part}'" for part in command)
        command = ["unshare", "--net", "sh", "-c", f"ip link set lo up && exec {quoted}"]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "up"
    if relay is not None:
        relay.attach(child.pid)
    child.stdin.write("go\n")
    child.stdin.flush()
    seconds = float(child.stdout.readline())
    assert child.wait() == 0
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB and 100 connections")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        print("skipped: needs root, unshare and ip (the relay enters network namespaces)")
        return 0
    size = (128 if args.quick else 512) * CHUNK
    count = 100 if args.quick else 300
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=serve, args=(server, size), daemon=True).start()
    best: dict[tuple[str, str], float] = {}
    for _ in range(3):
        for mode in ("down", "up", "small"):
            for way in ("direct", "relayed"):
                relay = ContainerRelay(port) if way == "relayed" else None
                try:
                    seconds = run(port, relay, mode, size, count)
                finally:
                    if relay is not None:
                        relay.close()
                key = (mode, way)
                best[key] = min(best.get(key, seconds), seconds)
    print(f"{'case':<34}{'direct':>14}{'relayed':>14}{'relayed/direct':>16}")
    for mode, label in (("down", "download (MB/s)"), ("up", "upload (MB/s)")):
        direct = size / best[(mode, "direct")] / 1e6
        relayed = size / best[(mode, "relayed")] / 1e6
        print(f"{label:<34}{direct:>14.0f}{relayed:>14.0f}{relayed / direct:>15.0%}")
    direct = best[("small", "direct")] / count * 1e6
    relayed = best[("small", "relayed")] / count * 1e6
    print(
        f"{'1 KiB exchange, new connection (µs)':<34}{direct:>14.0f}{relayed:>14.0f}"
        f"{relayed / direct:>15.1f}x"
    )
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
