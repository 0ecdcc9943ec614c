"""S3's additional checksums: the algorithms, the values S3 accepts, what a request asks
for, and how the checksums of multipart parts combine into the object's.

Pure functions (no state, no wire format). Values are base64 of the big-endian digest,
as S3 writes them; a COMPOSITE value of a multipart object ends in ``-<part count>``.

CRC32 comes from :mod:`zlib`; CRC32C and CRC64NVME (and the CRC combination a
FULL_OBJECT multipart checksum needs) from ``awscrt``, AWS's own runtime, which botocore
itself uses for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from simsage.s3 import errors

# What S3 computes and stores, as botocore spells the algorithms.
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
# Every Checksum<ALGORITHM> member botocore's model has (S3 takes only ALGORITHMS).
MODEL_ALGORITHMS = ALGORITHMS + ("SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128")
# S3 stores this one for an upload that names no checksum.
DEFAULT = "CRC64NVME"
FULL_OBJECT, COMPOSITE = "FULL_OBJECT", "COMPOSITE"
# The checksum types a multipart upload may use with each algorithm; the first is the
# default when CreateMultipartUpload names an algorithm but no type.
MULTIPART_TYPES = {
    "CRC32": (COMPOSITE, FULL_OBJECT),
    "CRC32C": (COMPOSITE, FULL_OBJECT),
    "CRC64NVME": (FULL_OBJECT,),
    "SHA1": (COMPOSITE,),
    "SHA256": (COMPOSITE,),
}
_DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
_COMPOSITE_VALUE = re.compile(r"(.*)-(\d+)")


def member(algorithm: str) -> str:
    """The output/input member carrying an algorithm's value (``ChecksumCRC32`` …)."""
    return f"Checksum{algorithm}"


class _Crc:
    """A running CRC with the ``update``/``digest`` interface of :mod:`hashlib`."""

    __slots__ = ("_function", "_size", "value")

    def __init__(self, function, size: int) -> None:
        self._function = function
        self._size = size
        self.value = 0

    def update(self, data) -> None:
        self.value = self._function(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self._size, "big")


def _crt():
    """awscrt's checksums, imported when first needed (~80 ms: the S3 backend is in every
    job runner, most of which never compute a CRC32C or CRC64NVME)."""
    from awscrt import checksums

    return checksums


def hasher(algorithm: str):
    """A fresh hasher for ``algorithm`` (one of :data:`ALGORITHMS`)."""
    if algorithm == "CRC32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(_crt().crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(_crt().crc64nvme, 8)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(f"not an S3 checksum algorithm: {algorithm!r}")


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def compute(algorithm: str, data: bytes) -> str:
    digest = hasher(algorithm)
    digest.update(data)
    return encode(digest.digest())


def decode(algorithm: str, value: str) -> bytes | None:
    """The digest a value stands for, or None unless it is the canonical base64 of a
    digest of the algorithm's size (S3 refuses ``y/Q5Jh==`` for ``y/Q5Jg==``)."""
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(digest) != _DIGEST_SIZES.get(algorithm, -1) or encode(digest) != value:
        return None
    return digest


def composite(algorithm: str, part_values: list[str]) -> str:
    """S3's COMPOSITE checksum: the checksum of the parts' concatenated digests, ``-N``."""
    digest = hasher(algorithm)
    for value in part_values:
        digest.update(base64.b64decode(value))
    return f"{encode(digest.digest())}-{len(part_values)}"


_COMBINE = {  # awscrt's function, the CRC's size in bytes
    "CRC32": ("combine_crc32", 4),
    "CRC32C": ("combine_crc32c", 4),
    "CRC64NVME": ("combine_crc64nvme", 8),
}


def full_object(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """The CRC of the whole object from its parts' ``(value, size)``, without reading
    the bytes again (only the CRCs can do this: FULL_OBJECT is for them only)."""
    function, size = _COMBINE[algorithm]
    combine = getattr(_crt(), function)
    crc = None
    for value, length in parts:
        part = int.from_bytes(base64.b64decode(value), "big")
        crc = part if crc is None else combine(crc, part, length)
    return encode((crc or 0).to_bytes(size, "big"))


def split_composite(value: str) -> tuple[str, int | None]:
    """``"<b64>-N"`` → (``"<b64>"``, N); a value without the suffix → (value, None)."""
    match = _COMPOSITE_VALUE.fullmatch(value)
    if match is None:
        return value, None
    return match.group(1), int(match.group(2))


def header(algorithm: str) -> str:
    return f"x-amz-checksum-{algorithm.lower()}"


def invalid_value(algorithm: str) -> errors.S3Error:
    return errors.InvalidRequest(f"Value for {header(algorithm)} header is invalid.")


_MODEL_MEMBERS = tuple((name, member(name)) for name in MODEL_ALGORITHMS)


def given_values(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``(algorithm, value)`` pairs a request (or a part of one) carries."""
    return [(name, value) for name, key in _MODEL_MEMBERS if (value := params.get(key)) is not None]


@dataclass(frozen=True)
class Requested:
    """What a PutObject or UploadPart asks S3 to check: the algorithm to compute (None
    when the request carries no checksum) and the value the caller gave, if any (the
    SDK computes one for ``ChecksumAlgorithm`` too; botocore stops before sending it
    in-process, and S3's own computation is what it would be checked against)."""

    algorithm: str | None
    value: str | None = None


def requested(params: dict[str, Any], sdk_algorithm: str | None) -> Requested:
    """Resolve the checksum of an upload request as S3 reads its headers.

    ``sdk_algorithm`` is the algorithm botocore resolved for the body (its default
    CRC32 when the caller named none), or None when it sends no checksum.

    Raises:
        InvalidRequest: several values, a value that does not match
            ``ChecksumAlgorithm``, a malformed value, or an algorithm S3 does not take.
    """
    given = given_values(params)
    if len(given) > 1:
        raise errors.InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    declared = params.get("ChecksumAlgorithm")
    declared = declared.upper() if isinstance(declared, str) else None
    if given:
        algorithm, value = given[0]
        if declared is not None and declared != algorithm:
            raise errors.InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")
        _check_supported(algorithm)
        if decode(algorithm, value) is None:
            raise invalid_value(algorithm)
        return Requested(algorithm, value)
    algorithm = declared or (sdk_algorithm.upper() if sdk_algorithm else None)
    if algorithm is None:
        return Requested(None)
    _check_supported(algorithm)
    return Requested(algorithm)


def _check_supported(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise errors.InvalidRequest(
            "The algorithm type you specified in x-amz-checksum- header is invalid."
        )


def verify(algorithm: str, expected: str | None, actual: str) -> None:
    """Raise S3's BadDigest when the caller's value is not what the bytes give."""
    if expected is not None and expected != actual:
        raise errors.BadDigest(
            f"The {algorithm} you specified did not match the calculated checksum."
        )


def multipart_choice(algorithm: str | None, checksum_type: str | None) -> tuple[str, str] | None:
    """CreateMultipartUpload's ChecksumAlgorithm and ChecksumType → (algorithm, type),
    or None for an upload without one (it gets S3's default full-object CRC64NVME).

    Raises:
        InvalidRequest: a type without an algorithm, an unknown algorithm or type, or a
            combination S3 does not allow (FULL_OBJECT with SHA, COMPOSITE with CRC64NVME).
    """
    if algorithm is None:
        if checksum_type is not None:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        return None
    if "," in algorithm:
        raise errors.InvalidRequest(
            "Invalid types are specified in x-amz-checksum-algorithm header."
        )
    algorithm = algorithm.upper()
    if algorithm not in ALGORITHMS:
        raise errors.InvalidRequest(
            "Checksum algorithm provided is unsupported. Please try again with any of the "
            "valid types: [CRC32, CRC32C, SHA1, SHA256]"
        )
    allowed = MULTIPART_TYPES[algorithm]
    if checksum_type is None:
        return algorithm, allowed[0]
    if checksum_type not in (FULL_OBJECT, COMPOSITE):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if checksum_type not in allowed:
        raise errors.InvalidRequest(
            f"The {checksum_type} checksum type cannot be used with the "
            f"{algorithm.lower()} checksum algorithm."
        )
    return algorithm, checksum_type


def check_md5(content_md5: str | None, md5) -> None:
    """Raise BadDigest/InvalidDigest unless Content-MD5 (when given) is the bytes' MD5."""
    if content_md5 is None:
        return
    try:
        expected = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest(content_md5) from None
    if len(expected) != 16:
        raise errors.InvalidDigest(content_md5)
    if expected != md5.digest():
        raise errors.BadDigest()
