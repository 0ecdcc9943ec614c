"""S3's bucket configuration operations: boto3's params in, S3's shapes out.

Mixed into :class:`simsage.s3.service.S3Service` (uses its ``backend``). Each
configuration is one of the bucket's settings, removed with the bucket. The rules and
defaults are in :mod:`simsage.s3.bucket_config`:

- the bucket policy (Put/Get/Delete, GetBucketPolicyStatus);
- Block Public Access (Put/Get/DeletePublicAccessBlock; on by default);
- Object Ownership (Put/Get/DeleteBucketOwnershipControls; ``BucketOwnerEnforced`` by
  default);
- ACLs, read (GetBucketAcl, GetObjectAcl: the owner's FULL_CONTROL) and written
  (PutBucketAcl, PutObjectAcl: while ACLs are disabled, S3 accepts only a request that
  grants the owner's FULL_CONTROL and nothing else);
- CORS (Put/Get/DeleteBucketCors; applied to browsers' requests by the S3 endpoint,
  which asks :meth:`BucketConfigOperations.cors_preflight` and ``cors_headers``);
- lifecycle (Put/Get/DeleteBucketLifecycle…; kept, not applied);
- the configurations simsage cannot set, read as a bucket that has none: notification,
  logging, request payment, transfer acceleration, website, replication, Object Lock.
"""

from __future__ import annotations

import json
from typing import Any

from simsage.errors import NotEmulated
from simsage.s3 import bucket_config as rules
from simsage.s3 import cors, errors
from simsage.s3.shapes import owner as _owner
from simsage.transport import Request

_GRANT_PARAMS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP")


class BucketConfigOperations:
    """Bucket policies, Block Public Access, Object Ownership, ACLs, CORS, lifecycle."""

    # -- the bucket policy ------------------------------------------------------------

    def put_bucket_policy(self, request: Request) -> dict[str, Any]:
        bucket = request.params["Bucket"]
        self.backend.get_bucket(bucket)  # S3 checks the bucket first
        text = request.params["Policy"]
        document = rules.check_policy(text, bucket)
        blocked = self._public_access(bucket, in_force=True)["BlockPublicPolicy"]
        if blocked and rules.is_public_policy(document):
            raise errors.AccessDenied(
                f"User: {_caller(request)} is not authorized to perform: s3:PutBucketPolicy "
                f'on resource: "arn:aws:s3:::{bucket}" because public policies are blocked '
                "by the BlockPublicPolicy block public access setting."
            )
        self.backend.put_setting(bucket, "policy", text)
        request.status = 204
        return {}

    def get_bucket_policy(self, request: Request) -> dict[str, Any]:
        return {"Policy": self._policy(request.params["Bucket"])}

    def get_bucket_policy_status(self, request: Request) -> dict[str, Any]:
        document = json.loads(self._policy(request.params["Bucket"]))
        return {"PolicyStatus": {"IsPublic": rules.is_public_policy(document)}}

    def delete_bucket_policy(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "policy", None)
        request.status = 204
        return {}

    def _policy(self, bucket: str) -> str:
        text = self.backend.get_setting(bucket, "policy")
        if text is None:
            raise errors.NoSuchBucketPolicy(bucket)
        return text

    # -- Block Public Access ------------------------------------------------------------

    def put_public_access_block(self, request: Request) -> dict[str, Any]:
        params = request.params
        config = rules.check_public_access_block(params["PublicAccessBlockConfiguration"])
        self.backend.put_setting(params["Bucket"], "public_access_block", config)
        return {}

    def get_public_access_block(self, request: Request) -> dict[str, Any]:
        return {"PublicAccessBlockConfiguration": self._public_access(request.params["Bucket"])}

    def delete_public_access_block(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "public_access_block", rules.DELETED)
        request.status = 204
        return {}

    def _public_access(self, bucket: str, in_force: bool = False) -> dict[str, bool]:
        """The bucket's Block Public Access settings. A deleted configuration is
        NoSuchPublicAccessBlockConfiguration to read, and blocks nothing ``in_force``."""
        config = self.backend.get_setting(bucket, "public_access_block")
        if config == rules.DELETED:
            if in_force:
                return dict.fromkeys(rules.PUBLIC_ACCESS_BLOCK_DEFAULT, False)
            raise errors.NoSuchPublicAccessBlockConfiguration(bucket)
        return dict(config or rules.PUBLIC_ACCESS_BLOCK_DEFAULT)

    # -- Object Ownership and ACLs ------------------------------------------------------

    def put_bucket_ownership_controls(self, request: Request) -> dict[str, Any]:
        params = request.params
        ownership = rules.check_ownership(params["OwnershipControls"])
        self.backend.put_setting(params["Bucket"], "ownership", ownership)
        return {}

    def get_bucket_ownership_controls(self, request: Request) -> dict[str, Any]:
        ownership = self._ownership(request.params["Bucket"])
        if ownership == rules.DELETED:
            raise errors.OwnershipControlsNotFoundError(request.params["Bucket"])
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]}}

    def delete_bucket_ownership_controls(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "ownership", rules.DELETED)
        request.status = 204
        return {}

    def _ownership(self, bucket: str) -> str:
        return self.backend.get_setting(bucket, "ownership") or rules.OWNERSHIP_DEFAULT

    def get_bucket_acl(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        return _owner_acl(request)

    def get_object_acl(self, request: Request) -> dict[str, Any]:
        params = request.params
        obj = self.backend.get_object(
            params["Bucket"], params["Key"], with_data=False, version=params.get("VersionId")
        )
        return {**_owner_acl(request), **obj.version_member}

    def put_bucket_acl(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        self._accept_acl(request, "PutBucketAcl")
        return {}

    def put_object_acl(self, request: Request) -> dict[str, Any]:
        params = request.params
        obj = self.backend.get_object(
            params["Bucket"], params["Key"], with_data=False, version=params.get("VersionId")
        )
        self._accept_acl(request, "PutObjectAcl")
        return obj.version_member

    def _accept_acl(self, request: Request, operation: str) -> None:
        """An ACL request that leaves the owner's FULL_CONTROL as the only grant is
        accepted (nothing changes); any other is refused while ACLs are disabled. A
        bucket whose ACLs were enabled would keep other grants, which simsage does not."""
        params = request.params
        grants = {name: params.get(name) for name in _GRANT_PARAMS}
        owner_id = _owner(request.account_id)["ID"]
        if rules.owner_only(params.get("ACL"), grants, params.get("AccessControlPolicy"), owner_id):
            return
        if self._ownership(params["Bucket"]) in (rules.OWNERSHIP_DEFAULT, rules.DELETED):
            raise errors.AccessControlListNotSupported()
        raise NotEmulated("s3", f"{operation} (grants beyond the owner's FULL_CONTROL)")

    def _check_upload_acl(self, request: Request) -> None:
        """The ACL an upload (PutObject, CopyObject, CreateMultipartUpload) asks for:
        none, or the owner's alone, passes without reading the bucket; any other is
        refused while the bucket's ACLs are disabled, as S3 refuses it."""
        params = request.params
        acl = params.get("ACL")
        grants = {name: params.get(name) for name in _GRANT_PARAMS}
        if acl is None and not any(grants.values()):
            return
        self._accept_acl(request, request.operation)

    def _check_new_bucket_acl(self, request: Request) -> str | None:
        """CreateBucket's ACL and ObjectOwnership: the ownership to keep for the new
        bucket (None for the default). An ACL beyond the owner's, on a bucket whose
        ACLs are disabled, is refused before the bucket exists."""
        params = request.params
        ownership = params.get("ObjectOwnership")
        grants = {name: params.get(name) for name in _GRANT_PARAMS}
        owner_id = _owner(request.account_id)["ID"]
        if not rules.owner_only(params.get("ACL"), grants, None, owner_id):
            if (ownership or rules.OWNERSHIP_DEFAULT) == rules.OWNERSHIP_DEFAULT:
                raise errors.InvalidBucketAclWithObjectOwnership()
            raise NotEmulated("s3", "CreateBucket (grants beyond the owner's FULL_CONTROL)")
        return None if ownership in (None, rules.OWNERSHIP_DEFAULT) else ownership

    def _keep_new_bucket_ownership(self, bucket: str, ownership: str | None) -> None:
        if ownership is not None:
            self.backend.put_setting(bucket, "ownership", ownership)

    # -- CORS and lifecycle ---------------------------------------------------------------

    def put_bucket_cors(self, request: Request) -> dict[str, Any]:
        params = request.params
        self.backend.get_bucket(params["Bucket"])
        self.backend.put_setting(
            params["Bucket"], "cors", rules.check_cors(params["CORSConfiguration"])
        )
        return {}

    def get_bucket_cors(self, request: Request) -> dict[str, Any]:
        bucket = request.params["Bucket"]
        stored = self.backend.get_setting(bucket, "cors")
        if stored is None:
            raise errors.NoSuchCORSConfiguration(bucket)
        return {"CORSRules": stored}

    def delete_bucket_cors(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "cors", None)
        request.status = 204
        return {}

    def cors_preflight(self, bucket: str | None, key: str | None, headers: dict[str, str]):
        """The CORS headers answering a browser's preflight (``OPTIONS``); raises S3's
        error when no rule allows it (see :mod:`simsage.s3.cors`)."""
        return cors.preflight(self.backend, bucket, key, headers)

    def cors_headers(self, bucket: str | None, method: str, headers: dict[str, str]):
        """The CORS headers for the answer to a request with an ``Origin`` header."""
        return cors.response_headers(self.backend, bucket, method, headers)

    def put_bucket_lifecycle_configuration(self, request: Request) -> dict[str, Any]:
        params = request.params
        self.backend.get_bucket(params["Bucket"])
        config = params.get("LifecycleConfiguration") or {}
        checked = rules.check_lifecycle(config, lambda: self.backend.ids.token(36))
        minimum = (
            params.get("TransitionDefaultMinimumObjectSize") or rules.TRANSITION_DEFAULT_MINIMUM
        )
        self.backend.put_setting(
            params["Bucket"], "lifecycle", {"Rules": checked, "Minimum": minimum}
        )
        return {"TransitionDefaultMinimumObjectSize": minimum}

    def get_bucket_lifecycle_configuration(self, request: Request) -> dict[str, Any]:
        bucket = request.params["Bucket"]
        lifecycle = self.backend.get_setting(bucket, "lifecycle")
        if lifecycle is None:
            raise errors.NoSuchLifecycleConfiguration(bucket)
        return {
            "Rules": lifecycle["Rules"],
            "TransitionDefaultMinimumObjectSize": lifecycle["Minimum"],
        }

    def delete_bucket_lifecycle(self, request: Request) -> dict[str, Any]:
        self.backend.put_setting(request.params["Bucket"], "lifecycle", None)
        request.status = 204
        return {}

    # -- what simsage cannot configure, read as a bucket without it ---------------------

    def get_bucket_notification_configuration(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        return {}

    def get_bucket_logging(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        return {}

    def get_bucket_request_payment(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        return {"Payer": "BucketOwner"}

    def get_bucket_accelerate_configuration(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        return {}

    def get_bucket_website(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        raise errors.NoSuchWebsiteConfiguration(request.params["Bucket"])

    def get_bucket_replication(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        raise errors.ReplicationConfigurationNotFoundError(request.params["Bucket"])

    def get_object_lock_configuration(self, request: Request) -> dict[str, Any]:
        self.backend.get_bucket(request.params["Bucket"])
        raise errors.ObjectLockConfigurationNotFoundError(request.params["Bucket"])


def _owner_acl(request: Request) -> dict[str, Any]:
    owner = _owner(request.account_id)
    grantee = {**owner, "Type": "CanonicalUser"}
    return {"Owner": owner, "Grants": [{"Grantee": grantee, "Permission": "FULL_CONTROL"}]}


def _caller(request: Request) -> str:
    return f"arn:aws:iam::{request.account_id}:root"
