"""The supervisor's side of asynchronous inference: working through the queue.

Layer: data plane, inside the endpoint's supervisor process (see
:mod:`simsage.hosting.async_inference` for the contract). On each turn of the
supervisor's loop :meth:`AsyncWorker.tick` claims as many queued requests as the ready
instances have room for (MaxConcurrentInvocationsPerInstance each) and hands them to a
thread pool. Each request:

1. fails as expired if it waited longer than its RequestTTLSeconds;
2. reads its input (the inline Body, or the InputLocation object, at most 1 GB, streamed
   to the container rather than held in memory unless data capture needs its bytes);
3. goes to a ready instance (a variant picked by weight, its instances in turn) with
   Content-Type, Accept, CustomAttributes and the inference id, and
   InvocationTimeoutSeconds to answer;
4. writes the answer to OutputLocation (with the container's Content-Type), or the
   error text (SageMaker's ModelError wording) to the failure location; an instance
   that cannot be reached (it died, or is being replaced) puts the request back in the
   queue, three times at most.

Every outcome is logged to the endpoint's log group, stream ``<variant>/<instance id>/
data-log``, and captured (DataCaptureConfig) like a real-time invocation.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import random
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from simsage.hosting.async_inference import (
    MAX_INPUT,
    AsyncQueue,
    QueuedRequest,
    concurrency_per_instance,
    s3_location,
)
from simsage.hosting.capture import CaptureWriter
from simsage.hosting.endpoint_state import SERVING, Endpoint
from simsage.hosting.runtime_errors import (
    ValidationError,
    container_error_message,
    timeout_message,
)
from simsage.s3 import errors as s3_errors

MAX_ATTEMPTS = 3
MESSAGE_LIMIT = 4096
_POOL_SIZE = 32


class _Failed(Exception):
    """The request failed; the message is what the failure object says."""


class _Unreachable(Exception):
    """No instance could take the request right now (try again later)."""


class AsyncWorker:
    """Processes one endpoint's queued asynchronous requests (``supervisor`` is the
    :class:`~simsage.hosting.supervisor.Supervisor`: its ready instances, S3 and logs)."""

    def __init__(self, supervisor) -> None:
        self.supervisor = supervisor
        self.queue = AsyncQueue(supervisor.home.db)
        self.capture = CaptureWriter(supervisor.home)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._turn = itertools.count()

    def tick(self, endpoint: Endpoint) -> None:
        if endpoint.async_config is None or endpoint.status not in SERVING:
            return
        ready = self._ready(endpoint)
        if not ready or not self.queue.has_queued(endpoint.name):
            return
        room = sum(len(r) for r in ready.values()) * concurrency_per_instance(endpoint.async_config)
        with self._lock:
            room -= self._in_flight
        for item in self.queue.claim(endpoint.name, room):
            with self._lock:
                self._in_flight += 1
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="async")
            self._pool.submit(self._run, item, endpoint)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one request ---------------------------------------------------------------------
    def _ready(self, endpoint: Endpoint) -> dict[str, list]:
        ready: dict[str, list] = {}
        for running in list(self.supervisor.running.values()):
            instance = running.instance
            if (
                instance.state == "ready"
                and instance.generation == endpoint.generation
                and instance.port is not None
                and running.server.alive()
            ):
                ready.setdefault(instance.variant, []).append(running)
        return ready

    def _run(self, item: QueuedRequest, endpoint: Endpoint) -> None:
        stream = "async"
        try:
            age = time.time() - item.enqueued
            if age > item.ttl:
                raise _Failed(
                    f"The request expired: it waited {age:.0f} seconds in the queue, longer "
                    f"than its RequestTTLSeconds ({item.ttl:.0f})."
                )
            running, variant = self._pick(endpoint)
            stream = f"{variant}/{running.instance.instance_id}/data-log"
            with self._input(item, keep=endpoint.capture is not None) as (body, size):
                status, reply, content_type = self._send(running, body, size, item)
            if status >= 300:
                message = reply.decode("utf-8", "replace")[:MESSAGE_LIMIT]
                account = endpoint.arn.split(":")[4]
                raise _Failed(
                    container_error_message(
                        endpoint.region, account, endpoint.name, status, message
                    )
                )
            self._put(item.output_location, reply, content_type)
            self.capture.maybe_capture(
                endpoint.capture,
                endpoint.name,
                variant,
                body if isinstance(body, bytes) else b"",
                item.headers.get("Content-Type"),
                reply,
                content_type,
                item.inference_id,
            )
            self._log(stream, item, f"Inference request succeeded; output {item.output_location}")
            self.queue.done(item.id)
        except _Unreachable as exc:
            if item.attempts < MAX_ATTEMPTS:
                self.queue.requeue(item.id)
            else:
                self._fail(stream, item, f"The model container could not be reached: {exc}")
        except _Failed as exc:
            self._fail(stream, item, str(exc))
        except Exception as exc:  # a simsage bug: the request fails with the reason
            traceback.print_exc()
            self._fail(stream, item, f"InternalFailure: {exc!r}")
        finally:
            with self._lock:
                self._in_flight -= 1

    @contextlib.contextmanager
    def _input(self, item: QueuedRequest, keep: bool) -> Iterator[tuple[Any, int]]:
        """The request body and its size: bytes (inline, or read when ``keep``), else
        the open S3 object, which http.client streams."""
        if item.body is not None:
            yield item.body, len(item.body)
            return
        assert item.input_location is not None
        try:
            bucket, key = s3_location(item.input_location, "InputLocation")
            obj, _, stream = self.supervisor.s3.read_object(bucket, key)
        except ValidationError as exc:
            raise _Failed(exc.message) from None
        except (s3_errors.NoSuchKey, s3_errors.NoSuchBucket):
            raise _Failed(
                f"Could not read the input {item.input_location}: the object does not exist."
            ) from None
        with stream:
            if obj.size > MAX_INPUT:
                raise _Failed(
                    f"The input {item.input_location} is {obj.size} bytes; an asynchronous "
                    f"request may be at most {MAX_INPUT} bytes (1 GB)."
                )
            yield (stream.read() if keep else stream), obj.size

    def _pick(self, endpoint: Endpoint):
        """A ready instance: a variant by weight, then its instances in turn."""
        ready = self._ready(endpoint)
        weights = [(v.name, v.current_weight or 0.0) for v in endpoint.variants if v.name in ready]
        if not weights:
            raise _Unreachable("no instance is ready")
        total = sum(w for _, w in weights)
        if total <= 0:
            name = weights[0][0]
        else:
            pick = random.random() * total
            name = weights[-1][0]
            for candidate, weight in weights:
                pick -= weight
                if pick < 0:
                    name = candidate
                    break
        instances = ready[name]
        return instances[next(self._turn) % len(instances)], name

    def _send(self, running, body, size: int, item: QueuedRequest) -> tuple[int, bytes, str | None]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", running.instance.port, timeout=item.timeout, blocksize=1 << 20
        )
        headers = {**item.headers, "Content-Length": str(size)}
        try:
            connection.request("POST", "/invocations", body, headers)
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Content-Type")
        except TimeoutError:
            raise _Failed(timeout_message(item.timeout)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Unreachable(str(exc) or type(exc).__name__) from None
        finally:
            connection.close()

    def _put(self, location: str, body: bytes, content_type: str | None) -> None:
        bucket, key = s3_location(location, "the output location")
        attrs = {"content_type": content_type or "application/octet-stream", "metadata": {}}
        try:
            self.supervisor.s3.put_object(bucket, key, body, attrs)
        except s3_errors.S3Error as exc:
            raise _Failed(f"Could not write {location}: {exc}") from None

    def _fail(self, stream: str, item: QueuedRequest, message: str) -> None:
        self._log(stream, item, f"Inference request failed: {message}")
        try:
            bucket, key = s3_location(item.error_location, "the failure location")
            attrs = {"content_type": "text/plain", "metadata": {}}
            self.supervisor.s3.put_object(bucket, key, message.encode("utf-8"), attrs)
        except Exception as exc:  # nowhere left to report it but the log
            self._log(stream, item, f"Could not write {item.error_location}: {exc}")
        self.queue.done(item.id)

    def _log(self, stream: str, item: QueuedRequest, text: str) -> None:
        self.supervisor.log_lines.add(stream, f"[sagemaker logs] [{item.inference_id}] {text}")
