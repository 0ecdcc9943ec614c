"""The store id pairs the index with its blob folder: a lost, emptied, truncated,
corrupt or foreign index is reported (never shown as an empty store), nothing is
modified or swept, and the home opens again once the right index is back."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from simsage.config import load_config
from simsage.home import Home
from simsage.store import Database
from simsage.store.errors import StoreDamaged
from simsage.store.identity import inspect_blob_folder, inspect_index


def config_for(home: Path):
    return load_config({"SIMSAGE_HOME": str(home)})


def open_home(home: Path) -> Home:
    return Home(config_for(home))


def new_store(home: Path, blobs: int = 2) -> list[Path]:
    """A store with ``blobs`` blob files (none referenced), closed; returns their paths."""
    store = open_home(home)
    paths = []
    try:
        for i in range(blobs):
            with store.blobs.writer() as writer:
                writer.write(bytes([i]) * 1000)
                paths.append(store.blobs.path_of(writer.finish()))
    finally:
        store.close()
    return paths


def age(paths: list[Path], seconds: float = 7 * 24 * 3600) -> None:
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


def damaged(home: Path) -> str:
    with pytest.raises(StoreDamaged) as caught:
        open_home(home)
    return caught.value.message


def test_a_new_store_writes_one_id_in_the_index_and_the_blob_folder(tmp_path: Path):
    home = tmp_path / "home"
    store = open_home(home)
    store_id = store.store_id
    store.close()
    assert inspect_index(home / "state.db").store_id == store_id
    marker = json.loads((home / "blobs" / "store.json").read_text())
    assert marker["store_id"] == store_id
    again = open_home(home)
    assert again.store_id == store_id
    again.close()


def test_a_deleted_index_is_reported_and_nothing_is_swept_or_created(tmp_path: Path):
    home = tmp_path / "home"
    blobs = new_store(home)
    age(blobs)  # old enough for the sweep, and no row names them
    (home / "state.db").unlink()

    message = damaged(home)
    assert f"The store at {home} cannot be used safely" in message
    assert f"the index {home / 'state.db'} is missing" in message
    assert "holds 2 blob files (2.0 KiB)" in message
    assert f"SIMSAGE_HOME={home} simsage doctor --repair" in message
    assert all(blob.exists() for blob in blobs)
    assert not (home / "state.db").exists()  # no empty index took its place


@pytest.mark.parametrize(
    "damage, found",
    [
        (lambda db: db.write_bytes(b""), "is empty (0 bytes)"),
        (lambda db: os.truncate(db, db.stat().st_size // 2), "is not a readable SQLite database"),
        (lambda db: db.write_bytes(b"not a database" * 500), "is not a readable SQLite database"),
    ],
    ids=["emptied", "truncated", "garbage"],
)
def test_a_damaged_index_is_reported_with_what_was_found(tmp_path: Path, damage, found):
    home = tmp_path / "home"
    blobs = new_store(home)
    store = open_home(home)  # give the index some pages to lose
    with store.db.write() as conn:
        conn.executemany(
            "INSERT INTO meta (name, value) VALUES (?, ?)",
            [(f"filler{i}", "x" * 500) for i in range(200)],
        )
    store.close()
    age(blobs)
    damage(home / "state.db")
    before = (home / "state.db").read_bytes()

    message = damaged(home)
    assert found in message
    assert "simsage doctor" in message
    assert (home / "state.db").read_bytes() == before  # left as found, for the doctor
    assert all(blob.exists() for blob in blobs)


def test_an_index_of_another_store_is_reported(tmp_path: Path):
    home, other = tmp_path / "home", tmp_path / "other"
    blobs = new_store(home)
    new_store(other, blobs=0)
    shutil.copyfile(other / "state.db", home / "state.db")
    age(blobs)
    other_id = inspect_index(other / "state.db").store_id
    own_id = inspect_blob_folder(home / "blobs").store_id

    message = damaged(home)
    assert f"belongs to store {other_id}" in message
    assert f"belongs to store {own_id}" in message
    assert "the index is another store's" in message
    assert all(blob.exists() for blob in blobs)


def test_a_blob_folder_without_its_id_or_gone_is_reported(tmp_path: Path):
    home = tmp_path / "home"
    new_store(home)
    (home / "blobs" / "store.json").unlink()
    assert "has no store id" in damaged(home)
    shutil.rmtree(home / "blobs")
    assert f"the blob folder {home / 'blobs'} is missing" in damaged(home)


def test_blob_files_beside_a_fresh_index_are_reported(tmp_path: Path):
    """A store of an older simsage (no ids) whose index was lost: blob files, no index."""
    home = tmp_path / "home"
    blobs = new_store(home)
    (home / "blobs" / "store.json").unlink()
    (home / "state.db").unlink()
    Database(home / "state.db").close()  # a fresh index, as an older simsage would make
    assert "holds 2 blob files" in damaged(home)
    assert all(blob.exists() for blob in blobs)


def test_a_store_of_an_older_simsage_is_adopted(tmp_path: Path):
    home = tmp_path / "home"
    blobs = new_store(home)
    (home / "blobs" / "store.json").unlink()
    conn = sqlite3.connect(home / "state.db")
    with conn:
        conn.execute("DELETE FROM meta WHERE name = 'store_id'")  # what older versions left
    conn.close()
    assert inspect_index(home / "state.db").has_meta_rows

    store = open_home(home)
    try:
        assert inspect_blob_folder(home / "blobs").store_id == store.store_id
        assert inspect_index(home / "state.db").store_id == store.store_id
    finally:
        store.close()
    assert all(blob.exists() for blob in blobs)


def test_the_home_opens_again_once_its_index_is_back(tmp_path: Path):
    home = tmp_path / "home"
    new_store(home, blobs=1)
    shutil.move(home / "state.db", tmp_path / "backup.db")
    config = config_for(home)
    with pytest.raises(StoreDamaged):
        Home.open(config)
    shutil.move(tmp_path / "backup.db", home / "state.db")
    store = Home.open(config)  # the failed open was not cached
    store.close()


def test_the_sweep_refuses_an_index_replaced_while_the_home_is_open(tmp_path: Path):
    home = tmp_path / "home"
    store = open_home(home)
    try:
        with store.blobs.writer() as writer:
            writer.write(b"the only copy of an object")
            blob = store.blobs.path_of(writer.finish())
        age([blob])
        (home / "state.db").unlink()
        Database(home / "state.db").close()  # someone else made a fresh, empty index
        with pytest.raises(StoreDamaged, match="cannot be used safely"):
            store.sweep(min_age=0)
        assert blob.exists()
    finally:
        store.close()


def test_damage_found_while_in_use_is_reported_not_a_traceback(tmp_path: Path):
    home = tmp_path / "home"
    store = open_home(home)
    try:
        with store.db.write() as conn:
            conn.execute("CREATE TABLE big (v BLOB)")
            conn.executemany("INSERT INTO big VALUES (?)", [(b"x" * 3000,) for _ in range(300)])
        store.db.close()
        conn = sqlite3.connect(home / "state.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        with open(home / "state.db", "r+b") as handle:  # scribble over the table's pages
            handle.seek(100 * 1024)
            handle.write(os.urandom(300 * 1024))
        with pytest.raises(StoreDamaged, match="is damaged .*simsage doctor --repair"):
            store.db.query("SELECT count(*), sum(length(v)) FROM big")
    finally:
        store.close()
