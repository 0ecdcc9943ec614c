"""AWS-shaped errors raised by simsage's services.

A service raises an :class:`AWSError` subclass; the transport turns it into the parsed
error botocore would have produced from the wire (``Error.Code``, ``Error.Message``,
the HTTP status and the error's own fields), so callers catch
``botocore.exceptions.ClientError`` exactly as on AWS. Nothing else crosses the boundary:
an unexpected exception becomes ``InternalFailure`` (500) with its message.
"""

from __future__ import annotations

from typing import Any


class AWSError(Exception):
    """An error with a real AWS error code.

    Attributes:
        code: ``Error.Code`` as AWS sends it.
        status: the HTTP status AWS answers with.
        sender_fault: ``Type`` for query-protocol services (Sender/Receiver).
        error_fields: extra members of the ``Error`` element (S3 puts ``Key``,
            ``BucketName``, ``Condition`` … there).
        modeled_fields: members of the error's modeled shape; botocore places them at
            the top level of the response (for example ``OriginalStatusCode``).
    """

    code = "InternalFailure"
    status = 500
    sender_fault = False

    def __init__(
        self,
        message: str,
        *,
        error_fields: dict[str, Any] | None = None,
        modeled_fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_fields = error_fields or {}
        self.modeled_fields = modeled_fields or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


class ClientFault(AWSError):
    status = 400
    sender_fault = True


class ValidationException(ClientFault):
    """SageMaker and most JSON services: bad input or a missing resource."""

    code = "ValidationException"


class NotEmulated(AWSError):
    """An operation simsage does not emulate (yet)."""

    code = "NotImplemented"
    status = 501

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"simsage does not emulate {service}.{operation} yet. "
            "Use another operation, or run this code with SIMSAGE_BACKEND=aws against real AWS."
        )


def aws_error(code: str, status: int, message: str, **error_fields: Any) -> AWSError:
    """A one-off AWSError with a given code and status (for rarely raised codes)."""
    err = AWSError(message, error_fields=error_fields)
    err.code, err.status, err.sender_fault = code, status, status < 500
    return err
