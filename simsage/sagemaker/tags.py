"""Tags on the SageMaker resources simsage makes (AddTags, ListTags, DeleteTags)."""

from __future__ import annotations

from typing import Any

from simsage.errors import ValidationException
from simsage.paging import keyset_page
from simsage.store.db import register_schema
from simsage.store.registry import ResourceLimitExceeded, resource_exists
from simsage.transport import Request

MAX_TAGS = 50

register_schema(
    """
    CREATE TABLE IF NOT EXISTS sm_tags (
        arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, position INTEGER NOT NULL,
        PRIMARY KEY (arn, key)) WITHOUT ROWID
    """
)


class TagsAPI:
    OPERATIONS = ("add_tags", "list_tags", "delete_tags")

    def __init__(self, home) -> None:
        self.db = home.db

    def set(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Add or replace tags on ``arn`` (used by Create* calls and AddTags)."""
        with self.db.write() as conn:
            (count,) = conn.execute("SELECT count(*) FROM sm_tags WHERE arn = ?", (arn,)).fetchone()
            for tag in tags:
                count += 1
                conn.execute(
                    "INSERT INTO sm_tags (arn, key, value, position) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                    (arn, tag["Key"], tag.get("Value", ""), count),
                )
            (total,) = conn.execute("SELECT count(*) FROM sm_tags WHERE arn = ?", (arn,)).fetchone()
            if total > MAX_TAGS:
                raise ResourceLimitExceeded(f"A resource can have at most {MAX_TAGS} tags.")

    def forget(self, arn: str) -> None:
        """Drop every tag of a deleted resource, so a new one of the same name starts bare."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sm_tags WHERE arn = ?", (arn,))

    def get(self, arn: str) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for _, key, value in self._rows(arn)]

    def _rows(self, arn: str) -> list[tuple[int, str, str]]:
        return self.db.query(
            "SELECT position, key, value FROM sm_tags WHERE arn = ? ORDER BY position", (arn,)
        )

    def _require(self, arn: str) -> None:
        """Every resource kind of the registry (:mod:`simsage.store.registry`) is taggable."""
        if not resource_exists(self.db, arn):
            raise ValidationException(f"Resource {arn} not found.")

    def add_tags(self, request: Request) -> dict[str, Any]:
        arn, tags = request.params["ResourceArn"], request.params["Tags"]
        self._require(arn)
        self.set(arn, tags)
        return {"Tags": tags}

    def list_tags(self, request: Request) -> dict[str, Any]:
        arn = request.params["ResourceArn"]
        self._require(arn)
        rows, token = keyset_page(
            self._rows(arn),
            lambda row: (row[0],),
            request.params.get("MaxResults", MAX_TAGS),
            request.params.get("NextToken"),
            ValidationException,
            scope=("tags", arn.lower()),  # a token of another resource's tags is refused
        )
        out: dict[str, Any] = {"Tags": [{"Key": key, "Value": value} for _, key, value in rows]}
        if token:
            out["NextToken"] = token
        return out

    def delete_tags(self, request: Request) -> dict[str, Any]:
        arn = request.params["ResourceArn"]
        self._require(arn)
        keys = request.params["TagKeys"]
        with self.db.write() as conn:
            conn.executemany(
                "DELETE FROM sm_tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys]
            )
        return {}
