"""The tuning job runner: one detached process per hyperparameter tuning job (``python
-m simsage.tuning.runner <home> <job>``), started by CreateHyperParameterTuningJob.

Layer: tuning (data plane), a :class:`~simsage.runtime.job.JobProcess` (the lease, the
registry's stop requests and runner-bug failures are the runtime's). It runs the search:

- **children** are real training jobs, named ``<tuning job>-<NNN>-<8 lowercase hex>``
  (NNN from 001, in launch order), created and read back through the public
  CreateTrainingJob / DescribeTrainingJob / StopTrainingJob operations
  (:func:`simsage.transport.handler.call`, never the training service's internals).
  Each child's request is its definition's (:func:`~simsage.tuning.definitions.child_request`)
  plus two private members: ``TuningJobArn`` (DescribeTrainingJob answers it) and its
  share of the CPU threads (``OMP_NUM_THREADS`` in its container);
- at most ``MaxParallelTrainingJobs`` children run at once; the runner polls them every
  :data:`POLL_EVERY` seconds and asks the strategy (:mod:`simsage.tuning.strategies`)
  for new configurations as slots free up, with the history of finished children (and,
  for a Bayesian warm start, the parents' children);
- the objective of a child is the final value of the objective metric in its
  FinalMetricDataList; its intermediate values (early stopping, Hyperband) are the
  metric's data points in the CloudWatch metric store (namespace
  ``/aws/sagemaker/TrainingJobs``, dimension ``Host=<child>/algo-1``), when that store
  is present. An early-stopped child ends ``Stopped``;
- retryable failures (a child whose FailureReason starts ``InternalServerError`` or
  ``CapacityError``) count as RetryableError and their configuration is launched again
  as a new child, at most :data:`MAX_RETRIES` times (simsage choice: the retries do not
  count toward MaxNumberOfTrainingJobs). When the first :data:`FAILURES_BEFORE_GIVING_UP`
  children to end all failed, the tuning job fails with SageMaker's "No training job
  succeeded after 5 attempts" reason;
- it completes on MaxNumberOfTrainingJobs (every child launched has ended), a space
  exhausted (Grid), MaxRuntimeInSeconds, TargetObjectiveMetricValue,
  BestObjectiveNotImproving or CompleteOnConvergence, stopping the children still
  running (they end Stopped); StopHyperParameterTuningJob stops them too and the job
  moves Stopping → Stopped once they have ended.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from simsage.errors import AWSError
from simsage.runtime.job import ACTIVE, JobProcess, clip
from simsage.transport.handler import call
from simsage.tuning.definitions import (
    CPU_THREADS,
    TUNING_JOB_ARN,
    Definition,
    child_request,
    definitions,
    thread_share,
)
from simsage.tuning.jobs import Child, TuningJob, TuningJobStore

POLL_EVERY = 0.2
MAX_RETRIES = 2
FAILURES_BEFORE_GIVING_UP = 5
NO_SUCCESS = (
    "No training job succeeded after 5 attempts. Please take a look at the training job "
    "failures to get more details."
)
RETRYABLE = ("InternalServerError", "CapacityError")
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
STOP_WAIT = 600.0  # seconds a stop waits for the children before giving up on them


def retryable(failure: str | None) -> bool:
    """Whether a child's FailureReason is one SageMaker retries (an internal error or
    a capacity shortage, not the algorithm's or the caller's)."""
    return bool(failure) and failure.startswith(RETRYABLE)


class _Search:
    """One definition's search: its ranges and strategy, and whether the strategy has
    run out of configurations (Grid)."""

    def __init__(self, definition: Definition, strategy, ranges) -> None:
        self.definition = definition
        self.strategy = strategy
        self.ranges = ranges
        self.exhausted = False


class Runner(JobProcess):
    kind = "hyperparameter tuning job"

    def __init__(self, home, name: str) -> None:
        self.jobs = TuningJobStore(home)
        found = self.jobs.find(name)
        self.job: TuningJob | None = found
        self.spec: dict[str, Any] = found.spec if found else {}
        super().__init__(home, name, Path(found.job_dir) if found else None)
        self.children: list[Child] = found.child_records() if found else []
        self.queue: list[tuple[int, dict[str, str], int]] = []  # retries: (search, tuned, try)
        self.attempts: dict[str, int] = {}  # child name -> its configuration's attempt
        self.metrics = None  # the CloudWatch metric store, when simsage has one
        self.watch_metrics = False  # early stopping or Hyperband read intermediate values
        self.final_series: dict[str, list[tuple[int, float]]] = {}  # ended children's

    # -- the job process's hooks -------------------------------------------------------

    def status(self) -> str | None:
        return self.jobs.status(self.name)

    def fail(self, reason: str) -> None:
        """Fail the job: its running children are stopped and waited for, so the
        counters and ListTrainingJobsForHyperParameterTuningJob say how they ended."""
        try:
            self._end("Failed", failure=reason)
        except Exception:  # the bug that got us here may be in the polling itself
            self._stop_children()
            self._save()
            self._finish("Failed", failure=reason)

    def cleanup(self) -> None:
        # Whatever ended the runner, no child it launched keeps running unwatched.
        if any(not c.finished for c in self.children):
            self._stop_children()

    # -- AWS operations, in-process ------------------------------------------------------

    def _call(self, operation: str, params: dict[str, Any], private=None) -> dict[str, Any]:
        return call(
            self.home, "sagemaker", operation, params, private=private, region=self.job.region
        )

    # -- the search ----------------------------------------------------------------------

    def work(self) -> None:
        if self.stopping():  # stopped before it started: nothing to launch
            return self._finish("Stopped")
        from simsage.tuning.ranges import parse_ranges
        from simsage.tuning.strategies import make_strategy

        config = self.spec["HyperParameterTuningJobConfig"]
        self.config = config
        self.limits = config["ResourceLimits"]
        self.parallel = self.limits["MaxParallelTrainingJobs"]
        self.threads = thread_share(self.parallel)
        self.defs = definitions(self.spec)
        self.objective = self.defs[0].objective
        self.type = self.objective["Type"]
        self.metric = self.objective["MetricName"]
        self.early = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        self.criteria = config.get("TuningJobCompletionCriteria") or {}
        strategy_name = config["Strategy"]
        self.searches: list[_Search] = []
        for definition in self.defs:
            ranges = parse_ranges(definition.ranges)
            strategy = make_strategy(
                strategy_name,
                ranges,
                self.type,
                config.get("RandomSeed"),
                # Grid's size is checked over every definition at create time.
                None if strategy_name == "Grid" else self.limits.get("MaxNumberOfTrainingJobs"),
                hyperband=(config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"),
                static_hyperparameters=definition.static,
            )
            self.searches.append(_Search(definition, strategy, ranges))
        self.max_jobs = self.limits.get("MaxNumberOfTrainingJobs")
        if strategy_name == "Grid" and self.max_jobs is None:
            from simsage.tuning.strategies import grid_size

            self.max_jobs = sum(grid_size(s.ranges) for s in self.searches)
        self.runtime = self.limits.get("MaxRuntimeInSeconds")
        self.history = self._warm_start_history() if strategy_name == "Bayesian" else []
        self.metrics = _metric_store(self.home)
        self.watch_metrics = self.metrics is not None and (
            self.early or strategy_name == "Hyperband"
        )
        self.tags = (self.job.details or {}).get("tags") or []
        self._loop()

    def _loop(self) -> None:
        while True:
            now = time.time()
            if self.stopping():
                return self._end("Stopped")
            self._poll()
            if self.early or self.config["Strategy"] == "Hyperband":
                self._early_stop()
            verdict = self._verdict(now)
            if verdict is not None:
                status, failure = verdict
                return self._end(status, failure)
            try:
                self._launch()
            except AWSError as exc:
                return self._end(
                    "Failed",
                    clip(f"ClientError: a training job could not be created: {exc.message}"),
                )
            self._save()
            time.sleep(POLL_EVERY)

    def _launched(self) -> int:
        """Children that count toward MaxNumberOfTrainingJobs (a retry does not)."""
        return sum(1 for c in self.children if self.attempts.get(c.name, 0) == 0)

    def _running(self) -> list[Child]:
        return [c for c in self.children if not c.finished]

    def _trials(self, search: int, history: bool = True):
        """The search's trials: its children (a failure being retried too, so Grid does
        not propose its combination again), and for the first definition the warm
        start's history first (``history``)."""
        from simsage.tuning.strategies import Trial

        out = list(self.history) if search == 0 and history else []
        definition = self.searches[search].definition.name
        for child in self.children:
            if child.definition != definition:
                continue
            out.append(
                Trial(
                    number=child.number,
                    hyperparameters=dict(child.tuned),
                    status=child.status if child.status != "Stopping" else "InProgress",
                    objective=child.objective,
                    intermediate=self._intermediate(child) if self.watch_metrics else [],
                )
            )
        return out

    def _launch(self) -> None:
        free = self.parallel - len(self._running())
        while free > 0 and self.queue:  # retries first: they were due before
            search, tuned, attempt = self.queue.pop(0)
            self._create(search, tuned, attempt)
            free -= 1
        while free > 0 and (self.max_jobs is None or self._launched() < self.max_jobs):
            open_searches = [i for i, s in enumerate(self.searches) if not s.exhausted]
            if not open_searches:
                return
            # The definition with the fewest children goes next (round robin).
            index = min(
                open_searches,
                key=lambda i: (
                    sum(
                        1 for c in self.children if c.definition == self.searches[i].definition.name
                    ),
                    i,
                ),
            )
            want = free
            if self.max_jobs is not None:
                want = min(want, self.max_jobs - self._launched())
            proposals = self.searches[index].strategy.propose(self._trials(index), want)
            if not proposals:
                self.searches[index].exhausted = True
                continue
            for tuned in proposals[:want]:
                self._create(index, tuned, 0)
                free -= 1

    def _create(self, search: int, tuned: dict[str, str], attempt: int) -> None:
        number = len(self.children) + 1
        name = f"{self.name}-{number:03d}-{self.home.ids.hex(4)}"
        definition = self.searches[search].definition
        request = child_request(definition, name, tuned, self.tags)
        private = {TUNING_JOB_ARN: self.job.arn, CPU_THREADS: self.threads}
        answer = self._call("CreateTrainingJob", request, private)
        child = Child(
            name=name,
            arn=answer["TrainingJobArn"],
            number=number,
            definition=definition.name,
            tuned=dict(tuned),
            created=time.time(),
        )
        self.children.append(child)
        self.attempts[name] = attempt
        self._save()

    # -- watching the children ---------------------------------------------------------

    def _poll(self) -> None:
        for child in self._running():
            try:
                seen = self._call("DescribeTrainingJob", {"TrainingJobName": child.name})
            except AWSError:
                continue  # read again on the next turn
            child.read(seen, self.metric)
            if child.finished and child.status == "Failed" and retryable(child.failure):
                child.retryable = True
                attempt = self.attempts.get(child.name, 0)
                if attempt < MAX_RETRIES:
                    search = next(
                        i
                        for i, s in enumerate(self.searches)
                        if s.definition.name == child.definition
                    )
                    self.queue.append((search, dict(child.tuned), attempt + 1))

    def _intermediate(self, child: Child) -> list[tuple[int, float]]:
        """The child's objective values so far, one per report (step 1, 2, …); read
        once more after the child ended, then kept."""
        kept = self.final_series.get(child.name)
        if kept is not None:
            return kept
        if self.metrics is None:
            return []
        points = self.metrics.series(
            METRIC_NAMESPACE, self.metric, {"Host": f"{child.name}/algo-1"}
        )
        series = [(step, value) for step, (_, value) in enumerate(points, start=1)]
        if child.finished:
            self.final_series[child.name] = series
        return series

    def _early_stop(self) -> None:
        """Stop the running children the median rule (Auto) or Hyperband finds weak."""
        if self.metrics is None:
            return
        from simsage.tuning.strategies import median_rule_stops

        for index, search in enumerate(self.searches):
            trials = self._trials(index)
            by_number = {t.number: t for t in trials}
            for child in self._running():
                if child.definition != search.definition.name or child.status != "InProgress":
                    continue
                trial = by_number.get(child.number)
                if trial is None or not trial.intermediate:
                    continue
                others = [t for t in trials if t.number != child.number]
                if self.config["Strategy"] == "Hyperband":
                    weak = search.strategy.should_stop(trial, others)
                else:
                    weak = median_rule_stops(trial, others, self.type)
                if weak:
                    child.early_stopped = True
                    self._stop_child(child)

    def _stop_child(self, child: Child) -> None:
        with contextlib.suppress(AWSError):  # it ended meanwhile
            self._call("StopTrainingJob", {"TrainingJobName": child.name})

    def _stop_children(self) -> None:
        for child in self._running():
            if child.status == "InProgress":
                self._stop_child(child)

    # -- deciding ------------------------------------------------------------------------

    def _verdict(self, now: float) -> tuple[str, str | None] | None:
        """``(status, failure)`` once the tuning job is over, else None."""
        ended = [c for c in self.children if c.finished]
        running = self._running()
        completed = [c for c in ended if c.status == "Completed"]
        hard_failures = [c for c in ended if c.status == "Failed" and not c.retryable]
        if not completed and len(hard_failures) >= FAILURES_BEFORE_GIVING_UP:
            return "Failed", NO_SUCCESS
        if self.runtime is not None and now - self.job.created >= self.runtime:
            return "Completed", None
        if self._criteria_met():
            return "Completed", None
        if running or self.queue:
            return None
        if self.max_jobs is not None and self._launched() >= self.max_jobs:
            return self._outcome()
        if self.searches and all(s.exhausted for s in self.searches):
            return self._outcome()
        return None

    def _outcome(self) -> tuple[str, str | None]:
        if not any(c.status == "Completed" for c in self.children):
            failures = [c.failure for c in self.children if c.failure]
            if len(self.children) >= FAILURES_BEFORE_GIVING_UP or not failures:
                return "Failed", NO_SUCCESS
            return "Failed", clip(
                f"No training job succeeded. The last one failed with: {failures[-1]}"
            )
        return "Completed", None

    def _criteria_met(self) -> bool:
        # A failed job's last printed value is not a result (best_child leaves it out too).
        scored = [
            c
            for c in self.children
            if c.finished and c.status != "Failed" and c.objective is not None
        ]
        target = self.criteria.get("TargetObjectiveMetricValue")
        if target is not None:
            for child in scored:
                if (
                    (child.objective >= target)
                    if self.type == "Maximize"
                    else (child.objective <= target)
                ):
                    return True
        window = (self.criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        from simsage.tuning.strategies import count_not_improving

        every = [t for i in range(len(self.searches)) for t in self._trials(i, history=False)]
        count = count_not_improving(every, self.type)
        self.job.details["not_improving"] = count
        if window is not None and count >= window:
            return True
        convergence = (self.criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
        if convergence == "Enabled" and scored:
            from simsage.tuning.strategies import converged

            if converged(every, self.type):
                self.job.details["converged_at"] = time.time()
                return True
        return False

    # -- warm start ------------------------------------------------------------------------

    def _warm_start_history(self) -> list:
        """The parents' finished children as the first definition's history (their
        tuned values for this job's ranges), numbered below this job's own."""
        from simsage.tuning.strategies import Trial

        warm = self.spec.get("WarmStartConfig")
        if not warm:
            return []
        names = {r.name for r in self.searches[0].ranges}
        out = []
        for entry in warm["ParentHyperParameterTuningJobs"]:
            parent = self.jobs.find(entry.get("HyperParameterTuningJobName", ""))
            if parent is None:
                continue
            for child in parent.child_records():
                if not child.finished or child.objective is None:
                    continue
                if set(child.tuned) != names:
                    continue
                out.append(
                    Trial(
                        number=-(len(out) + 1),
                        hyperparameters=dict(child.tuned),
                        status=child.status,
                        objective=child.objective,
                        intermediate=[],
                    )
                )
        return out

    # -- recording -------------------------------------------------------------------------

    def _save(self) -> None:
        self.jobs.update(
            self.name,
            children=[c.as_dict() for c in self.children],
            details=self.job.details,
        )

    def _end(self, status: str, failure: str | None = None) -> None:
        """Stop the children still running, wait for them to end, record the outcome.
        A stop asked meanwhile wins over a completion (the caller sees Stopped)."""
        if self._running():
            self._stop_children()
            deadline = time.time() + STOP_WAIT
            while self._running() and time.time() < deadline:
                time.sleep(POLL_EVERY)
                self._poll()
                self._save()
        self._save()
        if status != "Failed" and self.stopping():
            status = "Stopped"
        self._finish(status, failure)

    def _finish(self, status: str, failure: str | None = None) -> None:
        values: dict[str, Any] = {"ended": time.time()}
        if failure is not None:
            values["failure"] = failure
        self.jobs.transition(self.name, status, ACTIVE, **values)


def _metric_store(home):
    """The CloudWatch metric store of ``home`` (the children's intermediate objective
    values), or None where simsage has no metrics service."""
    try:
        from simsage.store.metrics import MetricStore
    except ImportError:
        return None
    return MetricStore(home)


if __name__ == "__main__":
    sys.exit(Runner.main(sys.argv))
