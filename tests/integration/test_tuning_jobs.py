"""Hyperparameter tuning jobs end to end: real boto3 clients, the detached tuning runner,
and its children as real training jobs (their own runners and script processes).

Every child runs a tiny script-mode script on the scikit-learn image whose objective is
a known function of its hyperparameters (best at x=3, y=0.5, kind=b), so the tests
can say which job must be the best, and what every child was given.
"""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time

import pytest

from simsage.home import Home
from simsage.training.jobs import TrainingJobStore
from simsage.tuning.jobs import TuningJobStore

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "tuning-runs"
SOURCE = f"s3://{BUCKET}/code/sourcedir.tar.gz"
TERMINAL = ("Completed", "Failed", "Stopped")
TIMEOUT = 90.0

SCRIPT = r"""
import os, sys, time

args = sys.argv[1:]
opts = dict(zip(args[0::2], args[1::2]))
x = float(opts.get("--x", "0"))
y = float(opts.get("--y", "0"))
kind = opts.get("--kind", "a")
mode = opts.get("--mode", "ok")
score = 10 - (x - 3) ** 2 - 4 * (y - 0.5) ** 2 + (1 if kind == "b" else 0)
print(f"threads={os.environ.get('OMP_NUM_THREADS', '0')}", flush=True)
print(f"objective metric={opts.get('--_tuning_objective_metric')}", flush=True)
if mode == "fail":
    raise ValueError("this script always fails")
if mode == "scorefail":
    print(f"score={score:.6f}", flush=True)
    sys.exit(3)
if mode == "epochs":
    for epoch in range(1, 11):
        print(f"score={score * epoch / 10:.6f}", flush=True)
        time.sleep(0.1)
    sys.exit(0)
if mode == "sleep":
    while True:
        print(f"score={score:.6f}", flush=True)
        time.sleep(0.2)
print(f"score={score:.6f}", flush=True)
"""


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def score(x: float, y: float = 0.0, kind: str = "a") -> float:
    return 10 - (x - 3) ** 2 - 4 * (y - 0.5) ** 2 + (1 if kind == "b" else 0)


class Tuning:
    def __init__(self, local) -> None:
        self.local = local
        self.sm = local.client("sagemaker")
        s3 = local.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(
            Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_tar_gz({"train.py": SCRIPT.encode()})
        )

    def request(self, name: str, strategy: str = "Random", **changes) -> dict:
        config = {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "6"}],
                "ContinuousParameterRanges": [{"Name": "y", "MinValue": "0", "MaxValue": "1"}],
            },
            "RandomSeed": 7,
        }
        config.update(changes.pop("config", {}))
        static = {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(SOURCE),
            **changes.pop("static", {}),
        }
        return {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": {
                "StaticHyperParameters": static,
                "AlgorithmSpecification": {
                    "TrainingImage": SKLEARN,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [
                        {"Name": "score", "Regex": r"score=(-?[0-9.]+)"},
                        {"Name": "threads", "Regex": r"threads=([0-9]+)"},
                    ],
                },
                "RoleArn": ROLE,
                "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
                "ResourceConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 1,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 300},
            },
            **changes,
        }

    def start(self, name: str, strategy: str = "Random", **changes) -> str:
        params = self.request(name, strategy, **changes)
        return self.sm.create_hyper_parameter_tuning_job(**params)["HyperParameterTuningJobArn"]

    def describe(self, name: str) -> dict:
        return self.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)

    def wait(self, name: str, statuses=TERMINAL) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            seen = self.describe(name)
            if seen["HyperParameterTuningJobStatus"] in statuses:
                return seen
            time.sleep(0.1)
        raise AssertionError(f"tuning job {name} did not finish in {TIMEOUT} s: {seen}")

    def run(self, name: str, strategy: str = "Random", **changes) -> dict:
        self.start(name, strategy, **changes)
        return self.wait(name)

    def children(self, name: str, **params) -> list[dict]:
        paginator = self.sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        return [
            s
            for page in paginator.paginate(HyperParameterTuningJobName=name, **params)
            for s in page["TrainingJobSummaries"]
        ]


@pytest.fixture
def tuning(simsage_local) -> Tuning:
    return Tuning(simsage_local)


def _value(summary: dict) -> float:
    return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def test_random_search_runs_real_training_jobs_and_keeps_the_best(tuning):
    seen = tuning.run("random-run")
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    assert seen["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert seen["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    children = tuning.children("random-run")
    names = [c["TrainingJobName"] for c in children]
    assert len(names) == 4
    for number, name in enumerate(sorted(names), start=1):
        prefix, sequence, suffix = name.rsplit("-", 2)
        assert prefix == "random-run" and sequence == f"{number:03d}"
        assert len(suffix) == 8 and all(ch in "0123456789abcdef" for ch in suffix)
    for child in children:
        tuned = child["TunedHyperParameters"]
        assert set(tuned) == {"x", "y"}
        assert 0 <= int(tuned["x"]) <= 6 and 0 <= float(tuned["y"]) <= 1
        assert _value(child) == pytest.approx(score(int(tuned["x"]), float(tuned["y"])), abs=1e-5)
        assert child["ObjectiveStatus"] == "Succeeded"
        assert child["TuningJobName"] == "random-run"
    best = max(children, key=_value)
    assert seen["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert seen["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "score",
        "Value": _value(best),
    }
    by_objective = tuning.children(
        "random-run", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    assert [c["TrainingJobName"] for c in by_objective] == [
        c["TrainingJobName"] for c in sorted(children, key=_value, reverse=True)
    ]
    # The child is a real training job: the tuning job's ARN, the objective key among
    # its hyperparameters, and its share of the cores (2 in parallel).
    job = tuning.sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert job["TuningJobArn"] == seen["HyperParameterTuningJobArn"]
    assert job["HyperParameters"]["_tuning_objective_metric"] == "score"
    assert job["HyperParameters"]["x"] == best["TunedHyperParameters"]["x"]
    threads = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["threads"]
    assert threads == max(1, (os.cpu_count() or 1) // 2)
    assert "SimsageCpuThreads" not in job and "OMP_NUM_THREADS" not in job.get("Environment", {})
    assert seen["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] >= 0
    assert seen["ConsumedResources"]["RuntimeInSeconds"] >= 0


def test_grid_runs_every_combination_once(tuning):
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "x", "Values": ["1", "3"]},
            {"Name": "kind", "Values": ["a", "b"]},
        ]
    }
    seen = tuning.run(
        "grid-run",
        "Grid",
        config={
            "ParameterRanges": ranges,
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    combos = sorted(
        (c["TunedHyperParameters"]["x"], c["TunedHyperParameters"]["kind"])
        for c in tuning.children("grid-run")
    )
    assert combos == [("1", "a"), ("1", "b"), ("3", "a"), ("3", "b")]
    best = seen["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "3", "kind": "b"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        score(3, 0, "b")
    )


def test_bayesian_search_and_a_warm_start_from_it(tuning):
    seen = tuning.run(
        "bayes-run",
        "Bayesian",
        config={"ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}},
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    assert seen["TrainingJobStatusCounters"]["Completed"] == 4
    children = tuning.children("bayes-run")
    assert (
        len({(c["TunedHyperParameters"]["x"], c["TunedHyperParameters"]["y"]) for c in children})
        == 4
    )
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "bayes-run"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    again = tuning.run(
        "bayes-warm",
        "Bayesian",
        config={"ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2}},
        WarmStartConfig=warm,
    )
    assert again["HyperParameterTuningJobStatus"] == "Completed", again.get("FailureReason")
    assert again["WarmStartConfig"] == warm
    everything = children + tuning.children("bayes-warm")
    overall = max(everything, key=_value)
    assert again["OverallBestTrainingJob"]["TrainingJobName"] == overall["TrainingJobName"]
    assert len(tuning.children("bayes-warm")) == 2


def test_target_objective_value_completes_early(tuning):
    seen = tuning.run(
        "target-run",
        "Random",
        config={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 2},
            "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": -1000.0},
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed"
    # Every score beats -1000: the first child to end completes the job; the ones still
    # running then are stopped.
    counters = seen["TrainingJobStatusCounters"]
    assert counters["Completed"] >= 1
    assert counters["Completed"] + counters["Stopped"] == len(tuning.children("target-run")) < 30


def test_a_failed_job_s_printed_objective_is_not_a_result(tuning):
    seen = tuning.run(
        "failed-scores",
        "Random",
        static={"mode": "scorefail"},
        config={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
            "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": -1000.0},
        },
    )
    # Every job printed a score beating the target, then failed: no result, no best job.
    assert seen["HyperParameterTuningJobStatus"] == "Failed"
    assert "BestTrainingJob" not in seen
    assert seen["ObjectiveStatusCounters"]["Succeeded"] == 0
    assert {c["ObjectiveStatus"] for c in tuning.children("failed-scores")} == {"Failed"}


def test_best_objective_not_improving_completes_early(tuning):
    seen = tuning.run(
        "flat-run",
        config={
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "x", "Values": ["3"]}]},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            "TuningJobCompletionCriteria": {
                "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
            },
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    # Every job scores the same: after the first, none improves the best.
    assert seen["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] >= 3
    assert 4 <= len(tuning.children("flat-run")) < 20


def test_convergence_completes_the_job(tuning):
    seen = tuning.run(
        "converge-run",
        config={
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "x", "Values": ["3"]}]},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 3},
            "TuningJobCompletionCriteria": {
                "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}
            },
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    details = seen["TuningJobCompletionDetails"]
    assert seen["CreationTime"] <= details["ConvergenceDetectedTime"]
    assert details["ConvergenceDetectedTime"] <= seen["HyperParameterTuningEndTime"]
    assert 10 <= len(tuning.children("converge-run")) < 30


def test_several_definitions_share_the_budget(tuning):
    base = tuning.request("defs-run")
    one = base["TrainingJobDefinition"]
    objective = base["HyperParameterTuningJobConfig"].pop("HyperParameterTuningJobObjective")
    ranges = base["HyperParameterTuningJobConfig"].pop("ParameterRanges")
    defs = []
    for name, kind in (("def-a", "a"), ("def-b", "b")):
        entry = json.loads(json.dumps(one))
        entry["StaticHyperParameters"]["kind"] = kind
        defs.append(
            {
                **entry,
                "DefinitionName": name,
                "TuningObjective": objective,
                "HyperParameterRanges": ranges,
            }
        )
    del base["TrainingJobDefinition"]
    tuning.sm.create_hyper_parameter_tuning_job(**base, TrainingJobDefinitions=defs)
    seen = tuning.wait("defs-run")
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    children = tuning.children("defs-run")
    assert sorted(c["TrainingJobDefinitionName"] for c in children) == [
        "def-a",
        "def-a",
        "def-b",
        "def-b",
    ]
    for child in children:  # each definition's static hyperparameters reached its jobs
        tuned = child["TunedHyperParameters"]
        kind = "a" if child["TrainingJobDefinitionName"] == "def-a" else "b"
        assert _value(child) == pytest.approx(
            score(int(tuned["x"]), float(tuned["y"]), kind), abs=1e-5
        )
    assert (
        seen["BestTrainingJob"]["TrainingJobDefinitionName"]
        == max(children, key=_value)["TrainingJobDefinitionName"]
    )


def test_early_stopping_stops_a_job_worse_than_the_median(tuning):
    # One job at a time, best first: the fourth (x=0) reports values far below the
    # median of the three before it at the same epochs, and is stopped.
    seen = tuning.run(
        "early-run",
        "Grid",
        static={"mode": "epochs"},
        config={
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "x", "Values": ["3", "2", "1", "0"]}]
            },
            "ResourceLimits": {"MaxParallelTrainingJobs": 1},
            "TrainingJobEarlyStoppingType": "Auto",
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    by_x = {c["TunedHyperParameters"]["x"]: c for c in tuning.children("early-run")}
    assert [by_x[x]["TrainingJobStatus"] for x in ("3", "2", "1")] == ["Completed"] * 3
    assert by_x["0"]["TrainingJobStatus"] == "Stopped"
    assert seen["TrainingJobStatusCounters"]["Stopped"] == 1
    assert seen["BestTrainingJob"]["TunedHyperParameters"] == {"x": "3"}


def test_hyperband_stops_weak_configurations_at_its_rungs(tuning):
    seen = tuning.run(
        "hyperband-run",
        "Hyperband",
        static={"mode": "epochs"},
        config={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 1},
            "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
        },
    )
    assert seen["HyperParameterTuningJobStatus"] == "Completed", seen.get("FailureReason")
    children = tuning.children("hyperband-run")
    stopped = [c for c in children if c["TrainingJobStatus"] == "Stopped"]
    # Jobs run one at a time and each reports 10 epochs (MaxResource 9, rungs at 1 and 3):
    # from the third on, a job behind the best third of those at its rung is stopped.
    assert stopped, [(c["TunedHyperParameters"], _value(c)) for c in children]
    assert seen["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    best = seen["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed"
    assert all(_value(c) < _value(best) for c in stopped)


def test_stop_stops_the_running_children(tuning, monkeypatch):
    tuning.start("stop-run", static={"mode": "sleep"})
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        running = tuning.children("stop-run", StatusEquals="InProgress")
        if len(running) == 2:
            break
        time.sleep(0.1)
    assert len(running) == 2
    tuning.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-run")
    assert tuning.describe("stop-run")["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    seen = tuning.wait("stop-run")
    assert seen["HyperParameterTuningJobStatus"] == "Stopped"
    assert seen["TrainingJobStatusCounters"]["Stopped"] == 2
    assert seen["TrainingJobStatusCounters"]["InProgress"] == 0
    for child in tuning.children("stop-run"):
        assert child["TrainingJobStatus"] == "Stopped"
        job = tuning.sm.describe_training_job(TrainingJobName=child["TrainingJobName"])
        assert job["TrainingJobStatus"] == "Stopped"


def test_a_dead_tuning_runner_fails_the_job_and_stops_its_children(tuning, simsage_local):
    tuning.start("orphan-run", static={"mode": "sleep"})
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if len(tuning.children("orphan-run", StatusEquals="InProgress")) == 2:
            break
        time.sleep(0.1)
    runner = TuningJobStore(Home.open(simsage_local.config)).get("orphan-run").runner_pid
    os.kill(runner, signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        seen = tuning.describe("orphan-run")
        if seen["HyperParameterTuningJobStatus"] == "Failed":
            break
        time.sleep(0.1)
    assert seen["HyperParameterTuningJobStatus"] == "Failed"
    assert seen["FailureReason"].startswith("InternalServerError: ")
    for child in tuning.children("orphan-run"):
        name = child["TrainingJobName"]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            status = tuning.sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
            if status in TERMINAL:
                break
            time.sleep(0.1)
        assert status == "Stopped"
    # The tuning job's own view of its training jobs follows them, with no runner left.
    assert {c["TrainingJobStatus"] for c in tuning.children("orphan-run")} == {"Stopped"}
    counters = tuning.describe("orphan-run")["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["Stopped"] == 2


def test_failing_children_fail_the_tuning_job_and_internal_errors_are_retried(
    tuning, simsage_local
):
    seen = tuning.run(
        "fail-run",
        static={"mode": "fail"},
        config={"ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3}},
    )
    assert seen["HyperParameterTuningJobStatus"] == "Failed"
    assert seen["FailureReason"] == (
        "No training job succeeded after 5 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    assert seen["TrainingJobStatusCounters"]["NonRetryableError"] >= 5
    failed = tuning.children("fail-run", StatusEquals="Failed")
    assert all(c["ObjectiveStatus"] == "Failed" for c in failed)
    assert all("this script always fails" in c["FailureReason"] for c in failed)

    # A child whose training runner dies fails with an InternalServerError, which
    # SageMaker retries: the same configuration runs again as a new training job.
    tuning.start(
        "retry-run",
        static={"mode": "sleep"},
        config={"ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}},
    )
    store = TrainingJobStore(Home.open(simsage_local.config))
    deadline = time.monotonic() + TIMEOUT
    first = None
    while time.monotonic() < deadline and first is None:
        running = tuning.children("retry-run", StatusEquals="InProgress")
        if running:
            job = store.get(running[0]["TrainingJobName"])
            if job.runner_pid and job.host_pids:
                first = running[0]
        time.sleep(0.1)
    assert first is not None
    os.kill(store.get(first["TrainingJobName"]).runner_pid, signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and len(tuning.children("retry-run")) < 2:
        time.sleep(0.1)
    tuning.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="retry-run")
    seen = tuning.wait("retry-run")
    children = sorted(tuning.children("retry-run"), key=lambda c: c["TrainingJobName"])
    assert len(children) == 2
    assert children[0]["FailureReason"].startswith("InternalServerError")
    assert children[1]["TunedHyperParameters"] == children[0]["TunedHyperParameters"]
    assert seen["TrainingJobStatusCounters"]["RetryableError"] == 1
    assert seen["HyperParameterTuningJobStatus"] == "Stopped"
