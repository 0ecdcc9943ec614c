"""The ``sagemaker-runtime`` API: InvokeEndpoint, routed to real instance processes, and
InvokeEndpointAsync (queued for the endpoint's supervisor: see
:mod:`simsage.hosting.async_inference`).

Layer: data plane, in the caller's process. Each call:

1. checks the endpoint with one small registry read (exact name, status, routing
   version); the routing table (variants, weights, ready instances) is re-read only
   when its version changed;
2. picks a variant (``TargetVariant``, or at random in proportion to the weights) and
   one of its ready instances (round robin);
3. POSTs the body to the instance's ``/invocations`` over a kept-alive loopback
   connection (:class:`~simsage.runtime.instance_client.InstancePool`: a connection the
   server closed while idle is replaced transparently) with every header member of
   botocore's InvokeEndpoint input (Content-Type, Accept, ``X-Amzn-SageMaker-*``: custom
   attributes, session id, inference id …); the container has 60 s to answer
   (``SIMSAGE_INVOCATION_TIMEOUT_SECONDS`` shortens it for tests);
4. answers Body, InvokedProductionVariant and the output's other header members the
   container sent (ContentType, CustomAttributes, NewSessionId, ClosedSessionId), or
   the errors SageMaker gives: ``ValidationError`` (400) for an unknown or
   not-in-service endpoint, an unknown variant, a body over 6 MiB or a header value
   that is not printable ASCII; ``ModelError`` (424) with
   OriginalStatusCode/OriginalMessage/LogStreamArn when the container answers an error
   or times out.

Each request that reaches a container is counted in the endpoint's CloudWatch invocation
metrics (:mod:`simsage.hosting.invocation_metrics`: queued in memory, written in the
background).

Connections to instances that left the routing (replaced, scaled in, or their
endpoint deleted) are closed when the routing is next read, and idle ones the server
closed are closed within a second, so no socket lingers in CLOSE_WAIT.

An instance that cannot be reached (it died, or is draining for an update or delete)
is skipped and the request goes to another instance of the variant; if none is ready
(the only one is being replaced) the call waits for one within the timeout. A request
that fails never takes the endpoint down.

A serverless endpoint (:mod:`simsage.hosting.serverless`) admits at most MaxConcurrency
requests at once (``ThrottlingException`` beyond) and a request that finds no instance
waits through a cold start. An asynchronous endpoint answers InvokeEndpoint with
ValidationError: it takes InvokeEndpointAsync only.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel
from botocore.response import StreamingBody

from simsage.hosting import async_inference, serverless
from simsage.hosting.capture import CaptureWriter
from simsage.hosting.endpoint_configs import DataCapture
from simsage.hosting.endpoint_state import SERVING, EndpointStore
from simsage.hosting.invocation_metrics import InvocationMetrics
from simsage.hosting.runtime_errors import (
    ModelError,
    ServiceUnavailable,
    ValidationError,
    body_bytes,
    container_error_message,
    timeout_message,
)
from simsage.hosting.supervisor_control import ensure_supervisor, log_group
from simsage.runtime.instance_client import InstancePool, Unreachable
from simsage.transport import Request
from simsage.transport.constraints import ValidationErrors

MAX_BODY = 6 * 1024 * 1024  # 6291456 bytes, InvokeEndpoint's limit
DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "SIMSAGE_INVOCATION_TIMEOUT_SECONDS"
_NO_INSTANCE_POLL = 0.05

# Output header members the router sets itself rather than take from the container.
_OWN_OUTPUT_HEADERS = ("InvokedProductionVariant",)


@dataclass(frozen=True)
class _Headers:
    """InvokeEndpoint's header members, read from botocore's model once."""

    forwarded: tuple[tuple[str, str, str], ...]  # (member, header, pattern) sent on
    answered: tuple[tuple[str, str], ...]  # (member, lower-case header) read back


_headers_of: dict[OperationModel, _Headers] = {}


def _headers(model: OperationModel) -> _Headers:
    found = _headers_of.get(model)
    if found is None:
        forwarded = tuple(
            (name, member.serialization["name"], member.metadata.get("pattern", ""))
            for name, member in model.input_shape.members.items()
            if member.serialization.get("location") == "header"
        )
        answered = tuple(
            (name, member.serialization["name"].lower())
            for name, member in model.output_shape.members.items()
            if member.serialization.get("location") == "header" and name not in _OWN_OUTPUT_HEADERS
        )
        found = _headers_of[model] = _Headers(forwarded, answered)
    return found


# What an HTTP header value can carry as it is: printable ASCII and tabs (http.client
# would raise UnicodeEncodeError on non-Latin-1 text and ValueError on line breaks).
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


__all__ = ["ModelError", "RuntimeService", "ServiceUnavailable", "ValidationError"]


@dataclass
class Route:
    """What the router needs of one endpoint, for one routing version."""

    version: int
    variants: list[tuple[str, float]]  # (name, current weight)
    instances: dict[str, list[int]]  # variant → ports of ready instances
    capture: DataCapture | None
    counter: Any  # itertools.count for round robin
    serverless: dict[str, dict[str, Any]]  # variant → its ServerlessConfig
    folder: str  # the endpoint's folder (the serverless admission files)
    is_async: bool = False


class RuntimeService:
    """Answers ``sagemaker-runtime`` for one home. Inputs are checked against the
    model's constraints, reported as ``ValidationError`` as the runtime does."""

    CHECK_INPUT = ValidationErrors(ValidationError)

    def __init__(self, home) -> None:
        self.home = home
        self.store = EndpointStore(home)
        self.capture = CaptureWriter(home)
        self._routes: dict[str, Route] = {}
        self._routes_lock = threading.Lock()
        self.pool = InstancePool()
        self.async_queue = async_inference.AsyncQueue(home.db)
        self.metrics = InvocationMetrics(home)

    # -- the operations ------------------------------------------------------------------
    def invoke_endpoint(self, request: Request) -> dict[str, Any]:
        """Route one request; a serverless variant's request first takes one of its
        MaxConcurrency slots (held until the answer is back)."""
        started = time.perf_counter()
        params = request.params
        route = self._route(params["EndpointName"], request)
        target = params.get("TargetVariant") or (route.variants[0][0] if route.variants else "")
        config = route.serverless.get(target)
        if config is None:
            return self._invoke(request, route, started=started)
        body = body_bytes(params["Body"])
        deadline = time.monotonic() + float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        with serverless.admission(
            route.folder, params["EndpointName"], target, config, len(body), deadline
        ):
            return self._invoke(request, route, body, started)

    def invoke_endpoint_async(self, request: Request) -> dict[str, Any]:
        """Queue a request for an asynchronous endpoint (HTTP 202): see
        :mod:`simsage.hosting.async_inference`."""
        name = request.params["EndpointName"]
        self._check_head(name, request)
        endpoint = self.store.find(name)
        if endpoint is None:
            raise ValidationError(f"Endpoint {name} of account {request.account_id} not found.")
        if endpoint.async_config is None:
            raise ValidationError(
                f"Endpoint {name} of account {request.account_id} is not an asynchronous "
                "inference endpoint: call InvokeEndpoint, or deploy an endpoint "
                "configuration with an AsyncInferenceConfig."
            )
        answer = async_inference.enqueue(
            self.async_queue, endpoint.name, endpoint.async_config, request.params
        )
        ensure_supervisor(self.home, self.store, endpoint)
        request.status = 202
        return answer

    def _invoke(
        self,
        request: Request,
        first_route: Route | None,
        body: bytes | None = None,
        started: float | None = None,
    ) -> dict[str, Any]:
        params = request.params
        name = params["EndpointName"]
        body = body_bytes(params["Body"]) if body is None else body
        if len(body) > MAX_BODY:
            raise ValidationError(
                f"Received payload of {len(body)} bytes; the maximum request body is "
                f"{MAX_BODY} bytes (6 MB). Split the request, or use batch transform for "
                "large inputs."
            )
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        deadline = time.monotonic() + timeout
        headers = self._forwarded_headers(request)
        target = params.get("TargetVariant")
        tried: set[int] = set()
        while True:
            route, first_route = first_route or self._route(name, request), None
            variant = self._pick_variant(name, route, target, request)
            ports = [p for p in route.instances.get(variant, ()) if p not in tried]
            if not ports:
                self._await_instances(name, request, deadline, variant)
                tried.clear()
                continue
            port = ports[next(route.counter) % len(ports)]
            instances = len(route.instances.get(variant, ()))
            sent = time.perf_counter()
            try:
                answer = self.pool.request(
                    port,
                    "POST",
                    "/invocations",
                    body,
                    headers,
                    max(deadline - time.monotonic(), 0.001),
                )
            except Unreachable:
                tried.add(port)
                self.pool.forget(port)
                self._forget_route(name)
                continue
            except TimeoutError:
                self.metrics.record(name, variant, instances, started or sent, None, 504)
                raise self._model_error(
                    name, request, variant, 0, "", timed_out=True, timeout=timeout
                ) from None
            break
        model_seconds = time.perf_counter() - sent
        status, reply, reply_headers = answer.status, answer.body, answer.headers
        if status >= 300:
            self.metrics.record(name, variant, instances, started or sent, model_seconds, status)
            raise self._model_error(
                name, request, variant, status, reply.decode("utf-8", "replace")
            )
        content_type = reply_headers.get("content-type")
        self.capture.maybe_capture(
            route.capture,
            name,
            variant,
            body,
            params.get("ContentType"),
            reply,
            content_type,
            params.get("InferenceId"),
        )
        out: dict[str, Any] = {"Body": StreamingBody(io.BytesIO(reply), len(reply))}
        for member, header in _headers(request.model).answered:
            value = reply_headers.get(header)
            if value:
                out[member] = value
        out["InvokedProductionVariant"] = variant
        self.metrics.record(name, variant, instances, started or sent, model_seconds, status)
        return out

    @staticmethod
    def _forwarded_headers(request: Request) -> dict[str, str]:
        """The container headers for the request's header members, as SageMaker
        forwards them. A value that cannot go on the wire as it is (not printable
        ASCII, which every one of these members' patterns requires) is refused here,
        before any connection is touched.

        Raises:
            ValidationError: such a value, named as AWS names it.
        """
        params = request.params
        headers: dict[str, str] = {}
        problems = []
        for member, header, pattern in _headers(request.model).forwarded:
            if member not in params or params[member] is None:
                continue
            value = params[member]
            value = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if not _HEADER_VALUE.fullmatch(value):
                rule = (
                    f"Member must satisfy regular expression pattern: {pattern}"
                    if pattern and pattern != ".*"
                    else "Member must contain only printable ASCII characters"
                )
                problems.append(
                    f"Value at '{member[:1].lower()}{member[1:]}' failed to satisfy "
                    f"constraint: {rule}"
                )
                continue
            headers[header] = value
        if problems:
            noun = "error" if len(problems) == 1 else "errors"
            raise ValidationError(
                f"{len(problems)} validation {noun} detected: " + "; ".join(problems)
            )
        return headers

    # -- routing -------------------------------------------------------------------------
    def _check_head(self, name: str, request: Request) -> int:
        """The endpoint's routing version; raises ValidationError unless it serves."""
        head = self.store.head(name)
        if head is None or head[0] != name or head[1] == "Deleting":
            self._forget_route(name)
            self._prune()  # the endpoint is gone: so are its connections
            raise ValidationError(f"Endpoint {name} of account {request.account_id} not found.")
        _, status, version = head
        if status not in SERVING:
            raise ValidationError(
                f"Endpoint {name} of account {request.account_id} is not in service: its "
                f"status is {status}. Wait for InService (boto3's endpoint_in_service "
                "waiter) before invoking it."
            )
        return version

    def _route(self, name: str, request: Request) -> Route:
        version = self._check_head(name, request)
        route = self._routes.get(name)
        if route is None or route.version != version:
            route = self._load_route(name, request)
        if route.is_async:
            raise ValidationError(
                f"Endpoint {name} of account {request.account_id} is an asynchronous "
                "inference endpoint (AsyncInferenceConfig): invoke it with "
                "InvokeEndpointAsync and read the answer from its OutputLocation."
            )
        return route

    def _load_route(self, name: str, request: Request) -> Route:
        endpoint = self.store.find(name)
        if endpoint is None:
            raise ValidationError(f"Endpoint {name} of account {request.account_id} not found.")
        instances: dict[str, list[int]] = {}
        for instance in self.store.instances(name):
            if (
                instance.state == "ready"
                and instance.generation == endpoint.generation
                and instance.port is not None
            ):
                instances.setdefault(instance.variant, []).append(instance.port)
        route = Route(
            version=endpoint.routing_version,
            variants=[(v.name, v.current_weight or 0.0) for v in endpoint.variants],
            instances=instances,
            capture=endpoint.capture,
            counter=itertools.count(random.randrange(1 << 16)),
            serverless={v.name: v.serverless for v in endpoint.variants if v.serverless},
            folder=endpoint.folder,
            is_async=endpoint.async_config is not None,
        )
        with self._routes_lock:
            self._routes[name] = route
        self._prune()
        return route

    def _forget_route(self, name: str) -> None:
        with self._routes_lock:
            self._routes.pop(name, None)

    def _prune(self) -> None:
        """Close the connections to instances no route names any more."""
        with self._routes_lock:
            ports = {p for r in self._routes.values() for ps in r.instances.values() for p in ps}
        self.pool.retain(ports)

    @staticmethod
    def _pick_variant(name: str, route: Route, target: str | None, request: Request) -> str:
        if target is not None:
            if not any(v == target for v, _ in route.variants):
                raise ValidationError(
                    f"Endpoint {name} of account {request.account_id} has no variant "
                    f"{target!r} (its variants: {', '.join(v for v, _ in route.variants)})."
                )
            return target
        if len(route.variants) == 1:
            return route.variants[0][0]
        total = sum(w for _, w in route.variants)
        if total <= 0:
            raise ValidationError(
                f"Every variant of endpoint {name} has weight 0; give one a positive weight "
                "with UpdateEndpointWeightsAndCapacities, or name one with TargetVariant."
            )
        pick = random.random() * total
        for variant, weight in route.variants:
            pick -= weight
            if pick < 0:
                return variant
        return route.variants[-1][0]

    def _await_instances(self, name: str, request: Request, deadline: float, variant: str) -> None:
        """No ready instance of ``variant``: make sure a supervisor is at work and wait
        for the routing to change (an instance being replaced or revived)."""
        endpoint = self.store.find(name)
        if endpoint is not None:
            ensure_supervisor(self.home, self.store, endpoint)
        version = endpoint.routing_version if endpoint else -1
        found = endpoint.variant(variant) if endpoint is not None else None
        if found is not None and found.serverless is not None:

            def routing_changed() -> bool:
                head = self.store.head(name)
                return head is None or head[2] != version

            serverless.await_cold_start(endpoint.folder, name, found, deadline, routing_changed)
            self._forget_route(name)
            return
        while time.monotonic() < deadline:
            self._forget_route(name)
            head = self.store.head(name)
            if head is None or head[2] != version:
                return
            time.sleep(_NO_INSTANCE_POLL)
        raise ServiceUnavailable(
            f"No instance of variant {variant} of endpoint {name} is available; it is being "
            "replaced. Try your call again."
        )

    def _model_error(
        self,
        name: str,
        request: Request,
        variant: str,
        status: int,
        message: str,
        timed_out: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ModelError:
        region, account = request.region, request.account_id
        group = log_group(name)
        stream_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        if timed_out:
            return ModelError(timeout_message(timeout), modeled_fields={"LogStreamArn": stream_arn})
        text = container_error_message(region, account, name, status, message)
        return ModelError(
            text,
            modeled_fields={
                "OriginalStatusCode": status,
                "OriginalMessage": message,
                "LogStreamArn": stream_arn,
            },
        )
