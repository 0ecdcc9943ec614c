"""S3's multipart upload operations: boto3's params in, S3's output shapes out.

Mixed into :class:`simsage.s3.service.S3Service`, whose ``backend``, ``_copy_source``
and ``_upload_attrs`` it uses. The checksum rules are S3's: an upload created with an
algorithm takes parts of that algorithm only and, when COMPOSITE, a checksum for each
part on completion; an upload without one gets S3's default full-object CRC64NVME.
"""

from __future__ import annotations

from typing import Any

from simsage.s3 import checksums, encryption, errors
from simsage.s3.names import check_key, parse_copy_range, quote_etag
from simsage.s3.records import Upload
from simsage.s3.shapes import checksum_members, location, owner, seconds
from simsage.transport import Request


def _part_algorithms(upload: Upload, sent: str | None) -> tuple[str, ...]:
    """The checksums to compute for a part sent with ``sent`` (or no checksum)."""
    wanted = upload.checksum_algorithm
    if wanted is not None:
        if sent != wanted:
            raise errors.InvalidRequest(
                f"Checksum Type mismatch occurred, expected checksum Type: {wanted.lower()}, "
                f"actual checksum Type: {sent.lower() if sent else 'null'}"
            )
        return (wanted,)
    # No algorithm of its own: S3 keeps its default CRC64NVME of every part (for the
    # object's full-object checksum), and checks the one the part was sent with.
    return tuple(dict.fromkeys(name for name in (sent, checksums.DEFAULT) if name))


def _part_checksums(part: dict[str, Any]) -> dict[str, str]:
    """The checksums one Part of a CompleteMultipartUpload gives.

    Raises:
        InvalidArgument: several of them, or one that is not a checksum's base64.
    """
    given = checksums.given_values(part)
    if len(given) > 1 or any(
        name not in checksums.ALGORITHMS or checksums.decode(name, value) is None
        for name, value in given
    ):
        raise errors.InvalidArgument(
            "Invalid Base64 or multiple checksums present in request",
            "Checksum",
            "".join(f"{name}:{value};" for name, value in sorted(given)),
        )
    return dict(given)


def _whole_checksum(params: dict[str, Any]) -> tuple[str, str] | None:
    """The whole-object checksum a CompleteMultipartUpload gives (``<b64>`` or, for a
    COMPOSITE one, ``<b64>-N``).

    Raises:
        InvalidRequest: several of them, or a malformed one.
    """
    given = checksums.given_values(params)
    if not given:
        return None
    if len(given) > 1:
        raise errors.InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    name, value = given[0]
    digest, _ = checksums.split_composite(value)
    if name not in checksums.ALGORITHMS or checksums.decode(name, digest) is None:
        raise checksums.invalid_value(name)
    return name, value


class MultipartOperations:
    """CreateMultipartUpload … ListMultipartUploads (see the module docstring)."""

    def create_multipart_upload(self, request: Request) -> dict[str, Any]:
        params = request.params
        check_key(params["Key"])
        self._check_upload_acl(request)
        choice = checksums.multipart_choice(
            params.get("ChecksumAlgorithm"), params.get("ChecksumType")
        )
        attrs = self._upload_attrs(request)
        if choice is not None:
            attrs["checksum"] = {"algorithm": choice[0], "type": choice[1]}
        upload = self.backend.create_upload(
            params["Bucket"], params["Key"], attrs, params.get("StorageClass", "STANDARD")
        )
        out = {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            **encryption.members(attrs["sse"]),
        }
        if choice is not None:
            out["ChecksumAlgorithm"], out["ChecksumType"] = choice
        return out

    def upload_part(self, request: Request) -> dict[str, Any]:
        params = request.params
        wanted = checksums.requested(params, request.checksum_algorithm)
        upload = self.backend.get_upload(params["Bucket"], params["Key"], params["UploadId"])
        algorithms = _part_algorithms(upload, wanted.algorithm)
        part = self.backend.upload_part(
            upload,
            params["PartNumber"],
            params.get("Body"),
            content_md5=params.get("ContentMD5"),
            algorithms=algorithms,
            expected=None if wanted.value is None else (wanted.algorithm, wanted.value),
        )
        out = {"ETag": quote_etag(part.etag), **encryption.members(upload.attrs.get("sse"))}
        if wanted.algorithm is not None:
            out[checksums.member(wanted.algorithm)] = part.checksums[wanted.algorithm]
        return out

    def upload_part_copy(self, request: Request) -> dict[str, Any]:
        params = request.params
        upload = self.backend.get_upload(params["Bucket"], params["Key"], params["UploadId"])
        # S3 computes the upload's checksum of the copied bytes, whatever the source's.
        algorithms = _part_algorithms(upload, upload.checksum_algorithm)
        source = self._copy_source(params)
        if params.get("CopySourceRange"):
            start, end = parse_copy_range(params["CopySourceRange"], source.size)
        else:
            start, end = 0, source.size - 1
        for _ in range(3):
            try:
                part = self.backend.upload_part_copy(
                    upload, params["PartNumber"], source, start, end, algorithms
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
        result = {"ETag": quote_etag(part.etag), "LastModified": seconds(part.modified)}
        if upload.checksum_algorithm is not None:
            name = upload.checksum_algorithm
            result[checksums.member(name)] = part.checksums[name]
        return {
            "CopyPartResult": result,
            **encryption.members(upload.attrs.get("sse")),
            **self.source_version(source),
        }

    def complete_multipart_upload(self, request: Request) -> dict[str, Any]:
        params = request.params
        parts = (params.get("MultipartUpload") or {}).get("Parts") or []
        if any(p.get("PartNumber") is None or p.get("ETag") is None for p in parts):
            raise errors.MalformedXML("each Part needs its PartNumber and its ETag")
        requested = [(p["PartNumber"], p["ETag"], _part_checksums(p)) for p in parts]
        checksum_type = params.get("ChecksumType")
        if checksum_type is not None and checksum_type not in (
            checksums.FULL_OBJECT,
            checksums.COMPOSITE,
        ):
            raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
        obj = self.backend.complete_upload(
            params["Bucket"],
            params["Key"],
            params["UploadId"],
            requested,
            whole=_whole_checksum(params),
            checksum_type=checksum_type,
        )
        return {
            "Location": location(obj.bucket, obj.key, request.region),
            "Bucket": obj.bucket,
            "Key": obj.key,
            "ETag": quote_etag(obj.etag),
            **checksum_members(obj.checksum),
            **encryption.members(obj.attrs.get("sse")),
            **obj.version_member,
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
        initiator = owner(request.account_id)
        out: dict[str, Any] = {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Initiator": initiator,
            "Owner": initiator,
            "StorageClass": upload.storage_class,
        }
        algorithm = upload.checksum_algorithm
        if algorithm is not None:
            out["ChecksumAlgorithm"] = algorithm
            out["ChecksumType"] = upload.checksum_type
        if parts:
            listed = []
            for p in parts:
                item = {
                    "PartNumber": p.part_number,
                    "LastModified": seconds(p.modified),
                    "ETag": quote_etag(p.etag),
                    "Size": p.size,
                }
                if algorithm is not None and algorithm in p.checksums:
                    item[checksums.member(algorithm)] = p.checksums[algorithm]
                listed.append(item)
            out["Parts"] = listed
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
        initiator = owner(request.account_id)
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
            entry = {
                "UploadId": upload.upload_id,
                "Key": upload.key,
                "Initiated": seconds(upload.initiated),
                "StorageClass": upload.storage_class,
                "Owner": initiator,
                "Initiator": initiator,
            }
            if upload.checksum_algorithm is not None:
                entry["ChecksumAlgorithm"] = upload.checksum_algorithm
                entry["ChecksumType"] = upload.checksum_type
            entries.append(entry)
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
