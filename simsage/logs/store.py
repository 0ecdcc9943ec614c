"""The log store: groups, streams and events in the registry.

Writers (job runners, endpoint instances) append through :class:`LogStore` directly;
readers use the ``logs`` API. Timestamps are milliseconds since the epoch, as in
CloudWatch. Events keep their insertion order (``id``), which is also the order
GetLogEvents pages through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from simsage.store.db import register_schema

log = logging.getLogger("simsage.logs")

register_schema(
    """
    CREATE TABLE IF NOT EXISTS log_groups (
        name TEXT PRIMARY KEY, created INTEGER NOT NULL, retention INTEGER);
    CREATE TABLE IF NOT EXISTS log_streams (
        grp TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        first_event INTEGER, last_event INTEGER, last_ingestion INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (grp, name)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS log_events (
        id INTEGER PRIMARY KEY, grp TEXT NOT NULL, stream TEXT NOT NULL,
        ts INTEGER NOT NULL, ingested INTEGER NOT NULL, message TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (grp, stream, id)
    """
)
register_schema(
    """
    CREATE TABLE IF NOT EXISTS log_group_tags (
        grp TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (grp, key)) WITHOUT ROWID
    """
)


@dataclass(frozen=True)
class LogGroup:
    name: str
    created: int
    retention: int | None
    stored_bytes: int


@dataclass(frozen=True)
class LogStream:
    group: str
    name: str
    created: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int


@dataclass(frozen=True)
class LogEvent:
    id: int
    stream: str
    timestamp: int
    ingested: int
    message: str


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class LogStore:
    """Reads and writes the log tables of one home."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.clock = home.clock

    # -- writing -------------------------------------------------------------------

    def ensure_stream(self, group: str, stream: str) -> None:
        """Create the group and the stream if they do not exist yet."""
        now = _ms(self.clock.time())
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)", (group, now)
            )
            conn.execute(
                "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                (group, stream, now),
            )

    def create_group(self, group: str, retention: int | None = None) -> bool:
        """Create a group; False if it already existed."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO log_groups (name, created, retention) VALUES (?, ?, ?)",
                (group, _ms(self.clock.time()), retention),
            )
            return cursor.rowcount == 1

    def create_stream(self, group: str, stream: str) -> bool:
        """Create a stream in an existing group; False if it already existed."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                (group, stream, _ms(self.clock.time())),
            )
            return cursor.rowcount == 1

    def append(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> int:
        """Append ``(timestamp_ms, message)`` events to an existing stream.

        Returns:
            The stream's sequence number after the append (the id of its last event;
            0 for a stream without events).
        """
        rows = [(group, stream, ts, message) for ts, message in events]
        if not rows:
            return self.sequence(group, stream)
        now = _ms(self.clock.time())
        size = sum(len(message.encode("utf-8", "replace")) + 26 for *_, message in rows)
        first, last = min(r[2] for r in rows), max(r[2] for r in rows)
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO log_events (grp, stream, ts, ingested, message) "
                "VALUES (?, ?, ?, ?, ?)",
                [(g, s, ts, now, m) for g, s, ts, m in rows],
            )
            conn.execute(
                "UPDATE log_streams SET first_event = min(coalesce(first_event, ?), ?), "
                "last_event = max(coalesce(last_event, ?), ?), last_ingestion = ?, "
                "stored_bytes = stored_bytes + ? WHERE grp = ? AND name = ?",
                (first, first, last, last, now, size, group, stream),
            )
            (sequence,) = conn.execute(
                "SELECT coalesce(max(id), 0) FROM log_events WHERE grp = ? AND stream = ?",
                (group, stream),
            ).fetchone()
        return sequence

    def sequence(self, group: str, stream: str) -> int:
        """The id of the stream's last event (0 if it has none)."""
        row = self.db.query_one(
            "SELECT coalesce(max(id), 0) FROM log_events WHERE grp = ? AND stream = ?",
            (group, stream),
        )
        return row[0]

    def set_retention(self, group: str, days: int | None) -> bool:
        """Set (or, with None, remove) the group's retention; False if it does not exist."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE log_groups SET retention = ? WHERE name = ?", (days, group)
            )
            return cursor.rowcount == 1

    def tags(self, group: str) -> dict[str, str]:
        rows = self.db.query(
            "SELECT key, value FROM log_group_tags WHERE grp = ? ORDER BY key", (group,)
        )
        return dict(rows)

    def tag(self, group: str, tags: dict[str, str], limit: int) -> int | None:
        """Add or replace tags of an existing group, unless that would leave more than
        ``limit``. Returns the number the group would have, or None (nothing changed)
        if it does not exist."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM log_groups WHERE name = ?", (group,)).fetchone() is None:
                return None
            existing = {
                k for (k,) in conn.execute("SELECT key FROM log_group_tags WHERE grp = ?", (group,))
            }
            total = len(existing | set(tags))
            if total <= limit:
                conn.executemany(
                    "INSERT INTO log_group_tags (grp, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (grp, key) DO UPDATE SET value = excluded.value",
                    [(group, k, v) for k, v in tags.items()],
                )
            return total

    def untag(self, group: str, keys: Iterable[str]) -> bool:
        """Remove tags of an existing group; False if it does not exist."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM log_groups WHERE name = ?", (group,)).fetchone() is None:
                return False
            conn.executemany(
                "DELETE FROM log_group_tags WHERE grp = ? AND key = ?",
                [(group, key) for key in keys],
            )
            return True

    def delete_group(self, group: str) -> bool:
        with self.db.write() as conn:
            conn.execute("DELETE FROM log_events WHERE grp = ?", (group,))
            conn.execute("DELETE FROM log_streams WHERE grp = ?", (group,))
            conn.execute("DELETE FROM log_group_tags WHERE grp = ?", (group,))
            return conn.execute("DELETE FROM log_groups WHERE name = ?", (group,)).rowcount == 1

    def delete_stream(self, group: str, stream: str) -> bool:
        with self.db.write() as conn:
            conn.execute("DELETE FROM log_events WHERE grp = ? AND stream = ?", (group, stream))
            cursor = conn.execute(
                "DELETE FROM log_streams WHERE grp = ? AND name = ?", (group, stream)
            )
            return cursor.rowcount == 1

    # -- reading -------------------------------------------------------------------

    def group(self, name: str) -> LogGroup | None:
        row = self.db.query_one(
            "SELECT g.name, g.created, g.retention, "
            "(SELECT coalesce(sum(stored_bytes), 0) FROM log_streams s WHERE s.grp = g.name) "
            "FROM log_groups g WHERE g.name = ?",
            (name,),
        )
        return LogGroup(*row) if row else None

    def groups(self, prefix: str = "") -> list[LogGroup]:
        rows = self.db.query(
            "SELECT g.name, g.created, g.retention, "
            "(SELECT coalesce(sum(stored_bytes), 0) FROM log_streams s WHERE s.grp = g.name) "
            "FROM log_groups g WHERE substr(g.name, 1, ?) = ? ORDER BY g.name",
            (len(prefix), prefix),
        )
        return [LogGroup(*row) for row in rows]

    def stream(self, group: str, name: str) -> LogStream | None:
        row = self.db.query_one(
            "SELECT grp, name, created, first_event, last_event, last_ingestion, stored_bytes "
            "FROM log_streams WHERE grp = ? AND name = ?",
            (group, name),
        )
        return LogStream(*row) if row else None

    def streams(self, group: str, prefix: str = "") -> list[LogStream]:
        rows = self.db.query(
            "SELECT grp, name, created, first_event, last_event, last_ingestion, stored_bytes "
            "FROM log_streams WHERE grp = ? AND substr(name, 1, ?) = ? ORDER BY name",
            (group, len(prefix), prefix),
        )
        return [LogStream(*row) for row in rows]

    def events(
        self,
        group: str,
        streams: list[str] | None = None,
        after_id: int = 0,
        before_id: int | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10000,
        newest: bool = False,
    ) -> list[LogEvent]:
        """Events of ``group`` (optionally only ``streams``) in insertion order.

        ``after_id``/``before_id`` bound the ids (exclusive); ``start``/``end`` the
        timestamps (start inclusive, end exclusive). With ``newest`` the last ``limit``
        matching events are returned (still in ascending order).
        """
        sql = "SELECT id, stream, ts, ingested, message FROM log_events WHERE grp = ? AND id > ?"
        params: list = [group, after_id]
        if streams is not None:
            sql += f" AND stream IN ({','.join('?' * len(streams))})"
            params += streams
        if before_id is not None:
            sql += " AND id < ?"
            params.append(before_id)
        if start is not None:
            sql += " AND ts >= ?"
            params.append(start)
        if end is not None:
            sql += " AND ts < ?"
            params.append(end)
        sql += f" ORDER BY id {'DESC' if newest else 'ASC'} LIMIT ?"
        params.append(limit)
        rows = self.db.query(sql, params)
        if newest:
            rows.reverse()
        return [LogEvent(*row) for row in rows]


class LogBuffer:
    """Log lines gathered from any thread and appended in batches: one transaction per
    stream per :meth:`flush` (a commit per line would cost more than the line).

    Job runners call :meth:`flush` from their own loop; a long-lived process (an
    endpoint's supervisor) calls :meth:`start` to flush in the background, where a
    failing write is reported and never raised.

    Parameters
    ----------
    store:
        The log store.
    group:
        The log group every line goes to; streams are created on first use.
    """

    def __init__(self, store: LogStore, group: str) -> None:
        self.store = store
        self.group = group
        self._pending: list[tuple[str, int, str]] = []  # (stream, ts, message)
        self._lock = threading.Lock()
        self._streams: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, stream: str, message: str, ts: float | None = None) -> None:
        """Queue ``message`` for ``stream`` (``ts`` in seconds; now by default)."""
        stamp = _ms(time.time() if ts is None else ts)
        with self._lock:
            self._pending.append((stream, stamp, message))

    def flush(self) -> None:
        """Append everything queued so far."""
        with self._lock:
            pending, self._pending = self._pending, []
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for stream, ts, message in pending:
            by_stream.setdefault(stream, []).append((ts, message))
        for stream, events in by_stream.items():
            if stream not in self._streams:
                self.store.ensure_stream(self.group, stream)
                self._streams.add(stream)
            self.store.append(self.group, stream, events)

    def start(self, interval: float) -> None:
        """Flush every ``interval`` seconds in a daemon thread until :meth:`close`."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self._flush_quietly()
            self._flush_quietly()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:  # logging must never take down what it logs
            log.warning("appending to log group %s failed", self.group, exc_info=True)

    def close(self) -> None:
        """Stop the background flushing (after a last flush)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
