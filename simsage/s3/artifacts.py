"""Whether an S3 URI names a model artifact SageMaker would accept: one existing
``.tar.gz`` object in a bucket of the caller's region.

Layer: s3 (read by the SageMaker concepts that record an artifact: CreateModel in
hosting, CreateModelPackage in the registry), so the check and its messages are one.
"""

from __future__ import annotations

from simsage.errors import AWSError, ValidationException
from simsage.s3.backend import S3Backend


def check_model_data(s3: S3Backend, url: str, region: str) -> None:
    """Refuse a ModelDataUrl that is not an existing ``s3://….tar.gz`` in ``region``.

    Raises:
        ValidationException: not an ``s3://bucket/key.tar.gz`` URI, "Could not find
            model data at …" (AWS's words) for a missing bucket or object, or a bucket
            of another region.
    """
    bucket, _, key = url[len("s3://") :].partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise ValidationException(
            f"ModelDataUrl must be an s3:// URI of one .tar.gz object "
            f"(s3://bucket/path/model.tar.gz); got {url!r}."
        )
    if not key.endswith(".tar.gz"):
        raise ValidationException(
            f"ModelDataUrl must name one .tar.gz object (s3://bucket/path/model.tar.gz); "
            f"got {url!r}."
        )
    try:
        s3.get_object(bucket, key, with_data=False)
        bucket_region = s3.get_bucket(bucket).region
    except AWSError:  # NoSuchBucket, NoSuchKey
        raise ValidationException(f"Could not find model data at {url}.") from None
    if bucket_region != region:
        raise ValidationException(
            f"The model data at {url} is in bucket {bucket} of region {bucket_region}; "
            f"it must be in the model's region, {region}."
        )
