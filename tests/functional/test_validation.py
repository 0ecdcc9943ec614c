"""Input that breaks a constraint of the service model (a maximum, a pattern, an enum)
is refused by each service with its own error code and message format, through real
boto3 clients: SageMaker ValidationException, CloudWatch Logs InvalidParameterException,
sagemaker-runtime ValidationError, STS ValidationError (Type Sender), S3 its own codes
(InvalidArgument with ArgumentName/ArgumentValue, InvalidStorageClass …). Patterns
written with Java constructs (\\p{ASCII}, \\p{Print}, \\p{L}, \\A, \\z) are enforced, and
what is legitimate (Unicode tag values, any S3 key) still passes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from simsage.sts import STSService

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "validation-bucket"


def refused(call, **params) -> dict:
    with pytest.raises(ClientError) as info:
        call(**params)
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    return client


# -- SageMaker ----------------------------------------------------------------------


def test_sagemaker_answers_validation_exception_and_enforces_unicode_patterns(simsage_local, s3):
    s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=b"x")
    sm = simsage_local.client("sagemaker")

    def create(name: str, tags: list[dict]) -> str:
        return sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
            ExecutionRoleArn=ROLE,
            Tags=tags,
        )["ModelArn"]

    # TagKey/TagValue are ([\p{L}\p{Z}\p{N}_.:/=+\-@]*): letters of any script pass …
    arn = create("unicode-tags", [{"Key": "équipe", "Value": "数据 科学 2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "équipe", "Value": "数据 科学 2"}]
    # … punctuation outside the set does not.
    error = refused(create, name="bad-tags", tags=[{"Key": "a;b", "Value": "v"}])
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value 'a;b' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"
    )
    # Lengths are counted as Java does: a character outside the BMP (here a CJK letter
    # of plane 2) counts twice.
    create("long-value", [{"Key": "k", "Value": "𠀀" * 128}])
    error = refused(create, name="too-long-value", tags=[{"Key": "k", "Value": "𠀀" * 129}])
    assert "Member must have length less than or equal to 256" in error["Message"]
    # Several violations are listed in one message.
    error = refused(create, name="bad_name", tags=[{"Key": "a;b", "Value": "v"}])
    assert error["Message"].startswith("2 validation errors detected: ")


# -- CloudWatch Logs ----------------------------------------------------------------


def test_logs_answer_invalid_parameter_exception(simsage_local):
    logs = simsage_local.client("logs")
    error = refused(logs.create_log_group, logGroupName="/a" * 300)
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith("1 validation error detected: Value '/a/a")
    assert error["Message"].endswith(
        "at 'logGroupName' failed to satisfy constraint: Member must have length less than "
        "or equal to 512"
    )
    logs.create_log_group(logGroupName="/ok/name#1.2_3-x")
    error = refused(logs.describe_log_groups, limit=51)
    assert error["Code"] == "InvalidParameterException"
    assert "Member must have value less than or equal to 50" in error["Message"]


# -- sagemaker-runtime --------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value", "where", "pattern"),
    [
        ("CustomAttributes", "trace=日本", "customAttributes", "\\p{ASCII}*"),
        ("CustomAttributes", "ünïcode", "customAttributes", "\\p{ASCII}*"),
        ("InferenceId", "id-日本", "inferenceId", "\\A\\S[\\p{Print}]*\\z"),
        ("InferenceId", " leading-space", "inferenceId", "\\A\\S[\\p{Print}]*\\z"),
        ("TargetModel", "model\n.tar.gz", "targetModel", "\\A\\S[\\p{Print}]*\\z"),
    ],
)
def test_runtime_answers_validation_error_for_headers_it_cannot_carry(
    simsage_local, member, value, where, pattern
):
    runtime = simsage_local.client("sagemaker-runtime")
    error = refused(runtime.invoke_endpoint, EndpointName="ep", Body=b"1", **{member: value})
    assert error["Code"] == "ValidationError"
    assert error["Message"] == (
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )


def test_runtime_endpoint_name_pattern(simsage_local):
    runtime = simsage_local.client("sagemaker-runtime")
    error = refused(runtime.invoke_endpoint, EndpointName="my_endpoint", Body=b"1")
    assert error["Code"] == "ValidationError"
    assert "at 'endpointName'" in error["Message"]
    # A valid name reaches the endpoint lookup.
    error = refused(runtime.invoke_endpoint, EndpointName="my-endpoint", Body=b"1")
    assert error["Code"] == "ValidationError" and "not found" in error["Message"]


# -- STS (query protocol) -----------------------------------------------------------


def test_sts_answers_validation_error_with_type_sender(simsage_local, monkeypatch):
    # simsage emulates no STS call with constrained input; give it one for the test.
    def assume_role(self, request):
        return {}

    monkeypatch.setattr(STSService, "assume_role", assume_role, raising=False)
    sts = simsage_local.client("sts")
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=ROLE, RoleSessionName="has spaces")
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Type"] == "Sender"
    assert error["Message"] == (
        "1 validation error detected: Value 'has spaces' at 'roleSessionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


# -- S3 -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects", "list_multipart_uploads"])
def test_s3_invalid_encoding_type(s3, operation):
    error = refused(getattr(s3, operation), Bucket=BUCKET, EncodingType="xml")
    assert error == {
        "Code": "InvalidArgument",
        "Message": "Invalid Encoding Method specified in Request",
        "ArgumentName": "encoding-type",
        "ArgumentValue": "xml",
    }


def test_s3_answers_its_own_code_for_each_value(s3):
    error = refused(s3.put_object, Bucket=BUCKET, Key="k2", Body=b"x", StorageClass="COLD")
    assert error == {
        "Code": "InvalidStorageClass",
        "Message": "The storage class you specified is not valid",
        "StorageClassRequested": "COLD",
    }
    error = refused(s3.put_object, Bucket=BUCKET, Key="k2", Body=b"x", ACL="privatee")
    assert (error["Code"], error["ArgumentName"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "x-amz-acl",
        "privatee",
    )
    error = refused(
        s3.copy_object, Bucket=BUCKET, Key="k2", CopySource=f"{BUCKET}/k", MetadataDirective="KEEP"
    )
    assert (error["Code"], error["Message"], error["ArgumentName"]) == (
        "InvalidArgument",
        "Unknown metadata directive.",
        "x-amz-metadata-directive",
    )
    error = refused(s3.put_object, Bucket=BUCKET, Key="k2", Body=b"x", ServerSideEncryption="rot13")
    assert (error["Code"], error["ArgumentName"]) == (
        "InvalidArgument",
        "x-amz-server-side-encryption",
    )
    error = refused(
        s3.create_bucket,
        Bucket="other-bucket",
        CreateBucketConfiguration={"LocationConstraint": "mars-north-1"},
    )
    assert error["Code"] == "InvalidLocationConstraint"
    assert error["LocationConstraint"] == "mars-north-1"
    # Nothing was written by a refused request.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["k"]


def test_s3_valid_values_pass(s3):
    s3.put_object(
        Bucket=BUCKET,
        Key="ünïcode/../key",
        Body=b"x",
        StorageClass="STANDARD_IA",
        ACL="private",
        ServerSideEncryption="AES256",
        RequestPayer="requester",
    )
    listed = s3.list_objects_v2(Bucket=BUCKET, EncodingType="url")
    assert listed["EncodingType"] == "url"
    s3.copy_object(Bucket=BUCKET, Key="copy", CopySource=f"{BUCKET}/k", MetadataDirective="COPY")
