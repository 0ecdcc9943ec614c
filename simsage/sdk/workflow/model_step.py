"""``ModelStep``: ``step_args=model.create(...)`` (a ``Model`` step, CreateModel, named
``<name>-CreateModel``) or ``model.register(...)`` (a ``RegisterModel`` step,
CreateModelPackage, named ``<name>-RegisterModel``), as the official SDK names them."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.pipeline_context import StepArguments
from simsage.sdk.workflow.retry import RetryPolicy
from simsage.sdk.workflow.steps import ConfigurableRetryStep

_KINDS = {"create_model": ("Model", "CreateModel"), "create_model_package": ("RegisterModel",) * 2}


class _ModelSubStep(ConfigurableRetryStep):
    def __init__(self, name: str, step_type: str, parent: ModelStep, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.step_type = step_type
        self._parent = parent

    def arguments(self, pipeline_name: str) -> dict[str, Any]:
        return self._parent._request(pipeline_name, self.name)


class ModelStep:
    """A step collection of one step that creates or registers a model.

    ``properties`` are that step's (``ModelName`` of a created model,
    ``ModelPackageArn`` of a registered one); ``steps`` is the one step.
    """

    def __init__(
        self,
        name: str,
        step_args: StepArguments,
        depends_on: list[Any] | None = None,
        retry_policies: list[RetryPolicy] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(step_args, StepArguments) or step_args.caller_name not in (
            "create",
            "register",
        ):
            raise TypeError(
                f"ModelStep {name!r}: step_args must be model.create(...) or "
                "model.register(...) with the model's sagemaker_session a PipelineSession."
            )
        self.name = name
        self.step_args = step_args
        step_type, suffix = (
            ("Model", "CreateModel")
            if step_args.caller_name == "create"
            else ("RegisterModel", "RegisterModel")
        )
        self._step = _ModelSubStep(
            f"{name}-{suffix}",
            step_type,
            self,
            retry_policies=retry_policies,
            display_name=display_name,
            description=description,
            depends_on=depends_on,
        )

    @property
    def steps(self) -> list[ConfigurableRetryStep]:
        return [self._step]

    @property
    def properties(self):
        return self._step.properties

    def _request(self, pipeline_name: str, step_name: str) -> dict[str, Any]:
        operation, request = self.step_args.build(pipeline_name, step_name)
        if _KINDS[operation][0] != self._step.step_type:
            raise ValueError(f"ModelStep {self.name!r}: unexpected {operation} request.")
        return request
