"""What the ``simsage`` command line's modules share: the one-line error, an S3 client on
the configured backend, sizes and times as the aws CLI prints them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
from botocore.exceptions import ClientError

from simsage.transport.activation import boto3_session

_SIZE_SUFFIXES = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


class CommandError(click.ClickException):
    """A user-facing failure: printed as one line on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; for boto3 transfer errors, the S3 error behind it."""
    cause = exc
    while cause is not None and not isinstance(cause, ClientError):
        cause = cause.__cause__ or cause.__context__
    return " ".join(str(cause or exc).split())


def human_readable_size(size: float) -> str:
    """A size the way ``aws s3 ls --human-readable`` prints it (``1 Byte``, ``3.2 KiB``)."""
    if size == 1:
        return "1 Byte"
    if size < 1024:
        return f"{int(size)} Bytes"
    for power, suffix in enumerate(_SIZE_SUFFIXES, start=2):
        unit = 1024**power
        if round(size / unit * 1024) < 1024:
            return f"{1024 * size / unit:.1f} {suffix}"
    return f"{size / 1024 ** len(_SIZE_SUFFIXES):.1f} {_SIZE_SUFFIXES[-1]}"


def s3_client():
    """An S3 client on the configured backend."""
    return boto3_session().client("s3")


def timestamp(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iter_objects(client, bucket: str, prefix: str) -> Iterator[dict]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])
