"""Transform jobs in the registry: the request as given and the lifecycle state.

Status (TransformJobStatus), with SageMaker's names::

    InProgress → Completed | Failed
    InProgress → Stopping → Stopped

A finished job never moves again (:meth:`TransformJobStore.transition` takes the
statuses it may leave).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    CREATE TABLE IF NOT EXISTS transform_jobs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        spec TEXT NOT NULL, status TEXT NOT NULL, failure TEXT, created REAL NOT NULL,
        started REAL, ended REAL, modified REAL NOT NULL, runner_pid INTEGER,
        job_dir TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS transform_jobs_by_created ON transform_jobs (created)
    """
)

TRANSFORM_JOB = declare(
    Kind("transform-job", "transform_jobs", job_name_taken("transform job"), requested_not_found)
)


@dataclass
class TransformJob:
    """A transform job's row. ``spec`` is the CreateTransformJob request with SageMaker's
    defaults filled in (PascalCase); the rest is state."""

    name: str
    arn: str
    region: str
    spec: dict[str, Any]
    status: str
    failure: str | None
    created: float
    started: float | None
    ended: float | None
    modified: float
    runner_pid: int | None
    job_dir: str

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class TransformJobStore(JobTable[TransformJob]):
    """Reads and changes transform job rows of one home. The columns are the fields of
    :class:`TransformJob`, in order."""

    kind = TRANSFORM_JOB
    record = TransformJob
    json_columns = frozenset({"spec"})


def stop_transform_processes(home) -> None:
    """Kill the runner (and with it, its process group: the inference servers) of every
    unfinished transform job of ``home`` (the pytest fixture calls this through
    Home.stop_everything)."""
    from pathlib import Path

    from simsage.runtime.launcher import kill_runner

    for job in TransformJobStore(home).unfinished():
        kill_runner(Path(job.job_dir), job.runner_pid)
