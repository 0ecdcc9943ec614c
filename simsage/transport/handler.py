"""Answering botocore calls in-process.

botocore builds and validates every request against AWS's service model as usual.
simsage hooks two of its events on a client's emitter:

- ``before-parameter-build.<service>.<Operation>``: keeps a reference to the caller's
  params in the request context (botocore's own handlers may still adjust them in place);
- ``before-call.<service>.<Operation>``: runs the operation on simsage's service object
  and answers ``(http_response, parsed)``, so the wire is never touched.

The parsed answer has the shape botocore's parser would have produced: output members,
``ResponseMetadata``, or for errors ``Error`` plus the error's modeled fields.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel

from simsage import services
from simsage.config import Config
from simsage.errors import AWSError, NotEmulated
from simsage.transport.constraints import input_check
from simsage.transport.validate import OutputShapeError, check_output

log = logging.getLogger("simsage.transport")

_PARAMS_KEY = "simsage.params"


@dataclass
class Request:
    """One call as a service sees it: the caller's params plus where the call was made.

    ``checksum_algorithm`` is the algorithm botocore resolved for the request body's
    checksum (``crc32`` by default for S3 uploads), whose value it would compute on the
    way to the wire: the service sees the request as that header would announce it.

    A handler may set ``status`` (for example 206 for a ranged read) and ``headers``
    (extra HTTP headers that only live in ResponseMetadata).
    """

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account_id: str
    model: OperationModel
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None


def _signal_transferring(params: dict[str, Any]) -> None:
    """Tell a streaming body that its bytes are now being sent, as botocore does when it
    sends a request (its ``signal_transferring`` handler of ``request-created``): the
    bodies of boto3's managed uploads count what is read from them only from then on,
    so without this ``upload_file(Callback=...)`` would never report progress."""
    signal = getattr(params.get("Body"), "signal_transferring", None)
    if signal is not None:
        signal()


class Transport:
    """Answers the calls of every botocore emitter it is installed on, from one home."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._home = None
        self._methods: dict[tuple[str, str], Any] = {}
        self.check_output = os.environ.get("SIMSAGE_CHECK_OUTPUT") == "1"
        # Called with (operation model, serialized request dict) before each answer:
        # the request exactly as botocore would have put it on the wire (the contract
        # tests compare it with what reaches the wire on the aws backend).
        self.observers: list[Callable[[OperationModel, dict[str, Any]], None]] = []

    @property
    def home(self):
        if self._home is None:
            from simsage.home import Home

            self._home = Home.open(self.config)
        return self._home

    def install(self, events) -> None:
        """Register on a botocore event emitter (a session's or a client's).

        On a session's emitter it also marks every client class the session creates as
        local (see :func:`make_local`)."""
        events.register_last("before-parameter-build", _capture, unique_id="simsage-capture")
        events.register_first("before-call", self._answer, unique_id="simsage-answer")
        events.register("creating-client-class", _local_client_class, unique_id="simsage-class")

    def _answer(self, model: OperationModel, context: dict, params=None, **_: Any):
        for observer in self.observers:
            observer(model, params)
        service = model.service_model.service_name
        caller_params = context.pop(_PARAMS_KEY, None)
        request = Request(
            service=service,
            operation=model.name,
            params={} if caller_params is None else caller_params,
            region=context.get("client_region") or self.config.region,
            account_id=self.config.account_id,
            model=model,
            checksum_algorithm=_checksum_algorithm(context),
        )
        _signal_transferring(request.params)
        try:
            method, check = self._method(service, model)
            if check is not None:
                check(request.params)
            result = method(request)
        except AWSError as err:
            return error_response(request, err)
        except Exception as exc:  # never let a traceback cross the boundary
            log.exception("simsage failed in %s.%s", service, model.name)
            err = AWSError(f"simsage failed in {service}.{model.name}: {exc!r}")
            err.code = "InternalError" if service == "s3" else "InternalFailure"
            return error_response(request, err)
        if self.check_output:
            check_output(model, result)
        return success_response(request, result)

    def _method(self, service: str, model: OperationModel):
        """The bound method answering an operation, and the check of its input against
        the model's constraints, reported the service's way (its ``CHECK_INPUT``, an
        :class:`~simsage.transport.constraints.InputErrors`; None when it has none or
        the operation has no constraints)."""
        key = (service, model.name)
        found = self._methods.get(key)
        if found is None:
            handler = services.service(self.home, service)
            method = getattr(handler, xform_name(model.name), None) if handler else None
            if method is None:
                raise NotEmulated(service, model.name)
            check = input_check(model, getattr(handler, "CHECK_INPUT", None))
            found = self._methods[key] = (method, check)
        return found


class _FixedUserAgent:
    """Stands in for botocore's user-agent builder: the header never leaves the process."""

    def __init__(self, value: str) -> None:
        self._value = value

    def to_string(self) -> str:
        return self._value


def make_local(client) -> None:
    """Skip the work a simsage client never needs because nothing goes on the wire:
    resolving the endpoint from the service's rule set (for S3 more than half of
    botocore's own time per call) and rebuilding the User-Agent header on every call.
    Parameter building, validation and serialization stay botocore's. boto3's managed
    transfers of the client stay in-process and copy in the kernel
    (:mod:`simsage.transport.transfers`)."""
    resolver = client._ruleset_resolver
    client._ruleset_resolver = None
    if resolver is not None and hasattr(client, "generate_presigned_url"):
        _presign_with(client, resolver)
    creator = getattr(client, "_user_agent_creator", None)
    if creator is not None and not isinstance(creator, _FixedUserAgent):
        client._user_agent_creator = _FixedUserAgent(creator.to_string())
    client._simsage_local = True
    # Imported here: s3transfer only once a client exists (as boto3 itself does).
    from simsage.transport.transfers import keep_transfers_local

    keep_transfers_local()


def _presign_with(client, resolver) -> None:
    """A presigned URL or POST is built for the wire: it needs the endpoint rule set that
    an in-process call skips (for S3 it puts the bucket into the URL), so the client's
    presigning methods get it back for their call. With simsage active the URL names
    the home's S3 endpoint (``AWS_ENDPOINT_URL_S3``), which verifies it."""
    for name in ("generate_presigned_url", "generate_presigned_post"):
        method = getattr(client, name, None)
        if method is None:
            continue

        def presign(*args, _method=method, **kwargs):
            client._ruleset_resolver = resolver
            try:
                return _method(*args, **kwargs)
            finally:
                client._ruleset_resolver = None

        setattr(client, name, presign)


class _LocalClient:
    """Mixed into the client classes of a simsage session: new clients are made local."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        make_local(self)


def _local_client_class(base_classes: list, **_: Any) -> None:
    if _LocalClient not in base_classes:
        base_classes.insert(0, _LocalClient)


def _capture(params: dict, context: dict, **_: Any) -> None:
    context[_PARAMS_KEY] = params


def _checksum_algorithm(context: dict) -> str | None:
    """The body checksum botocore resolved before ``before-call`` (it computes the value
    only after it, on the way to the wire, which an in-process answer never takes)."""
    algorithm = (context.get("checksum") or {}).get("request_algorithm")
    return algorithm.get("algorithm") if isinstance(algorithm, dict) else None


def _metadata(request: Request, status: int, headers: dict[str, str]) -> dict[str, Any]:
    request_id = os.urandom(8).hex().upper()
    all_headers = {
        "x-amzn-requestid": request_id,
        "content-type": "application/xml"
        if request.model.metadata["protocol"] == "rest-xml"
        else "application/x-amz-json-1.1",
        **headers,
    }
    meta = {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": all_headers,
        "RetryAttempts": 0,
    }
    if request.service == "s3":
        all_headers["x-amz-request-id"] = request_id
        meta["HostId"] = ""
    return meta


def success_response(request: Request, result: dict[str, Any]):
    headers = _output_headers(request.model, result)
    headers.update(request.headers)
    parsed = dict(result)
    parsed["ResponseMetadata"] = _metadata(request, request.status, headers)
    # The headers live in ResponseMetadata; the raw response needs none (no handler
    # after the call reads them), which spares botocore building a header mapping.
    return AWSResponse(None, request.status, {}, None), parsed


def error_response(request: Request, err: AWSError):
    status = err.status
    if request.model.http.get("method") == "HEAD":
        # A HEAD response has no body, so botocore only knows the status line.
        error = {"Code": str(status), "Message": HTTPStatus(status).phrase}
    else:
        code = err.code
        if code == "InternalFailure" and request.service == "s3":
            code = "InternalError"  # S3's own code for a server-side fault
        error = {"Code": code, "Message": err.message, **err.error_fields}
        if request.model.metadata["protocol"] in ("query", "ec2"):
            error["Type"] = "Sender" if err.sender_fault else "Receiver"
    parsed: dict[str, Any] = {"Error": error, **err.modeled_fields}
    # Headers an error carries (S3's x-amz-delete-marker …) live in ResponseMetadata.
    parsed["ResponseMetadata"] = _metadata(request, status, getattr(err, "headers", None) or {})
    return AWSResponse(None, status, {}, None), parsed


_header_members: dict[OperationModel, dict[str, str]] = {}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(value) -> str:
    """An aware datetime as an HTTP date (``Wed, 02 Jan 2030 03:04:05 GMT``)."""
    value = value.astimezone(UTC)
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} GMT"
    )


def _output_headers(model: OperationModel, result: dict[str, Any]) -> dict[str, str]:
    """The HTTP headers a rest service would have sent for the output's header members."""
    members = _header_members.get(model)
    if members is None:
        members = {}
        shape = model.output_shape
        if shape is not None:
            for name, member in shape.members.items():
                if member.serialization.get("location") == "header":
                    members[name] = member.serialization["name"].lower()
        _header_members[model] = members
    headers = {}
    if not members:
        return headers
    for name, value in result.items():
        header = members.get(name)
        if header is None or value is None:
            continue
        if isinstance(value, datetime):
            value = http_date(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        headers[header] = str(value)
    return headers


_service_models: dict[str, Any] = {}


def _service_model(service: str):
    """botocore's model of ``service`` (loaded once per process)."""
    model = _service_models.get(service)
    if model is None:
        import botocore.session

        model = _service_models[service] = botocore.session.get_session().get_service_model(service)
    return model


def call(
    home,
    service: str,
    operation: str,
    params: dict[str, Any],
    *,
    private: dict[str, Any] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Answer ``operation`` (``CreateTrainingJob``) of ``service`` for ``home``
    in-process, as a boto3 call through the transport is answered: ``params`` are
    checked as botocore checks them (types, required members, minimums) and against the
    service's constraints (lengths, patterns, enums), then the service's method runs.

    This is how one simsage service asks another for something (a tuning job creates
    and reads its training jobs) through the public operation rather than its internals.
    ``private`` members are simsage's own, added after the checks: botocore's model
    does not have them, so no boto3 caller can send them (the tuning job's ARN on a
    training job it launches, for instance).

    Args:
        region: the region of the call (default: the home's configured region).

    Returns:
        The answer, as the service gives it (no ResponseMetadata).

    Raises:
        AWSError: the service's error (a ValidationException for params botocore would
            have refused).
    """
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    from simsage.errors import ValidationException

    model = _service_model(service).operation_model(operation)
    try:
        validate_parameters(params, model.input_shape)
    except ParamValidationError as exc:
        raise ValidationException(str(exc)) from None
    handler = services.service(home, service)
    method = getattr(handler, xform_name(operation), None) if handler else None
    if method is None:
        raise NotEmulated(service, operation)
    check = input_check(model, getattr(handler, "CHECK_INPUT", None))
    if check is not None:
        check(params)
    request = Request(
        service=service,
        operation=operation,
        params={**params, **(private or {})},
        region=region or home.config.region,
        account_id=home.config.account_id,
        model=model,
    )
    return method(request)


__all__ = ["OutputShapeError", "Request", "Transport", "call"]
