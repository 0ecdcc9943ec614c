"""IAM's error codes (query protocol: ``Type`` Sender for the client's faults)."""

from __future__ import annotations

from simsage.errors import ClientFault


class ValidationError(ClientFault):
    """Input that breaks a constraint of the model (IAM's code, as STS's)."""

    code = "ValidationError"


class NoSuchEntity(ClientFault):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(ClientFault):
    code = "EntityAlreadyExists"
    status = 409


class MalformedPolicyDocument(ClientFault):
    code = "MalformedPolicyDocument"


class InvalidInput(ClientFault):
    code = "InvalidInput"


class DeleteConflict(ClientFault):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(ClientFault):
    code = "LimitExceeded"
    status = 409


def role_not_found(name: str) -> NoSuchEntity:
    """AWS's answer for a role name the account has no role of."""
    return NoSuchEntity(f"The role with name {name} cannot be found.")
