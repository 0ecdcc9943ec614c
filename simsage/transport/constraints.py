"""Service-side input validation the way AWS's JSON services do it.

botocore checks types, required members and minimums before a request leaves the
client; the service itself also checks maximum lengths and values, regular-expression
patterns and enum values. This module does the same from the service model and raises
``ValidationException`` with AWS's message format::

    1 validation error detected: Value 'my_job' at 'trainingJobName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from botocore.model import OperationModel, Shape

from simsage.errors import ValidationException

MAX_REPORTED = 10


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave it to the service's own checks
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def check_input(model: OperationModel, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint ``params`` break."""
    shape = model.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _walk(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(
            f"{count} validation {noun} detected: " + "; ".join(problems[:MAX_REPORTED])
        )


def _walk(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if value is None:
        return
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        for name, member in shape.members.items():
            if name in value:
                child = f"{path}.{_camel(name)}" if path else _camel(name)
                _walk(member, value[name], child, problems)
    elif kind == "list":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        for i, item in enumerate(value, start=1):
            _walk(shape.member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        for key, item in value.items():
            _walk(shape.key, key, f"{path}.key", problems)
            _walk(shape.value, item, f"{path}.{key}", problems)
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
            return
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = meta.get("pattern")
        if pattern and pattern != ".*":
            compiled = _compiled(pattern)
            if compiled is not None and not compiled.fullmatch(value):
                problems.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: "
                    f"Member must satisfy regular expression pattern: {pattern}"
                )
    elif kind in ("integer", "long", "float", "double"):
        if "max" in meta and value > meta["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {meta['max']}"
            )


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
