"""Instance metrics: CPUUtilization and MemoryUtilization of the real processes.

Layer: runtime, shared by the training and processing runners and the endpoint
supervisor, over the ``cloudwatch`` concept's store (as the job process writes the logs
store).

As SageMaker defines them for an instance (a host of a job, an endpoint instance):
``CPUUtilization`` is the sum over cores of the container's utilization (0–100 % per
core, so up to 100 × cores), ``MemoryUtilization`` the share of the machine's memory its
processes use (0–100 %), both in ``Percent``. Here the container is the process tree
simsage started for the host or instance (its resident memory; CPU from psutil's
per-process accounting since the previous sample), sampled at most every
:data:`SAMPLE_EVERY` seconds and written at once. A process seen for the first time has
no CPU figure yet, so a tree's first sample publishes memory only. Containers run by a
Docker engine have no local process tree and publish nothing.
"""

from __future__ import annotations

import time

from simsage.store.metrics import MetricBuffer, MetricStore

SAMPLE_EVERY = 5.0


class InstanceUsage:
    """Samples process trees and publishes their utilization in ``namespace``."""

    def __init__(self, home, namespace: str) -> None:
        self.namespace = namespace
        self.buffer = MetricBuffer(MetricStore(home))
        self._processes: dict[int, object] = {}  # pid -> psutil.Process (keeps CPU state)
        self._next = 0.0

    def sample(self, trees: list[tuple[int, dict[str, str]]], force: bool = False) -> None:
        """Publish the utilization of each ``(root pid, dimensions)`` tree (at most every
        SAMPLE_EVERY seconds unless ``force``). Never raises: metrics must not take down
        what they measure."""
        now = time.time()
        if not trees or (now < self._next and not force):
            return
        self._next = now + SAMPLE_EVERY
        try:
            import psutil  # imported on first use: runners start without it

            total_memory = psutil.virtual_memory().total
            seen: set[int] = set()
            for pid, dimensions in trees:
                figures = self._tree(psutil, pid, seen)
                if figures is None:
                    continue
                cpu, rss = figures
                if cpu is not None:
                    self.buffer.add(
                        self.namespace, "CPUUtilization", dimensions, cpu, now, "Percent"
                    )
                memory = 100.0 * rss / total_memory
                self.buffer.add(
                    self.namespace, "MemoryUtilization", dimensions, memory, now, "Percent"
                )
            for gone in set(self._processes) - seen:
                del self._processes[gone]
            self.buffer.flush_quietly()
        except Exception as exc:  # psutil missing or the store busy: skip this sample
            print(f"simsage: sampling instance metrics failed: {exc}", flush=True)

    def _tree(self, psutil, pid: int, seen: set[int]) -> tuple[float | None, int] | None:
        """(CPU % summed over the tree, None on its first sample; resident bytes)."""
        try:
            root = psutil.Process(pid)
            members = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        cpu, rss, measured = 0.0, 0, False
        for member in members:
            kept = self._processes.get(member.pid)
            try:
                if kept is None or kept.create_time() != member.create_time():
                    kept = self._processes[member.pid] = member
                    kept.cpu_percent(None)  # the first call starts the measurement
                else:
                    cpu += kept.cpu_percent(None)
                    measured = True
                rss += kept.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            seen.add(member.pid)
        return (cpu if measured else None), rss
