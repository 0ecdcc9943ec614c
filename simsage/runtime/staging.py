"""S3 staging: moving bytes between simsage's S3 and a job folder. Channel data in
(S3Prefix and ManifestFile sources, ShardedByS3Key spread over hosts by the caller),
checkpoints both ways, model and output archives out, and archives (model.tar.gz,
sourcedir.tar.gz) extracted within a volume's size.

Layer: runtime, shared by every job kind (training, transform, endpoint instances, and
processing next); it knows S3 and folders, never a job kind's records. A job runner
reaches the store directly (no boto3 in the job process): it lists with
the S3 backend and copies blob files with the kernel's copy, so staging a data set
costs about what copying its files costs.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.runtime import paths
from simsage.s3 import errors as s3_errors
from simsage.s3.backend import S3Backend

ARCHIVE_CONTENT_TYPE = "application/x-tar"


class DataError(Exception):
    """Input data cannot be staged; the message is the job's FailureReason."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    relative: str  # where it lands inside the channel folder


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (bucket, "some/prefix")."""
    rest = uri[len("s3://") :] if uri.startswith("s3://") else uri
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def _list(s3: S3Backend, bucket: str, prefix: str) -> list[str]:
    keys, after = [], ""
    while True:
        page = s3.list_objects(bucket, prefix=prefix, after=after, max_keys=1000)
        keys += [o.key for o in page.objects]
        if not page.truncated:
            return keys
        after = page.last


def _relative(prefix: str, key: str) -> str:
    """Where ``key`` lands for an S3Prefix of ``prefix``: below the prefix when the prefix
    is a folder, else below the prefix's parent folder (a file name or partial name)."""
    if prefix.endswith("/") or (len(key) > len(prefix) and key[len(prefix)] == "/"):
        return key[len(prefix) :].lstrip("/")
    parent = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(parent) :]


def channel_objects(s3: S3Backend, source: dict, region: str, role: str) -> list[S3Object]:
    """The objects an S3DataSource names (S3Prefix or ManifestFile), in key order."""
    uri = source["S3Uri"]
    bucket, prefix = split_uri(uri)
    if source["S3DataType"] == "ManifestFile":
        return _manifest_objects(s3, bucket, prefix, uri)
    try:
        keys = _list(s3, bucket, prefix)
    except s3_errors.NoSuchBucket:
        keys = []
    objects = [
        S3Object(bucket, key, _relative(prefix, key))
        for key in keys
        if not (key.endswith("/") and _relative(prefix, key).strip("/") == "")
    ]
    objects = [o for o in objects if o.relative and not o.relative.endswith("/")]
    if not objects:
        raise DataError(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data '
            f"source. Please ensure that the bucket exists in the selected region ({region}), "
            f'that objects exist under that S3 prefix, and that the role "{role}" has '
            f'"s3:ListBucket" permissions on bucket "{bucket}".'
        )
    return objects


_MANIFEST_SHAPE = (
    'a JSON array whose first element is {"prefix": "s3://bucket/prefix/"} and whose other '
    "elements are object keys relative to that prefix"
)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _manifest_objects(s3: S3Backend, bucket: str, key: str, uri: str) -> list[S3Object]:
    """The objects a manifest file lists. Every malformed shape is a ClientError that
    says which element is wrong and what the format is."""
    try:
        _, _, stream = s3.read_object(bucket, key)
        with stream:
            manifest = json.loads(stream.read())
    except (s3_errors.NoSuchKey, s3_errors.NoSuchBucket):
        raise DataError(f"ClientError: The manifest file {uri} does not exist.") from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep
        raise DataError(f"ClientError: The manifest file {uri} is not valid JSON: {exc}") from None

    def malformed(problem: str) -> DataError:
        return DataError(
            f"ClientError: The manifest file {uri} must be {_MANIFEST_SHAPE}; {problem}."
        )

    if not isinstance(manifest, list):
        raise malformed(f"it is {_kind(manifest)}")
    if not manifest:
        raise malformed("it is an empty array")
    first = manifest[0]
    if not isinstance(first, dict):
        raise malformed(f'its first element is {_kind(first)}, not an object with a "prefix"')
    if "prefix" not in first:
        raise malformed('its first element has no "prefix"')
    prefix = first["prefix"]
    if not isinstance(prefix, str) or not prefix.startswith("s3://") or len(prefix) <= 5:
        shown = json.dumps(prefix)[:200]
        raise malformed(f"its prefix {shown} is not an s3:// URI string")
    for position, entry in enumerate(manifest[1:], start=2):
        if not isinstance(entry, str):
            shown = json.dumps(entry)[:100]
            raise malformed(f"element {position} is {_kind(entry)} ({shown}), not a key string")
        if not entry:
            raise malformed(f"element {position} is an empty key")
    if len(manifest) == 1:
        raise malformed("it lists no keys after the prefix")
    base_bucket, base = split_uri(prefix)
    return [S3Object(base_bucket, base + rel, rel) for rel in manifest[1:]]


def shard(objects: list, index: int, count: int, distribution: str) -> list:
    """What host ``index`` of ``count`` gets of a channel's ``objects`` (in key order):
    all of them (``FullyReplicated``), or every ``count``-th from its own position
    (``ShardedByS3Key``)."""
    return objects[index::count] if distribution == "ShardedByS3Key" else objects


def stage_channel(s3: S3Backend, source: dict, region: str, role: str, folders: list[Path]) -> None:
    """Download the objects of an S3DataSource into each host's channel folder
    (``folders``, one per host), sharded as its S3DataDistributionType says.

    Raises:
        DataError: the source names nothing, a manifest is malformed, an object is
            gone, or a key would land outside its folder.
    """
    objects = channel_objects(s3, source, region, role)
    distribution = source.get("S3DataDistributionType", "FullyReplicated")
    for index, folder in enumerate(folders):
        for obj in shard(objects, index, len(folders), distribution):
            download(s3, obj, safe_join(folder, obj.relative))


def safe_join(folder: Path, relative: str, what: str = "channel folder") -> Path:
    """``folder/relative`` — refusing anything that would land outside ``folder``
    (see :func:`simsage.runtime.paths.key_path`)."""
    try:
        return paths.key_path(folder, relative)
    except paths.PathError:
        raise DataError(
            f"ClientError: The S3 key {relative!r} cannot be written inside the {what}."
        ) from None


def download(s3: S3Backend, obj: S3Object, target: Path) -> None:
    """Copy one object to ``target`` (a fresh file, so the store's blobs stay untouched)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        stored = s3.get_object(obj.bucket, obj.key)
        if stored.inline is not None:
            target.write_bytes(stored.inline)
            return
        if len(stored.segments) == 1:
            shutil.copyfile(s3.blobs.path_of(stored.segments[0][0]), target)
            return
        _, _, stream = s3.read_object(obj.bucket, obj.key)
    except (s3_errors.NoSuchKey, s3_errors.NoSuchBucket):
        raise DataError(
            f"ClientError: Data download failed: s3://{obj.bucket}/{obj.key} does not exist."
        ) from None
    except FileNotFoundError:  # overwritten meanwhile: read it again
        _, _, stream = s3.read_object(obj.bucket, obj.key)
    with stream, open(target, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)


def upload(s3: S3Backend, path: Path, bucket: str, key: str, content_type: str) -> None:
    with open(path, "rb") as body:
        s3.put_object(bucket, key, body, {"content_type": content_type, "metadata": {}})


def make_archive(folders: list[Path], target: Path, within: Path) -> None:
    """A tar.gz of the folders' contents (members relative to each folder; a later
    folder's file replaces an earlier one of the same name, as SageMaker merges hosts).
    Only regular files are packed: symlinks are not followed (see
    :func:`simsage.runtime.paths.files`; ``within`` is the job folder)."""
    members: dict[str, Path] = {}
    for folder in folders:
        for relative, path, _ in paths.files(folder, within):
            members[relative] = path
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        for name, path in members.items():
            try:
                archive.add(path, arcname=name, recursive=False)
            except FileNotFoundError:  # the algorithm removed it meanwhile
                continue


def sync_up(
    s3: S3Backend, folder: Path, bucket: str, prefix: str, seen: dict[str, tuple], within: Path
) -> None:
    """Upload the regular files of ``folder`` that changed since the last sync (``seen``
    remembers); symlinks are not uploaded, as SageMaker does not follow them."""
    for relative, path, stat in paths.files(folder, within):
        stamp = (stat.st_size, stat.st_mtime_ns)
        if seen.get(relative) == stamp:
            continue
        try:
            upload(
                s3,
                path,
                bucket,
                f"{prefix.rstrip('/')}/{relative}".lstrip("/"),
                "binary/octet-stream",
            )
        except FileNotFoundError:  # the algorithm removed it meanwhile
            continue
        seen[relative] = stamp


def file_stamps(folder: Path, within: Path) -> dict[str, tuple]:
    """``{relative path: (size, mtime)}`` of the folder's regular files (what
    :func:`sync_up` compares)."""
    return {rel: (st.st_size, st.st_mtime_ns) for rel, _, st in paths.files(folder, within)}


def sync_down(s3: S3Backend, bucket: str, prefix: str, folder: Path) -> int:
    """Copy every object under ``prefix`` into ``folder``; returns how many."""
    try:
        keys = _list(s3, bucket, prefix.rstrip("/") + "/" if prefix else "")
    except s3_errors.NoSuchBucket:
        return 0
    count = 0
    for key in keys:
        relative = key[len(prefix.rstrip("/") + "/") :] if prefix else key
        if not relative or relative.endswith("/"):
            continue
        target = safe_join(folder, relative, "checkpoint folder")
        download(s3, S3Object(bucket, key, relative), target)
        count += 1
    return count


def folder_has_files(folder: Path, within: Path) -> bool:
    return paths.has_files(folder, within)


GB = 1024**3
DEFAULT_VOLUME_GB = 30  # the SDK's volume_size default; batch transform's fixed volume
MAX_ARCHIVE_MEMBERS = 100_000  # far beyond any model or source tree; stops header bombs


class ArchiveTooLarge(DataError):
    """An archive expands beyond what its folder may hold.

    Attributes:
        expanded: the bytes its members declare (a lower bound when ``complete`` is
            False: reading stopped as soon as the limit was passed).
        members: how many members were read.
        limit: the byte limit that was passed (None when the member count was).
        limit_name: what the limit is, for messages (e.g. "the ML storage volume").
    """

    def __init__(
        self,
        message: str,
        expanded: int,
        members: int,
        complete: bool,
        limit: int | None,
        limit_name: str,
    ) -> None:
        super().__init__(message)
        self.expanded = expanded
        self.members = members
        self.complete = complete
        self.limit = limit
        self.limit_name = limit_name


def format_size(size: int) -> str:
    """Bytes for people: ``1.5 GB (1610612736 bytes)`` (GB = 1024**3, as SageMaker's
    VolumeSizeInGB counts)."""
    for unit, scale in (("GB", GB), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def extract_archive(
    archive: Path,
    folder: Path,
    limit: int | None = DEFAULT_VOLUME_GB * GB,
    limit_name: str | None = None,
    source: str | None = None,
    max_members: int = MAX_ARCHIVE_MEMBERS,
) -> int:
    """Extract a tar(.gz) into ``folder`` after checking it would fit.

    Every member header is read and checked first, before anything is written: the
    member count, the sum of the sizes the members declare (against ``limit`` and the
    free space of the disk holding ``folder``), and tarfile's ``data`` filter
    (absolute paths, ``..``, links pointing out, devices). Reading stops as soon as a
    limit is passed, so a decompression bomb costs at most ``limit`` bytes of
    decompression and no disk. Only then are the members extracted (through the
    ``data`` filter again, which also checks links against what is on disk).

    Args:
        archive: the tar or tar.gz file.
        folder: where the members go (created if missing).
        limit: the most bytes the members may declare in total (None: no limit but
            the free disk space).
        limit_name: what ``limit`` is, for the failure message (e.g. "the instance's
            ML storage volume"; default "the size limit").
        source: how to name the archive in messages (default its file name).
        max_members: the most members (files, folders, links) it may hold.

    Returns:
        The bytes the archive's files expanded to.

    Raises:
        ArchiveTooLarge: a limit was passed (nothing was written).
        DataError: the archive is unreadable or has a member that would leave
            ``folder`` (nothing was written).
    """
    name = source or archive.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            members = _survey(tar, name, folder, limit, limit_name or "the size limit", max_members)
            tar.extractall(folder, members=members, filter="data")
    except ArchiveTooLarge:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"ClientError: Could not extract {name}: {exc}") from None
    return sum(m.size for m in members if m.isreg())


def _survey(
    tar: tarfile.TarFile,
    name: str,
    folder: Path,
    limit: int | None,
    limit_name: str,
    max_members: int,
) -> list[tarfile.TarInfo]:
    """Read and check every member header; raise before anything is written."""
    free = shutil.disk_usage(folder).free
    destination = os.path.realpath(folder)
    members: list[tarfile.TarInfo] = []
    total = 0
    while True:
        member = tar.next()
        if member is None:
            break
        members.append(member)
        if member.isreg():
            total += member.size
        if len(members) > max_members:
            raise ArchiveTooLarge(
                f"ClientError: {name} has more than {max_members} members (files, folders "
                "and links); pack fewer files.",
                total,
                len(members),
                False,
                None,
                f"{max_members} members",
            )
        if limit is not None and total > limit:
            raise ArchiveTooLarge(
                f"ClientError: {name} expands to at least {format_size(total)}: more than "
                f"{limit_name} allows ({format_size(limit)}).",
                total,
                len(members),
                False,
                limit,
                limit_name,
            )
        if total > free:
            raise ArchiveTooLarge(
                f"ClientError: {name} expands to at least {format_size(total)}: more than "
                f"the {format_size(free)} free on the disk holding {folder}.",
                total,
                len(members),
                False,
                free,
                "the free disk space",
            )
        try:
            tarfile.data_filter(member, destination)
        except tarfile.FilterError as exc:
            raise DataError(f"ClientError: Could not extract {name}: {exc}") from None
    return members


def ensure_folders(root: Path, names: list[str]) -> None:
    for name in names:
        os.makedirs(root / name, exist_ok=True)


def upload_artifacts(
    s3: S3Backend,
    output: dict[str, Any],
    job_name: str,
    host_roots: list[Path],
    work: Path,
    required: bool,
) -> str | None:
    """Upload a training job's model (``model.tar.gz``, or the files themselves with
    ``CompressionType=NONE``) and ``output.tar.gz`` from every host's ``/opt/ml`` under
    ``<S3OutputPath>/<job>/output/``; returns the model's S3 URI. Archives are built in
    ``work``, which also bounds what may be read (no symlink leads out of it).

    Returns None when the output bucket is missing and the upload is not ``required``.

    Raises:
        DataError: the output bucket does not exist (``required``).
    """
    bucket, prefix = split_uri(output["S3OutputPath"])
    base = f"{prefix.rstrip('/')}/{job_name}/output".lstrip("/")
    try:
        s3.get_bucket(bucket)
    except Exception:
        if not required:
            return None
        raise DataError(
            f"ClientError: Could not upload the model: the output bucket {bucket} "
            f"(OutputDataConfig.S3OutputPath {output['S3OutputPath']}) does not exist."
        ) from None
    model_dirs = [root / "model" for root in host_roots]
    if output.get("CompressionType") == "NONE":
        for folder in model_dirs:
            sync_up(s3, folder, bucket, f"{base}/model", {}, work)
        artifacts = f"s3://{bucket}/{base}/model/"
    else:
        archive = work / "model.tar.gz"
        make_archive(model_dirs, archive, work)
        upload(s3, archive, bucket, f"{base}/model.tar.gz", ARCHIVE_CONTENT_TYPE)
        archive.unlink()
        artifacts = f"s3://{bucket}/{base}/model.tar.gz"
    archive = work / "output.tar.gz"
    make_archive([root / "output" / "data" for root in host_roots], archive, work)
    upload(s3, archive, bucket, f"{base}/output.tar.gz", ARCHIVE_CONTENT_TYPE)
    archive.unlink()
    return artifacts
