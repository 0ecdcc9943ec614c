"""What tests read from the installed botocore's service models (tests/functional and
tests/integration, which have ``tests/`` on their path): whether a member exists, so a
test of a member newer than the model the venv holds skips with that reason. s3fs's
aiobotocore pins botocore, which can hold the test venv at a model older than the
service's newest members."""

from __future__ import annotations

import functools


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def in_model(operation: str, member: str, service: str = "sagemaker") -> bool:
    """Whether the installed botocore's ``service`` model has ``member`` on
    ``operation``'s input (``operation`` as the model names it, e.g. ``CreatePipeline``)."""
    return member in _service_model(service).operation_model(operation).input_shape.members
