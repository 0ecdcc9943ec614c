"""The resource registry's promises: a name is taken once whatever its case (and the
kind's own error names the holder), an unknown name is the kind's own error, rows
round-trip with their JSON columns, List pages carry tokens bound to the kind, and
every declared kind is taggable by ARN."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from types import SimpleNamespace

import pytest

from simsage.errors import ValidationException
from simsage.ids import Clock
from simsage.store import Database, registry
from simsage.store import db as db_module
from simsage.store.registry import (
    STATUS_LISTING,
    Kind,
    ResourceInUse,
    ResourceTable,
    job_name_taken,
    requested_not_found,
)

THING = Kind("thing", "things", job_name_taken("thing"), requested_not_found)
GADGET = Kind(
    "gadget", "gadgets", registry.already_exists("gadget"), registry.could_not_find("gadget")
)


@dataclass
class Thing:
    name: str
    arn: str
    region: str
    status: str
    spec: dict
    created: float
    modified: float


class Things(ResourceTable[Thing]):
    kind = THING
    columns = tuple(f.name for f in fields(Thing))
    json_columns = frozenset({"spec"})

    def to_row(self, thing: Thing) -> tuple:
        return tuple(getattr(thing, c) for c in self.columns)

    def from_row(self, row) -> Thing:
        return Thing(*row)


class Gadgets(Things):
    kind = GADGET


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(db_module, "_SCHEMAS", list(db_module._SCHEMAS))
    monkeypatch.setattr(registry, "_KINDS", {})
    for table in ("things", "gadgets"):
        db_module.register_schema(
            f"CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY COLLATE NOCASE, "
            "arn TEXT, region TEXT, status TEXT, spec TEXT, created REAL, modified REAL)"
        )
    registry.declare(THING)
    registry.declare(GADGET)
    database = Database(tmp_path / "state.db")
    yield SimpleNamespace(db=database, clock=Clock())
    database.close()


def thing(name: str, created: float, status: str = "InProgress") -> Thing:
    return Thing(
        name, THING.arn("us-east-1", "123456789012", name), "us-east-1", status, {"A": [1]},
        created, created,
    )  # fmt: skip


def test_a_name_is_taken_once_whatever_its_case(home):
    things = Things(home)
    things.create(thing("Alpha", 1.0))
    with pytest.raises(ResourceInUse) as caught:
        things.create(thing("ALPHA", 2.0))
    assert str(caught.value) == (
        "Thing names must be unique within an AWS account and region, and a thing with this "
        "name already exists (arn:aws:sagemaker:us-east-1:123456789012:thing/alpha)"
    )
    assert [t.name for t in things.all()] == ["Alpha"]
    assert things.get("alpha").spec == {"A": [1]}  # JSON columns round-trip


def test_unknown_names_are_the_kinds_own_errors(home):
    with pytest.raises(ValidationException, match="^Requested resource not found.$"):
        Things(home).get("nope")
    with pytest.raises(ValidationException) as caught:
        Gadgets(home).get("Nope", "eu-west-1", "111122223333")
    assert str(caught.value) == (
        'Could not find gadget "arn:aws:sagemaker:eu-west-1:111122223333:gadget/nope".'
    )
    assert Gadgets(home).delete("nope") is False


def test_updates_where_and_delete(home):
    things = Things(home)
    for i, name in enumerate(["a", "b", "c"]):
        things.create(thing(name, float(i)))
    with home.db.write() as conn:
        things.set(conn, "b", {"status": "Completed", "spec": {"B": True}})
    assert things.get("b").spec == {"B": True}
    assert [t.name for t in things.where("status = ?", ("InProgress",))] == ["a", "c"]
    assert things.delete("A") and things.find("a") is None


def test_pages_carry_tokens_bound_to_the_kind(home):
    things, gadgets = Things(home), Gadgets(home)
    for i, name in enumerate(["a", "b", "c"]):
        things.create(thing(name, float(i)))
        gadgets.create(thing(name, float(i)))
    page, token = things.page({"MaxResults": 2}, STATUS_LISTING)
    assert [t.name for t in page] == ["c", "b"] and token
    page, last = things.page({"MaxResults": 2, "NextToken": token}, STATUS_LISTING)
    assert [t.name for t in page] == ["a"] and last is None
    with pytest.raises(ValidationException, match="Invalid pagination token"):
        gadgets.page({"MaxResults": 2, "NextToken": token}, STATUS_LISTING)


def test_every_declared_kind_is_taggable_by_arn(home):
    Things(home).create(thing("a", 1.0))
    assert registry.resource_exists(home.db, THING.arn("us-east-1", "123456789012", "A"))
    assert not registry.resource_exists(home.db, THING.arn("us-east-1", "123456789012", "b"))
    assert not registry.resource_exists(home.db, "arn:aws:sagemaker:us-east-1:1:widget/a")
    assert registry.kind_of("arn:aws:sagemaker:us-east-1:1:gadget/x") is GADGET
