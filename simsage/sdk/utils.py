"""Names and archives the SDK makes, as the official SDK makes them."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import time
from pathlib import Path

MAX_NAME = 63


def timestamp() -> str:
    """``2026-11-28-10-02-03-123`` (UTC, milliseconds), the SDK's name suffix."""
    now = time.time()
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"


def short_timestamp() -> str:
    """``261128-1002``: the SDK's short name suffix (tuning jobs), in local time as the
    official SDK writes it."""
    return time.strftime("%y%m%d-%H%M")


def name_from_base(base: str, max_length: int = MAX_NAME, short: bool = False) -> str:
    """``<base>-<timestamp>`` (the short timestamp with ``short``), the base trimmed so the
    whole fits ``max_length``."""
    suffix = short_timestamp() if short else timestamp()
    return f"{base[: max_length - len(suffix) - 1]}-{suffix}"


def base_from_name(name: str) -> str:
    """The base :func:`name_from_base` was given: ``xgb-261128-1002`` → ``xgb`` (either
    timestamp); a name without one is its own base."""
    match = re.match(r"^(.+)-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}|\d{6}-\d{4})", name)
    return match.group(1) if match else name


def base_name_from_image(image_uri: str) -> str:
    """``…/sagemaker-xgboost:1.7-1`` → ``sagemaker-xgboost``."""
    repository = image_uri.rsplit("/", 1)[-1]
    return repository.split(":", 1)[0].split("@", 1)[0]


def _code_files(entry_point: str, source_dir: str | None) -> list[tuple[str, Path]]:
    """``(name in the archive, local path)`` of the code ``sourcedir.tar.gz`` holds.

    Raises:
        FileNotFoundError: the entry point is not where it should be.
    """
    if source_dir:
        root = Path(source_dir)
        if not (root / entry_point).is_file():
            raise FileNotFoundError(f"entry_point {entry_point} is not in source_dir {root}")
        return [
            (path.relative_to(root).as_posix(), path)
            for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.relative_to(root).parts
        ]
    script = Path(entry_point)
    if not script.is_file():
        raise FileNotFoundError(f"entry_point {entry_point} does not exist")
    return [(script.name, script)]


def sourcedir_archive(entry_point: str, source_dir: str | None) -> bytes:
    """``sourcedir.tar.gz`` as the SDK packs it: the whole ``source_dir`` (or just the
    entry point file) at the archive's root.

    Raises:
        FileNotFoundError: the entry point is not where it should be.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, path in _code_files(entry_point, source_dir):
            archive.add(path, arcname=name)
    return buffer.getvalue()


def code_digest(entry_point: str, source_dir: str | None) -> str:
    """SHA-256 of the names and contents of the code :func:`sourcedir_archive` packs —
    not of the archive, whose gzip header holds the time it was made — so unchanged
    code has the same digest (a pipeline's code key, and so its cache, stay put)."""
    digest = hashlib.sha256()
    for name, path in _code_files(entry_point, source_dir):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
