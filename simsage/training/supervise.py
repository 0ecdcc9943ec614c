"""Starting job runners and telling whether they are still alive.

A runner is a detached process (its own session, so it outlives the process that
created the job, as jobs do on AWS). It holds an exclusive lock on ``runner.lock`` in
the job folder for its whole life: the lock is free exactly when the runner is gone,
whatever happened to it (even SIGKILL), and unlike a pid it cannot be reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from simsage.store.blobs import pid_alive

LOCK_NAME = "runner.lock"
STARTUP_GRACE = 30.0  # seconds a new runner may take to take its lock


def launch(module: str, home: Path, name: str, job_dir: Path) -> int:
    """Start ``python -m <module> <home> <name>`` detached; returns its pid."""
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / LOCK_NAME).touch()
    log = open(job_dir / "runner.log", "ab")  # noqa: SIM115 - handed to the child
    env = dict(os.environ)
    env.pop("SIMSAGE_CHECK_OUTPUT", None)
    # The runner must import simsage even when it is not installed (a checkout on
    # sys.path) and the creating process runs from another folder.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(home), name],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        log.close()
    # Reap it when it ends so it never lingers as a zombie while this process lives.
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


def hold_lock(job_dir: Path):
    """Take the runner lock (called by the runner itself); returns the open file."""
    handle = open(job_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held for the process's life
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def runner_alive(job_dir: Path, pid: int | None, created: float) -> bool:
    """Whether the runner of a job still runs (or is still starting)."""
    try:
        handle = open(job_dir / LOCK_NAME, "a+")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return pid is not None and time.time() - created < STARTUP_GRACE and pid_alive(pid)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process group led by ``pid`` (ignoring ones already gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_training_processes(home) -> None:
    """Kill the runners and algorithm processes of every unfinished job of ``home``
    (the pytest fixture calls this through Home.stop_everything)."""
    from simsage.training.jobs import TrainingJobStore

    for job in TrainingJobStore(home).unfinished():
        for pid in [job.runner_pid, *job.host_pids]:
            if pid:
                kill_group(pid)
