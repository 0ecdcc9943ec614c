"""The registry of control-plane resources: one table per resource kind, read and
changed the same way for every kind (models, endpoint configurations, endpoints,
training jobs, transform jobs …).

Layer: store (below every concept; imports only the errors, the ids and the paging).

A :class:`Kind` says what a resource kind is on AWS: its ARN resource type, its table,
and the errors AWS answers when a name is taken or unknown. A :class:`ResourceTable`
holds the rows of one kind: ``name`` (the primary key, case-insensitive, as SageMaker
names are), ``arn``, ``region``, ``created`` and whatever columns the kind adds. A
concept declares its table by subclassing and saying how an item becomes a row and
back (:meth:`ResourceTable.to_row`, :meth:`ResourceTable.from_row`); the table does
create (refusing a taken name with the kind's own error), find/get, all, delete, plain
column updates and the List* page (filters, sorting, paging: :mod:`simsage.paging`).
A job kind's table is a :class:`JobTable`: its rows are a dataclass, and its status moves
only forward (``InProgress``/``Stopping`` until the job ends).

Every kind declared here can be tagged: :func:`resource_exists` answers whether an ARN
names a resource of any kind (AddTags, ListTags and DeleteTags ask it).

Invariants: a row is written whole in one transaction or not at all; a name is taken
by one resource at a time whatever its case; ARNs carry the name in lower case, as
SageMaker's do.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from simsage.errors import AWSError, ClientFault, ValidationException
from simsage.ids import arn as make_arn
from simsage.paging import Listing, list_page

T = TypeVar("T")


class ResourceInUse(ClientFault):
    """SageMaker's answer to a job name already taken."""

    code = "ResourceInUse"


class ResourceLimitExceeded(ClientFault):
    """SageMaker's answer to more of something than allowed (tags, instances …)."""

    code = "ResourceLimitExceeded"


@dataclass(frozen=True)
class Kind:
    """One kind of control-plane resource.

    Attributes:
        arn_type: the ARN's resource type (``training-job``, ``endpoint-config`` …).
        table: the registry table holding its rows.
        taken: the error AWS answers a Create whose name is taken, given the ARN of
            the resource that holds it.
        missing: the error AWS answers for an unknown name, given the name and its
            ARN (None where the caller's region is not known).
        service: the ARN's service.
    """

    arn_type: str
    table: str
    taken: Callable[[str], AWSError]
    missing: Callable[[str, str | None], AWSError]
    service: str = "sagemaker"

    def arn(self, region: str, account_id: str, name: str) -> str:
        """The ARN of resource ``name`` (SageMaker lowercases the name in it)."""
        return make_arn(self.service, region, account_id, f"{self.arn_type}/{name.lower()}")

    def not_found(self, name: str, region: str | None = None, account_id: str | None = None):
        """The error for an unknown ``name`` (in ``region`` and account, when known)."""
        where = None
        if region is not None and account_id is not None:
            where = self.arn(region, account_id, name)
        return self.missing(name, where)


# ARN resource type -> kind, filled as the concepts declare their tables.
_KINDS: dict[str, Kind] = {}


def declare(kind: Kind) -> Kind:
    """Register ``kind`` (its resources become taggable) and return it."""
    _KINDS[kind.arn_type] = kind
    return kind


def kinds() -> list[Kind]:
    return list(_KINDS.values())


def kind_of(resource_arn: str) -> Kind | None:
    """The kind an ARN names (``arn:aws:sagemaker:…:model/x`` → the model kind), or None."""
    if resource_arn.count(":") < 5:
        return None
    resource = resource_arn.split(":", 5)[-1]
    return _KINDS.get(resource.split("/", 1)[0])


def resource_exists(db, resource_arn: str) -> bool:
    """Whether ``resource_arn`` (any case) names an existing resource of a declared kind."""
    kind = kind_of(resource_arn)
    if kind is None:
        return False
    row = db.query_one(f"SELECT 1 FROM {kind.table} WHERE lower(arn) = lower(?)", (resource_arn,))
    return row is not None


def already_exists(label: str) -> Callable[[str], AWSError]:
    """The Create error of the hosting resources: ``Cannot create already existing
    model "arn…"`` (a ValidationException)."""
    return lambda taken: ValidationException(f'Cannot create already existing {label} "{taken}".')


def could_not_find(label: str) -> Callable[[str, str | None], AWSError]:
    """The unknown-name error of the hosting resources: ``Could not find model "arn…"``."""
    return lambda name, where: ValidationException(f'Could not find {label} "{where or name}".')


def job_name_taken(label: str) -> Callable[[str], AWSError]:
    """The Create error of the jobs: ``Training job names must be unique …`` (a
    ResourceInUse naming the job that holds the name)."""
    return lambda taken: ResourceInUse(
        f"{label.capitalize()} names must be unique within an AWS account and region, and a "
        f"{label} with this name already exists ({taken})"
    )


def requested_not_found(name: str, where: str | None) -> AWSError:
    """The unknown-name error of the jobs (DescribeTrainingJob …)."""
    return ValidationException("Requested resource not found.")


class ResourceTable(Generic[T]):
    """The rows of one resource kind in one home's registry.

    Subclasses set ``kind`` and ``columns`` (``name`` first; ``arn``, ``region`` and
    ``created`` among them), name the columns stored as JSON in ``json_columns``, and
    implement :meth:`to_row` and :meth:`from_row`.
    """

    kind: ClassVar[Kind]
    columns: ClassVar[tuple[str, ...]]
    json_columns: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, home) -> None:
        self.db = home.db
        self.clock = home.clock

    # -- what a subclass says ------------------------------------------------------
    def to_row(self, item: T) -> Sequence[Any]:
        """The values of ``columns`` for ``item`` (JSON columns as Python values)."""
        raise NotImplementedError

    def from_row(self, row: Sequence[Any]) -> T:
        """The item of a row (JSON columns already decoded)."""
        raise NotImplementedError

    # -- SQL -------------------------------------------------------------------------
    @property
    def table(self) -> str:
        return self.kind.table

    @property
    def select(self) -> str:
        """``SELECT <columns> FROM <table>``, for a subclass's own queries."""
        return f"SELECT {', '.join(self.columns)} FROM {self.table}"

    def decode(self, row: Sequence[Any]) -> T:
        """The item of a raw row (decoding its JSON columns)."""
        values = list(row)
        for i, column in enumerate(self.columns):
            if column in self.json_columns and values[i] is not None:
                values[i] = json.loads(values[i])
        return self.from_row(values)

    def encode(self, column: str, value: Any) -> Any:
        return json.dumps(value) if column in self.json_columns else value

    # -- create, read, delete ----------------------------------------------------------
    def insert(self, item: T) -> bool:
        """Insert a new resource; False if its name (any case) is taken."""
        values = [self.encode(c, v) for c, v in zip(self.columns, self.to_row(item), strict=True)]
        with self.db.write() as conn:
            if conn.execute(f"SELECT 1 FROM {self.table} WHERE name = ?", (values[0],)).fetchone():
                return False
            conn.execute(
                f"INSERT INTO {self.table} ({', '.join(self.columns)}) "
                f"VALUES ({', '.join('?' * len(self.columns))})",
                values,
            )
        return True

    def create(self, item: T) -> T:
        """Insert a new resource, or raise the kind's error naming the one that holds
        its name (any case)."""
        if not self.insert(item):
            name = self.to_row(item)[0]
            row = self.db.query_one(f"SELECT arn FROM {self.table} WHERE name = ?", (name,))
            raise self.kind.taken(row[0] if row else self.to_row(item)[self.columns.index("arn")])
        return item

    def find(self, name: str) -> T | None:
        """The resource called ``name`` (any case), or None."""
        row = self.db.query_one(f"{self.select} WHERE name = ?", (name,))
        return None if row is None else self.decode(row)

    def get(self, name: str, region: str | None = None, account_id: str | None = None) -> T:
        """The resource called ``name`` (any case).

        Raises:
            the kind's unknown-name error (naming the ARN in ``region`` when given).
        """
        item = self.find(name)
        if item is None:
            raise self.kind.not_found(name, region, account_id)
        return item

    def all(self) -> list[T]:
        """Every resource of the kind, oldest first."""
        return [self.decode(row) for row in self.db.query(f"{self.select} ORDER BY created")]

    def where(self, condition: str, args: Sequence[Any] = ()) -> list[T]:
        """The resources a SQL ``condition`` on the columns selects, oldest first."""
        rows = self.db.query(f"{self.select} WHERE {condition} ORDER BY created", args)
        return [self.decode(row) for row in rows]

    def delete(self, name: str) -> bool:
        """Remove the resource; False if there was none."""
        with self.db.write() as conn:
            cursor = conn.execute(f"DELETE FROM {self.table} WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def set(self, conn, name: str, values: dict[str, Any]) -> None:
        """Set columns of ``name`` inside the caller's write transaction ``conn``."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(
            f"UPDATE {self.table} SET {assignments} WHERE name = ?",
            (*(self.encode(c, v) for c, v in values.items()), name),
        )

    # -- List* -------------------------------------------------------------------------
    def page(
        self,
        params: dict[str, Any],
        listing: Listing,
        *,
        items: list[T] | None = None,
        also: Callable[[T], bool] | None = None,
    ) -> tuple[list[T], str | None]:
        """One page of a List* call over ``items`` (default: every resource), with
        SageMaker's filters, sorting and token (:func:`simsage.paging.list_page`)."""
        chosen = self.all() if items is None else items
        return list_page(chosen, params, listing, also=also, kind=self.kind.arn_type)


ACTIVE_STATUSES = ("InProgress", "Stopping")  # a job's statuses before it ends


class JobTable(ResourceTable[T]):
    """The rows of a job kind (processing, transform, tuning jobs …): one dataclass per
    row, ``record``, whose fields are the columns in order, with a ``status`` column that
    only moves forward.

    Subclasses set ``kind``, ``record`` and ``json_columns``. Jobs are ``InProgress`` or
    ``Stopping`` until they end; :meth:`transition` takes the statuses a change may
    leave, so a finished job is never moved back, and every change stamps ``modified``.
    """

    record: ClassVar[type]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "record" in cls.__dict__:
            cls.columns = tuple(f.name for f in dataclasses.fields(cls.record))

    def to_row(self, job: T) -> tuple:
        return tuple(getattr(job, column) for column in self.columns)

    def from_row(self, row: Sequence[Any]) -> T:
        return self.record(*row)

    def unfinished(self) -> list[T]:
        """The jobs that have not ended yet, oldest first."""
        return self.where(f"status IN {ACTIVE_STATUSES!r}")

    def status(self, name: str) -> str:
        """The job's status now (one column read: runners ask it often)."""
        row = self.db.query_one(f"SELECT status FROM {self.table} WHERE name = ?", (name,))
        if row is None:
            raise self.kind.not_found(name)
        return row[0]

    def update(self, name: str, **fields: Any) -> None:
        """Set plain fields (no status change)."""
        self.transition(name, None, None, **fields)

    def transition(
        self, name: str, status: str | None, only_from: tuple[str, ...] | None, **fields: Any
    ) -> bool:
        """Move to ``status`` (None keeps it) and set ``fields``.

        With ``only_from``, the change happens only if the current status is one of
        them (returns False otherwise), so a finished job is never moved back.
        """
        values: dict[str, Any] = {"modified": self.clock.time(), **fields}
        if status is not None:
            values["status"] = status
        with self.db.write() as conn:
            row = conn.execute(
                f"SELECT status FROM {self.table} WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise self.kind.not_found(name)
            if only_from is not None and row[0] not in only_from:
                return False
            self.set(conn, name, values)
        return True


class BodyTable(ResourceTable[T]):
    """A kind stored as its name, ARN, region and creation time in columns of their own
    and every other field of its dataclass (``item``) in one JSON ``body`` column.

    A subclass sets ``kind`` and ``item`` and, where the body holds nested records,
    rebuilds them in :meth:`from_body`. Fields a body holds that ``item`` no longer has
    (rows written by an older simsage) are read past.
    """

    columns = ("name", "arn", "region", "body", "created")
    json_columns = frozenset({"body"})
    item: ClassVar[type]
    _KEYED = ("name", "arn", "region", "created")

    def to_row(self, item: T) -> Sequence[Any]:
        body = dataclasses.asdict(item)
        for key in self._KEYED:
            del body[key]
        return item.name, item.arn, item.region, body, item.created

    def from_row(self, row: Sequence[Any]) -> T:
        name, arn, region, body, created = row
        return self.item(
            name=name,
            arn=arn,
            region=region,
            created=created,
            **self.from_body(known_fields(self.item, body)),
        )

    def from_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The item's other fields from a stored body (nested records rebuilt here)."""
        return body


def known_fields(record: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the keys dataclass ``record`` has no field of."""
    names = {f.name for f in dataclasses.fields(record)}
    return {k: v for k, v in values.items() if k in names}


def list_answer(member: str, entries: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """A List* answer: the summaries under ``member`` and the NextToken of a next page."""
    out: dict[str, Any] = {member: entries}
    if token:
        out["NextToken"] = token
    return out


# The listing every resource with a status and a last-modified time shares.
STATUS_LISTING = Listing(
    name=lambda r: r.name,
    created=lambda r: r.created,
    modified=lambda r: r.modified,
    status=lambda r: r.status,
)
# The listing of resources with a name and a creation time only.
NAME_LISTING = Listing(name=lambda r: r.name, created=lambda r: r.created)
