"""The one place that makes ids, ARNs and timestamps.

Services take a :class:`Clock` and an :class:`IdSource` so tests can make time and ids
deterministic; the defaults use the wall clock and the OS random source.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
import uuid

UTC = dt.UTC


class Clock:
    """Wall-clock time in UTC. Subclass (or replace ``now``) to freeze time in tests."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def now(self) -> dt.datetime:
        return from_epoch(self.time())


class IdSource:
    """Random ids in the formats AWS uses."""

    def request_id(self) -> str:
        return str(uuid.uuid4())

    def hex(self, nbytes: int = 16) -> str:
        return os.urandom(nbytes).hex()

    def token(self, nbytes: int = 48) -> str:
        """A URL-safe opaque token (S3 upload ids, pagination tokens)."""
        return base64.urlsafe_b64encode(os.urandom(nbytes)).decode().rstrip("=")


def from_epoch(seconds: float) -> dt.datetime:
    """A timezone-aware UTC datetime, the type botocore gives for timestamps."""
    return dt.datetime.fromtimestamp(seconds, UTC)


def arn(service: str, region: str, account_id: str, resource: str) -> str:
    """``arn:aws:<service>:<region>:<account>:<resource>``."""
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"
