"""``Pipeline``: parameters and steps; ``definition()`` writes the JSON the service runs
(``Version`` 2020-12-01), and ``create``/``update``/``upsert``/``describe``/``start``/
``list_executions``/``delete`` are the SageMaker Pipelines calls, through the session's
boto3 client. ``start`` returns a :class:`PipelineExecution` (``describe``,
``list_steps``, ``wait``, ``stop``).

Layer: SDK, on boto3 only, so the same pipeline runs on simsage and on AWS.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from simsage.sdk.session import Session
from simsage.sdk.workflow.entities import serialize
from simsage.sdk.workflow.execution_variables import ExecutionVariables
from simsage.sdk.workflow.parameters import Parameter

__all__ = ["Pipeline", "PipelineExecution", "PipelineExperimentConfig", "WaiterError"]

_DEFAULT = object()


class PipelineExperimentConfig:
    """The experiment and trial an execution's jobs are recorded under (by default the
    pipeline's name and the execution's id)."""

    def __init__(self, experiment_name: Any, trial_name: Any) -> None:
        self.experiment_name = experiment_name
        self.trial_name = trial_name

    def to_request(self) -> dict[str, Any]:
        return serialize({"ExperimentName": self.experiment_name, "TrialName": self.trial_name})


class Pipeline:
    """A pipeline named ``name`` of ``parameters`` and ``steps`` (steps, step collections
    such as ``ModelStep``; the steps of a condition's branches are given with the
    condition, not here).

    ``pipeline_experiment_config``: None writes none; by default the pipeline's name and
    the execution's id.
    """

    def __init__(
        self,
        name: str,
        parameters: list[Parameter] | None = None,
        steps: list[Any] | None = None,
        sagemaker_session: Session | None = None,
        pipeline_experiment_config: Any = _DEFAULT,
    ) -> None:
        self.name = name
        self.parameters = list(parameters or [])
        self.steps = list(steps or [])
        self.sagemaker_session = sagemaker_session or Session()
        if pipeline_experiment_config is _DEFAULT:
            pipeline_experiment_config = PipelineExperimentConfig(
                ExecutionVariables.PIPELINE_NAME, ExecutionVariables.PIPELINE_EXECUTION_ID
            )
        self.pipeline_experiment_config = pipeline_experiment_config

    # -- the definition -------------------------------------------------------------------
    def _flat_steps(self) -> list[Any]:
        return [step for item in self.steps for step in item.steps]

    def _check_names(self) -> None:
        """Raise ValueError when two steps (branches included) or parameters share a name."""
        seen: set[str] = set()
        pending = list(self._flat_steps())
        while pending:
            step = pending.pop(0)
            if step.name in seen:
                raise ValueError(f"Pipeline {self.name!r} has two steps named {step.name!r}.")
            seen.add(step.name)
            pending.extend(getattr(step, "nested_steps", list)())
        parameters = [parameter.name for parameter in self.parameters]
        for name in parameters:
            if parameters.count(name) > 1:
                raise ValueError(f"Pipeline {self.name!r} has two parameters named {name!r}.")

    def to_request(self) -> dict[str, Any]:
        """The definition as a dict (what :meth:`definition` writes)."""
        self._check_names()
        request: dict[str, Any] = {
            "Version": "2020-12-01",
            "Metadata": {},
            "Parameters": [parameter.to_request() for parameter in self.parameters],
        }
        if self.pipeline_experiment_config is not None:
            request["PipelineExperimentConfig"] = self.pipeline_experiment_config.to_request()
        request["Steps"] = [step.to_request(self.name) for step in self._flat_steps()]
        return request

    def definition(self) -> str:
        """The pipeline definition JSON (the job steps' SDK calls are replayed: local
        code is uploaded to S3 again if it changed)."""
        return json.dumps(self.to_request())

    # -- the service ----------------------------------------------------------------------
    @property
    def _client(self):
        return self.sagemaker_session.sagemaker_client

    def _request(
        self,
        role_arn: str | None,
        description: str | None,
        parallelism_config: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if not role_arn:
            raise ValueError("An AWS IAM role is required to create or update a Pipeline.")
        request: dict[str, Any] = {
            "PipelineName": self.name,
            "PipelineDefinition": self.definition(),
            "RoleArn": role_arn,
        }
        if description is not None:
            request["PipelineDescription"] = description
        if parallelism_config is not None:
            request["ParallelismConfiguration"] = parallelism_config
        return request

    def create(
        self,
        role_arn: str,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
        parallelism_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """CreatePipeline with this definition; returns the answer (``PipelineArn``).

        ``parallelism_config`` is ``{"MaxParallelExecutionSteps": n}``.

        Raises:
            botocore.exceptions.ClientError: ValidationException (the definition was
                refused — the message says why — or the pipeline exists).
        """
        request = self._request(role_arn, description, parallelism_config)
        if tags:
            request["Tags"] = tags
        return self._client.create_pipeline(**request)

    def update(
        self,
        role_arn: str,
        description: str | None = None,
        parallelism_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """UpdatePipeline: a new version of the definition (executions running keep theirs)."""
        return self._client.update_pipeline(
            **self._request(role_arn, description, parallelism_config)
        )

    def upsert(
        self,
        role_arn: str,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
        parallelism_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create the pipeline, or update it when it exists (adding ``tags``)."""
        try:
            return self.create(role_arn, description, tags, parallelism_config)
        except ClientError as exc:
            error = exc.response["Error"]
            if error["Code"] != "ValidationException" or "already exists" not in error["Message"]:
                raise
        response = self.update(role_arn, description, parallelism_config)
        if tags:
            self._client.add_tags(ResourceArn=response["PipelineArn"], Tags=tags)
        return response

    def describe(self) -> dict[str, Any]:
        """DescribePipeline (``PipelineDefinition``, ``PipelineStatus`` …)."""
        return self._client.describe_pipeline(PipelineName=self.name)

    def delete(self) -> dict[str, Any]:
        """DeletePipeline."""
        return self._client.delete_pipeline(PipelineName=self.name)

    def start(
        self,
        parameters: dict[str, Any] | None = None,
        execution_display_name: str | None = None,
        execution_description: str | None = None,
        parallelism_config: dict[str, Any] | None = None,
    ) -> PipelineExecution:
        """StartPipelineExecution with ``parameters`` (name to value; the others take their
        defaults); returns the execution at once — it runs in the background."""
        request: dict[str, Any] = {"PipelineName": self.name}
        if parameters:
            request["PipelineParameters"] = [
                {"Name": name, "Value": _text(value)} for name, value in parameters.items()
            ]
        for key, value in (
            ("PipelineExecutionDisplayName", execution_display_name),
            ("PipelineExecutionDescription", execution_description),
            ("ParallelismConfiguration", parallelism_config),
        ):
            if value is not None:
                request[key] = value
        answer = self._client.start_pipeline_execution(**request)
        return PipelineExecution(answer["PipelineExecutionArn"], self.sagemaker_session)

    def list_executions(
        self,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """ListPipelineExecutions: ``PipelineExecutionSummaries`` (newest first by default)
        and ``NextToken`` when there are more."""
        request: dict[str, Any] = {"PipelineName": self.name}
        for key, value in (
            ("SortBy", sort_by),
            ("SortOrder", sort_order),
            ("MaxResults", max_results),
            ("NextToken", next_token),
        ):
            if value is not None:
                request[key] = value
        answer = self._client.list_pipeline_executions(**request)
        return {
            key: answer[key] for key in ("PipelineExecutionSummaries", "NextToken") if key in answer
        }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# The official SDK's waiter: Succeeded ends the wait, Failed or Stopped raise WaiterError.
_WAITER_MODEL = {
    "version": 2,
    "waiters": {
        "PipelineExecutionComplete": {
            "operation": "DescribePipelineExecution",
            "delay": 30,
            "maxAttempts": 60,
            "acceptors": [
                {
                    "expected": expected,
                    "matcher": "path",
                    "state": state,
                    "argument": "PipelineExecutionStatus",
                }
                for expected, state in (
                    ("Succeeded", "success"),
                    ("Failed", "failure"),
                    ("Stopped", "failure"),
                )
            ],
        }
    },
}


class PipelineExecution:
    """One execution (``arn``) of a pipeline."""

    def __init__(self, arn: str, sagemaker_session: Session) -> None:
        self.arn = arn
        self.sagemaker_session = sagemaker_session

    @property
    def _client(self):
        return self.sagemaker_session.sagemaker_client

    def describe(self) -> dict[str, Any]:
        """DescribePipelineExecution (``PipelineExecutionStatus``, ``FailureReason`` …)."""
        return self._client.describe_pipeline_execution(PipelineExecutionArn=self.arn)

    def list_steps(self) -> list[dict[str, Any]]:
        """ListPipelineExecutionSteps, all pages: each step's status, attempts and
        ``Metadata`` (the job's ARN, the condition's outcome, the model package …)."""
        paginator = self._client.get_paginator("list_pipeline_execution_steps")
        return [
            step
            for page in paginator.paginate(PipelineExecutionArn=self.arn)
            for step in page["PipelineExecutionSteps"]
        ]

    def list_parameters(self) -> list[dict[str, Any]]:
        """ListPipelineParametersForExecution: the values this execution ran with."""
        paginator = self._client.get_paginator("list_pipeline_parameters_for_execution")
        return [
            parameter
            for page in paginator.paginate(PipelineExecutionArn=self.arn)
            for parameter in page["PipelineParameters"]
        ]

    def stop(self) -> dict[str, Any]:
        """StopPipelineExecution: running jobs are stopped, no further step starts."""
        return self._client.stop_pipeline_execution(PipelineExecutionArn=self.arn)

    def wait(self, delay: float | None = None, max_attempts: int | None = None) -> None:
        """Poll until the execution ends: every ``delay`` seconds (the session's poll, 0.1 s
        on simsage and 5 s on AWS, by default), at most ``max_attempts`` times (by default
        enough for an hour).

        Raises:
            botocore.exceptions.WaiterError: the execution Failed or was Stopped, or it
                was still running after ``max_attempts`` polls.
        """
        delay = self.sagemaker_session.default_poll() if delay is None else delay
        if max_attempts is None:
            max_attempts = max(1, int(3600 / max(delay, 0.01)))
        waiter = create_waiter_with_client(
            "PipelineExecutionComplete", WaiterModel(_WAITER_MODEL), self._client
        )
        try:
            waiter.wait(
                PipelineExecutionArn=self.arn,
                WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts},
            )
        except WaiterError as exc:
            # The waiter's own message names only the status; add why it failed, and
            # which steps failed with what reason.
            reason = (exc.last_response or {}).get("FailureReason")
            if not reason:
                raise
            failed = [
                f"{step['StepName']}: {step.get('FailureReason', 'no reason given')}"
                for step in self.list_steps()
                if step.get("StepStatus") == "Failed"
            ]
            if failed:
                reason = f"{reason} ({'; '.join(failed)})"
            raise WaiterError(
                name=exc.kwargs["name"],
                reason=f"{exc.kwargs['reason']}: {reason}",
                last_response=exc.last_response,
            ) from None


_PipelineExecution = PipelineExecution  # the official SDK's name for it
