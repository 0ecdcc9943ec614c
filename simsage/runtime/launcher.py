"""Starting detached runners, telling whether they still run, and saying why one ended.

Layer: runtime, shared by every job kind's runner (:class:`simsage.runtime.job.JobProcess`)
and the API modules that start and describe them. A runner is ``python -m <module> <home> <name>`` in its own session, so it
outlives the process that created the job (as jobs do on AWS). Its folder holds:

- ``runner.lock``: the runner holds an exclusive lock on it for its whole life. The lock
  is free exactly when the runner is gone, whatever happened to it (even SIGKILL), and
  unlike a pid it cannot be reused.
- ``runner.log``: the runner's stdout and stderr (faulthandler included: a crash leaves
  its Python traceback there).
- ``runner.start``: the runner's pid and its creation time, as JSON ``{"pid",
  "create_time"}``, written at launch: a runner pid read back later is checked against
  it, so a reused pid is never taken for the runner (nor signalled as it).
- ``runner.exit``: how the runner ended, as JSON ``{"pid", "returncode", "by"}``. The
  process that launched the runner reaps it from a thread and writes it (``by``:
  ``"launcher"``); a runner killed by a catchable signal writes it itself first (``by``:
  ``"runner"``, see :func:`record_how_it_ends`). When neither could (the launcher was
  gone and the runner got SIGKILL), there is no record and :func:`runner_failure` says
  the status is unknown.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from simsage.runtime import docker_engine, processes
from simsage.runtime.python import child_environment, module_command

LOCK_NAME = "runner.lock"
LOG_NAME = "runner.log"
EXIT_NAME = "runner.exit"
START_NAME = "runner.start"
STARTUP_GRACE = 30.0  # seconds a new runner may take to take its lock
REAP_WAIT = 2.0  # seconds to wait for this process's own reaper to write the record
TAIL_LINES = 5
TAIL_BYTES = 8192
REASON_LIMIT = 1024  # FailureReason's length limit in the service model

# pid -> the thread that waits for it, for runners this process launched.
_reapers: dict[int, threading.Thread] = {}


def start_job(module: str, home, jobs, name: str, folder: Path) -> int:
    """Start the runner of job ``name`` of ``home``, just created in ``jobs`` (its kind's
    registry table), and record its pid in the row (``runner_pid``); returns the pid. A folder left
    by an earlier job of the same name (a reset registry) is cleared first."""
    if folder.exists():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    pid = launch(module, home.path, name, folder)
    jobs.update(name, runner_pid=pid)
    return pid


def fail_orphan(jobs, job, now: float) -> bool:
    """Fail ``job`` (a row of a :class:`~simsage.store.registry.JobTable`) if it should be
    running and its runner is gone, with the reason the runner left (:func:`runner_failure`),
    and end what the runner left running (:func:`end_leftovers`); False if it is finished,
    its runner lives, or it ended meanwhile."""
    folder = Path(job.job_dir)
    if job.finished or runner_alive(folder, job.runner_pid, job.created):
        return False
    failed = jobs.transition(
        job.name,
        "Failed",
        ("InProgress", "Stopping"),
        failure=runner_failure(folder, job.runner_pid),
        ended=now,
    )
    if failed:
        end_leftovers(folder, getattr(job, "host_pids", ()))
    return failed


def end_leftovers(folder: Path, host_pids=()) -> None:
    """End what a dead runner of the job in ``folder`` left running: its hosts' process
    trees (they run in sessions of their own, so nobody reads their output or stops them
    any more) and the containers and network it made on a Docker engine
    (:func:`simsage.runtime.docker_engine.remove_leftovers`; nothing is asked of an engine
    unless the runner made something there)."""
    for pid in host_pids:
        processes.kill_tree(pid)
    docker_engine.remove_leftovers(folder)


def launch(module: str, home: Path, name: str, folder: Path) -> int:
    """Start ``python -m <module> <home> <name>`` detached; returns its pid.

    Its output goes to ``folder/runner.log``; a thread of this process waits for it and
    records how it ended in ``folder/runner.exit``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).touch()
    (folder / EXIT_NAME).unlink(missing_ok=True)
    (folder / START_NAME).unlink(missing_ok=True)
    log = open(folder / LOG_NAME, "ab")  # noqa: SIM115 - handed to the child
    env = child_environment()
    env.pop("SIMSAGE_CHECK_OUTPUT", None)
    try:
        process = subprocess.Popen(
            module_command(module, str(home), name),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        log.close()
    _write_record(folder, START_NAME, {"pid": process.pid, "create_time": _birth(process.pid)})
    # Reap it when it ends (so it never lingers as a zombie) and say how it ended.
    reaper = threading.Thread(
        target=_reap, args=(process, folder), name=f"reap-{process.pid}", daemon=True
    )
    _reapers[process.pid] = reaper
    reaper.start()
    return process.pid


def _reap(process: subprocess.Popen, folder: Path) -> None:
    code = process.wait()
    _write_exit(folder, {"pid": process.pid, "returncode": code, "by": "launcher"})
    _reapers.pop(process.pid, None)  # the record is written: readers need not wait


def _birth(pid: int) -> float | None:
    return processes.create_time(pid)


def _write_exit(folder: Path, record: dict) -> None:
    _write_record(folder, EXIT_NAME, record)


def _write_record(folder: Path, name: str, record: dict) -> None:
    temporary = folder / f".{name}.{record['pid']}.tmp"
    with contextlib.suppress(OSError):  # the folder may be gone (a deleted endpoint)
        temporary.write_text(json.dumps({**record, "time": time.time()}))
        os.replace(temporary, folder / name)


def _read_record(folder: Path, name: str, pid: int | None) -> dict | None:
    try:
        record = json.loads((folder / name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or pid is None or record.get("pid") != pid:
        return None  # an earlier runner's record
    return record


def runner_created(folder: Path, pid: int | None) -> float | None:
    """The creation time recorded at launch for runner ``pid`` (None: no record)."""
    record = _read_record(folder, START_NAME, pid)
    created = record.get("create_time") if record else None
    return created if isinstance(created, (int, float)) else None


def hold_lock(folder: Path, wait: bool = True):
    """Take the runner lock (called by the runner itself at start); returns the open
    file, held until it is closed. With ``wait=False``, returns None at once when
    another process holds it."""
    handle = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def record_how_it_ends(folder: Path) -> None:
    """Set up, in a runner process's main thread, what :func:`runner_failure` reads:
    faulthandler writes a crash's Python traceback to the log, and SIGTERM, SIGHUP and
    SIGINT are recorded in ``runner.exit`` before they end the process as they would
    have (process-wide state: runners call it from ``main``, never from a library)."""
    faulthandler.enable()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: _die_of(folder, number))


def _die_of(folder: Path, number: int) -> None:
    _write_exit(folder, {"pid": os.getpid(), "returncode": -number, "by": "runner"})
    signal.signal(number, signal.SIG_DFL)
    signal.raise_signal(number)


def runner_alive(folder: Path, pid: int | None, created: float) -> bool:
    """Whether the runner of a job still runs (or is still starting)."""
    try:
        handle = open(folder / LOCK_NAME, "a+")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return (
        pid is not None
        and time.time() - created < STARTUP_GRACE
        and processes.alive(pid, created=runner_created(folder, pid))
    )


def kill_runner(folder: Path, pid: int | None) -> None:
    """SIGKILL a runner, what it started and its process group, unless ``pid`` is no
    longer that runner (see ``runner.start``)."""
    processes.kill_tree(pid, created=runner_created(folder, pid))


# -- why a runner ended ------------------------------------------------------------------


def exit_code(folder: Path, pid: int | None) -> int | None:
    """The recorded exit status of runner ``pid`` (negative: killed by that signal), or
    None when nobody recorded it."""
    reaper = _reapers.get(pid) if pid is not None else None
    if reaper is not None:
        reaper.join(REAP_WAIT)  # the lock is freed a moment before wait() returns
    record = _read_record(folder, EXIT_NAME, pid)
    if record is None:
        return None
    code = record.get("returncode")
    return code if isinstance(code, int) else None


def describe_exit(code: int | None) -> str:
    """How a process ended, as words: ``was killed by signal 9 (SIGKILL)``."""
    if code is None:
        return (
            "ended with an unknown exit status (the process that started it was gone, "
            "so nobody saw how it ended)"
        )
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-code} ({name})"
    return f"exited with code {code}"


def log_tail(folder: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last non-empty lines of ``runner.log``."""
    try:
        with open(folder / LOG_NAME, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - TAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]


def runner_failure(folder: Path, pid: int | None, what: str = "simsage job runner") -> str:
    """The FailureReason of a job whose runner ended before the job did: how it ended
    and the last lines of its log, within FailureReason's 1024 characters."""
    head = (
        f"InternalServerError: the {what} (pid {pid}) {describe_exit(exit_code(folder, pid))} "
        "before the job finished"
    )
    tail = " | ".join(log_tail(folder))
    if not tail:
        return f"{head}; {LOG_NAME} in the job folder is empty."
    room = REASON_LIMIT - len(head) - len(f". Last lines of {LOG_NAME}: ")
    if len(tail) > room:
        tail = "..." + tail[-(room - 3) :]
    return f"{head}. Last lines of {LOG_NAME}: {tail}"
