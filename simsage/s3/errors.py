"""S3's error codes, with S3's HTTP statuses and messages."""

from __future__ import annotations

from simsage.errors import AWSError


class S3Error(AWSError):
    """``headers``: HTTP headers S3 sends with this error (``x-amz-delete-marker`` …);
    a transport puts them on the error response as it does a result's header members."""

    status = 400
    sender_fault = True
    headers: dict[str, str] = {}  # noqa: RUF012 (replaced per error, never mutated)


class NoSuchBucket(S3Error):
    code, status = "NoSuchBucket", 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist", error_fields={"BucketName": bucket})


class NoSuchKey(S3Error):
    code, status = "NoSuchKey", 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", error_fields={"Key": key})


class NoSuchVersion(S3Error):
    code, status = "NoSuchVersion", 404

    def __init__(self, key: str, version_id: str) -> None:
        super().__init__(
            "The specified version does not exist.",
            error_fields={"Key": key, "VersionId": version_id},
        )


class MethodNotAllowed(S3Error):
    """A GET/HEAD (or another object operation) of a version that is a delete marker."""

    code, status = "MethodNotAllowed", 405

    def __init__(self, method: str, headers: dict[str, str]) -> None:
        super().__init__(
            "The specified method is not allowed against this resource.",
            error_fields={"Method": method, "ResourceType": "DeleteMarker"},
        )
        self.headers = headers


class NoSuchUpload(S3Error):
    code, status = "NoSuchUpload", 404

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "The specified upload does not exist. The upload ID may be invalid, "
            "or the upload may have been aborted or completed.",
            error_fields={"UploadId": upload_id},
        )


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"

    def __init__(self, bucket: str, why: str) -> None:
        super().__init__(
            f"The specified bucket is not valid: {why}", error_fields={"BucketName": bucket}
        )


class BucketAlreadyOwnedByYou(S3Error):
    code, status = "BucketAlreadyOwnedByYou", 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "Your previous request to create the named bucket succeeded and you already own it.",
            error_fields={"BucketName": bucket},
        )


class BucketAlreadyExists(S3Error):
    code, status = "BucketAlreadyExists", 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "The requested bucket name is not available. The bucket namespace is shared by "
            "all users of the system. Please select a different name and try again.",
            error_fields={"BucketName": bucket},
        )


class BucketNotEmpty(S3Error):
    code, status = "BucketNotEmpty", 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "The bucket you tried to delete is not empty", error_fields={"BucketName": bucket}
        )


class InvalidRange(S3Error):
    code, status = "InvalidRange", 416

    def __init__(self, requested: str, size: int) -> None:
        super().__init__(
            "The requested range is not satisfiable",
            error_fields={"RangeRequested": requested, "ActualObjectSize": str(size)},
        )


class PreconditionFailed(S3Error):
    code, status = "PreconditionFailed", 412

    def __init__(self, condition: str) -> None:
        super().__init__(
            "At least one of the pre-conditions you specified did not hold",
            error_fields={"Condition": condition},
        )


class NotModified(S3Error):
    code, status = "304", 304

    def __init__(self) -> None:
        super().__init__("Not Modified")


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"

    def __init__(self, size: int, minimum: int, part_number: int, etag: str) -> None:
        super().__init__(
            "Your proposed upload is smaller than the minimum allowed object size.",
            error_fields={
                "ProposedSize": str(size),
                "MinSizeAllowed": str(minimum),
                "PartNumber": str(part_number),
                "ETag": etag,
            },
        )


class InvalidPart(S3Error):
    code = "InvalidPart"

    def __init__(self, part_number: int, etag: str, upload_id: str | None = None) -> None:
        fields = {} if upload_id is None else {"UploadId": upload_id}
        fields.update({"PartNumber": str(part_number), "ETag": etag.strip('"')})
        # (S3's message has the two spaces after "found.")
        super().__init__(
            "One or more of the specified parts could not be found.  The part may not have "
            "been uploaded, or the specified entity tag may not match the part's entity tag.",
            error_fields=fields,
        )


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"

    def __init__(self) -> None:
        super().__init__(
            "The list of parts was not in ascending order. "
            "The parts list must be specified in order by part number."
        )


class MalformedXML(S3Error):
    code = "MalformedXML"

    def __init__(self, detail: str = "") -> None:
        message = (
            "The XML you provided was not well-formed or did not validate "
            "against our published schema"
        )
        super().__init__(f"{message} ({detail})" if detail else message)


class InvalidArgument(S3Error):
    code = "InvalidArgument"

    def __init__(self, message: str, name: str, value: object) -> None:
        super().__init__(message, error_fields={"ArgumentName": name, "ArgumentValue": str(value)})


class InvalidRequest(S3Error):
    code = "InvalidRequest"


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"

    def __init__(self, size: int) -> None:
        super().__init__(
            "Your key is too long", error_fields={"MaxSizeAllowed": "1024", "Size": str(size)}
        )


class MetadataTooLarge(S3Error):
    code = "MetadataTooLarge"

    def __init__(self, size: int) -> None:
        super().__init__(
            "Your metadata headers exceed the maximum allowed metadata size",
            error_fields={"MaxSizeAllowed": "2048", "Size": str(size)},
        )


class BadDigest(S3Error):
    code = "BadDigest"

    def __init__(
        self, message: str = "The Content-MD5 you specified did not match what we received."
    ) -> None:
        super().__init__(message)


class InvalidDigest(S3Error):
    code = "InvalidDigest"

    def __init__(self, value: str) -> None:
        super().__init__(
            "The Content-MD5 you specified was invalid.", error_fields={"Content-MD5": value}
        )


class AccessDenied(S3Error):
    code, status = "AccessDenied", 403

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class IllegalLocationConstraint(S3Error):
    code = "IllegalLocationConstraintException"


class InvalidLocationConstraint(S3Error):
    code = "InvalidLocationConstraint"

    def __init__(self, constraint: str) -> None:
        super().__init__(
            "The specified location-constraint is not valid",
            error_fields={"LocationConstraint": constraint},
        )


class BadRequest(S3Error):
    """S3's code for a tag set over its size limit."""

    code = "BadRequest"


class InvalidTag(S3Error):
    code = "InvalidTag"

    def __init__(self, message: str, key: str | None = None, value: str | None = None) -> None:
        fields = {}
        if key is not None:
            fields["TagKey"] = key
        if value is not None:
            fields["TagValue"] = value
        super().__init__(message, error_fields=fields)


class NoSuchTagSet(S3Error):
    code, status = "NoSuchTagSet", 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The TagSet does not exist", error_fields={"BucketName": bucket})


class _NoSuchConfiguration(S3Error):
    """A bucket configuration that was never set (or was deleted): 404 with the bucket."""

    status = 404
    message = ""

    def __init__(self, bucket: str) -> None:
        super().__init__(self.message, error_fields={"BucketName": bucket})


class NoSuchBucketPolicy(_NoSuchConfiguration):
    code, message = "NoSuchBucketPolicy", "The bucket policy does not exist"


class NoSuchCORSConfiguration(_NoSuchConfiguration):
    code, message = "NoSuchCORSConfiguration", "The CORS configuration does not exist"


class NoSuchLifecycleConfiguration(_NoSuchConfiguration):
    code, message = "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"


class NoSuchPublicAccessBlockConfiguration(_NoSuchConfiguration):
    code = "NoSuchPublicAccessBlockConfiguration"
    message = "The public access block configuration was not found"


class OwnershipControlsNotFoundError(_NoSuchConfiguration):
    code, message = "OwnershipControlsNotFoundError", "The bucket ownership controls were not found"


class NoSuchWebsiteConfiguration(_NoSuchConfiguration):
    code = "NoSuchWebsiteConfiguration"
    message = "The specified bucket does not have a website configuration"


class ReplicationConfigurationNotFoundError(_NoSuchConfiguration):
    code = "ReplicationConfigurationNotFoundError"
    message = "The replication configuration was not found"


class ObjectLockConfigurationNotFoundError(_NoSuchConfiguration):
    code = "ObjectLockConfigurationNotFoundError"
    message = "Object Lock configuration does not exist for this bucket"


class MalformedPolicy(S3Error):
    code = "MalformedPolicy"


class AccessControlListNotSupported(S3Error):
    code = "AccessControlListNotSupported"

    def __init__(self) -> None:
        super().__init__("The bucket does not allow ACLs")


class InvalidBucketAclWithObjectOwnership(S3Error):
    code = "InvalidBucketAclWithObjectOwnership"

    def __init__(self) -> None:
        super().__init__(
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        )
