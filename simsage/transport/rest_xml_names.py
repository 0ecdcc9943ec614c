"""The root element names of S3's response documents.

botocore's model keeps the XML names of members and of request payloads, but not the
name of an output structure's root element (S3's Smithy model has it as ``@xmlName`` on
the output shape; botocore's JSON drops it, since its parser never reads the root name).
Other clients do read it (the Go SDK and many hand-written clients unmarshal
``ListBucketResult`` by name), so the names S3 writes are kept here, from the S3 API
reference. Documents that are a payload member (CopyObjectResult, Tagging in requests,
ServerSideEncryptionConfiguration …) take their name from the model and are not listed.
"""

from __future__ import annotations

from botocore.model import OperationModel

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

# Output shapes whose members form the document (no payload member), by operation.
_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "DeleteObjects": "DeleteResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "GetObjectTagging": "Tagging",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketReplication": "ReplicationConfiguration",
    "GetObjectRetention": "Retention",
    "GetObjectLegalHold": "LegalHold",
    "GetObjectLockConfiguration": "ObjectLockConfiguration",
    "GetBucketOwnershipControls": "OwnershipControls",
    "GetPublicAccessBlock": "PublicAccessBlockConfiguration",
    "GetBucketPolicyStatus": "PolicyStatus",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
}

# Documents whose root element is the single member itself, its value as text.
_BARE = frozenset({"GetBucketLocation"})


def root_name(op: OperationModel) -> str:
    """The root element of ``op``'s response document (for an operation not listed, the
    model's name if it has one, else ``<Operation>Result`` as most S3 documents go)."""
    shape = op.output_shape
    if op.name in _ROOTS:
        return _ROOTS[op.name]
    if shape is not None and "name" in shape.serialization:
        return shape.serialization["name"]
    return f"{op.name}Result"


def bare_document(operation: str) -> bool:
    """Whether the document is its one member's element alone (GetBucketLocation)."""
    return operation in _BARE
