"""The record of a home's S3 endpoint: which process serves it, on which port, for whom.

Layer: transport (the HTTP endpoint's bookkeeping); standard library and psutil only.

One S3 endpoint serves a SIMSAGE_HOME at a time. Its record is
``$SIMSAGE_HOME/s3-endpoint/s3.json``, read and written only while holding an exclusive
``fcntl.flock`` on ``s3-endpoint/s3.lock``, so processes activating simsage at once agree
on one endpoint. Fields:

- ``url``, ``port``: where it listens (always 127.0.0.1);
- ``pid``, ``create_time``: the process holding the listening socket: the activating
  process while the endpoint is still ``pending`` (bound, no server process yet), the
  server once ``serving``. The creation time (psutil's) guards against a reused pid;
- ``state``: ``pending`` or ``serving``;
- ``foreground``: true for ``simsage serve`` (users never stop it);
- ``users``: the activating processes (``{"pid", "create_time"}``); the last one to
  leave stops the endpoint, and the server leaves by itself once all of them are dead;
- ``started``: wall-clock time the socket was bound.

A record whose process is gone (or is another process with the same pid), or whose
serving port no longer accepts connections, is stale: the next activation replaces it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simsage.runtime import processes

FOLDER = "s3-endpoint"
RECORD_NAME = "s3.json"
LOCK_NAME = "s3.lock"
LOG_NAME = "s3.log"
PENDING = "pending"
SERVING = "serving"
PROBE_TIMEOUT = 1.0  # seconds a serving endpoint may take to accept a probe connection

# flock excludes other open file descriptions, threads of this process included; this
# lock only keeps two threads of this process from opening the lock file at once.
_thread_lock = threading.RLock()


def folder(home: Path) -> Path:
    return Path(home) / FOLDER


@contextlib.contextmanager
def locked(home: Path) -> Iterator[None]:
    """Hold the home's endpoint lock (blocking) for the block."""
    path = folder(home)
    path.mkdir(parents=True, exist_ok=True)
    with _thread_lock:
        descriptor = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the flock


def read(home: Path) -> dict[str, Any] | None:
    """The record, or None when there is none or it cannot be read (then it is stale)."""
    try:
        data = json.loads((folder(home) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("port"), int) else None


def write(home: Path, record: dict[str, Any]) -> None:
    """Replace the record atomically (a reader sees the old or the new one)."""
    path = folder(home) / RECORD_NAME
    temporary = path.with_name(f".{RECORD_NAME}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(record, sort_keys=True))
    os.replace(temporary, path)


def remove(home: Path) -> None:
    (folder(home) / RECORD_NAME).unlink(missing_ok=True)


def me() -> dict[str, Any]:
    """This process as a user entry."""
    return {"pid": os.getpid(), "create_time": processes.create_time(os.getpid())}


def is_running(entry: dict[str, Any]) -> bool:
    """Whether the process an entry (``pid``, ``create_time``) names still runs (a
    zombie counts as ended)."""
    found = processes.process(entry.get("pid"), created=entry.get("create_time"))
    if found is None:
        return False
    with contextlib.suppress(Exception):
        return found.status() != "zombie"
    return False


def live_users(record: dict[str, Any], leaving: int | None = None) -> list[dict[str, Any]]:
    """The record's users that still run, without ``leaving`` (a pid)."""
    return [u for u in record.get("users", []) if u.get("pid") != leaving and is_running(u)]


def accepts(port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def is_live(record: dict[str, Any] | None) -> bool:
    """Whether ``record`` names an endpoint that still exists (see the module docstring).
    A pending endpoint is not probed: a connection is what makes it start its server."""
    if record is None or not is_running(record):
        return False
    return record.get("state") != SERVING or accepts(record["port"])
