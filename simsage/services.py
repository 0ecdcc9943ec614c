"""Which simsage module answers which AWS service (by botocore's service name).

A service class answers each operation with the snake_case method of its name and
declares ``CHECK_INPUT``, how it reports input that breaks the model's constraints
(:class:`simsage.transport.constraints.InputErrors`: SageMaker ``ValidationException``,
Logs ``InvalidParameterException``, the runtime and STS ``ValidationError``, S3 its own
codes); the transport checks every call against the model before the method runs.
"""

from __future__ import annotations

import importlib

# service name (botocore's) -> "module:Class"; the class is built with the Home.
_SERVICES = {
    "s3": "simsage.s3.service:S3Service",
    "sts": "simsage.sts:STSService",
    "iam": "simsage.iam.service:IAMService",
    "logs": "simsage.logs.service:LogsService",
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
