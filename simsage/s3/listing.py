"""The walk over keys that ListObjects (V1 and V2) and ListObjectVersions share: rows in
key order under a prefix, rolled up into common prefixes at a delimiter, cut at MaxKeys.

Layer: s3 state (no wire format). The caller supplies the rows: ``fetch(lower,
inclusive, limit)`` returns at most ``limit`` rows (tuples whose first item is the key)
from ``lower`` on (``>=`` when ``inclusive``, else ``>``), below the prefix's upper bound,
in the listing's order (UTF-8 byte order of the key, the index's ``ORDER BY``). A common
prefix counts as one entry against MaxKeys, as a row does; once one is met, the next
fetch starts past every key it rolls up, so a page costs a query per common prefix, not
a row per key under it. Rows come back in the lists ``fetch`` returned (sliced), never
one at a time: a page of a thousand objects is one list, built into the answer at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from simsage.s3.names import prefix_upper_bound

Fetch = Callable[[str, bool, int], list[tuple]]


class KeyWalk:
    """One page of a listing: iterate it for ``(rows, common_prefix)`` pairs in listing
    order (each run of rows is followed by the common prefix that ended it, or None at
    the end), then read :attr:`truncated`.

    Args:
        fetch: the rows from a lower bound on (see the module docstring).
        prefix: the listing's prefix (``""`` for all keys).
        delimiter: the roll-up delimiter (``""``: none).
        lower, inclusive: where the page starts. An exclusive start that is itself one
            of this listing's common prefixes (a page ended on it) starts past every key
            it rolls up, so they are not listed again.
        max_keys: the most entries (rows and common prefixes) the page holds.
    """

    def __init__(
        self,
        fetch: Fetch,
        prefix: str,
        delimiter: str,
        lower: str,
        inclusive: bool,
        max_keys: int,
    ) -> None:
        self._fetch = fetch
        self._prefix = prefix
        self._delimiter = delimiter
        self._lower = lower
        self._inclusive = inclusive
        self._max_keys = max_keys
        self.truncated = False  # set once the walk has met an entry past max_keys

    def _rolls_up(self, key: str) -> bool:
        """Whether ``key`` is a common prefix of this listing."""
        rest = key[len(self._prefix) :] if key.startswith(self._prefix) else ""
        # (an empty rest is the key equal to the prefix: an object, not a roll-up)
        return rest.endswith(self._delimiter) and rest.find(self._delimiter) == len(rest) - len(
            self._delimiter
        )

    def __iter__(self) -> Iterator[tuple[list[tuple], str | None]]:
        delimiter, start, left = self._delimiter, len(self._prefix), self._max_keys
        lower, inclusive = self._lower, self._inclusive
        if left <= 0:
            return
        if delimiter and not inclusive and self._rolls_up(lower):
            lower, inclusive = prefix_upper_bound(lower), True
            if lower is None:
                return
        while True:
            rows = self._fetch(lower, inclusive, left + 1)  # one more: is there a next page?
            if not delimiter:
                if len(rows) > left:
                    self.truncated = True
                    del rows[left:]
                yield rows, None
                return
            for index, row in enumerate(rows):
                if index == left:
                    self.truncated = True
                    yield rows[:index], None
                    return
                cut = row[0].find(delimiter, start)
                if cut >= 0:
                    common = row[0][: cut + len(delimiter)]
                    left -= index + 1
                    yield rows[:index], common
                    lower, inclusive = prefix_upper_bound(common), True
                    if lower is None:
                        return
                    break  # fetch again past every key the common prefix rolls up
            else:
                yield rows, None
                return
