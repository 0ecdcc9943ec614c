"""IAM through real boto3 clients: the roles a user makes for SageMaker (CreateRole,
GetRole, ListRoles, DeleteRole) and the policy simulation the official SDK v3 runs before
it starts a job (SimulatePrincipalPolicy, paginated as the SDK pages it)."""

from __future__ import annotations

import json
import re

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError
from sdk_helpers import SAGEMAKER_TRUST

_LOADER = botocore.loaders.create_loader()

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        }
    ],
}


def _client(service: str = "iam", region: str = "us-east-1"):
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region).client(service)


def _code(caught) -> str:
    return caught.value.response["Error"]["Code"]


def _create(iam, name: str, trust=SAGEMAKER_TRUST, **kwargs) -> dict:
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kwargs)[
        "Role"
    ]


def test_create_and_get_role(simsage_local):
    iam = _client()
    account = simsage_local.config.account_id
    created = _create(
        iam,
        "SageMakerRole",
        Description="runs my jobs",
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert created["Arn"] == f"arn:aws:iam::{account}:role/SageMakerRole"
    assert created["Path"] == "/"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", created["RoleId"])
    # botocore decodes the URL-encoded document IAM answers into a dict.
    assert created["AssumeRolePolicyDocument"] == SAGEMAKER_TRUST

    got = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert got["Arn"] == created["Arn"] and got["RoleId"] == created["RoleId"]
    assert got["CreateDate"] == created["CreateDate"]
    assert got["Description"] == "runs my jobs"
    assert got["MaxSessionDuration"] == 3600
    assert got["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert got["AssumeRolePolicyDocument"] == SAGEMAKER_TRUST
    # IAM names are case-insensitive: the role is found under any case.
    assert iam.get_role(RoleName="sagemakerrole")["Role"]["RoleName"] == "SageMakerRole"


def test_roles_are_global_and_persist(simsage_local):
    _create(_client(region="us-east-1"), "Everywhere", Path="/service-role/")
    # Another region, another client, a fresh process-wide session: the same role.
    role = _client(region="eu-west-1").get_role(RoleName="Everywhere")["Role"]
    account = simsage_local.config.account_id
    assert role["Arn"] == f"arn:aws:iam::{account}:role/service-role/Everywhere"


def test_get_unknown_role_is_no_such_entity(simsage_local):
    with pytest.raises(ClientError) as caught:
        _client().get_role(RoleName="SageMakerRole")
    assert _code(caught) == "NoSuchEntity"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["Error"]["Message"] == (
        "The role with name SageMakerRole cannot be found."
    )
    assert caught.value.response["Error"]["Type"] == "Sender"


def test_duplicate_role_name_is_refused_in_any_case(simsage_local):
    iam = _client()
    _create(iam, "SageMakerRole")
    with pytest.raises(ClientError) as caught:
        _create(iam, "SAGEMAKERROLE")
    assert _code(caught) == "EntityAlreadyExists"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "sts:*"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "s3:GetObject",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Resource": "*",
                    }
                ]
            }
        ),
    ],
    ids=["not-json", "no-statement", "bad-effect", "no-principal", "not-sts", "resource"],
)
def test_malformed_trust_policy_is_refused(simsage_local, document):
    iam = _client()
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName="Broken", AssumeRolePolicyDocument=document)
    assert _code(caught) == "MalformedPolicyDocument"
    # Nothing half-written.
    assert iam.list_roles()["Roles"] == []


def test_bad_role_name_is_a_validation_error(simsage_local):
    with pytest.raises(ClientError) as caught:
        _create(_client(), "has space")
    assert _code(caught) == "ValidationError"
    assert "roleName" in caught.value.response["Error"]["Message"]


def test_list_roles_pages_with_marker(simsage_local):
    iam = _client()
    names = ["delta", "Alpha", "charlie", "Bravo", "echo"]
    for name in names:
        _create(iam, name)
    _create(iam, "other", Path="/apps/")

    first = iam.list_roles(MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["Alpha", "Bravo"]
    assert first["IsTruncated"] is True and first["Marker"]
    # ListRoles leaves out the tags and RoleLastUsed, as IAM does.
    assert "RoleLastUsed" not in first["Roles"][0]
    second = iam.list_roles(MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in second["Roles"]] == ["charlie", "delta"]

    paged = [
        role["RoleName"]
        for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2})
        for role in page["Roles"]
    ]
    assert paged == ["Alpha", "Bravo", "charlie", "delta", "echo", "other"]
    last = iam.list_roles()
    assert last["IsTruncated"] is False and "Marker" not in last

    apps = iam.list_roles(PathPrefix="/apps/")["Roles"]
    assert [r["RoleName"] for r in apps] == ["other"]

    with pytest.raises(ClientError) as caught:
        iam.list_roles(Marker="not-a-marker")
    assert _code(caught) == "ValidationError"


def test_delete_role(simsage_local):
    iam = _client()
    _create(iam, "Gone")
    iam.delete_role(RoleName="Gone")
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName="Gone")
    assert _code(caught) == "NoSuchEntity"
    with pytest.raises(ClientError) as caught:
        iam.delete_role(RoleName="Gone")
    assert _code(caught) == "NoSuchEntity"
    # The name is free again.
    _create(iam, "Gone")


def _simulate(iam, arn: str, actions: list[str], **kwargs) -> list[dict]:
    paginator = iam.get_paginator("simulate_principal_policy")
    return [
        result
        for page in paginator.paginate(PolicySourceArn=arn, ActionNames=actions, **kwargs)
        for result in page["EvaluationResults"]
    ]


def test_simulation_allows_a_role_sagemaker_may_assume(simsage_local):
    iam = _client()
    arn = _create(iam, "SageMakerRole")["Arn"]
    actions = ["sagemaker:CreateTrainingJob", "s3:GetObject", "logs:PutLogEvents"]
    results = _simulate(iam, arn, actions)
    assert [r["EvalActionName"] for r in results] == actions
    assert {r["EvalDecision"] for r in results} == {"allowed"}
    assert all(r["EvalResourceName"] == "*" for r in results)

    # With resources: one result per action, the per-resource decisions beside it.
    bucket = "arn:aws:s3:::sagemaker-us-east-1-123456789012/*"
    (result,) = _simulate(iam, arn, ["s3:PutObject"], ResourceArns=[bucket])
    assert result["EvalDecision"] == "allowed"
    assert result["ResourceSpecificResults"] == [
        {
            "EvalResourceName": bucket,
            "EvalResourceDecision": "allowed",
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
    ]


def test_simulation_pages_with_max_items(simsage_local):
    iam = _client()
    arn = _create(iam, "SageMakerRole")["Arn"]
    actions = [f"sagemaker:Action{i}" for i in range(5)]
    first = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, MaxItems=2)
    assert len(first["EvaluationResults"]) == 2 and first["IsTruncated"] is True
    results = _simulate(iam, arn, actions, PaginationConfig={"PageSize": 2})
    assert [r["EvalActionName"] for r in results] == actions


def test_simulation_denies_a_role_sagemaker_may_not_assume(simsage_local):
    iam = _client()
    arn = _create(iam, "LambdaRole", trust=LAMBDA_TRUST)["Arn"]
    (result,) = _simulate(iam, arn, ["sagemaker:CreateTrainingJob"])
    assert result["EvalDecision"] == "implicitDeny"


def test_simulation_allows_the_local_identity(simsage_local):
    iam = _client()
    caller = _client("sts").get_caller_identity()["Arn"]
    (result,) = _simulate(iam, caller, ["iam:CreateRole"])
    assert result["EvalDecision"] == "allowed"


def test_simulation_of_an_unknown_principal_is_no_such_entity(simsage_local):
    iam = _client()
    account = simsage_local.config.account_id
    for arn in (
        f"arn:aws:iam::{account}:role/SageMakerRole",
        f"arn:aws:iam::{account}:user/someone",
        "arn:aws:iam::210987654321:role/SageMakerRole",
    ):
        with pytest.raises(ClientError) as caught:
            iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"])
        assert _code(caught) == "NoSuchEntity", arn
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:s3:::not-a-principal", ActionNames=["s3:GetObject"]
        )
    assert _code(caught) == "InvalidInput"


FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def test_managed_policies_attach_list_and_detach(simsage_local):
    iam = _client()
    _create(iam, "SageMakerRole")
    iam.attach_role_policy(RoleName="SageMakerRole", PolicyArn=FULL_ACCESS)
    iam.attach_role_policy(RoleName="SageMakerRole", PolicyArn=FULL_ACCESS)  # no-op again
    service_role = "arn:aws:iam::aws:policy/service-role/AmazonSageMakerCanvasFullAccess"
    iam.attach_role_policy(RoleName="SageMakerRole", PolicyArn=service_role)
    attached = iam.list_attached_role_policies(RoleName="SageMakerRole")["AttachedPolicies"]
    assert attached == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": FULL_ACCESS},
        {"PolicyName": "AmazonSageMakerCanvasFullAccess", "PolicyArn": service_role},
    ]
    only = iam.list_attached_role_policies(RoleName="SageMakerRole", PathPrefix="/service-role/")
    assert [p["PolicyArn"] for p in only["AttachedPolicies"]] == [service_role]

    # A role with policies attached cannot be deleted until they are detached.
    with pytest.raises(ClientError) as caught:
        iam.delete_role(RoleName="SageMakerRole")
    assert _code(caught) == "DeleteConflict"
    iam.detach_role_policy(RoleName="SageMakerRole", PolicyArn=FULL_ACCESS)
    iam.detach_role_policy(RoleName="SageMakerRole", PolicyArn=service_role)
    with pytest.raises(ClientError) as caught:
        iam.detach_role_policy(RoleName="SageMakerRole", PolicyArn=FULL_ACCESS)
    assert _code(caught) == "NoSuchEntity"
    iam.delete_role(RoleName="SageMakerRole")


def test_attaching_what_does_not_exist_is_refused(simsage_local):
    iam = _client()
    account = simsage_local.config.account_id
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName="Nobody", PolicyArn=FULL_ACCESS)
    assert _code(caught) == "NoSuchEntity"
    _create(iam, "SageMakerRole")
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(
            RoleName="SageMakerRole", PolicyArn=f"arn:aws:iam::{account}:policy/Mine"
        )
    assert _code(caught) == "NoSuchEntity"
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName="SageMakerRole", PolicyArn="arn:aws:s3:::not-a-policy")
    assert _code(caught) == "InvalidInput"
    assert iam.list_attached_role_policies(RoleName="SageMakerRole")["AttachedPolicies"] == []
