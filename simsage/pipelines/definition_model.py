"""The parsed pipeline definition: its vocabulary (step types, retry exception types,
DependsOn triggers) and the objects :func:`simsage.pipelines.definition.parse_definition`
builds (:class:`Parameter`, :class:`CacheConfig`, :class:`RetryPolicy`,
:class:`PropertyFile`, :class:`Step`, :class:`PipelineDefinition`). What a definition may
say and how it is checked is :mod:`simsage.pipelines.definition`'s; an execution reads
these objects (:mod:`simsage.pipelines.runner`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from simsage.errors import ValidationException
from simsage.pipelines import expressions, shapes
from simsage.pipelines.graph import Dag, Gate

VERSION = "2020-12-01"
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
JOB_TYPES = tuple(shapes.JOB_STEP_SHAPES)  # Processing, Training, Tuning, Transform, Model, …
RUN_TYPES = (*JOB_TYPES, "Condition", "Fail")
# Step types of SageMaker Pipelines that simsage does not run (the SDK's StepTypeEnum and
# the step metadata ListPipelineExecutionSteps knows).
NOT_RUN = (
    "Callback",
    "Lambda",
    "QualityCheck",
    "ClarifyCheck",
    "EMR",
    "EMRServerless",
    "AutoML",
    "EndpointConfig",
    "Endpoint",
    "InferenceComponent",
    "Lineage",
    "Notebook",
    "NotebookJob",
    "Athena",
    "Cleanup",
    "ForEach",
    "HubContent",
    "Job",
    "BedrockCustomModel",
    "BedrockCustomModelDeployment",
    "BedrockProvisionedModelThroughput",
    "BedrockModelImport",
)
RETRY_EXCEPTION_TYPES = (
    "Step.SERVICE_FAULT",
    "Step.THROTTLING",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)
# DependsOn entries {"Step": …, "Trigger": …} (SDK v3's StepDependency): when the dependent
# step runs. A plain name is "Completed".
TRIGGERS = ("Completed", "Failed", "Stopped", "Any")


# -- the parsed definition ----------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter.

    Attributes:
        name: ``Name``.
        type: ``String``, ``Integer``, ``Float`` or ``Boolean``.
        default: ``DefaultValue`` (typed), or None when an execution must give a value.
        enum_values: a String parameter's allowed values, or None.
    """

    name: str
    type: str
    default: Any = None
    enum_values: tuple[str, ...] | None = None

    def value_of(self, given: Any) -> Any:
        """``given`` (StartPipelineExecution sends every value as a string) as this
        parameter's type.

        Raises:
            ValidationException: it is not a value of the type, or not an allowed value.
        """
        value = typed_value(self.type, given)
        if value is None:
            raise ValidationException(
                f"Parameter {self.name!r} is of type {self.type}; {given!r} is not "
                f"{A_TYPE[self.type]} value. Pass {_EXAMPLE[self.type]}."
            )
        if self.enum_values is not None and value not in self.enum_values:
            raise ValidationException(
                f"Parameter {self.name!r} must be one of {', '.join(self.enum_values)}; "
                f"got {given!r}."
            )
        return value


A_TYPE = {"String": "a String", "Integer": "an Integer", "Float": "a Float", "Boolean": "a Boolean"}
_EXAMPLE = {
    "String": "a string",
    "Integer": "a whole number such as '3'",
    "Float": "a number such as '0.5'",
    "Boolean": "'true' or 'false'",
}


def typed_value(kind: str, given: Any) -> Any:
    """``given`` as a value of parameter type ``kind``, or None if it is not one."""
    if kind == "String":
        return given if isinstance(given, str) else None
    if kind == "Boolean":
        if isinstance(given, bool):
            return given
        if isinstance(given, str) and given.lower() in ("true", "false"):
            return given.lower() == "true"
        return None
    if isinstance(given, bool):
        return None
    if kind == "Integer":
        if isinstance(given, int):
            return given
        if isinstance(given, float) and given.is_integer():
            return int(given)
        if isinstance(given, str) and re.fullmatch(r"\s*[-+]?\d+\s*", given):
            return int(given)
        return None
    # Float
    if isinstance(given, (int, float)):
        return float(given)
    if isinstance(given, str):
        try:
            return float(given)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class CacheConfig:
    """A step's ``CacheConfig``.

    Attributes:
        enabled: ``Enabled``.
        expire_after: ``ExpireAfter`` as written (ISO 8601), or None (no expiry).
        expire_after_delta: the same as a timedelta (a year is 365 days, a month 30).
    """

    enabled: bool
    expire_after: str | None = None
    expire_after_delta: timedelta | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """One of a step's ``RetryPolicies``.

    Attributes:
        exception_types: ``ExceptionType`` (``Step.SERVICE_FAULT``,
            ``SageMaker.CAPACITY_ERROR`` …).
        interval_seconds: ``IntervalSeconds`` before the first retry.
        backoff_rate: ``BackoffRate``, the interval's multiplier per retry.
        max_attempts: ``MaxAttempts``, or None.
        expire_after_min: ``ExpireAfterMin``, or None (one of the two is set).
    """

    exception_types: tuple[str, ...]
    interval_seconds: int = 1
    backoff_rate: float = 2.0
    max_attempts: int | None = None
    expire_after_min: int | None = None


@dataclass(frozen=True)
class PropertyFile:
    """A Processing step's property file: ``FilePath`` under the output ``OutputName``."""

    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class Step:
    """One step of the definition (nested steps of a Condition included).

    Attributes:
        name, type, display_name, description: as written.
        arguments: ``Arguments`` as written (for a Condition step, without the nested
            steps: ``{"Conditions": [...]}``); resolve them with
            :func:`simsage.pipelines.expressions.resolve`.
        depends_on: the step names in ``DependsOn``.
        triggers: DependsOn step → its ``Trigger`` for the entries written as
            ``{"Step": …, "Trigger": "Failed" | "Stopped" | "Any"}`` (SDK v3's
            StepDependency: the step runs when that step ends so); a plain name is
            ``Completed`` and not listed.
        cache_config, retry_policies, property_files: as parsed (property files by name).
        gate: the branch the step sits in, or None for a top-level step.
        if_steps, else_steps: a Condition step's branches (step names).
        conditions: a Condition step's ``Conditions``.
        raw: the step's JSON as written (nested steps included).
    """

    name: str
    type: str
    arguments: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    triggers: Mapping[str, str] = field(default_factory=dict)
    display_name: str | None = None
    description: str | None = None
    cache_config: CacheConfig | None = None
    retry_policies: tuple[RetryPolicy, ...] = ()
    property_files: Mapping[str, PropertyFile] = field(default_factory=dict)
    gate: Gate | None = None
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    conditions: tuple[Any, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def error_message(self) -> Any:
        """A Fail step's ``ErrorMessage`` (a string or an expression)."""
        return self.arguments.get("ErrorMessage", "")


@dataclass(frozen=True)
class PipelineDefinition:
    """A parsed, checked pipeline definition.

    Attributes:
        version: ``Version``.
        metadata: ``Metadata`` as written.
        parameters: name → :class:`Parameter`, in definition order.
        experiment_config: ``PipelineExperimentConfig`` as written, or None.
        mlflow_config: ``MlflowConfig`` as written (SDK v3), or None.
        steps: name → :class:`Step`, every step (nested ones too) in definition order.
        top_level: the names of the top-level steps.
        document: the whole definition as parsed JSON.
    """

    version: str
    metadata: Mapping[str, Any]
    parameters: Mapping[str, Parameter]
    experiment_config: Mapping[str, Any] | None
    mlflow_config: Mapping[str, Any] | None
    steps: Mapping[str, Step]
    top_level: tuple[str, ...]
    document: Mapping[str, Any] = field(repr=False)
    _dag: Dag | None = field(default=None, repr=False, compare=False)

    def graph(self) -> Dag:
        """The execution graph (computed when the definition was parsed)."""
        assert self._dag is not None
        return self._dag

    def property_file_reader(
        self,
        answer_of: Callable[[str], Mapping[str, Any] | None],
        read_s3_json: Callable[[str], Any],
    ) -> Callable[[str, str], Any]:
        """A ``read_property_file`` for :class:`~simsage.pipelines.expressions.Context`:
        ``(step, name)`` → the JSON of that step's property file, read with
        ``read_s3_json`` from ``FilePath`` under the step's output ``OutputName`` (the
        step's DescribeProcessingJob answer, from ``answer_of``, says where it went).

        The returned reader raises :class:`~simsage.pipelines.expressions.ExpressionError`
        naming the step, the file and its S3 URI when it cannot be read.
        """

        def read(step: str, name: str) -> Any:
            declared = self.steps[step].property_files.get(name) if step in self.steps else None
            if declared is None:
                raise expressions.ExpressionError(
                    f"Steps.{step}.PropertyFiles.{name}: the step declares no such property file"
                )
            answer = answer_of(step)
            if answer is None:
                raise expressions.ExpressionError(
                    f"Steps.{step}.PropertyFiles.{name}: step {step!r} has not succeeded"
                )
            uri = expressions.property_file_uri(answer, declared.output_name, declared.file_path)
            try:
                return read_s3_json(uri)
            except expressions.ExpressionError:
                raise
            except Exception as exc:  # a missing object, a file that is not JSON …
                raise expressions.ExpressionError(
                    f"property file {name!r} of step {step!r} ({declared.file_path} in output "
                    f"{declared.output_name!r}, {uri}) cannot be read: {exc}"
                ) from None

        return read

    def parameter_values(self, given: Mapping[str, Any] | list[Mapping[str, Any]] = ()) -> dict:
        """The typed value of every parameter for an execution: ``given`` (a name → value
        mapping, or StartPipelineExecution's ``PipelineParameters`` list of
        ``{"Name", "Value"}``) over the defaults.

        Raises:
            ValidationException: a value for a parameter the pipeline does not declare,
                a parameter with neither a value nor a default, a value not of the
                parameter's type.
        """
        if isinstance(given, list):
            pairs = [(p["Name"], p["Value"]) for p in given]
        else:
            pairs = list(dict(given).items())
        names = [n for n, _ in pairs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationException(
                f"Parameter {', '.join(repeated)} is given more than once; give each once."
            )
        unknown = [n for n in names if n not in self.parameters]
        if unknown:
            declared = ", ".join(self.parameters) or "none"
            raise ValidationException(
                f"Parameter {', '.join(unknown)} is not defined in the pipeline definition "
                f"(its parameters: {declared})."
            )
        values = dict(pairs)
        out: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            if name in values:
                out[name] = parameter.value_of(values[name])
            elif parameter.default is not None:
                out[name] = parameter.default
            else:
                raise ValidationException(
                    f"Parameter {name!r} has no default value; pass a value for it when "
                    "starting the execution."
                )
        return out
