"""How S3 answers a request value that breaks a constraint of its model.

S3 does not list validation errors as the JSON services do: it answers one error for
the first bad value, with a code that depends on the value (observed S3 answers):

- ``EncodingType`` (``encoding-type``): ``InvalidArgument``, "Invalid Encoding Method
  specified in Request", with ``ArgumentName``/``ArgumentValue``;
- ``StorageClass``: ``InvalidStorageClass``, "The storage class you specified is not
  valid", with ``StorageClassRequested``;
- ``CreateBucketConfiguration.LocationConstraint``: ``InvalidLocationConstraint``;
- any other header or query-string value (``x-amz-acl``, ``x-amz-server-side-encryption``,
  ``x-amz-metadata-directive`` …): ``InvalidArgument`` naming the header;
- a value inside the XML body: ``MalformedXML`` (the body does not follow S3's schema).

``x-amz-request-payer`` is not checked: S3 acts only on the values it knows
(``requester``) and ignores others. ``x-amz-checksum-mode``, the checksum algorithm and
type headers and ``x-amz-object-attributes`` are checked by the operations themselves, which answer
S3's own messages for them (the whole header value as ``ArgumentValue``).
"""

from __future__ import annotations

from simsage.s3 import errors
from simsage.transport.constraints import InputErrors, Violation

# The messages S3 answers for a bad value of these members.
_MESSAGES = {
    "EncodingType": "Invalid Encoding Method specified in Request",
    "ServerSideEncryption": "The encryption method specified is not supported",
    "MetadataDirective": "Unknown metadata directive.",
    "TaggingDirective": "Unknown tagging directive.",
    "ObjectLockMode": "Unknown wormMode directive.",
    "CopySource": "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
}


class InvalidStorageClass(errors.S3Error):
    code = "InvalidStorageClass"

    def __init__(self, requested: str) -> None:
        super().__init__(
            "The storage class you specified is not valid",
            error_fields={"StorageClassRequested": requested},
        )


class S3InputErrors(InputErrors):
    skip = frozenset(
        {"RequestPayer", "ChecksumMode", "ChecksumAlgorithm", "ChecksumType", "ObjectAttributes"}
    )

    def error(self, violations: list[Violation]) -> errors.S3Error:
        first = violations[0]
        if first.member == "StorageClass":
            return InvalidStorageClass(str(first.value))
        if first.member == "LocationConstraint":
            return errors.InvalidLocationConstraint(str(first.value))
        if first.location in ("header", "querystring", "headers"):
            message = _MESSAGES.get(first.member) or (
                f"Invalid value for {first.wire_name}: {first.constraint[0].lower()}"
                f"{first.constraint[1:]}."
            )
            value = first.value
            value = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            return errors.InvalidArgument(message, first.wire_name, value)
        return errors.MalformedXML(f"{first.path}: {first.constraint}")
