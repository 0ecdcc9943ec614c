"""``Join`` (``Std:Join``) and ``JsonGet`` (``Std:JsonGet``: a value read from a step's
property file)."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.entities import PipelineVariable, serialize


class Join(PipelineVariable):
    """``values`` (strings, numbers or pipeline variables) joined with ``on`` at run time."""

    def __init__(self, on: str = "", values: list[Any] | None = None) -> None:
        self.on = on
        self.values = list(values or [])

    @property
    def expr(self) -> dict[str, Any]:
        return {"Std:Join": {"On": self.on, "Values": serialize(self.values)}}


class JsonGet(PipelineVariable):
    """The value at ``json_path`` (e.g. ``metrics.auc.value``) of the property file
    ``property_file`` (a :class:`PropertyFile` or its name) of step ``step_name``."""

    def __init__(self, step_name: str, property_file: Any, json_path: str) -> None:
        if not step_name:
            raise ValueError("JsonGet needs step_name: the step whose property file is read.")
        self.step_name = step_name
        self.property_file = property_file
        self.json_path = json_path

    @property
    def expr(self) -> dict[str, Any]:
        name = getattr(self.property_file, "name", self.property_file)
        if not isinstance(name, str):
            raise TypeError(
                "JsonGet's property_file is a PropertyFile or its name; got "
                f"{type(self.property_file).__name__}."
            )
        return {
            "Std:JsonGet": {
                "PropertyFile": {"Get": f"Steps.{self.step_name}.PropertyFiles.{name}"},
                "Path": self.json_path,
            }
        }
