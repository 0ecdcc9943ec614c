"""Hyperparameter ranges for tuning: ``ContinuousParameter``, ``IntegerParameter`` and
``CategoricalParameter``, with the official SDK v2's names (``sagemaker.parameter``).

Layer: SDK, no client at all: a range only renders itself as its part of
CreateHyperParameterTuningJob's ``ParameterRanges`` (``as_tuning_range``). Bounds and
values are rendered as strings (``str``), as the API and the official SDK want them; the
service checks them (min ≤ max, Logarithmic > 0 …) when the job is created.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "IntegerParameter",
    "ParameterRange",
]


class ParameterRange:
    """A numeric range ``[min_value, max_value]`` searched on ``scaling_type``'s scale.

    Parameters
    ----------
    min_value, max_value:
        The bounds (both included).
    scaling_type:
        ``Auto`` (the service picks), ``Linear``, ``Logarithmic`` or, for continuous
        ranges inside [0, 1), ``ReverseLogarithmic``.
    """

    #: Which ``<KIND>ParameterRanges`` list of the request the range belongs to.
    KIND = ""

    def __init__(self, min_value: Any, max_value: Any, scaling_type: str = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` lies in the range."""
        return self.min_value <= value <= self.max_value

    @classmethod
    def cast_to_type(cls, value: Any) -> Any:
        """``value`` (e.g. a tuned value string) as the range's Python type."""
        return float(value)

    def as_tuning_range(self, name: str) -> dict[str, str]:
        """``{"Name", "MinValue", "MaxValue", "ScalingType"}`` for hyperparameter ``name``."""
        return {
            "Name": name,
            "MinValue": str(self.min_value),
            "MaxValue": str(self.max_value),
            "ScalingType": self.scaling_type,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.min_value!r}, {self.max_value!r}, "
            f"scaling_type={self.scaling_type!r})"
        )

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class ContinuousParameter(ParameterRange):
    """Real values in ``[min_value, max_value]``."""

    KIND = "Continuous"


class IntegerParameter(ParameterRange):
    """Whole numbers in ``[min_value, max_value]`` (``ReverseLogarithmic`` is not allowed)."""

    KIND = "Integer"

    @classmethod
    def cast_to_type(cls, value: Any) -> int:
        return int(value)


class CategoricalParameter(ParameterRange):
    """One of ``values`` (a list, or a single value); each is kept as its string.

    The Grid strategy takes categorical ranges only.
    """

    KIND = "Categorical"

    def __init__(self, values: Any) -> None:
        values = values if isinstance(values, list) else [values]
        self.values = [str(v) for v in values]

    def is_valid(self, value: Any) -> bool:
        return value in self.values

    @classmethod
    def cast_to_type(cls, value: Any) -> str:
        return str(value)

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        """``{"Name", "Values"}`` for hyperparameter ``name``."""
        return {"Name": name, "Values": self.values}

    def as_json_range(self, name: str) -> dict[str, Any]:
        """The range with each value JSON-encoded, as the framework images (script mode)
        read every hyperparameter."""
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}

    def __repr__(self) -> str:
        return f"CategoricalParameter({self.values!r})"
