"""Hosting: the SageMaker resources behind real-time inference.

Layer: control plane. :mod:`simsage.hosting.models` holds models (CreateModel …),
:mod:`simsage.hosting.endpoint_configs` endpoint configurations. Each resource is a
snake_case dataclass with an explicit ``describe()``; the request handlers translate
between those and the PascalCase wire shapes.

Invariants:
- names are unique per home regardless of case (the registry column is ``NOCASE``),
  while describe echoes the case the caller created the resource with;
- ARNs carry the lowercased name, as SageMaker's do.

This module holds only the listing helpers both resources share (filters, sort and
pagination tokens), so the submodules can import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from simsage.ids import from_epoch
from simsage.paging import make_token, read_token

T = TypeVar("T")

DEFAULT_MAX_RESULTS = 10


def list_page(
    items: Sequence[T],
    params: dict[str, Any],
    name_of: Callable[[T], str],
    created_of: Callable[[T], float],
    other_sorts: dict[str, Callable[[T], Any]] | None = None,
) -> tuple[list[T], str | None]:
    """Filter, sort and page ``items`` as SageMaker's List* calls on named resources do.

    Args:
        items: every resource of the kind.
        params: the request (NameContains, CreationTimeAfter/Before, SortBy Name|
            CreationTime, SortOrder, MaxResults, NextToken).
        name_of, created_of: the resource's name and creation time (epoch seconds).
        other_sorts: sort keys for other SortBy values (e.g. ``Status``).

    Returns:
        The page, and the token for the next one (None on the last page).

    Raises:
        ValidationException: a NextToken simsage did not make.
    """
    contains = params.get("NameContains")
    after, before = params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
    chosen = [
        item
        for item in items
        if (contains is None or contains.lower() in name_of(item).lower())
        and (after is None or from_epoch(created_of(item)) > after)
        and (before is None or from_epoch(created_of(item)) < before)
    ]
    sort_by = params.get("SortBy", "CreationTime")
    if sort_by == "Name":
        chosen.sort(key=lambda item: name_of(item).lower())
    elif other_sorts and sort_by in other_sorts:
        chosen.sort(key=other_sorts[sort_by])
    else:
        chosen.sort(key=created_of)
    if params.get("SortOrder", "Descending") == "Descending":
        chosen.reverse()
    start = read_token(params.get("NextToken"))
    limit = params.get("MaxResults", DEFAULT_MAX_RESULTS)
    token = make_token(start + limit) if start + limit < len(chosen) else None
    return list(chosen[start : start + limit]), token
