"""CloudWatch Logs' error codes (all HTTP 400, sender faults)."""

from __future__ import annotations

from simsage.errors import ClientFault
from simsage.transport.constraints import ValidationErrors


class ResourceNotFound(ClientFault):
    code = "ResourceNotFoundException"


class ResourceAlreadyExists(ClientFault):
    code = "ResourceAlreadyExistsException"


class InvalidParameter(ClientFault):
    """Bad input, including input that breaks the model's constraints."""

    code = "InvalidParameterException"


class TooManyTags(ClientFault):
    code = "TooManyTagsException"

    def __init__(self, message: str, resource: str) -> None:
        super().__init__(message, modeled_fields={"resourceName": resource})


def group_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")


def stream_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log stream does not exist.")


# Logs reports constraint violations as InvalidParameterException, in the
# "N validation errors detected: …" form of every AWS JSON service.
INPUT_ERRORS = ValidationErrors(InvalidParameter)
