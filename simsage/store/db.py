"""The SQLite registry: every resource simsage knows about, in one WAL database.

Invariants:
- one connection per thread (sqlite3 connections are not shared across threads) and
  per process (a forked child opens its own);
- writes run in ``BEGIN IMMEDIATE`` transactions, so writers from many threads and
  processes serialize on the database lock and readers never see half a change;
- each concept registers its own schema (``CREATE … IF NOT EXISTS``), applied once per
  process when the database is opened;
- a database SQLite finds damaged (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``) raises
  :class:`~simsage.store.errors.StoreDamaged`, which says how to repair it, wherever it
  is found: at open, in a query or inside a write block.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simsage.store.errors import index_damaged, is_damage

_SCHEMAS: list[str] = []
# Connections a forked child inherited from its parent (see Database.connection).
_inherited: list[threading.local] = []


def register_schema(ddl: str) -> None:
    """Add a concept's tables; applied by every :class:`Database` opened afterwards."""
    if ddl not in _SCHEMAS:
        _SCHEMAS.append(ddl)


def _configured(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a process crash; only the last
    # transactions may be lost on power failure, and the file stays consistent.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=60000")
    # Checkpoint (and fsync) the WAL every ~40 MB rather than every 4 MB: the
    # fsyncs of checkpoints were half the cost of a small write.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


class Database:
    """Thread-local connections to ``state.db`` with WAL and a generous busy timeout."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None = None) -> None:
        """Open ``path``; ``conn``, an autocommit connection to it made by this thread
        (the store-id check's), becomes this thread's connection rather than a second one."""
        self.path = path
        self._local = threading.local()
        self._pid = os.getpid()
        self._applied = 0
        self._schema_lock = threading.Lock()
        if conn is not None:
            self._local.conn = _configured(conn)
        try:
            self._ensure_schema(self.connection())
        except sqlite3.DatabaseError as exc:
            self._raise_if_damage(exc)
            raise

    def _raise_if_damage(self, exc: sqlite3.DatabaseError) -> None:
        if is_damage(exc):
            raise index_damaged(self.path.parent, exc) from exc

    def connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # A forked child must not use its parent's connections (SQLite forbids it:
            # the locks are per process). Forget them without closing (closing could
            # checkpoint or remove the WAL the parent is still using): kept referenced
            # here, they are never garbage-collected, hence never closed, in the child.
            _inherited.append(self._local)
            self._local = threading.local()
            self._schema_lock = threading.Lock()
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _configured(sqlite3.connect(self.path, isolation_level=None, timeout=60.0))
            self._local.conn = conn
        # Not inside an open transaction (a read made within a write block): the schema
        # gets its own transaction, on the next call outside it.
        if self._applied < len(_SCHEMAS) and not conn.in_transaction:
            self._ensure_schema(conn)
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        with self._schema_lock:
            if self._applied < len(_SCHEMAS):
                with self._transaction(conn):
                    for ddl in _SCHEMAS[self._applied :]:
                        for statement in ddl.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                self._applied = len(_SCHEMAS)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        try:
            with self._transaction(self.connection()) as conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            self._raise_if_damage(exc)
            raise

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (SQLITE_FULL, I/O errors): a second
            # ROLLBACK would raise and hide the real error. A failed COMMIT must not leave
            # the connection inside a transaction, or every later write would fail.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            self._raise_if_damage(exc)
            raise

    def query_one(self, sql: str, params: tuple | list = ()) -> tuple | None:
        try:
            return self.connection().execute(sql, params).fetchone()
        except sqlite3.DatabaseError as exc:
            self._raise_if_damage(exc)
            raise

    def add_columns(self, table: str, columns: dict[str, str], fill: str | None = None) -> None:
        """Give a table made by an older simsage the nullable ``columns`` (name: type)
        that its ``CREATE TABLE`` now has, and run ``fill`` (an UPDATE computing them
        from what the rows hold) in the same transaction. A no-op once they exist."""

        def missing(conn: sqlite3.Connection) -> list[str]:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            return [name for name in columns if name not in present]

        if not missing(self.connection()):
            return
        with self.write() as conn:  # another process may have added them meanwhile
            absent = missing(conn)
            for name in absent:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}")
            if absent and fill is not None:
                conn.execute(fill)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
