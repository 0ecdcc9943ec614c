"""Processing job requests: CreateProcessingJob, DescribeProcessingJob,
ListProcessingJobs, StopProcessingJob.

``create_processing_job`` validates as SageMaker does beyond botocore's model (and
refuses, saying what to do instead, what simsage does not emulate: Pipe input, dataset
definitions, Feature Store outputs), records the job and starts its runner (see
:mod:`simsage.processing.runner`), then returns the ARN at once. Describe, List and Stop
first fail a job whose runner is gone.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import OperationModel

from simsage.errors import ValidationException
from simsage.ids import from_epoch
from simsage.processing.jobs import PROCESSING_JOB, ProcessingJob, ProcessingJobStore
from simsage.runtime import launcher, paths
from simsage.store.registry import STATUS_LISTING, ResourceLimitExceeded, list_answer
from simsage.transport import Request
from simsage.transport.echo import described

RUNNER_MODULE = "simsage.processing.runner"
DEFAULT_MAX_RUNTIME = 86400  # SageMaker's default when StoppingCondition is left out
MAX_INSTANCES = 16
PROCESSING_ROOT = "/opt/ml/processing/"


def _local_path(value: str | None, where: str) -> None:
    """A LocalPath: below /opt/ml/processing/ (SageMaker's rule), and a container path
    that cannot lead out of the host's folder."""
    if not value:
        raise ValidationException(
            f"{where} is required (a folder under {PROCESSING_ROOT}, e.g. "
            f"{PROCESSING_ROOT}input) unless AppManaged is true."
        )
    if not value.startswith(PROCESSING_ROOT) or value.rstrip("/") + "/" == PROCESSING_ROOT:
        raise ValidationException(
            f"{where} must be a folder under {PROCESSING_ROOT} (e.g. {PROCESSING_ROOT}input); "
            f"got {value!r}."
        )
    try:
        paths.container_path(value, where)
    except paths.PathError as exc:
        raise ValidationException(str(exc)) from None


def _s3_uri(value: str, where: str) -> None:
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValidationException(
            f"{where} must be an s3:// URI (s3://bucket/prefix); got {value!r}."
        )


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValidationException(f"{what} must be unique; {name!r} appears twice.")
        seen.add(name)


def validate(spec: dict[str, Any]) -> None:
    """Check a CreateProcessingJob request beyond what botocore's model checks.

    Raises:
        ValidationException: a combination SageMaker refuses, or a feature simsage does
            not emulate (the message says what to do instead).
        ResourceLimitExceeded: more instances than simsage runs on one machine.
    """
    cluster = spec["ProcessingResources"]["ClusterConfig"]
    if cluster["InstanceCount"] < 1:
        raise ValidationException(
            "ProcessingResources.ClusterConfig.InstanceCount must be at least 1."
        )
    if cluster["InstanceCount"] > MAX_INSTANCES:
        raise ResourceLimitExceeded(
            f"simsage runs at most {MAX_INSTANCES} instances per processing job on one "
            f"machine; you asked for {cluster['InstanceCount']}."
        )
    if cluster["VolumeSizeInGB"] < 1:
        raise ValidationException(
            "ProcessingResources.ClusterConfig.VolumeSizeInGB must be at least 1."
        )
    inputs = spec.get("ProcessingInputs") or []
    _unique([i["InputName"] for i in inputs], "ProcessingInputs' InputName values")
    for position, item in enumerate(inputs):
        where = f"ProcessingInputs[{position}] ({item['InputName']})"
        source = item.get("S3Input")
        if item.get("DatasetDefinition") is not None:
            raise ValidationException(
                f"{where}: simsage does not emulate Athena or Redshift dataset definitions "
                "(DatasetDefinition); export the data to S3 and give an S3Input instead."
            )
        if source is None:
            raise ValidationException(f"{where}: give an S3Input (or a DatasetDefinition).")
        _s3_uri(source["S3Uri"], f"{where} S3Input.S3Uri")
        if not item.get("AppManaged"):
            _local_path(source.get("LocalPath"), f"{where} S3Input.LocalPath")
        mode = source.get("S3InputMode", "File")
        if mode == "Pipe":
            raise ValidationException(
                f"{where}: simsage does not emulate Pipe input mode for processing jobs; use "
                "S3InputMode File (the objects are downloaded to LocalPath before the job "
                "starts)."
            )
        if source.get("S3CompressionType", "None") == "Gzip":
            raise ValidationException(
                f"{where}: S3CompressionType Gzip is supported only with S3InputMode Pipe."
            )
    outputs = (spec.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    _unique([o["OutputName"] for o in outputs], "ProcessingOutputConfig's OutputName values")
    for position, item in enumerate(outputs):
        where = f"ProcessingOutputConfig.Outputs[{position}] ({item['OutputName']})"
        if item.get("FeatureStoreOutput") is not None:
            raise ValidationException(
                f"{where}: simsage does not emulate Feature Store outputs "
                "(FeatureStoreOutput); give an S3Output instead."
            )
        target = item.get("S3Output")
        if target is None:
            raise ValidationException(f"{where}: give an S3Output (or a FeatureStoreOutput).")
        _s3_uri(target["S3Uri"], f"{where} S3Output.S3Uri")
        if not item.get("AppManaged"):
            _local_path(target.get("LocalPath"), f"{where} S3Output.LocalPath")


class ProcessingAPI:
    OPERATIONS = (
        "create_processing_job",
        "describe_processing_job",
        "list_processing_jobs",
        "stop_processing_job",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.jobs = ProcessingJobStore(home)
        self.tags = tags

    def create_processing_job(self, request: Request) -> dict[str, Any]:
        spec = copy.deepcopy(request.params)
        validate(spec)
        name = spec["ProcessingJobName"]
        job_arn = PROCESSING_JOB.arn(request.region, request.account_id, name)
        tags = spec.pop("Tags", [])
        now = self.home.clock.time()
        job_dir = self.home.path / "jobs" / "processing" / name
        job = ProcessingJob(
            name=name,
            arn=job_arn,
            region=request.region,
            spec=spec,
            status="InProgress",
            failure=None,
            exit_message=None,
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
        return {"ProcessingJobArn": job_arn}

    def _current(self, job: ProcessingJob) -> ProcessingJob:
        """The job, failed first if its runner is gone while it should be running."""
        if not launcher.fail_orphan(self.jobs, job, self.home.clock.time()):
            return job
        return self.jobs.get(job.name)

    def describe_processing_job(self, request: Request) -> dict[str, Any]:
        job = self._current(self.jobs.get(request.params["ProcessingJobName"]))
        return describe(job, request.model)

    def list_processing_jobs(self, request: Request) -> dict[str, Any]:
        jobs = [self._current(job) for job in self.jobs.all()]
        page, token = self.jobs.page(request.params, STATUS_LISTING, items=jobs)
        return list_answer("ProcessingJobSummaries", [summary(job) for job in page], token)

    def stop_processing_job(self, request: Request) -> dict[str, Any]:
        job = self._current(self.jobs.get(request.params["ProcessingJobName"]))
        if job.status == "Stopping":
            return {}
        if job.status != "InProgress":
            raise ValidationException(
                f"The request was rejected because the processing job is in status {job.status}."
            )
        self.jobs.transition(job.name, "Stopping", ("InProgress",), stop="Stopped")
        return {}


def _times(job: ProcessingJob, out: dict[str, Any]) -> None:
    if job.started is not None:
        out["ProcessingStartTime"] = from_epoch(job.started)
    if job.ended is not None:
        out["ProcessingEndTime"] = from_epoch(job.ended)


def summary(job: ProcessingJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ProcessingJobName": job.name,
        "ProcessingJobArn": job.arn,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
        "ProcessingJobStatus": job.status,
    }
    _times(job, out)
    out.pop("ProcessingStartTime", None)  # not in the summary shape
    if job.failure:
        out["FailureReason"] = job.failure
    if job.exit_message:
        out["ExitMessage"] = job.exit_message
    return out


def describe(job: ProcessingJob, model: OperationModel) -> dict[str, Any]:
    """DescribeProcessingJob's answer for ``job``: the members of its request that the
    answer has (per ``model``, DescribeProcessingJob's) and its state."""
    out: dict[str, Any] = {
        "ProcessingJobName": job.name,
        "ProcessingJobArn": job.arn,
        "ProcessingJobStatus": job.status,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
    }
    described(out, model, job.spec)
    _times(job, out)
    if job.exit_message:
        out["ExitMessage"] = job.exit_message
    if job.failure:
        out["FailureReason"] = job.failure
    return out
