"""CloudWatch Logs: the log store that jobs and endpoints write to, and the ``logs`` API
(log groups, streams, GetLogEvents, FilterLogEvents) that reads it back."""

from simsage.logs.store import LogStore

__all__ = ["LogStore"]
