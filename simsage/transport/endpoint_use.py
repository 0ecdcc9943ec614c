"""Using a home's S3 endpoint from an activating process: started lazily, shared, stopped
by its last user.

Layer: transport. :func:`simsage.transport.activation.activate` calls :func:`use` and
:func:`release`; the record and its lock are :mod:`simsage.transport.endpoint_record`'s.

Lazy start, cheap activation: when no live endpoint serves the home, :func:`use` binds a
listening socket on 127.0.0.1:0 in this process (microseconds), writes a ``pending``
record naming it, and starts a daemon thread that waits (``select``) for the first
connection. Only then does it spawn the server (``python -m
simsage.transport.endpoint_process --fd N``, its own session, the socket handed over with
``pass_fds``); connections queued meanwhile are served once it has started. A process
that never uses a non-boto3 client never pays for a server process.

Sharing: every activating process adds itself to the record's users. Activations of the
same home nest within a process (a count). When the last activation of a process ends,
it leaves the users; the last user overall stops the endpoint (SIGTERM: the server
drains the requests in flight and exits) and removes the record. A pending endpoint
whose holder leaves while other users remain is handed over first (the server is
spawned), so they keep a working port. A process that exits without deactivating
leaves through ``atexit``; one that is killed is noticed by the server
(:mod:`simsage.transport.endpoint_process`), which exits once every user is dead and
it has been idle a few seconds. A forked child does not inherit its parent's use.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from simsage.runtime import processes
from simsage.runtime.netns_relay import ContainerAccess
from simsage.runtime.python import child_environment, module_command
from simsage.transport import endpoint_record as records
from simsage.transport.local_keys import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

SERVER_MODULE = "simsage.transport.endpoint_process"
STOP_GRACE = 30.0  # seconds the server may take to drain before it is killed
# Variables the server must not inherit from an activated parent (it answers S3 itself).
_NOT_INHERITED = ("AWS_ENDPOINT_URL_S3", "SIMSAGE_CHECK_OUTPUT")

log = logging.getLogger("simsage.transport.endpoint")


@dataclass
class _Use:
    """This process's use of one home's endpoint."""

    home: Path
    url: str
    port: int
    count: int = 1
    sock: socket.socket | None = None  # the pending listening socket, while we hold it
    wake: tuple[int, int] | None = None  # a pipe that wakes the waiting thread
    server: subprocess.Popen | None = None  # the server, if this process spawned it
    threads: list[threading.Thread] = field(default_factory=list)


_lock = threading.RLock()
_uses: dict[Path, _Use] = {}
_job_urls: dict[Path, str] = {}  # job_environment's use, one per home for the process


def use(home: Path) -> str | None:
    """Start using the endpoint of ``home``: the running one, or a new pending one.

    Returns:
        Its URL, ``http://127.0.0.1:PORT``; or None, with a warning logged, when the
        home's endpoint record cannot be kept (a read-only home, an ``s3-endpoint`` that
        is not a folder): no endpoint is used then, and nothing is left to release.
    """
    home = Path(home)
    with _lock:
        current = _uses.get(home)
        if current is not None:
            current.count += 1
            return current.url
        try:
            with records.locked(home):
                record = records.read(home)
                if records.is_live(record):
                    users = records.live_users(record, leaving=os.getpid())
                    record["users"] = [*users, records.me()]
                    records.write(home, record)
                    current = _Use(home, record["url"], record["port"])
                else:
                    current = _bind(home)
        except OSError as exc:
            # Without its record no other process could find, share or stop the endpoint.
            log.warning(
                "The S3 endpoint's record cannot be written in %s (%s), so simsage runs "
                "without its S3 endpoint: clients that do not go through boto3 in this "
                "process (pandas s3://, s3fs, pyarrow, the AWS CLI, subprocesses) will not "
                "reach simsage, and AWS_ENDPOINT_URL_S3 is left as it was. boto3 clients are "
                "still answered by simsage.",
                records.folder(home),
                exc,
            )
            return None
        _uses[home] = current
        return current.url


def release(home: Path) -> None:
    """End one :func:`use` of ``home``; the last use of this process leaves the
    endpoint, and the last user overall stops it."""
    home = Path(home)
    with _lock:
        current = _uses.get(home)
        if current is None:
            return
        current.count -= 1
        if current.count > 0:
            return
        del _uses[home]
        _leave(current)


def stop(home: Path) -> None:
    """Stop the endpoint of ``home`` whoever uses it (a test's teardown), unless it is a
    ``simsage serve`` in the foreground. This process's uses of it end."""
    home = Path(home)
    with _lock:
        current = _uses.pop(home, None)
        _job_urls.pop(home, None)
        with records.locked(home):
            record = records.read(home)
            if current is not None:
                _close_pending(current)
            if record is not None and not record.get("foreground"):
                records.remove(home)
                _end_server(record, current)


def url_of(home: Path) -> str | None:
    """The URL this process uses for ``home``'s endpoint, if it uses one."""
    current = _uses.get(Path(home))
    return None if current is None else current.url


def container_access(home: Path, region: str) -> ContainerAccess:
    """What a job's containers need to reach the S3 endpoint of ``home``: its port (the
    job runner relays each container's own 127.0.0.1 to it,
    :class:`simsage.runtime.netns_relay.ContainerRelay`), the variables their environment
    gets (``AWS_ENDPOINT_URL_S3``, simsage's local keys, the job's region as
    ``AWS_REGION`` and ``AWS_DEFAULT_REGION``, as SageMaker sets them), and ``release``.

    The runner becomes one of the endpoint's users (:func:`use`) until ``release``: the
    endpoint outlives a notebook that started a job and exited while the job runs.

    Raises:
        OSError: the home's endpoint record cannot be kept (a read-only home); the
            DockerEngine logs it and runs the containers without S3.
    """
    url = use(home)
    if url is None:
        raise OSError(f"the S3 endpoint's record cannot be written in {records.folder(home)}")
    port = int(url.rsplit(":", 1)[1])
    environment = container_access_variables(url, region)
    released = threading.Event()

    def done() -> None:
        if not released.is_set():
            released.set()
            release(home)

    return ContainerAccess(port, environment, done)


def job_environment(home: Path, region: str) -> dict[str, str]:
    """The S3 variables for the host processes of a job (simsage's own images run their
    hosts as processes on this machine, which reach the endpoint's 127.0.0.1 directly):
    :func:`container_access`'s, taken once per process. A runner is one job's process, so
    it stays one of the endpoint's users until it exits (``atexit`` leaves). A home
    whose endpoint cannot be used (e.g. read-only) gives none: the job runs without S3
    from inside, as it did before the endpoint existed."""
    home = Path(home)
    with _lock:
        url = _job_urls.get(home)
        if url is None:
            url = use(home)  # None (and a warning logged) when the record cannot be kept
            if url is None:
                return {}
            _job_urls[home] = url
    return container_access_variables(url, region)


def container_access_variables(url: str, region: str) -> dict[str, str]:
    """What a client needs to reach the endpoint at ``url``: ``AWS_ENDPOINT_URL_S3``,
    simsage's local keys and ``region`` as ``AWS_REGION`` and ``AWS_DEFAULT_REGION``."""
    return {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def _bind(home: Path) -> _Use:
    """A new pending endpoint held by this process (called under the home's lock)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    current = _Use(home, f"http://127.0.0.1:{port}", port, sock=sock, wake=os.pipe())
    record = {
        **records.me(),
        "url": current.url,
        "port": port,
        "state": records.PENDING,
        "foreground": False,
        "users": [records.me()],
        "started": time.time(),
    }
    try:
        records.write(home, record)
    except OSError:
        _close_pending(current)
        raise
    waiter = threading.Thread(
        target=_wait_first_connection, args=(current,), name=f"s3-endpoint-{port}", daemon=True
    )
    current.threads.append(waiter)
    waiter.start()
    return current


def _wait_first_connection(current: _Use) -> None:
    sock, wake = current.sock, current.wake
    if sock is None or wake is None:
        return
    try:
        ready, _, _ = select.select([sock, wake[0]], [], [])
    except (OSError, ValueError):  # closed under us: the use ended
        return
    if sock not in ready:
        return
    with _lock:
        if current.sock is None:  # released meanwhile
            return
        with records.locked(current.home):
            record = records.read(current.home)
            if record is None or record.get("port") != current.port:
                return  # replaced: someone else serves the home now
            _spawn(current, record)


def _spawn(current: _Use, record: dict) -> None:
    """Hand the pending socket to a new server process (called under both locks)."""
    assert current.sock is not None
    env = child_environment()
    for name in _NOT_INHERITED:
        env.pop(name, None)
    fd = current.sock.fileno()
    log_path = records.folder(current.home) / records.LOG_NAME
    with open(log_path, "ab") as output:
        server = subprocess.Popen(
            module_command(SERVER_MODULE, "--home", str(current.home), "--fd", str(fd)),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(fd,),
            env=env,
        )
    record.update(
        pid=server.pid, create_time=processes.create_time(server.pid), state=records.SERVING
    )
    records.write(current.home, record)
    current.server = server
    _close_pending(current)
    # Reap it when it ends, so it never lingers as a zombie of this process.
    reaper = threading.Thread(target=server.wait, name=f"reap-{server.pid}", daemon=True)
    current.threads.append(reaper)
    reaper.start()


def _close_pending(current: _Use) -> None:
    if current.wake is not None:
        with contextlib.suppress(OSError):
            os.write(current.wake[1], b"x")
    if current.sock is not None:
        current.sock.close()
        current.sock = None
    if current.wake is not None:
        for descriptor in current.wake:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        current.wake = None


def _leave(current: _Use) -> None:
    """This process stops using the endpoint (called under ``_lock``)."""
    with records.locked(current.home):
        record = records.read(current.home)
        if record is None or record.get("port") != current.port:
            _close_pending(current)  # ours was replaced: nothing of the record is ours
            return
        others = records.live_users(record, leaving=os.getpid())
        record["users"] = others
        if others or record.get("foreground"):
            if current.sock is not None:
                _spawn(current, record)  # hand over: they keep using the port
            else:
                records.write(current.home, record)
            return
        records.remove(current.home)
        _close_pending(current)
        if record.get("state") == records.SERVING:
            _end_server(record, current)


def _end_server(record: dict, current: _Use | None) -> None:
    """SIGTERM the server ``record`` names and wait until it has drained and exited."""
    if record.get("state") != records.SERVING:
        return
    server = current.server if current is not None else None
    if server is not None and server.pid == record.get("pid"):
        with contextlib.suppress(OSError):
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return
    processes.terminate_tree(record.get("pid"), STOP_GRACE, group=False)


def _leave_all() -> None:
    """At exit: leave every endpoint this process still uses."""
    with _lock:
        for home in list(_uses):
            current = _uses.pop(home)
            with contextlib.suppress(Exception):
                _leave(current)


def _forget_in_child() -> None:
    """In a forked child: the parent's uses (and their sockets) are not the child's."""
    global _lock
    _lock = threading.RLock()
    for current in _uses.values():
        if current.sock is not None:
            with contextlib.suppress(OSError):
                current.sock.close()
        if current.wake is not None:
            for descriptor in current.wake:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
    _uses.clear()
    _job_urls.clear()


atexit.register(_leave_all)
os.register_at_fork(after_in_child=_forget_in_child)
