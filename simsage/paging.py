"""Paging and filtering for every List/Describe call that answers a ``NextToken``.

Layer: shared by the services (below them, above nothing but the errors).

Tokens are keyset positions: a token names the sort key of the last item a page
ended on, and the next page starts strictly after it. So items created or deleted
between two calls never make a page repeat or skip an item that was there before
(an offset would shift). The token is opaque to callers (base64 of JSON) and is
checked: one simsage did not make, or made for another listing (another resource kind,
another sort, another resource's tags), is refused with the caller's error. This is the
one token format of every simsage List call that answers a ``NextToken`` (SageMaker's,
and CloudWatch Logs' ``nextToken`` with Logs' own error); S3's continuation tokens are
S3's own (:mod:`simsage.s3.shapes`: a key, as S3 answers ``InvalidArgument``).

:func:`list_page` is the SageMaker List* semantics (ListTrainingJobs, ListModels,
ListEndpoints …). As AWS documents for ListTrainingJobs ("the MaxResults number of
training jobs are first retrieved ignoring the StatusEquals parameter and then they
are filtered by the StatusEquals parameter") and as SageMaker answers every List of
this family (boto3 issues 2521, 2838, 2973, 4020: a NameContains page can be short or
empty while a NextToken is still returned), ``NameContains`` and ``StatusEquals`` filter
a page *after* it was cut at ``MaxResults`` items of the sorted resources; the time
bounds (``CreationTimeAfter`` …) select the resources before. Callers that page until
no NextToken is returned (boto3's paginators) see every match exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from simsage.errors import AWSError, ValidationException
from simsage.ids import from_epoch

T = TypeVar("T")

DEFAULT_MAX_RESULTS = 10


def encode_token(position: Sequence[Any]) -> str:
    """An opaque token for ``position`` (a JSON-able sequence)."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def decode_token(token: str, error: Callable[[str], AWSError]) -> list[Any]:
    """The position a token of :func:`encode_token` names.

    Raises:
        the ``error(message)`` of the caller's service: a token simsage did not make.
    """
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, list):
        raise error(f"Invalid pagination token: {token}")
    return position


def keyset_page(
    items: Sequence[T],
    key: Callable[[T], Sequence[Any]],
    limit: int,
    token: str | None,
    error: Callable[[str], AWSError],
    *,
    descending: bool = False,
    scope: Sequence[Any] = (),
) -> tuple[list[T], str | None]:
    """One page of ``items`` (already sorted by ``key``, descending if so) and the token
    of the next one (None on the last page).

    Args:
        key: a total order (ties broken, e.g. by name), JSON-able values.
        token: the previous page's token, or None for the first page.
        error: the service's error for a bad token.
        scope: what else the token must agree with (e.g. the sort); a token made for
            another scope is refused.
    """
    start = 0
    if token:
        position = decode_token(token, error)
        scope = list(scope)
        if position[: len(scope)] != scope:
            raise error(f"Invalid pagination token: {token}")
        last = position[len(scope) :]
        start = len(items)
        try:
            for i, item in enumerate(items):
                mine = list(key(item))
                if (mine < last) if descending else (mine > last):
                    start = i
                    break
        except TypeError:  # a token of another shape
            raise error(f"Invalid pagination token: {token}") from None
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    next_token = encode_token([*scope, *key(page[-1])]) if more and page else None
    return page, next_token


@dataclass(frozen=True)
class Listing:
    """How one SageMaker List operation reads its resources.

    Attributes:
        name, created: the resource's name and creation time (epoch seconds).
        modified: its last-modified time, for ``LastModifiedTime*`` bounds.
        status: its status, for ``StatusEquals`` and ``SortBy=Status``.
    """

    name: Callable[[Any], str]
    created: Callable[[Any], float]
    modified: Callable[[Any], float] | None = None
    status: Callable[[Any], str] | None = None


def list_page(
    items: Sequence[T],
    params: dict[str, Any],
    listing: Listing,
    *,
    also: Callable[[T], bool] | None = None,
    kind: str = "",
) -> tuple[list[T], str | None]:
    """Select, sort, page and filter ``items`` as SageMaker's List* calls do.

    Args:
        items: every resource of the kind.
        params: the request: CreationTimeAfter/Before, LastModifiedTimeAfter/Before
            (select), SortBy (Name | CreationTime | Status; default CreationTime),
            SortOrder (default Descending), MaxResults (default 10), NextToken (page),
            NameContains, StatusEquals (filter the page).
        also: another filter of the page (an operation's own ``…Equals`` members).
        kind: what is listed (``model`` …): a token of another listing is refused.

    Returns:
        The page's matching items, and the token for the next page (None on the last).

    Raises:
        ValidationException: a NextToken simsage did not make for this sort.
    """
    bounds = []
    for member, of, after in (
        ("CreationTimeAfter", listing.created, True),
        ("CreationTimeBefore", listing.created, False),
        ("LastModifiedTimeAfter", listing.modified, True),
        ("LastModifiedTimeBefore", listing.modified, False),
    ):
        if params.get(member) is not None and of is not None:
            # imported here: botocore.utils costs ~0.18 s, and job runners import this
            # module (through the stores) but never list
            from botocore.utils import parse_to_aware_datetime

            bounds.append((of, parse_to_aware_datetime(params[member]), after))
    # Compared as the datetimes callers see (a describe's CreationTime given back as a
    # bound must exclude its own resource), not as the stored floats.
    chosen = [
        item
        for item in items
        if all(
            (from_epoch(of(item)) > t) if after else (from_epoch(of(item)) < t)
            for of, t, after in bounds
        )
    ]
    sort_by = params.get("SortBy", "CreationTime")
    order = params.get("SortOrder", "Descending")
    key = _sort_key(sort_by, listing)
    descending = order == "Descending"
    chosen.sort(key=key, reverse=descending)
    page, token = keyset_page(
        chosen,
        key,
        params.get("MaxResults", DEFAULT_MAX_RESULTS),
        params.get("NextToken"),
        ValidationException,
        descending=descending,
        scope=(kind, sort_by, order),
    )
    contains = params.get("NameContains")
    status = params.get("StatusEquals")
    page = [
        item
        for item in page
        if (contains is None or contains.lower() in listing.name(item).lower())
        and (status is None or listing.status is None or listing.status(item) == status)
        and (also is None or also(item))
    ]
    return page, token


def _sort_key(sort_by: str, listing: Listing) -> Callable[[Any], tuple]:
    name, created, status = listing.name, listing.created, listing.status
    if sort_by == "Name":
        return lambda item: (name(item).lower(), name(item))
    if sort_by == "Status" and status is not None:
        return lambda item: (status(item), created(item), name(item))
    return lambda item: (created(item), name(item))
