"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model names the container image and the model artifact (one ``.tar.gz`` in S3) an
endpoint or transform job will serve. simsage serves single-container models only, and
checks when the model is created that its artifact exists in simsage's S3 (AWS checks
the same: "Could not find model data at …"). The model's row is
:class:`simsage.store.models.Model`, below hosting, as batch transform reads it too.

A container may name a model package of the registry (``ModelPackageName``: a name, a
``group/version`` path or an ARN) instead of an image: the model then serves the
package's container (its image, its artifact, its environment with the caller's
``Environment`` laid over it), read from the package's row below hosting
(:mod:`simsage.store.model_packages`), so endpoints and batch transform serve it as any
other model. As on AWS, a versioned package must be ``Approved`` first.
"""

from __future__ import annotations

import copy
from typing import Any

from simsage.errors import ValidationException
from simsage.s3.artifacts import check_model_data
from simsage.s3.backend import S3Backend
from simsage.store.model_packages import ModelPackageStore
from simsage.store.models import Container, Model, ModelStore, model_arn, model_not_found
from simsage.store.registry import NAME_LISTING, list_answer
from simsage.transport import Request
from simsage.transport.echo import described

# Container fields simsage does not emulate, with what to do instead.
_UNSUPPORTED_CONTAINER_FIELDS = {
    "ModelDataSource": "give the artifact as ModelDataUrl (one .tar.gz) instead",
    "AdditionalModelDataSources": "pack everything the model needs into ModelDataUrl",
    "InferenceSpecificationName": "give Image and ModelDataUrl instead",
}

__all__ = ["Container", "Model", "ModelStore", "ModelsAPI", "model_arn", "model_not_found"]


class ModelsAPI:
    OPERATIONS = ("create_model", "describe_model", "list_models", "delete_model")

    def __init__(self, home, tags) -> None:
        self.home = home
        self.models = ModelStore(home)
        self.packages = ModelPackageStore(home)
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
        if "ModelPackageName" in spec:
            container = self._package_container(spec, request)
        else:
            container = Container.from_request(spec)
        if container.model_data_url is not None:
            check_model_data(self.s3, container.model_data_url, request.region)
        new_arn = model_arn(request.region, request.account_id, name)
        model = Model(
            name=name,
            arn=new_arn,
            region=request.region,
            container=container,
            created=self.home.clock.time(),
            as_containers=as_containers,
            execution_role_arn=params.get("ExecutionRoleArn"),
            spec=copy.deepcopy({k: v for k, v in params.items() if k != "Tags"}),
        )
        self.models.create(model)
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
        if "ModelPackageName" in spec:
            given = [key for key in ("Image", "ModelDataUrl") if key in spec]
            if given:
                raise ValidationException(
                    f"A container gives either ModelPackageName or {' and '.join(given)}, "
                    "not both: the model package names the image and the model data."
                )
        elif not spec.get("Image"):
            raise ValidationException("The model's container needs an Image.")
        return spec, containers is not None

    def _package_container(self, spec: dict[str, Any], request: Request) -> Container:
        """The container of the model package ``spec`` names, with the caller's
        Environment laid over the package's.

        Raises:
            ValidationException: an unknown package, a versioned package not Approved,
                or a package of several containers.
        """
        package = self.packages.lookup(spec["ModelPackageName"], request.region, request.account_id)
        if package.versioned and package.approval_status != "Approved":
            raise ValidationException(
                f"Model package {package.arn} has ModelApprovalStatus "
                f"{package.approval_status}; a model can be created only from an approved "
                "model package version: approve it with UpdateModelPackage "
                "(ModelApprovalStatus=Approved) first."
            )
        containers = package.containers
        if len(containers) != 1:
            raise ValidationException(
                f"simsage serves single-container models: model package {package.arn} has "
                f"{len(containers)} containers in its InferenceSpecification."
            )
        (chosen,) = containers
        environment = {**(chosen.get("Environment") or {}), **(spec.get("Environment") or {})}
        return Container(
            image=chosen["Image"],
            model_data_url=chosen.get("ModelDataUrl"),
            environment=environment or None,
        )

    def describe_model(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Could not find model …") for an unknown name."""
        model = self.models.get(request.params["ModelName"], request.region, request.account_id)
        answer = described(model.describe(), request.model, model.spec)
        answer.setdefault("EnableNetworkIsolation", False)  # SageMaker's default
        return answer

    def list_models(self, request: Request) -> dict[str, Any]:
        page, token = self.models.page(request.params, NAME_LISTING)
        return list_answer("Models", [model.summary() for model in page], token)

    def delete_model(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Could not find model …") for an unknown name."""
        name = request.params["ModelName"]
        model = self.models.get(name, request.region, request.account_id)
        if not self.models.delete(name):
            raise model_not_found(request.region, request.account_id, name)
        self.tags.forget(model.arn)
        return {}
