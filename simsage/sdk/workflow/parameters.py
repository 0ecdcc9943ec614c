"""Pipeline parameters (``ParameterString``, ``ParameterInteger``, ``ParameterFloat``,
``ParameterBoolean``): named inputs of an execution, with a default, written as
``{"Get": "Parameters.<name>"}`` where they are used."""

from __future__ import annotations

from enum import Enum
from typing import Any

from simsage.sdk.workflow.entities import PipelineVariable


class ParameterTypeEnum(Enum):
    STRING = "String"
    INTEGER = "Integer"
    BOOLEAN = "Boolean"
    FLOAT = "Float"


class Parameter(PipelineVariable):
    """A pipeline parameter: ``name``, ``parameter_type`` and ``default_value``."""

    python_type: type = object

    def __init__(
        self, name: str, parameter_type: ParameterTypeEnum, default_value: Any = None
    ) -> None:
        if default_value is not None and not isinstance(default_value, self.python_type):
            raise TypeError(
                f"The default value of parameter {name!r} must be a "
                f"{self.python_type.__name__}; got {default_value!r}."
            )
        self.name = name
        self.parameter_type = parameter_type
        self.default_value = default_value

    @property
    def expr(self) -> dict[str, Any]:
        return {"Get": f"Parameters.{self.name}"}

    def to_request(self) -> dict[str, Any]:
        """This parameter's entry of the definition's ``Parameters``."""
        request: dict[str, Any] = {"Name": self.name, "Type": self.parameter_type.value}
        if self.default_value is not None:
            request["DefaultValue"] = self.default_value
        return request


class ParameterString(Parameter):
    python_type = str

    def __init__(
        self, name: str, default_value: str | None = None, enum_values: list[str] | None = None
    ) -> None:
        super().__init__(name, ParameterTypeEnum.STRING, default_value)
        self.enum_values = enum_values

    def to_request(self) -> dict[str, Any]:
        request = super().to_request()
        if self.enum_values:
            request["EnumValues"] = list(self.enum_values)
        return request


class ParameterInteger(Parameter):
    python_type = int

    def __init__(self, name: str, default_value: int | None = None) -> None:
        super().__init__(name, ParameterTypeEnum.INTEGER, default_value)


class ParameterFloat(Parameter):
    python_type = float

    def __init__(self, name: str, default_value: float | None = None) -> None:
        if isinstance(default_value, int) and not isinstance(default_value, bool):
            default_value = float(default_value)
        super().__init__(name, ParameterTypeEnum.FLOAT, default_value)


class ParameterBoolean(Parameter):
    python_type = bool

    def __init__(self, name: str, default_value: bool | None = None) -> None:
        super().__init__(name, ParameterTypeEnum.BOOLEAN, default_value)
