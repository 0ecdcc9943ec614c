"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model names the container image and the model artifact (one ``.tar.gz`` in S3) an
endpoint or transform job will serve. simsage serves single-container models only, and
checks when the model is created that its artifact exists in simsage's S3 (AWS checks
the same: "Could not find model data at …").
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from typing import Any

from simsage.errors import AWSError, ValidationException
from simsage.ids import arn, from_epoch
from simsage.paging import Listing, list_page
from simsage.s3.backend import S3Backend
from simsage.store.db import register_schema
from simsage.transport import Request
from simsage.transport.echo import echoed, merged

register_schema(
    """
    CREATE TABLE IF NOT EXISTS hosting_models (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL)
    """
)

# Container fields simsage does not emulate, with what to do instead.
_UNSUPPORTED_CONTAINER_FIELDS = {
    "ModelPackageName": "give Image and ModelDataUrl instead of a model package",
    "ModelDataSource": "give the artifact as ModelDataUrl (one .tar.gz) instead",
    "AdditionalModelDataSources": "pack everything the model needs into ModelDataUrl",
    "InferenceSpecificationName": "give Image and ModelDataUrl instead",
}


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

    def describe(self, echo: dict[str, Any] | None = None) -> dict[str, Any]:
        """DescribeModel's answer: what simsage knows of the model, over ``echo`` (the
        request members DescribeModel repeats, see :func:`simsage.transport.echo.echoed`)."""
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
        return merged(out, echo or {})

    def summary(self) -> dict[str, Any]:
        """ListModels' entry."""
        return {
            "ModelName": self.name,
            "ModelArn": self.arn,
            "CreationTime": from_epoch(self.created),
        }

    def _body(self) -> str:
        body = asdict(self)
        for key in ("name", "arn", "region", "created"):
            del body[key]
        return json.dumps(body)

    @classmethod
    def _from_row(cls, row: tuple) -> Model:
        name, model_arn, region, body, created = row
        fields = json.loads(body)
        fields["container"] = Container(**fields["container"])
        return cls(name=name, arn=model_arn, region=region, created=created, **fields)


def model_arn(region: str, account_id: str, name: str) -> str:
    """The ARN of model ``name`` (SageMaker lowercases the name in it)."""
    return arn("sagemaker", region, account_id, f"model/{name.lower()}")


def model_not_found(region: str, account_id: str, name: str) -> ValidationException:
    return ValidationException(f'Could not find model "{model_arn(region, account_id, name)}".')


class ModelStore:
    """Model rows of one home."""

    _COLUMNS = "name, arn, region, body, created"

    def __init__(self, home) -> None:
        self.db = home.db

    def insert(self, model: Model) -> bool:
        """Insert a new model; False if the name (any case) is taken."""
        with self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM hosting_models WHERE name = ?", (model.name,)
            ).fetchone():
                return False
            conn.execute(
                f"INSERT INTO hosting_models ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (model.name, model.arn, model.region, model._body(), model.created),
            )
        return True

    def find(self, name: str) -> Model | None:
        """The model called ``name`` (any case), or None."""
        row = self.db.query_one(
            f"SELECT {self._COLUMNS} FROM hosting_models WHERE name = ?", (name,)
        )
        return None if row is None else Model._from_row(row)

    def all(self) -> list[Model]:
        rows = self.db.query(f"SELECT {self._COLUMNS} FROM hosting_models ORDER BY created")
        return [Model._from_row(row) for row in rows]

    def delete(self, name: str) -> bool:
        """Remove the model; False if there was none."""
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM hosting_models WHERE name = ?", (name,))
        return cursor.rowcount > 0


class ModelsAPI:
    OPERATIONS = ("create_model", "describe_model", "list_models", "delete_model")

    def __init__(self, home, tags) -> None:
        self.home = home
        self.models = ModelStore(home)
        self.s3 = S3Backend(home)
        self.tags = tags

    def create_model(self, request: Request) -> dict[str, Any]:
        """Record a model after checking its container and that its artifact exists.

        Raises:
            ValidationException: no container or more than one, an unsupported container
                field, a ModelDataUrl that is not an existing ``s3://….tar.gz`` in the
                model's region, or a name (any case) already taken.
        """
        params = request.params
        name = params["ModelName"]
        spec, as_containers = self._container_spec(params)
        container = Container.from_request(spec)
        if container.model_data_url is not None:
            self._check_model_data(container.model_data_url, request.region)
        new_arn = model_arn(request.region, request.account_id, name)
        model = Model(
            name=name,
            arn=new_arn,
            region=request.region,
            container=container,
            created=self.home.clock.time(),
            as_containers=as_containers,
            execution_role_arn=params.get("ExecutionRoleArn"),
            enable_network_isolation=params.get("EnableNetworkIsolation", False),
            vpc_config=copy.deepcopy(params.get("VpcConfig")),
            inference_execution_config=copy.deepcopy(params.get("InferenceExecutionConfig")),
            spec=copy.deepcopy({k: v for k, v in params.items() if k != "Tags"}),
        )
        if not self.models.insert(model):
            existing = self.models.find(name)
            taken = existing.arn if existing else new_arn
            raise ValidationException(f'Cannot create already existing model "{taken}".')
        self.tags.set(new_arn, params.get("Tags", []))
        return {"ModelArn": new_arn}

    @staticmethod
    def _container_spec(params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        primary, containers = params.get("PrimaryContainer"), params.get("Containers")
        if primary is not None and containers is not None:
            raise ValidationException("Give either PrimaryContainer or Containers, not both.")
        if containers is not None and len(containers) != 1:
            raise ValidationException(
                "simsage serves single-container models: Containers must hold exactly one "
                f"container definition; got {len(containers)}. Use PrimaryContainer."
            )
        spec = primary if primary is not None else (containers[0] if containers else None)
        if spec is None:
            raise ValidationException(
                "A model needs a container: give PrimaryContainer with Image (and "
                "ModelDataUrl for the artifact)."
            )
        for key, advice in _UNSUPPORTED_CONTAINER_FIELDS.items():
            if key in spec:
                raise ValidationException(f"simsage does not emulate container {key}; {advice}.")
        if not spec.get("Image"):
            raise ValidationException("The model's container needs an Image.")
        return spec, containers is not None

    def _check_model_data(self, url: str, region: str) -> None:
        bucket, _, key = url[len("s3://") :].partition("/")
        if not url.startswith("s3://") or not bucket or not key:
            raise ValidationException(
                f"ModelDataUrl must be an s3:// URI of one .tar.gz object "
                f"(s3://bucket/path/model.tar.gz); got {url!r}."
            )
        if not key.endswith(".tar.gz"):
            raise ValidationException(
                f"ModelDataUrl must name one .tar.gz object (s3://bucket/path/model.tar.gz); "
                f"got {url!r}."
            )
        try:
            self.s3.get_object(bucket, key, with_data=False)
            bucket_region = self.s3.get_bucket(bucket).region
        except AWSError:  # NoSuchBucket, NoSuchKey
            raise ValidationException(f"Could not find model data at {url}.") from None
        if bucket_region != region:
            raise ValidationException(
                f"The model data at {url} is in bucket {bucket} of region {bucket_region}; "
                f"it must be in the model's region, {region}."
            )

    def describe_model(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Could not find model …") for an unknown name."""
        name = request.params["ModelName"]
        model = self.models.find(name)
        if model is None:
            raise model_not_found(request.region, request.account_id, name)
        return model.describe(echoed(request.model, "CreateModel", model.spec or {}))

    def list_models(self, request: Request) -> dict[str, Any]:
        page, token = list_page(
            self.models.all(), request.params, Listing(lambda m: m.name, lambda m: m.created)
        )
        out: dict[str, Any] = {"Models": [model.summary() for model in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_model(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Could not find model …") for an unknown name."""
        name = request.params["ModelName"]
        model = self.models.find(name)
        if model is None or not self.models.delete(name):
            raise model_not_found(request.region, request.account_id, name)
        self.tags.forget(model.arn)
        return {}
