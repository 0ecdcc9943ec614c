"""simsage.runtime.processes: liveness that a reused pid cannot fool, and ending a whole
process tree (SIGTERM, grace, SIGKILL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from simsage.runtime import launcher, processes


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def spawn():
    """Start detached helper processes (own session); kill what is left afterwards."""
    started: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        processes.kill_tree(process.pid)
        process.wait(10)


PARENT_OF_SLEEPER = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_alive_refuses_a_process_started_after_the_recorded_one(spawn):
    before = time.time() - 10  # "recorded" well before this process started
    process = spawn("import time; time.sleep(60)")
    assert processes.alive(process.pid)
    assert processes.alive(process.pid, started_by=time.time())
    # A pid recorded 10 s before this process existed was another process's.
    assert not processes.alive(process.pid, started_by=before)
    created = processes.create_time(process.pid)
    assert processes.alive(process.pid, created=created)
    assert not processes.alive(process.pid, created=created - 5)


def test_kill_tree_ends_the_process_and_its_descendants(spawn):
    parent = spawn(PARENT_OF_SLEEPER)
    child = int(parent.stdout.readline())
    assert processes.alive(child)
    processes.kill_tree(parent.pid)
    parent.wait(10)
    _wait(lambda: not processes.alive(child))


def test_a_reused_pid_is_never_signalled(spawn):
    victim = spawn("import time; time.sleep(60)")
    processes.kill_tree(victim.pid, started_by=time.time() - 10)
    time.sleep(0.2)
    assert victim.poll() is None  # not the process recorded: left alone


def test_terminate_tree_gives_a_grace_period_then_kills(spawn):
    polite = spawn("import time; time.sleep(60)")
    assert processes.terminate_tree(polite.pid, grace=5.0) is True
    stubborn = spawn(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    stubborn.stdout.readline()
    assert processes.terminate_tree(stubborn.pid, grace=0.3) is False
    _wait(lambda: stubborn.poll() is not None)
    assert stubborn.returncode == -9


def test_kill_runner_leaves_a_process_that_is_not_the_recorded_runner(tmp_path, spawn):
    other = spawn("import time; time.sleep(60)")
    created = processes.create_time(other.pid)
    (tmp_path / launcher.START_NAME).write_text(
        json.dumps({"pid": other.pid, "create_time": created - 100})
    )
    launcher.kill_runner(tmp_path, other.pid)
    time.sleep(0.2)
    assert other.poll() is None
    (tmp_path / launcher.START_NAME).write_text(
        json.dumps({"pid": other.pid, "create_time": created})
    )
    launcher.kill_runner(tmp_path, other.pid)
    _wait(lambda: other.poll() is not None)


def test_a_process_that_ended_unreaped_is_alive_but_not_running(spawn):
    process = spawn("pass")
    _wait(lambda: not processes.running(process.pid))
    assert processes.alive(process.pid)  # a zombie: its pid is still taken
    process.wait(10)
    assert not processes.alive(process.pid)
