"""Transform job requests: CreateTransformJob, DescribeTransformJob, ListTransformJobs,
StopTransformJob.

``create_transform_job`` validates as SageMaker does (and refuses, with what to do
instead, what simsage does not emulate), records the job and starts its runner (see
:mod:`simsage.transform.runner`), then returns the ARN at once. Describe and List
notice a runner that died and fail its job with a reason.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import OperationModel

from simsage.errors import ValidationException
from simsage.ids import from_epoch
from simsage.runtime import launcher
from simsage.store.models import ModelStore
from simsage.store.registry import STATUS_LISTING, ResourceLimitExceeded, list_answer
from simsage.transform import dataprocessing
from simsage.transform.jobs import TRANSFORM_JOB, TransformJob, TransformJobStore
from simsage.transport import Request
from simsage.transport.echo import described

RUNNER_MODULE = "simsage.transform.runner"
DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100
DEFAULT_INVOCATION_TIMEOUT = 600
DEFAULT_INVOCATION_RETRIES = 3
MAX_INSTANCES = 16
MAX_CONCURRENT = 64


def effective_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The settings a job runs with: the request's values, else SageMaker's defaults.
    The runner then lets the container's ``/execution-parameters`` answer replace the
    defaults the request left unset."""
    client = spec.get("ModelClientConfig") or {}
    transform_input = spec["TransformInput"]
    return {
        "max_payload_mb": spec.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
        "max_concurrent": spec.get("MaxConcurrentTransforms") or 1,
        "batch_strategy": spec.get("BatchStrategy")
        or ("MultiRecord" if transform_input.get("SplitType", "None") != "None" else None),
        "split_type": transform_input.get("SplitType", "None"),
        "compression": transform_input.get("CompressionType", "None"),
        "timeout": client.get("InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT),
        "retries": client.get("InvocationsMaxRetries", DEFAULT_INVOCATION_RETRIES),
        "assemble_with": spec["TransformOutput"].get("AssembleWith", "None"),
    }


def _s3_uri(value: str, where: str) -> None:
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValidationException(
            f"{where} must be an s3:// URI (s3://bucket/prefix); got {value!r}."
        )


def validate(spec: dict[str, Any]) -> None:
    """Check a CreateTransformJob request beyond what botocore's model checks.

    Raises:
        ValidationException: a combination SageMaker refuses, or a feature simsage does
            not emulate (the message says what to do instead).
        ResourceLimitExceeded: more instances than simsage runs on one machine.
    """
    transform_input = spec["TransformInput"]
    source = transform_input["DataSource"]["S3DataSource"]
    data_type = source["S3DataType"]
    if data_type not in ("S3Prefix", "ManifestFile"):
        raise ValidationException(
            f"simsage batch transform reads S3DataType S3Prefix or ManifestFile, not "
            f"{data_type}; list the objects in a manifest file or under a prefix instead."
        )
    _s3_uri(source["S3Uri"], "TransformInput.DataSource.S3DataSource.S3Uri")
    _s3_uri(spec["TransformOutput"]["S3OutputPath"], "TransformOutput.S3OutputPath")
    split = transform_input.get("SplitType", "None")
    if split == "TFRecord":
        raise ValidationException(
            "simsage does not split TFRecord input (SplitType TFRecord): convert the data "
            "to RecordIO or lines (SplitType RecordIO or Line), or send whole objects "
            "(SplitType None)."
        )
    if spec.get("BatchStrategy") and split == "None":
        raise ValidationException(
            f"BatchStrategy {spec['BatchStrategy']} needs a SplitType to split records with: "
            "with SplitType None every object is sent whole as one request. Set "
            "TransformInput.SplitType to Line or RecordIO, or remove BatchStrategy."
        )
    payload = spec.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
    if payload > MAX_PAYLOAD_MB:
        raise ValidationException(
            f"MaxPayloadInMB must be at most {MAX_PAYLOAD_MB}; got {payload}."
        )
    concurrent = spec.get("MaxConcurrentTransforms") or 1
    if payload and concurrent * payload > MAX_PAYLOAD_MB:
        raise ValidationException(
            f"MaxConcurrentTransforms ({concurrent}) × MaxPayloadInMB ({payload}) must be at "
            f"most {MAX_PAYLOAD_MB}; lower one of them."
        )
    if concurrent > MAX_CONCURRENT:
        raise ResourceLimitExceeded(
            f"simsage runs at most {MAX_CONCURRENT} concurrent transforms per instance on one "
            f"machine; you asked for {concurrent}."
        )
    count = spec["TransformResources"]["InstanceCount"]
    if count > MAX_INSTANCES:
        raise ResourceLimitExceeded(
            f"simsage runs at most {MAX_INSTANCES} instances per transform job on one "
            f"machine; you asked for {count}."
        )
    if "DataCaptureConfig" in spec:
        _s3_uri(spec["DataCaptureConfig"]["DestinationS3Uri"], "DataCaptureConfig.DestinationS3Uri")
    processing = spec.get("DataProcessing")
    if processing:
        dataprocessing.validate(
            processing,
            transform_input.get("ContentType"),
            spec["TransformOutput"].get("Accept"),
            split,
            spec["TransformOutput"].get("AssembleWith", "None"),
        )


class TransformAPI:
    OPERATIONS = (
        "create_transform_job",
        "describe_transform_job",
        "list_transform_jobs",
        "stop_transform_job",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.jobs = TransformJobStore(home)
        self.models = ModelStore(home)
        self.tags = tags

    def create_transform_job(self, request: Request) -> dict[str, Any]:
        spec = copy.deepcopy(request.params)
        name = spec["TransformJobName"]
        self.models.get(spec["ModelName"], request.region, request.account_id)
        validate(spec)
        job_arn = TRANSFORM_JOB.arn(request.region, request.account_id, name)
        tags = spec.pop("Tags", [])
        now = self.home.clock.time()
        job_dir = self.home.path / "jobs" / "transform" / name
        job = TransformJob(
            name=name,
            arn=job_arn,
            region=request.region,
            spec=spec,
            status="InProgress",
            failure=None,
            created=now,
            started=None,
            ended=None,
            modified=now,
            runner_pid=None,
            job_dir=str(job_dir),
        )
        self.jobs.create(job)
        self.tags.set(job_arn, tags)
        launcher.start_job(RUNNER_MODULE, self.home, self.jobs, name, job_dir)
        return {"TransformJobArn": job_arn}

    def _current(self, job: TransformJob) -> TransformJob:
        """The job, failed first if its runner is gone while it should be running."""
        if not launcher.fail_orphan(self.jobs, job, self.home.clock.time()):
            return job
        return self.jobs.get(job.name)

    def describe_transform_job(self, request: Request) -> dict[str, Any]:
        job = self._current(self.jobs.get(request.params["TransformJobName"]))
        return describe(job, request.model)

    def list_transform_jobs(self, request: Request) -> dict[str, Any]:
        jobs = [self._current(job) for job in self.jobs.all()]
        page, token = self.jobs.page(request.params, STATUS_LISTING, items=jobs)
        return list_answer("TransformJobSummaries", [summary(job) for job in page], token)

    def stop_transform_job(self, request: Request) -> dict[str, Any]:
        job = self._current(self.jobs.get(request.params["TransformJobName"]))
        if job.status == "Stopping":
            return {}
        if job.status != "InProgress":
            raise ValidationException(
                f"The request was rejected because the transform job is in status {job.status}."
            )
        self.jobs.transition(job.name, "Stopping", ("InProgress",))
        return {}


def summary(job: TransformJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TransformJobName": job.name,
        "TransformJobArn": job.arn,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
        "TransformJobStatus": job.status,
    }
    if job.ended is not None:
        out["TransformEndTime"] = from_epoch(job.ended)
    if job.failure:
        out["FailureReason"] = job.failure
    return out


def describe(job: TransformJob, model: OperationModel) -> dict[str, Any]:
    """DescribeTransformJob's answer for ``job``: the members of its request that the
    answer has (per ``model``, DescribeTransformJob's) with SageMaker's defaults filled
    in, and the job's state."""
    spec = job.spec
    settings = effective_settings(spec)
    transform_input = copy.deepcopy(spec["TransformInput"])
    transform_input.setdefault("CompressionType", "None")
    transform_input.setdefault("SplitType", "None")
    transform_output = copy.deepcopy(spec["TransformOutput"])
    transform_output.setdefault("AssembleWith", "None")
    out: dict[str, Any] = {
        "TransformJobName": job.name,
        "TransformJobArn": job.arn,
        "TransformJobStatus": job.status,
        "ModelName": spec["ModelName"],
        "MaxConcurrentTransforms": settings["max_concurrent"],
        "MaxPayloadInMB": settings["max_payload_mb"],
        "TransformInput": transform_input,
        "TransformOutput": transform_output,
        "TransformResources": copy.deepcopy(spec["TransformResources"]),
        "CreationTime": from_epoch(job.created),
    }
    if "ModelClientConfig" in spec:
        out["ModelClientConfig"] = {
            "InvocationsTimeoutInSeconds": settings["timeout"],
            "InvocationsMaxRetries": settings["retries"],
        }
    described(out, model, spec)
    if job.failure:
        out["FailureReason"] = job.failure
    if job.started is not None:
        out["TransformStartTime"] = from_epoch(job.started)
    if job.ended is not None:
        out["TransformEndTime"] = from_epoch(job.ended)
    return out
