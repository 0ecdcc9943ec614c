"""The official SDK v3's ``HyperparameterTuner`` on simsage, unmodified: a script-mode
``ModelTrainer`` tuned with ``tune()``, then ``best_training_job()`` and
``analytics().dataframe()``, as a notebook does.

The script's metric is a known function of its hyperparameter, so the test knows which
training job must be the best (fixtures: conftest.py).
"""

from __future__ import annotations

import pytest

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")

INSTANCE = "ml.m5.large"

SCRIPT = """\
import json

with open("/opt/ml/input/config/hyperparameters.json") as f:
    hyperparameters = json.load(f)
x = int(str(hyperparameters["x"]).strip('"'))
print(f"score={10 - (x - 3) ** 2}", flush=True)
"""


def test_v3_tuner_tunes_a_model_trainer(v3, fast_polls, role, tmp_path):
    from sagemaker.core import image_uris
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.parameter import IntegerParameter
    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    sess = Session()
    image = image_uris.retrieve("sklearn", region=sess.boto_region_name, version="1.2-1")
    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(source), entry_script="train.py"),
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        base_job_name="v3-tune",
        sagemaker_session=sess,
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="score",
        hyperparameter_ranges={"x": IntegerParameter(0, 6)},
        metric_definitions=[{"Name": "score", "Regex": r"score=(-?[0-9.]+)"}],
        strategy="Random",
        max_jobs=3,
        max_parallel_jobs=2,
        random_seed=5,
    )
    tuner.tune(wait=True)
    described = tuner.describe()
    assert described.hyper_parameter_tuning_job_status == "Completed"
    frame = tuner.analytics().dataframe()
    assert len(frame) == 3
    assert list(frame["FinalObjectiveValue"]) == [10 - (int(x) - 3) ** 2 for x in frame["x"]]
    best = frame.loc[frame["FinalObjectiveValue"].idxmax(), "TrainingJobName"]
    assert tuner.best_training_job() == best
