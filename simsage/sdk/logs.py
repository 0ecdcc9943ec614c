"""Following a job's CloudWatch log streams (every stream under a prefix) as they grow.

Layer: SDK, on the boto3 ``logs`` client only.
"""

from __future__ import annotations

from typing import Any


class LogFollower:
    """Remembers how far each stream of ``group`` under ``prefix`` has been read.

    Parameters
    ----------
    logs:
        A boto3 ``logs`` client.
    group, prefix:
        The log group (``/aws/sagemaker/TrainingJobs``) and the stream name prefix
        (``<job>/``).
    """

    def __init__(self, logs, group: str, prefix: str) -> None:
        self.logs = logs
        self.group = group
        self.prefix = prefix
        self._tokens: dict[str, str | None] = {}

    @property
    def single_stream(self) -> bool:
        return len(self._tokens) <= 1

    def _streams(self) -> list[str]:
        names = []
        paginator = self.logs.get_paginator("describe_log_streams")
        try:
            for page in paginator.paginate(
                logGroupName=self.group, logStreamNamePrefix=self.prefix
            ):
                names += [s["logStreamName"] for s in page["logStreams"]]
        except self.logs.exceptions.ResourceNotFoundException:
            return []  # nothing logged yet
        return names

    def new_lines(self) -> list[tuple[str, str]]:
        """Lines logged since the last call, as (short stream name, message), in time
        order across streams."""
        events: list[tuple[int, str, str]] = []
        for stream in self._streams():
            token = self._tokens.get(stream)
            while True:
                kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
                answer = self.logs.get_log_events(
                    logGroupName=self.group, logStreamName=stream, **kwargs
                )
                short = stream[len(self.prefix) :]
                events += [(e["timestamp"], short, e["message"]) for e in answer["events"]]
                new_token = answer["nextForwardToken"]
                if new_token == token or not answer["events"]:
                    self._tokens[stream] = new_token
                    break
                token = new_token
            self._tokens.setdefault(stream, token)
        events.sort(key=lambda e: e[0])
        return [(stream, message) for _, stream, message in events]
