"""The job process: what every detached job runner shares, whatever the job's kind.

Layer: runtime. A job kind (training, transform, the endpoint supervisor; processing,
tuning and pipelines next) is an API module that inserts the job's row and calls
:func:`simsage.runtime.launcher.launch`, plus one subclass of :class:`JobProcess` run
as ``python -m <its module> <home> <name>``. The base gives it:

- **the runner's life** (:meth:`JobProcess.main`, :meth:`JobProcess.run`): the home
  opened from the command line, the lease taken, the kind's :meth:`~JobProcess.work`
  run, anything unexpected turned into a Failed job with an ``InternalServerError:``
  reason, the kind's :meth:`~JobProcess.cleanup` always run, the lease released last;
- **the lease**: ``runner.lock`` in the job folder, held exclusively for the runner's
  whole life, so liveness (:func:`simsage.runtime.launcher.runner_alive`) is the lock's
  state, never a pid that could be reused;
- **stop and MaxRuntime**: :meth:`JobProcess.stop_requested` reads the registry (the
  status the API sets: ``Stopping``) at most every :data:`STOP_CHECK_EVERY` seconds;
  :class:`Shutdown` ends the job's processes the way SageMaker does (SIGTERM to each
  process tree, :func:`stop_grace` seconds, then SIGKILL) without blocking the loop that
  keeps shipping logs meanwhile;
- **failure reasons**: :func:`failure_reason` keeps a report that names its kind
  (``ClientError:``, ``AlgorithmError:`` …) and prefixes one that does not (the
  report's first 1024 characters, FailureReason's limit); :func:`clip` bounds a reason;
- **log shipping**: :attr:`JobProcess.log_lines` buffers lines for the kind's
  CloudWatch Logs group (:attr:`JobProcess.log_group`); :func:`ship_output` reads a
  process's output as SageMaker's log agent does (tabs as ``#011``); metrics come from
  those lines through :class:`simsage.runtime.metrics.MetricReader`.

Status names are SageMaker's: a job is ``InProgress`` until it is ``Completed`` or
``Failed``; StopXxxJob (or MaxRuntimeInSeconds) makes it ``Stopping`` and then
``Stopped``. Each kind moves its own row with its store (the rows differ: training has
SecondaryStatus, transform does not); the base only reads the status.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from simsage.runtime import launcher

STOPPING = "Stopping"
ACTIVE = ("InProgress", STOPPING)  # the statuses a runner may still move a job from
STOP_CHECK_EVERY = 0.25  # seconds between two reads of the registry for a stop request
FAILURE_LIMIT = 1024  # FailureReason's length limit in the service model
# A failure report that already names its kind keeps it (the XGBoost container reports
# user errors as ClientError); anything else gets the kind the caller gives.
_ERROR_TYPE = re.compile(r"^(ClientError|AlgorithmError|InternalServerError|CapacityError): ")


def stop_grace() -> float:
    """Seconds between SIGTERM and SIGKILL when a job is stopped (SageMaker waits 120 s;
    ``SIMSAGE_STOP_GRACE_SECONDS`` changes it)."""
    return float(os.environ.get("SIMSAGE_STOP_GRACE_SECONDS", "120"))


def failure_reason(text: str, kind: str = "AlgorithmError") -> str:
    """A FailureReason from a report (its first 1024 characters): kept when it names
    its kind, else prefixed with ``kind``."""
    text = text[:FAILURE_LIMIT]
    return text if _ERROR_TYPE.match(text) else f"{kind}: {text}"


def clip(reason: str) -> str:
    """``reason`` within FailureReason's 1024 characters."""
    return reason[:FAILURE_LIMIT]


def ship_output(pipe: Iterable[bytes], on_line: Callable[[str, float], None]) -> None:
    """Read a process's output to its end and hand each line to ``on_line(line, time)``,
    decoded (undecodable bytes replaced) and with tabs shown as ``#011``, as
    SageMaker's log agent writes them to CloudWatch Logs."""
    for raw in pipe:
        line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\t", "#011")
        on_line(line, time.time())


class Shutdown:
    """Ending a job's processes as SageMaker does: SIGTERM to all of them, then SIGKILL
    to what is left once the grace period is over. Driven from the runner's supervising
    loop (:meth:`begin` once, :meth:`tick` on every turn), so logs keep flowing while
    the processes shut down.

    ``signal_all(sig)`` sends ``sig`` to every process (tree) of the job still running;
    ``first`` is the signal that asks them to stop (SIGTERM for training, SIGINT for
    processing containers, as SageMaker sends them).
    """

    def __init__(self, signal_all: Callable[[int], None], first: int = signal.SIGTERM) -> None:
        self._signal_all = signal_all
        self._first = first
        self.begun = False
        self._kill_at: float | None = None

    def begin(self, grace: float, now: float | None = None) -> None:
        """The first signal now (only the first call does anything), SIGKILL after
        ``grace``."""
        if self.begun:
            return
        self.begun = True
        self._signal_all(self._first)
        self._kill_at = (time.time() if now is None else now) + grace

    def tick(self, now: float | None = None) -> None:
        """SIGKILL what is left once the grace period is over."""
        if self._kill_at is not None and (time.time() if now is None else now) >= self._kill_at:
            self._kill_at = None
            self._signal_all(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL everything at once (the runner is ending)."""
        self._kill_at = None
        self._signal_all(signal.SIGKILL)


class JobProcess:
    """The detached runner of one job. A kind subclasses it and fills in the hooks:

    - ``__init__(home, name)``: read the job's row; set :attr:`folder` (None: the job
      is gone, and the runner leaves at once) and call ``super().__init__``;
    - :meth:`work`: the job itself, ending with the kind's final transition;
    - :meth:`status`: the job's status as the registry has it now;
    - :meth:`fail`: record a failure (``Failed`` with the reason, as the kind's row
      has it);
    - :meth:`release_instances` (optional): end the job's instances (host processes,
      containers, networks). A kind calls it before writing its terminal status, so a
      job that reads ``Completed``/``Failed``/``Stopped`` has nothing of it left running
      or left on a Docker engine (as on AWS, whose instances are released before the
      status is final); :meth:`cleanup` calls it again, so it must be idempotent;
    - :meth:`cleanup` (optional): end whatever the job started; always run.

    Class attributes: :attr:`kind` names the runner in messages; :attr:`exclusive`
    makes a second runner of the same job leave at once instead of waiting for the
    lease (endpoint supervisors: the first keeps the endpoint); :attr:`records_signals`
    makes the runner record a catchable signal that ends it in ``runner.exit``.
    """

    kind = "job"
    log_group = ""  # the CloudWatch Logs group of the kind's containers
    exclusive = False
    records_signals = True

    def __init__(self, home, name: str, folder: Path | None, log_group: str | None = None) -> None:
        from simsage.logs.store import LogBuffer, LogStore  # the logs service's store

        self.home = home
        self.name = name
        self.folder = folder
        self.logs = LogStore(home)
        self.log_lines = LogBuffer(self.logs, log_group or self.log_group)
        self._next_stop_check = 0.0
        self._stop_seen = False

    # -- the runner's life ---------------------------------------------------------------

    @classmethod
    def main(cls, argv: list[str]) -> int:
        """``python -m <module> <home> <name>``: open the home and run the job."""
        from simsage.config import load_config
        from simsage.home import Home

        # runner.log is a file: line-buffered, so a runner that dies has said what it did.
        sys.stdout.reconfigure(line_buffering=True)
        home_path, name = argv[1], argv[2]
        home = Home.open(load_config().with_overrides(home=home_path, backend="local"))
        runner = cls(home, name)
        if cls.records_signals and runner.folder is not None:
            launcher.record_how_it_ends(runner.folder)
        runner.run()
        return 0

    def run(self) -> None:
        """Take the lease, do the work, clean up, release the lease (in that order)."""
        if self.folder is None:
            return
        lease = launcher.hold_lock(self.folder, wait=not self.exclusive)
        if lease is None:
            return  # another runner holds this job
        try:
            self.work()
        except Exception as exc:  # anything unexpected fails the job, with a reason
            self.failed_unexpectedly(exc)
        finally:
            try:
                self.cleanup()
            finally:
                lease.close()

    # -- hooks -------------------------------------------------------------------------

    def work(self) -> None:
        raise NotImplementedError

    def status(self) -> str | None:
        raise NotImplementedError

    def fail(self, reason: str) -> None:
        raise NotImplementedError

    def release_instances(self) -> None:
        """End the job's instances; idempotent (see the class docstring)."""

    def cleanup(self) -> None:
        """End what the job started (called once, however the work ended)."""
        self.release_instances()

    def failed_unexpectedly(self, exc: Exception) -> None:
        """A bug in the runner: its traceback goes to runner.log, the job fails with an
        InternalServerError (a kind that should rather crash and be restarted, like the
        endpoint supervisor, re-raises)."""
        traceback.print_exc()
        self.fail(clip(f"InternalServerError: {exc}"))

    # -- stop requests -------------------------------------------------------------------

    def stopping(self) -> bool:
        """Whether the job is being stopped (read from the registry now)."""
        return self.status() == STOPPING

    def stop_requested(self, now: float | None = None) -> bool:
        """:meth:`stopping`, read at most every :data:`STOP_CHECK_EVERY` seconds (for
        loops that turn faster); once seen, it stays true."""
        if self._stop_seen:
            return True
        now = time.time() if now is None else now
        if now >= self._next_stop_check:
            self._next_stop_check = now + STOP_CHECK_EVERY
            self._stop_seen = self.stopping()
        return self._stop_seen
