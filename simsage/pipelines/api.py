"""SageMaker Pipelines requests: CreatePipeline, UpdatePipeline, DescribePipeline,
DeletePipeline, ListPipelines, ListPipelineVersions, UpdatePipelineVersion,
StartPipelineExecution,
DescribePipelineExecution, ListPipelineExecutions, ListPipelineExecutionSteps,
ListPipelineParametersForExecution, DescribePipelineDefinitionForExecution,
StopPipelineExecution, RetryPipelineExecution.

A definition (``PipelineDefinition``, or ``PipelineDefinitionS3Location`` read from
simsage's S3) is parsed and checked when the pipeline is created or updated
(:func:`simsage.pipelines.definition.parse_definition`), so a pipeline that could never
run is refused then, as CreatePipeline refuses it. StartPipelineExecution types the
parameters, records the execution with a snapshot of the definition and starts its
runner (:mod:`simsage.pipelines.runner`), a detached process on the shared job runtime,
so executions outlive the caller. Describe and List first fail an execution whose runner
is gone (the reason says how it ended).
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from pathlib import Path
from typing import Any

from simsage.errors import ValidationException
from simsage.ids import from_epoch
from simsage.paging import Listing, list_page
from simsage.pipelines.definition import parse_definition
from simsage.pipelines.listing import (
    ParameterEntry,
    StepEntry,
    VersionEntry,
    version_members,
)
from simsage.pipelines.store import (
    ACTIVE,
    PIPELINE,
    PIPELINE_EXECUTION,
    Pipeline,
    PipelineExecution,
    PipelineExecutionStore,
    PipelineStore,
    execution_arn,
)
from simsage.runtime import launcher
from simsage.s3 import errors as s3_errors
from simsage.s3.backend import S3Backend
from simsage.store.registry import list_answer
from simsage.transport import Request

RUNNER_MODULE = "simsage.pipelines.runner"
_ID_ALPHABET = string.ascii_lowercase + string.digits
DEFINITION_LIMIT = 1024 * 1024  # bytes of a definition given in an S3 object (AWS: 1 MB)

PIPELINE_LISTING = Listing(name=lambda p: p.name, created=lambda p: p.created)
EXECUTION_LISTING = Listing(
    name=lambda e: e.arn, created=lambda e: e.created, status=lambda e: e.status
)


def _list_params(params: dict[str, Any], sort_names: dict[str, str]) -> dict[str, Any]:
    """A Pipelines List request in the shape :func:`simsage.paging.list_page` reads
    (``CreatedAfter`` → ``CreationTimeAfter``, the SortBy values mapped)."""
    out = {k: v for k, v in params.items() if k in ("SortOrder", "MaxResults", "NextToken")}
    if "CreatedAfter" in params:
        out["CreationTimeAfter"] = params["CreatedAfter"]
    if "CreatedBefore" in params:
        out["CreationTimeBefore"] = params["CreatedBefore"]
    if "SortBy" in params:
        out["SortBy"] = sort_names[params["SortBy"]]
    return out


def new_execution_id() -> str:
    """An execution id as SageMaker makes them: 12 lowercase letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class PipelinesAPI:
    OPERATIONS = (
        "create_pipeline",
        "update_pipeline",
        "describe_pipeline",
        "delete_pipeline",
        "list_pipelines",
        "list_pipeline_versions",
        "update_pipeline_version",
        "start_pipeline_execution",
        "describe_pipeline_execution",
        "list_pipeline_executions",
        "list_pipeline_execution_steps",
        "list_pipeline_parameters_for_execution",
        "describe_pipeline_definition_for_execution",
        "stop_pipeline_execution",
        "retry_pipeline_execution",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.pipelines = PipelineStore(home)
        self.executions = PipelineExecutionStore(home)
        self.tags = tags

    # -- definitions -------------------------------------------------------------------

    def _definition_text(self, params: dict[str, Any], required: bool) -> str | None:
        text = params.get("PipelineDefinition")
        location = params.get("PipelineDefinitionS3Location")
        if text is not None and location is not None:
            raise ValidationException(
                "Give either PipelineDefinition or PipelineDefinitionS3Location, not both."
            )
        if location is not None:
            text = self._read_s3_definition(location)
        if text is None and required:
            raise ValidationException(
                "Either PipelineDefinition or PipelineDefinitionS3Location must be given."
            )
        if text is not None:
            parse_definition(text)  # refuses a definition that could never run
        return text

    def _read_s3_definition(self, location: dict[str, Any]) -> str:
        bucket, key = location["Bucket"], location["ObjectKey"]
        where = f"s3://{bucket}/{key}"
        try:
            obj, (start, end), stream = S3Backend(self.home).read_object(bucket, key)
            with stream:
                if end - start > DEFINITION_LIMIT:
                    raise ValidationException(
                        f"The pipeline definition at {where} is {end - start} bytes; a "
                        f"definition may have at most {DEFINITION_LIMIT} bytes."
                    )
                data = stream.read()
        except s3_errors.S3Error as exc:
            raise ValidationException(
                f"Could not read the pipeline definition at {where} "
                f"(PipelineDefinitionS3Location): {exc.message}"
            ) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationException(
                f"The pipeline definition at {where} is not UTF-8 text (JSON)."
            ) from None

    # -- pipelines ---------------------------------------------------------------------

    def create_pipeline(self, request: Request) -> dict[str, Any]:
        params = request.params
        name = params["PipelineName"]
        text = self._definition_text(params, required=True)
        arn = PIPELINE.arn(request.region, request.account_id, name)
        now = self.home.clock.time()
        pipeline = Pipeline(
            name=name,
            arn=arn,
            region=request.region,
            created=now,
            display_name=params.get("PipelineDisplayName") or name,
            description=params.get("PipelineDescription"),
            role_arn=params["RoleArn"],
            parallelism=copy.deepcopy(params.get("ParallelismConfiguration")),
            versions=[{"id": 1, "definition": text, "created": now}],
            modified=now,
        )
        pipeline.change_aliases(pipeline.latest, add=params.get("PipelineVersionAliases") or [])
        self.pipelines.create(pipeline)
        self.tags.set(arn, params.get("Tags", []))
        return {"PipelineArn": arn}

    def _pipeline(self, request: Request, name: str) -> Pipeline:
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        return self.pipelines.get(name, request.region, request.account_id)

    def update_pipeline(self, request: Request) -> dict[str, Any]:
        params = request.params
        pipeline = self._pipeline(request, params["PipelineName"])
        text = self._definition_text(params, required=False)
        now = self.home.clock.time()
        aliases = params.get("PipelineVersionAliases") or []
        if aliases and text is None:
            raise ValidationException(
                "PipelineVersionAliases can be given only with a new PipelineDefinition "
                "(or PipelineDefinitionS3Location); to change an existing version's "
                "aliases use UpdatePipelineVersion."
            )
        if text is not None:
            version = {"id": pipeline.latest["id"] + 1, "definition": text, "created": now}
            pipeline.versions.append(version)
            pipeline.change_aliases(version, add=aliases)
        for member, attribute in (
            ("PipelineDisplayName", "display_name"),
            ("PipelineDescription", "description"),
            ("RoleArn", "role_arn"),
        ):
            if member in params:
                setattr(pipeline, attribute, params[member])
        if "ParallelismConfiguration" in params:
            pipeline.parallelism = copy.deepcopy(params["ParallelismConfiguration"])
        pipeline.modified = now
        self._save(pipeline)
        return {"PipelineArn": pipeline.arn, "PipelineVersionId": pipeline.latest["id"]}

    def _save(self, pipeline: Pipeline) -> None:
        row = self.pipelines.to_row(pipeline)
        with self.home.db.write() as conn:
            self.pipelines.set(conn, pipeline.name, {"body": row[3]})

    def describe_pipeline(self, request: Request) -> dict[str, Any]:
        params = request.params
        pipeline = self._pipeline(request, params["PipelineName"])
        version = pipeline.version(
            params.get("PipelineVersionId"), params.get("PipelineVersionAlias")
        )
        out: dict[str, Any] = {
            "PipelineArn": pipeline.arn,
            "PipelineName": pipeline.name,
            "PipelineDisplayName": pipeline.display_name or pipeline.name,
            "PipelineDefinition": version["definition"],
            "RoleArn": pipeline.role_arn,
            "PipelineStatus": "Active",
            "CreationTime": from_epoch(pipeline.created),
            "LastModifiedTime": from_epoch(pipeline.modified),
        }
        if pipeline.description is not None:
            out["PipelineDescription"] = pipeline.description
        if pipeline.last_run is not None:
            out["LastRunTime"] = from_epoch(pipeline.last_run)
        if pipeline.parallelism:
            out["ParallelismConfiguration"] = copy.deepcopy(pipeline.parallelism)
        out.update(version_members(version))
        return out

    def delete_pipeline(self, request: Request) -> dict[str, Any]:
        """Delete the pipeline and its executions' records; running executions are
        stopped first (their runners stop the jobs their steps started)."""
        pipeline = self._pipeline(request, request.params["PipelineName"])
        for execution in self.executions.of_pipeline(pipeline.name):
            if execution.status in ACTIVE:
                self.executions.transition(execution.name, "Stopping", ("Executing",))
        self.pipelines.delete(pipeline.name)
        self.tags.forget(pipeline.arn)
        return {"PipelineArn": pipeline.arn}

    def list_pipelines(self, request: Request) -> dict[str, Any]:
        params = request.params
        prefix = params.get("PipelineNamePrefix")
        page, token = list_page(
            self.pipelines.all(),
            _list_params(params, {"Name": "Name", "CreationTime": "CreationTime"}),
            PIPELINE_LISTING,
            also=(lambda p: p.name.startswith(prefix)) if prefix else None,
            kind="pipeline",
        )
        summaries = []
        for pipeline in page:
            summary = {
                "PipelineArn": pipeline.arn,
                "PipelineName": pipeline.name,
                "PipelineDisplayName": pipeline.display_name or pipeline.name,
                "RoleArn": pipeline.role_arn,
                "CreationTime": from_epoch(pipeline.created),
                "LastModifiedTime": from_epoch(pipeline.modified),
            }
            if pipeline.description is not None:
                summary["PipelineDescription"] = pipeline.description
            if pipeline.last_run is not None:
                summary["LastExecutionTime"] = from_epoch(pipeline.last_run)
            summaries.append(summary)
        return list_answer("PipelineSummaries", summaries, token)

    def list_pipeline_versions(self, request: Request) -> dict[str, Any]:
        params = request.params
        pipeline = self._pipeline(request, params["PipelineName"])
        executions = self.executions.of_pipeline(pipeline.name)
        versions = [
            VersionEntry(pipeline.arn, v, [e for e in executions if e.version_id == v["id"]])
            for v in pipeline.versions
        ]
        page, token = list_page(
            versions,
            _list_params(params, {}),
            Listing(name=lambda v: str(v.id), created=lambda v: v.created),
            kind="pipeline-version",
        )
        return list_answer("PipelineVersionSummaries", [v.summary() for v in page], token)

    def update_pipeline_version(self, request: Request) -> dict[str, Any]:
        """A version's display name, description and aliases (``Remove`` is applied
        before ``Add``, so one call can move an alias between its own entries)."""
        params = request.params
        pipeline = self._pipeline(request, params["PipelineArn"])
        version = pipeline.version(params["PipelineVersionId"])
        for member, key in (
            ("PipelineVersionDisplayName", "display_name"),
            ("PipelineVersionDescription", "description"),
        ):
            if member in params:
                version[key] = params[member]
        operations = params.get("PipelineVersionAliasOperations") or {}
        pipeline.change_aliases(
            version, add=operations.get("Add") or [], remove=operations.get("Remove") or []
        )
        pipeline.modified = self.home.clock.time()
        self._save(pipeline)
        return {"PipelineArn": pipeline.arn, "PipelineVersionId": version["id"]}

    # -- executions ----------------------------------------------------------------------

    def start_pipeline_execution(self, request: Request) -> dict[str, Any]:
        params = request.params
        pipeline = self._pipeline(request, params["PipelineName"])
        version = pipeline.version(
            params.get("PipelineVersionId"), params.get("PipelineVersionAlias")
        )
        if params.get("SelectiveExecutionConfig"):
            raise ValidationException(
                "simsage does not run selective executions (SelectiveExecutionConfig); start "
                "the whole pipeline (steps whose arguments are unchanged reuse their earlier "
                "jobs when their CacheConfig is enabled)."
            )
        definition = parse_definition(version["definition"])
        values = definition.parameter_values(params.get("PipelineParameters") or [])
        execution_id = new_execution_id()
        arn = execution_arn(pipeline.arn, execution_id)
        now = self.home.clock.time()
        folder = self.home.path / "jobs" / "pipelines" / execution_id
        execution = PipelineExecution(
            name=execution_id,
            arn=arn,
            region=request.region,
            pipeline=pipeline.name,
            pipeline_arn=pipeline.arn,
            display_name=params.get("PipelineExecutionDisplayName")
            or f"execution-{int(now * 1000)}",
            description=params.get("PipelineExecutionDescription"),
            definition=version["definition"],
            version_id=version["id"],
            parameters=values,
            parallelism=copy.deepcopy(
                params.get("ParallelismConfiguration") or pipeline.parallelism
            ),
            role_arn=params.get("RoleArn") or pipeline.role_arn,
            status="Executing",
            failure=None,
            created=now,
            modified=now,
            started=None,
            ended=None,
            runner_pid=None,
            job_dir=str(folder),
            mlflow_experiment=params.get("MlflowExperimentName"),
        )
        self.executions.create(execution)
        pipeline.last_run = now
        self._save(pipeline)
        launcher.start_job(RUNNER_MODULE, self.home, self.executions, execution_id, folder)
        return {"PipelineExecutionArn": arn}

    def _execution(self, arn: str) -> PipelineExecution:
        execution = self.executions.by_arn(arn)
        return self._current(execution)

    def _current(self, execution: PipelineExecution) -> PipelineExecution:
        """The execution, failed first if it should be running and its runner is gone."""
        folder = Path(execution.job_dir)
        if execution.status in ACTIVE and not launcher.runner_alive(
            folder, execution.runner_pid, execution.created
        ):
            reason = launcher.runner_failure(
                folder, execution.runner_pid, "simsage pipeline execution runner"
            )
            if self.executions.transition(
                execution.name,
                "Failed",
                ACTIVE,
                failure=reason,
                ended=self.home.clock.time(),
            ):
                execution = self.executions.get(execution.name)
        return execution

    def describe_pipeline_execution(self, request: Request) -> dict[str, Any]:
        execution = self._execution(request.params["PipelineExecutionArn"])
        out: dict[str, Any] = {
            "PipelineArn": execution.pipeline_arn,
            "PipelineExecutionArn": execution.arn,
            "PipelineExecutionDisplayName": execution.display_name,
            "PipelineExecutionStatus": execution.status,
            "CreationTime": from_epoch(execution.created),
            "LastModifiedTime": from_epoch(execution.modified),
            "PipelineVersionId": execution.version_id,
        }
        if execution.description is not None:
            out["PipelineExecutionDescription"] = execution.description
        if execution.failure:
            out["FailureReason"] = execution.failure
        if execution.parallelism:
            out["ParallelismConfiguration"] = copy.deepcopy(execution.parallelism)
        written = json.loads(execution.definition)
        experiment = written.get("PipelineExperimentConfig")
        if experiment:
            out["PipelineExperimentConfig"] = _experiment(experiment, execution)
        mlflow = _mlflow(written.get("MlflowConfig"), execution)
        if mlflow:
            out["MLflowConfig"] = mlflow
        aliases = self._aliases(request, execution)
        if aliases:
            out["PipelineVersionAliases"] = aliases
        return out

    def _aliases(self, request: Request, execution: PipelineExecution) -> list[str]:
        """The aliases the version an execution ran has now ([] once it is deleted)."""
        try:
            pipeline = self._pipeline(request, execution.pipeline)
            return pipeline.aliases(execution.version_id)
        except ValidationException:
            return []

    def list_pipeline_executions(self, request: Request) -> dict[str, Any]:
        params = request.params
        pipeline = self._pipeline(request, params["PipelineName"])
        executions = [self._current(e) for e in self.executions.of_pipeline(pipeline.name)]
        if params.get("PipelineVersionAlias") is not None:
            chosen = pipeline.version(None, params["PipelineVersionAlias"])["id"]
            executions = [e for e in executions if e.version_id == chosen]
        page, token = list_page(
            executions,
            _list_params(params, {"CreationTime": "CreationTime", "PipelineExecutionArn": "Name"}),
            EXECUTION_LISTING,
            kind="pipeline-execution",
        )
        summaries = []
        for execution in page:
            summary = {
                "PipelineExecutionArn": execution.arn,
                "StartTime": from_epoch(execution.created),
                "PipelineExecutionStatus": execution.status,
                "PipelineExecutionDisplayName": execution.display_name,
            }
            if execution.description is not None:
                summary["PipelineExecutionDescription"] = execution.description
            if execution.failure:
                summary["PipelineExecutionFailureReason"] = execution.failure
            aliases = pipeline.aliases(execution.version_id)
            if aliases:
                summary["PipelineVersionAliases"] = aliases
            summaries.append(summary)
        return list_answer("PipelineExecutionSummaries", summaries, token)

    def list_pipeline_execution_steps(self, request: Request) -> dict[str, Any]:
        params = request.params
        if not params.get("PipelineExecutionArn"):
            raise ValidationException("PipelineExecutionArn is required.")
        execution = self._execution(params["PipelineExecutionArn"])
        steps = [StepEntry(i, step) for i, step in enumerate(execution.steps)]
        listing_params = {
            k: params[k] for k in ("MaxResults", "NextToken", "SortOrder") if k in params
        }
        page, token = list_page(
            steps,
            listing_params,
            Listing(name=lambda s: s.name, created=lambda s: s.order),
            kind="pipeline-execution-step",
        )
        return list_answer("PipelineExecutionSteps", [s.entry() for s in page], token)

    def list_pipeline_parameters_for_execution(self, request: Request) -> dict[str, Any]:
        params = request.params
        execution = self._execution(params["PipelineExecutionArn"])
        entries = [
            ParameterEntry(i, name, value)
            for i, (name, value) in enumerate(execution.parameters.items())
        ]
        listing_params = {k: params[k] for k in ("MaxResults", "NextToken") if k in params}
        listing_params["SortOrder"] = "Ascending"
        page, token = list_page(
            entries,
            listing_params,
            Listing(name=lambda p: p.name, created=lambda p: p.order),
            kind="pipeline-parameter",
        )
        return list_answer("PipelineParameters", [p.entry() for p in page], token)

    def describe_pipeline_definition_for_execution(self, request: Request) -> dict[str, Any]:
        execution = self._execution(request.params["PipelineExecutionArn"])
        return {
            "PipelineDefinition": execution.definition,
            "CreationTime": from_epoch(execution.created),
        }

    def stop_pipeline_execution(self, request: Request) -> dict[str, Any]:
        execution = self._execution(request.params["PipelineExecutionArn"])
        if execution.status == "Executing":
            self.executions.transition(execution.name, "Stopping", ("Executing",))
        elif execution.status != "Stopping":
            raise ValidationException(
                f"Pipeline execution {execution.arn} is {execution.status}; only an Executing "
                "execution can be stopped."
            )
        return {"PipelineExecutionArn": execution.arn}

    def retry_pipeline_execution(self, request: Request) -> dict[str, Any]:
        """Run a Failed execution again from where it failed: its Succeeded steps keep
        their results, the others run again (as RetryPipelineExecution does)."""
        params = request.params
        execution = self._execution(params["PipelineExecutionArn"])
        if execution.status != "Failed":
            raise ValidationException(
                f"Pipeline execution {execution.arn} is {execution.status}; only a Failed "
                "execution can be retried."
            )
        fields: dict[str, Any] = {
            "failure": None,
            "ended": None,
            "attempt": execution.attempt + 1,
        }
        if params.get("ParallelismConfiguration"):
            fields["parallelism"] = copy.deepcopy(params["ParallelismConfiguration"])
        if not self.executions.transition(execution.name, "Executing", ("Failed",), **fields):
            raise ValidationException(f"Pipeline execution {execution.arn} is no longer Failed.")
        launcher.start_job(
            RUNNER_MODULE, self.home, self.executions, execution.name, Path(execution.job_dir)
        )
        return {"PipelineExecutionArn": execution.arn}


def _experiment(config: dict[str, Any], execution: PipelineExecution) -> dict[str, Any]:
    """PipelineExperimentConfig with the execution variables it names resolved."""
    values = {
        "Execution.PipelineName": execution.pipeline,
        "Execution.PipelineExecutionId": execution.name,
    }
    out = {}
    for member in ("ExperimentName", "TrialName"):
        value = config.get(member)
        if isinstance(value, dict) and "Get" in value:
            value = values.get(value["Get"], execution.name)
        if value is not None:
            out[member] = str(value)
    return out


def _mlflow(config: dict[str, Any] | None, execution: PipelineExecution) -> dict[str, Any]:
    """The execution's MLflowConfig: the definition's ``MlflowConfig`` (SDK v3 writes
    null for a member it was not given) with StartPipelineExecution's
    ``MlflowExperimentName`` in place of its experiment; {} when neither names one."""
    out = {
        "MlflowResourceArn": (config or {}).get("MlflowResourceArn"),
        "MlflowExperimentName": execution.mlflow_experiment
        or (config or {}).get("MlflowExperimentName"),
    }
    return {member: str(value) for member, value in out.items() if value is not None}


__all__ = ["PIPELINE_EXECUTION", "PipelinesAPI", "new_execution_id"]
