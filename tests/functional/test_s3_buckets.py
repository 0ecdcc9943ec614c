"""S3 bucket operations through real boto3 clients: CreateBucket (name rules, regions,
re-creation), HeadBucket, ListBuckets, DeleteBucket and GetBucketLocation, with S3's
error codes, HTTP statuses and error fields."""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()


def _client(region: str):
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region).client("s3")


@pytest.fixture
def s3(simsage_local):
    return _client("us-east-1")


@pytest.fixture
def s3_eu(simsage_local):
    return _client("eu-west-1")


def _error(excinfo) -> tuple[str, int, dict]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"],
    )


def _eu(name: str) -> dict:
    return {"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}


# -- CreateBucket: names ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "a" * 63,
        "my-bucket.with.dots",
        "0123456789",
        "bucket-1.example",
        "xn-single-dash",  # only "xn--" is reserved
        "ends-with-s3alias-not",
    ],
)
def test_create_bucket_accepts_valid_names(s3, name):
    response = s3.create_bucket(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["Location"] == f"/{name}"
    s3.head_bucket(Bucket=name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "MyBucket",  # uppercase
        "my_bucket",  # underscore
        "-bucket",  # must start with a letter or digit
        "bucket-",  # must end with a letter or digit
        "bucket.",
        ".bucket",
        "my..bucket",  # adjacent periods
        "192.168.5.4",  # formatted as an IP address
        "xn--bucket",  # reserved prefixes
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",  # reserved suffixes
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bucket--table-s3",
    ],
)
def test_create_bucket_rejects_invalid_names(s3, name):
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=name)
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidBucketName", 400)
    assert error["BucketName"] == name
    assert error["Message"].startswith("The specified bucket is not valid")
    assert s3.list_buckets()["Buckets"] == []


@pytest.mark.parametrize("name", ["has space", "slash/name", "bad!char", "a" * 256])
def test_botocore_rejects_some_names_before_simsage(s3, name):
    # botocore validates bucket names client-side against ^[a-zA-Z0-9.\-_]{1,255}$.
    with pytest.raises(ParamValidationError):
        s3.create_bucket(Bucket=name)


# -- CreateBucket: regions ---------------------------------------------------------------


def test_create_bucket_in_us_east_1_without_constraint(s3):
    s3.create_bucket(Bucket="east")
    assert s3.get_bucket_location(Bucket="east")["LocationConstraint"] is None
    assert s3.head_bucket(Bucket="east")["BucketRegion"] == "us-east-1"


def test_create_bucket_in_other_region_records_it(s3_eu, s3):
    response = s3_eu.create_bucket(**_eu("west"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["Location"] == "http://west.s3.amazonaws.com/"
    assert s3_eu.get_bucket_location(Bucket="west")["LocationConstraint"] == "eu-west-1"
    # The region is a property of the bucket, whichever client asks.
    assert s3.get_bucket_location(Bucket="west")["LocationConstraint"] == "eu-west-1"
    head = s3.head_bucket(Bucket="west")
    assert head["BucketRegion"] == "eu-west-1"
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"


def test_create_bucket_outside_us_east_1_needs_a_constraint(s3_eu):
    with pytest.raises(ClientError) as excinfo:
        s3_eu.create_bucket(Bucket="west")
    code, status, error = _error(excinfo)
    assert (code, status) == ("IllegalLocationConstraintException", 400)
    assert "unspecified location constraint is incompatible" in error["Message"]
    assert s3_eu.list_buckets()["Buckets"] == []


def test_create_bucket_constraint_must_match_the_client_region(s3_eu):
    with pytest.raises(ClientError) as excinfo:
        s3_eu.create_bucket(
            Bucket="west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
    code, status, error = _error(excinfo)
    assert (code, status) == ("IllegalLocationConstraintException", 400)
    assert "us-west-2 location constraint is incompatible" in error["Message"]


def test_create_bucket_us_east_1_explicit_constraint_is_invalid(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(
            Bucket="east", CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    code, status, error = _error(excinfo)
    assert (code, status) == ("InvalidLocationConstraint", 400)
    assert error["Message"] == "The specified location-constraint is not valid"


def test_us_east_1_endpoint_creates_bucket_in_constraint_region(s3):
    s3.create_bucket(
        Bucket="via-global", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert s3.get_bucket_location(Bucket="via-global")["LocationConstraint"] == "eu-west-1"


def test_create_existing_bucket_outside_us_east_1_is_already_owned(s3_eu):
    s3_eu.create_bucket(**_eu("mine"))
    with pytest.raises(ClientError) as excinfo:
        s3_eu.create_bucket(**_eu("mine"))
    code, status, error = _error(excinfo)
    assert (code, status) == ("BucketAlreadyOwnedByYou", 409)
    assert error["BucketName"] == "mine"
    assert "already own it" in error["Message"]


def test_recreate_in_us_east_1_succeeds_and_keeps_contents(s3):
    # S3's legacy behaviour in us-east-1: re-creating a bucket you own answers 200.
    s3.create_bucket(Bucket="legacy")
    s3.put_object(Bucket="legacy", Key="k", Body=b"kept")
    created = s3.list_buckets()["Buckets"][0]["CreationDate"]
    response = s3.create_bucket(Bucket="legacy")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket="legacy", Key="k")["Body"].read() == b"kept"
    buckets = s3.list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["legacy"]
    assert buckets[0]["CreationDate"] == created


def test_recreate_in_us_east_1_of_a_bucket_elsewhere_is_already_owned(s3):
    s3.create_bucket(
        Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket="elsewhere")
    assert _error(excinfo)[:2] == ("BucketAlreadyOwnedByYou", 409)


# -- HeadBucket --------------------------------------------------------------------------


def test_head_bucket_answers_region(s3):
    s3.create_bucket(Bucket="there")
    response = s3.head_bucket(Bucket="there")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["BucketRegion"] == "us-east-1"


def test_head_missing_bucket_is_bare_404(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="missing")
    code, status, error = _error(excinfo)
    # A HEAD response has no body: boto3 only sees the status line.
    assert (code, status) == ("404", 404)
    assert error["Message"] == "Not Found"


def test_head_bucket_with_wrong_expected_owner_is_403(s3, simsage_local):
    s3.create_bucket(Bucket="owned")
    s3.head_bucket(Bucket="owned", ExpectedBucketOwner=simsage_local.config.account_id)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="owned", ExpectedBucketOwner="999999999999")
    assert _error(excinfo)[:2] == ("403", 403)


def test_bucket_exists_waiter(s3):
    s3.create_bucket(Bucket="waited")
    s3.get_waiter("bucket_exists").wait(Bucket="waited", WaiterConfig={"Delay": 0})
    s3.delete_bucket(Bucket="waited")
    s3.get_waiter("bucket_not_exists").wait(Bucket="waited", WaiterConfig={"Delay": 0})


# -- ListBuckets -------------------------------------------------------------------------


def test_list_buckets_sorted_with_owner_and_dates(s3, s3_eu):
    for name in ["zeta", "alpha", "mid"]:
        s3.create_bucket(Bucket=name)
    s3_eu.create_bucket(**_eu("eu-bucket"))
    response = s3.list_buckets()
    assert [b["Name"] for b in response["Buckets"]] == ["alpha", "eu-bucket", "mid", "zeta"]
    regions = {b["Name"]: b["BucketRegion"] for b in response["Buckets"]}
    assert regions == {
        "alpha": "us-east-1",
        "eu-bucket": "eu-west-1",
        "mid": "us-east-1",
        "zeta": "us-east-1",
    }
    assert all(b["CreationDate"].tzinfo is not None for b in response["Buckets"])
    assert response["Owner"]["ID"]
    assert "ContinuationToken" not in response


def test_list_buckets_empty(s3):
    response = s3.list_buckets()
    assert response["Buckets"] == []
    assert response["Owner"]["ID"]


def test_list_buckets_prefix(s3):
    for name in ["data-raw", "data-clean", "logs", "dat"]:
        s3.create_bucket(Bucket=name)
    response = s3.list_buckets(Prefix="data-")
    assert [b["Name"] for b in response["Buckets"]] == ["data-clean", "data-raw"]
    assert response["Prefix"] == "data-"


def test_list_buckets_by_region(s3, s3_eu):
    s3.create_bucket(Bucket="in-east")
    s3_eu.create_bucket(**_eu("in-west"))
    response = s3.list_buckets(BucketRegion="eu-west-1")
    assert [b["Name"] for b in response["Buckets"]] == ["in-west"]


def test_list_buckets_max_buckets_and_continuation(s3):
    names = [f"bucket-{i:02d}" for i in range(7)]
    for name in reversed(names):
        s3.create_bucket(Bucket=name)
    seen, token, pages = [], None, 0
    while pages < 10:  # bounded: a paging bug must fail, not hang
        kwargs = {"MaxBuckets": 3}
        if token:
            kwargs["ContinuationToken"] = token
        response = s3.list_buckets(**kwargs)
        pages += 1
        seen += [b["Name"] for b in response["Buckets"]]
        token = response.get("ContinuationToken")
        if not token:
            break
    assert seen == names
    assert pages == 3


def test_list_buckets_paginator(s3):
    names = [f"p-{i}" for i in range(5)]
    for name in names:
        s3.create_bucket(Bucket=name)
    pages = list(s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["Buckets"]) for p in pages] == [2, 2, 1]
    assert [b["Name"] for p in pages for b in p["Buckets"]] == names


# -- DeleteBucket ------------------------------------------------------------------------


def test_delete_bucket(s3):
    s3.create_bucket(Bucket="gone")
    response = s3.delete_bucket(Bucket="gone")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="gone")
    assert _error(excinfo)[:2] == ("404", 404)


def test_delete_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket="never")
    code, status, error = _error(excinfo)
    assert (code, status) == ("NoSuchBucket", 404)
    assert error["BucketName"] == "never"
    assert error["Message"] == "The specified bucket does not exist"


def test_delete_non_empty_bucket(s3):
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="a/b", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket="full")
    code, status, error = _error(excinfo)
    assert (code, status) == ("BucketNotEmpty", 409)
    assert error["BucketName"] == "full"
    assert s3.get_object(Bucket="full", Key="a/b")["Body"].read() == b"x"
    s3.delete_object(Bucket="full", Key="a/b")
    s3.delete_bucket(Bucket="full")
    assert s3.list_buckets()["Buckets"] == []


def test_delete_bucket_with_only_pending_upload_succeeds(s3):
    # An in-progress multipart upload is not an object: the bucket is empty.
    s3.create_bucket(Bucket="pending")
    s3.create_multipart_upload(Bucket="pending", Key="big")
    s3.delete_bucket(Bucket="pending")
    assert s3.list_buckets()["Buckets"] == []
    # The uploads went with the bucket: a new bucket of that name starts clean.
    s3.create_bucket(Bucket="pending")
    assert s3.list_multipart_uploads(Bucket="pending").get("Uploads", []) == []


def test_deleted_bucket_name_can_be_reused_in_another_region(s3, s3_eu):
    s3.create_bucket(Bucket="moving")
    s3.delete_bucket(Bucket="moving")
    s3_eu.create_bucket(**_eu("moving"))
    assert s3.get_bucket_location(Bucket="moving")["LocationConstraint"] == "eu-west-1"


# -- GetBucketLocation ---------------------------------------------------------------------


def test_get_location_of_missing_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_location(Bucket="nowhere")
    assert _error(excinfo)[:2] == ("NoSuchBucket", 404)


# -- operations simsage does not emulate ----------------------------------------------------


def test_unemulated_s3_operation_names_itself(s3):
    s3.create_bucket(Bucket="website")
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_website(
            Bucket="website", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        )
    code, status, error = _error(excinfo)
    assert code == "NotImplemented"
    assert status == 501
    assert "PutBucketWebsite" in error["Message"]
    assert "simsage" in error["Message"]
    assert "Traceback" not in error["Message"]
