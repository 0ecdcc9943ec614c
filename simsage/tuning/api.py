"""Hyperparameter tuning job requests: CreateHyperParameterTuningJob,
DescribeHyperParameterTuningJob, ListHyperParameterTuningJobs,
StopHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob.

Layer: tuning (control plane). ``create_hyper_parameter_tuning_job`` validates as
SageMaker does (:mod:`simsage.tuning.validate`), records the job and starts its runner
(:mod:`simsage.tuning.runner`), then returns the ARN at once. The answers about the
training jobs a tuning job launched (counters, best training job, the list) come from
the children the runner records in the tuning job's row (:mod:`simsage.tuning.jobs`);
this module never reaches into the training service. Describe, List and Stop first fail
a job whose runner is gone (and stop the training jobs it left running).

``Autotune`` is kept and echoed, but simsage chooses no settings for the caller: a
request must be complete (its ranges, objective and MaxNumberOfTrainingJobs given).
DeleteHyperParameterTuningJob is not emulated yet.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from botocore.model import OperationModel

from simsage.errors import AWSError, ValidationException
from simsage.ids import from_epoch
from simsage.paging import keyset_page
from simsage.runtime import launcher
from simsage.runtime.images import builtin_metric_definitions
from simsage.store.registry import STATUS_LISTING, list_answer
from simsage.transport import Request
from simsage.transport.echo import described
from simsage.transport.handler import call
from simsage.tuning.definitions import OBJECTIVE_KEY, definitions, resource_config
from simsage.tuning.jobs import TUNING_JOB, Child, TuningJob, TuningJobStore
from simsage.tuning.validate import validate

RUNNER_MODULE = "simsage.tuning.runner"
DEFAULT_MAX_RESULTS = 10


class TuningAPI:
    OPERATIONS = (
        "create_hyper_parameter_tuning_job",
        "describe_hyper_parameter_tuning_job",
        "list_hyper_parameter_tuning_jobs",
        "stop_hyper_parameter_tuning_job",
        "list_training_jobs_for_hyper_parameter_tuning_job",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.jobs = TuningJobStore(home)
        self.tags = tags

    # -- create ----------------------------------------------------------------------

    def create_hyper_parameter_tuning_job(self, request: Request) -> dict[str, Any]:
        spec = copy.deepcopy(request.params)
        warm = spec.get("WarmStartConfig") or {}
        parents = [
            self._find_current(entry.get("HyperParameterTuningJobName", ""))
            for entry in warm.get("ParentHyperParameterTuningJobs") or []
        ]
        validate(spec, parents)
        _add_objective_key(spec)
        name = spec["HyperParameterTuningJobName"]
        job_arn = TUNING_JOB.arn(request.region, request.account_id, name)
        tags = spec.pop("Tags", [])
        now = self.home.clock.time()
        job_dir = self.home.path / "jobs" / "tuning" / name
        job = TuningJob(
            name=name,
            arn=job_arn,
            region=request.region,
            spec=spec,
            status="InProgress",
            failure=None,
            created=now,
            ended=None,
            modified=now,
            runner_pid=None,
            children=[],
            details={"tags": tags},
            job_dir=str(job_dir),
        )
        self.jobs.create(job)
        self.tags.set(job_arn, tags)
        launcher.start_job(RUNNER_MODULE, self.home, self.jobs, name, job_dir)
        return {"HyperParameterTuningJobArn": job_arn}

    # -- read ------------------------------------------------------------------------

    def _current(self, job: TuningJob) -> TuningJob:
        """The job, failed first if its runner is gone while it should be running; the
        training jobs it left running are stopped then (nobody watches them any more),
        and read again while they end (:meth:`_refresh_children`)."""
        if job.finished:
            return self._refresh_children(job)
        if not launcher.fail_orphan(self.jobs, job, self.home.clock.time()):
            return job
        for child in job.child_records():
            if not child.finished:
                with contextlib.suppress(AWSError):  # it ended meanwhile
                    call(
                        self.home,
                        "sagemaker",
                        "StopTrainingJob",
                        {"TrainingJobName": child.name},
                        region=job.region,
                    )
        return self._refresh_children(self.jobs.get(job.name))

    def _refresh_children(self, job: TuningJob) -> TuningJob:
        """A finished tuning job's records of training jobs that had not ended yet (its
        runner died, or gave up waiting for them), read again from the training jobs, so
        the counters, the best training job and the listing say how they ended. Only a
        finished job's records are written here: a live runner owns them otherwise."""
        children = job.child_records()
        if not job.finished or all(child.finished for child in children):
            return job
        objective = definitions(job.spec)[0].objective
        metric = objective["MetricName"] if objective else None
        for child in children:
            if child.finished:
                continue
            with contextlib.suppress(AWSError):  # gone: keep the last record
                seen = call(
                    self.home,
                    "sagemaker",
                    "DescribeTrainingJob",
                    {"TrainingJobName": child.name},
                    region=job.region,
                )
                child.read(seen, metric)
        self.jobs.update(job.name, children=[child.as_dict() for child in children])
        return self.jobs.get(job.name)

    def _find_current(self, name: str) -> TuningJob | None:
        job = self.jobs.find(name)
        return None if job is None else self._current(job)

    def _get(self, request: Request) -> TuningJob:
        return self._current(self.jobs.get(request.params["HyperParameterTuningJobName"]))

    def describe_hyper_parameter_tuning_job(self, request: Request) -> dict[str, Any]:
        job = self._get(request)
        parents = []
        warm = job.spec.get("WarmStartConfig")
        if warm and warm.get("WarmStartType") == "IdenticalDataAndAlgorithm":
            for entry in warm["ParentHyperParameterTuningJobs"]:
                parent = self.jobs.find(entry.get("HyperParameterTuningJobName", ""))
                if parent is not None:  # a parent deleted since is left out
                    parents.append(parent)
        return describe(job, request.model, parents, self.home.clock.time())

    def list_hyper_parameter_tuning_jobs(self, request: Request) -> dict[str, Any]:
        jobs = [self._current(job) for job in self.jobs.all()]
        params = dict(request.params)
        # This List's defaults are SageMaker's for tuning jobs: by Name, Ascending.
        params.setdefault("SortBy", "Name")
        params.setdefault("SortOrder", "Ascending")
        page, token = self.jobs.page(params, STATUS_LISTING, items=jobs)
        return list_answer(
            "HyperParameterTuningJobSummaries", [summary(job) for job in page], token
        )

    def list_training_jobs_for_hyper_parameter_tuning_job(self, request: Request) -> dict[str, Any]:
        job = self._get(request)
        params = request.params
        sort_by = params.get("SortBy", "Name")
        order = params.get("SortOrder", "Ascending")
        children = job.child_records()
        status = params.get("StatusEquals")
        if status is not None:
            children = [c for c in children if c.status == status]
        if sort_by == "FinalObjectiveMetricValue":
            # SageMaker leaves out the jobs that reported no objective value.
            children = [c for c in children if c.objective is not None]
        key = _child_key(sort_by)
        descending = order == "Descending"
        children.sort(key=key, reverse=descending)
        page, token = keyset_page(
            children,
            key,
            params.get("MaxResults", DEFAULT_MAX_RESULTS),
            params.get("NextToken"),
            ValidationException,
            descending=descending,
            scope=("tuning-training-jobs", job.name.lower(), sort_by, order, status),
        )
        objective = definitions(job.spec)[0].objective
        return list_answer(
            "TrainingJobSummaries",
            [child_summary(job.name, child, objective) for child in page],
            token,
        )

    # -- stop ------------------------------------------------------------------------

    def stop_hyper_parameter_tuning_job(self, request: Request) -> dict[str, Any]:
        job = self._get(request)
        if job.status == "Stopping":
            return {}
        if job.status != "InProgress":
            raise ValidationException(
                "The request was rejected because the hyperparameter tuning job is in status "
                f"{job.status}."
            )
        self.jobs.transition(job.name, "Stopping", ("InProgress",))
        return {}


def _add_objective_key(spec: dict[str, Any]) -> None:
    """Add ``_tuning_objective_metric`` (the objective MetricName) to the static
    hyperparameters of every definition, as SageMaker does: DescribeHyperParameterTuningJob
    shows it there (the SDK's ``HyperparameterTuner.attach`` deletes it from them)."""
    bodies = [spec["TrainingJobDefinition"]] if spec.get("TrainingJobDefinition") else []
    bodies += spec.get("TrainingJobDefinitions") or []
    for body, definition in zip(bodies, definitions(spec), strict=True):
        static = body.setdefault("StaticHyperParameters", {})
        static[OBJECTIVE_KEY] = definition.objective["MetricName"]


def _child_key(sort_by: str):
    if sort_by == "FinalObjectiveMetricValue":
        return lambda c: (c.objective, c.name)
    if sort_by == "CreationTime":
        return lambda c: (c.created, c.name)
    if sort_by == "Status":
        return lambda c: (c.status, c.created, c.name)
    return lambda c: (c.name.lower(), c.name)


def objective_status(child: Child) -> str:
    """ObjectiveStatus: Pending while the job runs, Succeeded once it ended (not Failed)
    with an objective value, Failed otherwise."""
    if not child.finished:
        return "Pending"
    succeeded = child.status != "Failed" and child.objective is not None
    return "Succeeded" if succeeded else "Failed"


def child_summary(
    tuning_name: str, child: Child, objective: dict[str, str] | None
) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one child."""
    out: dict[str, Any] = {
        "TrainingJobName": child.name,
        "TrainingJobArn": child.arn,
        "TuningJobName": tuning_name,
        "CreationTime": from_epoch(child.created),
        "TrainingJobStatus": child.status,
        "TunedHyperParameters": dict(child.tuned),
        "ObjectiveStatus": objective_status(child),
    }
    if child.definition:
        out["TrainingJobDefinitionName"] = child.definition
    if child.started is not None:
        out["TrainingStartTime"] = from_epoch(child.started)
    if child.ended is not None:
        out["TrainingEndTime"] = from_epoch(child.ended)
    if child.failure:
        out["FailureReason"] = child.failure
    if child.objective is not None and objective is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": float(child.objective),
        }
    return out


def counters(children: list[Child]) -> tuple[dict[str, int], dict[str, int]]:
    """TrainingJobStatusCounters and ObjectiveStatusCounters of a tuning job's children."""
    status = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0}
    status["Stopped"] = 0
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for child in children:
        if child.status in ("InProgress", "Stopping"):
            status["InProgress"] += 1
        elif child.status == "Failed":
            status["RetryableError" if child.retryable else "NonRetryableError"] += 1
        else:
            status[child.status] += 1
        objective[objective_status(child)] += 1
    return status, objective


def best_child(children: list[Child], objective: dict[str, str] | None) -> Child | None:
    """The child with the best final objective among those that ended with one (the
    earliest launched wins a tie)."""
    scored = [
        c for c in children if c.finished and c.status != "Failed" and c.objective is not None
    ]
    if not scored or objective is None:
        return None
    sign = -1.0 if objective["Type"] == "Maximize" else 1.0
    return min(scored, key=lambda c: (sign * c.objective, c.number))


def summary(job: TuningJob) -> dict[str, Any]:
    """A HyperParameterTuningJobSummary."""
    status, objective = counters(job.child_records())
    config = job.spec["HyperParameterTuningJobConfig"]
    out: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobStatus": job.status,
        "Strategy": config["Strategy"],
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
        "TrainingJobStatusCounters": status,
        "ObjectiveStatusCounters": objective,
        "ResourceLimits": copy.deepcopy(config["ResourceLimits"]),
    }
    if job.ended is not None:
        out["HyperParameterTuningEndTime"] = from_epoch(job.ended)
    return out


def describe(
    job: TuningJob, model: OperationModel, parents: list[TuningJob], now: float
) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob's answer for ``job``: its request as the model
    echoes it, its state, counters, best training job, and with an
    IdenticalDataAndAlgorithm warm start the best over ``parents`` too."""
    children = job.child_records()
    status, objective_counts = counters(children)
    objective = definitions(job.spec)[0].objective
    out: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobStatus": job.status,
        "CreationTime": from_epoch(job.created),
        "LastModifiedTime": from_epoch(job.modified),
        "TrainingJobStatusCounters": status,
        "ObjectiveStatusCounters": objective_counts,
    }
    described(out, model, job.spec)
    for body in [out.get("TrainingJobDefinition"), *(out.get("TrainingJobDefinitions") or [])]:
        if body is not None and "ResourceConfig" not in body:
            # The instances each training job runs on, also when the request gave them as
            # HyperParameterTuningResourceConfig (as the SDK does): the SDK's
            # HyperparameterTuner.attach reads ResourceConfig (unverified on AWS).
            resources = resource_config(body)
            if resources is not None:
                body["ResourceConfig"] = resources
        algorithm = (body or {}).get("AlgorithmSpecification")
        if algorithm is not None and not algorithm.get("MetricDefinitions"):
            # A built-in algorithm's own metric definitions, as SageMaker lists them (the
            # SDK's HyperparameterTuner.attach reads them).
            builtin = builtin_metric_definitions(
                algorithm.get("TrainingImage", ""),
                {
                    "AlgorithmSpecification": algorithm,
                    "HyperParameters": body.get("StaticHyperParameters") or {},
                },
            )
            if builtin:
                algorithm["MetricDefinitions"] = builtin
    if job.ended is not None:
        out["HyperParameterTuningEndTime"] = from_epoch(job.ended)
    best = best_child(children, objective)
    if best is not None:
        out["BestTrainingJob"] = child_summary(job.name, best, objective)
    if parents:
        pool = [(job.name, c) for c in children]
        for parent in parents:
            pool.extend((parent.name, c) for c in parent.child_records())
        overall = best_child([c for _, c in pool], objective)
        if overall is not None:
            owner = next(name for name, c in pool if c is overall)
            out["OverallBestTrainingJob"] = child_summary(owner, overall, objective)
    if job.failure:
        out["FailureReason"] = job.failure
    details = job.details or {}
    completion: dict[str, Any] = {
        "NumberOfTrainingJobsObjectiveNotImproving": int(details.get("not_improving", 0))
    }
    if details.get("converged_at") is not None:
        completion["ConvergenceDetectedTime"] = from_epoch(details["converged_at"])
    out["TuningJobCompletionDetails"] = completion
    end = job.ended if job.ended is not None else now
    out["ConsumedResources"] = {"RuntimeInSeconds": max(0, int(end - job.created))}
    return out
