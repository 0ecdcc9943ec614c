"""boto3's managed transfers (``upload_file``, ``download_file`` …) of simsage clients.

boto3 builds a transfer manager for each managed transfer. For a simsage client
(``client._simsage_local``, see :func:`simsage.transport.handler.make_local`) two things
change, and nothing for any other client:

- boto3 never picks its CRT transfer manager, which talks HTTP itself, past botocore,
  where simsage cannot answer (:func:`_keep_crt_away`);
- the manager is a :class:`LocalTransferManager`: s3transfer's classic one, whose
  ``download`` to a file name copies the object's bytes into the file inside the kernel
  instead of moving them through Python in 256 KiB chunks, one queued write task each
  (that machinery alone caps the classic download near a third of a plain file copy).

Both keep what a caller can see: the same operations through the client (HeadObject,
then GetObject with the HEAD's ETag as ``IfMatch`` above the multipart threshold, as
s3transfer sends its ranged GETs), the same errors, progress callbacks that add up to the
object's size, a temporary file renamed into place only once complete (and removed on
failure or cancellation), the future and subscriber protocol of s3transfer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import ClientError
from s3transfer.exceptions import S3DownloadFailedError
from s3transfer.futures import NonThreadedExecutor
from s3transfer.manager import TransferManager
from s3transfer.tasks import SubmissionTask
from s3transfer.utils import CallArgs, get_callbacks, invoke_progress_callbacks

log = logging.getLogger("simsage.transport")

_installed = False
_install_lock = threading.Lock()


def keep_transfers_local() -> None:
    """Install both changes (once per process; a no-op where boto3 lacks the hooks)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            _keep_crt_away()
            _use_local_manager()
            _installed = True


def _keep_crt_away() -> None:
    """With awscrt installed (simsage needs it for S3's CRC32C/CRC64NVME checksums), boto3
    switches to its CRT transfer manager on EC2 instance types awscrt is optimized for,
    or when ``TransferConfig(preferred_transfer_client="crt")`` asks for it. boto3 falls
    back to the classic manager when ``boto3.crt.is_crt_compatible_request`` says no: it
    says no for simsage clients (and asks boto3 for every other client)."""
    try:
        import boto3.crt
    except ImportError:  # no awscrt, or a boto3 without CRT support: always classic
        return
    original = boto3.crt.is_crt_compatible_request

    def is_crt_compatible_request(client, crt_s3_client):
        if getattr(client, "_simsage_local", False):
            return False
        return original(client, crt_s3_client)

    boto3.crt.is_crt_compatible_request = is_crt_compatible_request


def _use_local_manager() -> None:
    """boto3 makes its classic manager in ``_create_default_transfer_manager`` (after
    deciding against CRT): a simsage client gets a :class:`LocalTransferManager` there.
    A boto3 without that function keeps its own manager (slower, just as correct)."""
    import boto3.s3.transfer

    original = getattr(boto3.s3.transfer, "_create_default_transfer_manager", None)
    if original is None:
        log.debug("boto3 has no _create_default_transfer_manager: classic transfers")
        return

    def create_default_transfer_manager(client, config, osutil):
        if not getattr(client, "_simsage_local", False):
            return original(client, config, osutil)
        executor_cls = None if config.use_threads else NonThreadedExecutor
        return LocalTransferManager(client, config, osutil, executor_cls)

    boto3.s3.transfer._create_default_transfer_manager = create_default_transfer_manager


class LocalDownload(SubmissionTask):
    """The whole download of one object to a file name, run where s3transfer runs its
    submission tasks; the bytes go from the store's blob files to the file through the
    kernel (the GetObject body's ``copy_into``)."""

    def _submit(self, client, config, osutil, transfer_future, **_: Any) -> None:
        coordinator = self._transfer_coordinator
        meta = transfer_future.meta
        call_args = meta.call_args
        bucket, key, filename = call_args.bucket, call_args.key, call_args.fileobj
        if meta.size is None or meta.etag is None:
            head = client.head_object(Bucket=bucket, Key=key, **call_args.extra_args)
            meta.provide_transfer_size(head["ContentLength"])
            meta.provide_object_etag(head.get("ETag"))
        get_args = {}
        if meta.size >= config.multipart_threshold and meta.etag is not None:
            get_args["IfMatch"] = meta.etag  # as s3transfer's ranged GETs carry it
        get_args.update(call_args.extra_args)
        try:
            response = client.get_object(Bucket=bucket, Key=key, **get_args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise S3DownloadFailedError(
                    f'Contents of stored object "{key}" in bucket "{bucket}" '
                    "did not match expected ETag."
                ) from None
            raise
        callbacks = get_callbacks(transfer_future, "progress")

        def progress(count: int) -> None:
            invoke_progress_callbacks(callbacks, count)

        temp = osutil.get_temp_filename(filename)
        # Run by announce_done when the transfer failed or was cancelled.
        coordinator.add_failure_cleanup(osutil.remove_file, temp)
        with osutil.open(temp, "wb") as handle:
            complete = _copy_body(response["Body"], handle, progress, coordinator.done)
        if complete and not coordinator.done():
            osutil.rename_file(temp, filename)
            coordinator.set_result(None)
        coordinator.announce_done()


class LocalTransferManager(TransferManager):
    """s3transfer's TransferManager for a simsage client (see the module docstring):
    ``download`` to a plain file name is one :class:`LocalDownload`; every other
    transfer is the classic one."""

    def download(self, bucket, key, fileobj, extra_args=None, subscribers=None):
        if not self._copies_in_kernel(fileobj):
            return super().download(bucket, key, fileobj, extra_args, subscribers)
        extra_args = {} if extra_args is None else extra_args
        subscribers = [] if subscribers is None else subscribers
        self._validate_all_known_args(extra_args, self.ALLOWED_DOWNLOAD_ARGS)
        self._validate_if_bucket_supported(bucket)
        call_args = CallArgs(
            bucket=bucket, key=key, fileobj=fileobj, extra_args=extra_args, subscribers=subscribers
        )
        return self._submit_transfer(call_args, LocalDownload)

    def _copies_in_kernel(self, fileobj) -> bool:
        """A file name (not a FIFO or device, which s3transfer writes in place), no
        bandwidth limit to apply per chunk, and the HEAD-first protocol (with
        ``response_checksum_validation="when_required"`` s3transfer starts with a ranged
        GET instead: the classic manager keeps that one)."""
        validation = getattr(self._client.meta.config, "response_checksum_validation", None)
        return (
            isinstance(fileobj, str)
            and self._bandwidth_limiter is None
            and validation != "when_required"
            and not self._osutil.is_special_file(fileobj)
        )


def _copy_body(body, handle, progress, cancelled) -> bool:
    """Write ``body`` into the open file ``handle``; False if ``cancelled()`` stopped it."""
    copy_into = getattr(body, "copy_into", None)
    if copy_into is not None:
        handle.flush()
        return copy_into(handle.fileno(), progress, cancelled)
    while chunk := body.read(8 * 1024 * 1024):  # another body (a test's stub): plain reads
        handle.write(chunk)
        progress(len(chunk))
        if cancelled():
            return False
    return True
