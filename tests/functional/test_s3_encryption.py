"""Server-side encryption settings through real boto3 clients: Put/Get/DeleteBucketEncryption
(SSE-S3 by default, as every bucket has since 2023), and the ServerSideEncryption,
SSEKMSKeyId and BucketKeyEnabled each object reports, from the bucket's default or from
the request's own setting."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

BUCKET = "sealed"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def s3(simsage_local):
    client = simsage_local.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def account(simsage_local) -> str:
    return simsage_local.config.account_id


def _error(excinfo) -> dict:
    response = excinfo.value.response
    return {"Status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def _sse(answer: dict) -> dict:
    names = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")
    return {name: answer[name] for name in names if name in answer}


def _kms(key_id: str = KEY_ID, bucket_key: bool = False) -> dict:
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
        "BucketKeyEnabled": bucket_key,
    }
    return {"Rules": [rule]}


def test_every_bucket_has_sse_s3_by_default(s3):
    config = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert config == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": False,
            }
        ]
    }
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert _sse(put) == {"ServerSideEncryption": "AES256"}
    assert _sse(s3.head_object(Bucket=BUCKET, Key="k")) == {"ServerSideEncryption": "AES256"}


def test_a_kms_default_is_stored_echoed_and_applied(s3, account):
    put = s3.put_bucket_encryption(
        Bucket=BUCKET, ServerSideEncryptionConfiguration=_kms(bucket_key=True)
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    config = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert config == _kms(bucket_key=True)

    arn = f"arn:aws:kms:us-east-1:{account}:key/{KEY_ID}"
    expected = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn, "BucketKeyEnabled": True}
    assert _sse(s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")) == expected
    assert _sse(s3.get_object(Bucket=BUCKET, Key="k")) == expected
    assert _sse(s3.head_object(Bucket=BUCKET, Key="k")) == expected
    headers = s3.head_object(Bucket=BUCKET, Key="k")["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == arn

    started = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")
    assert _sse(started) == expected
    part = s3.upload_part(
        Bucket=BUCKET, Key="mp", UploadId=started["UploadId"], PartNumber=1, Body=b"p"
    )
    assert _sse(part) == expected
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert _sse(done) == expected

    # A copy gets the encryption of its destination bucket, not its source's.
    s3.create_bucket(Bucket="plain")
    copy = s3.copy_object(Bucket="plain", Key="c", CopySource=f"{BUCKET}/k")
    assert _sse(copy) == {"ServerSideEncryption": "AES256"}
    copy = s3.copy_object(Bucket=BUCKET, Key="c", CopySource="plain/c")
    assert _sse(copy) == expected


def test_an_uploads_own_setting_wins_over_the_buckets(s3, account):
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=_kms())
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", ServerSideEncryption="AES256")
    assert _sse(put) == {"ServerSideEncryption": "AES256"}
    managed = f"arn:aws:kms:us-east-1:{account}:alias/aws/s3"
    s3.delete_bucket_encryption(Bucket=BUCKET)
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert _sse(put) == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": managed}
    given = "arn:aws:kms:eu-west-1:111122223333:key/k"
    put = s3.put_object(
        Bucket=BUCKET,
        Key="d",
        Body=b"x",
        ServerSideEncryption="aws:kms:dsse",
        SSEKMSKeyId=given,
        BucketKeyEnabled=True,
    )
    # S3 Bucket Keys are not for DSSE-KMS.
    assert _sse(put) == {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": given}
    assert _sse(s3.head_object(Bucket=BUCKET, Key="d")) == _sse(put)


def test_delete_returns_the_bucket_to_the_default(s3):
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=_kms())
    for _ in range(2):
        deleted = s3.delete_bucket_encryption(Bucket=BUCKET)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_the_settings_go_with_the_bucket(s3):
    s3.create_bucket(Bucket="short-lived")
    s3.put_bucket_encryption(Bucket="short-lived", ServerSideEncryptionConfiguration=_kms())
    s3.delete_bucket(Bucket="short-lived")
    s3.create_bucket(Bucket="short-lived")
    rules = s3.get_bucket_encryption(Bucket="short-lived")["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_bucket_encryption_s3_refuses(s3):
    aes_with_key = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "AES256",
                    "KMSMasterKeyID": "k",
                }
            }
        ]
    }
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=aes_with_key)
    error = _error(excinfo)
    assert (error["Code"], error["ArgumentName"]) == (
        "InvalidArgument",
        "ApplyServerSideEncryptionByDefault",
    )
    assert error["Message"] == (
        "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or "
        "aws:kms:dsse"
    )
    for config in ({"Rules": []}, {"Rules": _kms()["Rules"] * 2}):
        with pytest.raises(ClientError) as excinfo:
            s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=config)
        assert _error(excinfo)["Code"] == "MalformedXML"
    for call in (s3.get_bucket_encryption, s3.delete_bucket_encryption):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket="no-such-bucket")
        assert _error(excinfo)["Code"] == "NoSuchBucket"


def test_object_encryption_s3_refuses(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", ServerSideEncryption="AES128")
    error = _error(excinfo)
    assert (error["Code"], error["Message"], error["ArgumentValue"]) == (
        "InvalidArgument",
        "The encryption method specified is not supported",
        "AES128",
    )
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", SSEKMSKeyId=KEY_ID)
    error = _error(excinfo)
    assert (error["Code"], error["ArgumentName"]) == (
        "InvalidArgument",
        "x-amz-server-side-encryption-aws-kms-key-id",
    )
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="k")
