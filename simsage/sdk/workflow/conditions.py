"""Conditions of a ``ConditionStep``: comparisons (``ConditionEquals``,
``ConditionGreaterThan[OrEqualTo]``, ``ConditionLessThan[OrEqualTo]``), ``ConditionIn``,
``ConditionNot`` and ``ConditionOr``; the step takes the if-branch when all hold."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.entities import serialize


class Condition:
    def to_request(self) -> dict[str, Any]:
        raise NotImplementedError


class ConditionComparison(Condition):
    condition_type = ""

    def __init__(self, left: Any, right: Any) -> None:
        self.left = left
        self.right = right

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": self.condition_type,
            "LeftValue": serialize(self.left),
            "RightValue": serialize(self.right),
        }


class ConditionEquals(ConditionComparison):
    condition_type = "Equals"


class ConditionGreaterThan(ConditionComparison):
    condition_type = "GreaterThan"


class ConditionGreaterThanOrEqualTo(ConditionComparison):
    condition_type = "GreaterThanOrEqualTo"


class ConditionLessThan(ConditionComparison):
    condition_type = "LessThan"


class ConditionLessThanOrEqualTo(ConditionComparison):
    condition_type = "LessThanOrEqualTo"


class ConditionIn(Condition):
    """``value`` is one of ``in_values``."""

    def __init__(self, value: Any, in_values: list[Any]) -> None:
        self.value = value
        self.in_values = list(in_values)

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": "In",
            "QueryValue": serialize(self.value),
            "Values": serialize(self.in_values),
        }


class ConditionNot(Condition):
    def __init__(self, expression: Condition) -> None:
        self.expression = expression

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Not", "Condition": self.expression.to_request()}


class ConditionOr(Condition):
    def __init__(self, conditions: list[Condition] | None = None) -> None:
        self.conditions = list(conditions or [])

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Or", "Conditions": [item.to_request() for item in self.conditions]}
