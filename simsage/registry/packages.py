"""Model packages: CreateModelPackage, DescribeModelPackage, ListModelPackages,
UpdateModelPackage, DeleteModelPackage.

A *versioned* package (CreateModelPackage with ``ModelPackageGroupName``) is the next
version of its group — 1, 2, … — named by the group and its ARN
``…:model-package/<group>/<version>``; it starts ``PendingManualApproval`` unless the
request says otherwise, and a model is created from it only once it is ``Approved``
(UpdateModelPackage). An *unversioned* package has a name of its own
(``ModelPackageName``). Either way the package is ``Completed`` at once: simsage records
the inference specification (whose artifacts must exist in simsage's S3, as for
CreateModel) and runs no validation jobs, so a request with a ValidationSpecification
or an algorithm resource's SourceAlgorithmSpecification is refused saying so.
"""

from __future__ import annotations

import copy
from typing import Any

from simsage.errors import ValidationException
from simsage.paging import Listing
from simsage.s3.artifacts import check_model_data
from simsage.s3.backend import S3Backend
from simsage.store.model_packages import (
    MODEL_PACKAGE,
    ModelPackage,
    ModelPackageGroupStore,
    ModelPackageStore,
)
from simsage.store.registry import list_answer
from simsage.transport import Request
from simsage.transport.echo import described

# Container members simsage does not act on, with what to do instead.
_UNSUPPORTED_CONTAINER_FIELDS = {
    "ModelDataSource": "give the artifact as ModelDataUrl (one .tar.gz) instead",
    "AdditionalModelDataSources": "pack everything the model needs into ModelDataUrl",
    "ProductId": "AWS Marketplace products are not emulated; give Image and ModelDataUrl",
}
# What the stored request keeps out of the echo: the package's own state says these.
_NOT_ECHOED = ("Tags", "ClientToken", "ModelApprovalStatus")
MAX_ADDITIONAL_SPECIFICATIONS = 15

# Package keys sort by name, versions in number order (zero-padded): a total order,
# as the token's keyset needs, even among the versions of one group.
_LISTING = Listing(
    name=lambda p: p.package_name + ("" if p.version is None else f"/{p.version:09d}"),
    created=lambda p: p.created,
)


class ModelPackagesAPI:
    OPERATIONS = (
        "create_model_package",
        "describe_model_package",
        "list_model_packages",
        "update_model_package",
        "delete_model_package",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.groups = ModelPackageGroupStore(home)
        self.packages = ModelPackageStore(home)
        self.s3 = S3Backend(home)
        self.tags = tags

    # -- create -------------------------------------------------------------------------
    def create_model_package(self, request: Request) -> dict[str, Any]:
        """Record a versioned or unversioned package.

        Raises:
            ValidationException: both or neither of ModelPackageName and
                ModelPackageGroupName, an unknown group, a taken name, an inference
                specification simsage cannot serve or whose artifact does not exist.
        """
        params = request.params
        name, group_ref = params.get("ModelPackageName"), params.get("ModelPackageGroupName")
        if name and group_ref:
            raise ValidationException(
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use: give ModelPackageGroupName for a "
                "versioned package (a version of a group), ModelPackageName for an "
                "unversioned one."
            )
        if not name and not group_ref:
            raise ValidationException(
                "Missing ARN: give ModelPackageGroupName for a versioned model package or "
                "ModelPackageName for an unversioned one."
            )
        self._check_specification(params, request.region)
        token = params.get("ClientToken")
        group = None
        if group_ref:
            group = self.groups.lookup(group_ref, request.region, request.account_id)
        if token:
            earlier = self.packages.by_client_token(group.name if group else None, token)
            if earlier is not None:  # the same request again: its package, not a new one
                return {"ModelPackageArn": earlier.arn}
        now = self.home.clock.time()
        package = ModelPackage(
            name=name or "",
            arn=MODEL_PACKAGE.arn(request.region, request.account_id, name or ""),
            region=request.region,
            created=now,
            modified=now,
            package_name=name or "",
            approval_status=params.get(
                "ModelApprovalStatus", "PendingManualApproval" if group else None
            ),
            client_token=token,
            spec=copy.deepcopy({k: v for k, v in params.items() if k not in _NOT_ECHOED}),
        )
        if group is not None:
            package.group = group.name
            package = self.packages.create_version(self.groups, package, request.account_id)
        else:
            self.packages.create(package)
        self.tags.set(package.arn, params.get("Tags", []))
        return {"ModelPackageArn": package.arn}

    def _check_specification(self, params: dict[str, Any], region: str) -> None:
        if params.get("ValidationSpecification"):
            raise ValidationException(
                "simsage does not run model package validation jobs: leave out "
                "ValidationSpecification (validate with a batch transform job of a model "
                "created from the package instead)."
            )
        if params.get("SourceAlgorithmSpecification"):
            raise ValidationException(
                "simsage does not emulate algorithm resources (CreateAlgorithm): give an "
                "InferenceSpecification with the containers' Image and ModelDataUrl instead "
                "of a SourceAlgorithmSpecification."
            )
        specification = params.get("InferenceSpecification")
        if specification is None:
            raise ValidationException(
                "A model package needs an InferenceSpecification: give its Containers "
                "(Image and ModelDataUrl) and the content types it supports."
            )
        self._check_containers(specification["Containers"], region)
        for extra in params.get("AdditionalInferenceSpecifications", []):
            self._check_containers(extra["Containers"], region)

    def _check_containers(self, containers: list[dict[str, Any]], region: str) -> None:
        if not containers:
            raise ValidationException(
                "An InferenceSpecification needs at least one container (Image and ModelDataUrl)."
            )
        for container in containers:
            for key, advice in _UNSUPPORTED_CONTAINER_FIELDS.items():
                if key in container:
                    raise ValidationException(
                        f"simsage does not emulate a model package container's {key}; {advice}."
                    )
            if not container.get("Image"):
                raise ValidationException(
                    "Each container of a model package's InferenceSpecification needs an "
                    "Image (the inference image's URI)."
                )
            if container.get("ModelDataUrl") is not None:
                check_model_data(self.s3, container["ModelDataUrl"], region)

    # -- read ---------------------------------------------------------------------------
    def describe_model_package(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("ModelPackage arn… does not exist.")."""
        package = self._package(request.params["ModelPackageName"], request)
        return described(package.describe(), request.model, package.spec)

    def list_model_packages(self, request: Request) -> dict[str, Any]:
        """The packages of one kind (ModelPackageType, default Unversioned; the versions
        of ModelPackageGroupName when given), sorted by CreationTime ascending unless
        asked otherwise; NameContains and ModelApprovalStatus filter each page."""
        params = {"SortOrder": "Ascending", **request.params}
        group_ref = params.get("ModelPackageGroupName")
        kind = params.get("ModelPackageType", "Versioned" if group_ref else "Unversioned")
        items = [
            p for p in self.packages.all() if kind == "Both" or (kind == "Versioned") == p.versioned
        ]
        if group_ref:
            group = group_ref.rsplit("/", 1)[-1].lower()  # a name or the group's ARN
            items = [p for p in items if (p.group or "").lower() == group]
        contains = params.pop("NameContains", None)
        status = params.get("ModelApprovalStatus")

        def matches(package: ModelPackage) -> bool:
            named = contains is None or contains.lower() in package.package_name.lower()
            return named and (status is None or package.approval_status == status)

        page, token = self.packages.page(params, _LISTING, items=items, also=matches)
        return list_answer("ModelPackageSummaryList", [p.summary() for p in page], token)

    # -- update, delete -----------------------------------------------------------------
    def update_model_package(self, request: Request) -> dict[str, Any]:
        """Change a versioned package: its approval (with ApprovalDescription), its
        customer metadata, its inference specifications, source URI, model card and
        life cycle; stamps LastModifiedTime.

        Raises:
            ValidationException: an unknown package, an unversioned one, or more than 15
                additional inference specifications.
        """
        params = request.params
        package = self._package(params["ModelPackageArn"], request)
        if not package.versioned:
            raise ValidationException(
                f"UpdateModelPackage updates versioned model packages (the versions of a "
                f"model package group); {package.arn} is an unversioned model package."
            )
        spec = package.spec
        if "ModelApprovalStatus" in params:
            package.approval_status = params["ModelApprovalStatus"]
        for member in (
            "ApprovalDescription",
            "SourceUri",
            "ModelCard",
            "ModelLifeCycle",
            "ModelPackageRegistrationType",
        ):
            if member in params:
                spec[member] = copy.deepcopy(params[member])
        if "InferenceSpecification" in params:
            self._check_containers(params["InferenceSpecification"]["Containers"], request.region)
            spec["InferenceSpecification"] = copy.deepcopy(params["InferenceSpecification"])
        metadata = dict(spec.get("CustomerMetadataProperties") or {})
        metadata.update(params.get("CustomerMetadataProperties", {}))
        for key in params.get("CustomerMetadataPropertiesToRemove", []):
            metadata.pop(key, None)
        if metadata:
            spec["CustomerMetadataProperties"] = metadata
        else:
            spec.pop("CustomerMetadataProperties", None)
        added = params.get("AdditionalInferenceSpecificationsToAdd", [])
        if added:
            for extra in added:
                self._check_containers(extra["Containers"], request.region)
            specifications = [*spec.get("AdditionalInferenceSpecifications", []), *added]
            if len(specifications) > MAX_ADDITIONAL_SPECIFICATIONS:
                raise ValidationException(
                    f"A model package holds at most {MAX_ADDITIONAL_SPECIFICATIONS} additional "
                    f"inference specifications; {package.arn} would hold {len(specifications)}."
                )
            spec["AdditionalInferenceSpecifications"] = copy.deepcopy(specifications)
        package.modified = self.home.clock.time()
        self.packages.save(package)
        return {"ModelPackageArn": package.arn}

    def delete_model_package(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("ModelPackage arn… does not exist.")."""
        package = self._package(request.params["ModelPackageName"], request)
        self.packages.delete(package.name)
        self.tags.forget(package.arn)
        return {}

    def _package(self, reference: str, request: Request) -> ModelPackage:
        return self.packages.lookup(reference, request.region, request.account_id)
