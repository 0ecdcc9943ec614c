"""``FailStep``: ends the execution as Failed with ``error_message`` (a string or a
pipeline variable such as ``Join``)."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.steps import Step


class FailStep(Step):
    step_type = "Fail"

    def __init__(
        self,
        name: str,
        error_message: Any = None,
        display_name: str | None = None,
        description: str | None = None,
        depends_on: list[Any] | None = None,
    ) -> None:
        super().__init__(
            name, display_name=display_name, description=description, depends_on=depends_on
        )
        self.error_message = error_message if error_message is not None else ""

    def arguments(self, pipeline_name: str) -> dict[str, Any]:
        return {"ErrorMessage": self.error_message}
