"""Checks that an answer has exactly the shape botocore's parser would have produced.

Enabled with ``SIMSAGE_CHECK_OUTPUT=1`` (the pytest plugin turns it on): every member
must exist in the operation's output shape, have the parsed Python type, respect enums
and include the shape's required members. A mismatch raises :class:`OutputShapeError`,
which is a simsage bug, never a user error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import OperationModel, Shape


class OutputShapeError(AssertionError):
    """simsage produced an answer that does not match AWS's output shape."""


def check_output(model: OperationModel, result: dict[str, Any]) -> None:
    shape = model.output_shape
    where = f"{model.service_model.service_name}.{model.name}"
    if shape is None:
        if result:
            raise OutputShapeError(f"{where}: has no output shape but answered {sorted(result)}")
        return
    _check(shape, result, where)


def _synthetic(shape: Shape) -> set[str]:
    """Members botocore's own handlers add to parsed answers (not in the model)."""
    return {"ExpiresString"} if "Expires" in shape.members else set()


def _check(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise OutputShapeError(f"{path}: expected a dict, got {type(value).__name__}")
        unknown = set(value) - set(shape.members) - _synthetic(shape)
        if unknown:
            raise OutputShapeError(f"{path}: members not in {shape.name}: {sorted(unknown)}")
        for name in getattr(shape, "required_members", []):
            if name not in value:
                raise OutputShapeError(f"{path}: required member {name} missing")
        for name, item in value.items():
            if item is not None and name in shape.members:
                _check(shape.members[name], item, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            raise OutputShapeError(f"{path}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise OutputShapeError(f"{path}: expected a dict, got {type(value).__name__}")
        for key, item in value.items():
            _check(shape.key, key, f"{path}<key>")
            _check(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise OutputShapeError(f"{path}: expected str, got {type(value).__name__}")
        if shape.enum and value not in shape.enum:
            raise OutputShapeError(f"{path}: {value!r} is not one of {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise OutputShapeError(f"{path}: expected int, got {type(value).__name__}")
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise OutputShapeError(f"{path}: expected a number, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise OutputShapeError(f"{path}: expected bool, got {type(value).__name__}")
    elif kind == "timestamp":
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise OutputShapeError(f"{path}: expected an aware datetime, got {value!r}")
    elif kind == "blob":
        if not (isinstance(value, bytes | bytearray) or hasattr(value, "read")):
            raise OutputShapeError(
                f"{path}: expected bytes or a stream, got {type(value).__name__}"
            )
