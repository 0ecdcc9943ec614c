"""The ``logs`` API (CloudWatch Logs): one service object gathering the resource
operations (:mod:`simsage.logs.groups`) and the event operations
(:mod:`simsage.logs.events`) over one :class:`~simsage.logs.store.LogStore`.

Inputs are checked against the model's constraints and reported as
``InvalidParameterException``, as CloudWatch Logs does.
"""

from __future__ import annotations

from simsage.logs.errors import INPUT_ERRORS
from simsage.logs.events import EventsAPI, FilterPattern
from simsage.logs.groups import GroupsAPI
from simsage.logs.store import LogStore

__all__ = ["FilterPattern", "LogsService"]


class LogsService:
    """Answers CloudWatch Logs operations for one home."""

    CHECK_INPUT = INPUT_ERRORS

    def __init__(self, home) -> None:
        self.store = LogStore(home)
        groups = GroupsAPI(self.store)
        for api in (groups, EventsAPI(self.store, groups, home.clock)):
            for operation in api.OPERATIONS:
                setattr(self, operation, getattr(api, operation))
