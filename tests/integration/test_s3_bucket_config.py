"""S3's bucket configurations through real boto3 clients: the bucket policy (and Block
Public Access refusing a public one), Block Public Access, Object Ownership and ACLs
(disabled by default, as for any bucket made since 2023), CORS and lifecycle, the
configurations simsage cannot set read as absent, and all of them gone with the
bucket. Each test runs in-process (an activated home) and over HTTP (the S3 endpoint),
one service behind both."""

from __future__ import annotations

import json

import pytest
import s3_endpoint_helpers as helpers
from botocore.exceptions import ClientError

BUCKET = "bkt-config"


@pytest.fixture(params=["in-process", "http"])
def client(request):
    """An S3 client answered in-process, or one of the S3 endpoint over HTTP."""
    if request.param == "in-process":
        yield request.getfixturevalue("simsage_local").client("s3")
        return
    request.getfixturevalue("simsage_home")
    with helpers.serving() as server:
        yield helpers.client(server.url)


@pytest.fixture
def s3(client):
    client.create_bucket(Bucket=BUCKET)
    return client


def _error(call, **params) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    response = info.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def _policy(principal, resource: str = f"arn:aws:s3:::{BUCKET}/*", **extra) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": resource,
        **extra,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_policy_is_kept_as_written_and_deleted(s3):
    assert _error(s3.get_bucket_policy, Bucket=BUCKET)[:2] == ("NoSuchBucketPolicy", 404)
    text = _policy({"AWS": "arn:aws:iam::123456789012:role/Reader"})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=text)
    assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == text
    status = s3.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"]
    assert status == {"IsPublic": False}
    s3.delete_bucket_policy(Bucket=BUCKET)
    assert _error(s3.get_bucket_policy_status, Bucket=BUCKET)[0] == "NoSuchBucketPolicy"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Statement": []}', "Missing required field Statement"),
        (_policy("*", resource="arn:aws:s3:::another-bucket/*"), "Policy has invalid resource"),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            "Missing required field Principal",
        ),
    ],
)
def test_a_malformed_policy_is_refused_with_s3s_reason(s3, policy, message):
    assert _error(s3.put_bucket_policy, Bucket=BUCKET, Policy=policy) == (
        "MalformedPolicy",
        400,
        message,
    )
    assert _error(s3.get_bucket_policy, Bucket=BUCKET)[0] == "NoSuchBucketPolicy"


def test_a_public_policy_needs_block_public_policy_off(s3):
    public = _policy("*")
    code, status, message = _error(s3.put_bucket_policy, Bucket=BUCKET, Policy=public)
    assert (code, status) == ("AccessDenied", 403)
    assert "BlockPublicPolicy" in message
    # A condition narrows who may read: not public, so allowed.
    narrowed = _policy("*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=narrowed)

    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": False},
    )
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"] == {"IsPublic": True}


def test_block_public_access_is_on_by_default_until_deleted(s3):
    config = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert config == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
        True,
    )
    s3.delete_public_access_block(Bucket=BUCKET)
    assert _error(s3.get_public_access_block, Bucket=BUCKET)[:2] == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy("*"))  # nothing blocks it now


def test_acls_are_disabled_and_read_as_the_owners_full_control(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    owner = s3.list_objects_v2(Bucket=BUCKET, FetchOwner=True)["Contents"][0]["Owner"]
    for acl in (
        s3.get_bucket_acl(Bucket=BUCKET),
        s3.get_object_acl(Bucket=BUCKET, Key="k"),
    ):
        assert acl["Owner"] == owner
        assert acl["Grants"] == [
            {"Grantee": {**owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
        ]
    controls = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}

    refused = ("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
    assert _error(s3.put_object, Bucket=BUCKET, Key="p", Body=b"x", ACL="public-read") == refused
    assert _error(s3.put_bucket_acl, Bucket=BUCKET, ACL="public-read") == refused
    assert _error(s3.put_object_acl, Bucket=BUCKET, Key="k", GrantRead="uri=x") == refused
    assert (
        _error(s3.copy_object, Bucket=BUCKET, Key="c", CopySource=f"{BUCKET}/k", ACL="public-read")
        == refused
    )
    assert (
        _error(s3.create_multipart_upload, Bucket=BUCKET, Key="m", ACL="authenticated-read")
        == refused
    )
    s3.put_bucket_acl(Bucket=BUCKET, ACL="private")  # the owner's alone: accepted
    s3.put_object_acl(
        Bucket=BUCKET,
        Key="k",
        AccessControlPolicy={
            "Grants": [
                {
                    "Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"},
                    "Permission": "FULL_CONTROL",
                }
            ],
            "Owner": owner,
        },
    )
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="p")  # nothing was written by a refused put


def test_create_bucket_with_a_public_acl_is_refused_and_ownership_is_kept(client):
    s3 = client
    code, status, message = _error(s3.create_bucket, Bucket="bkt-public", ACL="public-read")
    assert (code, status) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert "BucketOwnerEnforced" in message
    assert _error(s3.head_bucket, Bucket="bkt-public")[1] == 404

    s3.create_bucket(Bucket="bkt-writer", ObjectOwnership="ObjectWriter")
    rules = s3.get_bucket_ownership_controls(Bucket="bkt-writer")["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    s3.delete_bucket_ownership_controls(Bucket="bkt-writer")
    assert _error(s3.get_bucket_ownership_controls, Bucket="bkt-writer")[:2] == (
        "OwnershipControlsNotFoundError",
        404,
    )
    s3.put_bucket_ownership_controls(
        Bucket="bkt-writer",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    assert _error(
        s3.put_bucket_ownership_controls,
        Bucket="bkt-writer",
        OwnershipControls={"Rules": [{"ObjectOwnership": "Anyone"}]},
    )[:2] == ("MalformedXML", 400)


def test_cors_rules_are_checked_kept_and_deleted(s3):
    assert _error(s3.get_bucket_cors, Bucket=BUCKET)[:2] == ("NoSuchCORSConfiguration", 404)
    rules = [
        {
            "ID": "browser-uploads",
            "AllowedHeaders": ["*"],
            "AllowedMethods": ["PUT", "POST"],
            "AllowedOrigins": ["http://localhost:8888"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == rules
    bad = [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]
    assert _error(s3.put_bucket_cors, Bucket=BUCKET, CORSConfiguration={"CORSRules": bad}) == (
        "InvalidRequest",
        400,
        "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
    )
    assert (
        s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == rules
    )  # the refused one changed nothing
    s3.delete_bucket_cors(Bucket=BUCKET)
    assert _error(s3.get_bucket_cors, Bucket=BUCKET)[0] == "NoSuchCORSConfiguration"


def test_lifecycle_rules_are_checked_named_and_kept(s3):
    assert _error(s3.get_bucket_lifecycle_configuration, Bucket=BUCKET)[:2] == (
        "NoSuchLifecycleConfiguration",
        404,
    )
    rules = [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 7}},
        {
            "Filter": {},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]
    answer = s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": rules}
    )
    assert answer["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    kept = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert kept["Rules"][0] == rules[0]
    assert kept["Rules"][1]["ID"] and {**kept["Rules"][1], "ID": None} == {**rules[1], "ID": None}

    twice = [{**rules[0]}, {**rules[0]}]
    assert _error(
        s3.put_bucket_lifecycle_configuration,
        Bucket=BUCKET,
        LifecycleConfiguration={"Rules": twice},
    )[:2] == ("InvalidArgument", 400)
    nothing = [{"ID": "x", "Filter": {}, "Status": "Enabled"}]
    assert _error(
        s3.put_bucket_lifecycle_configuration,
        Bucket=BUCKET,
        LifecycleConfiguration={"Rules": nothing},
    ) == ("InvalidRequest", 400, "At least one action needs to be specified in a rule")
    assert s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"] == kept["Rules"]
    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    assert _error(s3.get_bucket_lifecycle_configuration, Bucket=BUCKET)[0] == (
        "NoSuchLifecycleConfiguration"
    )


def test_what_cannot_be_configured_reads_as_absent(s3):
    assert s3.get_bucket_request_payment(Bucket=BUCKET)["Payer"] == "BucketOwner"
    for call in (
        s3.get_bucket_notification_configuration,
        s3.get_bucket_logging,
        s3.get_bucket_accelerate_configuration,
    ):
        answer = call(Bucket=BUCKET)
        answer.pop("ResponseMetadata")
        assert answer == {}
    for call, code in (
        (s3.get_bucket_website, "NoSuchWebsiteConfiguration"),
        (s3.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
        (s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError"),
    ):
        assert _error(call, Bucket=BUCKET)[:2] == (code, 404)
    assert _error(s3.get_bucket_logging, Bucket="bkt-absent")[:2] == ("NoSuchBucket", 404)


def test_configurations_go_with_their_bucket(s3):
    s3.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
    )
    s3.delete_public_access_block(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy("*"))
    s3.delete_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=BUCKET)
    assert _error(s3.get_bucket_cors, Bucket=BUCKET)[0] == "NoSuchCORSConfiguration"
    assert _error(s3.get_bucket_policy, Bucket=BUCKET)[0] == "NoSuchBucketPolicy"
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]
