"""The one error the store raises when it cannot be trusted: :class:`StoreDamaged`.

It is an :class:`~simsage.errors.AWSError` (a server-side fault, HTTP 500) so that every
service answers it the same way, as its own internal-error code (``InternalError`` for
S3, ``InternalFailure`` elsewhere) with a message that says what was found and which
command repairs it. Nothing in the store turns a damaged index or blob folder into an
empty store or a traceback.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

from simsage.errors import AWSError

# SQLite's primary result codes that mean "the file is not a sound database" (as opposed
# to busy, locked, full or I/O errors, which are about the moment, not the file).
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class StoreDamaged(AWSError):
    """The store's index and blob folder do not match, or the index is unreadable.

    Attributes:
        home: the SIMSAGE_HOME folder.
        message: what was found, what simsage refuses to do, and how to recover.
    """

    code = "InternalFailure"
    status = 500

    def __init__(self, home: Path, message: str) -> None:
        super().__init__(message)
        self.home = home

    def __str__(self) -> str:
        return self.message


def doctor_command(home: Path, repair: bool = False) -> str:
    """The shell command that checks (or repairs) ``home``, to quote in messages."""
    command = "simsage doctor --repair" if repair else "simsage doctor"
    if os.environ.get("SIMSAGE_HOME") or home != Path.home() / ".simsage":
        command = f"SIMSAGE_HOME={shlex.quote(str(home))} {command}"
    return command


def is_damage(exc: BaseException) -> bool:
    """Whether a SQLite error says the database file itself is damaged."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return isinstance(exc, sqlite3.DatabaseError) and name.startswith(_DAMAGE_CODES)


def index_damaged(home: Path, exc: BaseException) -> StoreDamaged:
    """The error for an index SQLite finds damaged while simsage uses it."""
    return StoreDamaged(
        home,
        f"The store's index {home / 'state.db'} is damaged (SQLite: {exc}). simsage cannot "
        "answer from it and will not sweep the store's blobs. Stop every simsage process "
        f"using this home, then run `{doctor_command(home, repair=True)}`: it salvages every "
        "readable row into a new index (the damaged file is kept beside it) and moves the "
        f"blobs no salvaged row names into {home / 'lost+found'}.",
    )
