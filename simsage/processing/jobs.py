"""Processing jobs in the registry: the request as given and the lifecycle state.

Status (ProcessingJobStatus), with SageMaker's names::

    InProgress → Completed | Failed
    InProgress → Stopping → Stopped       (StopProcessingJob, MaxRuntimeInSeconds)

A finished job never moves again (:meth:`ProcessingJobStore.transition` takes the
statuses it may leave). ``exit_message`` is the first 1 KB of the container's
``/opt/ml/output/message`` (ExitMessage), read in any terminal state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsage.store.db import register_schema
from simsage.store.registry import (
    JobTable,
    Kind,
    declare,
    job_name_taken,
    requested_not_found,
)

TERMINAL = ("Completed", "Failed", "Stopped")

register_schema(
    """
    CREATE TABLE IF NOT EXISTS processing_jobs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        spec TEXT NOT NULL, status TEXT NOT NULL, failure TEXT, exit_message TEXT,
        created REAL NOT NULL, started REAL, ended REAL, modified REAL NOT NULL,
        runner_pid INTEGER, host_pids TEXT NOT NULL, stop TEXT, job_dir TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS processing_jobs_by_created ON processing_jobs (created)
    """
)

PROCESSING_JOB = declare(
    Kind(
        "processing-job",
        "processing_jobs",
        job_name_taken("processing job"),
        requested_not_found,
    )
)


@dataclass
class ProcessingJob:
    """A processing job's row. ``spec`` is the CreateProcessingJob request (PascalCase,
    Tags left out); the rest is state."""

    name: str
    arn: str
    region: str
    spec: dict[str, Any]
    status: str
    failure: str | None
    exit_message: str | None
    created: float
    started: float | None
    ended: float | None
    modified: float
    runner_pid: int | None
    host_pids: list[int] = field(default_factory=list)
    stop: str | None = None  # why a stop was asked: "Stopped" or "MaxRuntimeExceeded"
    job_dir: str = ""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class ProcessingJobStore(JobTable[ProcessingJob]):
    """Reads and changes processing job rows of one home. The columns are the fields of
    :class:`ProcessingJob`, in order."""

    kind = PROCESSING_JOB
    record = ProcessingJob
    json_columns = frozenset({"spec", "host_pids"})


def stop_processing_processes(home) -> None:
    """Kill the runner and the container processes of every unfinished processing job
    of ``home`` (the pytest fixture calls this through stop_everything)."""
    from simsage.runtime import launcher, processes

    for job in ProcessingJobStore(home).unfinished():
        launcher.kill_runner(Path(job.job_dir), job.runner_pid)
        for pid in job.host_pids:  # each host leads its own session
            processes.kill_tree(pid)
