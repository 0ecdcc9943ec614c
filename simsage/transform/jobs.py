"""Transform jobs in the registry: the request as given and the lifecycle state.

Status (TransformJobStatus), with SageMaker's names::

    InProgress → Completed | Failed
    InProgress → Stopping → Stopped

A finished job never moves again (:meth:`TransformJobStore.transition` takes the
statuses it may leave).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from simsage.store.db import register_schema
from simsage.store.registry import (
    Kind,
    ResourceTable,
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


class TransformJobStore(ResourceTable[TransformJob]):
    """Reads and changes transform job rows of one home. The columns are the fields of
    :class:`TransformJob`, in order."""

    kind = TRANSFORM_JOB
    columns = tuple(f.name for f in fields(TransformJob))
    json_columns = frozenset({"spec"})

    def to_row(self, job: TransformJob) -> tuple:
        return tuple(getattr(job, column) for column in self.columns)

    def from_row(self, row) -> TransformJob:
        return TransformJob(*row)

    def unfinished(self) -> list[TransformJob]:
        return self.where("status IN ('InProgress', 'Stopping')")

    def status(self, name: str) -> str:
        row = self.db.query_one("SELECT status FROM transform_jobs WHERE name = ?", (name,))
        if row is None:
            raise self.kind.not_found(name)
        return row[0]

    def update(self, name: str, **fields: Any) -> None:
        """Set plain fields (no status change)."""
        self.transition(name, None, None, **fields)

    def transition(
        self, name: str, status: str | None, only_from: tuple[str, ...] | None, **fields: Any
    ) -> bool:
        """Move to ``status`` (None keeps it) and set ``fields``.

        With ``only_from``, the change happens only if the current status is one of
        them (returns False otherwise), so a finished job is never moved back.
        """
        values: dict[str, Any] = {"modified": self.clock.time(), **fields}
        if status is not None:
            values["status"] = status
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT status FROM transform_jobs WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise self.kind.not_found(name)
            if only_from is not None and row[0] not in only_from:
                return False
            self.set(conn, name, values)
        return True


def stop_transform_processes(home) -> None:
    """Kill the runner (and with it, its process group: the inference servers) of every
    unfinished transform job of ``home`` (the pytest fixture calls this through
    Home.stop_everything)."""
    from pathlib import Path

    from simsage.runtime.launcher import kill_runner

    for job in TransformJobStore(home).unfinished():
        kill_runner(Path(job.job_dir), job.runner_pid)
