"""What a parsed definition means, checked before CreatePipeline accepts it: every
reference names something that exists and the value it would put in a job's request
can be of the right type.

- ``{"Get": "Parameters.X"}``: X is declared in ``Parameters``.
- ``{"Get": "Execution.X"}``: X is an execution variable
  (:data:`simsage.pipelines.expressions.EXECUTION_VARIABLES`).
- ``{"Get": "Steps.X.<path>"}``: step X exists and is not the step itself; a Fail step has
  no properties, a Condition step only ``Outcome``, ``PropertyFiles.<Name>`` must be one
  the step declares, any other path must exist in the step's Describe answer
  (:func:`simsage.pipelines.shapes.check_path`).
- ``DependsOn`` names existing steps other than the step itself.
- ``Std:`` functions are ``Std:Join`` and ``Std:JsonGet``, well formed.
- A parameter placed directly where the job's Create request wants a number or a
  boolean is of a type that fits (a String parameter in ``InstanceCount`` would fail
  every execution); a number where a string goes is fine (written as text when run).
- ``PipelineExperimentConfig`` and ``MlflowConfig`` use only parameters and execution
  variables.
- A step that runs when another fails or stops (a DependsOn ``Trigger``) does not read
  that step's properties.

Every problem is collected, and all are reported in one error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simsage.pipelines import expressions, shapes
from simsage.pipelines.errors import raise_problems

if TYPE_CHECKING:
    from simsage.pipelines.definition_model import Parameter, Step

JOB_TYPES = tuple(shapes.JOB_STEP_SHAPES)
_A_SHAPE = {
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "boolean": "a boolean",
}


def check_meaning(
    steps: Mapping[str, Step],
    parameters: Mapping[str, Parameter],
    configs: Mapping[str, Mapping[str, Any] | None],
    problems: list[str],
) -> None:
    """Check the references of every step and of the pipeline-wide configs
    (``PipelineExperimentConfig``, ``MlflowConfig``: key → value or None); ``problems``
    (those found while parsing) are reported together with these.

    Raises:
        PipelineDefinitionError: listing every problem.
    """
    _Checker(steps, problems).check_meaning(parameters, configs)


class _Checker:
    def __init__(self, steps: Mapping[str, Step], problems: list[str]) -> None:
        self.all_steps = steps
        self.problems = problems

    def check_meaning(
        self,
        parameters: Mapping[str, Parameter],
        configs: Mapping[str, Mapping[str, Any] | None],
    ) -> None:
        for step in self.all_steps.values():
            label = f"step {step.name!r}"
            for dep in step.depends_on:
                if dep == step.name:
                    self.problems.append(f"{label} lists itself in DependsOn")
                elif dep not in self.all_steps:
                    self.problems.append(
                        f"{label}: DependsOn names step {dep!r}, which is not in the pipeline"
                    )
            refs = expressions.references(step.arguments)
            for ref in refs:
                self.reference(ref, step, parameters)
            read = {r.split(".")[1] for r in refs if isinstance(r, str) and r.startswith("Steps.")}
            for dep, trigger in step.triggers.items():
                if dep in read:
                    self.problems.append(
                        f"{label} reads properties of step {dep!r} but runs only when it ends "
                        f"{trigger}; a step's properties are known only when it succeeds"
                    )
            self.syntax(step.arguments, label)
            if step.type in JOB_TYPES:
                self.parameter_types(step, parameters)
        for where, config in configs.items():
            if config is None:
                continue
            for ref in expressions.references(config):
                if not isinstance(ref, str) or ref.startswith("Steps."):
                    self.problems.append(
                        f"{where}: {{'Get': {ref!r}}} — only Parameters and Execution "
                        "variables can be used there"
                    )
                else:
                    self.reference(ref, None, parameters, where)
        raise_problems(self.problems)

    def reference(
        self,
        ref: Any,
        step: Step | None,
        parameters: Mapping[str, Parameter],
        where: str = "",
    ) -> None:
        label = f"step {step.name!r}" if step else where
        if not isinstance(ref, str):
            self.problems.append(f"{label}: Get takes a string reference, not {ref!r}")
            return
        root, _, rest = ref.partition(".")
        if root == "Parameters":
            if rest not in parameters:
                declared = ", ".join(parameters) or "none"
                self.problems.append(
                    f"{label} refers to parameter {rest!r} ({{'Get': '{ref}'}}), which is not "
                    f"declared in Parameters (declared: {declared})"
                )
        elif root == "Execution":
            if rest not in expressions.EXECUTION_VARIABLES:
                self.problems.append(
                    f"{label}: {ref!r} is not an execution variable; they are "
                    f"{', '.join('Execution.' + v for v in expressions.EXECUTION_VARIABLES)}"
                )
        elif root == "Steps":
            target_name, _, path = rest.partition(".")
            target = self.all_steps.get(target_name)
            if target is None:
                self.problems.append(
                    f"{label} refers to step {target_name!r} ({{'Get': '{ref}'}}), which is "
                    "not in the pipeline"
                )
            elif step is not None and target_name == step.name:
                self.problems.append(f"{label} refers to its own properties ({ref!r})")
            else:
                self.property_path(label, ref, target, path)
        else:
            self.problems.append(
                f"{label}: cannot resolve {{'Get': {ref!r}}}; a reference starts with "
                "Parameters., Execution. or Steps."
            )

    def property_path(self, label: str, ref: str, target: Step, path: str) -> None:
        if not path:
            self.problems.append(f"{label}: {ref!r} names a step but none of its properties")
            return
        if target.type == "Fail":
            self.problems.append(
                f"{label}: {ref!r} — a Fail step ends the execution and has no properties"
            )
            return
        if target.type == "Condition":
            if path != "Outcome":
                self.problems.append(
                    f"{label}: {ref!r} — a Condition step's only property is Outcome"
                )
            return
        head, _, name = path.partition(".")
        if head == "PropertyFiles":
            if name not in target.property_files:
                declared = ", ".join(target.property_files) or "none"
                self.problems.append(
                    f"{label}: {ref!r} — step {target.name!r} declares no property file "
                    f"{name!r} (its property files: {declared})"
                )
            return
        try:
            shapes.check_path(target.type, shapes.parse_path(path))
        except shapes.PathError as exc:
            self.problems.append(f"{label}: {{'Get': '{ref}'}} — {exc}")

    def syntax(self, value: Any, label: str) -> None:
        """Functions are known and well formed (the evaluator would fail later)."""
        if isinstance(value, dict):
            keys = list(value)
            if len(keys) == 1 and keys[0].startswith("Std:"):
                fn, body = keys[0], value[keys[0]]
                if fn not in expressions.FUNCTIONS:
                    self.problems.append(
                        f"{label}: unknown function {fn!r}; the functions are "
                        f"{', '.join(expressions.FUNCTIONS)}"
                    )
                elif fn == "Std:Join" and not (
                    isinstance(body, dict)
                    and isinstance(body.get("Values"), list)
                    and isinstance(body.get("On", ""), str)
                ):
                    self.problems.append(f"{label}: Std:Join takes {{'On': str, 'Values': [...]}}")
                elif fn == "Std:JsonGet" and not (
                    isinstance(body, dict)
                    and isinstance(body.get("Path"), str)
                    and ("PropertyFile" in body or "S3Uri" in body)
                ):
                    self.problems.append(
                        f"{label}: Std:JsonGet takes a PropertyFile (or S3Uri) and a Path"
                    )
                elif fn == "Std:JsonGet" and "PropertyFile" in body:
                    ref = body["PropertyFile"]
                    text = ref.get("Get") if isinstance(ref, dict) else None
                    parts = text.split(".") if isinstance(text, str) else []
                    if len(parts) != 4 or parts[0] != "Steps" or parts[2] != "PropertyFiles":
                        self.problems.append(
                            f"{label}: Std:JsonGet's PropertyFile is "
                            "{'Get': 'Steps.<Step>.PropertyFiles.<Name>'}"
                        )
            for v in value.values():
                self.syntax(v, label)
        elif isinstance(value, list):
            for v in value:
                self.syntax(v, label)

    def parameter_types(self, step: Step, parameters: Mapping[str, Parameter]) -> None:
        """A parameter placed directly where the job's request wants a number or a
        boolean must be of that type (a String one would fail every execution)."""
        request = shapes.shape(shapes.JOB_STEP_SHAPES[step.type][0])
        for path, ref in _direct_references(step.arguments, ()):
            name = ref[len("Parameters.") :]
            parameter = parameters.get(name)
            if parameter is None:
                continue
            wanted = shapes.member_type(request, path)
            fits = {
                "integer": ("Integer",),
                "long": ("Integer",),
                "float": ("Integer", "Float"),
                "double": ("Integer", "Float"),
                "boolean": ("Boolean",),
            }.get(wanted or "")
            if fits is not None and parameter.type not in fits:
                where = ".".join(str(p) for p in path)
                self.problems.append(
                    f"step {step.name!r}: Arguments.{where} takes {_A_SHAPE[wanted]}, but "
                    f"parameter {name!r} is a {parameter.type}; declare it as "
                    f"{' or '.join(fits)}"
                )


def _direct_references(value: Any, path: tuple) -> list[tuple[tuple, str]]:
    """``(path, 'Parameters.X')`` for each parameter ``Get`` that is itself the value at
    ``path`` (not inside a function, whose result has its own type)."""
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            ref = value["Get"]
            if isinstance(ref, str) and ref.startswith("Parameters."):
                return [(path, ref)]
            return []
        if len(value) == 1 and next(iter(value)).startswith("Std:"):
            return []
        out = []
        for k, v in value.items():
            out.extend(_direct_references(v, (*path, k)))
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            out.extend(_direct_references(v, (*path, i)))
        return out
    return []
