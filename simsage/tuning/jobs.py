"""Hyperparameter tuning jobs in the registry: the request as given, the lifecycle
state, and the record of every training job the tuning job launched (its children).

Layer: tuning (control-plane state; imports the store only).

Status (HyperParameterTuningJobStatus), with SageMaker's names::

    InProgress → Completed | Failed
    InProgress → Stopping → Stopped       (StopHyperParameterTuningJob)

A finished job never moves again (:meth:`TuningJobStore.transition` takes the statuses
it may leave). Names are SageMaker's: at most 32 characters, not case-sensitive (the
primary key collates NOCASE).

Children are kept in the tuning job's own row (``children``, a list of
:class:`Child` records as dicts, in launch order), written only by the tuning job's
runner, which reads each child back from DescribeTrainingJob; the API reads them to
answer the counters, the best training job and ListTrainingJobsForHyperParameterTuningJob
without reaching into the training service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simsage.errors import ClientFault
from simsage.store.db import register_schema
from simsage.store.registry import JobTable, Kind, ResourceInUse, declare

TERMINAL = ("Completed", "Failed", "Stopped")
CHILD_TERMINAL = ("Completed", "Failed", "Stopped")

register_schema(
    """
    CREATE TABLE IF NOT EXISTS tuning_jobs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        spec TEXT NOT NULL, status TEXT NOT NULL, failure TEXT, created REAL NOT NULL,
        ended REAL, modified REAL NOT NULL, runner_pid INTEGER, children TEXT NOT NULL,
        details TEXT NOT NULL, job_dir TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS tuning_jobs_by_created ON tuning_jobs (created)
    """
)


class ResourceNotFound(ClientFault):
    """SageMaker's answer to an unknown tuning job (DescribeHyperParameterTuningJob …)."""

    code = "ResourceNotFound"


def _not_found(name: str, where: str | None) -> ResourceNotFound:
    # SageMaker's words (amazon-sagemaker-examples #1540).
    return ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
    )


def _taken(holder_arn: str) -> ResourceInUse:
    # SageMaker's words (amazon-sagemaker-examples #2440); the name as the ARN has it.
    name = holder_arn.rsplit("/", 1)[-1]
    return ResourceInUse(
        f"A hyperparameter tuning job with the name, {name}, already exists. Choose a "
        "different name."
    )


TUNING_JOB = declare(Kind("hyper-parameter-tuning-job", "tuning_jobs", _taken, _not_found))


@dataclass
class Child:
    """One training job a tuning job launched, as its runner last read it.

    ``objective`` is the final value of the objective metric (None until the job
    reports one); ``retryable`` marks a failure SageMaker retries (an
    ``InternalServerError`` or ``CapacityError``); ``early_stopped`` a job the tuning
    job stopped from its intermediate values (median rule, Hyperband).
    """

    name: str
    arn: str
    number: int
    definition: str | None
    tuned: dict[str, str]
    status: str = "InProgress"
    created: float = 0.0
    started: float | None = None
    ended: float | None = None
    objective: float | None = None
    failure: str | None = None
    retryable: bool = False
    early_stopped: bool = False

    @property
    def finished(self) -> bool:
        return self.status in CHILD_TERMINAL

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def read(self, seen: dict[str, Any], metric: str | None) -> None:
        """Take the job's state from its DescribeTrainingJob answer ``seen``: status,
        times, failure and the final value of the objective ``metric``."""
        self.status = seen["TrainingJobStatus"]
        self.created = seen["CreationTime"].timestamp()
        if seen.get("TrainingStartTime") is not None:
            self.started = seen["TrainingStartTime"].timestamp()
        if seen.get("TrainingEndTime") is not None:
            self.ended = seen["TrainingEndTime"].timestamp()
        self.failure = seen.get("FailureReason")
        for entry in seen.get("FinalMetricDataList") or []:
            if entry["MetricName"] == metric:
                self.objective = float(entry["Value"])


@dataclass
class TuningJob:
    """A tuning job's row. ``spec`` is the CreateHyperParameterTuningJob request
    (PascalCase, Tags left out); ``children`` the :class:`Child` records as dicts;
    ``details`` the tuning job's own state: ``tags`` (given to every child, as
    SageMaker tags the training jobs of a tuning job), and what the runner decided
    (``not_improving``: NumberOfTrainingJobsObjectiveNotImproving; ``converged_at``:
    when convergence was detected)."""

    name: str
    arn: str
    region: str
    spec: dict[str, Any]
    status: str
    failure: str | None
    created: float
    ended: float | None
    modified: float
    runner_pid: int | None
    children: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    job_dir: str = ""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def child_records(self) -> list[Child]:
        names = {f.name for f in fields(Child)}
        return [Child(**{k: v for k, v in c.items() if k in names}) for c in self.children]


class TuningJobStore(JobTable[TuningJob]):
    """Reads and changes tuning job rows of one home. The columns are the fields of
    :class:`TuningJob`, in order."""

    kind = TUNING_JOB
    record = TuningJob
    json_columns = frozenset({"spec", "children", "details"})


def stop_tuning_processes(home) -> None:
    """Kill the runner of every unfinished tuning job of ``home`` (the pytest fixture
    calls this through stop_everything; the children are training jobs, which the
    training service's own hook ends)."""
    from simsage.runtime import launcher

    for job in TuningJobStore(home).unfinished():
        launcher.kill_runner(Path(job.job_dir), job.runner_pid)
