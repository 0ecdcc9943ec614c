"""Log groups and streams: create, describe, delete, retention, tags, subscription
filters (CloudWatch Logs' resource operations).

Layer: the ``logs`` API (wire shapes) over :class:`~simsage.logs.store.LogStore`.
Describe calls page with :func:`simsage.paging.keyset_page` (log groups by name, as
CloudWatch's "ASCII-sorted" order; streams by name or by last event time).
"""

from __future__ import annotations

from typing import Any

from simsage.ids import arn
from simsage.logs.errors import (
    InvalidParameter,
    ResourceAlreadyExists,
    ResourceNotFound,
    TooManyTags,
    group_not_found,
    stream_not_found,
)
from simsage.logs.store import LogGroup, LogStore, LogStream
from simsage.paging import keyset_page
from simsage.transport import Request

MAX_DESCRIBE = 50
MAX_TAGS = 50
# PutRetentionPolicy's retentionInDays: the model types it as a plain integer; the
# service accepts only these (the Days shape's documentation).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


def group_name(params: dict[str, Any]) -> str:
    """The log group a request names, by ``logGroupName`` or ``logGroupIdentifier``
    (a name or an ARN, with or without the trailing ``:*``)."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    name = name or identifier
    if not name:
        raise InvalidParameter("Either logGroupName or logGroupIdentifier must be provided.")
    if ":log-group:" in name:
        name = name.split(":log-group:", 1)[1].removesuffix(":*")
    return name


def _group_from_arn(resource_arn: str) -> str:
    """The log group a TagResource-style ARN names."""
    parts = resource_arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "logs":
        raise InvalidParameter(
            f"Invalid resource ARN: {resource_arn}. Give a log group's ARN "
            "(arn:aws:logs:<region>:<account>:log-group:<name>)."
        )
    if parts[5] != "log-group":
        raise ResourceNotFound(
            f"The specified resource does not exist: {resource_arn} (simsage tags log groups only)."
        )
    return parts[6].removesuffix(":*")


class GroupsAPI:
    OPERATIONS = (
        "create_log_group",
        "delete_log_group",
        "describe_log_groups",
        "put_retention_policy",
        "delete_retention_policy",
        "tag_log_group",
        "untag_log_group",
        "list_tags_log_group",
        "tag_resource",
        "untag_resource",
        "list_tags_for_resource",
        "describe_subscription_filters",
        "create_log_stream",
        "delete_log_stream",
        "describe_log_streams",
    )

    def __init__(self, store: LogStore) -> None:
        self.store = store

    @staticmethod
    def _group_arn(request: Request, name: str) -> str:
        return arn("logs", request.region, request.account_id, f"log-group:{name}")

    def require_group(self, name: str) -> LogGroup:
        group = self.store.group(name)
        if group is None:
            raise group_not_found()
        return group

    def require_stream(self, group: str, name: str) -> LogStream:
        self.require_group(group)
        stream = self.store.stream(group, name)
        if stream is None:
            raise stream_not_found()
        return stream

    # -- log groups ----------------------------------------------------------------

    def create_log_group(self, request: Request) -> dict[str, Any]:
        params = request.params
        name = params["logGroupName"]
        if name.startswith("aws/"):
            raise InvalidParameter(
                f"Log group names can't start with 'aws/' (got {name}); that prefix is "
                "reserved for AWS services."
            )
        if not self.store.create_group(name):
            raise ResourceAlreadyExists("The specified log group already exists")
        if params.get("tags"):
            self.store.tag(name, params["tags"], MAX_TAGS)
        return {}

    def delete_log_group(self, request: Request) -> dict[str, Any]:
        if not self.store.delete_group(request.params["logGroupName"]):
            raise group_not_found()
        return {}

    def describe_log_groups(self, request: Request) -> dict[str, Any]:
        params = request.params
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix and pattern:
            raise InvalidParameter(
                "logGroupNamePrefix and logGroupNamePattern are mutually exclusive "
                "parameters; give one of them."
            )
        if identifiers and (prefix or pattern):
            raise InvalidParameter(
                "logGroupIdentifiers cannot be combined with logGroupNamePrefix or "
                "logGroupNamePattern."
            )
        groups = self.store.groups(prefix or "")
        if pattern:  # a case-sensitive substring, as documented
            groups = [g for g in groups if pattern in g.name]
        if identifiers:
            wanted = {group_name({"logGroupIdentifier": i}) for i in identifiers}
            groups = [g for g in groups if g.name in wanted]
        if params.get("logGroupClass") not in (None, "STANDARD"):
            groups = []  # simsage's log groups are all of the Standard class
        page, token = keyset_page(
            groups,
            lambda g: (g.name,),
            min(params.get("limit", MAX_DESCRIBE), MAX_DESCRIBE),
            params.get("nextToken"),
            InvalidParameter,
        )
        out: dict[str, Any] = {
            "logGroups": [self._describe_group(request, g, brief=bool(pattern)) for g in page]
        }
        if token:
            out["nextToken"] = token
        return out

    def _describe_group(self, request: Request, group: LogGroup, brief: bool) -> dict[str, Any]:
        group_arn = self._group_arn(request, group.name)
        out: dict[str, Any] = {
            "logGroupName": group.name,
            "creationTime": group.created,
            "arn": group_arn + ":*",
        }
        if brief:  # with logGroupNamePattern only these three are answered
            return out
        if group.retention:
            out["retentionInDays"] = group.retention
        out.update(
            metricFilterCount=0,
            storedBytes=group.stored_bytes,
            logGroupClass="STANDARD",
            logGroupArn=group_arn,
            deletionProtectionEnabled=False,
        )
        return out

    def put_retention_policy(self, request: Request) -> dict[str, Any]:
        days = request.params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise InvalidParameter(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(map(str, RETENTION_DAYS))}]"
            )
        if not self.store.set_retention(request.params["logGroupName"], days):
            raise group_not_found()
        return {}

    def delete_retention_policy(self, request: Request) -> dict[str, Any]:
        if not self.store.set_retention(request.params["logGroupName"], None):
            raise group_not_found()
        return {}

    # -- tags ----------------------------------------------------------------------

    def _tag(self, group: str, tags: dict[str, str], resource: str, error) -> None:
        total = self.store.tag(group, tags, MAX_TAGS)
        if total is None:
            raise group_not_found()
        if total > MAX_TAGS:
            raise error(
                f"A resource can have no more than {MAX_TAGS} tags; {resource} would have "
                f"{total}. Remove some with UntagResource first."
            )

    def tag_log_group(self, request: Request) -> dict[str, Any]:
        name = request.params["logGroupName"]
        self._tag(name, request.params["tags"], name, InvalidParameter)
        return {}

    def untag_log_group(self, request: Request) -> dict[str, Any]:
        if not self.store.untag(request.params["logGroupName"], request.params["tags"]):
            raise group_not_found()
        return {}

    def list_tags_log_group(self, request: Request) -> dict[str, Any]:
        name = request.params["logGroupName"]
        self.require_group(name)
        return {"tags": self.store.tags(name)}

    def tag_resource(self, request: Request) -> dict[str, Any]:
        resource = request.params["resourceArn"]
        self._tag(
            _group_from_arn(resource),
            request.params["tags"],
            resource,
            lambda message: TooManyTags(message, resource),
        )
        return {}

    def untag_resource(self, request: Request) -> dict[str, Any]:
        group = _group_from_arn(request.params["resourceArn"])
        if not self.store.untag(group, request.params["tagKeys"]):
            raise group_not_found()
        return {}

    def list_tags_for_resource(self, request: Request) -> dict[str, Any]:
        group = _group_from_arn(request.params["resourceArn"])
        self.require_group(group)
        return {"tags": self.store.tags(group)}

    def describe_subscription_filters(self, request: Request) -> dict[str, Any]:
        """simsage delivers log events nowhere, so a group has no subscription filters."""
        self.require_group(request.params["logGroupName"])
        return {"subscriptionFilters": []}

    # -- log streams ---------------------------------------------------------------

    def create_log_stream(self, request: Request) -> dict[str, Any]:
        group, name = request.params["logGroupName"], request.params["logStreamName"]
        self.require_group(group)
        if not self.store.create_stream(group, name):
            raise ResourceAlreadyExists("The specified log stream already exists")
        return {}

    def delete_log_stream(self, request: Request) -> dict[str, Any]:
        group, name = request.params["logGroupName"], request.params["logStreamName"]
        self.require_stream(group, name)
        self.store.delete_stream(group, name)
        return {}

    def describe_log_streams(self, request: Request) -> dict[str, Any]:
        params = request.params
        group = group_name(params)
        self.require_group(group)
        prefix = params.get("logStreamNamePrefix", "")
        order = params.get("orderBy", "LogStreamName")
        if prefix and order == "LastEventTime":
            raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = self.store.streams(group, prefix)
        if order == "LastEventTime":
            key = lambda s: (s.last_event or 0, s.name)  # noqa: E731
            streams.sort(key=key)
        else:
            key = lambda s: (s.name,)  # noqa: E731
        descending = bool(params.get("descending"))
        if descending:
            streams.reverse()
        page, token = keyset_page(
            streams,
            key,
            min(params.get("limit", MAX_DESCRIBE), MAX_DESCRIBE),
            params.get("nextToken"),
            InvalidParameter,
            descending=descending,
            scope=(order,),
        )
        group_arn = self._group_arn(request, group)
        out: dict[str, Any] = {"logStreams": [_describe_stream(s, group_arn) for s in page]}
        if token:
            out["nextToken"] = token
        return out


def _describe_stream(stream: LogStream, group_arn: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created,
        "arn": f"{group_arn}:log-stream:{stream.name}",
        "storedBytes": stream.stored_bytes,
    }
    if stream.first_event is not None:
        out["firstEventTimestamp"] = stream.first_event
        out["lastEventTimestamp"] = stream.last_event
        out["lastIngestionTime"] = stream.last_ingestion
    return out
