"""The model registry's rows: model package groups and model packages (versioned ones,
numbered within their group, and unversioned ones with a name of their own).

Layer: store. Two concepts read model packages: the registry (``simsage/registry``,
which makes, lists, approves and deletes them) and hosting (CreateModel resolves a
container's ``ModelPackageName`` to the package's image and artifact), so the rows live
here, below both; the wire answers are the registry's.

A package's key (the table's ``name``) is its name for an unversioned package and
``<group>/<version>`` for a versioned one, the same path its ARN ends with
(``model-package/<group>/<version>``, lower-cased as SageMaker's ARNs are); unversioned
names cannot hold a ``/``, so the two never collide. Versions are numbered by a counter
on the group's row, taken in the same transaction that inserts the package: concurrent
CreateModelPackage calls get distinct versions, and a deleted version's number is not
given again.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from simsage.errors import AWSError, ClientFault, ValidationException
from simsage.ids import from_epoch
from simsage.store.db import register_schema
from simsage.store.registry import BodyTable, Kind, declare

register_schema(
    """
    CREATE TABLE IF NOT EXISTS registry_model_package_groups (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL)
    """
)
register_schema(
    """
    CREATE TABLE IF NOT EXISTS registry_model_packages (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL)
    """
)


class ConflictException(ClientFault):
    """SageMaker's answer to a change the resource's state does not allow now."""

    code = "ConflictException"


def _group_taken(taken: str) -> AWSError:
    # The SDK's register() recognises "already exists" and carries on with the group.
    return ValidationException(f"Model Package Group already exists: {taken}")


def _group_missing(name: str, where: str | None) -> AWSError:
    return ValidationException(f"ModelPackageGroup {where or name} does not exist.")


def _package_taken(taken: str) -> AWSError:
    # The SDK's create_model_package_from_algorithm recognises "ModelPackage already exists".
    return ValidationException(f"ModelPackage already exists: {taken}")


def _package_missing(name: str, where: str | None) -> AWSError:
    return ValidationException(f"ModelPackage {where or name} does not exist.")


MODEL_PACKAGE_GROUP = declare(
    Kind("model-package-group", "registry_model_package_groups", _group_taken, _group_missing)
)
MODEL_PACKAGE = declare(
    Kind("model-package", "registry_model_packages", _package_taken, _package_missing)
)

# The resource part of a model package ARN or a reference to one: "name" or "group/3".
_REFERENCE = re.compile(
    r"^(?P<name>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})(?:/(?P<version>[0-9]{1,9}))?$"
)
_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:(?P<type>[a-z\-]*)/(?P<rest>.*)$"
)


@dataclass
class ModelPackageGroup:
    """A model package group's row. ``spec`` is the CreateModelPackageGroup request
    (without Tags), for what DescribeModelPackageGroup echoes of it."""

    name: str
    arn: str
    region: str
    created: float
    description: str | None = None
    latest_version: int = 0  # the last version number given (never given again)
    spec: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ModelPackageGroupName": self.name,
            "ModelPackageGroupArn": self.arn,
            "CreationTime": from_epoch(self.created),
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        }
        if self.description is not None:
            out["ModelPackageGroupDescription"] = self.description
        return out

    def summary(self) -> dict[str, Any]:
        """ListModelPackageGroups' entry."""
        out = self.describe()
        del out["CreatedBy"]
        return out


@dataclass
class ModelPackage:
    """A model package's row.

    ``name`` is the key (``<group>/<version>`` for a versioned package), ``package_name``
    what SageMaker calls it (the group's name for a versioned package). ``spec`` is the
    CreateModelPackage request (without Tags and ClientToken) with UpdateModelPackage's
    changes applied, for what DescribeModelPackage echoes of it.
    """

    name: str
    arn: str
    region: str
    created: float
    package_name: str
    modified: float
    group: str | None = None
    version: int | None = None
    approval_status: str | None = None
    status: str = "Completed"
    client_token: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def versioned(self) -> bool:
        return self.version is not None

    @property
    def containers(self) -> list[dict[str, Any]]:
        """The InferenceSpecification's containers (deep copies)."""
        spec = self.spec.get("InferenceSpecification") or {}
        return copy.deepcopy(spec.get("Containers", []))

    def describe(self) -> dict[str, Any]:
        """The package's own state in DescribeModelPackage's shape (the API adds what the
        answer echoes of the request)."""
        out: dict[str, Any] = {"ModelPackageName": self.package_name}
        if self.versioned:
            out["ModelPackageGroupName"] = self.group
            out["ModelPackageVersion"] = self.version
        out["ModelPackageArn"] = self.arn
        out["CreationTime"] = from_epoch(self.created)
        out["ModelPackageStatus"] = self.status
        out["ModelPackageStatusDetails"] = {"ValidationStatuses": [], "ImageScanStatuses": []}
        out["CertifyForMarketplace"] = bool(self.spec.get("CertifyForMarketplace", False))
        if self.approval_status is not None:
            out["ModelApprovalStatus"] = self.approval_status
        out["CreatedBy"] = {}
        out["LastModifiedTime"] = from_epoch(self.modified)
        if self.modified != self.created:
            out["LastModifiedBy"] = {}
        return out

    def summary(self) -> dict[str, Any]:
        """ListModelPackages' entry."""
        out: dict[str, Any] = {"ModelPackageName": self.package_name}
        if self.versioned:
            out["ModelPackageGroupName"] = self.group
            out["ModelPackageVersion"] = self.version
        out["ModelPackageArn"] = self.arn
        if self.spec.get("ModelPackageDescription") is not None:
            out["ModelPackageDescription"] = self.spec["ModelPackageDescription"]
        out["CreationTime"] = from_epoch(self.created)
        out["ModelPackageStatus"] = self.status
        if self.approval_status is not None:
            out["ModelApprovalStatus"] = self.approval_status
        for member in ("ModelLifeCycle", "ModelPackageRegistrationType"):
            if self.spec.get(member) is not None:
                out[member] = copy.deepcopy(self.spec[member])
        return out


def split_reference(reference: str, arn_type: str) -> tuple[str, int | None] | None:
    """``(name, version)`` of a reference to a ``arn_type`` resource: a name, a
    ``name/version`` path or an ARN ending with either (None: not such a reference)."""
    match = _ARN.match(reference)
    if match:
        if match["type"] != arn_type:
            return None
        reference = match["rest"]
    ref = _REFERENCE.match(reference)
    if ref is None:
        return None
    version = ref["version"]
    return ref["name"], None if version is None else int(version)


def package_key(name: str, version: int | None) -> str:
    """The table key of a package: its name, or ``<group>/<version>``."""
    return name if version is None else f"{name}/{version}"


class ModelPackageGroupStore(BodyTable[ModelPackageGroup]):
    """The model package groups of one home."""

    kind = MODEL_PACKAGE_GROUP
    item = ModelPackageGroup

    def lookup(self, reference: str, region: str, account_id: str) -> ModelPackageGroup:
        """The group a name or ARN names.

        Raises:
            ValidationException: ``ModelPackageGroup <arn> does not exist.``
        """
        parts = split_reference(reference, MODEL_PACKAGE_GROUP.arn_type)
        group = None
        if parts is not None and parts[1] is None:
            group = self.find(parts[0])
            if group is not None and reference.startswith("arn:"):
                group = group if group.arn.lower() == reference.lower() else None
        if group is None:
            if reference.startswith("arn:"):
                raise _group_missing(reference, reference)
            raise MODEL_PACKAGE_GROUP.not_found(reference, region, account_id)
        return group

    def delete_empty(self, name: str) -> list[str]:
        """Delete group ``name`` if it holds no versions, in one transaction with the
        check (so no version is created in a group being deleted).

        Returns:
            The ARNs of the versions it holds, oldest first (empty: it was deleted).
        """
        with self.db.write() as conn:
            held = conn.execute(
                f"SELECT arn FROM {MODEL_PACKAGE.table} "
                "WHERE lower(json_extract(body, '$.group')) = lower(?) ORDER BY created",
                (name,),
            ).fetchall()
            if not held:
                conn.execute(f"DELETE FROM {self.table} WHERE name = ?", (name,))
        return [arn for (arn,) in held]


class ModelPackageStore(BodyTable[ModelPackage]):
    """The model packages of one home, versioned and unversioned."""

    kind = MODEL_PACKAGE
    item = ModelPackage

    def lookup(self, reference: str, region: str, account_id: str) -> ModelPackage:
        """The package a name, ``group/version`` path or ARN names (any case).

        Raises:
            ValidationException: ``ModelPackage <arn> does not exist.``
        """
        parts = split_reference(reference, MODEL_PACKAGE.arn_type)
        package = None
        if parts is not None:
            package = self.find(package_key(*parts))
            if package is not None and reference.startswith("arn:"):
                package = package if package.arn.lower() == reference.lower() else None
        if package is None:
            if reference.startswith("arn:"):
                raise _package_missing(reference, reference)
            raise MODEL_PACKAGE.not_found(reference, region, account_id)
        return package

    def by_client_token(self, group: str | None, token: str) -> ModelPackage | None:
        """The package an earlier CreateModelPackage with ``token`` made in ``group``."""
        for package in self.all():
            same_group = (package.group or "").lower() == (group or "").lower()
            if same_group and package.client_token == token:
                return package
        return None

    def create_version(
        self, groups: ModelPackageGroupStore, package: ModelPackage, account_id: str
    ) -> ModelPackage:
        """Insert ``package`` as the next version of its group, in one transaction that
        takes the group's next version number.

        Args:
            package: a package of ``group``; its ``version``, ``name``, ``package_name``
                and ``arn`` are set here.

        Raises:
            ValidationException: the group is gone.
        """
        with self.db.write() as conn:
            row = conn.execute(
                f"SELECT name, body FROM {groups.table} WHERE name = ?", (package.group,)
            ).fetchone()
            if row is None:
                raise MODEL_PACKAGE_GROUP.not_found(package.group, package.region, account_id)
            group_name, body = row[0], json.loads(row[1])
            version = int(body.get("latest_version", 0)) + 1
            body["latest_version"] = version
            conn.execute(
                f"UPDATE {groups.table} SET body = ? WHERE name = ?", (json.dumps(body), group_name)
            )
            package.group = package.package_name = group_name
            package.version = version
            package.name = package_key(group_name, version)
            package.arn = MODEL_PACKAGE.arn(package.region, account_id, package.name)
            values = [
                self.encode(c, v) for c, v in zip(self.columns, self.to_row(package), strict=True)
            ]
            conn.execute(
                f"INSERT INTO {self.table} ({', '.join(self.columns)}) "
                f"VALUES ({', '.join('?' * len(self.columns))})",
                values,
            )
        return package

    def save(self, package: ModelPackage) -> None:
        """Write back a package's changed fields (UpdateModelPackage)."""
        body = asdict(package)
        for key in self._KEYED:
            del body[key]
        with self.db.write() as conn:
            self.set(conn, package.name, {"body": body})
