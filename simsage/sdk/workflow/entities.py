"""Pipeline variables: values known only when an execution runs (parameters, execution
variables, step properties, ``Join``, ``JsonGet``), written into a definition as their
expression (``{"Get": …}``, ``{"Std:Join": …}``).

Layer: SDK, pure (no AWS calls). Invariant: a variable is never turned into text while
the pipeline is defined — ``str()`` of one raises, as in the official SDK, so a variable
cannot silently end up in a request as a Python repr.
"""

from __future__ import annotations

from typing import Any


class PipelineVariable:
    """A value the pipeline service resolves at run time; ``expr`` is how the
    definition writes it."""

    @property
    def expr(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_string(self):
        """This variable as a string at run time (``Std:Join`` of it alone)."""
        from simsage.sdk.workflow.functions import Join

        return Join(on="", values=[self])

    def __str__(self) -> str:
        raise TypeError(
            "Pipeline variables do not support __str__ operation. Please use `.to_string()` "
            "to convert it to string type in execution time or use `.expr` to translate it "
            "to Json for display purpose in Python SDK."
        )

    def __add__(self, other: Any):
        raise TypeError(
            "Pipeline variables do not support concatenation: use "
            "simsage.sdk.workflow.functions.Join."
        )

    __radd__ = __add__


def serialize(value: Any) -> Any:
    """``value`` with every pipeline variable (at any depth) replaced by its expression,
    and Enums by their values; the caller's containers are not changed."""
    from enum import Enum

    if isinstance(value, PipelineVariable):
        return value.expr
    if isinstance(value, dict):
        return {key: serialize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [serialize(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def is_pipeline_variable(value: Any) -> bool:
    return isinstance(value, PipelineVariable)
