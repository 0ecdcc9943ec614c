"""The hosts of a job: starting every instance's container, shipping their output, and
supervising them to the end.

Layer: runtime, shared by the job kinds whose instances run a program to its end
(training, processing). A :class:`HostGroup` holds one :class:`Host` per instance
(``algo-1`` … ``algo-N``, each with its ``/opt/ml`` folder and CloudWatch Logs stream).
The job's runner starts them through a container launcher
(:mod:`simsage.runtime.containers`), then :meth:`HostGroup.supervise` turns until every
host has exited, doing what SageMaker does for every such job:

- a stop request (StopXxxJob) or ``MaxRuntimeInSeconds`` ends every host the way
  SageMaker does (SIGTERM — SIGINT for processing —, the grace period, SIGKILL: :class:`~simsage.runtime.job.Shutdown`);
- one host failing ends the others after :data:`FAILED_HOST_GRACE` seconds (a job with a
  failed host fails; the others would wait for it forever);
- the kind's periodic work (flushing logs, syncing checkpoints, uploading outputs) runs
  every few seconds while logs keep flowing.

Each host's output is read line by line by a thread of its own (:func:`ship_output`:
tabs as ``#011``), kept in a short tail for failure reasons, handed to the kind's line
hook (metrics) and buffered for the host's log stream.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.runtime import processes
from simsage.runtime.job import FAILURE_LIMIT, Shutdown, ship_output, stop_grace

POLL = 0.02  # seconds between two looks at the hosts
FAILED_HOST_GRACE = 5.0  # one host failed: the others get this long after SIGTERM
TAIL_LINES = 20
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
FAILED = "failed"  # internal stop reason: a host failed, the others are being ended


class Host:
    """One emulated instance: its name, its folder (the container's ``/opt/ml``), its
    process and what it printed last."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.process: Any = None  # a Popen, or a Docker container's process
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.stream = ""
        self.reader: threading.Thread | None = None
        self.leftovers_ended = False

    def exit_text(self) -> str:
        code = self.process.returncode
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def exit_report(self, prefix: str = "AlgorithmError: ") -> str:
        """``<prefix><last lines of output>, <exit code>`` within FailureReason's limit."""
        lines = [line for line in self.tail if line.strip()][-5:]
        detail = "\n".join(lines) if lines else "(no output)"
        exit_text = self.exit_text()
        room = FAILURE_LIMIT - len(f"{prefix}, {exit_text}")
        return f"{prefix}{detail[-room:]}, {exit_text}"


@dataclass
class Outcome:
    """How a job's hosts ended: ``stop`` is why they were stopped (``Stopped``,
    ``MaxRuntimeExceeded``, or the reason the kind's stop check gave), None if they ran
    to their end; ``failed`` is the first host that exited non-zero, if any."""

    stop: str | None
    failed: Host | None


class HostGroup:
    """The hosts of one job. ``log_lines`` is the runner's
    :class:`~simsage.logs.store.LogBuffer`; ``on_line(line, time, host name)``, if given,
    sees every line any host prints (metric matching), from that host's reader thread."""

    def __init__(self, hosts: list[Host], log_lines, on_line=None) -> None:
        self.hosts = hosts
        self.log_lines = log_lines
        self.on_line = on_line

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    @property
    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    def trees(self, job: str) -> list[tuple[int, dict[str, str]]]:
        """``(pid, {"Host": "<job>/<host>"})`` of every host still running as a local
        process (a Docker container has no local tree), for the instance metrics."""
        return [
            (host.process.pid, {"Host": f"{job}/{host.name}"})
            for host in self.hosts
            if isinstance(host.process, subprocess.Popen) and host.process.poll() is None
        ]

    def open_streams(self, logs, group: str, prefix: str, epoch: int) -> None:
        """Give each host its stream, ``<prefix>/<host>-<epoch>``, as SageMaker names them."""
        for host in self.hosts:
            host.stream = f"{prefix}/{host.name}-{epoch}"
            logs.ensure_stream(group, host.stream)

    def start(self, launcher, containers: Iterable) -> list[int]:
        """Start every host's container (in host order) with its output piped; returns
        the pids of the processes (none for Docker containers).

        Raises:
            simsage.runtime.containers.LaunchError: a command could not start.
            simsage.runtime.docker_engine.EngineError: the engine refused a container.
        """
        started = launcher.start_all(
            list(containers),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for host, process in zip(self.hosts, started, strict=True):
            host.process = process
        return [h.process.pid for h in self.hosts if getattr(h.process, "pid", None)]

    def read(self) -> None:
        """Start reading every host's output (their output waits in the pipes until then)."""
        for host in self.hosts:
            host.reader = threading.Thread(target=self._pump, args=(host,), daemon=True)
            host.reader.start()

    def _pump(self, host: Host) -> None:
        def take(line: str, now: float) -> None:
            host.tail.append(line)
            if self.on_line is not None:
                self.on_line(line, now, host.name)
            self.log_lines.add(host.stream, line, now)

        ship_output(host.process.stdout, take)
        host.process.stdout.close()

    def log(self, message: str) -> None:
        """A line for runner.log and the first host's log stream (the user sees it)."""
        print(message, flush=True)
        if self.hosts and self.hosts[0].stream:
            self.log_lines.add(self.hosts[0].stream, message)

    def end_leftovers(self, host: Host) -> None:
        """Kill what a host's program left running when it exited (a child it started
        and did not wait for): a container's processes end with its main process. Each
        host leads its own session, so its process group holds them; a container's
        engine does this itself."""
        if host.leftovers_ended or not isinstance(host.process, subprocess.Popen):
            return
        if host.process.poll() is None:
            return
        host.leftovers_ended = True
        processes.signal_group(host.process.pid, signal.SIGKILL)

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to every host still running (each host's process tree); with
        SIGKILL, what exited hosts left behind goes too."""
        for host in self.hosts:
            if host.process is None:
                continue
            if host.process.poll() is not None:
                if sig == signal.SIGKILL:
                    self.end_leftovers(host)
                continue
            if isinstance(host.process, subprocess.Popen):
                # Each host runs in its own session: its group holds all it started.
                processes.signal_tree(host.process.pid, sig)
            else:  # a container: the engine signals it
                host.process.send_signal(sig)

    def supervise(
        self,
        deadline: float,
        stop_check: Callable[[float], str | None],
        on_deadline: Callable[[], None],
        periodic: Callable[[], None],
        every: float,
        first_signal: int = signal.SIGTERM,
    ) -> Outcome:
        """Turn until every host has exited.

        Args:
            deadline: when MaxRuntimeInSeconds is over (epoch seconds): ``on_deadline()``
                is called once (the kind records ``Stopping``) and the hosts are stopped.
            stop_check: ``stop_check(now)`` gives the reason to stop (the job was asked to
                stop) or None.
            periodic: called every ``every`` seconds and once at the end, after the
                output readers are done (flush logs, sync checkpoints …).
            first_signal: what asks the hosts to stop before SIGKILL (SIGTERM; SIGINT
                for processing containers).
        """
        stop_reason: str | None = None
        shutdown = Shutdown(self.signal_all, first_signal)
        next_periodic = 0.0
        failed: Host | None = None
        while True:
            now = time.time()
            running = [h for h in self.hosts if h.process.poll() is None]
            for host in self.hosts:
                if failed is None and host.process.returncode not in (None, 0):
                    failed = host
                if host.process.returncode is not None:
                    self.end_leftovers(host)  # they would hold its output pipe open
            if not running:
                break
            if stop_reason is None:
                if now >= deadline:
                    stop_reason = MAX_RUNTIME_EXCEEDED
                    on_deadline()
                else:
                    stop_reason = stop_check(now)
                if stop_reason is None and failed is not None:
                    stop_reason = FAILED
                if stop_reason is not None:
                    shutdown.begin(
                        stop_grace() if stop_reason != FAILED else FAILED_HOST_GRACE, now
                    )
            shutdown.tick(now)
            if now >= next_periodic:
                next_periodic = now + every
                periodic()
            time.sleep(POLL)
        for host in self.hosts:
            if host.reader is not None:
                host.reader.join(timeout=5)
        periodic()
        return Outcome(stop_reason if stop_reason != FAILED else None, failed)
