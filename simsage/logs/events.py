"""Log events: PutLogEvents, GetLogEvents, FilterLogEvents (CloudWatch Logs).

Layer: the ``logs`` API (wire shapes) over :class:`~simsage.logs.store.LogStore`.

PutLogEvents keeps CloudWatch's rules (its documentation and observed answers): a
batch is at most 1,048,576 bytes (messages in UTF-8 plus 26 bytes per event) and in
chronological order, else ``InvalidParameterException``; events more than 14 days old,
older than the group's retention or more than 2 hours ahead are skipped and reported in
``rejectedLogEventsInfo`` while the others are stored; the events kept may not span more
than 24 hours. The answer carries ``nextSequenceToken`` (the token itself is ignored on
input, as CloudWatch has done since 2023).

GetLogEvents pages with ``f/…`` and ``b/…`` tokens naming an event position: a token
that reached the end comes back unchanged, which is how callers know to stop.
"""

from __future__ import annotations

import re
from typing import Any

from simsage.logs.errors import InvalidParameter, stream_not_found
from simsage.logs.groups import GroupsAPI, group_name
from simsage.logs.store import LogEvent, LogStore
from simsage.paging import decode_token, encode_token
from simsage.transport import Request

MAX_EVENTS = 10000
MAX_BATCH_BYTES = 1_048_576
MAX_PAGE_BYTES = 1_048_576
EVENT_OVERHEAD = 26
DAY_MS = 86_400_000
MAX_AGE_MS = 14 * DAY_MS
MAX_AHEAD_MS = 2 * 3_600_000
MAX_SPAN_MS = DAY_MS


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


def _sequence_token(sequence: int) -> str:
    return f"{sequence:056d}"


def _within_bytes(events: list[LogEvent], newest: bool) -> list[LogEvent]:
    """The events that fit a 1 MB page (the oldest ones forward, the newest backward)."""
    total, kept = 0, 0
    for event in reversed(events) if newest else events:
        total += len(event.message.encode("utf-8", "replace")) + EVENT_OVERHEAD
        if total > MAX_PAGE_BYTES and kept:
            break
        kept += 1
    return events[len(events) - kept :] if newest else events[:kept]


class EventsAPI:
    OPERATIONS = ("put_log_events", "get_log_events", "filter_log_events")

    def __init__(self, store: LogStore, groups: GroupsAPI, clock) -> None:
        self.store = store
        self.groups = groups
        self.clock = clock

    def put_log_events(self, request: Request) -> dict[str, Any]:
        params = request.params
        group, name = params["logGroupName"], params["logStreamName"]
        events = params["logEvents"]
        size = sum(len(e["message"].encode("utf-8")) + EVENT_OVERHEAD for e in events)
        if size > MAX_BATCH_BYTES:
            raise InvalidParameter(
                f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )
        for previous, event in zip(events, events[1:], strict=False):
            if event["timestamp"] < previous["timestamp"]:
                raise InvalidParameter(
                    "Log events in a single PutLogEvents request must be in chronological order."
                )
        retention = self.groups.require_group(group).retention
        if self.store.stream(group, name) is None:
            raise stream_not_found()
        now = int(self.clock.time() * 1000)
        # Chronological, so the rejected events are a prefix (old) and a suffix (new).
        too_old = sum(1 for e in events if e["timestamp"] < now - MAX_AGE_MS)
        expired = (
            sum(1 for e in events if e["timestamp"] < now - retention * DAY_MS) if retention else 0
        )
        too_new = next(
            (i for i, e in enumerate(events) if e["timestamp"] > now + MAX_AHEAD_MS), len(events)
        )
        kept = events[max(too_old, expired) : too_new]
        if kept and kept[-1]["timestamp"] - kept[0]["timestamp"] > MAX_SPAN_MS:
            raise InvalidParameter(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours."
            )
        sequence = self.store.append(group, name, [(e["timestamp"], e["message"]) for e in kept])
        out: dict[str, Any] = {"nextSequenceToken": _sequence_token(sequence)}
        rejected: dict[str, int] = {}
        if too_new < len(events):
            rejected["tooNewLogEventStartIndex"] = too_new
        if too_old:
            rejected["tooOldLogEventEndIndex"] = too_old
        if expired:
            rejected["expiredLogEventEndIndex"] = expired
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    def get_log_events(self, request: Request) -> dict[str, Any]:
        params = request.params
        group, name = group_name(params), params["logStreamName"]
        self.groups.require_stream(group, name)
        limit = min(params.get("limit", MAX_EVENTS), MAX_EVENTS)
        token = params.get("nextToken")
        window = {"start": params.get("startTime"), "end": params.get("endTime")}
        if token:
            direction, position = self._read_event_token(token)
        else:
            direction, position = ("f", 0) if params.get("startFromHead") else ("b", None)
        if direction == "f":
            events = self.store.events(group, [name], after_id=position or 0, limit=limit, **window)
            events = _within_bytes(events, newest=False)
        else:
            events = self.store.events(
                group, [name], before_id=position, limit=limit, newest=True, **window
            )
            events = _within_bytes(events, newest=True)
        if events:
            forward, backward = events[-1].id, events[0].id
        elif position is None:  # an empty stream read from the end
            forward = backward = self.store.sequence(group, name)
        else:
            forward = backward = position
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingested}
                for e in events
            ],
            "nextForwardToken": f"f/{forward:056d}",
            "nextBackwardToken": f"b/{backward:056d}",
        }

    @staticmethod
    def _read_event_token(token: str) -> tuple[str, int]:
        direction, _, number = token.partition("/")
        if direction not in ("f", "b") or not number.isdigit():
            raise InvalidParameter(f"The specified nextToken is invalid: {token}")
        return direction, int(number)

    def filter_log_events(self, request: Request) -> dict[str, Any]:
        params = request.params
        group = group_name(params)
        self.groups.require_group(group)
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
        forward = params.get("startFromHead", True)
        last_seen: int | None = None
        if params.get("nextToken"):  # the token's direction wins over startFromHead
            position = decode_token(params["nextToken"], InvalidParameter)
            if (
                len(position) != 2
                or position[0] not in ("f", "b")
                or not isinstance(position[1], int)
            ):
                raise InvalidParameter(f"The specified nextToken is invalid: {params['nextToken']}")
            forward, last_seen = position[0] == "f", position[1]
        window = {"start": params.get("startTime"), "end": params.get("endTime")}
        matched: list[LogEvent] = []
        size = 0
        while len(matched) < limit and size <= MAX_PAGE_BYTES:
            batch = self._batch(group, names, forward, last_seen, window, MAX_EVENTS)
            if not batch:
                break
            for event in batch:
                last_seen = event.id
                if pattern.matches(event.message):
                    matched.append(event)
                    size += len(event.message.encode("utf-8", "replace")) + EVENT_OVERHEAD
                    if len(matched) == limit or size > MAX_PAGE_BYTES:
                        break
        matched.sort(key=lambda e: (e.timestamp, e.id), reverse=not forward)
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
            # No longer answered by CloudWatch (since 2020 it is always empty).
            "searchedLogStreams": [],
        }
        if last_seen is not None and self._batch(group, names, forward, last_seen, window, 1):
            out["nextToken"] = encode_token(["f" if forward else "b", last_seen])
        return out

    def _batch(
        self,
        group: str,
        names: list[str] | None,
        forward: bool,
        last_seen: int | None,
        window: dict[str, int | None],
        limit: int,
    ) -> list[LogEvent]:
        """Events after ``last_seen`` in reading order (newest first when backward)."""
        if forward:
            return self.store.events(group, names, after_id=last_seen or 0, limit=limit, **window)
        batch = self.store.events(
            group, names, before_id=last_seen, limit=limit, newest=True, **window
        )
        batch.reverse()
        return batch
