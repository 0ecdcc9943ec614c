"""Pipeline steps that run SageMaker jobs — ``ProcessingStep``, ``TrainingStep``,
``TuningStep``, ``TransformStep`` — and
what every step shares (name, display name, description, ``depends_on``, retry policies,
``CacheConfig``, ``.properties``).

A job step takes ``step_args``: what ``processor.run(...)`` or ``estimator.fit(...)``
return under a :class:`~simsage.sdk.workflow.pipeline_context.PipelineSession`. They are
turned into the step's ``Arguments`` (the job's Create* request without its name) each
time the definition is written.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.entities import serialize
from simsage.sdk.workflow.functions import Join
from simsage.sdk.workflow.pipeline_context import StepArguments
from simsage.sdk.workflow.properties import Properties, PropertyFile
from simsage.sdk.workflow.retry import RetryPolicy


class CacheConfig:
    """Reuse the step's earlier successful job when its arguments are unchanged and it
    ended less than ``expire_after`` (an ISO 8601 duration, e.g. ``P30D``) ago."""

    def __init__(self, enable_caching: bool = False, expire_after: str | None = None) -> None:
        self.enable_caching = enable_caching
        self.expire_after = expire_after

    @property
    def config(self) -> dict[str, Any]:
        """``{"CacheConfig": …}``, the step's member (as the official SDK has it)."""
        config: dict[str, Any] = {"Enabled": self.enable_caching}
        if self.expire_after is not None:
            config["ExpireAfter"] = self.expire_after
        return {"CacheConfig": config}


def step_names(depends_on: list[Any] | None) -> list[str]:
    """The names ``depends_on`` (step names, steps or step collections) stands for."""
    names: list[str] = []
    for item in depends_on or []:
        if isinstance(item, str):
            names.append(item)
        elif hasattr(item, "steps"):
            names.extend(step.name for step in item.steps)
        else:
            names.append(item.name)
    return names


class Step:
    """One step of a definition: ``to_request(pipeline_name)`` is its entry of ``Steps``."""

    step_type = ""

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        description: str | None = None,
        depends_on: list[Any] | None = None,
    ) -> None:
        if not name:
            raise ValueError("A step needs a name.")
        self.name = name
        self.display_name = display_name
        self.description = description
        self.depends_on = depends_on
        self.properties = Properties(f"Steps.{name}")

    @property
    def steps(self) -> list[Step]:
        return [self]

    def arguments(self, pipeline_name: str) -> dict[str, Any]:
        raise NotImplementedError

    def to_request(self, pipeline_name: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "Name": self.name,
            "Type": self.step_type,
            "Arguments": serialize(self.arguments(pipeline_name)),
        }
        if self.depends_on:
            request["DependsOn"] = step_names(self.depends_on)
        if self.display_name:
            request["DisplayName"] = self.display_name
        if self.description:
            request["Description"] = self.description
        return request


class ConfigurableRetryStep(Step):
    """A step with ``retry_policies``."""

    def __init__(self, name: str, retry_policies: list[RetryPolicy] | None = None, **kwargs):
        super().__init__(name, **kwargs)
        self.retry_policies = list(retry_policies or [])

    def to_request(self, pipeline_name: str) -> dict[str, Any]:
        request = super().to_request(pipeline_name)
        if self.retry_policies:
            request["RetryPolicies"] = [policy.to_request() for policy in self.retry_policies]
        return request


class _JobStep(ConfigurableRetryStep):
    """A step whose arguments are a job's Create* request (``operation``)."""

    operation = ""

    def __init__(
        self,
        name: str,
        step_args: StepArguments,
        display_name: str | None = None,
        description: str | None = None,
        cache_config: CacheConfig | None = None,
        depends_on: list[Any] | None = None,
        retry_policies: list[RetryPolicy] | None = None,
    ) -> None:
        super().__init__(
            name,
            retry_policies=retry_policies,
            display_name=display_name,
            description=description,
            depends_on=depends_on,
        )
        if not isinstance(step_args, StepArguments):
            raise TypeError(
                f"step {name!r}: step_args must be what the SDK call returns under a "
                f"PipelineSession (StepArguments); got {type(step_args).__name__}. Give the "
                "processor or estimator sagemaker_session=PipelineSession()."
            )
        self.step_args = step_args
        self.cache_config = cache_config

    def arguments(self, pipeline_name: str) -> dict[str, Any]:
        operation, request = self.step_args.build(pipeline_name, self.name)
        if operation != self.operation:
            raise ValueError(
                f"step {self.name!r} is a {self.step_type} step, but its step_args are "
                f"{self.step_args.caller_name}()'s {operation} request."
            )
        return request

    def to_request(self, pipeline_name: str) -> dict[str, Any]:
        request = super().to_request(pipeline_name)
        if self.cache_config is not None:
            request.update(self.cache_config.config)
        return request


class ProcessingStep(_JobStep):
    """A processing job: ``step_args=processor.run(...)``; ``property_files`` are JSON
    files among its outputs that ``JsonGet`` reads."""

    step_type = "Processing"
    operation = "create_processing_job"

    def __init__(
        self,
        name: str,
        step_args: StepArguments,
        display_name: str | None = None,
        description: str | None = None,
        cache_config: CacheConfig | None = None,
        depends_on: list[Any] | None = None,
        retry_policies: list[RetryPolicy] | None = None,
        property_files: list[PropertyFile] | None = None,
    ) -> None:
        super().__init__(
            name,
            step_args,
            display_name=display_name,
            description=description,
            cache_config=cache_config,
            depends_on=depends_on,
            retry_policies=retry_policies,
        )
        self.property_files = list(property_files or [])

    def to_request(self, pipeline_name: str) -> dict[str, Any]:
        request = super().to_request(pipeline_name)
        if self.property_files:
            request["PropertyFiles"] = [item.expr for item in self.property_files]
        return request


class TrainingStep(_JobStep):
    """A training job: ``step_args=estimator.fit(...)``."""

    step_type = "Training"
    operation = "create_training_job"


class TuningStep(_JobStep):
    """A hyperparameter tuning job: ``step_args=tuner.fit(...)``."""

    step_type = "Tuning"
    operation = "create_hyper_parameter_tuning_job"

    def get_top_model_s3_uri(self, top_k: int, s3_bucket: str, prefix: str = "") -> Join:
        """The model artifact of the ``top_k``-th best training job (0: the best), for
        a tuner whose output path is ``s3://<s3_bucket>/<prefix>``."""
        values: list[Any] = ["s3:/", s3_bucket]
        if prefix:
            values.append(prefix)
        best = self.properties.TrainingJobSummaries[top_k].TrainingJobName
        return Join(on="/", values=[*values, best, "output/model.tar.gz"])


class TransformStep(_JobStep):
    """A batch transform job: ``step_args=transformer.transform(...)``."""

    step_type = "Transform"
    operation = "create_transform_job"
