"""A pipeline definition: the JSON the SDK writes (``Pipeline.definition()``), parsed,
checked, and turned into the graph an execution runs.

The definition (Version ``2020-12-01``) is ``Parameters`` (Name, Type String | Integer |
Float | Boolean, DefaultValue, EnumValues), optional ``PipelineExperimentConfig`` and
``MlflowConfig`` (SDK v3) and ``Steps``. A step has ``Name``, ``Type`` and ``Arguments``,
optionally ``DependsOn`` (step names, or SDK v3's ``{"Step": …, "Trigger": "Failed" |
"Stopped" | "Any"}``), ``DisplayName``, ``Description``, ``CacheConfig`` (``Enabled``, ``ExpireAfter``
as an ISO 8601 duration), ``RetryPolicies`` and (Processing steps) ``PropertyFiles``.

Step types simsage runs: ``Processing``, ``Training``, ``Tuning``, ``Transform`` (their
Arguments are the job's Create request without the job name), ``Model`` (CreateModel;
the SDK's ``ModelStep`` names it ``<name>-CreateModel``), ``RegisterModel``
(CreateModelPackage; ``<name>-RegisterModel``, or the old ``RegisterModel`` collection's
``<name>-RegisterModel`` and a ``<name>-RepackModel-…`` Training step), ``Condition``
(``Arguments.Conditions``, ``IfSteps``, ``ElseSteps``: nested steps) and ``Fail``
(``Arguments.ErrorMessage``). Every other type AWS knows is refused by name
(:data:`NOT_RUN`), as is a type nobody knows.

The graph (:meth:`PipelineDefinition.graph`, built by :mod:`simsage.pipelines.graph`):
a step needs the steps its expressions read, the steps in its ``DependsOn`` and, when it
sits in a Condition step's IfSteps or ElseSteps, that Condition step (it is *gated*, and
runs only if the outcome chooses its branch). :meth:`Dag.plan` says what may start.

Checks, all made when the definition is parsed so that CreatePipeline refuses a pipeline
that could never run. Structure first (``Unable to parse pipeline definition. …``, the
service's words; the first problem raises at once): JSON, the Version, unknown properties
(``Cannot parse object, unknown property 'X'``), step types, the shapes of
CacheConfig, RetryPolicies, PropertyFiles and conditions. Then meaning (``Invalid pipeline
definition: …``, every problem listed; :mod:`simsage.pipelines.checks`): unique step and
parameter names, default values of the declared type, references to parameters,
execution variables, steps and property files that exist, property paths that exist in the
step's Describe answer, a String parameter where the job's request wants a number, and
(:mod:`simsage.pipelines.graph`) cycles. Each error is a :class:`PipelineDefinitionError`
(``ValidationException``).

Starting an execution: :meth:`PipelineDefinition.parameter_values` types the given
parameter values (StartPipelineExecution sends strings) over the defaults.

This module parses and checks; the objects it builds and the schema's vocabulary are in
:mod:`simsage.pipelines.definition_model` (and importable from here).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from simsage.pipelines import expressions
from simsage.pipelines.checks import check_meaning
from simsage.pipelines.definition_model import (
    A_TYPE,
    NOT_RUN,
    PARAMETER_TYPES,
    RETRY_EXCEPTION_TYPES,
    RUN_TYPES,
    TRIGGERS,
    VERSION,
    CacheConfig,
    Parameter,
    PipelineDefinition,
    PropertyFile,
    RetryPolicy,
    Step,
    typed_value,
)
from simsage.pipelines.errors import PipelineDefinitionError
from simsage.pipelines.errors import unparsable as _unparsable
from simsage.pipelines.graph import Dag, Gate, Plan, StepNode, build_graph

__all__ = [
    "CacheConfig",
    "Dag",
    "Gate",
    "Parameter",
    "PipelineDefinition",
    "PipelineDefinitionError",
    "Plan",
    "PropertyFile",
    "RetryPolicy",
    "Step",
    "StepNode",
    "parse_definition",
]

_TOP_KEYS = {
    "Version",
    "Metadata",
    "Parameters",
    "PipelineExperimentConfig",
    "MlflowConfig",
    "Steps",
}
_STEP_KEYS = {
    "Name",
    "Type",
    "Arguments",
    "DependsOn",
    "DisplayName",
    "Description",
    "CacheConfig",
    "RetryPolicies",
    "PropertyFiles",
}
_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9\-_]{1,256}")
# ExpireAfter: ISO 8601 durations ("P30D", "PT1H") and the short forms the Pipelines guide
# shows ("30d", "5y", "T16m", "30dT5h"): the P is optional, the letters any case.
_DURATION = re.compile(
    r"P?(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?",
    re.IGNORECASE,
)


# -- parsing ------------------------------------------------------------------------------


def parse_definition(source: str | bytes | Mapping[str, Any]) -> PipelineDefinition:
    """Parse and check a pipeline definition (the JSON text CreatePipeline receives, or
    that JSON already loaded).

    Raises:
        PipelineDefinitionError: the definition is not JSON, not shaped as a definition,
            or refers to what does not exist, has a cycle … (every problem found).
    """
    if isinstance(source, (str, bytes)):
        try:
            document = json.loads(source)
        except ValueError as exc:
            raise _unparsable(f"The definition is not valid JSON: {exc}.") from None
    else:
        document = copy.deepcopy(dict(source))
    if not isinstance(document, dict):
        raise _unparsable("Expecting start of Json Object.")
    _check_keys(document, _TOP_KEYS, "the definition")
    if document.get("Version") != VERSION:
        raise _unparsable(
            f"Version must be {VERSION!r} (the only version of the definition schema); "
            f"got {document.get('Version')!r}."
        )
    parser = _Parser()
    parameters = parser.parameters(document.get("Parameters") or [])
    raw_steps = document.get("Steps") or []
    if not isinstance(raw_steps, list):
        raise _unparsable("Steps must be a list of steps.")
    top = parser.steps(raw_steps, gate=None, where="Steps")
    configs = {}
    for key in ("PipelineExperimentConfig", "MlflowConfig"):
        configs[key] = document.get(key)
        if configs[key] is not None and not isinstance(configs[key], dict):
            raise _unparsable(f"{key} must be an object.")
    check_meaning(parser.all_steps, parameters, configs, parser.problems)
    dag = build_graph(parser.all_steps)
    metadata = document.get("Metadata") or {}
    return PipelineDefinition(
        version=VERSION,
        metadata=metadata,
        parameters=parameters,
        experiment_config=configs["PipelineExperimentConfig"],
        mlflow_config=configs["MlflowConfig"],
        steps=parser.all_steps,
        top_level=tuple(top),
        document=document,
        _dag=dag,
    )


def _check_keys(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _unparsable(f"Cannot parse object, unknown property '{key}' in {where}.")


class _Parser:
    """Builds the steps and collects the meaning problems (structure problems raise at
    once: nothing after them could be read reliably)."""

    def __init__(self) -> None:
        self.all_steps: dict[str, Step] = {}
        self.problems: list[str] = []

    # structure

    def parameters(self, raw: Any) -> dict[str, Parameter]:
        if not isinstance(raw, list):
            raise _unparsable("Parameters must be a list.")
        out: dict[str, Parameter] = {}
        for i, item in enumerate(raw):
            where = f"Parameters[{i}]"
            if not isinstance(item, dict):
                raise _unparsable(f"{where} must be an object.")
            _check_keys(item, {"Name", "Type", "DefaultValue", "EnumValues"}, where)
            name, kind = item.get("Name"), item.get("Type")
            if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name):
                self.problems.append(
                    f"{where}: Name {name!r} must be 1-256 letters, digits, '-' or '_'"
                )
                continue
            if kind not in PARAMETER_TYPES:
                self.problems.append(
                    f"parameter {name!r}: Type {kind!r} is not one of {', '.join(PARAMETER_TYPES)}"
                )
                continue
            if name in out:
                self.problems.append(f"parameter {name!r} is declared more than once")
                continue
            default = item.get("DefaultValue")
            typed = None
            if default is not None:
                typed = typed_value(kind, default)
                if typed is None or (kind == "String" and not isinstance(default, str)):
                    self.problems.append(
                        f"parameter {name!r} is of type {kind}, but its DefaultValue "
                        f"{default!r} is not {A_TYPE[kind]} value"
                    )
                    continue
            enum = item.get("EnumValues")
            if enum is not None:
                if kind != "String" or not isinstance(enum, list) or not enum:
                    self.problems.append(
                        f"parameter {name!r}: EnumValues is a non-empty list, for String "
                        "parameters only"
                    )
                    continue
                enum = tuple(enum)
                if typed is not None and typed not in enum:
                    self.problems.append(
                        f"parameter {name!r}: DefaultValue {default!r} is not one of its "
                        f"EnumValues ({', '.join(map(str, enum))})"
                    )
            out[name] = Parameter(name, kind, typed, enum)
        return out

    def steps(self, raw: list[Any], gate: Gate | None, where: str) -> list[str]:
        names = []
        for i, item in enumerate(raw):
            step = self.step(item, gate, f"{where}[{i}]")
            names.append(step.name)
        return names

    def step(self, item: Any, gate: Gate | None, where: str) -> Step:
        if not isinstance(item, dict):
            raise _unparsable(f"{where} must be a step object.")
        name, kind = item.get("Name"), item.get("Type")
        if not isinstance(name, str) or not isinstance(kind, str):
            raise _unparsable(f"{where}: a step needs a string Name and Type.")
        label = f"step {name!r}"
        if kind in NOT_RUN:
            raise PipelineDefinitionError(
                f"Invalid pipeline definition: {label} is a {kind} step, which simsage does "
                f"not run (it runs {', '.join(RUN_TYPES)} steps). Remove the step, or run "
                "this pipeline on AWS (SIMSAGE_BACKEND=aws)."
            )
        if kind not in RUN_TYPES:
            raise _unparsable(
                f"{label} has unknown Type {kind!r}; a step's Type is one of "
                f"{', '.join(RUN_TYPES + NOT_RUN)}."
            )
        _check_keys(item, _STEP_KEYS, label)
        if not _NAME.fullmatch(name):
            self.problems.append(f"{label}: a step Name is 1-64 letters, digits, '-' or '_'")
        arguments = item.get("Arguments", {})
        if not isinstance(arguments, dict):
            raise _unparsable(f"{label}: Arguments must be an object.")
        depends, triggers = self.depends_on(item.get("DependsOn"), label)
        if_names: list[str] = []
        else_names: list[str] = []
        conditions: tuple[Any, ...] = ()
        args = arguments
        if kind == "Condition":
            _check_keys(arguments, {"Conditions", "IfSteps", "ElseSteps"}, f"{label}'s Arguments")
            raw_conditions = arguments.get("Conditions", [])
            if not isinstance(raw_conditions, list):
                raise _unparsable(f"{label}: Conditions must be a list.")
            for j, condition in enumerate(raw_conditions):
                self.condition(condition, f"{label}: Conditions[{j}]")
            conditions = tuple(raw_conditions)
            args = {"Conditions": raw_conditions}
        elif kind == "Fail":
            _check_keys(arguments, {"ErrorMessage"}, f"{label}'s Arguments")
        step = Step(
            name=name,
            type=kind,
            arguments=args,
            depends_on=depends,
            triggers=triggers,
            display_name=item.get("DisplayName"),
            description=item.get("Description"),
            cache_config=self.cache_config(item.get("CacheConfig"), label),
            retry_policies=self.retry_policies(item.get("RetryPolicies"), label, kind),
            property_files=self.property_files(item.get("PropertyFiles"), label, kind, arguments),
            gate=gate,
            conditions=conditions,
            raw=item,
        )
        if name in self.all_steps:
            self.problems.append(
                f"step name {name!r} is used by more than one step; step names must be unique"
            )
        else:
            self.all_steps[name] = step
        if kind == "Condition":
            for branch, names in (("IfSteps", if_names), ("ElseSteps", else_names)):
                raw_branch = arguments.get(branch, [])
                if not isinstance(raw_branch, list):
                    raise _unparsable(f"{label}: {branch} must be a list of steps.")
                names.extend(
                    self.steps(raw_branch, Gate(name, branch == "IfSteps"), f"{label}.{branch}")
                )
            if name in self.all_steps and self.all_steps[name] is step:
                self.all_steps[name] = dataclasses.replace(
                    step, if_steps=tuple(if_names), else_steps=tuple(else_names)
                )
        return step

    def depends_on(self, raw: Any, label: str) -> tuple[tuple[str, ...], dict[str, str]]:
        if raw is None:
            return (), {}
        if not isinstance(raw, list):
            raise _unparsable(f"{label}: DependsOn must be a list of step names.")
        names, triggers = [], {}
        for entry in raw:
            if isinstance(entry, dict):
                _check_keys(entry, {"Step", "Trigger"}, f"{label}'s DependsOn")
                name, trigger = entry.get("Step"), entry.get("Trigger", "Completed")
                if trigger not in TRIGGERS:
                    raise _unparsable(
                        f"{label}: DependsOn Trigger {trigger!r} is not one of "
                        f"{', '.join(TRIGGERS)}."
                    )
            else:
                name, trigger = entry, "Completed"
            if not isinstance(name, str):
                raise _unparsable(
                    f"{label}: a DependsOn entry is a step name or {{'Step': name, 'Trigger': …}}."
                )
            names.append(name)
            if trigger != "Completed":
                triggers[name] = trigger
        return tuple(names), triggers

    def condition(self, condition: Any, where: str) -> None:
        try:
            kind, args = expressions.condition_parts(condition)
        except expressions.ExpressionError as exc:
            raise _unparsable(f"{where}: {exc}.") from None
        needs = {
            "In": ("QueryValue", "Values"),
            "Not": ("Condition",),
            "Or": ("Conditions",),
        }.get(kind, ("LeftValue", "RightValue"))
        for member in needs:
            if member not in args:
                raise _unparsable(f"{where}: a {kind} condition needs {' and '.join(needs)}.")
        if kind == "Not":
            self.condition(args["Condition"], f"{where}.Condition")
        elif kind == "Or" or kind == "In":
            listed = args["Conditions" if kind == "Or" else "Values"]
            if not isinstance(listed, list):
                raise _unparsable(f"{where}: {kind}'s {needs[-1]} must be a list.")
            if kind == "Or":
                for j, nested in enumerate(listed):
                    self.condition(nested, f"{where}.Conditions[{j}]")

    def cache_config(self, raw: Any, label: str) -> CacheConfig | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("Enabled"), bool):
            raise _unparsable(
                f"{label}: CacheConfig is {{'Enabled': true|false, 'ExpireAfter': …}}."
            )
        _check_keys(raw, {"Enabled", "ExpireAfter"}, f"{label}'s CacheConfig")
        expire = raw.get("ExpireAfter")
        delta = None
        if expire is not None:
            match = _DURATION.fullmatch(expire) if isinstance(expire, str) else None
            if match is None and raw["Enabled"]:
                # Only when caching is on: the Pipelines guide says ExpireAfter is ignored
                # when Enabled is false.
                self.problems.append(
                    f"{label}: CacheConfig ExpireAfter {expire!r} is not an ISO 8601 duration "
                    "such as 'P30D', 'PT12H' or '30d'"
                )
            elif match is not None:
                y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
                delta = timedelta(
                    days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s
                )
        return CacheConfig(raw["Enabled"], expire, delta)

    def retry_policies(self, raw: Any, label: str, kind: str) -> tuple[RetryPolicy, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise _unparsable(f"{label}: RetryPolicies must be a list.")
        if kind in ("Condition", "Fail"):
            self.problems.append(f"{label}: a {kind} step cannot have RetryPolicies")
        out = []
        for j, policy in enumerate(raw):
            where = f"{label}: RetryPolicies[{j}]"
            if not isinstance(policy, dict):
                raise _unparsable(f"{where} must be an object.")
            _check_keys(
                policy,
                {
                    "ExceptionType",
                    "IntervalSeconds",
                    "BackoffRate",
                    "MaxAttempts",
                    "ExpireAfterMin",
                },
                where,
            )
            types = policy.get("ExceptionType")
            if not isinstance(types, list) or not types:
                self.problems.append(f"{where}: ExceptionType must list exception types")
                continue
            bad = [t for t in types if t not in RETRY_EXCEPTION_TYPES]
            if bad:
                self.problems.append(
                    f"{where}: unknown ExceptionType {', '.join(map(str, bad))}; the types are "
                    f"{', '.join(RETRY_EXCEPTION_TYPES)}"
                )
                continue
            attempts, expire = policy.get("MaxAttempts"), policy.get("ExpireAfterMin")
            if (attempts is None) == (expire is None):
                self.problems.append(f"{where}: give exactly one of MaxAttempts and ExpireAfterMin")
                continue
            interval, rate = policy.get("IntervalSeconds", 1), policy.get("BackoffRate", 2.0)
            # The SDK's bounds (sagemaker/workflow/retry.py): 1-20 attempts, at most
            # 14400 minutes, a non-negative interval and rate.
            bounds = {
                "MaxAttempts": (attempts, 1, 20),
                "ExpireAfterMin": (expire, 1, 14400),
                "IntervalSeconds": (interval, 0, None),
            }
            wrong = [
                f"{k} must be a whole number from {low}" + (f" to {high}" if high else " up")
                for k, (v, low, high) in bounds.items()
                if v is not None
                and (
                    not isinstance(v, int)
                    or isinstance(v, bool)
                    or v < low
                    or (high is not None and v > high)
                )
            ]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 0:
                wrong.append("BackoffRate must be a number of 0 or more")
            if wrong:
                self.problems.append(f"{where}: {'; '.join(wrong)}")
                continue
            out.append(RetryPolicy(tuple(types), interval, float(rate), attempts, expire))
        return tuple(out)

    def property_files(
        self, raw: Any, label: str, kind: str, arguments: Mapping[str, Any]
    ) -> dict[str, PropertyFile]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            raise _unparsable(f"{label}: PropertyFiles must be a list.")
        if kind != "Processing":
            self.problems.append(f"{label}: only Processing steps have PropertyFiles")
            return {}
        outputs = (arguments.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        output_names = {o.get("OutputName") for o in outputs if isinstance(o, dict)}
        out: dict[str, PropertyFile] = {}
        for j, item in enumerate(raw):
            where = f"{label}: PropertyFiles[{j}]"
            if not isinstance(item, dict):
                raise _unparsable(f"{where} must be an object.")
            _check_keys(item, {"PropertyFileName", "OutputName", "FilePath"}, where)
            values = [item.get(k) for k in ("PropertyFileName", "OutputName", "FilePath")]
            if not all(isinstance(v, str) and v for v in values):
                raise _unparsable(f"{where} needs PropertyFileName, OutputName and FilePath.")
            pf = PropertyFile(*values)
            if pf.name in out:
                self.problems.append(f"{label}: property file {pf.name!r} is declared twice")
            if pf.output_name not in output_names:
                self.problems.append(
                    f"{label}: property file {pf.name!r} names OutputName {pf.output_name!r}, "
                    f"which is not one of the step's outputs "
                    f"({', '.join(sorted(map(str, output_names))) or 'none'})"
                )
            out[pf.name] = pf
        return out

    # meaning
