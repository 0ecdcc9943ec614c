"""simsage.runtime.job: the job-process template every job kind runs on (lease, failure
of a runner bug, cleanup, stop requests), the SIGTERM-grace-SIGKILL shutdown, failure
reasons and log lines."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.runtime import launcher
from simsage.runtime.job import JobProcess, Shutdown, failure_reason, ship_output


@pytest.fixture
def home(tmp_path):
    opened = Home(load_config({"SIMSAGE_HOME": str(tmp_path / "home")}))
    yield opened
    opened.close()


class Recorder(JobProcess):
    """A job kind whose work is a function; it records what the template asked of it."""

    kind = "test job"
    log_group = "/test/jobs"

    def __init__(self, home, folder, work=lambda job: None, status="InProgress"):
        super().__init__(home, "job-1", folder)
        self._work = work
        self._status = status
        self.calls: list[tuple] = []

    def work(self):
        self.calls.append(("work",))
        self._work(self)

    def status(self):
        self.calls.append(("status",))
        return self._status

    def fail(self, reason):
        self.calls.append(("fail", reason))

    def cleanup(self):
        self.calls.append(("cleanup",))


def test_a_runner_bug_fails_the_job_with_an_internal_error_and_still_cleans_up(home, tmp_path):
    def boom(job):
        raise RuntimeError("boom")

    job = Recorder(home, tmp_path, boom)
    job.run()
    assert job.calls == [("work",), ("fail", "InternalServerError: boom"), ("cleanup",)]
    # The lease is released: the job no longer looks alive to the API.
    assert not launcher.runner_alive(tmp_path, None, time.time())


def test_the_lease_is_held_while_the_job_works(home, tmp_path):
    seen = []
    job = Recorder(
        home, tmp_path, lambda job: seen.append(launcher.runner_alive(tmp_path, None, 0))
    )
    job.run()
    assert seen == [True]


def test_an_exclusive_kind_leaves_at_once_when_another_runner_holds_the_job(home, tmp_path):
    class Exclusive(Recorder):
        exclusive = True

    inside, release = threading.Event(), threading.Event()
    first = Exclusive(home, tmp_path, lambda job: (inside.set(), release.wait(10)))
    thread = threading.Thread(target=first.run)
    thread.start()
    assert inside.wait(10)
    second = Exclusive(home, tmp_path)
    second.run()
    assert second.calls == []  # no work, no cleanup: the first runner keeps the job
    release.set()
    thread.join(10)


def test_a_job_that_is_gone_runs_nothing(home):
    job = Recorder(home, None)
    job.run()
    assert job.calls == []


def test_stop_requests_are_read_at_most_every_quarter_second_and_stick(home, tmp_path):
    job = Recorder(home, tmp_path, status="InProgress")
    assert not job.stop_requested(now=100.0)
    job._status = "Stopping"
    assert not job.stop_requested(now=100.1)  # not read again yet
    assert job.stop_requested(now=100.3)
    job._status = "InProgress"
    assert job.stop_requested(now=200.0)
    assert job.calls.count(("status",)) == 2


def test_shutdown_sends_sigterm_once_then_sigkill_after_the_grace():
    sent = []
    shutdown = Shutdown(sent.append)
    shutdown.tick(now=0.0)
    shutdown.begin(grace=10.0, now=1.0)
    shutdown.begin(grace=10.0, now=2.0)
    shutdown.tick(now=10.9)
    assert sent == [signal.SIGTERM]
    shutdown.tick(now=11.0)
    shutdown.tick(now=12.0)
    assert sent == [signal.SIGTERM, signal.SIGKILL]


def test_failure_reasons_keep_their_kind_or_get_the_default():
    assert failure_reason("ClientError: bad channel") == "ClientError: bad channel"
    assert failure_reason("it broke") == "AlgorithmError: it broke"
    assert failure_reason("it broke", "InternalServerError") == "InternalServerError: it broke"
    assert failure_reason("x" * 3000) == "AlgorithmError: " + "x" * 1024


def test_output_lines_are_shipped_as_the_log_agent_writes_them():
    lines = []
    ship_output([b"a\tb\r\n", b"\xff tail\n", b"last"], lambda line, ts: lines.append(line))
    assert lines == ["a#011b", "\ufffd tail", "last"]
