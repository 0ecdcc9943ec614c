"""Role trust policies (``AssumeRolePolicyDocument``): the checks IAM makes when a role is
created, and who a policy lets assume the role.

Layer: pure logic under :mod:`simsage.iam.service` (no store, no boto).

IAM refuses a trust policy that is not JSON, has no ``Statement``, names an ``Effect``
other than Allow/Deny, lacks a principal or an action, names a ``Resource`` (a trust
policy is attached to the role itself), or grants anything but the STS assume-role
actions; each refusal is a ``MalformedPolicyDocument`` with IAM's own sentence.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from simsage.iam.errors import MalformedPolicyDocument

VERSIONS = ("2012-10-17", "2008-10-17")
PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
# What a trust policy may grant (IAM: "AssumeRole policy may only specify STS AssumeRole
# actions").
_ASSUME_ACTIONS = (
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def parse_trust_policy(document: str) -> dict[str, Any]:
    """The trust policy as a dict, after IAM's checks.

    Raises:
        MalformedPolicyDocument: with the reason IAM gives.
    """
    try:
        policy = json.loads(document)
    except ValueError:
        raise MalformedPolicyDocument("This policy contains invalid Json") from None
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise MalformedPolicyDocument("Syntax errors in policy.")
    version = policy.get("Version")
    if version is not None and version not in VERSIONS:
        raise MalformedPolicyDocument("The policy failed legacy parsing")
    statements = _as_list(policy["Statement"])
    if not statements or not all(isinstance(s, dict) for s in statements):
        raise MalformedPolicyDocument("Syntax errors in policy.")
    for statement in statements:
        _check_statement(statement)
    return policy


def _check_statement(statement: dict[str, Any]) -> None:
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise MalformedPolicyDocument("Syntax errors in policy.")
    if "Resource" in statement or "NotResource" in statement:
        raise MalformedPolicyDocument("Has prohibited field Resource")
    if "Principal" not in statement and "NotPrincipal" not in statement:
        raise MalformedPolicyDocument("Missing required field Principal")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal != "*":
        if not isinstance(principal, dict) or not principal:
            raise MalformedPolicyDocument(f"Invalid principal in policy: {json.dumps(principal)}")
        for kind, value in principal.items():
            values = _as_list(value)
            if kind not in PRINCIPAL_KINDS or not all(isinstance(v, str) and v for v in values):
                raise MalformedPolicyDocument(
                    f'Invalid principal in policy: "{kind}":{json.dumps(value)}'
                )
    if "Action" not in statement and "NotAction" not in statement:
        raise MalformedPolicyDocument("Missing required field Action")
    actions = _as_list(statement.get("Action", statement.get("NotAction")))
    for action in actions:
        if not isinstance(action, str) or not _is_assume_action(action):
            raise MalformedPolicyDocument(
                "AssumeRole policy may only specify STS AssumeRole actions."
            )


def _is_assume_action(action: str) -> bool:
    pattern = action.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for name in _ASSUME_ACTIONS)


def _statement_applies(statement: dict[str, Any], service: str) -> bool:
    """Whether ``statement`` covers ``service`` calling ``sts:AssumeRole``."""
    if "Action" in statement:
        covers_action = any(
            fnmatch.fnmatchcase("sts:assumerole", a.lower()) for a in _as_list(statement["Action"])
        )
    else:
        covers_action = not any(
            fnmatch.fnmatchcase("sts:assumerole", a.lower())
            for a in _as_list(statement["NotAction"])
        )
    if not covers_action:
        return False
    if "Principal" in statement:
        principal = statement["Principal"]
        return principal == "*" or service in _as_list(principal.get("Service", []))
    named = statement["NotPrincipal"]
    return named != "*" and service not in _as_list(named.get("Service", []))


def trusts_service(policy: dict[str, Any], service: str) -> bool:
    """Whether the trust policy lets the AWS service principal ``service`` (for example
    ``sagemaker.amazonaws.com``) assume the role: some Allow statement covers it and no
    Deny statement does (conditions are not evaluated: simsage has no request context)."""
    statements = _as_list(policy["Statement"])
    allowed = denied = False
    for statement in statements:
        if _statement_applies(statement, service):
            if statement["Effect"] == "Allow":
                allowed = True
            else:
                denied = True
    return allowed and not denied
