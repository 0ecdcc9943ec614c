"""S3's GetObjectAttributes: boto3's params in, S3's shapes out.

Mixed into :class:`simsage.s3.service.S3Service` (uses its ``backend``). The
``ObjectAttributes`` list decides which members come back; a member is there only if
the object has it (no ``Checksum`` for an object without one, no ``ObjectParts`` for an
object that is not from a multipart upload, and the parts themselves only when S3 kept
their checksums). The ETag comes back without quotes, as S3 sends it here.
"""

from __future__ import annotations

from typing import Any

from simsage.s3 import errors
from simsage.s3.shapes import checksum_members, seconds
from simsage.transport import Request

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


class AttributesOperations:
    """GetObjectAttributes."""

    def get_object_attributes(self, request: Request) -> dict[str, Any]:
        params = request.params
        names = params.get("ObjectAttributes") or []
        if not names:
            raise errors.InvalidRequest(
                "Missing required header for this request: x-amz-object-attributes"
            )
        if any(name not in ATTRIBUTES for name in names):
            raise errors.InvalidArgument(
                "Invalid attribute name specified.", "x-amz-object-attributes", ",".join(names)
            )
        obj = self.backend.get_object(
            params["Bucket"], params["Key"], with_data=False, version=params.get("VersionId")
        )
        out: dict[str, Any] = {"LastModified": seconds(obj.modified), **obj.version_member}
        if "ETag" in names:
            out["ETag"] = obj.etag
        if "Checksum" in names and obj.checksum:
            out["Checksum"] = checksum_members(obj.checksum)
        if "ObjectParts" in names and obj.parts_count is not None:
            out["ObjectParts"] = self._object_parts(params, obj)
        if "StorageClass" in names:
            out["StorageClass"] = obj.storage_class
        if "ObjectSize" in names:
            out["ObjectSize"] = obj.size
        return out

    @staticmethod
    def _object_parts(params: dict[str, Any], obj) -> dict[str, Any]:
        parts: dict[str, Any] = {"TotalPartsCount": obj.parts_count}
        checksum = obj.checksum or {}
        values = checksum.get("parts")
        if values is None:
            return parts  # S3 lists the parts of an object only when it kept their checksums
        marker = params.get("PartNumberMarker") or 0
        max_parts = min(params.get("MaxParts", MAX_PARTS), MAX_PARTS)
        numbers = range(marker + 1, min(obj.parts_count, marker + max_parts) + 1)
        member = f"Checksum{checksum['algorithm']}"
        listed = [
            {"PartNumber": n, "Size": obj.segments[n - 1][1], member: values[n - 1]}
            for n in numbers
        ]
        parts.update(
            {
                "PartNumberMarker": marker,
                "NextPartNumberMarker": listed[-1]["PartNumber"] if listed else marker,
                "MaxParts": max_parts,
                "IsTruncated": marker + max_parts < obj.parts_count,
            }
        )
        if listed:
            parts["Parts"] = listed
        return parts
