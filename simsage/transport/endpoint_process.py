"""The S3 endpoint's own process: ``python -m simsage.transport.endpoint_process``.

Layer: transport. Spawned by :mod:`simsage.transport.endpoint_use` on the first
connection to a home's pending endpoint (``--fd N``: the listening socket it bound,
handed over with ``pass_fds``), or run in the foreground by ``simsage serve``
(:func:`serve`). Either way it serves :class:`~simsage.transport.s3_endpoint.S3Endpoint`
for one home until:

- SIGTERM or SIGINT: it stops accepting, lets the requests in flight finish (up to
  :data:`DRAIN_SECONDS`) and exits 0;
- its record is gone or names another endpoint (the last user stopped it, a test's
  teardown removed it): it exits the same way;
- every user recorded in ``s3-endpoint/s3.json`` is dead (a killed notebook, a test
  process that was SIGKILLed) and no request has come for :data:`IDLE_SECONDS`: it
  removes the record and exits, so nothing outlives its users. A foreground server
  (``simsage serve``) has no users and only stops on a signal.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from simsage.transport import endpoint_record as records

WATCH_SECONDS = 1.0  # how often the record and the users are looked at
IDLE_SECONDS = 5.0  # how long an endpoint whose users are all dead waits for requests
DRAIN_SECONDS = 30.0  # how long requests in flight may take once stopping


def _should_exit(home: Path, port: int, server) -> bool:
    """Whether the record says this endpoint is no longer wanted (removes the record
    when the users are all gone and the endpoint has been idle)."""
    with records.locked(home):
        record = records.read(home)
        if record is None or record.get("port") != port:
            return True
        if record.get("foreground"):
            return False
        if records.live_users(record):
            return False
        if server.in_flight or time.monotonic() - server.last_activity < IDLE_SECONDS:
            return False
        records.remove(home)
        return True


def _drain(server) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while server.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)


def run(server, home: Path, stop: threading.Event, watch: bool = True) -> None:
    """Serve until ``stop`` is set (by a signal) or, with ``watch``, until the record
    says the endpoint is no longer wanted; then drain and close."""
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, name="s3-endpoint", daemon=True)
    serving.start()
    try:
        while not stop.wait(WATCH_SECONDS):
            if watch and _should_exit(home, port, server):
                break
    finally:
        server.shutdown()  # no new connections are accepted from here on
        _drain(server)
        server.server_close()


def _on_signals(stop: threading.Event) -> None:
    def handler(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _config(home: Path):
    from simsage.config import load_config

    return load_config().with_overrides(home=home, backend="local")


def serve(home: Path, port: int = 0, announce=print) -> int:
    """``simsage serve``: the home's endpoint in the foreground, recorded so that
    activations in other processes reuse it. Returns the exit status (1 when a live
    endpoint already serves the home)."""
    from simsage.transport.s3_endpoint import S3Endpoint

    home = Path(home)
    with records.locked(home):
        record = records.read(home)
        if records.is_live(record):
            announce(f"simsage: an S3 endpoint already serves {home} at {record['url']}")
            return 1
        server = S3Endpoint(_config(home), port=port)
        records.write(
            home,
            {
                **records.me(),
                "url": server.url,
                "port": server.server_address[1],
                "state": records.SERVING,
                "foreground": True,
                "users": [],
                "started": time.time(),
            },
        )
    from simsage.transport.local_keys import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    announce(f"simsage: S3 endpoint for {home} at {server.url} (Ctrl-C stops it)")
    announce(f"export AWS_ENDPOINT_URL_S3={server.url}")
    announce(f"export AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY}")
    announce(f"export AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_KEY}")
    stop = threading.Event()
    _on_signals(stop)
    try:
        run(server, home, stop, watch=False)
    finally:
        with records.locked(home):
            current = records.read(home)
            if current is not None and current.get("pid") == os.getpid():
                records.remove(home)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simsage.transport.endpoint_process")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket")
    args = parser.parse_args(argv)
    from simsage.transport.s3_endpoint import S3Endpoint

    stop = threading.Event()
    _on_signals(stop)
    sock = socket.socket(fileno=args.fd)
    server = S3Endpoint(_config(args.home), sock=sock)
    run(server, args.home, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
