"""``simsage doctor``: the health of a store, and its repair.

Layer: beside :mod:`simsage.home` and :mod:`simsage.services`, above the store and the
concepts. It never opens a :class:`~simsage.home.Home` (which refuses a damaged store,
and would reclaim and sweep): it reads ``state.db`` with its own SQLite connection, the
blob folder as files, and asks each concept that keeps blobs
(:func:`simsage.services.blob_keepers`) what its rows say.

Checks (read-only):
- pairing: the index and the blob folder carry the same store id;
- index: SQLite's integrity check, and the concepts' own rows (a bucket record lost);
- objects: each object's and upload part's blob files exist, have the registry's
  length and (unless ``quick``) hash to its ETag;
- orphans: blob files no row names (older than the sweep's ten minutes; younger ones
  may be a write about to commit and are left alone);
- temp: files in ``blobs/tmp`` whose writer is gone.

Repair (``--repair``, under the home's lock) deletes nothing it cannot account for:
a damaged index is moved aside (``state.db.damaged-<time>``) and its readable rows are
salvaged into a new one; the index and the blob folder are paired again; lost bucket
records are rebuilt; orphan blobs are moved into ``lost+found/<time>/`` with a listing
(all of them when the store was not paired, since then no age tells a write in flight);
dead writers' temp files, which by construction hold no committed bytes, are removed.
Damaged objects cannot be rebuilt: they are reported, to be uploaded again or deleted.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simsage.config import Config
from simsage.services import blob_keepers
from simsage.store.blobs import blob_path, dead_temp_files, iter_blob_files
from simsage.store.errors import doctor_command
from simsage.store.identity import (
    BLOBS_NAME,
    INDEX_NAME,
    BlobFolderState,
    IndexState,
    diagnose,
    home_lock,
    inspect_blob_folder,
    inspect_index,
    size_text,
    write_store_id,
)
from simsage.store.repair import move_aside, move_to_lost_and_found, salvage_rows, stamp

ORPHAN_MIN_AGE = 600.0  # as the sweep: a younger unreferenced blob may be about to commit
SHOWN = 20  # problems of one kind listed one by one; the rest are counted


@dataclass
class Problem:
    kind: str  # pairing | index | object | orphans | temp
    text: str
    repairable: bool


@dataclass
class Examination:
    """What :func:`examine` found."""

    home: Path
    index: IndexState
    blobs: BlobFolderState
    pairing: str | None = None
    integrity: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)
    recent_orphans: list[Path] = field(default_factory=list)
    dead_temp: list[Path] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.index.status != "missing" or self.blobs.exists

    @property
    def index_damaged(self) -> bool:
        return self.index.status == "unreadable" or bool(self.integrity)


def _connect(index: Path) -> sqlite3.Connection:
    """A connection to an existing ``state.db`` that never creates one."""
    uri = f"file:{urllib.parse.quote(str(index))}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=60.0)


def examine(home: Path, hash_bytes: bool = True) -> Examination:
    """Check the store at ``home`` without changing it."""
    exam = Examination(
        home,
        inspect_index(home / INDEX_NAME),
        inspect_blob_folder(home / BLOBS_NAME, count=True),
    )
    exam.pairing = diagnose(exam.index, exam.blobs)
    exam.facts.append(("index", _describe_index(exam)))
    exam.facts.append(("blobs", exam.blobs.describe()))
    if exam.pairing:
        exam.problems.append(Problem("pairing", exam.pairing, True))
    # Listed before the rows are read: a blob committed meanwhile is then referenced.
    files = list(iter_blob_files(exam.blobs.root))
    referenced: set[str] = set()
    if exam.index.status == "sound":
        conn = _connect(exam.index.path)
        try:
            _check_index(exam, conn)
            if not exam.index_damaged:
                referenced = _check_objects(exam, conn, hash_bytes)
        except sqlite3.DatabaseError as exc:  # damage the integrity check did not reach
            exam.integrity.append(str(exc))
            exam.problems.append(Problem("index", f"reading the index failed: {exc}", True))
        finally:
            conn.close()
    if exam.index_damaged or exam.index.status != "sound":
        exam.facts.append(("objects", "not checked: the index cannot be read"))
    _find_orphans(exam, files, referenced)
    exam.dead_temp = dead_temp_files(exam.blobs.root / "tmp")
    if exam.dead_temp:
        size = _total(exam.dead_temp)
        exam.problems.append(
            Problem(
                "temp",
                f"{len(exam.dead_temp)} temp files ({size_text(size)}) left in "
                f"{exam.blobs.root / 'tmp'} by writers that are gone",
                True,
            )
        )
    exam.facts.append(("temp", f"{len(exam.dead_temp)} leftovers of dead writers"))
    return exam


def _describe_index(exam: Examination) -> str:
    index = exam.index
    if index.status != "sound":
        return index.describe()
    store = f"store {index.store_id}" if index.store_id else "no store id yet"
    return f"{index.path} ({size_text(index.size)}), {store}"


def _check_index(exam: Examination, conn: sqlite3.Connection) -> None:
    messages = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    if messages != ["ok"]:
        exam.integrity = messages
        exam.problems.append(
            Problem(
                "index",
                f"the index fails SQLite's integrity check: {'; '.join(messages[:3])}",
                True,
            )
        )
        exam.facts.append(("integrity", "FAILED"))
        return
    exam.facts.append(("integrity", "SQLite integrity check ok"))
    for keeper in blob_keepers():
        for text in keeper.index_problems(conn):
            exam.problems.append(Problem("index", text, True))


def _check_objects(exam: Examination, conn: sqlite3.Connection, hash_bytes: bool) -> set[str]:
    """Check every object's bytes; returns the blob ids the rows name."""
    referenced: set[str] = set()
    objects = parts = size = damaged = 0
    for keeper in blob_keepers():
        referenced |= keeper.referenced_blobs(conn)
        for item in keeper.iter_stored(conn):
            size += item.size
            if item.upload_part is None:
                objects += 1
            else:
                parts += 1
            what = keeper.check(item, lambda blob: blob_path(exam.blobs.root, blob), hash_bytes)
            if what and keeper.still_stored(conn, item):  # not an overwrite racing the check
                damaged += 1
                if damaged <= SHOWN:
                    exam.problems.append(Problem("object", f"{item.label}: {what}", False))
    if damaged > SHOWN:
        exam.problems.append(Problem("object", f"… and {damaged - SHOWN} more damaged", False))
    checked = "lengths and MD5s checked" if hash_bytes else "lengths checked (--quick)"
    exam.facts.append(
        (
            "objects",
            f"{objects} objects and {parts} parts of uploads in progress ({size_text(size)}); "
            f"{checked}",
        )
    )
    return referenced


def _find_orphans(exam: Examination, files: list[Path], referenced: set[str]) -> None:
    unpaired = exam.pairing is not None or exam.index_damaged
    cutoff = time.time() - ORPHAN_MIN_AGE
    for path in files:
        if path.name in referenced:
            continue
        try:
            old = path.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        (exam.orphans if old or unpaired else exam.recent_orphans).append(path)
    if exam.index_damaged or exam.index.status != "sound":
        if exam.orphans:
            exam.facts.append(
                ("orphans", f"{len(exam.orphans)} blob files the index cannot account for yet")
            )
        return
    if exam.orphans:
        exam.problems.append(
            Problem(
                "orphans",
                f"{len(exam.orphans)} blob files ({size_text(_total(exam.orphans))}) that no row "
                "names" + ("" if unpaired else ", older than ten minutes"),
                True,
            )
        )
    text = f"{len(exam.orphans)} blob files no row names"
    if exam.recent_orphans:
        text += (
            f" (and {len(exam.recent_orphans)} younger ones, perhaps writes finishing: left alone)"
        )
    exam.facts.append(("orphans", text))


def repair(home: Path, config: Config) -> list[str]:
    """Repair what can be repaired (see the module docstring); returns what was done.

    The pairing is written last: a repair that stops half-way leaves a store that
    still refuses to open, so no sweep can ever run over blobs it did not move aside.
    """
    done: list[str] = []
    with home_lock(home):
        exam = examine(home, hash_bytes=False)
        if not exam.exists:
            return done
        unpaired = exam.pairing is not None or exam.index_damaged
        index_path = home / INDEX_NAME
        if exam.index_damaged and index_path.exists():
            aside = move_aside(index_path, f"damaged-{stamp()}")
            salvage = salvage_rows(aside, index_path)
            done.append(
                f"moved the damaged index to {aside.name}, then {salvage.summary()} "
                f"from it into a new {INDEX_NAME}"
            )
        files = list(iter_blob_files(home / BLOBS_NAME))
        referenced: set[str] = set()
        if index_path.exists():
            conn = _connect(index_path)
            try:
                for keeper in blob_keepers():
                    done += keeper.rebuild(conn, config.region, config.account_id, time.time())
                    referenced |= keeper.referenced_blobs(conn)
            finally:
                conn.close()
        cutoff = time.time() - ORPHAN_MIN_AGE
        orphans = [
            path
            for path in files
            if path.name not in referenced and (unpaired or _mtime(path) < cutoff)
        ]
        folder = move_to_lost_and_found(home, orphans, "no index row named")
        if folder is not None:
            done.append(
                f"moved {len(orphans)} blob files no row names into {folder} "
                "(its LISTING.txt says what each looks like)"
            )
        removed = 0
        for path in dead_temp_files(home / BLOBS_NAME / "tmp"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        if removed:
            done.append(f"removed {removed} temp files of writers that are gone")
        done += _pair(home)
    return done


def _pair(home: Path) -> list[str]:
    """Give the index and the blob folder one store id: the index's if it has one."""
    index = inspect_index(home / INDEX_NAME)
    blobs = inspect_blob_folder(home / BLOBS_NAME)
    if index.status == "sound" and index.store_id and index.store_id == blobs.store_id:
        return []
    store_id = index.store_id if index.status == "sound" else None
    store_id = store_id or blobs.store_id or uuid.uuid4().hex
    write_store_id(home, store_id, replace_marker=True)
    note = ""
    if blobs.store_id and blobs.store_id != store_id:
        note = f" (the blob folder was marked as store {blobs.store_id})"
    return [f"paired the index and the blob folder as store {store_id}{note}"]


def run(config: Config, repair_store: bool, hash_bytes: bool, echo: Callable[[str], None]) -> int:
    """Examine (and with ``repair_store``, first repair) the store of ``config``; print
    the report with ``echo``. Returns the exit status: 0 healthy, 1 problems remain."""
    home = config.home
    echo(f"simsage doctor: the store at {home}")
    if not home.is_dir():
        echo("  there is no store here yet (it is created on first use)")
        return 0
    if repair_store:
        done = repair(home, config)
        if done:
            echo("repaired:")
            for action in done:
                echo(f"  - {action}")
    exam = examine(home, hash_bytes=hash_bytes)
    if not exam.exists:
        echo("  there is no store here yet (it is created on first use)")
        return 0
    width = max(len(name) for name, _ in exam.facts) + 1
    for name, text in exam.facts:
        echo(f"  {name + ':':<{width}} {text}")
    if not exam.problems:
        echo("no problems found")
        return 0
    echo(f"problems ({len(exam.problems)}):")
    for problem in exam.problems:
        echo(f"  - {problem.text}")
    advice = []
    if any(p.repairable for p in exam.problems):
        advice.append(
            f"Run `{doctor_command(home, repair=True)}` (with simsage stopped) to repair what "
            "can be repaired; it deletes nothing it cannot account for."
        )
    if any(p.kind == "object" for p in exam.problems):
        advice.append(
            "Damaged objects cannot be rebuilt from the store: upload them again, or delete "
            "them (`simsage s3 rm s3://<bucket>/<key>`)."
        )
    for line in advice:
        echo(line)
    return 1


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _total(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total
