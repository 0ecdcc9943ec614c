"""IAM: CreateRole, GetRole, ListRoles, DeleteRole, the managed policies of a role
(AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies) and SimulatePrincipalPolicy.

Layer: the service object the transport calls (query protocol); roles live in
:mod:`simsage.iam.roles`, trust policies are read by :mod:`simsage.iam.trust`.

IAM is global: the same roles answer a client of any region. simsage keeps no permission
policies, so its simulation answers what matters to SageMaker: a role whose trust policy
lets ``sagemaker.amazonaws.com`` assume it is treated as a SageMaker execution role and is
``allowed`` every action asked for (simsage's SageMaker itself runs jobs with any role
ARN); a role that SageMaker may not assume is ``implicitDeny``. The local identity (STS's
``user/simsage``) is allowed everything. A principal IAM does not know is
``NoSuchEntity``, as on AWS.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from simsage.errors import aws_error
from simsage.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
    role_not_found,
)
from simsage.iam.roles import Role, RoleStore
from simsage.iam.trust import parse_trust_policy, trusts_service
from simsage.paging import keyset_page
from simsage.sts import LOCAL_USER
from simsage.transport import Request
from simsage.transport.constraints import ValidationErrors

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
DEFAULT_MAX_ITEMS = 100

_PRINCIPAL_ARN = re.compile(r"arn:aws:iam::(\d{12}):(role|user|group)(/(?:[\x21-\x7e]+/)?)([^/]+)")
# AWS managed policies (``arn:aws:iam::aws:policy/AmazonSageMakerFullAccess``, with an
# optional path such as ``service-role/``); a customer managed one names the account.
_POLICY_ARN = re.compile(
    r"arn:aws:iam::(aws|\d{12}):policy((?:/[A-Za-z0-9.,+@=_-]+)*/)([\w+=,.@-]+)"
)
MANAGED_POLICIES_PER_ROLE = 10
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+")


def _new_role_id() -> str:
    """``AROA`` and 17 upper-case letters and digits, the form of IAM's role ids."""
    return "AROA" + base64.b32encode(os.urandom(11)).decode()[:17]


def _marker_error(message: str) -> ValidationError:
    return ValidationError(message.replace("pagination token", "Marker"))


class IAMService:
    CHECK_INPUT = ValidationErrors(ValidationError)

    def __init__(self, home) -> None:
        self.home = home
        self.roles = RoleStore(home.db)

    # -- roles ---------------------------------------------------------------------

    def create_role(self, request: Request) -> dict:
        p = request.params
        name = p["RoleName"]
        document = p["AssumeRolePolicyDocument"]
        parse_trust_policy(document)
        tags = [dict(tag) for tag in p.get("Tags") or []]
        keys = [tag["Key"].lower() for tag in tags]
        if len(set(keys)) != len(keys):
            raise InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        role = Role(
            name=name,
            account=request.account_id,
            role_id=_new_role_id(),
            path=p.get("Path", "/"),
            trust_policy=document,
            created=self.home.clock.time(),
            description=p.get("Description"),
            max_session_duration=p.get("MaxSessionDuration", 3600),
            permissions_boundary=p.get("PermissionsBoundary"),
            tags=tags,
        )
        if not self.roles.insert(role):
            raise EntityAlreadyExists(f"Role with name {name} already exists.")
        return {"Role": role.describe()}

    def get_role(self, request: Request) -> dict:
        name = request.params["RoleName"]
        role = self.roles.get(request.account_id, name)
        if role is None:
            raise role_not_found(name)
        return {"Role": role.describe()}

    def list_roles(self, request: Request) -> dict:
        p = request.params
        prefix = p.get("PathPrefix", "/")
        roles = [r for r in self.roles.all(request.account_id) if r.path.startswith(prefix)]
        page, marker = keyset_page(
            roles,
            lambda r: (r.name.lower(), r.name),
            p.get("MaxItems", DEFAULT_MAX_ITEMS),
            p.get("Marker"),
            _marker_error,
            scope=["roles", prefix],
        )
        out: dict[str, Any] = {
            "Roles": [r.describe(full=False) for r in page],
            "IsTruncated": marker is not None,
        }
        if marker is not None:
            out["Marker"] = marker
        return out

    def delete_role(self, request: Request) -> dict:
        role = self._role(request)
        if role.attached_policies:
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if not self.roles.delete(request.account_id, role.name):
            raise role_not_found(role.name)
        return {}

    def _role(self, request: Request) -> Role:
        name = request.params["RoleName"]
        role = self.roles.get(request.account_id, name)
        if role is None:
            raise role_not_found(name)
        return role

    # -- managed policies ----------------------------------------------------------
    # simsage has no policy documents: AWS managed policies (``arn:aws:iam::aws:policy/…``)
    # attach by ARN, as the SDK's ``get_execution_role(use_default=True)`` attaches
    # AmazonSageMakerFullAccess; customer managed ones do not exist here (no CreatePolicy).

    def attach_role_policy(self, request: Request) -> dict:
        role = self._role(request)
        policy_arn = request.params["PolicyArn"]
        match = _POLICY_ARN.fullmatch(policy_arn)
        if match is None:
            raise InvalidInput(f"ARN {policy_arn} is not valid.")
        if match.group(1) != "aws":
            raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
        if policy_arn in role.attached_policies:
            return {}  # attaching again changes nothing, as in IAM
        if len(role.attached_policies) >= MANAGED_POLICIES_PER_ROLE:
            raise LimitExceeded(
                f"Cannot exceed quota for PoliciesPerRole: {MANAGED_POLICIES_PER_ROLE}"
            )
        role.attached_policies.append(policy_arn)
        if not self.roles.update(role):
            raise role_not_found(role.name)
        return {}

    def detach_role_policy(self, request: Request) -> dict:
        role = self._role(request)
        policy_arn = request.params["PolicyArn"]
        if policy_arn not in role.attached_policies:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        role.attached_policies.remove(policy_arn)
        if not self.roles.update(role):
            raise role_not_found(role.name)
        return {}

    def list_attached_role_policies(self, request: Request) -> dict:
        role = self._role(request)
        p = request.params
        prefix = p.get("PathPrefix", "/")
        attached = []
        for policy_arn in role.attached_policies:
            match = _POLICY_ARN.fullmatch(policy_arn)
            if match and match.group(2).startswith(prefix):
                attached.append({"PolicyName": match.group(3), "PolicyArn": policy_arn})
        page, marker = keyset_page(
            list(enumerate(attached)),
            lambda item: (item[0],),
            p.get("MaxItems", DEFAULT_MAX_ITEMS),
            p.get("Marker"),
            _marker_error,
            scope=["attached", role.name.lower(), prefix],
        )
        out: dict[str, Any] = {
            "AttachedPolicies": [policy for _, policy in page],
            "IsTruncated": marker is not None,
        }
        if marker is not None:
            out["Marker"] = marker
        return out

    # -- simulation ----------------------------------------------------------------

    def simulate_principal_policy(self, request: Request) -> dict:
        p = request.params
        for member in ("PolicyInputList", "PermissionsBoundaryPolicyInputList", "ResourcePolicy"):
            if p.get(member):
                raise aws_error(
                    "NotImplemented",
                    501,
                    f"simsage does not simulate extra policies ({member}): it keeps no "
                    "permission policies. Leave it out, or run with SIMSAGE_BACKEND=aws.",
                )
        decision = self._decision(request.account_id, p["PolicySourceArn"])
        resources = p.get("ResourceArns") or []
        results = []
        for action in p["ActionNames"]:
            if not _ACTION.fullmatch(action):
                raise InvalidInput(f"Invalid action name: {action}. Use the form service:Action.")
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": "*",
                "EvalDecision": decision,
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            if resources:
                # One result per action; the per-resource decisions beside it (IAM's
                # current form), with the empty same-account details IAM sends then.
                result["EvalDecisionDetails"] = {}
                result["ResourceSpecificResults"] = [
                    {
                        "EvalResourceName": resource,
                        "EvalResourceDecision": decision,
                        "MatchedStatements": [],
                        "MissingContextValues": [],
                    }
                    for resource in resources
                ]
            results.append(result)
        numbered = list(enumerate(results))
        page, marker = keyset_page(
            numbered,
            lambda item: (item[0],),
            p.get("MaxItems", DEFAULT_MAX_ITEMS),
            p.get("Marker"),
            _marker_error,
            scope=["simulation", p["PolicySourceArn"], len(results)],
        )
        out: dict[str, Any] = {
            "EvaluationResults": [result for _, result in page],
            "IsTruncated": marker is not None,
        }
        if marker is not None:
            out["Marker"] = marker
        return out

    def _decision(self, account: str, source_arn: str) -> str:
        """``allowed`` or ``implicitDeny`` for every action of the principal ``source_arn``.

        Raises:
            InvalidInput: not the ARN of a user, group or role.
            NoSuchEntity: a principal this account does not have.
        """
        match = _PRINCIPAL_ARN.fullmatch(source_arn)
        if match is None:
            raise InvalidInput(
                f"Invalid ARN: {source_arn}. PolicySourceArn must be the ARN of an IAM "
                "user, group or role (arn:aws:iam::<account>:role/<name>)."
            )
        arn_account, kind, path, name = match.groups()
        if kind == "role":
            role = self.roles.get(account, name) if arn_account == account else None
            if role is None or role.path != path:
                raise role_not_found(name)
            trusted = trusts_service(parse_trust_policy(role.trust_policy), SAGEMAKER_PRINCIPAL)
            return "allowed" if trusted else "implicitDeny"
        if kind == "user" and arn_account == account and name == LOCAL_USER and path == "/":
            return "allowed"
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
