"""The in-process transport: how boto3 clients get answered, and how errors look."""

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError

import simsage
from simsage.transport import handler as handler_module
from simsage.transport.validate import OutputShapeError


def test_boto3_session_is_answered_without_credentials_or_network(simsage_home, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    session = simsage.boto3_session()
    assert session.region_name == "us-east-1"
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/simsage"
    assert (simsage_home / "state.db").exists()


def test_boto3_session_with_aws_backend_is_plain_boto3(simsage_home, monkeypatch):
    monkeypatch.setenv("SIMSAGE_BACKEND", "aws")
    session = simsage.boto3_session(region_name="eu-west-1")
    client = session.client("s3")
    # Nothing of simsage is registered: the request would go to the wire.
    assert _answer_handlers(client) == []
    assert not (simsage_home / "state.db").exists()


def test_activate_answers_every_new_client_and_deactivate_restores(simsage_home, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    original = botocore.session.Session.create_client
    simsage.activate()
    try:
        assert boto3.Session().region_name == "us-east-1"
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="activated")
        names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
        assert names == ["activated"]
    finally:
        simsage.deactivate()
    assert botocore.session.Session.create_client is original
    # A client created while active stays bound to simsage.
    assert s3.head_bucket(Bucket="activated")["BucketRegion"] == "us-east-1"


def test_local_context_manager_and_nesting(tmp_path, simsage_home):
    with simsage.local(home=tmp_path / "outer"):
        outer = boto3.client("s3", region_name="us-east-1")
        outer.create_bucket(Bucket="outer-bucket")
        with simsage.local(home=tmp_path / "inner"):
            inner = boto3.client("s3", region_name="us-east-1")
            assert inner.list_buckets()["Buckets"] == []
        again = boto3.client("s3", region_name="us-east-1")
        assert [b["Name"] for b in again.list_buckets()["Buckets"]] == ["outer-bucket"]


def test_activate_with_aws_backend_changes_nothing(simsage_home, monkeypatch):
    monkeypatch.setenv("SIMSAGE_BACKEND", "aws")
    original = botocore.session.Session.create_client
    assert simsage.activate() is None
    assert botocore.session.Session.create_client is original


def test_unemulated_operation_is_a_clear_client_error(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="website-bucket")
    with pytest.raises(ClientError) as info:
        s3.put_bucket_website(
            Bucket="website-bucket",
            WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}},
        )
    error = info.value.response["Error"]
    assert error["Code"] == "NotImplemented"
    assert "s3.PutBucketWebsite" in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_unemulated_service_is_a_clear_client_error(simsage_local):
    ec2 = simsage_local.client("ec2")
    with pytest.raises(ClientError) as info:
        ec2.describe_instances()
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    assert "ec2.DescribeInstances" in info.value.response["Error"]["Message"]


def test_botocore_still_validates_params(simsage_local):
    with pytest.raises(ParamValidationError):
        simsage_local.client("s3").put_object(Bucket="b" * 3)  # Key missing


def test_unexpected_failure_is_an_internal_error_not_a_traceback(simsage_local, monkeypatch):
    from simsage.sts import STSService

    def explode(self, request):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(STSService, "get_caller_identity", explode)
    with pytest.raises(ClientError) as info:
        simsage_local.client("sts").get_caller_identity()
    error = info.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert "disk on fire" in error["Message"]
    assert error["Type"] == "Receiver"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_output_shape_check_catches_a_wrong_answer(simsage_local, monkeypatch):
    from simsage.sts import STSService

    monkeypatch.setattr(STSService, "get_caller_identity", lambda self, r: {"Acount": "1"})
    with pytest.raises(OutputShapeError, match="Acount"):
        simsage_local.client("sts").get_caller_identity()


def test_error_responses_carry_request_metadata(simsage_local):
    with pytest.raises(ClientError) as info:
        simsage_local.client("s3").get_object(Bucket="missing-bucket", Key="k")
    response = info.value.response
    assert response["Error"]["Code"] == "NoSuchBucket"
    assert response["Error"]["BucketName"] == "missing-bucket"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResponseMetadata"]["RequestId"]


def test_header_members_appear_in_http_headers(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket="headers")
    s3.put_object(Bucket="headers", Key="k", Body=b"abc", ContentType="text/plain")
    headers = s3.get_object(Bucket="headers", Key="k")["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "text/plain"
    assert headers["content-length"] == "3"
    assert headers["etag"] == '"900150983cd24fb0d6963f7d28e17f72"'


def test_handlers_are_installed_once_per_emitter(simsage_local):
    session = simsage.boto3_session()
    client = session.client("s3")
    # Both the session's transport and the activation try to install: only one answers.
    assert len(_answer_handlers(client)) == 1


def _answer_handlers(client) -> list:
    handlers = client.meta.events._emitter._handlers.prefix_search("before-call.s3.ListBuckets")
    return [h for h in handlers if getattr(h, "__func__", None) is handler_module.Transport._answer]
