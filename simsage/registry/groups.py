"""Model package groups: CreateModelPackageGroup, DescribeModelPackageGroup,
ListModelPackageGroups, DeleteModelPackageGroup.

A group holds the versions of one model (CreateModelPackage with its name). As on AWS,
a group that still holds versions is not deleted (ConflictException): delete its
versions first.
"""

from __future__ import annotations

import copy
from typing import Any

from simsage.store.model_packages import (
    ConflictException,
    ModelPackageGroup,
    ModelPackageGroupStore,
)
from simsage.store.registry import NAME_LISTING, list_answer
from simsage.transport import Request
from simsage.transport.echo import described


class ModelPackageGroupsAPI:
    OPERATIONS = (
        "create_model_package_group",
        "describe_model_package_group",
        "list_model_package_groups",
        "delete_model_package_group",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.groups = ModelPackageGroupStore(home)
        self.tags = tags

    def create_model_package_group(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Model Package Group already exists: arn…") for a
        name (any case) already taken."""
        params = request.params
        name = params["ModelPackageGroupName"]
        group = ModelPackageGroup(
            name=name,
            arn=self.groups.kind.arn(request.region, request.account_id, name),
            region=request.region,
            created=self.home.clock.time(),
            description=params.get("ModelPackageGroupDescription"),
            spec=copy.deepcopy({k: v for k, v in params.items() if k != "Tags"}),
        )
        self.groups.create(group)
        self.tags.set(group.arn, params.get("Tags", []))
        return {"ModelPackageGroupArn": group.arn}

    def describe_model_package_group(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("ModelPackageGroup arn… does not exist.")."""
        group = self._group(request)
        return described(group.describe(), request.model, group.spec)

    def list_model_package_groups(self, request: Request) -> dict[str, Any]:
        """Groups of this account (none are shared with it from others: a CrossAccount
        listing is empty), sorted by CreationTime ascending unless asked otherwise."""
        if request.params.get("CrossAccountFilterOption") == "CrossAccount":
            return list_answer("ModelPackageGroupSummaryList", [], None)
        params = {"SortOrder": "Ascending", **request.params}
        page, token = self.groups.page(params, NAME_LISTING)
        return list_answer("ModelPackageGroupSummaryList", [g.summary() for g in page], token)

    def delete_model_package_group(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException for an unknown group, ConflictException for one
        that still holds model package versions."""
        group = self._group(request)
        versions = self.groups.delete_empty(group.name)
        if versions:
            raise ConflictException(
                f"Model Package Group {group.arn} cannot be deleted: it holds "
                f"{len(versions)} model package version(s) (the latest is {versions[-1]}). "
                "Delete its model packages (DeleteModelPackage) first."
            )
        self.tags.forget(group.arn)
        return {}

    def _group(self, request: Request) -> ModelPackageGroup:
        return self.groups.lookup(
            request.params["ModelPackageGroupName"], request.region, request.account_id
        )
