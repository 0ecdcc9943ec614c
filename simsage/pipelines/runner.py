"""The runner of one pipeline execution: ``python -m simsage.pipelines.runner <home> <id>``.

A :class:`~simsage.runtime.job.JobProcess` (detached, holding the execution's lease), so
an execution outlives the process that started it, as on AWS. It schedules the steps of
the definition snapshot the execution keeps, every :data:`POLL_SECONDS`:

- **what runs next** is :meth:`simsage.pipelines.graph.Dag.plan` over the steps' statuses
  and the Condition steps' outcomes; at most ``MaxParallelExecutionSteps`` (50 by
  default) steps run at once, started in the graph's order;
- **a step's arguments** are resolved (:func:`simsage.pipelines.expressions.resolve`:
  parameters, execution variables, earlier steps' Describe answers, property files read
  from S3), fitted to the Create request (:func:`simsage.pipelines.shapes.coerce_request`)
  and sent through the public operations in-process
  (:func:`simsage.transport.handler.call`: CreateProcessingJob, CreateTrainingJob,
  CreateHyperParameterTuningJob, CreateTransformJob, CreateModel, CreateModelPackage), with
  a job name ``pipelines-<execution id>-<step>-<random>`` as AWS names them; the step's
  status follows its job's Describe answer, whose properties later steps read;
- **RegisterModel** creates its model package group first when it does not exist;
- **Condition** steps evaluate their conditions (Metadata ``Condition.Outcome``), **Fail**
  steps fail with their resolved ``ErrorMessage``;
- **caching** (``CacheConfig.Enabled``): a Processing, Training, Tuning or Transform step
  whose cache key (:func:`simsage.pipelines.caching.cache_key`) equals that of the same
  step in an earlier Succeeded execution of the same pipeline, within ``ExpireAfter``,
  reuses that run (the most recent): no job starts, the step's Metadata names the
  earlier job and ``CacheHitResult`` the earlier execution;
- **retries** (``RetryPolicies``): a step whose job failed for a reason a policy names
  (``SageMaker.JOB_INTERNAL_ERROR`` for an InternalServerError, ``SageMaker.CAPACITY_ERROR``,
  ``SageMaker.RESOURCE_LIMIT``, ``Step.THROTTLING``, ``Step.SERVICE_FAULT``) starts again
  after ``IntervalSeconds`` × ``BackoffRate``ⁿ, up to ``MaxAttempts`` or
  ``ExpireAfterMin``; ``AttemptCount`` counts the attempts;
- **failure**: a failed step never lets its dependents start; the steps already running
  finish; the execution then ends ``Failed`` (``Step failure: One or multiple steps
  failed.``), or ``Succeeded`` when every step that could run succeeded;
- **stop** (StopPipelineExecution): the running steps' jobs are stopped (Stop* calls), the
  execution ends ``Stopped`` once they have.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simsage.errors import AWSError
from simsage.pipelines import caching, expressions, shapes
from simsage.pipelines.definition import PipelineDefinition, Step, parse_definition
from simsage.pipelines.store import (
    STEP_TERMINAL,
    PipelineExecution,
    PipelineExecutionStore,
)
from simsage.runtime.job import JobProcess, clip
from simsage.transport.handler import call

POLL_SECONDS = 0.1
DEFAULT_PARALLELISM = 50
STEP_FAILURE = "Step failure: One or multiple steps failed."

# Step type → (Create operation, its name member, Describe operation, its status member,
# Stop operation, the Metadata key) for the steps that run a job.
JOB_STEPS: dict[str, tuple[str, str, str, str, str | None, str]] = {
    "Processing": (
        "CreateProcessingJob",
        "ProcessingJobName",
        "DescribeProcessingJob",
        "ProcessingJobStatus",
        "StopProcessingJob",
        "ProcessingJob",
    ),
    "Training": (
        "CreateTrainingJob",
        "TrainingJobName",
        "DescribeTrainingJob",
        "TrainingJobStatus",
        "StopTrainingJob",
        "TrainingJob",
    ),
    "Tuning": (
        "CreateHyperParameterTuningJob",
        "HyperParameterTuningJobName",
        "DescribeHyperParameterTuningJob",
        "HyperParameterTuningJobStatus",
        "StopHyperParameterTuningJob",
        "TuningJob",
    ),
    "Transform": (
        "CreateTransformJob",
        "TransformJobName",
        "DescribeTransformJob",
        "TransformJobStatus",
        "StopTransformJob",
        "TransformJob",
    ),
}
ARN_MEMBERS = {
    "ProcessingJob": "ProcessingJobArn",
    "TrainingJob": "TrainingJobArn",
    "TuningJob": "HyperParameterTuningJobArn",
    "TransformJob": "TransformJobArn",
}
JOB_STATUS = {
    "InProgress": "Executing",
    "Stopping": "Stopping",
    "Completed": "Succeeded",
    "Failed": "Failed",
    "Stopped": "Stopped",
}
NAME_LIMITS = {"Tuning": 32}  # job name lengths (the others: 63)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9]+")
_ALNUM = string.ascii_letters + string.digits


def job_name(execution_id: str, step: str, step_type: str) -> str:
    """``pipelines-<execution id>-<step>-<10 random>``, as AWS names a step's job, cut to
    the job kind's name limit (a tuning job's 32: ``<execution id>-<random>``)."""
    token = "".join(secrets.choice(_ALNUM) for _ in range(10))
    if step_type in NAME_LIMITS:
        return f"{execution_id}-{token}"[: NAME_LIMITS[step_type]]
    clean = _NAME_CHARS.sub("-", step).strip("-") or "step"
    head = f"pipelines-{execution_id}-"
    room = 63 - len(head) - len(token) - 1
    return f"{head}{clean[:room].strip('-')}-{token}"


def failure_kind(reason: str) -> str:
    """The RetryPolicies exception type a step failure counts as."""
    if reason.startswith("InternalServerError"):
        return "SageMaker.JOB_INTERNAL_ERROR"
    if reason.startswith("CapacityError"):
        return "SageMaker.CAPACITY_ERROR"
    if reason.startswith("ResourceLimitExceeded"):
        return "SageMaker.RESOURCE_LIMIT"
    if reason.startswith("ThrottlingException"):
        return "Step.THROTTLING"
    if reason.startswith("ServiceFault"):
        return "Step.SERVICE_FAULT"
    return "Job.FAILED"  # the job's own failure: no policy retries it


class Runner(JobProcess):
    kind = "pipeline execution runner"

    def __init__(self, home, name: str) -> None:
        self.store = PipelineExecutionStore(home)
        execution = self.store.find(name)
        super().__init__(home, name, Path(execution.job_dir) if execution else None)
        self.execution: PipelineExecution | None = execution
        self.records: dict[str, dict[str, Any]] = {}
        self.earlier: dict[str, dict[str, Any]] = {}  # a retried execution's failed steps
        self.answers: dict[str, Any] = {}
        self.retry_at: dict[str, float] = {}
        self.stopping_sent = False

    # -- the job process's hooks ---------------------------------------------------------

    def status(self) -> str | None:
        found = self.store.find(self.name)
        return found.status if found else None

    def fail(self, reason: str) -> None:
        if self.records:  # what the steps did so far (before work() read them: nothing)
            self._save()
        self.store.transition(
            self.name, "Failed", ("Executing", "Stopping"), failure=clip(reason), ended=time.time()
        )

    # -- the work --------------------------------------------------------------------------

    def work(self) -> None:
        execution = self.execution
        assert execution is not None
        self.definition: PipelineDefinition = parse_definition(execution.definition)
        self.dag = self.definition.graph()
        for record in execution.steps:  # a retried execution keeps its Succeeded steps
            if record["StepStatus"] == "Succeeded":
                self.records[record["StepName"]] = record
            else:  # run again; its attempts go on counting
                self.earlier[record["StepName"]] = record
        self.store.update(self.name, started=execution.started or time.time())
        started = datetime.fromtimestamp(execution.created, UTC)
        self.context = expressions.Context(
            parameters=execution.parameters,
            execution={
                "PipelineExecutionId": execution.name,
                "PipelineExecutionArn": execution.arn,
                "PipelineName": execution.pipeline,
                "PipelineArn": execution.pipeline_arn,
                "StartDateTime": started,
            },
            steps=self._answer_of,
            read_s3_json=self._read_s3_json,
        )
        self.context.read_property_file = self.definition.property_file_reader(
            self._answer_of, self._read_s3_json
        )
        limit = (execution.parallelism or {}).get("MaxParallelExecutionSteps", DEFAULT_PARALLELISM)
        while True:
            changed = self._poll()
            if self.stop_requested():
                changed |= self._stop_running()
                if not self._running():
                    self._save()
                    self._finish("Stopped")
                    return
            else:
                plan = self.dag.plan(self._statuses(), self._outcomes())
                waiting = [n for n in plan.ready if n not in self.records]
                for name in waiting:
                    if len(self._running()) >= limit:
                        break
                    self._start(self.definition.steps[name])
                    changed = True
                if not self._running() and not self._pending_retries() and not waiting:
                    self._save()
                    failed = any(r["StepStatus"] == "Failed" for r in self.records.values())
                    self._finish("Failed" if failed else "Succeeded")
                    return
            if changed:
                self._save()
            time.sleep(POLL_SECONDS)

    def _finish(self, status: str) -> None:
        reason = STEP_FAILURE if status == "Failed" else None
        self.store.transition(
            self.name, status, ("Executing", "Stopping"), failure=reason, ended=time.time()
        )

    # -- bookkeeping ---------------------------------------------------------------------

    def _statuses(self) -> dict[str, str]:
        return {name: record["StepStatus"] for name, record in self.records.items()}

    def _outcomes(self) -> dict[str, bool]:
        out = {}
        for name, record in self.records.items():
            outcome = (record.get("Metadata") or {}).get("Condition", {}).get("Outcome")
            if outcome is not None:
                out[name] = outcome == "True"
        return out

    def _running(self) -> list[str]:
        return [n for n, r in self.records.items() if r["StepStatus"] not in STEP_TERMINAL]

    def _pending_retries(self) -> bool:
        return any(name in self.retry_at for name in self.records)

    def _save(self) -> None:
        ordered = sorted(self.records.values(), key=lambda r: r.get("StartTime", 0.0))
        self.store.update(self.name, steps=ordered)

    def _record(self, step: Step, status: str) -> dict[str, Any]:
        previous = self.records.get(step.name) or self.earlier.get(step.name)
        record: dict[str, Any] = {
            "StepName": step.name,
            "StepStatus": status,
            "StartTime": time.time(),
            "AttemptCount": (previous or {}).get("AttemptCount", 0) + 1,
        }
        if step.display_name:
            record["StepDisplayName"] = step.display_name
        if step.description:
            record["StepDescription"] = step.description
        self.records[step.name] = record
        return record

    def _end(self, record: dict[str, Any], status: str, failure: str | None = None) -> None:
        record["StepStatus"] = status
        record["EndTime"] = time.time()
        if failure:
            record["FailureReason"] = clip(failure)

    # -- answers and property files -------------------------------------------------

    def _answer_of(self, name: str) -> Any:
        """A Succeeded step's answer (its job's Describe answer …), None otherwise."""
        record = self.records.get(name)
        if record is None or record["StepStatus"] != "Succeeded":
            return None
        if name not in self.answers:
            self.answers[name] = self._describe(record)
        return self.answers[name]

    def _describe(self, record: dict[str, Any]) -> Any:
        job = record.get("_job") or {}
        kind = job.get("type")
        if kind == "Condition":
            return {"Outcome": record["Metadata"]["Condition"]["Outcome"]}
        if kind in JOB_STEPS:
            _, name_member, describe, _, _, _ = JOB_STEPS[kind]
            answer = self._call(describe, {name_member: job["name"]})
            if kind == "Tuning":
                summaries = self._call(
                    "ListTrainingJobsForHyperParameterTuningJob",
                    {"HyperParameterTuningJobName": job["name"], "MaxResults": 100},
                ).get("TrainingJobSummaries", [])
                answer = expressions.tuning_properties(answer, summaries)
            return answer
        if kind == "Model":
            return self._call("DescribeModel", {"ModelName": job["name"]})
        if kind == "RegisterModel":
            return self._call("DescribeModelPackage", {"ModelPackageName": job["name"]})
        return {}

    def _read_s3_json(self, uri: str) -> Any:
        from simsage.s3.backend import S3Backend

        if not uri.startswith("s3://"):
            raise expressions.ExpressionError(f"{uri!r} is not an s3:// URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        _, _, stream = S3Backend(self.home).read_object(bucket, key)
        with stream:
            return json.loads(stream.read())

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.execution is not None
        return call(self.home, "sagemaker", operation, params, region=self.execution.region)

    # -- starting steps ------------------------------------------------------------------

    def _start(self, step: Step) -> None:
        self.retry_at.pop(step.name, None)
        record = self._record(step, "Starting")
        try:
            if step.type == "Condition":
                outcome = expressions.evaluate_conditions(list(step.conditions), self.context)
                record["Metadata"] = {"Condition": {"Outcome": "True" if outcome else "False"}}
                record["_job"] = {"type": "Condition"}
                self._end(record, "Succeeded")
                return
            if step.type == "Fail":
                message = expressions.resolve(step.error_message, self.context)
                message = shapes.to_text(message) if not isinstance(message, str) else message
                record["Metadata"] = {"Fail": {"ErrorMessage": message}}
                self._end(record, "Failed", message)
                return
            arguments = shapes.coerce_request(
                step.type, expressions.resolve(dict(step.arguments), self.context)
            )
        except AWSError as exc:  # an expression that cannot be evaluated
            self._end(record, "Failed", f"ClientError: {exc.message}")
            return
        if step.type in JOB_STEPS and self._from_cache(step, arguments, record):
            return
        try:
            if step.type in JOB_STEPS:
                self._start_job(step, arguments, record)
            elif step.type == "Model":
                name = job_name(self.name, step.name, "Model")
                answer = self._call("CreateModel", {**arguments, "ModelName": name})
                record["Metadata"] = {"Model": {"Arn": answer["ModelArn"]}}
                record["_job"] = {"type": "Model", "name": name}
                self._end(record, "Succeeded")
            elif step.type == "RegisterModel":
                self._ensure_group(arguments.get("ModelPackageGroupName"))
                answer = self._call("CreateModelPackage", arguments)
                arn = answer["ModelPackageArn"]
                record["Metadata"] = {"RegisterModel": {"Arn": arn}}
                record["_job"] = {"type": "RegisterModel", "name": arn}
                self._end(record, "Succeeded")
        except AWSError as exc:
            self._failed(step, record, f"{exc.code}: {exc.message}")

    def _ensure_group(self, group: str | None) -> None:
        """A RegisterModel step creates its model package group when it does not exist
        yet, as Pipelines does (the SDK's examples never create it themselves)."""
        if not group or group.startswith("arn:"):
            return
        try:
            self._call("DescribeModelPackageGroup", {"ModelPackageGroupName": group})
        except AWSError:
            self._call("CreateModelPackageGroup", {"ModelPackageGroupName": group})

    def _start_job(self, step: Step, arguments: dict[str, Any], record: dict[str, Any]) -> None:
        create, name_member, _, _, _, metadata = JOB_STEPS[step.type]
        name = job_name(self.name, step.name, step.type)
        answer = self._call(create, {**arguments, name_member: name})
        record["Metadata"] = {metadata: {"Arn": answer[ARN_MEMBERS[metadata]]}}
        record["_job"] = {"type": step.type, "name": name}
        record["StepStatus"] = "Executing"
        key = caching.cache_key(step.type, arguments)
        if key is not None:
            record["_key"] = key

    def _from_cache(self, step: Step, arguments: dict[str, Any], record: dict[str, Any]) -> bool:
        """Reuse the step's most recent run in an earlier Succeeded execution of this
        pipeline with the same cache key, within ExpireAfter; True if one was found."""
        config = step.cache_config
        if config is None or not config.enabled:
            return False
        key = caching.cache_key(step.type, arguments)
        if key is None:
            return False
        assert self.execution is not None
        oldest = 0.0
        if config.expire_after_delta is not None:
            oldest = time.time() - config.expire_after_delta.total_seconds()
        best: tuple[float, PipelineExecution, dict[str, Any]] | None = None
        for earlier in self.store.of_pipeline(self.execution.pipeline):
            if earlier.name == self.name or earlier.status != "Succeeded":
                continue
            for old in earlier.steps:
                ended = old.get("EndTime", 0.0)
                if (
                    old.get("StepName") == step.name
                    and old.get("StepStatus") == "Succeeded"
                    and old.get("_key") == key
                    and ended >= oldest
                    and (best is None or ended > best[0])
                ):
                    best = (ended, earlier, old)
        if best is None:
            return False
        _, earlier, old = best
        # A run that was itself reused names the execution that really ran it.
        source = (old.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
        record["Metadata"] = json.loads(json.dumps(old.get("Metadata") or {}))
        record["_job"] = dict(old["_job"])
        record["_key"] = key
        record["CacheHitResult"] = {"SourcePipelineExecutionArn": source or earlier.arn}
        self._end(record, "Succeeded")
        return True

    def _failed(self, step: Step, record: dict[str, Any], reason: str) -> None:
        """The step failed: retried later if a policy covers the reason, else Failed."""
        self._end(record, "Failed", reason)
        kind = failure_kind(reason)
        attempts = record.get("AttemptCount", 1)
        first = record.get("_first_start", record["StartTime"])
        record["_first_start"] = first
        for policy in step.retry_policies:
            if kind not in policy.exception_types:
                continue
            if policy.max_attempts is not None and attempts > policy.max_attempts:
                continue
            if (
                policy.expire_after_min is not None
                and time.time() - first > policy.expire_after_min * 60
            ):
                continue
            delay = policy.interval_seconds * policy.backoff_rate ** (attempts - 1)
            self.retry_at[step.name] = time.time() + delay
            record["StepStatus"] = "Executing"  # waiting to try again
            return

    # -- following running steps ---------------------------------------------------------

    def _poll(self) -> bool:
        changed = False
        now = time.time()
        for name, due in list(self.retry_at.items()):
            if now >= due and not self.stop_requested():
                self._restart(self.definition.steps[name])
                changed = True
        for name in self._running():
            record = self.records[name]
            job = record.get("_job") or {}
            if name in self.retry_at or job.get("type") not in JOB_STEPS:
                continue
            _, name_member, describe, status_member, _, _ = JOB_STEPS[job["type"]]
            try:
                answer = self._call(describe, {name_member: job["name"]})
            except AWSError:
                continue
            status = JOB_STATUS.get(answer.get(status_member, ""), "Executing")
            if status == record["StepStatus"]:
                continue
            changed = True
            if status == "Failed":
                self._failed(
                    self.definition.steps[name], record, answer.get("FailureReason", "Failed")
                )
            elif status in STEP_TERMINAL:
                self._end(record, status)
            else:
                record["StepStatus"] = status
        return changed

    def _restart(self, step: Step) -> None:
        self.retry_at.pop(step.name, None)
        first = self.records[step.name].get("_first_start")
        self._start(step)
        if first is not None:
            self.records[step.name]["_first_start"] = first

    def _stop_running(self) -> bool:
        changed = False
        for name in list(self.retry_at):
            self.retry_at.pop(name)
            record = self.records[name]
            record["StepStatus"] = "Failed"
            changed = True
        if self.stopping_sent:
            return changed
        self.stopping_sent = True
        for name in self._running():
            record = self.records[name]
            job = record.get("_job") or {}
            if job.get("type") not in JOB_STEPS:
                continue
            _, name_member, _, _, stop, _ = JOB_STEPS[job["type"]]
            with contextlib.suppress(AWSError):  # it ended meanwhile: the next poll says
                self._call(stop, {name_member: job["name"]})
            record["StepStatus"] = "Stopping"
            changed = True
        return changed


if __name__ == "__main__":
    sys.exit(Runner.main(sys.argv))
