"""Service-side input validation, read from botocore's service model.

botocore checks types, required members and minimums before a request leaves the
client; the service itself also checks maximum lengths and values, regular-expression
patterns (Java's, see :mod:`simsage.transport.java_regex`) and enum values. This module
finds those violations; each service says how it reports them (its ``CHECK_INPUT``, an
:class:`InputErrors`): the JSON and query services list them in one message, each with
its own error code::

    1 validation error detected: Value 'my_job' at 'trainingJobName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

while S3 answers its own code for the first one (see :mod:`simsage.s3.input_errors`).

Cost: the constraints of an operation are compiled once into a plan holding only the
members that have constraints somewhere below them (an operation with none has no
plan, and its calls pay nothing); a call walks the params it was given, not the model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, Shape

from simsage.errors import AWSError, ValidationException
from simsage.transport.java_regex import compile_java

log = logging.getLogger("simsage.transport")

MAX_REPORTED = 10


@dataclass(frozen=True)
class Violation:
    """One constraint a value breaks.

    Attributes:
        path: where, as AWS writes it (``trainingJobName``, ``tags.1.member.key``).
        member: the member's name in the model (``TrainingJobName``).
        location: where the member travels (``header``, ``querystring``, ``uri`` for a
            top-level rest member; ``body`` otherwise).
        wire_name: its name on the wire (a header or query-string name for S3).
        value: the offending value.
        kind: ``enum``, ``length``, ``pattern``, ``value`` or ``items``.
        constraint: the ``Member must …`` sentence.
    """

    path: str
    member: str
    location: str
    wire_name: str
    value: Any
    kind: str
    constraint: str

    def sentence(self) -> str:
        return (
            f"Value '{_show(self.value)}' at '{self.path}' failed to satisfy constraint: "
            f"{self.constraint}"
        )


class InputErrors:
    """How a service reports constraint violations (a service's ``CHECK_INPUT``).

    Attributes:
        skip: member names whose constraints the service does not enforce.
    """

    skip: frozenset[str] = frozenset()

    def error(self, violations: list[Violation]) -> AWSError:
        raise NotImplementedError


class ValidationErrors(InputErrors):
    """The JSON and query services' report: one error of ``error_class`` whose message
    lists every violation (``N validation errors detected: …``)."""

    def __init__(self, error_class: type[AWSError]) -> None:
        self.error_class = error_class

    def error(self, violations: list[Violation]) -> AWSError:
        return self.error_class(validation_message(violations))


_SAGEMAKER_STYLE = ValidationErrors(ValidationException)


def validation_message(violations: list[Violation]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    sentences = "; ".join(v.sentence() for v in violations[:MAX_REPORTED])
    return f"{count} validation {noun} detected: {sentences}"


class InputCheck:
    """The compiled constraints of one operation, reported the service's way."""

    def __init__(self, plan: _Struct, errors: InputErrors) -> None:
        self._plan = plan
        self._errors = errors

    def violations(self, params: dict[str, Any]) -> list[Violation]:
        found: list[Violation] = []
        self._plan.check(params, "", _TOP, found)
        return found

    def __call__(self, params: dict[str, Any]) -> None:
        """Raise the service's error if ``params`` break any constraint."""
        found: list[Violation] = []
        self._plan.check(params, "", _TOP, found)
        if found:
            raise self._errors.error(found)


_plans: dict[tuple[str, str, str, frozenset[str]], _Struct | None] = {}


def input_check(model: OperationModel, errors: InputErrors | bool | None) -> InputCheck | None:
    """The check for ``model``'s input, or None when the service checks nothing or the
    operation has no constraints (cached per operation).

    ``errors`` is the service's ``CHECK_INPUT``; ``True`` (the flag services set before
    each named its own error) reports as SageMaker does, ``ValidationException``.
    """
    if errors is True:
        errors = _SAGEMAKER_STYLE
    if not isinstance(errors, InputErrors) or model.input_shape is None:
        return None
    service = model.service_model
    key = (service.service_name, service.api_version, model.name, errors.skip)
    if key not in _plans:
        _plans[key] = _Compiler(errors.skip).top(model.input_shape)
    plan = _plans[key]
    return None if plan is None else InputCheck(plan, errors)


def check_input(model: OperationModel, params: dict[str, Any], errors: InputErrors) -> None:
    """Raise ``errors``' error if ``params`` break a constraint of ``model``'s input."""
    check = input_check(model, errors)
    if check is not None:
        check(params)


# -- the compiled plan -----------------------------------------------------------------


class _Node:
    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        """Append to ``found`` what ``value`` (at ``path``, inside member ``field``)
        breaks."""
        raise NotImplementedError


@dataclass
class _Field:
    """A member of a structure, with what a violation needs to say where it is."""

    camel: str
    member: str
    location: str
    wire_name: str
    node: _Node | None

    def violation(self, path: str, value: Any, kind: str, constraint: str) -> Violation:
        return Violation(path, self.member, self.location, self.wire_name, value, kind, constraint)


_TOP = _Field("", "", "body", "", None)


class _Struct(_Node):
    def __init__(self) -> None:
        self.fields: dict[str, _Field] = {}

    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        if not isinstance(value, dict):
            return
        fields = self.fields
        for name, item in value.items():
            spec = fields.get(name)
            if spec is not None and item is not None:
                here = f"{path}.{spec.camel}" if path else spec.camel
                spec.node.check(item, here, spec, found)


def _check_count(
    maximum: int | None, value: Any, path: str, field: _Field, found: list[Violation]
) -> None:
    """A list's or map's number of items against the model's ``max``."""
    if maximum is not None and len(value) > maximum:
        found.append(
            field.violation(
                path, value, "items", f"Member must have length less than or equal to {maximum}"
            )
        )


class _List(_Node):
    def __init__(self, maximum: int | None, item: _Node | None) -> None:
        self.maximum, self.item = maximum, item

    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        if not isinstance(value, list | tuple):
            return
        _check_count(self.maximum, value, path, field, found)
        if self.item is not None:
            for i, element in enumerate(value, start=1):
                if element is not None:
                    self.item.check(element, f"{path}.{i}.member", field, found)


class _Map(_Node):
    def __init__(self, maximum: int | None, key: _Node | None, item: _Node | None) -> None:
        self.maximum, self.key, self.item = maximum, key, item

    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        if not isinstance(value, dict):
            return
        _check_count(self.maximum, value, path, field, found)
        for key, element in value.items():
            if self.key is not None:
                self.key.check(key, f"{path}.key", field, found)
            if self.item is not None and element is not None:
                self.item.check(element, f"{path}.{key}", field, found)


class _String(_Node):
    def __init__(self, enum: list[str], maximum: int | None, pattern: str | None) -> None:
        self.enum = frozenset(enum)
        self.enum_text = f"Member must satisfy enum value set: [{', '.join(enum)}]"
        self.maximum = maximum
        self.pattern_text = pattern
        self.regex = compile_java(pattern) if pattern else None

    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        if not isinstance(value, str):
            return
        if self.enum and value not in self.enum:
            found.append(field.violation(path, value, "enum", self.enum_text))
            return
        if self.maximum is not None and _java_length(value, self.maximum) > self.maximum:
            found.append(
                field.violation(
                    path,
                    value,
                    "length",
                    f"Member must have length less than or equal to {self.maximum}",
                )
            )
        if self.regex is not None and self.regex.fullmatch(value) is None:
            found.append(
                field.violation(
                    path,
                    value,
                    "pattern",
                    f"Member must satisfy regular expression pattern: {self.pattern_text}",
                )
            )


def _java_length(value: str, maximum: int) -> int:
    """The length Java measures (UTF-16 code units: a character outside the BMP counts
    twice), computed exactly only when it could matter."""
    length = len(value)
    if length > maximum or length * 2 <= maximum:
        return length
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


class _Number(_Node):
    def __init__(self, maximum: float) -> None:
        self.maximum = maximum

    def check(self, value: Any, path: str, field: _Field, found: list[Violation]) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value > self.maximum:
                found.append(
                    field.violation(
                        path,
                        value,
                        "value",
                        f"Member must have value less than or equal to {self.maximum}",
                    )
                )


class _Compiler:
    """Builds the plan of one input shape. Shapes are memoized by name; a recursive
    shape refers to its own (still being filled) node."""

    def __init__(self, skip: frozenset[str]) -> None:
        self.skip = skip
        self.done: dict[str, _Node | None] = {}

    def top(self, shape: Shape) -> _Struct | None:
        node = self.node(shape)
        return node if isinstance(node, _Struct) else None

    def node(self, shape: Shape) -> _Node | None:
        if shape.name in self.done:
            return self.done[shape.name]
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            struct = _Struct()
            self.done[shape.name] = struct  # a recursive reference finds it
            for name, member in shape.members.items():
                if name in self.skip:
                    continue
                child = self.node(member)
                if child is not None:
                    serialization = member.serialization
                    struct.fields[name] = _Field(
                        camel=name[:1].lower() + name[1:],
                        member=name,
                        location=serialization.get("location", "body"),
                        wire_name=serialization.get("name", name),
                        node=child,
                    )
            result: _Node | None = struct if struct.fields else None
        elif kind == "list":
            self.done[shape.name] = None
            item = self.node(shape.member)
            result = _List(meta.get("max"), item) if item or "max" in meta else None
        elif kind == "map":
            self.done[shape.name] = None
            key, item = self.node(shape.key), self.node(shape.value)
            result = _Map(meta.get("max"), key, item) if key or item or "max" in meta else None
        elif kind == "string":
            pattern = meta.get("pattern")
            if pattern in (".*", "^.*$", "[\\s\\S]*"):
                pattern = None  # matches everything
            if pattern and compile_java(pattern) is None:
                log.debug("not enforcing pattern %r of %s", pattern, shape.name)
                pattern = None
            enum = list(shape.enum or [])
            result = (
                _String(enum, meta.get("max"), pattern)
                if enum or pattern or "max" in meta
                else None
            )
        elif kind in ("integer", "long", "float", "double"):
            result = _Number(meta["max"]) if "max" in meta else None
        else:
            result = None
        self.done[shape.name] = result
        return result


def _show(value: Any) -> str:
    """A value as AWS's (Java) messages print it: lists as ``[a, b]``, maps as
    ``{k=v}``; long values shortened."""
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= 1000 else text[:997] + "..."
