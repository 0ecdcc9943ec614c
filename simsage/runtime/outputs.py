"""Processing outputs to S3 (first increment: every output is uploaded when the job
ends; uploading Continuous outputs while the job runs comes next)."""

from __future__ import annotations

from pathlib import Path

from simsage.runtime import paths, staging


def upload_folder(s3, folder: Path, uri: str, within: Path, skip=None) -> int:
    """Upload every regular file below ``folder`` (never through a symlink) to
    ``uri``/<relative path>; returns how many."""
    bucket, prefix = staging.split_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    for relative, path, _ in paths.files(folder, within):
        key = f"{prefix}/{relative}" if prefix else relative
        staging.upload(s3, path, bucket, key, "application/octet-stream")
        count += 1
    return count


class ContinuousUpload:
    """A Continuous output (this increment uploads it when the job ends)."""

    def __init__(self, s3, folder: Path, uri: str, within: Path, on_error) -> None:
        self._args = (s3, folder, uri, within)

    def start(self) -> None:
        pass

    def finish(self) -> int:
        return upload_folder(*self._args)

    def stop(self) -> None:
        pass
