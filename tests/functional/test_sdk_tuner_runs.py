"""simsage.sdk's HyperparameterTuner runs real tuning jobs on simsage: a Random search of
four script-mode scikit-learn training jobs, two at a time, whose objective is a known
function of the hyperparameters (best at x=3, y=0.5); ``fit`` waits printing the official
SDK's progress; the best training job is the one with the highest objective; the
analytics dataframe has one row per job with its values; a tuner attached from the job's
name finds the same (as does the official SDK v2's attach) and deploys the best job's
model, whose endpoint serves the best hyperparameters back; TrainingJobAnalytics reads the best job's metric from CloudWatch.
A tuner of two estimators (``create()``) shares the budget between their definitions and
names the best one's.

Each tuning job takes a few seconds (tests/unit/test_sdk_tuner.py checks the
requests themselves).
"""

from __future__ import annotations

import pytest
from sdk_helpers import official_sdk_v2

from simsage import sdk
from simsage.sdk.deserializers import JSONDeserializer
from simsage.sdk.serializers import JSONSerializer

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

TRAIN = """\
import argparse, json, os

def score(x, y):
    return 10 - (x - 3) ** 2 - 4 * (y - 0.5) ** 2

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=int)
    parser.add_argument("--y", type=float)
    parser.add_argument("--bonus", type=float, default=0.0)
    args, _ = parser.parse_known_args()  # the tuning job adds --_tuning_objective_metric
    rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "rows.csv")).read().split()
    print(f"rows={len(rows)}", flush=True)
    print(f"score={score(args.x, args.y) + args.bonus:.6f}", flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
        json.dump({"x": args.x, "y": args.y}, out)

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def predict_fn(data, model):
    return [model["x"], model["y"]]
"""


def score(x: float, y: float) -> float:
    return 10 - (x - 3) ** 2 - 4 * (y - 0.5) ** 2


METRICS = [
    {"Name": "score", "Regex": r"score=(-?[0-9.]+)"},
    {"Name": "rows", "Regex": r"rows=([0-9]+)"},
]
RANGES = {"x": sdk.IntegerParameter(0, 6), "y": sdk.ContinuousParameter(0.0, 1.0)}


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


@pytest.fixture
def script(session, tmp_path):
    """(the script's folder, the S3 URI of its training data)."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (tmp_path / "rows.csv").write_text("1\n2\n3\n")
    return code, session.upload_data(str(tmp_path / "rows.csv"), key_prefix="tuning/train")


def estimator(session, code, **hyperparameters) -> sdk.SKLearn:
    return sdk.SKLearn(
        entry_point="train.py",
        source_dir=str(code),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        hyperparameters=hyperparameters,
        sagemaker_session=session,
    )


@pytest.fixture
def official(monkeypatch, tmp_path, simsage_local):
    return official_sdk_v2(monkeypatch, tmp_path)


def test_a_random_search_finds_deploys_and_reports_the_best(session, script, capsys, official):
    code, train = script
    tuner = sdk.HyperparameterTuner(
        estimator(session, code),
        "score",
        RANGES,
        metric_definitions=METRICS,
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=7,
        base_tuning_job_name="sdk-random",
    )
    tuner.fit({"train": train})

    # fit() waited, printing a dot per training job and "!" once the tuning job completed.
    assert capsys.readouterr().out.endswith("....!\n")
    name = tuner.latest_tuning_job.name
    assert name.startswith("sdk-random-") and len(name) <= 32
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "Completed"

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4 and set(frame["TrainingJobStatus"]) == {"Completed"}
    for row in frame.itertuples():
        assert row.TrainingJobName.startswith(f"{name}-")
        assert 0 <= row.x <= 6 and 0 <= row.y <= 1
        assert row.FinalObjectiveValue == pytest.approx(score(row.x, row.y), abs=1e-5)
        assert row.TrainingElapsedTimeSeconds >= 0
    best_row = frame.loc[frame["FinalObjectiveValue"].idxmax()]
    best = tuner.best_training_job()
    assert best == best_row["TrainingJobName"]

    # Another notebook attaches by name: the same results, and it deploys the best model.
    attached = sdk.HyperparameterTuner.attach(name, sagemaker_session=session)
    assert type(attached.estimator) is sdk.SKLearn
    assert attached.best_training_job() == best
    assert (
        attached.analytics().dataframe()["TrainingJobName"].tolist()
        == frame["TrainingJobName"].tolist()
    )
    # The official SDK attaches it too (the estimator class is named its way).
    from sagemaker.tuner import HyperparameterTuner

    theirs = HyperparameterTuner.attach(
        name, sagemaker_session=official.Session(boto_session=session.boto_session)
    )
    assert type(theirs.estimator).__name__ == "SKLearn"
    assert theirs.estimator.entry_point == "train.py"
    assert theirs.best_training_job() == best

    predictor = attached.deploy(
        1, "ml.m5.large", serializer=JSONSerializer(), deserializer=JSONDeserializer()
    )
    try:
        assert predictor.endpoint_name == best
        x, y = predictor.predict([[0.0]])
        assert (x, y) == (int(best_row["x"]), pytest.approx(best_row["y"]))
    finally:
        predictor.delete_endpoint()

    # The best job's metrics, from CloudWatch.
    metrics = sdk.TrainingJobAnalytics(best, sagemaker_session=session).dataframe()
    by_name = metrics.groupby("metric_name")["value"].last().to_dict()
    assert by_name == {
        "score": pytest.approx(best_row["FinalObjectiveValue"], abs=1e-5),
        "rows": 3.0,
    }
    only = sdk.TrainingJobAnalytics(best, metric_names=["rows"], sagemaker_session=session)
    assert only.dataframe()["metric_name"].tolist() == ["rows"]


def test_a_tuning_job_of_two_estimators_shares_the_budget(session, script):
    """create(): one job, two training job definitions (the second's script scores 100
    more), the budget split between them; the best job and its estimator are the
    second's."""
    code, train = script
    tuner = sdk.HyperparameterTuner.create(
        {"plain": estimator(session, code), "boosted": estimator(session, code, bonus=100)},
        {"plain": "score", "boosted": "score"},
        {"plain": RANGES, "boosted": RANGES},
        {"plain": METRICS, "boosted": METRICS},
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        base_tuning_job_name="sdk-two",
    )
    tuner.fit({"plain": {"train": train}, "boosted": {"train": train}})

    frame = tuner.analytics().dataframe()
    assert sorted(frame["TrainingJobDefinitionName"]) == ["boosted", "boosted", "plain", "plain"]
    for row in frame.itertuples():
        bonus = 100 if row.TrainingJobDefinitionName == "boosted" else 0
        assert row.FinalObjectiveValue == pytest.approx(score(row.x, row.y) + bonus, abs=1e-5)
    best = tuner.describe()["BestTrainingJob"]
    assert best["TrainingJobDefinitionName"] == "boosted"
    assert (
        best["TrainingJobName"]
        == frame.loc[frame["FinalObjectiveValue"].idxmax()]["TrainingJobName"]
    )
    chosen = tuner.best_estimator()
    assert type(chosen) is sdk.SKLearn and chosen.hyperparameters()["bonus"] == "100"
    assert chosen.model_data.endswith(f"{best['TrainingJobName']}/output/model.tar.gz")
    metrics = chosen.training_job_analytics.dataframe()
    [value] = metrics.loc[metrics["metric_name"] == "score", "value"].tolist()
    assert value == pytest.approx(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
