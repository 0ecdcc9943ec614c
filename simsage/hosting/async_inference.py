"""Asynchronous inference: AsyncInferenceConfig and ``InvokeEndpointAsync``.

An endpoint configuration with an AsyncInferenceConfig makes an asynchronous endpoint
(on instances, as usual). ``InvokeEndpointAsync`` names the input (``InputLocation`` in
S3, or an inline ``Body`` of at most 128,000 bytes), queues the request and answers at
once (HTTP 202) with the ``InferenceId`` (the caller's, or a new UUID), the
``OutputLocation`` (``<S3OutputPath>[/<S3OutputPathExtension>]/<Filename or
<inference id>.out>``) and, when the configuration has an S3FailurePath, the
``FailureLocation`` (``<S3FailurePath>[/<extension>]/<inference id>-error.out``). The
endpoint's supervisor works through the queue in the background
(:mod:`simsage.hosting.async_worker`): it reads the input, invokes an instance and
writes the response to OutputLocation, or the error to FailureLocation. Without an
S3FailurePath the error goes next to the output as ``<inference id>-error.out``, so it is
never lost (SageMaker then reports it only by SNS).

A request waits at most ``RequestTTLSeconds`` (default 21600, six hours) in the queue
and the container has ``InvocationTimeoutSeconds`` (default 900, at most 3600) to
answer; either limit passed writes the error. ``ClientConfig.MaxConcurrentInvocations
PerInstance`` bounds the requests each instance works on at once (SageMaker picks a
value when it is not given; simsage picks 1).

``NotificationConfig`` (SNS topics) is stored and echoed by Describe, but no SNS message
is sent: simsage emulates no SNS. Poll OutputLocation/FailureLocation instead (as the
SageMaker SDK's AsyncPredictor does).

The queue lives in the registry (``hosting_async_requests``), so it survives the
process that made the requests and a restart of the supervisor (requests it was working
on go back to the queue). Deleting the endpoint drops its queue.

Invoking an asynchronous endpoint with ``InvokeEndpoint`` answers ValidationError, as
does ``InvokeEndpointAsync`` on a real-time one.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from simsage.errors import ValidationException
from simsage.hosting.runtime_errors import ValidationError, body_bytes
from simsage.store.db import register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS hosting_async_requests (
        id TEXT PRIMARY KEY, endpoint TEXT NOT NULL COLLATE NOCASE,
        inference_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        body BLOB, input_location TEXT, output_location TEXT NOT NULL,
        error_location TEXT NOT NULL, headers TEXT NOT NULL, enqueued REAL NOT NULL,
        ttl REAL NOT NULL, timeout REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS hosting_async_requests_queue
        ON hosting_async_requests (endpoint, state, enqueued)
    """
)

DEFAULT_TTL = 21600  # RequestTTLSeconds' default: six hours
DEFAULT_INVOCATION_TIMEOUT = 900  # InvocationTimeoutSeconds' default: 15 minutes
DEFAULT_CONCURRENCY_PER_INSTANCE = 1
MAX_INLINE_BODY = 128_000
MAX_INPUT = 1024**3  # "large payload sizes (up to 1GB)"

# Request params forwarded to the container, with their container header.
FORWARDED = (
    ("ContentType", "Content-Type"),
    ("Accept", "Accept"),
    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
)

_HTTPS_VIRTUAL = re.compile(
    r"^https://([^./]+(?:\.[^./]+)*?)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com/(.+)$"
)
_HTTPS_PATH = re.compile(r"^https://s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com/([^/]+)/(.+)$")


# -- CreateEndpointConfig ------------------------------------------------------------


def validate_config(spec: dict[str, Any]) -> dict[str, Any]:
    """Check an AsyncInferenceConfig and return the copy to store.

    Raises:
        ValidationException: no S3OutputPath, or an output or failure path that is not
            an s3:// URI.
    """
    output = spec["OutputConfig"]
    if not output.get("S3OutputPath"):
        raise ValidationException(
            "AsyncInferenceConfig.OutputConfig.S3OutputPath is required: it is where the "
            "endpoint writes the responses (s3://bucket/prefix)."
        )
    for key in ("S3OutputPath", "S3FailurePath"):
        value = output.get(key)
        if value is not None and (not value.startswith("s3://") or len(value) <= len("s3://")):
            raise ValidationException(
                f"AsyncInferenceConfig.OutputConfig.{key} must be an s3:// URI "
                f"(s3://bucket/prefix); got {value!r}."
            )
    return copy.deepcopy(spec)


def concurrency_per_instance(config: dict[str, Any]) -> int:
    client = config.get("ClientConfig") or {}
    return int(
        client.get("MaxConcurrentInvocationsPerInstance") or DEFAULT_CONCURRENCY_PER_INSTANCE
    )


# -- the queue ---------------------------------------------------------------------------


@dataclass
class QueuedRequest:
    """One InvokeEndpointAsync request waiting for (or being worked on by) the endpoint."""

    id: str
    endpoint: str
    inference_id: str
    state: str  # queued | running
    attempts: int
    body: bytes | None
    input_location: str | None
    output_location: str
    error_location: str
    headers: dict[str, str]
    enqueued: float
    ttl: float
    timeout: float


_COLUMNS = (
    "id, endpoint, inference_id, state, attempts, body, input_location, output_location, "
    "error_location, headers, enqueued, ttl, timeout"
)


def _from_row(row: tuple) -> QueuedRequest:
    values = list(row)
    values[5] = None if values[5] is None else bytes(values[5])
    values[9] = json.loads(values[9])
    return QueuedRequest(*values)


class AsyncQueue:
    """The asynchronous requests of one home's registry (``db``; every read-modify-write
    in one ``BEGIN IMMEDIATE`` transaction)."""

    def __init__(self, db) -> None:
        self.db = db

    def has_queued(self, endpoint: str) -> bool:
        """A cheap read first, so an idle endpoint's supervisor never writes."""
        return (
            self.db.query_one(
                "SELECT 1 FROM hosting_async_requests WHERE endpoint = ? AND state = 'queued' "
                "LIMIT 1",
                (endpoint,),
            )
            is not None
        )

    def put(self, item: QueuedRequest) -> None:
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO hosting_async_requests ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.id,
                    item.endpoint,
                    item.inference_id,
                    item.state,
                    item.attempts,
                    item.body,
                    item.input_location,
                    item.output_location,
                    item.error_location,
                    json.dumps(item.headers),
                    item.enqueued,
                    item.ttl,
                    item.timeout,
                ),
            )

    def claim(self, endpoint: str, limit: int) -> list[QueuedRequest]:
        """Take up to ``limit`` of the oldest queued requests (they become running)."""
        if limit <= 0:
            return []
        with self.db.write() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM hosting_async_requests WHERE endpoint = ? AND "
                "state = 'queued' ORDER BY enqueued LIMIT ?",
                (endpoint, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE hosting_async_requests SET state = 'running', attempts = attempts + 1 "
                "WHERE id = ?",
                [(row[0],) for row in rows],
            )
        claimed = [_from_row(row) for row in rows]
        for item in claimed:
            item.state, item.attempts = "running", item.attempts + 1
        return claimed

    def requeue(self, request_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE hosting_async_requests SET state = 'queued' WHERE id = ?", (request_id,)
            )

    def requeue_running(self, endpoint: str) -> int:
        """Put back the requests an earlier supervisor of ``endpoint`` was working on."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE hosting_async_requests SET state = 'queued' WHERE endpoint = ? AND "
                "state = 'running'",
                (endpoint,),
            )
        return cursor.rowcount

    def done(self, request_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM hosting_async_requests WHERE id = ?", (request_id,))

    def drop(self, endpoint: str) -> None:
        """Forget every request of ``endpoint`` (it is being deleted)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM hosting_async_requests WHERE endpoint = ?", (endpoint,))

    def count(self, endpoint: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) FROM hosting_async_requests WHERE endpoint = ?", (endpoint,)
        )
        return row[0] if row else 0


# -- InvokeEndpointAsync -------------------------------------------------------------------


def s3_location(uri: str, what: str) -> tuple[str, str]:
    """``s3://bucket/key`` or an https S3 URL → (bucket, key).

    Raises:
        ValidationError: anything else.
    """
    if uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        if bucket and key:
            return bucket, key
    for pattern in (_HTTPS_VIRTUAL, _HTTPS_PATH):
        match = pattern.match(uri)
        if match:
            return match.group(1), match.group(2)
    raise ValidationError(
        f"{what} must name an S3 object (s3://bucket/key or an https S3 URL); got {uri!r}."
    )


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part and part.strip("/"))


def locations(config: dict[str, Any], params: dict[str, Any], inference_id: str):
    """(OutputLocation, FailureLocation or None, where errors are written)."""
    output = config["OutputConfig"]
    extension = params.get("S3OutputPathExtension", "")
    name = params.get("Filename") or f"{inference_id}.out"
    output_location = "s3://" + _join(output["S3OutputPath"][len("s3://") :], extension, name)
    error_name = f"{inference_id}-error.out"
    failure_path = output.get("S3FailurePath")
    if failure_path:
        failure = "s3://" + _join(failure_path[len("s3://") :], extension, error_name)
        return output_location, failure, failure
    error = "s3://" + _join(output["S3OutputPath"][len("s3://") :], extension, error_name)
    return output_location, None, error


def enqueue(
    queue: AsyncQueue, name: str, config: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Queue an InvokeEndpointAsync request for endpoint ``name`` (whose configuration is
    ``config``); returns the operation's answer.

    Raises:
        ValidationError: neither or both of InputLocation and Body, a Body over 128,000
            bytes, or an InputLocation that is not an S3 object.
    """
    body = params.get("Body")
    location = params.get("InputLocation")
    if (body is None) == (location is None):
        raise ValidationError(
            "Give exactly one of InputLocation (the S3 object holding the request) and Body "
            "(the request inline, at most 128,000 bytes)."
        )
    if body is not None:
        body = body_bytes(body)
        if len(body) > MAX_INLINE_BODY:
            raise ValidationError(
                f"The inline Body is {len(body)} bytes; at most {MAX_INLINE_BODY} are allowed. "
                "Upload larger requests to S3 and give InputLocation."
            )
    else:
        s3_location(location, "InputLocation")
    inference_id = params.get("InferenceId") or str(uuid.uuid4())
    output_location, failure_location, error_location = locations(config, params, inference_id)
    headers = {header: str(params[key]) for key, header in FORWARDED if key in params}
    headers["X-Amzn-SageMaker-Inference-Id"] = inference_id
    queue.put(
        QueuedRequest(
            id=str(uuid.uuid4()),
            endpoint=name,
            inference_id=inference_id,
            state="queued",
            attempts=0,
            body=body,
            input_location=location,
            output_location=output_location,
            error_location=error_location,
            headers=headers,
            enqueued=time.time(),
            ttl=float(params.get("RequestTTLSeconds") or DEFAULT_TTL),
            timeout=float(params.get("InvocationTimeoutSeconds") or DEFAULT_INVOCATION_TIMEOUT),
        )
    )
    out: dict[str, Any] = {"InferenceId": inference_id, "OutputLocation": output_location}
    if failure_location is not None:
        out["FailureLocation"] = failure_location
    return out
