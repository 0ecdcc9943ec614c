"""Server-side encryption settings: a bucket's default (PutBucketEncryption) and the
encryption each object is stored with, as S3 reports them.

Pure functions. Since January 2023 every bucket encrypts new objects with SSE-S3
(``AES256``) unless configured otherwise, and that default cannot be switched off; an
upload's own ``ServerSideEncryption`` takes precedence over the bucket's. simsage keeps
the bytes as they are: what it stores and echoes is the setting, as S3 answers it.

An object's setting is a dict ``{"algorithm", "kms_key_id"?, "bucket_key"?}``.
"""

from __future__ import annotations

from typing import Any

from simsage.s3 import errors

SSE_S3 = "AES256"
KMS = ("aws:kms", "aws:kms:dsse")
ALGORITHMS = (SSE_S3, *KMS)
DEFAULT_RULE: dict[str, Any] = {
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_S3},
    "BucketKeyEnabled": False,
}


def check_configuration(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules of a PutBucketEncryption request, as they are stored and echoed.

    Raises:
        MalformedXML: no rule, several rules, or an algorithm S3 does not take.
        InvalidArgument: a KMS key with SSE-S3.
    """
    rules = configuration.get("Rules") or []
    if len(rules) != 1:
        raise errors.MalformedXML("a server-side encryption configuration has exactly one Rule")
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault")
    if default is not None:
        algorithm = default.get("SSEAlgorithm")
        if algorithm not in ALGORITHMS:
            raise errors.MalformedXML(f"SSEAlgorithm must be one of {', '.join(ALGORITHMS)}")
        if default.get("KMSMasterKeyID") is not None and algorithm not in KMS:
            raise errors.InvalidArgument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not "
                "aws:kms or aws:kms:dsse",
                "ApplyServerSideEncryptionByDefault",
                default["KMSMasterKeyID"],
            )
    stored = {
        "ApplyServerSideEncryptionByDefault": dict(
            default or DEFAULT_RULE["ApplyServerSideEncryptionByDefault"]
        )
    }
    stored["BucketKeyEnabled"] = bool(rule.get("BucketKeyEnabled", False))
    if rule.get("BlockedEncryptionTypes") is not None:
        stored["BlockedEncryptionTypes"] = rule["BlockedEncryptionTypes"]
    return [stored]


def kms_key_arn(key_id: str | None, region: str, account_id: str) -> str:
    """The ARN S3 reports for a KMS key given as an id, an alias, an ARN or not at all
    (then the AWS managed key ``aws/s3`` of the account)."""
    if not key_id:
        return f"arn:aws:kms:{region}:{account_id}:alias/aws/s3"
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account_id}:{key_id}"
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def check_request(params: dict[str, Any]) -> None:
    """Raise what S3 answers for an upload's or a copy's encryption params.

    Raises:
        InvalidArgument: an algorithm S3 does not have, or a KMS key without aws:kms.
    """
    requested = params.get("ServerSideEncryption")
    if requested is not None and requested not in ALGORITHMS:
        raise errors.InvalidArgument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            requested,
        )
    key_id = params.get("SSEKMSKeyId")
    if key_id is not None and requested not in KMS:
        raise errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id",
            key_id,
        )


def for_object(
    params: dict[str, Any], bucket_rules: list[dict[str, Any]] | None, region: str, account_id: str
) -> dict[str, Any]:
    """The encryption an upload or a copy gets: its own ``ServerSideEncryption`` (with
    ``SSEKMSKeyId`` and ``BucketKeyEnabled``), else the bucket's default.

    Raises:
        InvalidArgument: as :func:`check_request`.
    """
    check_request(params)
    requested = params.get("ServerSideEncryption")
    key_id = params.get("SSEKMSKeyId")
    rule = (bucket_rules or [DEFAULT_RULE])[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    if requested is None:
        algorithm = default.get("SSEAlgorithm", SSE_S3)
        key_id = default.get("KMSMasterKeyID")
    else:
        algorithm = requested
    setting: dict[str, Any] = {"algorithm": algorithm}
    if algorithm in KMS:
        setting["kms_key_id"] = kms_key_arn(key_id, region, account_id)
        bucket_key = params.get("BucketKeyEnabled")
        if bucket_key is None:
            bucket_key = bool(rule.get("BucketKeyEnabled", False))
        # S3 Bucket Keys are for SSE-KMS only, not for DSSE-KMS or SSE-S3.
        if bucket_key and algorithm == "aws:kms":
            setting["bucket_key"] = True
    return setting


def members(setting: dict[str, Any] | None) -> dict[str, Any]:
    """The output members an object's encryption gives (objects stored before simsage
    kept the setting are SSE-S3, as S3 has made every object since 2023)."""
    setting = setting or {"algorithm": SSE_S3}
    out: dict[str, Any] = {"ServerSideEncryption": setting["algorithm"]}
    if setting.get("kms_key_id"):
        out["SSEKMSKeyId"] = setting["kms_key_id"]
    if setting.get("bucket_key"):
        out["BucketKeyEnabled"] = True
    return out
