"""The service registry: which simsage module answers which AWS service (by
botocore's service name), the service objects of each open home, and what stops the
processes a home's services started.

Layer: between the transport (which asks :func:`service` for the object answering a
call) and the concepts; the store handle (:class:`simsage.home.Home`) knows nothing of
services.

A service class answers each operation with the snake_case method of its name and
declares ``CHECK_INPUT``, how it reports input that breaks the model's constraints
(:class:`simsage.transport.constraints.InputErrors`: SageMaker ``ValidationException``,
Logs ``InvalidParameterException``, CloudWatch, the runtime and STS ``ValidationError``, S3 its own
codes); the transport checks every call against the model before the method runs.
"""

from __future__ import annotations

import importlib
import threading

# service name (botocore's) -> "module:Class"; the class is built with the Home.
_SERVICES = {
    "s3": "simsage.s3.service:S3Service",
    "sts": "simsage.sts:STSService",
    "iam": "simsage.iam.service:IAMService",
    "logs": "simsage.logs.service:LogsService",
    "cloudwatch": "simsage.cloudwatch.service:CloudWatchService",
    "sagemaker": "simsage.sagemaker:SageMakerService",
    "sagemaker-runtime": "simsage.hosting.runtime:RuntimeService",
}


def emulated_services() -> list[str]:
    return sorted(_SERVICES)


def create_service(name: str, home):
    """The service object for ``name`` bound to ``home``, or None if simsage has none."""
    target = _SERVICES.get(name)
    if target is None:
        return None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(home)


_instances_lock = threading.Lock()


def service(home, name: str):
    """The service object answering ``name`` (``s3``, ``sts`` …) for ``home`` (made on
    first use, then shared by every client of the home), or None if simsage has none.
    They are kept in ``home.attached``, so they go when the home goes (the service
    objects refer to their home: a registry of its own would keep every home alive)."""
    made = home.attached.get("services")
    found = made.get(name) if made is not None else None
    if found is None:
        with _instances_lock:
            made = home.attached.setdefault("services", {})
            found = made.get(name)
            if found is None:
                found = create_service(name, home)
                if found is not None:
                    made[name] = found
    return found


# Each concept that starts processes (jobs, endpoints) registers how to stop the ones
# that belong to a home (its service module registers when imported).
_stop_hooks: list = []


def on_stop_everything(hook) -> None:
    """Register ``hook(home)``, run by :func:`stop_everything`."""
    if hook not in _stop_hooks:
        _stop_hooks.append(hook)


def stop_everything(home) -> None:
    """Stop every process ``home`` started (jobs, endpoint instances …)."""
    for hook in list(_stop_hooks):
        hook(home)


def blob_referenced(home, blob_id: str) -> bool:
    """Whether any registry row still names ``blob_id`` (used by the blob sweep)."""
    from simsage.s3.integrity import blob_referenced as s3_blob_referenced

    return s3_blob_referenced(home.db, blob_id)


# Concepts that keep bytes in the blob folder, by the module that accounts for them:
# ``referenced_blobs``, ``iter_stored``, ``check``, ``still_stored``, ``index_problems``
# and ``rebuild``, as :mod:`simsage.s3.integrity` has them. ``simsage doctor`` asks each.
_BLOB_KEEPERS = ("simsage.s3.integrity",)


def blob_keepers() -> list:
    """The modules that account for blobs (for ``simsage doctor``)."""
    return [importlib.import_module(name) for name in _BLOB_KEEPERS]
