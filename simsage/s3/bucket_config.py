"""The rules of S3's bucket configurations that simsage keeps: bucket policies, Block
Public Access, Object Ownership, CORS and lifecycle. What S3 refuses and why, and what a
new bucket has by default. Pure functions; :mod:`simsage.s3.bucket_config_api` stores the
results as bucket settings.

The defaults are those of a bucket created today (since April 2023):
- Block Public Access is on, with all four settings true;
- Object Ownership is ``BucketOwnerEnforced``, so ACLs are disabled: the owner holds
  FULL_CONTROL of everything and nothing else can be granted;
- there is no policy, CORS or lifecycle configuration.

What simsage does with them. A store on one machine has a single user, the owner, so no
configuration changes who may do what. Block Public Access is still applied where S3
applies it when a configuration is written: a public policy is refused while
``BlockPublicPolicy`` is on. CORS rules are applied by the S3 endpoint to browsers'
requests (:mod:`simsage.s3.cors`). Lifecycle rules are kept and returned exactly as written.
They are not applied: S3 runs them asynchronously, about once a day, and simsage never
expires or transitions an object.
"""

from __future__ import annotations

import json
from typing import Any

from simsage.s3 import errors

PUBLIC_ACCESS_BLOCK_DEFAULT = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
OWNERSHIP_DEFAULT = "BucketOwnerEnforced"
OWNERSHIP_VALUES = ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced")
# Stored in place of a configuration that exists by default and was deleted.
DELETED = "deleted"

CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_CORS_RULES = 100
MAX_LIFECYCLE_RULES = 1000
MAX_RULE_ID = 255
LIFECYCLE_ACTIONS = (
    "Expiration",
    "Transitions",
    "NoncurrentVersionTransitions",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
)
TRANSITION_DEFAULT_MINIMUM = "all_storage_classes_128K"
MAX_POLICY_BYTES = 20 * 1024


def check_policy(text: str, bucket: str) -> dict[str, Any]:
    """The bucket policy ``text`` as a document, checked as S3 checks one.

    Raises:
        MalformedPolicy: not a JSON object, no statements, a statement without Effect,
            Principal, Action or Resource, or a resource outside ``bucket``.
    """
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.MalformedPolicy("Policies cannot exceed 20 KB in size")
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise errors.MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not statements or not isinstance(statements, list):
        raise errors.MalformedPolicy("Missing required field Statement")
    for statement in statements:
        if not isinstance(statement, dict):
            raise errors.MalformedPolicy("Statement is not a JSON object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise errors.MalformedPolicy(f"Invalid effect: {statement.get('Effect')}")
        for pair in (("Principal", "NotPrincipal"), ("Action", "NotAction")):
            if not any(name in statement for name in pair):
                raise errors.MalformedPolicy(f"Missing required field {pair[0]}")
        if not any(name in statement for name in ("Resource", "NotResource")):
            raise errors.MalformedPolicy("Missing required field Resource")
        for resource in _strings(statement.get("Resource", statement.get("NotResource"))):
            if not _in_bucket(resource, bucket):
                raise errors.MalformedPolicy("Policy has invalid resource")
    return document


def is_public_policy(document: dict[str, Any]) -> bool:
    """Whether a policy grants access to anyone: an Allow statement whose principal is
    ``*`` (or ``{"AWS": "*"}``) with no Condition to narrow it, as S3 judges "public"
    for Block Public Access and GetBucketPolicyStatus."""
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements or []:
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("AWS")
        if "*" in _strings(principal):
            return True
    return False


def check_public_access_block(config: dict[str, Any]) -> dict[str, bool]:
    """A PublicAccessBlockConfiguration as S3 keeps it: the four settings, false unless
    given."""
    return {name: bool(config.get(name, False)) for name in PUBLIC_ACCESS_BLOCK_DEFAULT}


def check_ownership(controls: dict[str, Any]) -> str:
    """The ObjectOwnership of an OwnershipControls document.

    Raises:
        MalformedXML: not exactly one rule, or a value S3 does not know.
    """
    rules = controls.get("Rules") or []
    if len(rules) != 1 or rules[0].get("ObjectOwnership") not in OWNERSHIP_VALUES:
        raise errors.MalformedXML()
    return rules[0]["ObjectOwnership"]


def check_cors(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules of a CORSConfiguration, checked as S3 checks them.

    Raises:
        MalformedXML: no rules, or more than 100;
        InvalidRequest: a method S3 does not allow, or an origin with two wildcards.
    """
    rules = config.get("CORSRules") or []
    if not rules or len(rules) > MAX_CORS_RULES:
        raise errors.MalformedXML()
    for rule in rules:
        if not rule.get("AllowedMethods") or not rule.get("AllowedOrigins"):
            raise errors.MalformedXML()
        for method in rule["AllowedMethods"]:
            if method not in CORS_METHODS:
                raise errors.InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for origin in rule["AllowedOrigins"]:
            if origin.count("*") > 1:
                raise errors.InvalidRequest(
                    f'AllowedOrigin "{origin}" can not have more than one wildcard.'
                )
        if len(rule.get("ID", "")) > MAX_RULE_ID:
            raise errors.InvalidArgument(
                "ID length should not exceed allowed limit of 255", "ID", rule["ID"]
            )
    return rules


def check_lifecycle(config: dict[str, Any], new_id) -> list[dict[str, Any]]:
    """The rules of a BucketLifecycleConfiguration, checked as S3 checks them; a rule
    without an ID gets one from ``new_id()``, as S3 names it.

    Raises:
        MalformedXML: no rules or more than 1000, a Status other than Enabled/Disabled,
            a rule with both Prefix and Filter;
        InvalidArgument: an ID over 255 characters, two rules with one ID, an Expiration
            in days that is not positive;
        InvalidRequest: a rule with no action.
    """
    rules = config.get("Rules") or []
    if not rules or len(rules) > MAX_LIFECYCLE_RULES:
        raise errors.MalformedXML()
    seen: set[str] = set()
    out = []
    for given in rules:
        rule = dict(given)
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise errors.MalformedXML()
        if "Prefix" in rule and "Filter" in rule:
            raise errors.MalformedXML()
        rule_id = rule.get("ID") or new_id()
        rule["ID"] = rule_id
        if len(rule_id) > MAX_RULE_ID:
            raise errors.InvalidArgument(
                "ID length should not exceed allowed limit of 255", "ID", rule_id
            )
        if rule_id in seen:
            raise errors.InvalidArgument(
                "Rule ID must be unique. Found same ID for more than one rule", "ID", rule_id
            )
        seen.add(rule_id)
        if not any(rule.get(action) for action in LIFECYCLE_ACTIONS):
            raise errors.InvalidRequest("At least one action needs to be specified in a rule")
        days = (rule.get("Expiration") or {}).get("Days")
        if days is not None and days <= 0:
            raise errors.InvalidArgument(
                "'Days' for Expiration action must be a positive integer", "Days", days
            )
        out.append(rule)
    return out


def owner_only(acl: str | None, grants: dict[str, Any], policy: dict | None, owner_id: str) -> bool:
    """Whether an ACL request grants nothing beyond the owner's FULL_CONTROL (what a
    bucket whose ACLs are disabled still accepts): the canned ``private`` or
    ``bucket-owner-full-control``, no Grant* header, and an AccessControlPolicy (if any)
    whose only grant is the owner's FULL_CONTROL."""
    if acl not in (None, "private", "bucket-owner-full-control"):
        return False
    if any(grants.values()):
        return False
    if policy is not None:
        for grant in policy.get("Grants") or []:
            grantee = grant.get("Grantee") or {}
            if grant.get("Permission") != "FULL_CONTROL" or grantee.get("ID") != owner_id:
                return False
    return True


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _in_bucket(resource: str, bucket: str) -> bool:
    """Whether ``resource`` is an ARN of ``bucket`` or of objects in it (wildcards
    allowed after the bucket's name)."""
    prefix = "arn:aws:s3:::"
    if not resource.startswith(prefix):
        return False
    name = resource[len(prefix) :].split("/", 1)[0]
    return name == bucket or (name.endswith("*") and bucket.startswith(name[:-1]))
