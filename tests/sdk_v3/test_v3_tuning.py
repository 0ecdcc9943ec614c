"""The official SDK v3 tunes the built-in XGBoost on simsage, unmodified.

What a v3 user writes, from the installed sources (sagemaker-train 1.27,
sagemaker-core 2.27):

- sagemaker-train's ``sagemaker.train.tuner.HyperparameterTuner`` over a ``ModelTrainer``
  (the built-in XGBoost image, ``InputData`` channels), with the ranges of
  ``sagemaker.core.parameter``: ``tune(inputs, wait=True)`` creates the job through the
  ``HyperParameterTuningJob`` resource and waits on it, ``best_training_job()``,
  ``describe()`` (the refreshed resource), ``analytics().dataframe()``. v3's tuner has
  no ``attach`` or ``deploy``: a later notebook picks the job up with
  ``HyperParameterTuningJob.get`` and deploys the best job's artifact itself;
- sagemaker-core's ``HyperParameterTuningJob`` resource: ``create`` with the shapes
  (``HyperParameterTuningJobConfig``, ``HyperParameterTrainingJobDefinition`` …),
  ``wait``, ``refresh``, ``get``, ``get_all``, ``get_all_training_jobs`` (sorted by the
  final objective), ``stop``, a warm start (``HyperParameterTuningJobWarmStartConfig``); ``TrainingJob.get`` of a child and
  ``sagemaker.core.analytics.TrainingJobAnalytics`` of its metric.

A script-mode ``ModelTrainer`` is tuned too (its metric a known function of its
hyperparameter, so the test knows which job must be the best).

The ``v3``/``fast_polls``/``role`` fixtures (conftest.py) activate simsage, keep the SDK
offline and create the execution role once.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from sdk_helpers import dataset, write_csv

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")

INSTANCE = "ml.m5.large"
PREFIX = "xgboost-v3-tuning"


@pytest.fixture
def data(v3, tmp_path):
    """Train and validation CSVs (with some label noise, so configurations differ) in the
    SDK's default bucket, and held-out rows."""
    from sagemaker.core.helper.session_helper import Session

    sess = Session()
    bucket = sess.default_bucket()
    x_train, y_train = dataset(300, seed=21)
    x_val, y_val = dataset(100, seed=22)
    x_test, y_test = dataset(40, seed=23)
    flip = np.random.default_rng(24).random(len(y_train)) < 0.1
    y_train = np.where(flip, 1 - y_train, y_train)
    uris = {}
    for channel, (x, y) in {"train": (x_train, y_train), "validation": (x_val, y_val)}.items():
        (tmp_path / channel).mkdir()
        write_csv(tmp_path / channel / f"{channel}.csv", x, y)
        uris[channel] = sess.upload_data(str(tmp_path / channel), bucket, f"{PREFIX}/{channel}")
    image = _xgboost_image(sess.boto_region_name)
    return {
        "session": sess,
        "bucket": bucket,
        "uris": uris,
        "image": image,
        "test": (x_test, y_test),
    }


def _xgboost_image(region: str) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve("xgboost", region=region, version="1.7-1")


def _objectives(job) -> dict[str, float]:
    """Each child's final objective, read through the resource's list of its children."""
    return {
        summary.training_job_name: summary.final_hyper_parameter_tuning_job_objective_metric.value
        for summary in job.get_all_training_jobs()
    }


def test_tuner_with_a_model_trainer(v3, fast_polls, role, data):
    from sagemaker.core.analytics import TrainingJobAnalytics
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.resources import HyperParameterTuningJob, TrainingJob
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    sess, bucket = data["session"], data["bucket"]
    trainer = ModelTrainer(
        training_image=data["image"],
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": 10},
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{PREFIX}/out"),
        sagemaker_session=sess,
    )
    tuner = HyperparameterTuner(
        trainer,
        "validation:auc",
        {
            "eta": ContinuousParameter(0.05, 0.5),
            "max_depth": IntegerParameter(2, 6),
            "min_child_weight": ContinuousParameter(1, 5),
        },
        strategy="Random",
        objective_type="Maximize",
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=3,
    )
    tuner.tune(
        inputs=[
            InputData(
                channel_name="train", data_source=data["uris"]["train"], content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=data["uris"]["validation"],
                content_type="text/csv",
            ),
        ],
        wait=True,
    )

    job = tuner.describe()
    name = job.hyper_parameter_tuning_job_name
    assert name.startswith("sagemaker-xgboost-")  # the image's repository, as the SDK names it
    assert job.hyper_parameter_tuning_job_status == "Completed"
    assert job.training_job_status_counters.completed == 4
    assert job.objective_status_counters.succeeded == 4
    assert job.hyper_parameter_tuning_job_config.random_seed == 3
    static = job.training_job_definition.static_hyper_parameters
    assert static["num_round"] == "10" and "eta" not in static

    objectives = _objectives(job)
    assert len(objectives) == 4
    best = tuner.best_training_job()
    assert objectives[best] == max(objectives.values())
    assert job.best_training_job.training_job_name == best

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert set(frame["TrainingJobName"]) == set(objectives)
    by_job = frame.set_index("TrainingJobName")
    for child, value in objectives.items():
        assert by_job.loc[child, "FinalObjectiveValue"] == pytest.approx(value)
        assert 0.05 <= by_job.loc[child, "eta"] <= 0.5
        assert by_job.loc[child, "max_depth"] in (2, 3, 4, 5, 6)

    # The best child is a training job of its own: the service's objective hyperparameter,
    # the tuned values, its final metric and its model.
    child = TrainingJob.get(best)
    assert child.tuning_job_arn == job.hyper_parameter_tuning_job_arn
    assert child.hyper_parameters["_tuning_objective_metric"] == "validation:auc"
    assert float(child.hyper_parameters["eta"]) == pytest.approx(by_job.loc[best, "eta"])
    final = {m.metric_name: m.value for m in child.final_metric_data_list}
    assert final["validation:auc"] == pytest.approx(objectives[best])
    model_data = child.model_artifacts.s3_model_artifacts
    assert model_data == f"s3://{bucket}/{PREFIX}/out/{best}/output/model.tar.gz"
    metrics = TrainingJobAnalytics(best, metric_names=["validation:auc"]).dataframe()
    assert set(metrics["metric_name"]) == {"validation:auc"}
    assert metrics["value"].between(0.5, 1.0).all()

    # A later notebook (v3 has no tuner.attach) finds the job by name and deploys the best.
    again = HyperParameterTuningJob.get(name)
    assert again.best_training_job.training_job_name == best
    _deploy_and_score(again.best_training_job.training_job_name, data, role)


def _deploy_and_score(training_job_name: str, data, role: str) -> None:
    """Deploy a training job's model with sagemaker-core's resources and score held-out
    rows with it; delete everything again."""
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model, TrainingJob
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant

    job = TrainingJob.get(training_job_name)
    model = Model.create(
        model_name=training_job_name,
        primary_container=ContainerDefinition(
            image=data["image"], model_data_url=job.model_artifacts.s3_model_artifacts
        ),
        execution_role_arn=role,
    )
    config = EndpointConfig.create(
        endpoint_config_name=training_job_name,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name=model.model_name,
                initial_instance_count=1,
                instance_type=INSTANCE,
            )
        ],
    )
    endpoint = Endpoint.create(
        endpoint_name=training_job_name, endpoint_config_name=config.endpoint_config_name
    )
    try:
        endpoint.wait_for_status("InService")
        x_test, y_test = data["test"]
        body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in x_test)
        raw = endpoint.invoke(body=body, content_type="text/csv").body.read().decode()
        scores = np.array([float(v) for v in raw.replace("\n", ",").split(",") if v])
        assert scores.shape == (len(x_test),)
        assert scores[y_test == 1].mean() > scores[y_test == 0].mean() + 0.3
    finally:
        endpoint.delete()
        endpoint.wait_for_delete()
        config.delete()
        model.delete()


def _definition(data, role: str, num_round: int = 10):
    """The training job definition of the resource-level tests (the shapes a v3 user
    builds without a ModelTrainer)."""
    from sagemaker.core.shapes import (
        Channel,
        DataSource,
        HyperParameterAlgorithmSpecification,
        HyperParameterTrainingJobDefinition,
        OutputDataConfig,
        ResourceConfig,
        S3DataSource,
        StoppingCondition,
    )

    channels = [
        Channel(
            channel_name=channel,
            content_type="text/csv",
            data_source=DataSource(
                s3_data_source=S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=data["uris"][channel],
                    s3_data_distribution_type="FullyReplicated",
                )
            ),
        )
        for channel in ("train", "validation")
    ]
    return HyperParameterTrainingJobDefinition(
        static_hyper_parameters={
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": str(num_round),
        },
        algorithm_specification=HyperParameterAlgorithmSpecification(
            training_image=data["image"], training_input_mode="File"
        ),
        role_arn=role,
        input_data_config=channels,
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{data['bucket']}/{PREFIX}/core-out"
        ),
        resource_config=ResourceConfig(
            instance_type=INSTANCE, instance_count=1, volume_size_in_gb=5
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
    )


def test_resource_create_wait_refresh_get_and_warm_start(v3, fast_polls, role, data):
    from sagemaker.core.resources import HyperParameterTuningJob
    from sagemaker.core.shapes import (
        CategoricalParameterRange,
        HyperParameterTuningJobConfig,
        HyperParameterTuningJobObjective,
        HyperParameterTuningJobWarmStartConfig,
        ParameterRanges,
        ParentHyperParameterTuningJob,
        ResourceLimits,
        Tag,
    )

    job = HyperParameterTuningJob.create(
        hyper_parameter_tuning_job_name="core-grid",
        hyper_parameter_tuning_job_config=HyperParameterTuningJobConfig(
            strategy="Grid",
            hyper_parameter_tuning_job_objective=HyperParameterTuningJobObjective(
                type="Maximize", metric_name="validation:auc"
            ),
            resource_limits=ResourceLimits(max_parallel_training_jobs=2),
            parameter_ranges=ParameterRanges(
                categorical_parameter_ranges=[
                    CategoricalParameterRange(name="max_depth", values=["2", "5"]),
                    CategoricalParameterRange(name="eta", values=["0.1", "0.4"]),
                ]
            ),
        ),
        training_job_definition=_definition(data, role),
        tags=[Tag(key="team", value="ml")],
    )
    # create returns the described job at once, as AWS answers: it runs in the background.
    assert job.hyper_parameter_tuning_job_arn.endswith(":hyper-parameter-tuning-job/core-grid")
    assert job.hyper_parameter_tuning_job_status == "InProgress"

    job.wait()
    assert job.hyper_parameter_tuning_job_status == "Completed"
    assert job.hyper_parameter_tuning_end_time >= job.creation_time
    assert job.training_job_status_counters.completed == 4
    # Grid without MaxNumberOfTrainingJobs runs every combination once.
    tuned = sorted(
        (s.tuned_hyper_parameters["max_depth"], s.tuned_hyper_parameters["eta"])
        for s in job.get_all_training_jobs()
    )
    assert tuned == [("2", "0.1"), ("2", "0.4"), ("5", "0.1"), ("5", "0.4")]

    # get_all_training_jobs sorted by the final objective, best first: the best job.
    ranked = list(
        job.get_all_training_jobs(sort_by="FinalObjectiveMetricValue", sort_order="Descending")
    )
    values = [s.final_hyper_parameter_tuning_job_objective_metric.value for s in ranked]
    assert values == sorted(values, reverse=True)
    assert ranked[0].training_job_name == job.best_training_job.training_job_name
    assert all(s.training_job_status == "Completed" for s in ranked)
    assert all(s.objective_status == "Succeeded" for s in ranked)

    again = HyperParameterTuningJob.get("core-grid")
    assert again.best_training_job.training_job_name == ranked[0].training_job_name
    assert again.consumed_resources.runtime_in_seconds >= 0
    before = again.last_modified_time
    again.refresh()
    assert again.last_modified_time == before  # nothing changes once it is over

    listed = [j.hyper_parameter_tuning_job_name for j in HyperParameterTuningJob.get_all()]
    assert listed == ["core-grid"]
    completed = HyperParameterTuningJob.get_all(status_equals="Completed")
    assert [j.hyper_parameter_tuning_job_name for j in completed] == ["core-grid"]
    tags = v3.client("sagemaker").list_tags(ResourceArn=job.hyper_parameter_tuning_job_arn)
    assert tags["Tags"] == [{"Key": "team", "Value": "ml"}]

    # A warm start from it: the same ranges, two more jobs; the overall best is the best
    # of both tuning jobs' training jobs.
    warm = HyperParameterTuningJob.create(
        hyper_parameter_tuning_job_name="core-warm",
        hyper_parameter_tuning_job_config=HyperParameterTuningJobConfig(
            strategy="Random",
            hyper_parameter_tuning_job_objective=HyperParameterTuningJobObjective(
                type="Maximize", metric_name="validation:auc"
            ),
            resource_limits=ResourceLimits(
                max_number_of_training_jobs=2, max_parallel_training_jobs=2
            ),
            parameter_ranges=job.hyper_parameter_tuning_job_config.parameter_ranges,
        ),
        training_job_definition=_definition(data, role),
        warm_start_config=HyperParameterTuningJobWarmStartConfig(
            parent_hyper_parameter_tuning_jobs=[
                ParentHyperParameterTuningJob(hyper_parameter_tuning_job_name="core-grid")
            ],
            warm_start_type="IdenticalDataAndAlgorithm",
        ),
    )
    warm.wait()
    assert warm.hyper_parameter_tuning_job_status == "Completed"
    assert warm.warm_start_config.warm_start_type == "IdenticalDataAndAlgorithm"
    own = list(warm.get_all_training_jobs())
    assert len(own) == 2
    values = {
        s.training_job_name: s.final_hyper_parameter_tuning_job_objective_metric.value
        for s in own + ranked
    }
    assert warm.overall_best_training_job.training_job_name == max(values, key=values.get)


def test_resource_stop(v3, fast_polls, role, data):
    from sagemaker.core.resources import HyperParameterTuningJob, TrainingJob
    from sagemaker.core.shapes import (
        ContinuousParameterRange,
        HyperParameterTuningJobConfig,
        HyperParameterTuningJobObjective,
        ParameterRanges,
        ResourceLimits,
    )

    job = HyperParameterTuningJob.create(
        hyper_parameter_tuning_job_name="core-stop",
        hyper_parameter_tuning_job_config=HyperParameterTuningJobConfig(
            strategy="Bayesian",
            hyper_parameter_tuning_job_objective=HyperParameterTuningJobObjective(
                type="Maximize", metric_name="validation:auc"
            ),
            resource_limits=ResourceLimits(
                max_number_of_training_jobs=20, max_parallel_training_jobs=2
            ),
            parameter_ranges=ParameterRanges(
                continuous_parameter_ranges=[
                    ContinuousParameterRange(name="eta", min_value="0.05", max_value="0.5")
                ]
            ),
        ),
        # Boosting rounds enough to still be running when the stop comes.
        training_job_definition=_definition(data, role, num_round=1_000_000),
    )
    while not list(job.get_all_training_jobs(status_equals="InProgress")):
        job.refresh()
        assert job.hyper_parameter_tuning_job_status == "InProgress"
        time.sleep(0.2)
    job.stop()
    job.wait()
    assert job.hyper_parameter_tuning_job_status == "Stopped"
    assert job.hyper_parameter_tuning_end_time is not None
    # Stopping the tuning job stopped the children it was running, and launched no more.
    children = list(job.get_all_training_jobs())
    assert 1 <= len(children) <= 2
    for summary in children:
        assert summary.training_job_status == "Stopped"
        assert TrainingJob.get(summary.training_job_name).training_job_status == "Stopped"
    assert job.training_job_status_counters.stopped == len(children)


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
