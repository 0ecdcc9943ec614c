"""Training jobs in the registry: the request as given, and the lifecycle state the
runner moves through.

Status (TrainingJobStatus) and SecondaryStatus move together, with SageMaker's names:

    InProgress: Starting → Downloading → Training → Uploading
    Completed: Completed      Failed: Failed
    Stopping: Stopping        Stopped: Stopped | MaxRuntimeExceeded

Every change of SecondaryStatus closes the previous entry of
SecondaryStatusTransitions and opens a new one, in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from simsage.errors import ValidationException
from simsage.store.db import register_schema

TERMINAL = ("Completed", "Failed", "Stopped")

register_schema(
    """
    CREATE TABLE IF NOT EXISTS training_jobs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        spec TEXT NOT NULL, status TEXT NOT NULL, secondary TEXT NOT NULL,
        transitions TEXT NOT NULL, failure TEXT, created REAL NOT NULL, started REAL,
        ended REAL, modified REAL NOT NULL, artifacts TEXT, metrics TEXT NOT NULL,
        runner_pid INTEGER, host_pids TEXT NOT NULL, stop TEXT, job_dir TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS training_jobs_by_created ON training_jobs (created)
    """
)

_COLUMNS = (
    "name, arn, region, spec, status, secondary, transitions, failure, created, started, "
    "ended, modified, artifacts, metrics, runner_pid, host_pids, stop, job_dir"
)


@dataclass
class TrainingJob:
    """A training job's row. ``spec`` is the CreateTrainingJob request (PascalCase, as
    the caller sent it); the rest is state."""

    name: str
    arn: str
    region: str
    spec: dict[str, Any]
    status: str
    secondary: str
    transitions: list[dict[str, Any]]
    failure: str | None
    created: float
    started: float | None
    ended: float | None
    modified: float
    artifacts: str | None
    metrics: dict[str, list[float]]  # name -> [value, timestamp]
    runner_pid: int | None
    host_pids: list[int] = field(default_factory=list)
    stop: str | None = None  # why a stop was asked: "Stopped" or "MaxRuntimeExceeded"
    job_dir: str = ""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_row(cls, row: tuple) -> TrainingJob:
        values = list(row)
        for i in (3, 6, 13, 15):  # spec, transitions, metrics, host_pids
            values[i] = json.loads(values[i])
        return cls(*values)


def not_found() -> ValidationException:
    return ValidationException("Requested resource not found.")


class TrainingJobStore:
    """Reads and changes training job rows of one home."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.clock = home.clock

    def insert(self, job: TrainingJob) -> bool:
        """Insert a new job; False if the name (any case) is taken."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM training_jobs WHERE name = ?", (job.name,)).fetchone():
                return False
            conn.execute(
                f"INSERT INTO training_jobs ({_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                (
                    job.name,
                    job.arn,
                    job.region,
                    json.dumps(job.spec),
                    job.status,
                    job.secondary,
                    json.dumps(job.transitions),
                    job.failure,
                    job.created,
                    job.started,
                    job.ended,
                    job.modified,
                    job.artifacts,
                    json.dumps(job.metrics),
                    job.runner_pid,
                    json.dumps(job.host_pids),
                    job.stop,
                    job.job_dir,
                ),
            )
        return True

    def get(self, name: str) -> TrainingJob:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM training_jobs WHERE name = ?", (name,))
        if row is None:
            raise not_found()
        return TrainingJob.from_row(row)

    def all(self) -> list[TrainingJob]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM training_jobs ORDER BY created")
        return [TrainingJob.from_row(row) for row in rows]

    def unfinished(self) -> list[TrainingJob]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM training_jobs WHERE status IN ('InProgress', 'Stopping')"
        )
        return [TrainingJob.from_row(row) for row in rows]

    def update(self, name: str, **fields: Any) -> None:
        """Set plain fields (no status change)."""
        self._update(name, None, None, fields)

    def transition(
        self,
        name: str,
        status: str,
        secondary: str,
        message: str,
        only_from: tuple[str, ...] | None = None,
        **fields: Any,
    ) -> bool:
        """Move to ``status``/``secondary`` and record the transition.

        With ``only_from``, the change happens only if the current status is one of
        them (returns False otherwise) — so a finished job is never moved back.
        """
        return self._update(name, (status, secondary, message), only_from, fields)

    def _update(self, name, change, only_from, fields) -> bool:
        now = self.clock.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT status, secondary, transitions FROM training_jobs WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise not_found()
            status, secondary, transitions = row[0], row[1], json.loads(row[2])
            if only_from is not None and status not in only_from:
                return False
            values: dict[str, Any] = {"modified": now}
            if change is not None:
                new_status, new_secondary, message = change
                if new_secondary != secondary or not transitions:
                    if transitions and "EndTime" not in transitions[-1]:
                        transitions[-1]["EndTime"] = now
                    entry: dict[str, Any] = {"Status": new_secondary, "StartTime": now}
                    if message:
                        entry["StatusMessage"] = message
                    if new_status in TERMINAL:
                        entry["EndTime"] = now
                    transitions.append(entry)
                values.update(
                    status=new_status, secondary=new_secondary, transitions=json.dumps(transitions)
                )
            for key, value in fields.items():
                values[key] = json.dumps(value) if key in ("metrics", "host_pids") else value
            assignments = ", ".join(f"{key} = ?" for key in values)
            conn.execute(
                f"UPDATE training_jobs SET {assignments} WHERE name = ?", (*values.values(), name)
            )
        return True
