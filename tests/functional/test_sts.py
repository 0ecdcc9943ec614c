"""STS GetCallerIdentity through real boto3 clients (the official SageMaker SDK asks it
for the account that names its default bucket), and what any operation simsage does not
emulate answers: a ClientError naming the operation, never a traceback."""

from __future__ import annotations

import re

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

import simsage

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()


def _client(service: str, region: str = "us-east-1"):
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region).client(service)


def test_get_caller_identity_is_the_configured_account(simsage_local):
    identity = _client("sts").get_caller_identity()
    account = simsage_local.config.account_id
    assert re.fullmatch(r"\d{12}", identity["Account"])
    assert identity["Account"] == account
    assert identity["Arn"].startswith(f"arn:aws:iam::{account}:")
    assert identity["UserId"]
    assert identity["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_caller_identity_is_the_same_in_every_region(simsage_local):
    east = _client("sts", "us-east-1").get_caller_identity()
    west = _client("sts", "eu-west-1").get_caller_identity()
    assert (east["Account"], east["Arn"]) == (west["Account"], west["Arn"])


def test_account_id_setting_changes_the_identity(simsage_home):
    with simsage.local(account_id="210987654321"):
        identity = _client("sts").get_caller_identity()
    assert identity["Account"] == "210987654321"
    assert ":210987654321:" in identity["Arn"]


def test_account_id_from_the_environment(simsage_home, monkeypatch):
    monkeypatch.setenv("SIMSAGE_ACCOUNT_ID", "000011112222")
    with simsage.local():
        identity = _client("sts").get_caller_identity()
    assert identity["Account"] == "000011112222"


def test_session_from_boto3_session_helper(simsage_home):
    identity = simsage.boto3_session().client("sts").get_caller_identity()
    assert identity["Account"] == simsage.load_config().account_id


# -- operations simsage does not emulate ----------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "kwargs", "operation"),
    [
        (
            "sts",
            "assume_role",
            {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "session"},
            "AssumeRole",
        ),
        (
            "s3",
            "get_bucket_analytics_configuration",
            {"Bucket": "any-bucket", "Id": "a"},
            "GetBucketAnalyticsConfiguration",
        ),
        ("sagemaker", "list_workforces", {}, "ListWorkforces"),
        ("dynamodb", "list_tables", {}, "ListTables"),
    ],
)
def test_unemulated_operation_is_a_clear_client_error(
    simsage_local, service, method, kwargs, operation
):
    client = _client(service)
    with pytest.raises(ClientError) as excinfo:
        getattr(client, method)(**kwargs)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "NotImplemented"
    assert operation in error["Message"]
    assert "does not emulate" in error["Message"]
    assert "Traceback" not in error["Message"]
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert operation in str(excinfo.value)
