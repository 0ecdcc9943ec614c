"""S3 requests to backend calls and back: boto3's params in, S3's output shapes out.

One method per S3 operation (named as botocore names them, snake_case). Methods read
the caller's params, call :class:`~simsage.s3.backend.S3Backend` and build exactly the
members botocore's parser would produce from a real S3 response. This module answers
buckets, objects and listings; multipart uploads, tags, bucket encryption and
GetObjectAttributes, bucket versioning and ListObjectVersions, and the bucket
configurations (policy, Block Public Access, Object Ownership and ACLs, CORS, lifecycle)
are in the ``*_api`` modules mixed into :class:`S3Service`. Object operations take
``VersionId`` and answer it as S3 does (only for a bucket with a versioning status; see
:mod:`simsage.s3.versioning`).
"""

from __future__ import annotations

from typing import Any

from simsage.ids import from_epoch
from simsage.s3 import checksums, encryption, errors, tagging
from simsage.s3.attributes_api import AttributesOperations
from simsage.s3.backend import S3Backend, StoredObject
from simsage.s3.body import ObjectBody
from simsage.s3.bucket_config_api import BucketConfigOperations
from simsage.s3.encryption_api import EncryptionOperations
from simsage.s3.input_errors import S3InputErrors
from simsage.s3.multipart_api import MultipartOperations
from simsage.s3.names import (
    check_bucket_name,
    check_key,
    etag_matches,
    parse_copy_source,
    parse_range,
    quote_etag,
)
from simsage.s3.shapes import SYSTEM_ATTRS as _SYSTEM_ATTRS
from simsage.s3.shapes import checksum_members, metadata_attrs, upload_attrs
from simsage.s3.shapes import decode_token as _decode_token
from simsage.s3.shapes import encode_token as _encode_token
from simsage.s3.shapes import owner as _owner
from simsage.s3.shapes import seconds as _seconds
from simsage.s3.shapes import timestamp as _timestamp
from simsage.s3.shapes import url_encode as _url_encode
from simsage.s3.tagging_api import TaggingOperations
from simsage.s3.versioning import NULL
from simsage.s3.versioning_api import VersioningOperations
from simsage.transport import Request
from simsage.transport.handler import http_date

MAX_DELETE_KEYS = 1000
LEGACY_REGION = "us-east-1"
_DIRECTIVES = ("COPY", "REPLACE")

_CONDITIONS = ("IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince")
# GetObject's Response* params override what the answer says.
_RESPONSE_OVERRIDES = {
    "ResponseContentType": "ContentType",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseCacheControl": "CacheControl",
    "ResponseExpires": "Expires",
}


def _url_encoded(request: Request) -> bool:
    return request.params.get("EncodingType") == "url"


class S3Service(
    MultipartOperations,
    TaggingOperations,
    EncryptionOperations,
    AttributesOperations,
    VersioningOperations,
    BucketConfigOperations,
):
    """Answers S3 operations for one home."""

    CHECK_INPUT = S3InputErrors()

    def __init__(self, home) -> None:
        self.backend = S3Backend(home)

    # -- helpers -------------------------------------------------------------------

    def _bucket(self, request: Request):
        bucket = self.backend.get_bucket(request.params["Bucket"])
        expected = request.params.get("ExpectedBucketOwner")
        if expected is not None and expected != bucket.owner:
            raise errors.AccessDenied()
        return bucket

    def _upload_attrs(self, request: Request) -> dict[str, Any]:
        """Metadata, encryption (the request's, else the bucket's default) and tags."""
        rules = None
        if request.params.get("ServerSideEncryption") is None:
            rules = self.backend.get_setting(request.params["Bucket"], "encryption")
        return upload_attrs(request, rules)

    def _object_headers(self, request: Request, obj: StoredObject) -> dict[str, Any]:
        """The members GetObject/HeadObject answer for ``obj`` (whole object)."""
        out: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "LastModified": _seconds(obj.modified),
            "ContentLength": obj.size,
            "ETag": quote_etag(obj.etag),
            **encryption.members(obj.attrs.get("sse")),
            "Metadata": dict(obj.attrs.get("metadata", {})),
            **obj.version_member,
        }
        if obj.tags:
            out["TagCount"] = len(obj.tags)
        for member, name in _SYSTEM_ATTRS.items():
            value = obj.attrs.get(name)
            if value is not None:
                out[member] = from_epoch(value) if member == "Expires" else value
        if obj.storage_class != "STANDARD":
            out["StorageClass"] = obj.storage_class
        params = request.params
        for param, member in _RESPONSE_OVERRIDES.items():
            if params.get(param) is not None:
                value = params[param]
                out[member] = _timestamp(value) if member == "Expires" else value
        if "Expires" in out:
            # botocore adds the raw header as the synthetic member ExpiresString.
            out["ExpiresString"] = http_date(out["Expires"])
        return out

    @staticmethod
    def _check_conditions(
        params: dict[str, Any], obj: StoredObject, copy_source: bool = False
    ) -> None:
        """If-Match / If-Unmodified-Since → 412; If-None-Match / If-Modified-Since → 304.

        With ``copy_source`` the params are the x-amz-copy-source-if-* conditions of a
        copy, where every failure is a 412 naming that header.
        """

        if not any(params.get(name) is not None for name in _CONDITIONS):
            return

        def failed(header: str, not_modified: bool = False) -> errors.S3Error:
            if copy_source:
                return errors.PreconditionFailed(f"x-amz-copy-source-{header}")
            return errors.NotModified() if not_modified else errors.PreconditionFailed(header)

        modified = _seconds(obj.modified)
        unmodified_since, modified_since = (
            None if params.get(name) is None else _timestamp(params[name])
            for name in ("IfUnmodifiedSince", "IfModifiedSince")
        )
        if_match = params.get("IfMatch")
        if if_match is not None and not etag_matches(if_match, obj.etag):
            raise failed("If-Match")
        if if_match is None and unmodified_since is not None and modified > unmodified_since:
            raise failed("If-Unmodified-Since")
        if_none_match = params.get("IfNoneMatch")
        if if_none_match is not None and etag_matches(if_none_match, obj.etag):
            raise failed("If-None-Match", not_modified=True)
        if if_none_match is None and modified_since is not None and modified <= modified_since:
            raise failed("If-Modified-Since", not_modified=True)

    @staticmethod
    def _span(request: Request, obj: StoredObject, out: dict[str, Any]) -> tuple[int, int] | None:
        """Resolve Range / PartNumber into an inclusive byte span, updating the answer."""
        params = request.params
        part_number = params.get("PartNumber")
        span = None
        if part_number is not None:
            span = obj.part_range(part_number)
            if span is None:
                err = errors.S3Error(
                    "The requested partnumber is not satisfiable",
                    error_fields={
                        "PartNumberRequested": str(part_number),
                        "ActualPartCount": str(obj.parts_count or 1),
                    },
                )
                err.code, err.status = "InvalidPartNumber", 416
                raise err
            if obj.parts_count is not None:
                out["PartsCount"] = obj.parts_count
        elif params.get("Range"):
            span = parse_range(params["Range"], obj.size)
        if span is not None:
            start, end = span
            request.status = 206
            out["ContentLength"] = end - start + 1 if obj.size else 0
            out["ContentRange"] = f"bytes {start}-{end}/{obj.size}"
        return span

    @staticmethod
    def _checksum_answer(request: Request, obj: StoredObject, span, out: dict[str, Any]) -> None:
        """With ``ChecksumMode=ENABLED``: the stored checksum of what is read, if S3 has
        one for it (the whole object, a range covering all of it, or a part of a
        multipart object whose part checksums S3 kept; a partial range has none)."""
        if request.params.get("ChecksumMode") is None:
            return
        part = request.params.get("PartNumber")
        if part is not None and obj.parts_count is not None:
            out.update(checksum_members(obj.checksum, part))
        elif span is None or span == (0, obj.size - 1):
            out.update(checksum_members(obj.checksum))

    @staticmethod
    def _check_checksum_mode(params: dict[str, Any]) -> None:
        mode = params.get("ChecksumMode")
        if mode is not None and mode.upper() != "ENABLED":
            raise errors.InvalidRequest("Value for x-amz-checksum-mode header is invalid.")

    # -- buckets -------------------------------------------------------------------

    def create_bucket(self, request: Request) -> dict[str, Any]:
        name = request.params["Bucket"]
        check_bucket_name(name)
        constraint = (request.params.get("CreateBucketConfiguration") or {}).get(
            "LocationConstraint"
        )
        region = request.region
        if region == LEGACY_REGION:
            if constraint == LEGACY_REGION:
                raise errors.InvalidLocationConstraint(constraint)
        elif not constraint:
            raise errors.IllegalLocationConstraint(
                "The unspecified location constraint is incompatible for the region "
                "specific endpoint this request was sent to."
            )
        elif constraint != region:
            raise errors.IllegalLocationConstraint(
                f"The {constraint} location constraint is incompatible for the region "
                "specific endpoint this request was sent to."
            )
        ownership = self._check_new_bucket_acl(request)
        bucket, existed = self.backend.create_bucket(
            name, constraint or LEGACY_REGION, request.account_id
        )
        # In us-east-1, re-creating a bucket you own succeeds (S3's legacy behaviour).
        if existed and not (region == LEGACY_REGION and bucket.region == LEGACY_REGION):
            raise errors.BucketAlreadyOwnedByYou(name)
        if not existed:
            self._keep_new_bucket_ownership(name, ownership)
        if bucket.region == LEGACY_REGION:
            return {"Location": f"/{name}"}
        return {"Location": f"http://{name}.s3.amazonaws.com/"}

    def head_bucket(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request)
        request.headers["x-amz-bucket-region"] = bucket.region
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    def get_bucket_location(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request)
        return {"LocationConstraint": None if bucket.region == LEGACY_REGION else bucket.region}

    def list_buckets(self, request: Request) -> dict[str, Any]:
        params = request.params
        prefix, region = params.get("Prefix", ""), params.get("BucketRegion")
        buckets = [
            b
            for b in self.backend.list_buckets()
            if b.name.startswith(prefix) and (region is None or b.region == region)
        ]
        if params.get("ContinuationToken"):
            after = _decode_token(params["ContinuationToken"], "continuation token")
            buckets = [b for b in buckets if b.name > after]
        out: dict[str, Any] = {}
        limit = params.get("MaxBuckets")
        if limit is not None and len(buckets) > limit:
            buckets = buckets[:limit]
            out["ContinuationToken"] = _encode_token(buckets[-1].name)
        out["Buckets"] = [
            {"Name": b.name, "CreationDate": _seconds(b.created), "BucketRegion": b.region}
            for b in buckets
        ]
        out["Owner"] = _owner(request.account_id)
        if "Prefix" in params:
            out["Prefix"] = prefix
        return out

    def delete_bucket(self, request: Request) -> dict[str, Any]:
        self._bucket(request)
        self.backend.delete_bucket(request.params["Bucket"])
        request.status = 204
        return {}

    # -- objects -------------------------------------------------------------------

    def put_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        check_key(params["Key"])
        self._check_upload_acl(request)
        wanted = checksums.requested(params, request.checksum_algorithm)
        attrs = upload_attrs(request, with_encryption=False)

        def encryption_of(bucket_rules):
            # Resolved in the commit's transaction, which reads the bucket's default
            # with the bucket row: no query of its own on the path of small PUTs.
            return encryption.for_object(params, bucket_rules, request.region, request.account_id)

        obj = self.backend.put_object(
            params["Bucket"],
            params["Key"],
            params.get("Body"),
            attrs,
            storage_class=params.get("StorageClass", "STANDARD"),
            content_md5=params.get("ContentMD5"),
            if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"),
            checksum=wanted.algorithm or checksums.DEFAULT,
            expected_checksum=wanted.value,
            encryption=encryption_of,
        )
        return {
            "ETag": quote_etag(obj.etag),
            **checksum_members(obj.checksum),
            **encryption.members(obj.attrs.get("sse")),
            **obj.version_member,
        }

    @staticmethod
    def _check_read_request(params: dict[str, Any]) -> None:
        S3Service._check_checksum_mode(params)
        if params.get("PartNumber") is not None and params.get("Range"):
            raise errors.InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter"
            )

    def get_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        self._check_read_request(params)
        out: dict[str, Any] = {}

        def plan(obj: StoredObject):
            self._check_conditions(params, obj)
            out.clear()
            out.update(self._object_headers(request, obj))
            span = self._span(request, obj, out)
            self._checksum_answer(request, obj, span, out)
            return span

        obj, (start, end), stream = self.backend.read_object(
            params["Bucket"], params["Key"], plan, version=params.get("VersionId")
        )
        out["Body"] = ObjectBody(stream, end - start)
        return out

    def head_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        self._check_read_request(params)
        obj = self.backend.get_object(
            params["Bucket"], params["Key"], with_data=False, version=params.get("VersionId")
        )
        self._check_conditions(params, obj)
        out = self._object_headers(request, obj)
        self._checksum_answer(request, obj, self._span(request, obj, out), out)
        return out

    def delete_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        version = params.get("VersionId")
        (done,) = self.backend.delete_versions(params["Bucket"], [(params["Key"], version)])
        request.status = 204
        out: dict[str, Any] = {}
        if done.marker:
            out["DeleteMarker"] = True
        if done.versioned:
            out["VersionId"] = NULL if done.version_id is None else done.version_id
        return out

    def delete_objects(self, request: Request) -> dict[str, Any]:
        delete = request.params["Delete"]
        objects = delete["Objects"]
        if not 1 <= len(objects) <= MAX_DELETE_KEYS:
            raise errors.MalformedXML(f"between 1 and {MAX_DELETE_KEYS} keys per request")
        items = [(o["Key"], o.get("VersionId") or None) for o in objects]
        results = self.backend.delete_versions(request.params["Bucket"], items)
        out: dict[str, Any] = {}
        if not delete.get("Quiet"):
            deleted = []
            for (_, version), done in zip(items, results, strict=True):
                entry: dict[str, Any] = {"Key": done.key}
                shown = NULL if done.version_id is None else done.version_id
                if version is not None:
                    entry["VersionId"] = version
                if done.marker:
                    entry["DeleteMarker"] = True
                    entry["DeleteMarkerVersionId"] = shown
                deleted.append(entry)
            out["Deleted"] = deleted
        return out

    def copy_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        check_key(params["Key"])
        self._check_upload_acl(request)
        directive = params.get("MetadataDirective", "COPY")
        tag_directive = params.get("TaggingDirective", "COPY")
        for name, value, header in (
            ("metadata", directive, "x-amz-metadata-directive"),
            ("tagging", tag_directive, "x-amz-tagging-directive"),
        ):
            if value not in _DIRECTIVES:
                raise errors.InvalidArgument(f"Unknown {name} directive.", header, value)
        source = self._copy_source(params)
        storage_class = params.get("StorageClass", "STANDARD")
        # Copying a named version onto its own key is how S3 restores it: no change needed.
        same_place = (source.bucket, source.key) == (params["Bucket"], params["Key"]) and (
            parse_copy_source(params["CopySource"])[2] is None
        )
        changes = directive == "REPLACE" or storage_class != source.storage_class
        changes = changes or any(
            params.get(name) is not None
            for name in ("WebsiteRedirectLocation", "ServerSideEncryption", "ChecksumAlgorithm")
        )
        if same_place and not changes:
            raise errors.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to "
                "itself without changing the object's metadata, storage class, website "
                "redirect location or encryption attributes."
            )
        checksum = params.get("ChecksumAlgorithm")
        if checksum is not None:
            checksum = checksums.multipart_choice(checksum, None)[0]
        if directive == "REPLACE":
            attrs = metadata_attrs(params)
        else:
            attrs = dict(source.attrs)
            # The redirect location of a copy is the request's, never the source's.
            attrs.pop("website_redirect_location", None)
            if params.get("WebsiteRedirectLocation") is not None:
                attrs["website_redirect_location"] = params["WebsiteRedirectLocation"]
        attrs.pop("tags", None)
        if tag_directive == "COPY":
            tags = source.tags
        else:
            tags = tagging.parse_header(params["Tagging"]) if params.get("Tagging") else []
        if tags:
            attrs["tags"] = tags
        rules = None
        if params.get("ServerSideEncryption") is None:
            rules = self.backend.get_setting(params["Bucket"], "encryption")
        attrs["sse"] = encryption.for_object(params, rules, request.region, request.account_id)
        for _ in range(3):
            try:
                obj = self.backend.copy_object(
                    source, params["Bucket"], params["Key"], attrs, storage_class, checksum
                )
                break
            except FileNotFoundError:  # the source was overwritten meanwhile: read it again
                source = self._copy_source(params)
        else:
            raise errors.InvalidRequest("The copy source kept changing; retry the copy.")
        return {
            "CopyObjectResult": {
                "ETag": quote_etag(obj.etag),
                "LastModified": _seconds(obj.modified),
                **checksum_members(obj.checksum),
            },
            **encryption.members(obj.attrs.get("sse")),
            **obj.version_member,
            **self.source_version(source),
        }

    @staticmethod
    def source_version(source: StoredObject) -> dict[str, str]:
        """``CopySourceVersionId`` as S3 answers it (a source in a versioned bucket)."""
        member = source.version_member
        return {"CopySourceVersionId": member["VersionId"]} if member else {}

    def _copy_source(self, params: dict[str, Any]) -> StoredObject:
        bucket, key, version = parse_copy_source(params["CopySource"])
        try:
            source = self.backend.get_object(bucket, key, version=version)
        except errors.MethodNotAllowed:
            # S3 answers a copy from a delete marker as a bad request, not a 405
            raise errors.InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker "
                "by version id."
            ) from None
        conditions = {
            "IfMatch": params.get("CopySourceIfMatch"),
            "IfNoneMatch": params.get("CopySourceIfNoneMatch"),
            "IfModifiedSince": params.get("CopySourceIfModifiedSince"),
            "IfUnmodifiedSince": params.get("CopySourceIfUnmodifiedSince"),
        }
        self._check_conditions(conditions, source, copy_source=True)
        return source

    # -- listing -------------------------------------------------------------------

    def _list(self, request: Request, after: str) -> tuple[dict[str, Any], Any]:
        params = request.params
        prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
        max_keys = min(params.get("MaxKeys", 1000), 1000)
        page = self.backend.list_objects(params["Bucket"], prefix, delimiter, after, max_keys)
        url = _url_encoded(request)

        def enc(value: str) -> str:
            return _url_encode(value) if url else value

        out: dict[str, Any] = {
            "IsTruncated": page.truncated,
            "Name": params["Bucket"],
            "Prefix": enc(prefix),
            "MaxKeys": max_keys,
        }
        owner = _owner(request.account_id) if self._with_owner(request) else None
        if page.objects:
            contents = []
            # Objects written together share their second: one datetime for each.
            times: dict[int, Any] = {}
            for o in page.objects:
                second = int(o.modified)
                stamp = times.get(second)
                if stamp is None:
                    stamp = times[second] = _seconds(second)
                item = {
                    "Key": enc(o.key),
                    "LastModified": stamp,
                    "ETag": quote_etag(o.etag),
                    "Size": o.size,
                    "StorageClass": o.storage_class,
                }
                if o.checksum_algorithm:
                    item["ChecksumAlgorithm"] = [o.checksum_algorithm]
                    item["ChecksumType"] = o.checksum_type
                if owner is not None:
                    item["Owner"] = owner
                contents.append(item)
            out["Contents"] = contents
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": enc(p)} for p in page.prefixes]
        if delimiter:
            out["Delimiter"] = enc(delimiter)
        if "EncodingType" in params:
            out["EncodingType"] = params["EncodingType"]
        return out, page

    @staticmethod
    def _with_owner(request: Request) -> bool:
        return request.operation == "ListObjects" or bool(request.params.get("FetchOwner"))

    def list_objects_v2(self, request: Request) -> dict[str, Any]:
        params = request.params
        token = params.get("ContinuationToken")
        after = (
            _decode_token(token, "continuation token") if token else params.get("StartAfter", "")
        )
        out, page = self._list(request, after)
        out["KeyCount"] = len(page.objects) + len(page.prefixes)
        if token:
            out["ContinuationToken"] = token
        if "StartAfter" in params:
            start_after = params["StartAfter"]
            out["StartAfter"] = _url_encode(start_after) if _url_encoded(request) else start_after
        if page.truncated:
            out["NextContinuationToken"] = _encode_token(page.last)
        return out

    def list_objects(self, request: Request) -> dict[str, Any]:
        marker = request.params.get("Marker", "")
        out, page = self._list(request, marker)
        # With EncodingType=url, S3 encodes Marker and NextMarker like the keys (and
        # botocore decodes them again when it asked for the encoding itself).
        out["Marker"] = _url_encode(marker) if _url_encoded(request) else marker
        if page.truncated and request.params.get("Delimiter"):
            out["NextMarker"] = _url_encode(page.last) if _url_encoded(request) else page.last
        return out
