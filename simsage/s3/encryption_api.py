"""S3's bucket encryption operations: boto3's params in, S3's shapes out.

Mixed into :class:`simsage.s3.service.S3Service` (uses its ``backend``). A bucket
without a configuration of its own answers S3's default since 2023 (SSE-S3, no Bucket
Key); deleting the configuration returns the bucket to that default.
"""

from __future__ import annotations

import copy
from typing import Any

from simsage.s3 import encryption
from simsage.transport import Request


class EncryptionOperations:
    """Put/Get/DeleteBucketEncryption."""

    def put_bucket_encryption(self, request: Request) -> dict[str, Any]:
        params = request.params
        self.backend.get_bucket(params["Bucket"])  # S3 checks the bucket first
        rules = encryption.check_configuration(params["ServerSideEncryptionConfiguration"])
        self.backend.put_setting(params["Bucket"], "encryption", rules)
        return {}

    def get_bucket_encryption(self, request: Request) -> dict[str, Any]:
        rules = self.backend.get_setting(request.params["Bucket"], "encryption")
        # (a copy: the caller owns what it gets back)
        rules = rules or [copy.deepcopy(encryption.DEFAULT_RULE)]
        return {"ServerSideEncryptionConfiguration": {"Rules": rules}}

    def delete_bucket_encryption(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "encryption", None)
        request.status = 204
        return {}
