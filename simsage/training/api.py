"""Training job requests: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs,
StopTrainingJob.

``create_training_job`` validates as SageMaker does, records the job and starts its
runner in the background (see :mod:`simsage.training.runner`), then returns the ARN at
once. Describe notices a runner that died and fails its job with a reason.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from botocore.model import OperationModel

from simsage.algorithms.first_party import ALGORITHMS as FIRST_PARTY
from simsage.errors import ValidationException
from simsage.ids import from_epoch
from simsage.runtime import launcher, paths
from simsage.runtime.images import (
    BUILTIN_XGBOOST_ALGORITHMS,
    algorithm_module,
    builtin_metric_definitions,
    not_emulated_reason,
    parse_image,
    runs_entrypoint,
)
from simsage.runtime.metrics import MetricDefinitionError, compile_definitions
from simsage.store.registry import STATUS_LISTING, ResourceLimitExceeded, list_answer
from simsage.training.jobs import TERMINAL, TRAINING_JOB, TrainingJob, TrainingJobStore
from simsage.transport import Request
from simsage.transport.echo import described

DEFAULT_MAX_RUNTIME = 86400
MAX_RUNTIME_LIMIT = 28 * 86400
MAX_INSTANCES = 16
RUNNER_MODULE = "simsage.training.runner"


def _container_path(value: str, where: str) -> None:
    """A path inside the container that maps into the job folder: absolute, no '.' or
    '..' segments (so it can never lead out of the folder)."""
    try:
        paths.container_path(value, where)
    except paths.PathError as exc:
        raise ValidationException(str(exc)) from None


def _s3_uri(value: str, where: str) -> None:
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValidationException(
            f"{where} must be an s3:// URI (s3://bucket/prefix); got {value!r}."
        )


class TrainingAPI:
    OPERATIONS = (
        "create_training_job",
        "describe_training_job",
        "list_training_jobs",
        "stop_training_job",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.jobs = TrainingJobStore(home)
        self.tags = tags

    # -- create --------------------------------------------------------------------

    def create_training_job(self, request: Request) -> dict[str, Any]:
        spec = copy.deepcopy(request.params)
        self._validate(spec)
        name = spec["TrainingJobName"]
        job_arn = TRAINING_JOB.arn(request.region, request.account_id, name)
        spec.setdefault("StoppingCondition", {}).setdefault(
            "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME
        )
        tags = spec.pop("Tags", [])
        now = self.home.clock.time()
        job_dir = self.home.path / "jobs" / "training" / name
        job = TrainingJob(
            name=name,
            arn=job_arn,
            region=request.region,
            spec=spec,
            status="InProgress",
            secondary="Starting",
            transitions=[
                {
                    "Status": "Starting",
                    "StartTime": now,
                    "StatusMessage": "Preparing the instances for training",
                }
            ],
            failure=None,
            created=now,
            started=None,
            ended=None,
            modified=now,
            artifacts=None,
            metrics={},
            runner_pid=None,
            job_dir=str(job_dir),
        )
        self.jobs.create(job)
        self.tags.set(job_arn, tags)
        launcher.start_job(RUNNER_MODULE, self.home, self.jobs, name, job_dir)
        return {"TrainingJobArn": job_arn}

    def _validate(self, spec: dict[str, Any]) -> None:
        algorithm = spec.get("AlgorithmSpecification")
        if not algorithm:
            raise ValidationException("AlgorithmSpecification is required for a training job.")
        if algorithm.get("AlgorithmName") and not algorithm.get("TrainingImage"):
            raise ValidationException(
                "simsage does not emulate algorithm resources (AlgorithmName); "
                "give AlgorithmSpecification.TrainingImage instead."
            )
        if not algorithm.get("TrainingImage"):
            raise ValidationException(
                "Either AlgorithmSpecification.TrainingImage or AlgorithmName must be specified."
            )
        resources = spec.get("ResourceConfig")
        if not resources or "InstanceType" not in resources or "InstanceCount" not in resources:
            raise ValidationException(
                "ResourceConfig with InstanceType and InstanceCount is required for a training job."
            )
        if resources["InstanceCount"] < 1:
            raise ValidationException("ResourceConfig.InstanceCount must be at least 1.")
        if resources["InstanceCount"] > MAX_INSTANCES:
            raise ResourceLimitExceeded(
                f"simsage runs at most {MAX_INSTANCES} instances per training job on one "
                f"machine; you asked for {resources['InstanceCount']}."
            )
        if resources.get("InstanceGroups"):
            raise ValidationException(
                "simsage does not emulate heterogeneous clusters (InstanceGroups)."
            )
        stopping = spec.get("StoppingCondition") or {}
        runtime = stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME)
        if runtime > MAX_RUNTIME_LIMIT:
            raise ValidationException(
                f"MaxRuntimeInSeconds must be at most {MAX_RUNTIME_LIMIT} (28 days); got {runtime}."
            )
        if "MaxWaitTimeInSeconds" in stopping:
            if not spec.get("EnableManagedSpotTraining"):
                raise ValidationException(
                    "MaxWaitTimeInSeconds can only be set for managed spot training "
                    "(EnableManagedSpotTraining)."
                )
            if stopping["MaxWaitTimeInSeconds"] < runtime:
                raise ValidationException(
                    "MaxWaitTimeInSeconds must be greater than or equal to MaxRuntimeInSeconds."
                )
        _s3_uri(spec["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath")
        checkpoint = spec.get("CheckpointConfig")
        if checkpoint:
            _s3_uri(checkpoint["S3Uri"], "CheckpointConfig.S3Uri")
            if checkpoint.get("LocalPath"):
                _container_path(checkpoint["LocalPath"], "CheckpointConfig.LocalPath")
        try:
            compile_definitions(algorithm.get("MetricDefinitions") or [])
        except MetricDefinitionError as exc:
            raise ValidationException(str(exc)) from None
        default_mode = algorithm["TrainingInputMode"]
        seen: set[str] = set()
        for channel in spec.get("InputDataConfig") or []:
            name = channel["ChannelName"]
            try:
                paths.folder_name(name, "ChannelName")
            except paths.PathError as exc:
                raise ValidationException(str(exc)) from None
            if name in seen:
                raise ValidationException(f"Channel names must be unique; {name!r} appears twice.")
            seen.add(name)
            mode = channel.get("InputMode", default_mode)
            source = channel["DataSource"].get("S3DataSource")
            if source is None:
                raise ValidationException(
                    f"Channel {name}: simsage reads training data from S3 only "
                    "(DataSource.S3DataSource); file systems and datasets are not emulated."
                )
            if mode == "Pipe":
                raise ValidationException(
                    f"Channel {name}: simsage does not emulate Pipe input mode; use File or "
                    "FastFile (FastFile behaves as File)."
                )
            data_type = source["S3DataType"]
            if data_type == "AugmentedManifestFile":
                raise ValidationException(
                    f"Channel {name}: AugmentedManifestFile is supported only in Pipe mode."
                )
            if data_type == "Converse":
                raise ValidationException(f"Channel {name}: S3DataType Converse is not emulated.")
            if mode == "FastFile" and data_type != "S3Prefix":
                raise ValidationException(
                    f"Channel {name}: FastFile input mode requires S3DataType S3Prefix."
                )
            _s3_uri(source["S3Uri"], f"Channel {name} S3Uri")
        image = parse_image(algorithm["TrainingImage"])
        if image.first_party is not None and not runs_entrypoint(algorithm):
            reason = not_emulated_reason(image)
            if reason is not None:
                raise ValidationException(reason)
            if "train" not in seen:
                raise ValidationException(
                    f"The built-in {image.first_party} algorithm needs a 'train' channel in "
                    "InputDataConfig."
                )
            accepted = FIRST_PARTY[image.first_party].channels
            extra = sorted(seen - set(accepted))
            if extra:
                raise ValidationException(
                    f"The built-in {image.first_party} algorithm accepts channels "
                    f"{', '.join(accepted)}; remove {', '.join(extra)}."
                )
        if (
            image.framework == "xgboost"
            and not runs_entrypoint(algorithm)
            and algorithm_module(image, spec.get("HyperParameters") or {})
            in BUILTIN_XGBOOST_ALGORITHMS
        ):
            extra = sorted(seen - {"train", "validation", "code"})
            if "train" not in seen:
                raise ValidationException(
                    "The built-in XGBoost algorithm needs a 'train' channel in InputDataConfig."
                )
            if extra:
                raise ValidationException(
                    f"The built-in XGBoost algorithm accepts channels train, validation and "
                    f"code; remove {', '.join(extra)}."
                )

    # -- describe, list, stop --------------------------------------------------------

    def _current(self, name: str) -> TrainingJob:
        """The job, failed first if its runner is gone while it should be running."""
        job = self.jobs.get(name)
        if not job.finished and not launcher.runner_alive(
            Path(job.job_dir), job.runner_pid, job.created
        ):
            now = self.home.clock.time()
            failed = self.jobs.transition(
                job.name,
                "Failed",
                "Failed",
                "Training job failed",
                only_from=("InProgress", "Stopping"),
                failure=launcher.runner_failure(Path(job.job_dir), job.runner_pid),
                ended=now,
            )
            if failed:  # its hosts' processes and containers outlive it: end them
                launcher.end_leftovers(Path(job.job_dir), job.host_pids)
            job = self.jobs.get(name)
        return job

    def describe_training_job(self, request: Request) -> dict[str, Any]:
        job = self._current(request.params["TrainingJobName"])
        return describe(job, request.model)

    def list_training_jobs(self, request: Request) -> dict[str, Any]:
        jobs = [self._current(job.name) if not job.finished else job for job in self.jobs.all()]
        params = request.params
        page, token = self.jobs.page(
            params, STATUS_LISTING, items=jobs, also=_other_filters(params)
        )
        return list_answer("TrainingJobSummaries", [summary(job) for job in page], token)

    def stop_training_job(self, request: Request) -> dict[str, Any]:
        job = self._current(request.params["TrainingJobName"])
        if job.status != "InProgress":
            raise ValidationException(
                f"The request was rejected because the training job is in status {job.status}."
            )
        self.jobs.transition(
            job.name,
            "Stopping",
            "Stopping",
            "Stopping the training job",
            only_from=("InProgress",),
            stop="Stopped",
        )
        return {}


def _other_filters(params: dict[str, Any]):
    """ListTrainingJobs' own filters: simsage keeps no warm pools and no training
    plans, so no job matches WarmPoolStatusEquals or TrainingPlanArnEquals."""
    if "WarmPoolStatusEquals" in params or "TrainingPlanArnEquals" in params:
        return lambda job: False
    return None


def summary(job: TrainingJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.secondary,
    }
    if job.ended is not None:
        out["TrainingEndTime"] = from_epoch(job.ended)
    return out


def describe(job: TrainingJob, model: OperationModel) -> dict[str, Any]:
    """DescribeTrainingJob's answer for ``job``: the members of its request that the
    answer has (per ``model``, DescribeTrainingJob's), its state, and the defaults
    SageMaker fills in."""
    spec = job.spec
    out: dict[str, Any] = {
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "ModelArtifacts": {"S3ModelArtifacts": job.artifacts or ""},
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.secondary,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
    }
    described(out, model, spec)
    # SageMaker answers an empty KmsKeyId when the request named none (the SDK's
    # Estimator.attach reads it unconditionally).
    out["OutputDataConfig"].setdefault("KmsKeyId", "")
    out.setdefault("EnableNetworkIsolation", False)
    out.setdefault("EnableInterContainerTrafficEncryption", False)
    out.setdefault("EnableManagedSpotTraining", False)
    algorithm = out.get("AlgorithmSpecification")
    if algorithm is not None and not algorithm.get("MetricDefinitions"):
        builtin = builtin_metric_definitions(algorithm.get("TrainingImage", ""), spec)
        if builtin:
            algorithm["MetricDefinitions"] = builtin
    if job.failure:
        out["FailureReason"] = job.failure
    if job.started is not None:
        out["TrainingStartTime"] = from_epoch(job.started)
    if job.ended is not None:
        out["TrainingEndTime"] = from_epoch(job.ended)
        if job.started is not None:
            seconds = max(1, round(job.ended - job.started))
            out["TrainingTimeInSeconds"] = seconds
            # Wall-clock time, not instance-seconds: the caller multiplies by InstanceCount
            # (botocore's documentation of the field; the SDK prints seconds * count).
            out["BillableTimeInSeconds"] = seconds
    out["SecondaryStatusTransitions"] = [
        {
            "Status": t["Status"],
            "StartTime": from_epoch(t["StartTime"]),
            **({"EndTime": from_epoch(t["EndTime"])} if "EndTime" in t else {}),
            **({"StatusMessage": t["StatusMessage"]} if "StatusMessage" in t else {}),
        }
        for t in job.transitions
    ]
    if job.metrics:
        out["FinalMetricDataList"] = [
            {"MetricName": name, "Value": float(value), "Timestamp": from_epoch(ts)}
            for name, (value, ts) in sorted(job.metrics.items())
        ]
    if job.status in TERMINAL and not job.artifacts:
        out["ModelArtifacts"] = {"S3ModelArtifacts": ""}
    return out
