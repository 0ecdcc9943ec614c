"""``Session``: the SDK's handle on the AWS clients, S3 helpers, waits and job logs.

Layer: SDK, built only on boto3 clients — so the same code runs on simsage and on AWS
(``SIMSAGE_BACKEND=aws``). The names and meanings are the official SDK v2's.

Waiting: jobs and endpoints are polled with DescribeX. On the local backend things
happen in seconds, so the poll interval is 0.1 s; on AWS it is 5 s (set ``poll`` to
change it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsage.sdk.exceptions import UnexpectedStatusException
from simsage.sdk.logs import LogFollower
from simsage.sdk.progress import LogProgress, TuningProgress

log = logging.getLogger("simsage.sdk")

TERMINAL_JOB = ("Completed", "Failed", "Stopped")


class Session:
    """Clients for one region, plus the conveniences the SDK offers on top of them.

    Parameters
    ----------
    boto_session:
        A boto3 session; defaults to :func:`simsage.boto3_session` (simsage or AWS
        depending on ``SIMSAGE_BACKEND``).
    default_bucket:
        The bucket :meth:`default_bucket` returns; defaults to
        ``sagemaker-<region>-<account>``, created when first asked for.
    """

    def __init__(self, boto_session=None, default_bucket: str | None = None) -> None:
        self._boto_session = boto_session
        self._default_bucket_name = default_bucket
        self._default_bucket: str | None = None
        self._clients: dict[str, Any] = {}
        self._account_id: str | None = None

    # -- clients -------------------------------------------------------------------------
    @property
    def boto_session(self):
        if self._boto_session is None:
            from simsage.transport.activation import boto3_session

            self._boto_session = boto3_session()
        return self._boto_session

    @property
    def boto_region_name(self) -> str:
        region = self.boto_session.region_name
        if region is None:
            raise ValueError(
                "No AWS region: set SIMSAGE_REGION (or AWS_DEFAULT_REGION on AWS) or give "
                "the boto3 session a region_name."
            )
        return region

    def client(self, service: str):
        """The (cached) boto3 client for ``service`` in this session's region."""
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.boto_session.client(
                service, region_name=self.boto_region_name
            )
        return client

    @property
    def sagemaker_client(self):
        return self.client("sagemaker")

    @property
    def sagemaker_runtime_client(self):
        return self.client("sagemaker-runtime")

    @property
    def s3_client(self):
        return self.client("s3")

    @property
    def logs_client(self):
        return self.client("logs")

    @property
    def cloudwatch_client(self):
        return self.client("cloudwatch")

    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.client("sts").get_caller_identity()["Account"]
        return self._account_id

    @property
    def local(self) -> bool:
        """Whether simsage answers this session's calls (the local backend)."""
        from simsage.config import load_config

        return load_config().backend == "local"

    def default_poll(self) -> float:
        return 0.1 if self.local else 5.0

    # -- S3 ------------------------------------------------------------------------------
    def default_bucket(self) -> str:
        """``sagemaker-<region>-<account>`` (or the name given), created if missing."""
        if self._default_bucket is not None:
            return self._default_bucket
        region = self.boto_region_name
        name = self._default_bucket_name or f"sagemaker-{region}-{self.account_id()}"
        s3 = self.s3_client
        try:
            s3.head_bucket(Bucket=name)
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
            kwargs: dict[str, Any] = {"Bucket": name}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(**kwargs)
        self._default_bucket = name
        return name

    def upload_data(
        self,
        path: str | os.PathLike[str],
        bucket: str | None = None,
        key_prefix: str = "data",
        extra_args: dict[str, Any] | None = None,
    ) -> str:
        """Upload a file or a folder (recursively) to S3.

        Returns:
            ``s3://bucket/key_prefix/<file name>`` for a file, ``s3://bucket/key_prefix``
            for a folder — the URI to give as training or transform input.
        """
        source = Path(path)
        bucket = bucket or self.default_bucket()
        prefix = key_prefix.strip("/")
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            for file in files:
                key = "/".join(p for p in (prefix, file.relative_to(source).as_posix()) if p)
                self.s3_client.upload_file(str(file), bucket, key, ExtraArgs=extra_args)
            return f"s3://{bucket}/{prefix}"
        if not source.is_file():
            raise FileNotFoundError(f"upload_data: {source} is neither a file nor a folder")
        key = "/".join(p for p in (prefix, source.name) if p)
        self.s3_client.upload_file(str(source), bucket, key, ExtraArgs=extra_args)
        return f"s3://{bucket}/{key}"

    def download_data(
        self, path: str | os.PathLike[str], bucket: str, key_prefix: str = ""
    ) -> list[str]:
        """Download every object under ``key_prefix`` into ``path`` (keys below the
        prefix become sub-folders); returns the local file paths."""
        target = Path(path)
        paginator = self.s3_client.get_paginator("list_objects_v2")
        written = []
        for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                relative = key[len(key_prefix) :].lstrip("/") or Path(key).name
                if ".." in Path(relative).parts:
                    raise ValueError(f"download_data: refusing key {key!r} (it leaves {path})")
                local = target / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                self.s3_client.download_file(bucket, key, str(local))
                written.append(str(local))
        return written

    def read_s3_file(self, bucket: str, key_prefix: str) -> str:
        """The object ``bucket/key_prefix`` as UTF-8 text."""
        body = self.s3_client.get_object(Bucket=bucket, Key=key_prefix)["Body"]
        return body.read().decode("utf-8")

    def upload_string_as_file_body(self, body: str, bucket: str, key: str) -> str:
        self.s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
        return f"s3://{bucket}/{key}"

    # -- deletes -------------------------------------------------------------------------
    def delete_endpoint(self, endpoint_name: str) -> None:
        self.sagemaker_client.delete_endpoint(EndpointName=endpoint_name)

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        self.sagemaker_client.delete_endpoint_config(EndpointConfigName=endpoint_config_name)

    def delete_model(self, model_name: str) -> None:
        self.sagemaker_client.delete_model(ModelName=model_name)

    # -- waiting -------------------------------------------------------------------------
    def _wait(
        self,
        describe: Callable[[], dict[str, Any]],
        done: Callable[[dict[str, Any]], bool],
        poll: float | None,
    ) -> dict[str, Any]:
        interval = self.default_poll() if poll is None else poll
        while True:
            described = describe()
            if done(described):
                return described
            time.sleep(interval)

    def wait_for_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Wait for training job ``job`` to end; returns its description.

        Raises:
            UnexpectedStatusException: the job Failed or was Stopped.
        """
        described = self._wait(
            lambda: self.sagemaker_client.describe_training_job(TrainingJobName=job),
            lambda d: d["TrainingJobStatus"] in TERMINAL_JOB,
            poll,
        )
        _check_job(described, "Training job", job, "TrainingJobStatus")
        return described

    def wait_for_transform_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Wait for transform job ``job`` to end; raises UnexpectedStatusException if it
        did not complete."""
        described = self._wait(
            lambda: self.sagemaker_client.describe_transform_job(TransformJobName=job),
            lambda d: d["TransformJobStatus"] in TERMINAL_JOB,
            poll,
        )
        _check_job(described, "Transform job", job, "TransformJobStatus")
        return described

    def wait_for_processing_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Wait for processing job ``job`` to end; returns its description.

        Raises:
            UnexpectedStatusException: the job Failed or was Stopped.
        """
        described = self._wait(
            lambda: self.sagemaker_client.describe_processing_job(ProcessingJobName=job),
            lambda d: d["ProcessingJobStatus"] in TERMINAL_JOB,
            poll,
        )
        _check_job(described, "Processing job", job, "ProcessingJobStatus")
        return described

    # -- tuning jobs ---------------------------------------------------------------------
    def describe_tuning_job(self, job_name: str) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob for ``job_name``."""
        return self.sagemaker_client.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name
        )

    def stop_tuning_job(self, name: str) -> None:
        """Stop tuning job ``name`` and its running training jobs. A job that has already
        ended is left as it is (the service answers ValidationException), as the
        official SDK does."""
        client = self.sagemaker_client
        try:
            client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            log.info("Tuning job %s is already stopped or not running.", name)

    def wait_for_tuning_job(
        self, job: str, poll: float | None = None, progress: TuningProgress | None = None
    ) -> dict[str, Any]:
        """Wait for tuning job ``job`` to end; returns its description. ``progress`` is
        shown each description (see :class:`~simsage.sdk.progress.TuningProgress`).

        A Stopped job only logs a warning, as in the official SDK (its training jobs and
        best job stay usable).

        Raises:
            UnexpectedStatusException: the job Failed (the reason is in the message).
        """

        def done(described: dict[str, Any]) -> bool:
            if progress is not None:
                progress.update(described)
            return described["HyperParameterTuningJobStatus"] in TERMINAL_JOB

        described = self._wait(lambda: self.describe_tuning_job(job), done, poll)
        if described["HyperParameterTuningJobStatus"] == "Stopped":
            log.warning("Tuning job %s ended with status 'Stopped' rather than 'Completed'.", job)
            return described
        _check_job(described, "HyperParameterTuning job", job, "HyperParameterTuningJobStatus")
        return described

    def wait_for_endpoint(self, endpoint: str, poll: float | None = None) -> dict[str, Any]:
        """Wait until the endpoint leaves Creating/Updating; raises
        UnexpectedStatusException unless it is InService."""
        described = self._wait(
            lambda: self.sagemaker_client.describe_endpoint(EndpointName=endpoint),
            lambda d: d["EndpointStatus"] not in ("Creating", "Updating", "SystemUpdating"),
            poll,
        )
        if described["EndpointStatus"] != "InService":
            reason = described.get("FailureReason", "(no reason given)")
            raise UnexpectedStatusException(
                f"Error hosting endpoint {endpoint}: {described['EndpointStatus']}. "
                f"Reason: {reason}. Check the logs in /aws/sagemaker/Endpoints/{endpoint}.",
                allowed_statuses=["InService"],
                actual_status=described["EndpointStatus"],
            )
        return described

    # -- logs ----------------------------------------------------------------------------
    def logs_for_job(
        self,
        job_name: str,
        wait: bool = False,
        poll: float | None = None,
        progress: LogProgress | None = None,
        out=None,
    ) -> dict[str, Any]:
        """Print a training job's log lines (every instance's) as they arrive.

        With ``wait`` it follows the job until it ends, then prints the billable time
        and raises UnexpectedStatusException if it failed. ``progress`` (the
        estimator's rounds bar) prints the lines above itself and advances on them.
        """
        write = progress.write if progress is not None else _writer(out)
        described = self._follow_logs(
            "/aws/sagemaker/TrainingJobs",
            job_name,
            lambda: self.sagemaker_client.describe_training_job(TrainingJobName=job_name),
            "TrainingJobStatus",
            wait,
            poll,
            write,
            progress,
        )
        if described["TrainingJobStatus"] in TERMINAL_JOB:
            # Both are wall-clock seconds per instance; the cluster is billed for all.
            count = described.get("ResourceConfig", {}).get("InstanceCount", 1)
            training = described.get("TrainingTimeInSeconds")
            billable = described.get("BillableTimeInSeconds")
            if training is not None:
                write(f"Training seconds: {training * count}")
            if billable is not None:
                write(f"Billable seconds: {billable * count}")
        if wait:
            _check_job(described, "Training job", job_name, "TrainingJobStatus")
        return described

    def logs_for_transform_job(
        self,
        job_name: str,
        wait: bool = False,
        poll: float | None = None,
        progress: LogProgress | None = None,
        out=None,
    ) -> dict[str, Any]:
        """Print a transform job's log lines (container and data logs) as they arrive;
        ``progress`` (the transformer's files bar) prints them and advances on them."""
        described = self._follow_logs(
            "/aws/sagemaker/TransformJobs",
            job_name,
            lambda: self.sagemaker_client.describe_transform_job(TransformJobName=job_name),
            "TransformJobStatus",
            wait,
            poll,
            progress.write if progress is not None else _writer(out),
            progress,
        )
        if wait:
            _check_job(described, "Transform job", job_name, "TransformJobStatus")
        return described

    def logs_for_processing_job(
        self, job_name: str, wait: bool = False, poll: float | None = None, out=None
    ) -> dict[str, Any]:
        """Print a processing job's log lines (every instance's) as they arrive; with
        ``wait`` follow it until it ends and raise UnexpectedStatusException if it did
        not complete."""
        described = self._follow_logs(
            "/aws/sagemaker/ProcessingJobs",
            job_name,
            lambda: self.sagemaker_client.describe_processing_job(ProcessingJobName=job_name),
            "ProcessingJobStatus",
            wait,
            poll,
            _writer(out),
            None,
        )
        if wait:
            _check_job(described, "Processing job", job_name, "ProcessingJobStatus")
        return described

    def _follow_logs(
        self,
        group: str,
        job_name: str,
        describe: Callable[[], dict[str, Any]],
        status_key: str,
        wait: bool,
        poll: float | None,
        write: Callable[[str], None],
        progress: LogProgress | None,
    ) -> dict[str, Any]:
        """Print the job's new log lines until it ends (or once, without ``wait``);
        returns its last description. Lines are prefixed with their stream once the job
        has more than one."""
        follower = LogFollower(self.logs_client, group, f"{job_name}/")
        interval = self.default_poll() if poll is None else poll
        while True:
            described = describe()
            finished = described[status_key] in TERMINAL_JOB
            # A finished job's last lines may have been shipped after this description:
            # read once more then.
            for _ in range(2 if finished else 1):
                for stream, line in follower.new_lines():
                    write(line if follower.single_stream else f"[{stream}] {line}")
                    if progress is not None:
                        progress.line(line)
            if finished or not wait:
                return described
            time.sleep(interval)


def _writer(out) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream = out if out is not None else sys.stdout
        print(line, file=stream, flush=True)

    return write


def _check_job(described: dict[str, Any], kind: str, name: str, status_key: str) -> None:
    status = described[status_key]
    if status == "Completed":
        return
    reason = described.get("FailureReason", "(no reason given)")
    raise UnexpectedStatusException(
        f"Error for {kind} {name}: {status}. Reason: {reason}",
        allowed_statuses=["Completed"],
        actual_status=status,
    )
