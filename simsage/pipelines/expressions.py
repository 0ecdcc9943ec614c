"""The expression language inside a pipeline definition, evaluated while an execution
runs.

Anywhere in a step's ``Arguments`` (and in a Fail step's ``ErrorMessage``, a Condition
step's ``Conditions``, the ``PipelineExperimentConfig``) a JSON object may stand for a
value that is known only when the execution runs:

``{"Get": "Parameters.<Name>"}``
    the execution's value of a pipeline parameter, typed as the parameter is declared
    (Integer → int, Float → float, Boolean → bool, String → str).
``{"Get": "Execution.<Variable>"}``
    ``PipelineExecutionId``, ``PipelineExecutionArn``, ``PipelineName``, ``PipelineArn``,
    ``StartDateTime``, ``CurrentDateTime`` (the SDK's ``ExecutionVariables``; also
    ``TrainingJobName`` and ``ProcessingJobName`` when the context supplies them).
``{"Get": "Steps.<Step>.<path>"}``
    a member of a finished step's answer: the Describe response of the step's job
    (``Steps.Train.ModelArtifacts.S3ModelArtifacts``,
    ``Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``), a Condition
    step's ``Outcome``. Path syntax: :mod:`simsage.pipelines.shapes`.
``{"Std:Join": {"On": ",", "Values": [...]}}``
    the values (each resolved) as text, joined.
``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.<Step>.PropertyFiles.<Name>"}, "Path": "a.b"}}``
    a value read from a JSON file a step wrote (its ``PropertyFiles`` declare which
    output and file); ``Path`` is JSONPath (jsonpath-ng). ``{"Std:JsonGet": {"S3Uri": …,
    "Path": …}}`` reads a JSON object at an S3 URI (the SDK's ``@step`` functions).

Conditions (a Condition step's ``Conditions``, all of which must hold) are objects with a
``Type``: ``Equals``, ``GreaterThan``, ``GreaterThanOrEqualTo``, ``LessThan``,
``LessThanOrEqualTo`` (``LeftValue``, ``RightValue``), ``In`` (``QueryValue``,
``Values``), ``Not`` (``Condition``), ``Or`` (``Conditions``). The SDK writes the operands
next to ``Type``; an ``Arguments`` object holding them is read too.

Type rules of comparisons: numbers compare as numbers (``1 == 1.0``); a string that
reads as a number is compared as that number when the other side is a number (Describe
answers carry numbers as text in places, e.g. hyperparameters); booleans equal ``true``
/ ``false`` in any case. ``Equals`` of values of different kinds is false; ordering
compares numbers only and is an :class:`ExpressionError` otherwise (a pipeline that
compares a string with a threshold is a mistake the user should see).

The evaluator knows nothing of stores or jobs: the scheduler hands it a
:class:`Context` holding the parameter values, the execution variables, each finished
step's answer and the readers of property files and S3 objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simsage.errors import ValidationException
from simsage.pipelines import shapes

EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
    "TrainingJobName",
    "ProcessingJobName",
)
FUNCTIONS = ("Std:Join", "Std:JsonGet")
COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")


class ExpressionError(ValidationException):
    """An expression that cannot be evaluated: a step that has not run or has no such
    property, a property file that cannot be read, incomparable values. The message
    names the expression's path; the scheduler makes it the step's failure reason."""


@dataclass
class Context:
    """What expressions are evaluated against.

    Attributes:
        parameters: parameter name → typed value (``PipelineDefinition.parameter_values``).
        execution: execution variable → value (``PipelineExecutionId`` …). A missing
            ``CurrentDateTime`` is the time of evaluation (``now``).
        steps: step name → its answer (a Describe response; a Condition step's
            ``{"Outcome": "True"}``), or a callable returning it or None when the step
            has not finished successfully.
        read_property_file: ``(step name, property file name) -> parsed JSON``; see
            :func:`property_file_uri` for where the file lives.
        read_s3_json: ``(s3 uri) -> parsed JSON``, for ``Std:JsonGet`` with ``S3Uri``.
        now: the clock for ``CurrentDateTime``.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    execution: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, Any] | Callable[[str], Any] = field(default_factory=dict)
    read_property_file: Callable[[str, str], Any] | None = None
    read_s3_json: Callable[[str], Any] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def step_answer(self, name: str) -> Any:
        if callable(self.steps):
            return self.steps(name)
        return self.steps.get(name)


def is_expression(value: Any) -> bool:
    """Whether ``value`` is an expression object (``Get`` or a ``Std:`` function)."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Get", *FUNCTIONS)


def resolve(value: Any, context: Context) -> Any:
    """``value`` with every expression inside it replaced by its value; dicts and lists
    are walked (and copied: the caller's value is never changed).

    Raises:
        ExpressionError: an expression cannot be evaluated (message names it).
    """
    if isinstance(value, dict):
        if is_expression(value):
            return _evaluate(value, context)
        return {k: resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, context) for v in value]
    return value


def _evaluate(expr: dict, context: Context) -> Any:
    ((kind, body),) = expr.items()
    if kind == "Get":
        return get(body, context)
    if kind == "Std:Join":
        return _join(body, context)
    return _json_get(body, context)


def get(reference: Any, context: Context) -> Any:
    """The value of a ``Get`` reference (``Parameters.X``, ``Execution.X``,
    ``Steps.X.path``).

    Raises:
        ExpressionError: the reference is malformed, or names something without a value.
    """
    if not isinstance(reference, str):
        raise ExpressionError(f"Get takes a string reference, not {reference!r}")
    root, _, rest = reference.partition(".")
    if root == "Parameters":
        if rest not in context.parameters:
            raise ExpressionError(f"{reference}: the execution has no parameter {rest!r}")
        return context.parameters[rest]
    if root == "Execution":
        if rest == "CurrentDateTime" and rest not in context.execution:
            return _datetime_text(context.now())
        if rest not in context.execution:
            raise ExpressionError(
                f"{reference}: no execution variable {rest!r} here "
                f"(known: {', '.join(EXECUTION_VARIABLES)})"
            )
        value = context.execution[rest]
        return _datetime_text(value) if isinstance(value, datetime) else value
    if root == "Steps":
        step, _, path = rest.partition(".")
        answer = context.step_answer(step)
        if answer is None:
            raise ExpressionError(
                f"{reference}: step {step!r} has not succeeded in this execution, so its "
                "properties are not known"
            )
        if not path:
            raise ExpressionError(f"{reference}: name a property of step {step!r}")
        try:
            return shapes.lookup(answer, shapes.parse_path(path), step=step)
        except shapes.PathError as exc:
            raise ExpressionError(str(exc)) from None
    raise ExpressionError(
        f"cannot resolve {{'Get': {reference!r}}}: a reference starts with Parameters., "
        "Execution. or Steps."
    )


def _datetime_text(value: datetime) -> str:
    # ISO 8601 in UTC, as the service renders execution times into strings.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _join(body: Any, context: Context) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
        raise ExpressionError(f"Std:Join takes {{'On': str, 'Values': [...]}}, not {body!r}")
    on = body.get("On", "")
    if not isinstance(on, str):
        raise ExpressionError(f"Std:Join's On must be a string, not {on!r}")
    parts = []
    for item in body["Values"]:
        value = resolve(item, context)
        if value is None:
            raise ExpressionError(f"Std:Join: {item!r} has no value")
        parts.append(shapes.to_text(value))
    return on.join(parts)


def _json_get(body: Any, context: Context) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
        raise ExpressionError(f"Std:JsonGet takes a PropertyFile or S3Uri and a Path: {body!r}")
    path = body["Path"]
    if "PropertyFile" in body:
        reference = body["PropertyFile"]
        ref = reference.get("Get") if isinstance(reference, dict) else None
        parts = ref.split(".") if isinstance(ref, str) else []
        if len(parts) != 4 or parts[0] != "Steps" or parts[2] != "PropertyFiles":
            raise ExpressionError(
                "Std:JsonGet's PropertyFile is {'Get': 'Steps.<Step>.PropertyFiles.<Name>'}, "
                f"not {reference!r}"
            )
        step, name = parts[1], parts[3]
        if context.step_answer(step) is None:
            raise ExpressionError(
                f"{ref}: step {step!r} has not succeeded in this execution, so its property "
                "file cannot be read"
            )
        if context.read_property_file is None:
            raise ExpressionError(f"{ref}: no property-file reader in this context")
        where = ref
        document = context.read_property_file(step, name)
    elif "S3Uri" in body:
        uri = resolve(body["S3Uri"], context)
        if context.read_s3_json is None:
            raise ExpressionError(f"Std:JsonGet of {uri}: no S3 reader in this context")
        where = uri
        document = context.read_s3_json(uri)
    else:
        raise ExpressionError(f"Std:JsonGet needs a PropertyFile or an S3Uri: {body!r}")
    return json_path(document, path, where=where)


def json_path(document: Any, path: str, *, where: str = "the document") -> Any:
    """The single value at JSONPath ``path`` in ``document``.

    Raises:
        ExpressionError: the path does not parse, matches nothing, or matches several values.
    """
    from jsonpath_ng.exceptions import JsonPathParserError
    from jsonpath_ng.ext import parse

    try:
        matches = parse(path).find(document)
    except (JsonPathParserError, Exception) as exc:  # jsonpath-ng raises plain Exceptions too
        raise ExpressionError(f"Std:JsonGet: {path!r} is not a JSONPath ({exc})") from None
    if not matches:
        raise ExpressionError(f"Std:JsonGet: {path!r} matches nothing in {where}")
    if len(matches) > 1:
        raise ExpressionError(f"Std:JsonGet: {path!r} matches {len(matches)} values in {where}")
    return matches[0].value


def property_file_uri(answer: Mapping[str, Any], output_name: str, file_path: str) -> str:
    """Where a Processing step's property file lives: its ``FilePath`` under the S3 URI
    of the output called ``OutputName`` in the step's DescribeProcessingJob answer.

    Raises:
        ExpressionError: the job has no such output.
    """
    outputs = (answer.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        if output.get("OutputName") == output_name:
            base = output["S3Output"]["S3Uri"].rstrip("/")
            return f"{base}/{file_path.lstrip('/')}"
    names = ", ".join(o.get("OutputName", "?") for o in outputs) or "none"
    raise ExpressionError(
        f"the property file's OutputName {output_name!r} is not an output of the job "
        f"(its outputs: {names})"
    )


def tuning_properties(
    describe: Mapping[str, Any], summaries: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """The answer a Tuning step's properties are read from: the tuning job's Describe
    answer plus ``TrainingJobSummaries``, best first by the objective and at most 50, so
    that ``TrainingJobSummaries[0]`` is the best job (the SDK's
    ``TuningStep.get_top_model_s3_uri(top_k=0)``). Jobs without a final objective value
    go last, in their given order."""
    objective = (describe.get("HyperParameterTuningJobConfig") or {}).get(
        "HyperParameterTuningJobObjective"
    ) or {}
    maximize = objective.get("Type", "Maximize") == "Maximize"

    def rank(item: tuple[int, Mapping[str, Any]]) -> tuple[int, float, int]:
        position, summary = item
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        value = final.get("Value")
        if not isinstance(value, (int, float)) or math.isnan(value):
            return (1, 0.0, position)
        return (0, -value if maximize else value, position)

    ordered = [s for _, s in sorted(enumerate(summaries), key=rank)][:50]
    return {**describe, "TrainingJobSummaries": ordered}


# -- conditions -------------------------------------------------------------------------


def evaluate_conditions(conditions: list[Any], context: Context) -> bool:
    """Whether every condition holds (a Condition step's outcome).

    Raises:
        ExpressionError: a condition is malformed or compares what cannot be compared.
    """
    return all(evaluate_condition(c, context) for c in conditions)


def evaluate_condition(condition: Any, context: Context) -> bool:
    """Whether one condition (``{"Type": "GreaterThan", "LeftValue": …, "RightValue": …}``)
    holds.

    Raises:
        ExpressionError: as :func:`evaluate_conditions`.
    """
    kind, args = condition_parts(condition)
    if kind in COMPARISONS:
        left = resolve(args.get("LeftValue"), context)
        right = resolve(args.get("RightValue"), context)
        if kind == "Equals":
            return values_equal(left, right)
        return _ordered(kind, left, right)
    if kind == "In":
        query = resolve(args.get("QueryValue"), context)
        values = args.get("Values")
        if not isinstance(values, list):
            raise ExpressionError(f"In: Values must be a list, not {values!r}")
        return any(values_equal(query, resolve(v, context)) for v in values)
    if kind == "Not":
        return not evaluate_condition(args.get("Condition", args.get("Expression")), context)
    # Or
    nested = args.get("Conditions")
    if not isinstance(nested, list):
        raise ExpressionError(f"Or: Conditions must be a list, not {nested!r}")
    return any(evaluate_condition(c, context) for c in nested)


def condition_parts(condition: Any) -> tuple[str, Mapping[str, Any]]:
    """``(Type, its operands)`` of a condition object, its operands next to ``Type`` (as
    the SDK writes them) or in ``Arguments``.

    Raises:
        ExpressionError: not an object with a known ``Type``.
    """
    if not isinstance(condition, dict) or condition.get("Type") not in CONDITION_TYPES:
        kind = condition.get("Type") if isinstance(condition, dict) else None
        raise ExpressionError(
            f"unknown condition type {kind!r}; a condition's Type is one of "
            f"{', '.join(CONDITION_TYPES)}"
        )
    args = condition.get("Arguments")
    return condition["Type"], args if isinstance(args, dict) else condition


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None


def values_equal(left: Any, right: Any) -> bool:
    """``Equals`` under the comparison type rules (module docstring)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return _boolean(left) is not None and _boolean(left) == _boolean(right)
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        a, b = _number(left), _number(right)
        return a is not None and b is not None and a == b
    return type(left) is type(right) and left == right


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _ordered(kind: str, left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        raise ExpressionError(
            f"{kind} compares numbers; got {left!r} ({_kind(left)}) and {right!r} ({_kind(right)})"
        )
    return {
        "GreaterThan": a > b,
        "GreaterThanOrEqualTo": a >= b,
        "LessThan": a < b,
        "LessThanOrEqualTo": a <= b,
    }[kind]


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )


def references(value: Any) -> list[str]:
    """Every ``Get`` reference inside ``value`` (walking functions, conditions, dicts and
    lists), in order; a ``Std:JsonGet`` property file counts as its
    ``Steps.<Step>.PropertyFiles.<Name>`` reference."""
    found: list[str] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            found.append(value["Get"])
            return
        for v in value.values():
            _collect(v, found)
    elif isinstance(value, list):
        for v in value:
            _collect(v, found)
