"""S3's tagging operations for objects and buckets: boto3's params in, S3's shapes out.

Mixed into :class:`simsage.s3.service.S3Service` (uses its ``backend``). An object's
tags live with its version's row (changing them changes neither its ETag nor its LastModified);
a bucket's are one of its settings, removed with the bucket.
"""

from __future__ import annotations

from typing import Any

from simsage.s3 import errors, tagging
from simsage.transport import Request


class TaggingOperations:
    """Put/Get/DeleteObjectTagging and Put/Get/DeleteBucketTagging."""

    def put_object_tagging(self, request: Request) -> dict[str, Any]:
        params = request.params
        tags = tagging.from_tag_set(params["Tagging"].get("TagSet") or [])
        tagging.check_tags(tags, tagging.MAX_OBJECT_TAGS, "object")
        obj = self.backend.set_object_tags(
            params["Bucket"], params["Key"], tags, params.get("VersionId")
        )
        return obj.version_member

    def get_object_tagging(self, request: Request) -> dict[str, Any]:
        params = request.params
        obj = self.backend.get_object(
            params["Bucket"], params["Key"], with_data=False, version=params.get("VersionId")
        )
        return {**obj.version_member, "TagSet": tagging.to_tag_set(obj.tags)}

    def delete_object_tagging(self, request: Request) -> dict[str, Any]:
        params = request.params
        obj = self.backend.set_object_tags(
            params["Bucket"], params["Key"], [], params.get("VersionId")
        )
        request.status = 204
        return obj.version_member

    def put_bucket_tagging(self, request: Request) -> dict[str, Any]:
        params = request.params
        self.backend.get_bucket(params["Bucket"])  # S3 checks the bucket first
        tags = tagging.from_tag_set(params["Tagging"].get("TagSet") or [])
        tagging.check_tags(tags, tagging.MAX_BUCKET_TAGS, "bucket")
        self.backend.put_setting(params["Bucket"], "tagging", tags or None)
        request.status = 204
        return {}

    def get_bucket_tagging(self, request: Request) -> dict[str, Any]:
        bucket = request.params["Bucket"]
        tags = self.backend.get_setting(bucket, "tagging")
        if not tags:
            raise errors.NoSuchTagSet(bucket)
        return {"TagSet": tagging.to_tag_set(tags)}

    def delete_bucket_tagging(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "tagging", None)
        request.status = 204
        return {}
