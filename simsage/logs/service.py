"""The ``logs`` API (CloudWatch Logs) over :class:`~simsage.logs.store.LogStore`."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from simsage.errors import ClientFault
from simsage.ids import arn
from simsage.logs.store import LogEvent, LogStore, LogStream
from simsage.transport import Request

MAX_EVENTS = 10000
MAX_DESCRIBE = 50


class ResourceNotFound(ClientFault):
    code = "ResourceNotFoundException"


class ResourceAlreadyExists(ClientFault):
    code = "ResourceAlreadyExistsException"


class InvalidParameter(ClientFault):
    code = "InvalidParameterException"


def _group_name(params: dict[str, Any]) -> str:
    name = params.get("logGroupName") or params.get("logGroupIdentifier")
    if not name:
        raise InvalidParameter("Either logGroupName or logGroupIdentifier must be provided.")
    if ":log-group:" in name:  # an ARN was given as the identifier
        name = name.split(":log-group:", 1)[1].removesuffix(":*")
    return name


def _page_token(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


def _read_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameter(f"The specified nextToken is invalid: {token}") from None


class FilterPattern:
    """CloudWatch's text filter patterns: every term must appear (``"quoted phrase"``
    for exact phrases), ``?term`` alternatives of which one must appear, ``-term`` must
    not appear. An empty pattern matches everything. JSON and space-delimited patterns
    are not supported and are refused clearly."""

    _TOKEN = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')

    def __init__(self, pattern: str | None) -> None:
        pattern = (pattern or "").strip()
        if pattern.startswith(("{", "[")):
            raise InvalidParameter(
                'simsage supports text filter patterns (terms, "phrases", ?any, -none); '
                f"JSON and space-delimited patterns are not emulated: {pattern}"
            )
        self.required: list[str] = []
        self.optional: list[str] = []
        self.excluded: list[str] = []
        for sign, quoted, bare in self._TOKEN.findall(pattern):
            term = quoted if quoted else bare
            {"?": self.optional, "-": self.excluded}.get(sign, self.required).append(term)

    def matches(self, message: str) -> bool:
        if any(term not in message for term in self.required):
            return False
        if self.optional and not any(term in message for term in self.optional):
            return False
        return not any(term in message for term in self.excluded)


class LogsService:
    """Answers CloudWatch Logs operations for one home."""

    CHECK_INPUT = True

    def __init__(self, home) -> None:
        self.store = LogStore(home)

    def _group_arn(self, request: Request, name: str) -> str:
        return arn("logs", request.region, request.account_id, f"log-group:{name}")

    def _require_group(self, name: str) -> None:
        if self.store.group(name) is None:
            raise ResourceNotFound("The specified log group does not exist.")

    def _require_stream(self, group: str, name: str) -> LogStream:
        self._require_group(group)
        stream = self.store.stream(group, name)
        if stream is None:
            raise ResourceNotFound("The specified log stream does not exist.")
        return stream

    # -- groups and streams --------------------------------------------------------

    def create_log_group(self, request: Request) -> dict[str, Any]:
        name = request.params["logGroupName"]
        if not self.store.create_group(name):
            raise ResourceAlreadyExists("The specified log group already exists")
        return {}

    def create_log_stream(self, request: Request) -> dict[str, Any]:
        group, name = request.params["logGroupName"], request.params["logStreamName"]
        self._require_group(group)
        if not self.store.create_stream(group, name):
            raise ResourceAlreadyExists("The specified log stream already exists")
        return {}

    def delete_log_group(self, request: Request) -> dict[str, Any]:
        if not self.store.delete_group(request.params["logGroupName"]):
            raise ResourceNotFound("The specified log group does not exist.")
        return {}

    def delete_log_stream(self, request: Request) -> dict[str, Any]:
        group, name = request.params["logGroupName"], request.params["logStreamName"]
        self._require_stream(group, name)
        self.store.delete_stream(group, name)
        return {}

    def put_log_events(self, request: Request) -> dict[str, Any]:
        group, name = request.params["logGroupName"], request.params["logStreamName"]
        self._require_stream(group, name)
        events = sorted(request.params["logEvents"], key=lambda e: e["timestamp"])
        self.store.append(group, name, [(e["timestamp"], e["message"]) for e in events])
        return {}

    def describe_log_groups(self, request: Request) -> dict[str, Any]:
        params = request.params
        groups = self.store.groups(params.get("logGroupNamePrefix", ""))
        pattern = params.get("logGroupNamePattern")
        if pattern:
            groups = [g for g in groups if pattern.lower() in g.name.lower()]
        start = _read_page_token(params.get("nextToken"))
        limit = min(params.get("limit", MAX_DESCRIBE), MAX_DESCRIBE)
        page = groups[start : start + limit]
        out: dict[str, Any] = {
            "logGroups": [
                {
                    "logGroupName": g.name,
                    "creationTime": g.created,
                    "metricFilterCount": 0,
                    "arn": self._group_arn(request, g.name) + ":*",
                    "logGroupArn": self._group_arn(request, g.name),
                    "storedBytes": g.stored_bytes,
                    "logGroupClass": "STANDARD",
                    **({"retentionInDays": g.retention} if g.retention else {}),
                }
                for g in page
            ]
        }
        if start + limit < len(groups):
            out["nextToken"] = _page_token(start + limit)
        return out

    def describe_log_streams(self, request: Request) -> dict[str, Any]:
        params = request.params
        group = _group_name(params)
        self._require_group(group)
        prefix = params.get("logStreamNamePrefix", "")
        order = params.get("orderBy", "LogStreamName")
        if prefix and order == "LastEventTime":
            raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = self.store.streams(group, prefix)
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name))
        if params.get("descending"):
            streams.reverse()
        start = _read_page_token(params.get("nextToken"))
        limit = min(params.get("limit", MAX_DESCRIBE), MAX_DESCRIBE)
        page = streams[start : start + limit]
        group_arn = self._group_arn(request, group)
        out: dict[str, Any] = {"logStreams": [self._stream(s, group_arn) for s in page]}
        if start + limit < len(streams):
            out["nextToken"] = _page_token(start + limit)
        return out

    @staticmethod
    def _stream(stream: LogStream, group_arn: str) -> dict[str, Any]:
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

    # -- events --------------------------------------------------------------------

    def get_log_events(self, request: Request) -> dict[str, Any]:
        params = request.params
        group, name = _group_name(params), params["logStreamName"]
        self._require_stream(group, name)
        limit = min(params.get("limit", MAX_EVENTS), MAX_EVENTS)
        token = params.get("nextToken")
        window = {"start": params.get("startTime"), "end": params.get("endTime")}
        if token:
            direction, position = self._read_event_token(token)
        else:
            direction, position = ("f", 0) if params.get("startFromHead") else ("b", None)
        if direction == "f":
            events = self.store.events(group, [name], after_id=position or 0, limit=limit, **window)
        else:
            events = self.store.events(
                group, [name], before_id=position, limit=limit, newest=True, **window
            )
        if events:
            forward, backward = events[-1].id, events[0].id
        else:
            forward = backward = position or 0
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingested}
                for e in events
            ],
            "nextForwardToken": f"f/{forward:020d}",
            "nextBackwardToken": f"b/{backward:020d}",
        }

    @staticmethod
    def _read_event_token(token: str) -> tuple[str, int]:
        direction, _, number = token.partition("/")
        if direction not in ("f", "b") or not number.isdigit():
            raise InvalidParameter(f"The specified nextToken is invalid: {token}")
        return direction, int(number)

    def filter_log_events(self, request: Request) -> dict[str, Any]:
        params = request.params
        group = _group_name(params)
        self._require_group(group)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameter(
                "You cannot specify both logStreamNames and logStreamNamePrefix."
            )
        if prefix is not None:
            names = [s.name for s in self.store.streams(group, prefix)]
        pattern = FilterPattern(params.get("filterPattern"))
        limit = min(params.get("limit", MAX_EVENTS), MAX_EVENTS)
        after = _read_page_token(params.get("nextToken"))
        matched: list[LogEvent] = []
        last_seen = after
        while len(matched) < limit:
            batch = self.store.events(
                group,
                names,
                after_id=last_seen,
                start=params.get("startTime"),
                end=params.get("endTime"),
                limit=MAX_EVENTS,
            )
            if not batch:
                break
            for event in batch:
                last_seen = event.id
                if pattern.matches(event.message):
                    matched.append(event)
                    if len(matched) == limit:
                        break
        matched.sort(key=lambda e: (e.timestamp, e.id))
        out: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingested,
                    "eventId": f"{e.id:056d}",
                }
                for e in matched
            ],
            "searchedLogStreams": [
                {"logStreamName": n, "searchedCompletely": True}
                for n in (
                    names if names is not None else [s.name for s in self.store.streams(group)]
                )
            ],
        }
        if len(matched) == limit and self.store.events(group, names, after_id=last_seen, limit=1):
            out["nextToken"] = _page_token(last_seen)
        return out
