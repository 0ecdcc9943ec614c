"""Serverless variants (ProductionVariant.ServerlessConfig): validation, admission and
the instance lifecycle.

What SageMaker documents, and simsage does:

- a serverless variant names MemorySizeInMB (1024–6144, in 1 GB steps) and
  MaxConcurrency (1–200) instead of InstanceType/InitialInstanceCount; an endpoint with
  one has no other variant, no DataCaptureConfig, no AsyncInferenceConfig, no VPC and
  no network isolation (the DG's "feature exclusions");
- CreateEndpoint checks that the container starts (the endpoint goes Failed with the
  reason if it does not), then no instance runs until the first invocation: that one
  waits through a cold start within the invocation timeout (60 s, or
  ``SIMSAGE_INVOCATION_TIMEOUT_SECONDS``); a cold start that does not finish in time
  answers ``ModelNotReadyException`` (429), one whose container fails answers
  ``ModelError`` (424) with the reason;
- the instance stops after ``SIMSAGE_SERVERLESS_IDLE_SECONDS`` without a request
  (default 300: SageMaker documents no figure, and a few minutes is what users
  observe); ``ProvisionedConcurrency`` keeps it warm (started at creation, never
  stopped for idleness);
- at most MaxConcurrency requests run at once, from every process together; one more
  answers ``ThrottlingException`` (400), as SageMaker's runtime does. Requests and
  responses are limited to 4 MB.

simsage runs one (threaded) inference server per serverless variant: it serves up to
MaxConcurrency requests at once, so "warm concurrency" is all or nothing. MemorySizeInMB
is recorded and echoed but does not limit the server's memory.

Layer: the admission (:func:`admission`, :func:`await_cold_start`) runs in the caller's
process, the :class:`ServerlessKeeper` in the endpoint's supervisor. They share files in
``<endpoint folder>/serverless/<variant>/`` rather than registry rows, so an invocation
never rewrites the endpoint (its LastModifiedTime stays what the API set):

- ``slot-<i>`` (i < MaxConcurrency): a request holds an exclusive ``flock`` on one for
  its whole life; the kernel releases it if the caller dies, so the count is exact
  across processes and crashes;
- ``gate``: requests hold it shared; the keeper stops an idle instance only while it
  holds it exclusively, so it never stops one a request is using;
- ``activity`` (mtime: the last request), ``wake`` (mtime: a caller waits for a cold
  start) and ``cold-start-error`` (why the last cold start failed).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsage.errors import ValidationException
from simsage.hosting.runtime_errors import (
    ModelError,
    ModelNotReadyException,
    ThrottlingException,
    ValidationError,
)
from simsage.runtime.servers import ContainerError

if TYPE_CHECKING:  # the supervisor imports this module, not the other way round
    from simsage.hosting.endpoint_state import Endpoint, Variant

IDLE_ENV = "SIMSAGE_SERVERLESS_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
MAX_PAYLOAD = 4 * 1024 * 1024  # "The maximum request and response payload size … is 4 MB"
STARTUP_TIMEOUT = 180.0  # "the server must respond successfully to /ping within 3 minutes"
_WAKE_EVERY = 0.5  # a waiting caller re-asks this often (a revived supervisor sees it)
_POLL = 0.02

# Variant fields that describe instances, which a serverless variant has none of.
_INSTANCE_ONLY = (
    "InstanceType",
    "InitialInstanceCount",
    "AcceleratorType",
    "ManagedInstanceScaling",
    "CapacityReservationConfig",
)
# Configuration fields SageMaker refuses with a serverless variant (DG feature exclusions).
_EXCLUDED = {
    "DataCaptureConfig": "data capture",
    "AsyncInferenceConfig": "asynchronous inference",
    "VpcConfig": "VPC configuration",
    "ShadowProductionVariants": "shadow variants",
}


# -- control plane: CreateEndpointConfig ------------------------------------------------


def validate_variant(spec: dict[str, Any]) -> None:
    """Check one ProductionVariant that has a ServerlessConfig.

    Raises:
        ValidationException: instance fields next to ServerlessConfig, a memory size that
            is not a whole number of GB, or ProvisionedConcurrency above MaxConcurrency.
    """
    label = spec["VariantName"]
    config = spec["ServerlessConfig"]
    given = [key for key in _INSTANCE_ONLY if key in spec]
    if given:
        raise ValidationException(
            f"Variant {label}: a serverless variant (ServerlessConfig) cannot also have "
            f"{', '.join(given)}; give either ServerlessConfig or InstanceType and "
            "InitialInstanceCount."
        )
    memory = config["MemorySizeInMB"]
    if memory % 1024:
        raise ValidationException(
            f"Variant {label}: ServerlessConfig.MemorySizeInMB must be 1024, 2048, 3072, "
            f"4096, 5120 or 6144; got {memory}."
        )
    provisioned = config.get("ProvisionedConcurrency")
    if provisioned is not None and provisioned > config["MaxConcurrency"]:
        raise ValidationException(
            f"Variant {label}: ServerlessConfig.ProvisionedConcurrency ({provisioned}) must "
            f"be less than or equal to MaxConcurrency ({config['MaxConcurrency']})."
        )


def validate_config(params: dict[str, Any]) -> None:
    """Check a CreateEndpointConfig request whose variants include a serverless one.

    Raises:
        ValidationException: more than one variant, or a feature serverless endpoints
            do not support.
    """
    variants = params["ProductionVariants"]
    if len(variants) > 1:
        raise ValidationException(
            "An endpoint configuration with a serverless variant (ServerlessConfig) must "
            f"have exactly one production variant; it has {len(variants)}. Serverless "
            "endpoints do not support multiple production variants."
        )
    for key, feature in _EXCLUDED.items():
        if params.get(key):
            raise ValidationException(
                f"Serverless endpoints do not support {feature}: remove {key}, or use an "
                "instance-based variant (InstanceType and InitialInstanceCount)."
            )
    if params.get("EnableNetworkIsolation"):
        raise ValidationException(
            "Serverless endpoints do not support network isolation: remove "
            "EnableNetworkIsolation, or use an instance-based variant."
        )


def idle_seconds() -> float:
    """How long an on-demand serverless instance stays warm without a request."""
    try:
        return max(float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS), 0.0)
    except ValueError:
        return DEFAULT_IDLE_SECONDS


# -- shared files ------------------------------------------------------------------------


class ServerlessFiles:
    """The files a serverless variant's callers and its keeper share (see the module
    docstring)."""

    def __init__(self, endpoint_folder: str | Path, variant: str) -> None:
        self.endpoint_folder = Path(endpoint_folder)
        self.folder = self.endpoint_folder / "serverless" / variant

    def ensure(self) -> bool:
        """Create the folder; False if the endpoint's folder is gone (it was deleted),
        so a late caller never recreates a folder nobody would remove."""
        if not self.endpoint_folder.is_dir():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        return True

    def _open(self, name: str) -> int:
        return os.open(self.folder / name, os.O_RDWR | os.O_CREAT, 0o600)

    def touch(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.close(self._open(name))
            os.utime(self.folder / name)

    def mtime(self, name: str) -> float:
        try:
            return (self.folder / name).stat().st_mtime
        except OSError:
            return 0.0

    def read(self, name: str) -> str:
        try:
            return (self.folder / name).read_text("utf-8")
        except OSError:
            return ""

    def write(self, name: str, text: str) -> None:
        temporary = self.folder / f".{name}.tmp"
        with contextlib.suppress(OSError):
            temporary.write_text(text, "utf-8")
            temporary.replace(self.folder / name)

    def remove(self, name: str) -> None:
        with contextlib.suppress(OSError):
            (self.folder / name).unlink()

    def take_slot(self, slots: int) -> int | None:
        """An exclusively locked slot file descriptor, or None if all are taken."""
        first = random.randrange(slots)
        for offset in range(slots):
            fd = self._open(f"slot-{(first + offset) % slots}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def take_gate(self, shared: bool) -> int | None:
        """The gate, locked shared (requests) or exclusive (the keeper), or None if
        another holder prevents it right now."""
        fd = self._open("gate")
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd


# -- data plane: the caller's side -------------------------------------------------------


@contextlib.contextmanager
def admission(
    folder: str,
    endpoint: str,
    variant: str,
    config: dict[str, Any],
    body_size: int,
    deadline: float,
) -> Iterator[None]:
    """Hold one of the variant's MaxConcurrency slots (and the gate, shared) for the
    duration of a request.

    Raises:
        ValidationError: a body over 4 MB, or the endpoint's folder is gone.
        ThrottlingException: MaxConcurrency requests already run.
        ModelNotReadyException: the keeper held the gate past the deadline.
    """
    if body_size > MAX_PAYLOAD:
        raise ValidationError(
            f"Received payload of {body_size} bytes; a serverless endpoint accepts at most "
            f"{MAX_PAYLOAD} bytes (4 MB). Send smaller requests, or use an instance-based "
            "or asynchronous endpoint for large payloads."
        )
    files = ServerlessFiles(folder, variant)
    if not files.ensure():
        raise ValidationError(f"Endpoint {endpoint} is being deleted.")
    slots = int(config["MaxConcurrency"])
    slot = files.take_slot(slots)
    if slot is None:
        raise ThrottlingException(
            f"Rate exceeded: serverless endpoint {endpoint} is already processing "
            f"MaxConcurrency ({slots}) requests. Retry with backoff, or raise "
            "MaxConcurrency (UpdateEndpointWeightsAndCapacities with ServerlessUpdateConfig, "
            "or a new endpoint configuration)."
        )
    gate = None
    try:
        while (gate := files.take_gate(shared=True)) is None:
            if time.monotonic() >= deadline:  # the keeper is stopping the instance
                raise ModelNotReadyException(_not_ready(endpoint, variant))
            time.sleep(_POLL)
        files.touch("activity")
        yield
    finally:
        files.touch("activity")
        if gate is not None:
            os.close(gate)
        os.close(slot)


def _not_ready(endpoint: str, variant: str) -> str:
    return (
        f"The serverless variant {variant} of endpoint {endpoint} is still provisioning its "
        "resources (a cold start) and was not ready within the invocation timeout. Wait "
        "and try your request again."
    )


def await_cold_start(
    folder: str,
    endpoint: str,
    variant: Variant,
    deadline: float,
    routing_changed: Callable[[], bool],
) -> None:
    """Ask the keeper for an instance of ``variant`` and wait until the routing changes
    (the instance is ready, or the endpoint changed).

    Raises:
        ModelError: the container failed to start (the reason is in the message).
        ModelNotReadyException: the cold start did not finish before ``deadline``.
    """
    files = ServerlessFiles(folder, variant.name)
    files.ensure()
    asked = time.time()
    last_wake = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - last_wake >= _WAKE_EVERY:
            files.touch("wake")
            last_wake = time.monotonic()
        if routing_changed():
            return
        if files.mtime("cold-start-error") >= asked:
            reason = files.read("cold-start-error").strip() or "the container did not start"
            raise ModelError(
                f"The serverless variant {variant.name} of endpoint {endpoint} could not start "
                f"its container: {reason}. See the endpoint's CloudWatch logs "
                f"(/aws/sagemaker/Endpoints/{endpoint})."
            )
        time.sleep(_POLL)
    raise ModelNotReadyException(_not_ready(endpoint, variant.name))


# -- the supervisor's side ---------------------------------------------------------------


def is_provisioned(variant: Variant) -> bool:
    return bool((variant.serverless or {}).get("ProvisionedConcurrency"))


class ServerlessKeeper:
    """Starts and stops the instances of an endpoint's serverless variants, from the
    supervisor's loop (see :meth:`tick`). ``supervisor`` is the
    :class:`~simsage.hosting.supervisor.Supervisor` (its ``running`` instances,
    ``_start`` and ``_stop_all``)."""

    def __init__(self, supervisor) -> None:
        self.supervisor = supervisor
        # Wake requests older than this were handled (or predate this supervisor; a
        # caller still waiting asks again every half second).
        self.handled_wake = time.time()
        self.ready_since: dict[str, float] = {}

    def _mine(self, endpoint: Endpoint, variant: Variant) -> list:
        return [
            r
            for r in self.supervisor.running.values()
            if r.instance.variant == variant.name and r.instance.generation == endpoint.generation
        ]

    def tick(self, endpoint: Endpoint) -> None:
        """Cold-start a requested (or provisioned) instance; stop an idle one."""
        for variant in endpoint.variants:
            if variant.serverless is None:
                continue
            files = ServerlessFiles(endpoint.folder, variant.name)
            if not files.ensure():
                return
            mine = self._mine(endpoint, variant)
            if not mine:
                if is_provisioned(variant) or files.mtime("wake") > self.handled_wake:
                    self._cold_start(endpoint, variant, files)
                continue
            if is_provisioned(variant) or any(r.instance.state != "ready" for r in mine):
                continue
            last = max(files.mtime("activity"), self.ready_since.get(variant.name, 0.0))
            if time.time() - last >= idle_seconds():
                self._stop_idle(variant, files, mine, time.time() - last)

    def settle(self, endpoint: Endpoint) -> None:
        """After a deployment (whose instances proved the container starts): stop the
        on-demand instances, so none runs until the first invocation."""
        for variant in endpoint.variants:
            if variant.serverless is not None and not is_provisioned(variant):
                ids = [r.instance.instance_id for r in self._mine(endpoint, variant)]
                self.supervisor._stop_all(ids, grace=2.0)

    def _cold_start(self, endpoint: Endpoint, variant: Variant, files: ServerlessFiles) -> None:
        supervisor = self.supervisor
        supervisor._log_supervisor(f"cold start of serverless variant {variant.name}")
        try:
            supervisor._start(endpoint, [(variant, 1)], endpoint.generation)
        except ContainerError as exc:
            supervisor._log_supervisor(f"cold start of {variant.name} failed: {exc}")
            files.write("cold-start-error", str(exc))
        else:
            files.remove("cold-start-error")
            self.ready_since[variant.name] = time.time()
        # Wakes asked while this start ran are answered by it.
        self.handled_wake = time.time()

    def _stop_idle(self, variant: Variant, files: ServerlessFiles, mine: list, idle: float) -> None:
        gate = files.take_gate(shared=False)
        if gate is None:
            return  # a request is in flight: not idle after all
        try:
            for running in mine:
                self.supervisor.log_lines.add(
                    f"{variant.name}/{running.instance.instance_id}",
                    f"simsage: serverless instance idle for {idle:.0f} s; stopping it",
                )
            self.supervisor._stop_all([r.instance.instance_id for r in mine])
        finally:
            os.close(gate)
