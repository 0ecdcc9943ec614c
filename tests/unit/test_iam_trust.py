"""Who a role's trust policy lets assume it (the decision behind simsage's IAM policy
simulation), and the trust-policy checks IAM makes at CreateRole."""

from __future__ import annotations

import json

import pytest

from simsage.iam.errors import MalformedPolicyDocument
from simsage.iam.trust import parse_trust_policy, trusts_service

SAGEMAKER = "sagemaker.amazonaws.com"


def _policy(*statements) -> dict:
    return parse_trust_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def _allow(principal, action="sts:AssumeRole") -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action}


@pytest.mark.parametrize(
    "statement",
    [
        _allow({"Service": SAGEMAKER}),
        _allow({"Service": ["lambda.amazonaws.com", SAGEMAKER]}),
        _allow({"Service": SAGEMAKER}, ["sts:AssumeRole", "sts:TagSession"]),
        _allow({"Service": SAGEMAKER}, "sts:*"),
        _allow({"Service": SAGEMAKER}, "sts:Assume*"),
        _allow("*"),
    ],
    ids=["service", "service-list", "action-list", "sts-star", "action-wildcard", "anyone"],
)
def test_trusted(statement):
    assert trusts_service(_policy(statement), SAGEMAKER)


@pytest.mark.parametrize(
    "statements",
    [
        [_allow({"Service": "lambda.amazonaws.com"})],
        [_allow({"AWS": "arn:aws:iam::123456789012:root"})],
        [_allow({"Service": SAGEMAKER}, "sts:TagSession")],
        [
            _allow({"Service": SAGEMAKER}),
            {"Effect": "Deny", "Principal": {"Service": SAGEMAKER}, "Action": "sts:AssumeRole"},
        ],
    ],
    ids=["other-service", "account", "other-action", "denied"],
)
def test_not_trusted(statements):
    assert not trusts_service(_policy(*statements), SAGEMAKER)


def test_not_principal_covers_everyone_else():
    policy = _policy(
        {"Effect": "Allow", "NotPrincipal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:*"}
    )
    assert trusts_service(policy, SAGEMAKER)
    assert not trusts_service(policy, "lambda.amazonaws.com")


def test_a_single_statement_object_is_accepted():
    document = json.dumps({"Statement": _allow({"Service": SAGEMAKER})})
    assert trusts_service(parse_trust_policy(document), SAGEMAKER)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2", "This policy contains invalid Json"),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "Syntax errors in policy."),
        (
            json.dumps({"Version": "2099-01-01", "Statement": [_allow("*")]}),
            "The policy failed legacy parsing",
        ),
        (
            json.dumps({"Statement": [_allow({"Robot": "r2d2"})]}),
            'Invalid principal in policy: "Robot":"r2d2"',
        ),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]}),
            "Missing required field Action",
        ),
    ],
    ids=["json", "empty", "version", "principal", "action"],
)
def test_malformed(document, message):
    with pytest.raises(MalformedPolicyDocument) as caught:
        parse_trust_policy(document)
    assert caught.value.message == message
