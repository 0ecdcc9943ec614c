"""S3's bucket versioning operations: boto3's params in, S3's shapes out.

Mixed into :class:`simsage.s3.service.S3Service` (uses its ``backend``):
Put/GetBucketVersioning and ListObjectVersions. The per-object side (VersionId on
GET/HEAD/DELETE/COPY, delete markers) is in the object operations themselves; the
store's layout is described in :mod:`simsage.s3.versioning`.
"""

from __future__ import annotations

from typing import Any

from simsage.s3 import errors
from simsage.s3.shapes import owner, seconds, url_encode
from simsage.s3.versioning import ENABLED, SUSPENDED
from simsage.s3.versioning_list import list_versions
from simsage.transport import Request

MAX_KEYS = 1000


class VersioningOperations:
    """PutBucketVersioning, GetBucketVersioning, ListObjectVersions."""

    def put_bucket_versioning(self, request: Request) -> dict[str, Any]:
        params = request.params
        self._bucket(request)
        config = params.get("VersioningConfiguration") or {}
        status = config.get("Status")
        if config.get("MFADelete") == "Enabled":
            # S3 wants the root user's MFA device for it; simsage has none to check.
            raise errors.AccessDenied("Mfa Authentication must be used for this request")
        if config.get("MFADelete") not in (None, "Disabled") or status not in (
            ENABLED,
            SUSPENDED,
        ):
            raise errors.MalformedXML()
        self.backend.set_versioning(params["Bucket"], status)
        return {}

    def get_bucket_versioning(self, request: Request) -> dict[str, Any]:
        self._bucket(request)
        setting = self.backend.get_setting(request.params["Bucket"], "versioning")
        return {} if setting is None else {"Status": setting["Status"]}

    def list_object_versions(self, request: Request) -> dict[str, Any]:
        params = request.params
        self._bucket(request)
        prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
        key_marker = params.get("KeyMarker", "")
        version_marker = params.get("VersionIdMarker", "")
        max_keys = min(params.get("MaxKeys", MAX_KEYS), MAX_KEYS)
        page = list_versions(
            self.backend.db,
            params["Bucket"],
            prefix,
            delimiter,
            key_marker,
            version_marker or None,
            max_keys,
        )
        url = params.get("EncodingType") == "url"

        def enc(value: str) -> str:
            return url_encode(value) if url else value

        out: dict[str, Any] = {
            "IsTruncated": page.truncated,
            "KeyMarker": enc(key_marker),
            "VersionIdMarker": version_marker,
            "Name": params["Bucket"],
            "Prefix": enc(prefix),
            "MaxKeys": max_keys,
        }
        if page.truncated:
            out["NextKeyMarker"] = enc(page.next_key)
            if page.next_version is not None:
                out["NextVersionIdMarker"] = page.next_version
        who = owner(request.account_id)
        versions, markers = [], []
        for v in page.versions:
            item: dict[str, Any] = {
                "Key": enc(v.key),
                "VersionId": "null" if v.version_id is None else v.version_id,
                "IsLatest": v.latest,
                "LastModified": seconds(v.modified),
            }
            if v.marker:
                markers.append({"Owner": who, **item})
                continue
            item.update({"ETag": f'"{v.etag}"', "Size": v.size, "StorageClass": v.storage_class})
            if v.checksum_algorithm:
                item["ChecksumAlgorithm"] = [v.checksum_algorithm]
                item["ChecksumType"] = v.checksum_type
            item["Owner"] = who
            versions.append(item)
        if versions:
            out["Versions"] = versions
        if markers:
            out["DeleteMarkers"] = markers
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": enc(p)} for p in page.prefixes]
        if delimiter:
            out["Delimiter"] = enc(delimiter)
        if "EncodingType" in params:
            out["EncodingType"] = params["EncodingType"]
        return out
