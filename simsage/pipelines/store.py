"""Pipelines and their executions in the registry.

A **pipeline** (:class:`Pipeline`, a :class:`~simsage.store.registry.BodyTable` row)
keeps every version of its definition: CreatePipeline makes version 1, each
UpdatePipeline that changes the definition the next; DescribePipeline answers the latest
(or ``PipelineVersionId``, or ``PipelineVersionAlias``). A version has up to 10 aliases,
each unique within the pipeline and not all digits (CreatePipeline and UpdatePipeline
give the new version's, UpdatePipelineVersion adds and removes them). PipelineStatus is
``Active``.

An **execution** (:class:`PipelineExecution`, a :class:`~simsage.store.registry.JobTable`
row named by its id, the ARN's last part) keeps the definition it runs (a snapshot: an
UpdatePipeline does not change a running execution), the typed parameter values, and
its steps (:class:`StepRecord` dicts in ``steps``, written by its runner). Status, with
SageMaker's names::

    Executing → Succeeded | Failed
    Executing → Stopping → Stopped          (StopPipelineExecution)
    Failed → Executing                      (RetryPipelineExecution)

Step statuses: ``Starting``, ``Executing``, ``Stopping``, ``Stopped``, ``Failed``,
``Succeeded``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simsage.errors import ValidationException
from simsage.pipelines.errors import ConflictException, ResourceNotFound
from simsage.store.db import register_schema
from simsage.store.registry import BodyTable, JobTable, Kind, declare

TERMINAL = ("Succeeded", "Failed", "Stopped")
ACTIVE = ("Executing", "Stopping")
STEP_TERMINAL = ("Succeeded", "Failed", "Stopped")
MAX_ALIASES = 10  # aliases a pipeline version can have

register_schema(
    """
    CREATE TABLE IF NOT EXISTS pipelines (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS pipeline_executions (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        pipeline TEXT NOT NULL, pipeline_arn TEXT NOT NULL, display_name TEXT,
        description TEXT, definition TEXT NOT NULL, version_id INTEGER NOT NULL,
        parameters TEXT NOT NULL, parallelism TEXT, role_arn TEXT, status TEXT NOT NULL,
        failure TEXT, created REAL NOT NULL, modified REAL NOT NULL, started REAL,
        ended REAL, runner_pid INTEGER, steps TEXT NOT NULL, job_dir TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1, mlflow_experiment TEXT);
    CREATE INDEX IF NOT EXISTS pipeline_executions_by_pipeline
        ON pipeline_executions (pipeline, created)
    """
)


def _taken(taken_arn: str) -> ValidationException:
    # The official SDK's Pipeline.upsert() tells "create" from "update" by a
    # ValidationException whose message says "already exists".
    return ValidationException(
        f"Pipeline names must be unique within an AWS account and region. Pipeline "
        f"{taken_arn} already exists."
    )


def _missing(name: str, where: str | None) -> ValidationException:
    return ValidationException(f"Pipeline '{where or name}' does not exist.")


PIPELINE = declare(Kind("pipeline", "pipelines", _taken, _missing))


def _execution_missing(name: str, where: str | None) -> ValidationException:
    return ValidationException(f"Pipeline execution '{where or name}' does not exist.")


# Not declared for tags: its ARN (pipeline/<name>/execution/<id>) starts as a pipeline's.
PIPELINE_EXECUTION = Kind("pipeline-execution", "pipeline_executions", _taken, _execution_missing)


def execution_arn(pipeline_arn: str, execution_id: str) -> str:
    return f"{pipeline_arn}/execution/{execution_id}"


@dataclass
class Pipeline:
    """A pipeline's row. ``versions`` holds ``{"id", "definition", "created",
    "display_name", "description", "aliases"}`` per version (the last three optional),
    oldest first."""

    name: str
    arn: str
    region: str
    created: float
    display_name: str | None = None
    description: str | None = None
    role_arn: str = ""
    parallelism: dict[str, Any] | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    modified: float = 0.0
    last_run: float | None = None

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    def version(self, version_id: int | None, alias: str | None = None) -> dict[str, Any]:
        """The version ``version_id``, or the one with ``alias`` (the latest when neither).

        Raises:
            ValidationException: both given, or no such version id.
            ResourceNotFound: no version has the alias.
        """
        if version_id is not None and alias is not None:
            raise ValidationException(
                "Specify either PipelineVersionId or PipelineVersionAlias, not both."
            )
        if alias is not None:
            for version in self.versions:
                if alias in version.get("aliases", ()):
                    return version
            raise ResourceNotFound(f"No version of pipeline {self.arn} has the alias '{alias}'.")
        if version_id is None:
            return self.latest
        for version in self.versions:
            if version["id"] == version_id:
                return version
        raise ValidationException(
            f"Pipeline version {version_id} of pipeline {self.arn} does not exist (its "
            f"versions: 1 to {self.latest['id']})."
        )

    def change_aliases(
        self, version: dict[str, Any], add: list[str] = (), remove: list[str] = ()
    ) -> None:
        """Remove then add aliases of ``version`` (one of :attr:`versions`).

        Raises:
            ValidationException: an alias of digits only, or more than 10 on the version.
            ConflictException: an alias another version of the pipeline has.
        """
        aliases = [a for a in version.get("aliases", []) if a not in remove]
        for alias in add:
            if alias.isdigit():
                raise ValidationException(
                    f"Pipeline version alias '{alias}' consists of numbers only; an alias "
                    "needs at least one letter, period, hyphen or underscore."
                )
            holder = next(
                (v for v in self.versions if v is not version and alias in v.get("aliases", ())),
                None,
            )
            if holder is not None:
                raise ConflictException(
                    f"Alias '{alias}' is already assigned to version {holder['id']} of "
                    f"pipeline {self.arn}; remove it from that version first "
                    "(UpdatePipelineVersion)."
                )
            if alias not in aliases:
                aliases.append(alias)
        if len(aliases) > MAX_ALIASES:
            raise ValidationException(
                f"A pipeline version can have at most {MAX_ALIASES} aliases; version "
                f"{version['id']} would have {len(aliases)}."
            )
        version["aliases"] = aliases

    def aliases(self, version_id: int) -> list[str]:
        """The aliases version ``version_id`` has now."""
        return list(self.version(version_id).get("aliases", []))


class PipelineStore(BodyTable[Pipeline]):
    kind = PIPELINE
    item = Pipeline


@dataclass
class PipelineExecution:
    """An execution's row; ``name`` is the execution id. ``steps`` is a list of step
    records (dicts: the ListPipelineExecutionSteps entry's members plus simsage's
    ``_job`` — the job kind and name a step runs — and ``_key``, its cache key).
    ``mlflow_experiment`` is StartPipelineExecution's ``MlflowExperimentName``, which
    overrides the definition's ``MlflowConfig`` experiment for this execution only."""

    name: str
    arn: str
    region: str
    pipeline: str
    pipeline_arn: str
    display_name: str | None
    description: str | None
    definition: str
    version_id: int
    parameters: dict[str, Any]
    parallelism: dict[str, Any] | None
    role_arn: str | None
    status: str
    failure: str | None
    created: float
    modified: float
    started: float | None
    ended: float | None
    runner_pid: int | None
    steps: list[dict[str, Any]] = field(default_factory=list)
    job_dir: str = ""
    attempt: int = 1
    mlflow_experiment: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class PipelineExecutionStore(JobTable[PipelineExecution]):
    kind = PIPELINE_EXECUTION
    record = PipelineExecution
    json_columns = frozenset({"parameters", "parallelism", "steps"})

    def unfinished(self) -> list[PipelineExecution]:
        return self.where(f"status IN {ACTIVE!r}")

    def of_pipeline(self, pipeline: str) -> list[PipelineExecution]:
        return self.where("pipeline = ?", (pipeline,))

    def by_arn(self, arn: str) -> PipelineExecution:
        """The execution an ARN names (any case).

        Raises:
            ValidationException: no such execution.
        """
        found = self.where("lower(arn) = lower(?)", (arn,))
        if not found:
            raise _execution_missing(arn, arn)
        return found[0]


def stop_pipeline_processes(home) -> None:
    """Kill the runner of every unfinished execution of ``home`` (the pytest fixture
    calls this through stop_everything; the jobs the steps started are stopped by their
    own kinds' hooks)."""
    from simsage.runtime import launcher

    for execution in PipelineExecutionStore(home).unfinished():
        launcher.kill_runner(Path(execution.job_dir), execution.runner_pid)
