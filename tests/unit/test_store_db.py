"""The registry's promises: a write block commits whole or not at all, schemas
registered by concepts are applied to every database, connections are per thread
and per process."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from simsage.store import Database
from simsage.store import db as db_module


@pytest.fixture(autouse=True)
def private_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemas registered here must not leak into other tests' databases."""
    monkeypatch.setattr(db_module, "_SCHEMAS", list(db_module._SCHEMAS))
    db_module.register_schema("CREATE TABLE IF NOT EXISTS things (k TEXT PRIMARY KEY, v INT)")


@pytest.fixture
def database(tmp_path: Path):
    database = Database(tmp_path / "state.db")
    yield database
    database.close()


def test_database_is_in_wal_mode(database: Database):
    assert database.query_one("PRAGMA journal_mode") == ("wal",)


def test_write_commits_when_the_block_ends(database: Database, tmp_path: Path):
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('a', 1)")
        conn.execute("INSERT INTO things VALUES ('b', 2)")
    other = sqlite3.connect(tmp_path / "state.db")
    assert other.execute("SELECT k, v FROM things ORDER BY k").fetchall() == [("a", 1), ("b", 2)]
    other.close()


def test_write_rolls_back_everything_on_error(database: Database):
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('kept', 1)")
    with pytest.raises(RuntimeError), database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('lost', 2)")
        conn.execute("UPDATE things SET v = 99 WHERE k = 'kept'")
        raise RuntimeError("boom")
    assert database.query("SELECT k, v FROM things") == [("kept", 1)]
    # the connection is usable again
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('after', 3)")
    assert database.query_one("SELECT COUNT(*) FROM things") == (2,)


def test_a_failing_statement_rolls_back_and_keeps_its_own_error(database: Database):
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('a', 1)")
    with pytest.raises(sqlite3.IntegrityError), database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('b', 2)")
        conn.execute("INSERT INTO things VALUES ('a', 3)")  # duplicate key
    assert database.query("SELECT k FROM things") == [("a",)]
    assert not database.connection().in_transaction


def test_a_failed_commit_leaves_no_open_transaction(database: Database):
    # A deferred foreign key violation only fails at COMMIT.
    db_module.register_schema(
        "CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY);"
        "CREATE TABLE IF NOT EXISTS children (pid INTEGER REFERENCES parents(id) "
        "DEFERRABLE INITIALLY DEFERRED)"
    )
    conn = database.connection()
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError), database.write() as conn:
        conn.execute("INSERT INTO children VALUES (42)")
    assert not conn.in_transaction
    assert database.query("SELECT * FROM children") == []
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('still', 1)")
    assert database.query("SELECT k FROM things") == [("still",)]


def test_schemas_registered_later_are_applied_to_open_databases(database: Database):
    db_module.register_schema("CREATE TABLE IF NOT EXISTS late (x INT)")
    db_module.register_schema("CREATE TABLE IF NOT EXISTS late (x INT)")  # once only
    assert db_module._SCHEMAS.count("CREATE TABLE IF NOT EXISTS late (x INT)") == 1
    with database.write() as conn:
        conn.execute("INSERT INTO late VALUES (1)")
    assert database.query("SELECT x FROM late") == [(1,)]


def test_reopening_applies_schemas_idempotently(tmp_path: Path):
    first = Database(tmp_path / "state.db")
    with first.write() as conn:
        conn.execute("INSERT INTO things VALUES ('a', 1)")
    first.close()
    second = Database(tmp_path / "state.db")
    assert second.query("SELECT k FROM things") == [("a",)]
    second.close()


def test_each_thread_has_its_own_connection_and_writes_serialize(database: Database):
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('counter', 0)")
    connections, errors = set(), []

    def bump() -> None:
        try:
            connections.add(id(database.connection()))
            for _ in range(50):
                with database.write() as conn:
                    (value,) = conn.execute("SELECT v FROM things WHERE k = 'counter'").fetchone()
                    conn.execute("UPDATE things SET v = ? WHERE k = 'counter'", (value + 1,))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(connections) == 4
    assert database.query_one("SELECT v FROM things WHERE k = 'counter'") == (200,)


def _write_in_child(database: Database, queue) -> None:
    try:
        with database.write() as conn:
            conn.execute("INSERT INTO things VALUES ('from-child', 7)")
        queue.put("ok")
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(repr(exc))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(database: Database):
    parent_conn = database.connection()
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('from-parent', 1)")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_write_in_child, args=(database, queue))
    child.start()
    assert queue.get(timeout=30) == "ok"
    child.join(timeout=30)
    assert child.exitcode == 0
    assert database.connection() is parent_conn
    assert database.query("SELECT k FROM things ORDER BY k") == [
        ("from-child",),
        ("from-parent",),
    ]
    assert database.query_one("PRAGMA integrity_check") == ("ok",)


def test_a_schema_registered_during_a_write_waits_for_the_next_call(database: Database):
    with database.write() as conn:
        conn.execute("INSERT INTO things VALUES ('a', 1)")
        db_module.register_schema("CREATE TABLE IF NOT EXISTS mid_write (x INT)")
        assert database.query("SELECT k FROM things") == [("a",)]  # same transaction
    assert database.query("SELECT x FROM mid_write") == []
    assert database.query("SELECT k FROM things") == [("a",)]
