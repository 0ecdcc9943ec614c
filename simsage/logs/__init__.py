"""CloudWatch Logs: the log store that jobs and endpoints write to
(:mod:`simsage.logs.store`), and the ``logs`` API that reads and manages it
(:mod:`simsage.logs.service`: log groups, streams, retention and tags in
:mod:`simsage.logs.groups`; PutLogEvents, GetLogEvents and FilterLogEvents in
:mod:`simsage.logs.events`)."""

from simsage.logs.store import LogStore

__all__ = ["LogStore"]
