"""A SIMSAGE_HOME opened in this process: the store handle (the registry, the blob
folder, the clock and the id source every service shares).

Layer: store. The services answering each AWS API for a home, and what stops the
processes a home started, are :mod:`simsage.services`'s, not the store's.

``Home.open(config)`` returns the same object for the same folder within a process, so
all clients bound to one home share connections. Homes are cheap to open.

Opening first checks that the index and the blob folder carry the same store id
(:mod:`simsage.store.identity`): a lost, emptied, damaged or foreign index raises
:class:`~simsage.store.errors.StoreDamaged` (not cached, so the next open checks again,
after a repair) and nothing is swept. A sound open removes the temp files of dead
writers at once (one listing of ``blobs/tmp``); the first open of the day also sweeps
the blobs no row names, after checking the pairing once more.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from simsage.config import Config
from simsage.ids import Clock, IdSource
from simsage.store import BlobStore, Database
from simsage.store.errors import StoreDamaged
from simsage.store.identity import INDEX_NAME, check_pairing, damage_message, open_pairing
from simsage.store.repair import move_to_lost_and_found

SWEEP_INTERVAL = 24 * 3600

log = logging.getLogger("simsage.home")

_homes: dict[Path, Home] = {}
_homes_lock = threading.Lock()


class Home:
    """Shared state of one SIMSAGE_HOME. Construct through :meth:`open`.

    Raises:
        StoreDamaged: the index does not match the blob folder, or is unreadable.
    """

    def __init__(self, config: Config, clock: Clock | None = None, ids: IdSource | None = None):
        self.config = config
        self.path = config.home
        self.path.mkdir(parents=True, exist_ok=True)
        self.clock = clock or Clock()
        self.ids = ids or IdSource()
        self.store_id, conn = open_pairing(self.path, new_id=self.ids.hex)
        self.db = Database(self.path / INDEX_NAME, conn=conn)
        self._index_file = _file_key(self.path / INDEX_NAME)
        # Blobs are flushed and renamed before their commit, which survives any process
        # crash; SIMSAGE_FSYNC=1 also fsyncs them, for power-loss durability at a cost.
        self.blobs = BlobStore(
            self.path / "blobs",
            new_id=self.ids.hex,
            durable=os.environ.get("SIMSAGE_FSYNC") == "1",
        )
        # Objects the layers above attach to this home and drop with it (the service
        # registry keeps the home's service objects here); the store never reads them.
        self.attached: dict[str, object] = {}
        try:
            self.blobs.reclaim_temp()
        except OSError:  # housekeeping must never keep a home from opening
            log.warning("reclaiming %s failed", self.blobs.tmp_dir, exc_info=True)
        self._sweep_if_due()

    @classmethod
    def open(cls, config: Config) -> Home:
        """The process-wide Home for ``config.home`` (created on first use)."""
        with _homes_lock:
            home = _homes.get(config.home)
            if home is None:
                home = _homes[config.home] = cls(config)
            return home

    def _sweep_if_due(self) -> None:
        row = self.db.query_one("SELECT value FROM meta WHERE name = 'last_sweep'")
        now = time.time()
        if row is not None and now - float(row[0]) < SWEEP_INTERVAL:
            return
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('last_sweep', ?)", (str(now),)
            )
        try:
            self.sweep()
        except OSError:  # housekeeping must never keep a home from opening
            log.warning("sweeping %s failed", self.blobs.root, exc_info=True)

    def sweep(self, min_age: float = 600.0) -> int:
        """Clear what crashed writers left: temp files of dead processes are removed,
        and blobs no row names that are older than ``min_age`` seconds are moved into
        ``lost+found/<time>/`` with a listing, never deleted — a blob the index cannot
        account for may still be someone's only copy (an index restored from an older
        backup names fewer blobs than the folder holds). Returns how many files went.

        Raises:
            StoreDamaged: the index on disk is no longer the one this home opened, or
                the blob folder is no longer its own: then nothing is removed.
        """
        self.check_pairing()

        def quarantine(orphans: list[Path]) -> None:
            folder = move_to_lost_and_found(
                self.path, orphans, "no index row named", by="the daily sweep"
            )
            if folder is not None:
                log.warning(
                    "simsage moved %d blob files no index row names into %s "
                    "(delete the folder once you know you do not need them)",
                    len(orphans),
                    folder,
                )

        return self.blobs.sweep(self.blob_is_referenced, min_age=min_age, dispose=quarantine)

    def check_pairing(self) -> None:
        """Raise StoreDamaged unless ``state.db`` on disk is still the file this home
        opened and both it and the blob folder still carry this store's id."""
        check_pairing(self.path, self.store_id)
        if _file_key(self.path / INDEX_NAME) != self._index_file:
            problem = (
                f"the index {self.path / INDEX_NAME} was replaced while this process had it open"
            )
            raise StoreDamaged(self.path, damage_message(self.path, problem))

    def blob_is_referenced(self, blob_id: str) -> bool:
        # The concepts that keep blobs are the service registry's to name.
        from simsage.services import blob_referenced

        return blob_referenced(self, blob_id)

    def stop_everything(self) -> None:
        """Stop every process this home started (jobs, endpoint instances …): a
        shorthand for :func:`simsage.services.stop_everything`."""
        from simsage.services import stop_everything

        stop_everything(self)

    def close(self) -> None:
        self.db.close()
        with _homes_lock:
            if _homes.get(self.path) is self:
                del _homes[self.path]


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
