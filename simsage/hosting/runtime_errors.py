"""The errors ``sagemaker-runtime`` answers with (its own codes, not SageMaker's).

Layer: data plane, shared by the router (:mod:`simsage.hosting.runtime`), the
serverless admission (:mod:`simsage.hosting.serverless`) and InvokeEndpointAsync
(:mod:`simsage.hosting.async_inference`). Codes and HTTP statuses are botocore's
sagemaker-runtime model's; ``ThrottlingException`` is one of AWS's common errors (HTTP
400), which SageMaker answers when a serverless endpoint already runs MaxConcurrency
requests.
"""

from __future__ import annotations

from typing import Any

from simsage.errors import AWSError, ClientFault


class ValidationError(ClientFault):
    code = "ValidationError"


class ModelError(ClientFault):
    code = "ModelError"
    status = 424


class ModelNotReadyException(ClientFault):
    """A serverless variant's compute is still being provisioned (a cold start that did
    not finish within the invocation timeout)."""

    code = "ModelNotReadyException"
    status = 429


class ThrottlingException(ClientFault):
    code = "ThrottlingException"


class ServiceUnavailable(AWSError):
    code = "ServiceUnavailable"
    status = 503


def log_group(endpoint: str) -> str:
    """The CloudWatch log group of an endpoint's containers."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def container_error_message(
    region: str, account: str, endpoint: str, status: int, message: str
) -> str:
    """SageMaker's text for a container that answered an error status (CONTRACTS D)."""
    kind = "client" if status < 500 else "server"
    group = log_group(endpoint)
    return (
        f'Received {kind} error ({status}) from primary with message "{message}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group} in account {account} for more information."
    )


def timeout_message(seconds: float) -> str:
    """SageMaker's text for a container that did not answer in time."""
    return (
        "Your invocation timed out while waiting for a response from container primary "
        f"(after {seconds:.0f} s). Review the latency metrics for each container in Amazon "
        "CloudWatch, resolve the issue, and try again."
    )


def body_bytes(body: Any) -> bytes:
    """A request's ``Body`` param as bytes (boto3 passes bytes, str or a file object).

    Raises:
        ValidationError: anything else.
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise ValidationError("Body must be bytes, a string or a readable file object.")
