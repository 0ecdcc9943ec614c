"""Transform jobs in the registry: the request as given and the lifecycle state.

Status (TransformJobStatus), with SageMaker's names::

    InProgress → Completed | Failed
    InProgress → Stopping → Stopped

A finished job never moves again (:meth:`TransformJobStore.transition` takes the
statuses it may leave).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from simsage.errors import ValidationException
from simsage.store.db import register_schema

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

_COLUMNS = "name, arn, region, spec, status, failure, created, started, ended, modified, " + (
    "runner_pid, job_dir"
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

    @classmethod
    def from_row(cls, row: tuple) -> TransformJob:
        values = list(row)
        values[3] = json.loads(values[3])
        return cls(*values)


def not_found() -> ValidationException:
    return ValidationException("Requested resource not found.")


class TransformJobStore:
    """Reads and changes transform job rows of one home."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.clock = home.clock

    def insert(self, job: TransformJob) -> bool:
        """Insert a new job; False if the name (any case) is taken."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM transform_jobs WHERE name = ?", (job.name,)).fetchone():
                return False
            conn.execute(
                f"INSERT INTO transform_jobs ({_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (
                    job.name,
                    job.arn,
                    job.region,
                    json.dumps(job.spec),
                    job.status,
                    job.failure,
                    job.created,
                    job.started,
                    job.ended,
                    job.modified,
                    job.runner_pid,
                    job.job_dir,
                ),
            )
        return True

    def get(self, name: str) -> TransformJob:
        """The job called ``name`` (any case); raises ValidationException if none."""
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM transform_jobs WHERE name = ?", (name,))
        if row is None:
            raise not_found()
        return TransformJob.from_row(row)

    def all(self) -> list[TransformJob]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM transform_jobs ORDER BY created")
        return [TransformJob.from_row(row) for row in rows]

    def unfinished(self) -> list[TransformJob]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM transform_jobs WHERE status IN ('InProgress', 'Stopping')"
        )
        return [TransformJob.from_row(row) for row in rows]

    def status(self, name: str) -> str:
        row = self.db.query_one("SELECT status FROM transform_jobs WHERE name = ?", (name,))
        if row is None:
            raise not_found()
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
                raise not_found()
            if only_from is not None and row[0] not in only_from:
                return False
            assignments = ", ".join(f"{key} = ?" for key in values)
            conn.execute(
                f"UPDATE transform_jobs SET {assignments} WHERE name = ?", (*values.values(), name)
            )
        return True


def stop_transform_processes(home) -> None:
    """Kill the runner (and with it, its process group: the inference servers) of every
    unfinished transform job of ``home`` (the pytest fixture calls this through
    Home.stop_everything)."""
    from pathlib import Path

    from simsage.runtime.launcher import kill_runner

    for job in TransformJobStore(home).unfinished():
        kill_runner(Path(job.job_dir), job.runner_pid)
