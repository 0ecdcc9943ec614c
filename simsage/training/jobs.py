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
from dataclasses import dataclass, field, fields
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
    CREATE TABLE IF NOT EXISTS training_jobs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        spec TEXT NOT NULL, status TEXT NOT NULL, secondary TEXT NOT NULL,
        transitions TEXT NOT NULL, failure TEXT, created REAL NOT NULL, started REAL,
        ended REAL, modified REAL NOT NULL, artifacts TEXT, metrics TEXT NOT NULL,
        runner_pid INTEGER, host_pids TEXT NOT NULL, stop TEXT, job_dir TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS training_jobs_by_created ON training_jobs (created)
    """
)

TRAINING_JOB = declare(
    Kind("training-job", "training_jobs", job_name_taken("training job"), requested_not_found)
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


class TrainingJobStore(ResourceTable[TrainingJob]):
    """Reads and changes training job rows of one home. The columns are the fields of
    :class:`TrainingJob`, in order."""

    kind = TRAINING_JOB
    columns = tuple(f.name for f in fields(TrainingJob))
    json_columns = frozenset({"spec", "transitions", "metrics", "host_pids"})

    def to_row(self, job: TrainingJob) -> tuple:
        return tuple(getattr(job, column) for column in self.columns)

    def from_row(self, row) -> TrainingJob:
        return TrainingJob(*row)

    def unfinished(self) -> list[TrainingJob]:
        return self.where("status IN ('InProgress', 'Stopping')")

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

    def _update(self, name, change, only_from, changes) -> bool:
        now = self.clock.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT status, secondary, transitions FROM training_jobs WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise self.kind.not_found(name)
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
                values.update(status=new_status, secondary=new_secondary, transitions=transitions)
            values.update(changes)
            self.set(conn, name, values)
        return True
