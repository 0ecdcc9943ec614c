"""Where paths a job names land in its job folder, and walking a folder safely.

Layer: runtime, shared by every job kind. Two kinds of names come from users:

- **container paths** (``CheckpointConfig.LocalPath`` now; processing inputs and outputs
  next): absolute POSIX paths inside the container. :func:`container_path` checks one at
  create time; :func:`host_path` maps it into a host's folder: ``/opt/ml/<rest>`` is
  ``<host root>/<rest>``, any other absolute path ``/<p>`` is
  ``<host root>/external/<p>``.
- **S3 keys** staged as files (channel data, checkpoints): :func:`key_path` maps a key
  (relative to its prefix) to a file below a folder.

Invariant: every path these functions return lies inside the folder they were given, and
no existing component of it below that folder is a symlink (writing through one could
land anywhere). What would leave the folder is refused with :class:`PathError`, never
clamped silently.

Reading a folder back (uploads, archives) goes through :func:`files`, which never follows
a symlink — not for files, not for folders, not for the folder itself — as SageMaker does
not follow symlinks when it uploads outputs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

OPT_ML = PurePosixPath("/opt/ml")
EXTERNAL = "external"  # where a host folder keeps container paths outside /opt/ml
_MAX_PATH = 4096  # the service model's limit for a LocalPath


class PathError(ValueError):
    """A path that cannot map inside its folder; the message says what is allowed."""


def container_path(value: str, field: str, under: PurePosixPath | str | None = None) -> str:
    """Check a user-given container path and return it normalised.

    Args:
        value: the path as the request gave it, e.g. ``/opt/ml/checkpoints/``.
        field: the request member it came from, for the message.
        under: a folder the path must be (or be inside), e.g. ``/opt/ml/processing``.
    Returns:
        The path without repeated or trailing slashes (``/opt/ml/checkpoints``).
    Raises:
        PathError: a relative path, a ``.`` or ``..`` segment, a NUL character, a path
            longer than 4096 characters, or one outside ``under``.
    """
    example = f"{under}/..." if under else "/opt/ml/checkpoints"
    allowed = (
        f"It must be an absolute path in the container (for example {example}) "
        "with no '.' or '..' segments."
    )
    if not isinstance(value, str) or not value.startswith("/"):
        raise PathError(f"{field} {value!r} is not an absolute path. {allowed}")
    if "\x00" in value or len(value) > _MAX_PATH:
        raise PathError(f"{field} {value[:200]!r} is not a valid path. {allowed}")
    if any(segment in (".", "..") for segment in value.split("/")):
        raise PathError(f"{field} {value!r} contains a '.' or '..' segment. {allowed}")
    path = PurePosixPath(value)
    if under is not None:
        base = PurePosixPath(under)
        if path != base and base not in path.parents:
            raise PathError(f"{field} {value!r} is not under {base}/. {allowed}")
    return str(path)


def folder_name(value: str, field: str) -> str:
    """Check a name that becomes one folder of a job's tree (a channel name).

    Raises:
        PathError: empty, ``.``, ``..``, or containing ``/`` or NUL.
    """
    if not value or value in (".", "..") or "/" in value or "\x00" in value:
        raise PathError(
            f"{field} {value!r} cannot name a folder: use letters, digits, '.', '-' and '_', "
            "and not '.' or '..' alone."
        )
    return value


def host_path(root: Path, value: str, field: str = "path") -> Path:
    """The folder under a host root that plays container path ``value``.

    Raises:
        PathError: ``value`` is not a valid container path (see :func:`container_path`).
    """
    path = PurePosixPath(container_path(value, field))
    if path == OPT_ML or OPT_ML in path.parents:
        parts = path.relative_to(OPT_ML).parts
    else:
        parts = (EXTERNAL, *path.parts[1:])
    return _beneath(root, parts, value)


def key_path(folder: Path, relative: str) -> Path:
    """``folder/relative`` for an object key relative to its prefix (``a/b.csv``).

    Empty, ``.`` and repeated-slash segments are dropped, as S3 keys may carry them.

    Raises:
        PathError: nothing is left, a ``..`` segment, a NUL character, or an existing
            symlink on the way.
    """
    parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts or "\x00" in relative:
        raise PathError(f"The S3 key {relative!r} cannot be written inside the folder.")
    return _beneath(folder, parts, relative)


def _beneath(folder: Path, parts: tuple[str, ...] | list[str], shown: str) -> Path:
    path = folder
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise PathError(
                f"{shown!r} cannot be written inside the folder: {path.name} is a symbolic link."
            )
    return path


def inside(folder: Path, boundary: Path) -> bool:
    """Whether ``folder`` is ``boundary`` or below it with no symlink on the way (so
    whatever is read from it really is in ``boundary``)."""
    try:
        relative = folder.relative_to(boundary)
    except ValueError:
        return False
    real = os.path.realpath(boundary)
    return os.path.realpath(folder) == os.path.normpath(os.path.join(real, relative))


def files(folder: Path, boundary: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """The regular files below ``folder``, in sorted order, without following symlinks.

    Yields ``(relative POSIX path, path, lstat)``. Symlinks (to files or folders) are
    skipped; if ``folder`` itself is a symlink, or reached through one below
    ``boundary``, nothing is yielded.
    """
    if not folder.is_dir() or not inside(folder, boundary):
        return
    for current, subfolders, names in os.walk(folder, followlinks=False):
        subfolders.sort()
        base = Path(current)
        for name in sorted(names):
            path = base / name
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                yield path.relative_to(folder).as_posix(), path, info


def read_bytes(path: Path, boundary: Path, limit: int) -> bytes | None:
    """The first ``limit`` bytes of a regular file the job wrote (its failure report or
    exit message); None if it is missing, not a regular file, a symlink, or reached
    through one."""
    if not inside(path.parent, boundary):
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError:  # missing, or a symlink (ELOOP)
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None  # a FIFO or device would block or never end
        return handle.read(limit)


def read_text(path: Path, boundary: Path, limit: int) -> str | None:
    """:func:`read_bytes` as text (undecodable bytes replaced)."""
    raw = read_bytes(path, boundary, limit)
    return None if raw is None else raw.decode("utf-8", "replace")


def has_files(folder: Path, boundary: Path) -> bool:
    """Whether :func:`files` would yield anything."""
    return next(files(folder, boundary), None) is not None
