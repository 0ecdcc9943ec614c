"""The model resource's registry rows: what CreateModel recorded (the container image,
the artifact, the environment, the role).

Layer: store. Two concepts read models: hosting (endpoint configurations and endpoints
snapshot a model's container) and batch transform (a job serves one model), so the
model's row lives here, below both; the CreateModel rules and the wire answers are
hosting's (:mod:`simsage.hosting.models`).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

from simsage.ids import from_epoch
from simsage.store.db import register_schema
from simsage.store.registry import Kind, ResourceTable, already_exists, could_not_find, declare

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
    """One container definition of a model."""

    image: str
    model_data_url: str | None = None
    environment: dict[str, str] | None = None
    mode: str | None = None
    container_hostname: str | None = None
    image_config: dict[str, Any] | None = None
    multi_model_config: dict[str, Any] | None = None

    @classmethod
    def from_request(cls, spec: dict[str, Any]) -> Container:
        return cls(
            image=spec["Image"],
            model_data_url=spec.get("ModelDataUrl"),
            environment=copy.deepcopy(spec.get("Environment")),
            mode=spec.get("Mode"),
            container_hostname=spec.get("ContainerHostname"),
            image_config=copy.deepcopy(spec.get("ImageConfig")),
            multi_model_config=copy.deepcopy(spec.get("MultiModelConfig")),
        )

    def describe(self) -> dict[str, Any]:
        """The ContainerDefinition shape, with the fields the caller gave."""
        out: dict[str, Any] = {"Image": self.image}
        optional = (
            ("ContainerHostname", self.container_hostname),
            ("ImageConfig", self.image_config),
            ("Mode", self.mode),
            ("ModelDataUrl", self.model_data_url),
            ("Environment", self.environment),
            ("MultiModelConfig", self.multi_model_config),
        )
        for key, value in optional:
            if value is not None:
                out[key] = copy.deepcopy(value)
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
    enable_network_isolation: bool = False
    vpc_config: dict[str, Any] | None = None
    inference_execution_config: dict[str, Any] | None = None
    # The CreateModel request (without Tags), for what DescribeModel echoes of it.
    spec: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """What simsage knows of the model, in DescribeModel's shape (without the
        members only echoed from the request)."""
        out: dict[str, Any] = {"ModelName": self.name}
        if self.as_containers:
            out["Containers"] = [self.container.describe()]
        else:
            out["PrimaryContainer"] = self.container.describe()
        if self.inference_execution_config is not None:
            out["InferenceExecutionConfig"] = copy.deepcopy(self.inference_execution_config)
        if self.execution_role_arn is not None:
            out["ExecutionRoleArn"] = self.execution_role_arn
        if self.vpc_config is not None:
            out["VpcConfig"] = copy.deepcopy(self.vpc_config)
        out["CreationTime"] = from_epoch(self.created)
        out["ModelArn"] = self.arn
        out["EnableNetworkIsolation"] = self.enable_network_isolation
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


class ModelStore(ResourceTable[Model]):
    """Model rows of one home."""

    kind = MODEL
    columns = ("name", "arn", "region", "body", "created")
    json_columns = frozenset({"body"})

    def to_row(self, model: Model) -> tuple:
        body = asdict(model)
        for key in ("name", "arn", "region", "created"):
            del body[key]
        return model.name, model.arn, model.region, body, model.created

    def from_row(self, row) -> Model:
        name, arn, region, fields, created = row
        fields["container"] = Container(**fields["container"])
        return Model(name=name, arn=arn, region=region, created=created, **fields)
