"""``simsage s3``: buckets and objects, like ``aws s3`` (``mb``, ``rb``, ``ls``, ``cp``,
``rm``), on both backends through ``simsage.boto3_session().client("s3")``. Output and
exit statuses follow the aws CLI (see :mod:`simsage.cli`)."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

import click

from simsage.cli_common import CommandError, human_readable_size
from simsage.cli_common import iter_objects as _iter_objects
from simsage.cli_common import s3_client as _s3  # a module global: tests replace it
from simsage.cli_common import timestamp as _timestamp

DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request


def parse_s3_uri(uri: str, *, allow_empty: bool = False) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    Args:
        uri: the argument as typed.
        allow_empty: accept ``s3://`` alone (``ls`` lists the buckets then).
    Returns:
        The bucket and the key (``""`` when the URI names only the bucket).
    Raises:
        CommandError: ``uri`` does not start with ``s3://`` or names no bucket.
    """
    if not uri.startswith("s3://"):
        raise CommandError(f"error: {uri!r} is not an S3 URI; expected s3://bucket[/key]")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket and not (allow_empty and not key):
        raise CommandError(f"error: {uri!r} names no bucket; expected s3://bucket[/key]")
    return bucket, key


def _dir_prefix(key: str) -> str:
    """A key used as a folder: ``""`` stays the bucket root, anything else ends with ``/``."""
    return key if not key or key.endswith("/") else key + "/"


@click.group()
def s3() -> None:
    """Buckets and objects, like `aws s3` (works on both backends)."""


@s3.command()
@click.argument("uri")
def mb(uri: str) -> None:
    """Make a bucket: simsage s3 mb s3://bucket"""
    bucket, _ = parse_s3_uri(uri)
    client = _s3()
    params: dict[str, Any] = {"Bucket": bucket}
    region = client.meta.region_name
    if region and region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(**params)
    click.echo(f"make_bucket: {bucket}")


@s3.command()
@click.argument("uri")
@click.option("--force", is_flag=True, help="Delete every object first.")
def rb(uri: str, force: bool) -> None:
    """Remove a bucket: simsage s3 rb s3://bucket [--force]"""
    bucket, _ = parse_s3_uri(uri)
    client = _s3()
    if force:
        _delete_prefix(client, bucket, "")
    client.delete_bucket(Bucket=bucket)
    click.echo(f"remove_bucket: {bucket}")


@s3.command()
@click.argument("uri", required=False, default="s3://")
@click.option("--recursive", is_flag=True, help="List every key under the prefix.")
@click.option("--human-readable", is_flag=True, help="Sizes in Bytes/KiB/MiB/…")
@click.option("--summarize", is_flag=True, help="Print the object count and total size.")
def ls(uri: str, recursive: bool, human_readable: bool, summarize: bool) -> None:
    """List buckets, or the objects and prefixes under s3://bucket[/prefix]."""
    bucket, prefix = parse_s3_uri(uri, allow_empty=True)
    client = _s3()
    if not bucket:
        paginator = client.get_paginator("list_buckets")
        for page in paginator.paginate():
            for entry in page.get("Buckets", []):
                click.echo(f"{_timestamp(entry['CreationDate'])} {entry['Name']}")
        return
    params = {"Bucket": bucket, "Prefix": prefix}
    if not recursive:
        params["Delimiter"] = "/"
    count = total = 0
    matched = False
    size_of = human_readable_size if human_readable else str
    for page in client.get_paginator("list_objects_v2").paginate(**params):
        for common in page.get("CommonPrefixes", []):
            click.echo(f"{'PRE':>30} {common['Prefix'].split('/')[-2]}/")
        for obj in page.get("Contents", []):
            count, total = count + 1, total + obj["Size"]
            name = obj["Key"] if recursive else obj["Key"].split("/")[-1]
            click.echo(f"{_timestamp(obj['LastModified'])} {size_of(obj['Size']):>10} {name}")
        matched = matched or bool(page.get("Contents") or page.get("CommonPrefixes"))
    if summarize:
        click.echo(f"\nTotal Objects: {count}\n   Total Size: {size_of(total)}")
    if prefix and not matched:  # as the aws CLI: a prefix that matches nothing exits 1, silently
        raise click.exceptions.Exit(1)


@s3.command()
@click.argument("src")
@click.argument("dst")
@click.option("--recursive", is_flag=True, help="Copy a folder or a whole prefix.")
@click.option("--content-type", default=None, help="Content-Type of uploaded objects.")
def cp(src: str, dst: str, recursive: bool, content_type: str | None) -> None:
    """Copy local→S3 (upload), S3→local (download) or S3→S3.

    SRC and DST are local paths or s3://bucket/key URIs; at least one is an S3 URI.
    """
    src_is_s3, dst_is_s3 = src.startswith("s3://"), dst.startswith("s3://")
    if not (src_is_s3 or dst_is_s3):
        raise CommandError("error: cp needs at least one s3:// URI (SRC or DST)")
    client = _s3()
    if dst_is_s3 and not src_is_s3:
        _upload(client, src, dst, recursive, content_type)
    elif src_is_s3 and not dst_is_s3:
        _download(client, src, dst, recursive)
    else:
        _copy(client, src, dst, recursive, content_type)


def _upload(client, src: str, dst: str, recursive: bool, content_type: str | None) -> None:
    bucket, key = parse_s3_uri(dst)
    root = Path(src)
    if not root.exists():
        raise CommandError(f"error: the local path {src} does not exist")
    if root.is_dir() != recursive:
        wanted = "a folder needs --recursive" if root.is_dir() else "--recursive needs a folder"
        raise CommandError(f"error: {src}: {wanted}")
    if recursive:
        prefix = _dir_prefix(key)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        pairs = [
            (os.path.join(src, p.relative_to(root)), prefix + p.relative_to(root).as_posix())
            for p in files
        ]
    else:
        pairs = [(src, key + root.name if not key or key.endswith("/") else key)]
    for local, target in pairs:
        extra = {}
        guessed = content_type or mimetypes.guess_type(local)[0]
        if guessed:
            extra["ContentType"] = guessed
        client.upload_file(local, bucket, target, ExtraArgs=extra or None)
        click.echo(f"upload: {local} to s3://{bucket}/{target}")


def _download(client, src: str, dst: str, recursive: bool) -> None:
    bucket, key = parse_s3_uri(src)
    if recursive:
        prefix = _dir_prefix(key)
        root = Path(dst).resolve()
        for obj in _iter_objects(client, bucket, prefix):
            relative = obj["Key"][len(prefix) :]
            target = (root / relative).resolve()
            if obj["Key"].endswith("/"):
                continue  # a "folder" marker object, not a file
            if target == root or not target.is_relative_to(root):  # "..", "//" in the key
                click.echo(f"warning: skipping s3://{bucket}/{obj['Key']}: outside {dst}", err=True)
                continue
            _download_one(client, bucket, obj["Key"], target, os.path.join(dst, relative))
        return
    if not key:
        raise CommandError(f"error: {src} names no key; use --recursive to copy a prefix")
    target = Path(dst)
    shown = dst
    if target.is_dir() or dst.endswith(("/", os.sep)):
        target, shown = target / key.split("/")[-1], os.path.join(dst, key.split("/")[-1])
    _download_one(client, bucket, key, target, shown)


def _download_one(client, bucket: str, key: str, target: Path, shown: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    client.download_file(bucket, key, str(target))
    click.echo(f"download: s3://{bucket}/{key} to {shown}")


def _copy(client, src: str, dst: str, recursive: bool, content_type: str | None) -> None:
    src_bucket, src_key = parse_s3_uri(src)
    dst_bucket, dst_key = parse_s3_uri(dst)
    extra = {"ContentType": content_type, "MetadataDirective": "REPLACE"} if content_type else None
    if recursive:
        src_prefix, dst_prefix = _dir_prefix(src_key), _dir_prefix(dst_key)
        pairs = [
            (obj["Key"], dst_prefix + obj["Key"][len(src_prefix) :])
            for obj in _iter_objects(client, src_bucket, src_prefix)
        ]
    else:
        if not src_key:
            raise CommandError(f"error: {src} names no key; use --recursive to copy a prefix")
        name = src_key.split("/")[-1]
        pairs = [(src_key, dst_key + name if not dst_key or dst_key.endswith("/") else dst_key)]
    for key, target in pairs:
        source = {"Bucket": src_bucket, "Key": key}
        client.copy(source, dst_bucket, target, ExtraArgs=extra)
        click.echo(f"copy: s3://{src_bucket}/{key} to s3://{dst_bucket}/{target}")


@s3.command()
@click.argument("uri")
@click.option("--recursive", is_flag=True, help="Delete every key under the prefix.")
def rm(uri: str, recursive: bool) -> None:
    """Delete an object, or with --recursive every object under a prefix."""
    bucket, key = parse_s3_uri(uri)
    client = _s3()
    if recursive:
        _delete_prefix(client, bucket, _dir_prefix(key))
        return
    if not key:
        raise CommandError(f"error: {uri} names no key; use --recursive to empty a prefix")
    client.delete_object(Bucket=bucket, Key=key)
    click.echo(f"delete: s3://{bucket}/{key}")


def _delete_prefix(client, bucket: str, prefix: str) -> None:
    """Delete every key under ``prefix`` with DeleteObjects, 1000 keys per request.

    Raises:
        CommandError: some keys could not be deleted (each is reported on stderr).
    """
    failed = 0
    batch: list[str] = []

    def flush() -> int:
        if not batch:
            return 0
        objects = [{"Key": key} for key in batch]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": False})
        for deleted in answer.get("Deleted", []):
            click.echo(f"delete: s3://{bucket}/{deleted['Key']}")
        for error in answer.get("Errors", []):
            click.echo(
                f"delete failed: s3://{bucket}/{error['Key']} An error occurred "
                f"({error['Code']}) when calling the DeleteObjects operation: {error['Message']}",
                err=True,
            )
        batch.clear()
        return len(answer.get("Errors", []))

    for obj in _iter_objects(client, bucket, prefix):
        batch.append(obj["Key"])
        if len(batch) == DELETE_BATCH:
            failed += flush()
    failed += flush()
    if failed:
        raise CommandError(f"error: {failed} object(s) could not be deleted")
