"""The embedded store: one SQLite registry (WAL) and a folder of immutable blobs under
SIMSAGE_HOME. See :mod:`simsage.store.db` and :mod:`simsage.store.blobs`."""

from simsage.store.blobs import BlobStore, BlobWriter
from simsage.store.db import Database

__all__ = ["BlobStore", "BlobWriter", "Database"]
