"""IAM roles in the registry: one row per (account, role name).

Layer: the store of :mod:`simsage.iam`; self-contained (a row holds the role's fields as
JSON) so it can move onto the shared resource-registry helper unchanged in behaviour.

IAM role names are unique regardless of case and are looked up regardless of case
(``GetRole(RoleName="sagemakerrole")`` finds ``SageMakerRole``), hence ``COLLATE NOCASE``.
IAM is global: a role has no region, and its ARN none either.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from simsage.ids import from_epoch
from simsage.store.db import register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS iam_roles (
        account TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE, body TEXT NOT NULL,
        PRIMARY KEY (account, name)) WITHOUT ROWID
    """
)


@dataclass
class Role:
    """A role as IAM keeps it. ``trust_policy`` is the document exactly as the caller
    sent it (IAM answers it URL-encoded; botocore decodes it into a dict)."""

    name: str
    account: str
    role_id: str
    path: str
    trust_policy: str
    created: float
    description: str | None = None
    max_session_duration: int = 3600
    permissions_boundary: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    # ARNs of the managed policies attached to the role, in the order they were attached.
    attached_policies: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    def describe(self, *, full: bool = True) -> dict[str, Any]:
        """The ``Role`` shape. ListRoles leaves out the tags, the permissions boundary and
        RoleLastUsed, as IAM does (``full=False``)."""
        out: dict[str, Any] = {
            "Path": self.path,
            "RoleName": self.name,
            "RoleId": self.role_id,
            "Arn": self.arn,
            "CreateDate": from_epoch(self.created),
            "AssumeRolePolicyDocument": quote(self.trust_policy, safe=""),
            "MaxSessionDuration": self.max_session_duration,
        }
        if self.description is not None:
            out["Description"] = self.description
        if full:
            if self.permissions_boundary is not None:
                out["PermissionsBoundary"] = {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": self.permissions_boundary,
                }
            if self.tags:
                out["Tags"] = [dict(tag) for tag in self.tags]
            out["RoleLastUsed"] = {}
        return out


class RoleStore:
    """Reads and writes the roles of one home."""

    def __init__(self, db) -> None:
        self.db = db

    def insert(self, role: Role) -> bool:
        """Store a new role; False if the account already has one of that name (any case)."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO iam_roles (account, name, body) VALUES (?, ?, ?)",
                    (role.account, role.name, _body(role)),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def update(self, role: Role) -> bool:
        """Store a role's changed fields; False if it no longer exists."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE iam_roles SET body = ? WHERE account = ? AND name = ?",
                (_body(role), role.account, role.name),
            )
            return cursor.rowcount == 1

    def get(self, account: str, name: str) -> Role | None:
        row = self.db.query_one(
            "SELECT name, body FROM iam_roles WHERE account = ? AND name = ?", (account, name)
        )
        return None if row is None else _role(account, row)

    def all(self, account: str) -> list[Role]:
        """Every role of ``account``, by name regardless of case (IAM's listing order)."""
        rows = self.db.query(
            "SELECT name, body FROM iam_roles WHERE account = ? ORDER BY name", (account,)
        )
        return [_role(account, row) for row in rows]

    def delete(self, account: str, name: str) -> bool:
        with self.db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM iam_roles WHERE account = ? AND name = ?", (account, name)
            )
            return cursor.rowcount == 1


def _body(role: Role) -> str:
    body = asdict(role)
    del body["name"], body["account"]
    return json.dumps(body)


def _role(account: str, row: tuple) -> Role:
    name, body = row
    return Role(name=name, account=account, **json.loads(body))
