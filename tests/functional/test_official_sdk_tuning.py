"""The official SageMaker Python SDK (v2), unmodified, tunes the built-in XGBoost on simsage.

The test bodies are public-notebook code ("Hyperparameter tuning with the built-in
XGBoost"): ``image_uris.retrieve("xgboost", region, "1.7-1")``, an ``Estimator`` with
static hyperparameters, a ``HyperparameterTuner`` over ``eta``/``max_depth``/
``min_child_weight`` on ``validation:auc`` (Random, Bayesian, and Grid over
``CategoricalParameter`` ranges), ``fit`` with two ``TrainingInput`` channels, ``wait``,
``best_training_job``, ``analytics().dataframe()``, ``HyperparameterTuner.attach``,
``deploy`` of the best model with ``predict``, ``TrainingJobAnalytics`` of the best
job's metric, a warm start (``identical_dataset_and_algorithm_tuner``) and
``stop_tuning_job``. Script-mode ``SKLearn`` estimators are tuned too: one whose metric is a
known function of its hyperparameters, so the test knows which job must be the best (the
SDK JSON-encodes a Framework estimator's categorical values), attached by name and its
best model deployed, and one that emits its loss
every epoch under ``early_stopping_type="Auto"``, where the median rule stops the one
weak configuration while it runs. Only the fixtures differ from a notebook
(``simsage_local`` activates simsage; ``isolated_sdk`` and ``fast_sdk_polls``:
conftest.py).

The boto3 calls the SDK makes on these paths (read from ``sagemaker/tuner.py``,
``analytics.py``, ``session.py``, ``estimator.py``, and recorded in a run), all answered
here:

- sts ``GetCallerIdentity``, s3 ``ListBuckets``, ``HeadBucket`` (``ExpectedBucketOwner``)
  and ``CreateBucket`` (``default_bucket``), s3 ``PutObject`` (``upload_data``; the
  script-mode estimators' ``sourcedir.tar.gz``, with ``ServerSideEncryption``);
- sagemaker ``CreateHyperParameterTuningJob`` (``fit``: ``HyperParameterTuningJobConfig``
  with the strategy, objective, limits, ranges and ``TrainingJobEarlyStoppingType``;
  ``TrainingJobDefinition`` with the static hyperparameters, the image, the channels;
  ``WarmStartConfig`` for the warm-start tuner);
- sagemaker ``DescribeHyperParameterTuningJob`` (``wait`` polls it until the status is
  terminal; ``describe``; ``best_training_job`` reads ``BestTrainingJob``; ``attach``
  rebuilds the tuner and its estimator from it);
- sagemaker ``ListTrainingJobsForHyperParameterTuningJob`` (``analytics().dataframe()``,
  ``MaxResults=100``, paged by ``NextToken``);
- sagemaker ``StopHyperParameterTuningJob`` (``stop_tuning_job``);
- sagemaker ``DescribeTrainingJob`` and ``ListTags`` (``deploy`` and ``best_estimator``
  attach an ``Estimator`` to the best job; ``TrainingJobAnalytics`` reads its start and
  end times), cloudwatch ``GetMetricStatistics`` (``TrainingJobAnalytics``: namespace
  ``/aws/sagemaker/TrainingJobs``, dimension ``TrainingJobName``, ``Period=60``,
  ``Average``);
- sagemaker ``CreateModel``, ``CreateEndpointConfig``, ``CreateEndpoint`` and
  ``DescribeEndpoint`` (``deploy``), sagemaker-runtime ``InvokeEndpoint`` (``predict``),
  ``DescribeEndpointConfig``, ``DeleteModel``, ``DeleteEndpointConfig`` and
  ``DeleteEndpoint`` (``delete_model``, ``delete_endpoint``).

The tests themselves also read the children with ``DescribeTrainingJob`` and
``ListTrainingJobsForHyperParameterTuningJob`` and the best job's log with logs
``DescribeLogStreams``/``GetLogEvents``, to check what the SDK shows against the service.

Needs the ``official-sdk`` extra (part of ``test``); without it the module is skipped.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from sdk_helpers import dataset, write_csv

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.analytics import TrainingJobAnalytics  # noqa: E402
from sagemaker.deserializers import CSVDeserializer  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.serializers import CSVSerializer  # noqa: E402
from sagemaker.sklearn import SKLearn  # noqa: E402
from sagemaker.tuner import (  # noqa: E402
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
)

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"
PREFIX = "xgboost-tuning"
AUC_LINE = re.compile(r"#011validation-auc:([0-9.]+)")


@pytest.fixture
def notebook(simsage_local, isolated_sdk, fast_sdk_polls, tmp_path):
    """The notebook's first cells: a session, the train and validation CSVs uploaded to
    its default bucket, and the built-in XGBoost estimator with its static
    hyperparameters. Returns (session, estimator, inputs, held-out rows and labels)."""
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    x_train, y_train = dataset(300, seed=11)
    x_val, y_val = dataset(100, seed=12)
    x_test, y_test = dataset(40, seed=13)
    # Label noise, so the validation AUC differs between configurations.
    flip = np.random.default_rng(14).random(len(y_train)) < 0.1
    y_train = np.where(flip, 1 - y_train, y_train)
    for channel, (x, y) in {"train": (x_train, y_train), "validation": (x_val, y_val)}.items():
        (tmp_path / channel).mkdir()
        write_csv(tmp_path / channel / f"{channel}.csv", x, y)
    train_uri = sess.upload_data(str(tmp_path / "train"), bucket, f"{PREFIX}/train")
    val_uri = sess.upload_data(str(tmp_path / "validation"), bucket, f"{PREFIX}/validation")

    region = sess.boto_region_name
    container = image_uris.retrieve("xgboost", region, "1.7-1")
    xgb = Estimator(
        container,
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        output_path=f"s3://{bucket}/{PREFIX}/output",
        sagemaker_session=sess,
    )
    xgb.set_hyperparameters(objective="binary:logistic", eval_metric="auc", num_round=10)
    inputs = {
        "train": TrainingInput(s3_data=train_uri, content_type="csv"),
        "validation": TrainingInput(s3_data=val_uri, content_type="csv"),
    }
    return sess, xgb, inputs, (x_test, y_test)


def _summaries(sess, tuning_job_name: str) -> list[dict]:
    sm = sess.sagemaker_client
    return sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_job_name, MaxResults=100
    )["TrainingJobSummaries"]


def _log_lines(sess, training_job_name: str) -> list[str]:
    """The lines of a training job's CloudWatch log streams."""
    logs = sess.boto_session.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=training_job_name)
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        lines += [e["message"] for e in events]
    return lines


def _validation_auc_printed(sess, training_job_name: str) -> list[float]:
    """The validation AUC of each boosting round, as the job's CloudWatch log shows it."""
    lines = _log_lines(sess, training_job_name)
    return [float(v) for line in lines for v in AUC_LINE.findall(line)]


def test_random_tuning_flow(notebook):
    sess, xgb, inputs, (x_test, y_test) = notebook
    hyperparameter_ranges = {
        "eta": ContinuousParameter(0.05, 0.5),
        "max_depth": IntegerParameter(2, 6),
        "min_child_weight": ContinuousParameter(1, 5),
    }
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        hyperparameter_ranges,
        objective_type="Maximize",
        max_jobs=4,
        max_parallel_jobs=2,
        strategy="Random",
        random_seed=11,  # fixed draws: the quality bar below holds for these, not any draw
    )
    tuner.fit(inputs)
    tuner.wait()

    name = tuner.latest_tuning_job.name
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 4

    # The best job is the child with the highest validation AUC.
    summaries = _summaries(sess, name)
    assert len(summaries) == 4
    auc = {
        s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for s in summaries
    }
    best = tuner.best_training_job()
    assert auc[best] == max(auc.values())
    assert all(job.startswith(f"{name}-") for job in auc)

    # analytics(): one row per training job, its tuned values and its final objective.
    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    for column in ("eta", "max_depth", "min_child_weight", "TrainingJobName"):
        assert column in frame.columns
    for column in ("TrainingJobStatus", "FinalObjectiveValue", "TrainingElapsedTimeSeconds"):
        assert column in frame.columns
    assert set(frame["TrainingJobName"]) == set(auc)
    assert (frame["TrainingJobStatus"] == "Completed").all()
    by_job = frame.set_index("TrainingJobName")
    for job, value in auc.items():
        assert by_job.loc[job, "FinalObjectiveValue"] == pytest.approx(value)
        assert 0.05 <= by_job.loc[job, "eta"] <= 0.5
        assert by_job.loc[job, "max_depth"] in (2, 3, 4, 5, 6)
        assert 1 <= by_job.loc[job, "min_child_weight"] <= 5
    assert (by_job["TrainingElapsedTimeSeconds"] >= 0).all()

    # The best child's own hyperparameters: the static ones, its tuned values and the
    # objective the service adds.
    child = sess.sagemaker_client.describe_training_job(TrainingJobName=best)
    hyperparameters = child["HyperParameters"]
    assert hyperparameters["_tuning_objective_metric"] == "validation:auc"
    assert hyperparameters["num_round"] == "10"
    assert float(hyperparameters["eta"]) == pytest.approx(by_job.loc[best, "eta"])
    assert child["TuningJobArn"] == described["HyperParameterTuningJobArn"]

    # TrainingJobAnalytics reads the best job's metric from CloudWatch.
    # It averages each minute's values (Period=60, Statistic Average), so its rows lie
    # within the AUCs the job printed round by round, the last of which is the objective.
    printed = _validation_auc_printed(sess, best)
    assert len(printed) == 10
    assert printed[-1] == pytest.approx(auc[best], abs=1e-6)
    metrics = TrainingJobAnalytics(best, metric_names=["validation:auc"]).dataframe()
    assert list(metrics.columns) == ["timestamp", "metric_name", "value"]
    assert set(metrics["metric_name"]) == {"validation:auc"}
    assert len(metrics) >= 1
    assert metrics["value"].between(min(printed) - 1e-6, max(printed) + 1e-6).all()

    # The notebook deploys the best model and asks it for predictions.
    predictor = tuner.deploy(1, INSTANCE, serializer=CSVSerializer())
    try:
        raw = predictor.predict(x_test)
        scores = np.array([float(v) for v in raw.decode().replace("\n", ",").split(",") if v])
        assert scores.shape == (len(x_test),)
        assert ((scores >= 0) & (scores <= 1)).all()
        assert scores[y_test == 1].mean() > scores[y_test == 0].mean() + 0.3
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()
    sm = sess.sagemaker_client
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == []


def test_attach_by_name(notebook):
    sess, xgb, inputs, _ = notebook
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 6)},
        objective_type="Maximize",
        max_jobs=2,
        max_parallel_jobs=2,
        strategy="Random",
    )
    tuner.fit(inputs, wait=False)
    name = tuner.latest_tuning_job.name

    # A later notebook (another kernel) picks the tuning job up by name, while it runs.
    attached = HyperparameterTuner.attach(name, sagemaker_session=sess)
    assert attached.latest_tuning_job.name == name
    assert attached.objective_metric_name == "validation:auc"
    assert attached.objective_type == "Maximize"
    assert attached.strategy == "Random"
    assert (attached.max_jobs, attached.max_parallel_jobs) == (2, 2)
    ranges = attached.hyperparameter_ranges()
    assert [r["Name"] for r in ranges["ContinuousParameterRanges"]] == ["eta"]
    assert ranges["IntegerParameterRanges"][0]["MaxValue"] == "6"
    assert attached.estimator.image_uri == xgb.image_uri
    # The static hyperparameters come back as the estimator's, without the service's key.
    static = attached.estimator.hyperparameters()
    assert static["num_round"] == "10" and "_tuning_objective_metric" not in static

    attached.wait()
    assert attached.best_training_job() == tuner.best_training_job()
    assert attached.best_estimator().model_data.endswith("/output/model.tar.gz")


def test_bayesian_tuning(notebook):
    sess, xgb, inputs, _ = notebook
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        {
            "eta": ContinuousParameter(0.05, 0.5, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(2, 6),
        },
        objective_type="Maximize",
        max_jobs=4,
        max_parallel_jobs=2,
        strategy="Bayesian",
        early_stopping_type="Auto",
        base_tuning_job_name="xgb-bayes",
    )
    tuner.fit(inputs, wait=False)
    tuner.wait()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    config = described["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    # The median rule may stop a child that falls behind; every child ends with an
    # objective either way.
    counters = described["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 4
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 4
    assert tuner.latest_tuning_job.name.startswith("xgb-bayes-")
    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert frame["FinalObjectiveValue"].notna().all()
    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] == tuner.best_training_job()
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        frame["FinalObjectiveValue"].max()
    )


def test_grid_tuning_over_categorical_values(notebook):
    sess, xgb, inputs, _ = notebook
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        {
            "max_depth": CategoricalParameter([2, 4]),
            "eta": CategoricalParameter([0.1, 0.3]),
        },
        objective_type="Maximize",
        # The number of combinations: the SDK (2.257) would send max_jobs=None as
        # MaxNumberOfTrainingJobs=None, which botocore refuses before any request.
        max_jobs=4,
        max_parallel_jobs=2,
        strategy="Grid",
    )
    tuner.fit(inputs)
    tuner.wait()
    frame = tuner.analytics().dataframe()
    # Every combination once.
    combos = sorted(zip(frame["max_depth"], frame["eta"], strict=True))
    assert combos == [(2, 0.1), (2, 0.3), (4, 0.1), (4, 0.3)]
    assert (frame["TrainingJobStatus"] == "Completed").all()


SCRIPT = """
import argparse
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)


def predict_fn(data, model):
    import numpy as np

    return np.full(len(data), float(model["x"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=int, default=0)
    parser.add_argument("--kind", type=str, default="a")
    args, _ = parser.parse_known_args()
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
        json.dump({"x": args.x}, f)
    print(f"score={10 - (args.x - 3) ** 2 + (1 if args.kind == 'b' else 0)}", flush=True)
"""


def test_sdk_tuner_fit_best_job_analytics_and_attach(
    simsage_local, isolated_sdk, fast_sdk_polls, tmp_path
):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    sess = sagemaker.Session()
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=sess,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="score",
        hyperparameter_ranges={
            "x": IntegerParameter(0, 6),
            "kind": CategoricalParameter(["a", "b"]),
        },
        metric_definitions=[{"Name": "score", "Regex": r"score=(-?[0-9.]+)"}],
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=3,
    )
    tuner.fit(wait=True)
    name = tuner.latest_tuning_job.name
    described = sess.sagemaker_client.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert set(frame["TrainingJobStatus"]) == {"Completed"}
    # The SDK JSON-encodes a Framework estimator's categorical values; the script sees them
    # decoded, as on AWS.
    expected = [
        10 - (int(x) - 3) ** 2 + (1 if str(kind).strip('"') == "b" else 0)
        for x, kind in zip(frame["x"], frame["kind"], strict=True)
    ]
    assert list(frame["FinalObjectiveValue"]) == pytest.approx(expected)
    best = frame.loc[frame["FinalObjectiveValue"].idxmax(), "TrainingJobName"]
    assert tuner.best_training_job() == best
    attached = HyperparameterTuner.attach(name, sagemaker_session=sess)
    assert attached.best_training_job() == best
    assert attached.objective_metric_name == "score"

    # The best training job's model, deployed: its endpoint answers with its x.
    predictor = tuner.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    best_x = frame.loc[frame["FinalObjectiveValue"].idxmax(), "x"]
    assert [float(v) for row in predictor.predict([[0.0], [1.0]]) for v in row] == [
        float(best_x),
        float(best_x),
    ]
    predictor.delete_model()
    predictor.delete_endpoint()


EPOCHS_SCRIPT = """
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--kind", type=str, default="good")
args, _ = parser.parse_known_args()
weak = args.kind.strip('"') == "weak"
for epoch in range(1, 31):
    loss = 5.0 if weak else 1.0 / epoch
    print(f"epoch={epoch} loss={loss:.4f}", flush=True)
    if weak:
        time.sleep(0.5)  # long enough to be watched; the median rule stops it first
"""


def test_early_stopping_auto_stops_a_weak_training_job(
    simsage_local, isolated_sdk, fast_sdk_polls, tmp_path
):
    """``early_stopping_type="Auto"``: the loss is emitted every epoch; three configurations
    learn, the fourth does not, and is stopped while it runs (the median rule: its loss
    is worse than the median of the earlier jobs' running averages at the same epoch).
    Grid runs the values in the order given, one at a time, so the weak one comes last."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(EPOCHS_SCRIPT)
    sess = sagemaker.Session()
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        sagemaker_session=sess,
    )
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        {"kind": CategoricalParameter(["good", "fine", "okay", "weak"])},
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        objective_type="Minimize",
        strategy="Grid",
        max_jobs=4,
        max_parallel_jobs=1,
        early_stopping_type="Auto",
    )
    tuner.fit()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    counters = described["TrainingJobStatusCounters"]
    assert (counters["Completed"], counters["Stopped"]) == (3, 1)

    frame = tuner.analytics().dataframe()
    status = {
        str(k).strip('"'): v for k, v in zip(frame["kind"], frame["TrainingJobStatus"], strict=True)
    }
    assert status == {
        "good": "Completed",
        "fine": "Completed",
        "okay": "Completed",
        "weak": "Stopped",
    }
    weak = frame.loc[frame["TrainingJobStatus"] == "Stopped", "TrainingJobName"].item()
    # It was stopped before its last epoch: its log ends early.
    printed = _log_lines(sess, weak)
    epochs = [line for line in printed if line.startswith("epoch=")]
    assert 1 <= len(epochs) < 30
    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] != weak
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        1 / 30, abs=1e-4
    )


def test_warm_start_from_a_finished_tuning_job(notebook):
    sess, xgb, inputs, _ = notebook
    parent = HyperparameterTuner(
        xgb,
        "validation:auc",
        {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 6)},
        objective_type="Maximize",
        max_jobs=2,
        max_parallel_jobs=2,
        strategy="Bayesian",
        base_tuning_job_name="xgb-parent",
    )
    parent.fit(inputs)
    # The SDK's warm start: the same settings, the parent's results as a starting point.
    child = parent.identical_dataset_and_algorithm_tuner()
    child.fit(inputs)
    described = child.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    parent_name = parent.latest_tuning_job.name
    assert described["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent_name}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    # Its own training jobs are its own; the overall best is the best of both jobs'.
    own = _summaries(sess, child.latest_tuning_job.name)
    assert len(own) == 2
    assert all(s["TrainingJobName"].startswith(child.latest_tuning_job.name) for s in own)
    every = own + _summaries(sess, parent_name)
    values = {
        s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for s in every
    }
    overall = described["OverallBestTrainingJob"]
    assert overall["TrainingJobName"] == max(values, key=values.get)
    assert child.best_training_job() == max((s["TrainingJobName"] for s in own), key=values.get)


def test_stop_tuning_job(notebook):
    sess, xgb, inputs, _ = notebook
    xgb.set_hyperparameters(num_round=1_000_000)  # still training when the stop comes
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        {"eta": ContinuousParameter(0.05, 0.5)},
        max_jobs=6,
        max_parallel_jobs=2,
        strategy="Random",
    )
    tuner.fit(inputs, wait=False)
    name = tuner.latest_tuning_job.name
    while not _summaries(sess, name):
        assert tuner.describe()["HyperParameterTuningJobStatus"] == "InProgress"
        time.sleep(0.2)
    tuner.stop_tuning_job()
    tuner.wait()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = _summaries(sess, name)
    assert 1 <= len(summaries) <= 2
    assert {s["TrainingJobStatus"] for s in summaries} == {"Stopped"}
    assert described["TrainingJobStatusCounters"]["Stopped"] == len(summaries)
