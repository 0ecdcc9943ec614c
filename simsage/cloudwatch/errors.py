"""CloudWatch's error codes (all HTTP 400, sender faults).

CloudWatch answers in the smithy RPC v2 CBOR protocol but is "query compatible": the
error's ``Code`` is the query protocol's code the model gives for each error shape
(``InvalidParameterValue`` for the shape ``InvalidParameterValueException``), and botocore
also reports ``QueryErrorCode`` (the shape's name) and ``Type`` (``Sender``), as it parses
them from AWS's ``x-amzn-query-error`` header. Input that breaks the model's constraints
is a ``ValidationError`` listing them, as AWS's query services answer it.
"""

from __future__ import annotations

from simsage.errors import ClientFault
from simsage.transport.constraints import ValidationErrors


class CloudWatchError(ClientFault):
    shape = ""  # the model's error shape (QueryErrorCode)

    def __init__(self, message: str) -> None:
        fields = {"Type": "Sender"}
        if self.shape:
            fields["QueryErrorCode"] = self.shape
        super().__init__(message, error_fields=fields)


class InvalidParameterValue(CloudWatchError):
    code = "InvalidParameterValue"
    shape = "InvalidParameterValueException"


class InvalidParameterCombination(CloudWatchError):
    code = "InvalidParameterCombination"
    shape = "InvalidParameterCombinationException"


class MissingParameter(CloudWatchError):
    code = "MissingParameter"
    shape = "MissingRequiredParameterException"


class InvalidNextToken(CloudWatchError):
    code = "InvalidNextToken"
    shape = "InvalidNextToken"


class ValidationError(CloudWatchError):
    """Input that breaks the model's constraints, or a malformed GetMetricData query."""

    code = "ValidationError"
    shape = "ValidationException"


def invalid_value(value, parameter: str, hint: str = "") -> InvalidParameterValue:
    """``The value <v> for parameter <p> is invalid.`` (CloudWatch's sentence) + a hint."""
    message = f"The value {value} for parameter {parameter} is invalid."
    return InvalidParameterValue(f"{message} {hint}" if hint else message)


def exclusive(first: str, second: str) -> InvalidParameterCombination:
    return InvalidParameterCombination(
        f"The parameters {first} and {second} are mutually exclusive and you specified both."
    )


INPUT_ERRORS = ValidationErrors(ValidationError)
