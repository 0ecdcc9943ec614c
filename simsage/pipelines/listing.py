"""The entries the Pipelines List operations answer: a pipeline version's summary, an
execution step as ListPipelineExecutionSteps lists it, a parameter as
ListPipelineParametersForExecution gives it (each with what :func:`simsage.paging.list_page`
sorts and pages by). Used by :mod:`simsage.pipelines.api`."""

from __future__ import annotations

import copy
from typing import Any

from simsage.ids import from_epoch


def version_members(version: dict[str, Any]) -> dict[str, Any]:
    """A version's display name, description and aliases, the members it has set."""
    out: dict[str, Any] = {}
    for key, member in (
        ("display_name", "PipelineVersionDisplayName"),
        ("description", "PipelineVersionDescription"),
    ):
        if version.get(key) is not None:
            out[member] = version[key]
    if version.get("aliases"):
        out["PipelineVersionAliases"] = list(version["aliases"])
    return out


class VersionEntry:
    def __init__(self, pipeline_arn: str, version: dict, executions: list) -> None:
        self.pipeline_arn = pipeline_arn
        self.id = version["id"]
        self.created = version["created"]
        self.version = version
        self.executions = executions

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "PipelineArn": self.pipeline_arn,
            "PipelineVersionId": self.id,
            "CreationTime": from_epoch(self.created),
            **version_members(self.version),
        }
        if self.executions:
            out["LastExecutionPipelineExecutionArn"] = max(
                self.executions, key=lambda e: e.created
            ).arn
        return out


class StepEntry:
    """A step record as ListPipelineExecutionSteps lists it (latest started first by
    default, as AWS sorts them)."""

    def __init__(self, order: int, step: dict[str, Any]) -> None:
        self.order = float(order)
        self.name = step["StepName"]
        self.step = step

    def entry(self) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in self.step.items() if not k.startswith("_")}
        for member in ("StartTime", "EndTime"):
            if member in out:
                out[member] = from_epoch(out[member])
        return out


class ParameterEntry:
    def __init__(self, order: int, name: str, value: Any) -> None:
        self.order = float(order)
        self.name = name
        self.value = value

    def entry(self) -> dict[str, str]:
        value = self.value
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return {"Name": self.name, "Value": text}
