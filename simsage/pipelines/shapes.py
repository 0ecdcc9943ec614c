"""What a pipeline step's JSON means in botocore's terms: the request a step's
``Arguments`` are, the answer its properties are read from, and the property paths of
the expression language.

A job step's ``Arguments`` are the request of the job's Create operation
(``Processing`` → CreateProcessingJob, ``Training`` → CreateTrainingJob …) without the
job's name, which the pipeline chooses; its properties (``{"Get": "Steps.Train.…"}``)
are the job's Describe answer. Both come from botocore's SageMaker model, as the SDK's
own ``Properties`` are built from it (``sagemaker/workflow/properties.py``), so a path the
SDK can write is a path this module accepts, and nothing here lists members by hand.

Property paths are the SDK's syntax: dotted member names, ``[0]`` to index a list,
``['key']`` to pick a map's value or a list item by its name
(``ProcessingOutputConfig.Outputs['train']`` is the output whose ``OutputName`` is
``train``; :data:`LIST_ITEM_KEYS` says which member names an item).

Pure: no I/O beyond loading botocore's model once per process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

# Step type → (the Create operation whose input its Arguments are, the output shapes its
# properties are read from). A Tuning step's properties are the tuning job's Describe
# answer and its training jobs' list (``TrainingJobSummaries``), as the SDK's TuningStep
# declares them.
JOB_STEP_SHAPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Processing": ("CreateProcessingJobRequest", ("DescribeProcessingJobResponse",)),
    "Training": ("CreateTrainingJobRequest", ("DescribeTrainingJobResponse",)),
    "Tuning": (
        "CreateHyperParameterTuningJobRequest",
        (
            "DescribeHyperParameterTuningJobResponse",
            "ListTrainingJobsForHyperParameterTuningJobResponse",
        ),
    ),
    "Transform": ("CreateTransformJobRequest", ("DescribeTransformJobResponse",)),
    "Model": ("CreateModelInput", ("DescribeModelOutput",)),
    "RegisterModel": ("CreateModelPackageInput", ("DescribeModelPackageOutput",)),
}

# The member that names an item of a list, tried in order, for ``List['key']``: the
# SDK writes ``Outputs['train']`` (OutputName), ``InputDataConfig['train']``
# (ChannelName), ``FinalMetricDataList['validation:auc']`` (MetricName) …
LIST_ITEM_KEYS = (
    "OutputName",
    "InputName",
    "ChannelName",
    "MetricName",
    "Name",
    "Key",
    "TrainingJobName",
)


class PathError(ValueError):
    """A property path that cannot be parsed or does not exist in the shape (the
    message says which part and what would be valid)."""


@dataclass(frozen=True)
class Member:
    """``.Name`` in a path."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclass(frozen=True)
class Index:
    """``[3]`` in a path."""

    index: int

    def __str__(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True)
class Key:
    """``['train']`` in a path."""

    key: str

    def __str__(self) -> str:
        return f"['{self.key}']"


Segment = Member | Index | Key

_TOKEN = re.compile(
    r"""\.?(?P<member>[A-Za-z0-9_]+)
      | \[(?P<index>-?\d+)\]
      | \['(?P<sq>[^']*)'\]
      | \["(?P<dq>[^"]*)"\]""",
    re.VERBOSE,
)


def parse_path(path: str) -> tuple[Segment, ...]:
    """Split a property path (``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``)
    into its segments.

    Raises:
        PathError: the path is empty or has a part that is none of ``.Name``, ``[0]``,
            ``['key']``.
    """
    segments: list[Segment] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None or (match.group("member") and pos > 0 and path[pos] != "."):
            raise PathError(
                f"cannot read {path[pos:]!r} in property path {path!r}: "
                "write .Member, [0] or ['key'] (the SDK's property syntax)"
            )
        if match.group("member") is not None:
            segments.append(Member(match.group("member")))
        elif match.group("index") is not None:
            segments.append(Index(int(match.group("index"))))
        else:
            key = match.group("sq") if match.group("sq") is not None else match.group("dq")
            segments.append(Key(key))
        pos = match.end()
    if not segments or not isinstance(segments[0], Member):
        raise PathError(f"property path {path!r} must start with a member name")
    return tuple(segments)


def format_path(segments: tuple[Segment, ...]) -> str:
    """The path text of ``segments`` (the inverse of :func:`parse_path`)."""
    return "".join(str(s) for s in segments).lstrip(".")


@cache
def service_model():
    """botocore's SageMaker model (loaded once per process)."""
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def shape(name: str) -> Shape:
    """The botocore shape called ``name``."""
    return service_model().shape_for(name)


def check_path(step_type: str, segments: tuple[Segment, ...]) -> None:
    """Check that ``segments`` name a member of the properties of a ``step_type`` step
    (its Describe answer's shape), as the SDK's ``Properties`` would have allowed.

    Raises:
        PathError: naming the first segment that does not exist and the members that do.
    """
    roots = JOB_STEP_SHAPES[step_type][1]
    first = segments[0]
    assert isinstance(first, Member)
    for root_name in roots:
        root = shape(root_name)
        assert isinstance(root, StructureShape)
        if first.name in root.members:
            _walk(root.members[first.name], segments, 1, step_type)
            return
    known = sorted({m for r in roots for m in shape(r).members})  # type: ignore[attr-defined]
    raise PathError(
        f"a {step_type} step has no property {first.name!r}; its properties are the "
        f"members of {' and '.join(roots)}: {', '.join(known)}"
    )


def _walk(current: Shape, segments: tuple[Segment, ...], i: int, step_type: str) -> None:
    while i < len(segments):
        seg = segments[i]
        where = format_path(segments[: i + 1])
        if isinstance(current, StructureShape):
            if not isinstance(seg, Member) or seg.name not in current.members:
                raise PathError(
                    f"{where}: {current.name} has no {seg}; its members are "
                    f"{', '.join(sorted(current.members))}"
                )
            current = current.members[seg.name]
        elif isinstance(current, ListShape):
            if isinstance(seg, Member):
                raise PathError(f"{where}: {current.name} is a list; index it with [0] or ['name']")
            current = current.member
        elif isinstance(current, MapShape):
            if not isinstance(seg, Key):
                raise PathError(f"{where}: {current.name} is a map; pick a value with ['key']")
            current = current.value
        else:
            raise PathError(f"{where}: {format_path(segments[:i])} is a {current.type_name}")
        i += 1


def lookup(answer: Any, segments: tuple[Segment, ...], *, step: str) -> Any:
    """The value at ``segments`` in a step's answer (a Describe response as a dict).

    Raises:
        PathError: naming the full path (``Steps.<step>.…``) and the part that is missing.
    """
    current = answer
    for i, seg in enumerate(segments):
        here = f"Steps.{step}.{format_path(segments[: i + 1])}"
        if isinstance(seg, Member):
            if not isinstance(current, Mapping) or seg.name not in current:
                raise PathError(f"{here} is not set in the answer of step {step!r}")
            current = current[seg.name]
        elif isinstance(seg, Index):
            if not isinstance(current, list) or not -len(current) <= seg.index < len(current):
                size = len(current) if isinstance(current, list) else "no"
                raise PathError(f"{here}: step {step!r} has {size} items there")
            current = current[seg.index]
        elif isinstance(current, Mapping):
            if seg.key not in current:
                raise PathError(f"{here}: no key {seg.key!r} in step {step!r}'s answer")
            current = current[seg.key]
        elif isinstance(current, list):
            current = _named_item(current, seg.key, here)
        else:
            raise PathError(f"{here}: {type(current).__name__} cannot be indexed by a key")
    return current


def _named_item(items: list, key: str, here: str) -> Any:
    for member in LIST_ITEM_KEYS:
        for item in items:
            if isinstance(item, Mapping) and item.get(member) == key:
                return item
    raise PathError(f"{here}: no item named {key!r} (items are matched by {LIST_ITEM_KEYS[0]} …)")


def member_type(request_shape: Shape, path: tuple[str | int, ...]) -> str | None:
    """The botocore type name (``string``, ``integer`` …) of the value at ``path`` (keys
    and list indexes of a step's Arguments) in ``request_shape``, or None where the path
    leaves the model (a member botocore does not know)."""
    current: Shape = request_shape
    for part in path:
        if isinstance(current, StructureShape) and isinstance(part, str):
            if part not in current.members:
                return None
            current = current.members[part]
        elif isinstance(current, ListShape) and isinstance(part, int):
            current = current.member
        elif isinstance(current, MapShape) and isinstance(part, str):
            current = current.value
        else:
            return None
    return current.type_name


def coerce_request(step_type: str, arguments: Any) -> Any:
    """Resolved Arguments made to fit the step's Create request, as the service does
    with a typed definition: a number or boolean where the model wants a string becomes
    its text (``HyperParameters`` values, ``ContainerArguments``, ``Environment``), and a
    numeric string where it wants a number becomes the number. Returns a new value;
    anything else is left for the Create operation's own validation.
    """
    if step_type not in JOB_STEP_SHAPES:
        return arguments
    return _coerce(shape(JOB_STEP_SHAPES[step_type][0]), arguments)


def _coerce(current: Shape | None, value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = None
            if isinstance(current, StructureShape):
                sub = current.members.get(k)
            elif isinstance(current, MapShape):
                sub = current.value
            out[k] = _coerce(sub, v)
        return out
    if isinstance(value, list):
        sub = current.member if isinstance(current, ListShape) else None
        return [_coerce(sub, v) for v in value]
    if current is None:
        return value
    kind = current.type_name
    if kind == "string" and not isinstance(value, str) and value is not None:
        return to_text(value)
    if kind in ("integer", "long") and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if kind in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def to_text(value: Any) -> str:
    """A value as the service writes it into a string: ``true``/``false`` for booleans
    (JSON's spelling), numbers as Python writes them, JSON for lists and objects."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), default=str)
