"""The model resource's registry rows: what CreateModel recorded (the container image,
the artifact, the environment, the role).

Layer: store. Two concepts read models: hosting (endpoint configurations and endpoints
snapshot a model's container) and batch transform (a job serves one model), so the
model's row lives here, below both; the CreateModel rules and the wire answers are
hosting's (:mod:`simsage.hosting.models`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from simsage.ids import from_epoch
from simsage.store.db import register_schema
from simsage.store.registry import (
    BodyTable,
    Kind,
    already_exists,
    could_not_find,
    declare,
    known_fields,
)

register_schema(
    """
    CREATE TABLE IF NOT EXISTS hosting_models (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL)
    """
)

MODEL = declare(Kind("model", "hosting_models", already_exists("model"), could_not_find("model")))


@dataclass
class Container:
    """A model's container, as far as serving it goes: the image, the artifact and the
    environment. DescribeModel echoes its other members from the stored request."""

    image: str
    model_data_url: str | None = None
    environment: dict[str, str] | None = None

    @classmethod
    def from_request(cls, spec: dict[str, Any]) -> Container:
        return cls(
            image=spec["Image"],
            model_data_url=spec.get("ModelDataUrl"),
            environment=copy.deepcopy(spec.get("Environment")),
        )

    def describe(self) -> dict[str, Any]:
        """The ContainerDefinition members simsage acts on (those the caller gave)."""
        out: dict[str, Any] = {"Image": self.image}
        if self.model_data_url is not None:
            out["ModelDataUrl"] = self.model_data_url
        if self.environment is not None:
            out["Environment"] = copy.deepcopy(self.environment)
        return out


@dataclass
class Model:
    """A model's registry row. ``as_containers`` records whether the caller gave the
    container as ``Containers`` (a one-element list) rather than ``PrimaryContainer``,
    so describe answers in the same form."""

    name: str
    arn: str
    region: str
    container: Container
    created: float
    as_containers: bool = False
    execution_role_arn: str | None = None
    # The CreateModel request (without Tags), for what DescribeModel echoes of it
    # (VpcConfig, InferenceExecutionConfig, a container's Mode … : the model's to say).
    spec: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """What simsage knows of the model, in DescribeModel's shape (the API adds what
        the answer echoes of the request, and SageMaker's defaults)."""
        out: dict[str, Any] = {"ModelName": self.name}
        if self.as_containers:
            out["Containers"] = [self.container.describe()]
        else:
            out["PrimaryContainer"] = self.container.describe()
        if self.execution_role_arn is not None:
            out["ExecutionRoleArn"] = self.execution_role_arn
        out["CreationTime"] = from_epoch(self.created)
        out["ModelArn"] = self.arn
        return out

    def summary(self) -> dict[str, Any]:
        """ListModels' entry."""
        return {
            "ModelName": self.name,
            "ModelArn": self.arn,
            "CreationTime": from_epoch(self.created),
        }


def model_arn(region: str, account_id: str, name: str) -> str:
    """The ARN of model ``name`` (SageMaker lowercases the name in it)."""
    return MODEL.arn(region, account_id, name)


def model_not_found(region: str, account_id: str, name: str):
    """``Could not find model "arn…"`` (a ValidationException)."""
    return MODEL.not_found(name, region, account_id)


class ModelStore(BodyTable[Model]):
    """Model rows of one home. Rows written before Describe echoed the request kept
    echoed members as fields of their own: they are read past."""

    kind = MODEL
    item = Model

    def from_body(self, body: dict[str, Any]) -> dict[str, Any]:
        body["container"] = Container(**known_fields(Container, body["container"]))
        return body
