"""simsage.runtime.launcher: a runner that ends is reaped by its launcher, which records
how it ended; the FailureReason says the signal or exit code and the last log lines."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from simsage.runtime import launcher


def _wait_gone(folder, pid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while launcher.runner_alive(folder, pid, time.time() - 60):
        assert time.monotonic() < deadline, "the runner did not end"
        time.sleep(0.02)


@pytest.fixture
def runner_module(tmp_path, monkeypatch):
    """A tiny runner module (``python -m fake_runner <home> <name>``) that takes the
    lock, prints, then does what its name says."""
    package = tmp_path / "mods"
    package.mkdir()
    (package / "fake_runner.py").write_text(
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from simsage.runtime import launcher\n"
        "folder = Path(sys.argv[1])\n"
        "lock = launcher.hold_lock(folder)\n"
        "launcher.record_how_it_ends(folder)\n"
        "print('staging inputs', flush=True)\n"
        "print('about to end: ' + sys.argv[2], flush=True)\n"
        "what = sys.argv[2]\n"
        "if what == 'exit': sys.exit(3)\n"
        "if what == 'crash': os.abort()\n"
        "if what == 'term': os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(package), os.environ.get("PYTHONPATH")]))
    )
    return "fake_runner"


def test_a_killed_runner_is_reported_with_its_signal_and_log_tail(tmp_path, runner_module):
    folder = tmp_path / "job"
    pid = launcher.launch(runner_module, folder, "sleep", folder)
    while "about to end" not in (folder / "runner.log").read_text(errors="replace"):
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    _wait_gone(folder, pid)

    reason = launcher.runner_failure(folder, pid)
    assert reason.startswith(
        f"InternalServerError: the simsage job runner (pid {pid}) was killed by signal 9 "
        "(SIGKILL) before the job finished. Last lines of runner.log: staging inputs | "
        "about to end: sleep"
    )
    record = json.loads((folder / "runner.exit").read_text())
    assert record["pid"] == pid and record["returncode"] == -9 and record["by"] == "launcher"


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("exit", "exited with code 3"),
        ("term", "was killed by signal 15 (SIGTERM)"),
        ("crash", "was killed by signal 6 (SIGABRT)"),
    ],
)
def test_exit_codes_and_signals(tmp_path, runner_module, what, expected):
    folder = tmp_path / "job"
    pid = launcher.launch(runner_module, folder, what, folder)
    _wait_gone(folder, pid)
    reason = launcher.runner_failure(folder, pid)
    assert expected in reason
    assert len(reason) <= 1024
    if what == "crash":  # faulthandler left the Python traceback in the log
        assert "Fatal Python error: Aborted" in (folder / "runner.log").read_text()


def test_a_runner_nobody_reaped_has_an_unknown_status(tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "runner.log").write_text("line one\n\nline two\n")
    reason = launcher.runner_failure(folder, 424242)
    assert "(pid 424242) ended with an unknown exit status" in reason
    assert reason.endswith("Last lines of runner.log: line one | line two")
    # An earlier runner's record does not describe this one.
    (folder / "runner.exit").write_text(json.dumps({"pid": 1, "returncode": 0}))
    assert "unknown exit status" in launcher.runner_failure(folder, 424242)
    (folder / "runner.log").write_text("")
    assert launcher.runner_failure(folder, 424242).endswith(
        "runner.log in the job folder is empty."
    )


def test_a_long_log_tail_is_cut_to_fit_the_failure_reason(tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "runner.log").write_text("\n".join("x" * 400 + str(i) for i in range(10)) + "\n")
    reason = launcher.runner_failure(folder, 7)
    assert len(reason) == 1024
    assert reason.endswith("x9")


def test_describe_exit():
    assert launcher.describe_exit(0) == "exited with code 0"
    assert launcher.describe_exit(-signal.SIGSEGV) == "was killed by signal 11 (SIGSEGV)"
    assert launcher.describe_exit(-200) == "was killed by signal 200 (unknown signal)"
    assert "unknown exit status" in launcher.describe_exit(None)
