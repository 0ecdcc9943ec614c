"""``ConditionStep``: runs ``if_steps`` when all ``conditions`` hold, else ``else_steps``;
its ``properties.Outcome`` is ``True`` or ``False``."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.conditions import Condition
from simsage.sdk.workflow.steps import Step


def _flat(steps: list[Any] | None) -> list[Step]:
    return [step for item in steps or [] for step in item.steps]


class ConditionStep(Step):
    step_type = "Condition"

    def __init__(
        self,
        name: str,
        depends_on: list[Any] | None = None,
        display_name: str | None = None,
        description: str | None = None,
        conditions: list[Condition] | None = None,
        if_steps: list[Any] | None = None,
        else_steps: list[Any] | None = None,
    ) -> None:
        super().__init__(
            name, display_name=display_name, description=description, depends_on=depends_on
        )
        self.conditions = list(conditions or [])
        self.if_steps = list(if_steps or [])
        self.else_steps = list(else_steps or [])

    def arguments(self, pipeline_name: str) -> dict[str, Any]:
        return {
            "Conditions": [condition.to_request() for condition in self.conditions],
            "IfSteps": [step.to_request(pipeline_name) for step in _flat(self.if_steps)],
            "ElseSteps": [step.to_request(pipeline_name) for step in _flat(self.else_steps)],
        }

    def nested_steps(self) -> list[Step]:
        """The steps of both branches (flattened), for the pipeline's name checks."""
        return _flat(self.if_steps) + _flat(self.else_steps)
