"""The official SageMaker Python SDK (v2), unmodified, tunes a script-mode estimator on
simsage: ``HyperparameterTuner(...).fit()``, ``wait``, ``best_training_job``,
``analytics().dataframe()`` and ``HyperparameterTuner.attach``, as a notebook does.

The script's metric is a known function of its hyperparameter, so the test knows which
training job must be the best. Needs the ``official-sdk`` extra; without it the module
is skipped.
"""

from __future__ import annotations

import pytest

sagemaker = pytest.importorskip("sagemaker")

from sagemaker.sklearn import SKLearn  # noqa: E402
from sagemaker.tuner import (  # noqa: E402
    CategoricalParameter,
    HyperparameterTuner,
    IntegerParameter,
)

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

SCRIPT = """
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int, default=0)
parser.add_argument("--kind", type=str, default="a")
args, _ = parser.parse_known_args()
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
