"""S3 requests to backend calls and back: boto3's params in, S3's output shapes out.

One method per S3 operation (named as botocore names them, snake_case). Methods read
the caller's params, call :class:`~simsage.s3.backend.S3Backend` and build exactly the
members botocore's parser would produce from a real S3 response.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Any
from urllib.parse import quote

from botocore.response import StreamingBody
from botocore.utils import parse_to_aware_datetime

from simsage.ids import from_epoch
from simsage.s3 import errors
from simsage.s3.backend import S3Backend, StoredObject
from simsage.s3.input_errors import S3InputErrors
from simsage.s3.names import (
    check_bucket_name,
    check_key,
    etag_matches,
    parse_copy_range,
    parse_copy_source,
    parse_range,
    quote_etag,
)
from simsage.transport import Request
from simsage.transport.handler import http_date

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
MAX_METADATA_BYTES = 2048
MAX_DELETE_KEYS = 1000
LEGACY_REGION = "us-east-1"

# Request/response members stored with an object, and their attr names.
_SYSTEM_ATTRS = {
    "ContentType": "content_type",
    "ContentEncoding": "content_encoding",
    "ContentDisposition": "content_disposition",
    "ContentLanguage": "content_language",
    "CacheControl": "cache_control",
    "Expires": "expires",
    "WebsiteRedirectLocation": "website_redirect_location",
}
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


def _seconds(epoch: float) -> dt.datetime:
    """S3 answers times to the whole second (Last-Modified is an HTTP date), so a time
    read back from one call compares equal to the same time from another."""
    return from_epoch(int(epoch))


def _timestamp(value: Any) -> dt.datetime:
    """A timestamp param as the caller gave it (aware or naive datetime, ISO-8601 or
    HTTP-date string, epoch number), read as botocore reads it: naive means UTC."""
    return parse_to_aware_datetime(value)


def _owner(account_id: str) -> dict[str, str]:
    canonical = hashlib.sha256(f"simsage:{account_id}".encode()).hexdigest()
    return {"DisplayName": "simsage", "ID": canonical}


def _attrs_from(params: dict[str, Any]) -> dict[str, Any]:
    """The system metadata and user metadata an upload request carries."""
    attrs: dict[str, Any] = {}
    for member, name in _SYSTEM_ATTRS.items():
        value = params.get(member)
        if value is not None:
            attrs[name] = _timestamp(value).timestamp() if member == "Expires" else value
    attrs.setdefault("content_type", DEFAULT_CONTENT_TYPE)
    metadata = {k.lower(): v for k, v in (params.get("Metadata") or {}).items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise errors.MetadataTooLarge(size)
    attrs["metadata"] = metadata
    return attrs


def _url_encoded(request: Request) -> bool:
    return request.params.get("EncodingType") == "url"


def _url_encode(value: str) -> str:
    """S3's ``EncodingType=url`` form of a key, prefix, delimiter or marker."""
    return quote(value, safe="/")


def _encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode()


def _decode_token(token: str, name: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(f"The {name} provided is incorrect", name, token) from None


class S3Service:
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

    def _object_headers(self, request: Request, obj: StoredObject) -> dict[str, Any]:
        """The members GetObject/HeadObject answer for ``obj`` (whole object)."""
        out: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "LastModified": _seconds(obj.modified),
            "ContentLength": obj.size,
            "ETag": quote_etag(obj.etag),
            "ServerSideEncryption": "AES256",
            "Metadata": dict(obj.attrs.get("metadata", {})),
        }
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
                err = errors.S3Error("The requested partnumber is not satisfiable")
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
        bucket, existed = self.backend.create_bucket(
            name, constraint or LEGACY_REGION, request.account_id
        )
        # In us-east-1, re-creating a bucket you own succeeds (S3's legacy behaviour).
        if existed and not (region == LEGACY_REGION and bucket.region == LEGACY_REGION):
            raise errors.BucketAlreadyOwnedByYou(name)
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
        obj = self.backend.put_object(
            params["Bucket"],
            params["Key"],
            params.get("Body"),
            _attrs_from(params),
            storage_class=params.get("StorageClass", "STANDARD"),
            content_md5=params.get("ContentMD5"),
            if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"),
        )
        return {"ETag": quote_etag(obj.etag), "ServerSideEncryption": "AES256"}

    @staticmethod
    def _check_read_request(params: dict[str, Any]) -> None:
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
            return self._span(request, obj, out)

        obj, (start, end), stream = self.backend.read_object(params["Bucket"], params["Key"], plan)
        out["Body"] = StreamingBody(stream, end - start)
        return out

    def head_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        self._check_read_request(params)
        obj = self.backend.get_object(params["Bucket"], params["Key"], with_data=False)
        self._check_conditions(params, obj)
        out = self._object_headers(request, obj)
        self._span(request, obj, out)
        return out

    def delete_object(self, request: Request) -> dict[str, Any]:
        self.backend.delete_objects(request.params["Bucket"], [request.params["Key"]])
        request.status = 204
        return {}

    def delete_objects(self, request: Request) -> dict[str, Any]:
        delete = request.params["Delete"]
        objects = delete["Objects"]
        if not 1 <= len(objects) <= MAX_DELETE_KEYS:
            raise errors.MalformedXML(f"between 1 and {MAX_DELETE_KEYS} keys per request")
        self.backend.delete_objects(request.params["Bucket"], [o["Key"] for o in objects])
        if delete.get("Quiet"):
            return {}
        deleted = []
        for o in objects:
            entry = {"Key": o["Key"]}
            if o.get("VersionId"):
                entry["VersionId"] = o["VersionId"]
            deleted.append(entry)
        return {"Deleted": deleted}

    def copy_object(self, request: Request) -> dict[str, Any]:
        params = request.params
        check_key(params["Key"])
        source = self._copy_source(params)
        directive = params.get("MetadataDirective", "COPY")
        storage_class = params.get("StorageClass", "STANDARD")
        same_place = (source.bucket, source.key) == (params["Bucket"], params["Key"])
        if same_place and directive == "COPY" and storage_class == source.storage_class:
            raise errors.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to "
                "itself without changing the object's metadata, storage class, website "
                "redirect location or encryption attributes."
            )
        attrs = _attrs_from(params) if directive == "REPLACE" else dict(source.attrs)
        for _ in range(3):
            try:
                obj = self.backend.copy_object(
                    source, params["Bucket"], params["Key"], attrs, storage_class
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
            },
            "ServerSideEncryption": "AES256",
        }

    def _copy_source(self, params: dict[str, Any]) -> StoredObject:
        bucket, key, version = parse_copy_source(params["CopySource"])
        if version not in (None, "null"):
            raise errors.InvalidArgument("Invalid version id specified", "versionId", version)
        source = self.backend.get_object(bucket, key)
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
            for o in page.objects:
                item = {
                    "Key": enc(o.key),
                    "LastModified": _seconds(o.modified),
                    "ETag": quote_etag(o.etag),
                    "Size": o.size,
                    "StorageClass": o.storage_class,
                }
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

    # -- multipart uploads ---------------------------------------------------------

    def create_multipart_upload(self, request: Request) -> dict[str, Any]:
        params = request.params
        check_key(params["Key"])
        upload = self.backend.create_upload(
            params["Bucket"],
            params["Key"],
            _attrs_from(params),
            params.get("StorageClass", "STANDARD"),
        )
        return {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "ServerSideEncryption": "AES256",
        }

    def upload_part(self, request: Request) -> dict[str, Any]:
        params = request.params
        part = self.backend.upload_part(
            params["Bucket"],
            params["Key"],
            params["UploadId"],
            params["PartNumber"],
            params.get("Body"),
            content_md5=params.get("ContentMD5"),
        )
        return {"ETag": quote_etag(part.etag), "ServerSideEncryption": "AES256"}

    def upload_part_copy(self, request: Request) -> dict[str, Any]:
        params = request.params
        source = self._copy_source(params)
        if params.get("CopySourceRange"):
            start, end = parse_copy_range(params["CopySourceRange"], source.size)
        else:
            start, end = 0, source.size - 1
        for _ in range(3):
            try:
                part = self.backend.upload_part_copy(
                    params["Bucket"],
                    params["Key"],
                    params["UploadId"],
                    params["PartNumber"],
                    source,
                    start,
                    end,
                )
                break
            except FileNotFoundError:  # the source was overwritten meanwhile: read it again
                source = self._copy_source(params)
                if end >= source.size:
                    raise errors.InvalidArgument(
                        f"Range specified is not valid for source object of size: {source.size}",
                        "x-amz-copy-source-range",
                        params.get("CopySourceRange", ""),
                    ) from None
        else:
            raise errors.InvalidRequest("The copy source kept changing; retry the copy.")
        return {
            "CopyPartResult": {
                "ETag": quote_etag(part.etag),
                "LastModified": _seconds(part.modified),
            },
            "ServerSideEncryption": "AES256",
        }

    def complete_multipart_upload(self, request: Request) -> dict[str, Any]:
        params = request.params
        parts = (params.get("MultipartUpload") or {}).get("Parts") or []
        requested = [(p["PartNumber"], p["ETag"]) for p in parts]
        obj = self.backend.complete_upload(
            params["Bucket"], params["Key"], params["UploadId"], requested
        )
        return {
            "Location": (
                f"https://{obj.bucket}.s3.{request.region}.amazonaws.com/{quote(obj.key)}"
            ),
            "Bucket": obj.bucket,
            "Key": obj.key,
            "ETag": quote_etag(obj.etag),
            "ServerSideEncryption": "AES256",
        }

    def abort_multipart_upload(self, request: Request) -> dict[str, Any]:
        params = request.params
        self.backend.abort_upload(params["Bucket"], params["Key"], params["UploadId"])
        request.status = 204
        return {}

    def list_parts(self, request: Request) -> dict[str, Any]:
        params = request.params
        upload = self.backend.get_upload(params["Bucket"], params["Key"], params["UploadId"])
        marker = params.get("PartNumberMarker") or 0
        max_parts = min(params.get("MaxParts", 1000), 1000)
        parts = [p for p in self.backend.list_parts(upload.upload_id) if p.part_number > marker]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        owner = _owner(request.account_id)
        out: dict[str, Any] = {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Initiator": owner,
            "Owner": owner,
            "StorageClass": upload.storage_class,
        }
        if parts:
            out["Parts"] = [
                {
                    "PartNumber": p.part_number,
                    "LastModified": _seconds(p.modified),
                    "ETag": quote_etag(p.etag),
                    "Size": p.size,
                }
                for p in parts
            ]
            out["NextPartNumberMarker"] = parts[-1].part_number
        return out

    def list_multipart_uploads(self, request: Request) -> dict[str, Any]:
        params = request.params
        prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
        key_marker, id_marker = params.get("KeyMarker", ""), params.get("UploadIdMarker", "")
        max_uploads = min(params.get("MaxUploads", 1000), 1000)
        uploads = self.backend.list_uploads(params["Bucket"], prefix)
        if key_marker:
            ids = [u.upload_id for u in uploads if u.key == key_marker]
            if id_marker and id_marker in ids:
                position = ids.index(id_marker) + 1
                uploads = [
                    u
                    for u in uploads
                    if u.key > key_marker or (u.key == key_marker and u.upload_id in ids[position:])
                ]
            else:
                uploads = [u for u in uploads if u.key > key_marker]
        owner = _owner(request.account_id)
        entries, prefixes, truncated = [], [], False
        last_key, last_id = None, None
        for upload in uploads:
            if len(entries) + len(prefixes) == max_uploads:
                truncated = True
                break
            cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = upload.key[: cut + len(delimiter)]
                if not prefixes or prefixes[-1] != common:
                    prefixes.append(common)
                    last_key, last_id = common, None
                continue
            entries.append(
                {
                    "UploadId": upload.upload_id,
                    "Key": upload.key,
                    "Initiated": _seconds(upload.initiated),
                    "StorageClass": upload.storage_class,
                    "Owner": owner,
                    "Initiator": owner,
                }
            )
            last_key, last_id = upload.key, upload.upload_id
        out: dict[str, Any] = {
            "Bucket": params["Bucket"],
            "KeyMarker": key_marker,
            "UploadIdMarker": id_marker,
            "Prefix": prefix,
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
        }
        if delimiter:
            out["Delimiter"] = delimiter
        if entries:
            out["Uploads"] = entries
        if prefixes:
            out["CommonPrefixes"] = [{"Prefix": p} for p in prefixes]
        if truncated:
            out["NextKeyMarker"] = last_key or ""
            out["NextUploadIdMarker"] = last_id or ""
        return out
