"""The official SDK v3's classic flow on simsage, unmodified: ``ModelTrainer`` with the
built-in XGBoost image (``InputData`` channels, hyperparameters), then the sagemaker-core
resources (``Model``, ``EndpointConfig``, ``Endpoint.create/invoke/delete``,
``TransformJob``), and ``ModelBuilder`` on the trained artifact.

The test bodies are notebook code; the ``v3``/``fast_polls``/``role`` fixtures (see
conftest.py) activate simsage, keep the SDK offline and create the execution role once.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import tarfile

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sdk_helpers import dataset, write_csv
from v3_resources import INSTANCE, delete_endpoint, deploy_endpoint

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")


@pytest.fixture
def data(v3, tmp_path):
    """Training, validation and batch CSVs uploaded to the SDK's default bucket."""
    from sagemaker.core.helper.session_helper import Session

    sess = Session()
    bucket = sess.default_bucket()
    x_train, y_train = dataset(400, seed=1)
    x_val, y_val = dataset(100, seed=2)
    x_test, y_test = dataset(50, seed=3)
    for name in ("train", "validation", "batch"):
        (tmp_path / name).mkdir()
    write_csv(tmp_path / "train" / "train.csv", x_train, y_train)
    write_csv(tmp_path / "validation" / "validation.csv", x_val, y_val)
    write_csv(tmp_path / "batch" / "batch.csv", x_test)
    prefix = "xgboost-v3"
    uris = {
        name: sess.upload_data(str(tmp_path / name), bucket, f"{prefix}/{name}")
        for name in ("train", "validation", "batch")
    }
    return {
        "session": sess,
        "bucket": bucket,
        "prefix": prefix,
        "uris": uris,
        "dirs": {name: str(tmp_path / name) for name in ("train", "validation", "batch")},
        "x_test": x_test,
        "y_test": y_test,
    }


def _train_builtin_xgboost(data, role, source: str = "uris"):
    """Train on the data's S3 prefixes (``uris``) or local folders (``dirs``: the SDK
    uploads them itself)."""
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train import ModelTrainer

    sess, bucket, prefix = data["session"], data["bucket"], data["prefix"]
    image = image_uris.retrieve("xgboost", region=sess.boto_region_name, version="1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{prefix}/out"),
        base_job_name="xgboost-v3",
        sagemaker_session=sess,
    )
    trainer.train(
        input_data_config=[
            InputData(
                channel_name="train", data_source=data[source]["train"], content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=data[source]["validation"],
                content_type="text/csv",
            ),
        ],
        wait=True,
        logs=True,
    )
    return image, trainer._latest_training_job


def test_model_trainer_builtin_xgboost_and_core_resources(
    v3, fast_polls, role, data, caplog, telemetry_calls
):
    from sagemaker.core.resources import TransformJob
    from sagemaker.core.shapes import (
        TransformDataSource,
        TransformInput,
        TransformOutput,
        TransformResources,
        TransformS3DataSource,
    )

    caplog.set_level(logging.INFO)
    bucket, prefix = data["bucket"], data["prefix"]

    # --- ModelTrainer, built-in XGBoost -------------------------------------------
    image, job = _train_builtin_xgboost(data, role)
    assert job.training_job_status == "Completed"
    model_data = job.model_artifacts.s3_model_artifacts
    assert model_data == (f"s3://{bucket}/{prefix}/out/{job.training_job_name}/output/model.tar.gz")
    s3 = v3.client("s3")
    head = s3.head_object(Bucket=bucket, Key=model_data.split(f"s3://{bucket}/", 1)[1])
    assert head["ContentLength"] > 0
    assert job.hyper_parameters["num_round"] == "20"
    # train(logs=True) tailed the job's CloudWatch stream: the algorithm's own lines.
    assert "validation-logloss" in caplog.text
    # The SDK sent its usage event (recorded here, offline) and carried on.
    assert telemetry_calls

    # --- sagemaker-core resources ---------------------------------------------------
    name = job.training_job_name
    model, config, endpoint = deploy_endpoint(name, image, model_data, role)
    assert endpoint.endpoint_status == "InService"

    x_test, y_test = data["x_test"], data["y_test"]
    body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in x_test)
    answer = endpoint.invoke(body=body, content_type="text/csv")
    raw = answer.body.read().decode()
    scores = np.array([float(v) for v in raw.replace("\n", ",").split(",") if v], dtype=float)
    assert scores.shape == (len(x_test),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[y_test == 1].mean() > scores[y_test == 0].mean() + 0.3

    transform = TransformJob.create(
        transform_job_name=f"{name}-batch",
        model_name=model.model_name,
        transform_input=TransformInput(
            data_source=TransformDataSource(
                s3_data_source=TransformS3DataSource(
                    s3_data_type="S3Prefix", s3_uri=data["uris"]["batch"]
                )
            ),
            content_type="text/csv",
            split_type="Line",
        ),
        transform_output=TransformOutput(s3_output_path=f"s3://{bucket}/{prefix}/batch-out"),
        transform_resources=TransformResources(instance_type=INSTANCE, instance_count=1),
    )
    transform.wait()
    assert transform.transform_job_status == "Completed"
    out = s3.get_object(Bucket=bucket, Key=f"{prefix}/batch-out/batch.csv.out")["Body"].read()
    batch_scores = np.array([float(v) for v in out.decode().split()], dtype=float)
    np.testing.assert_allclose(batch_scores, scores, rtol=1e-5)

    delete_endpoint(model, config, endpoint)
    sm = v3.client("sagemaker")
    with pytest.raises(ClientError) as caught:
        sm.describe_endpoint(EndpointName=name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []


def test_model_builder_deploys_the_trained_artifact(v3, fast_polls, role, data):
    from sagemaker.core.resources import TrainingJob
    from sagemaker.serve import ModelBuilder

    # Local folders as channels this time: the SDK uploads them to its bucket first.
    image, job = _train_builtin_xgboost(data, role, source="dirs")
    again = TrainingJob.get(job.training_job_name)
    assert again.training_job_status == "Completed"
    channel = again.input_data_config[0].data_source.s3_data_source.s3_uri
    assert channel.startswith(f"s3://{data['bucket']}/")
    builder = ModelBuilder(
        image_uri=image,
        s3_model_data_url=job.model_artifacts.s3_model_artifacts,
        role_arn=role,
        instance_type=INSTANCE,
        sagemaker_session=data["session"],
    )
    model = builder.build()
    endpoint = builder.deploy(initial_instance_count=1, instance_type=INSTANCE)
    try:
        x_test = data["x_test"]
        body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in x_test)
        answer = endpoint.invoke(body=body, content_type="text/csv")
        raw = answer.body.read().decode()
        scores = [float(v) for v in raw.replace("\n", ",").split(",") if v]
        assert len(scores) == len(x_test)
    finally:
        endpoint.delete()
    assert model.model_name


# --- script mode: needs the ns branch ---------------------------------------------------
# v3 runs a SourceCode job as ContainerEntrypoint=["/bin/bash", "-c"] over its drivers in
# channel ``sm_drivers`` at the literal /opt/ml/input/data/sm_drivers; simsage runs that
# once the ns branch (/opt/ml at its real path, entrypoints honoured: its container
# launcher, simsage.runtime.containers) is merged. Until then these are expected to fail;
# from then on they are ordinary tests.
needs_ns = pytest.mark.xfail(
    importlib.util.find_spec("simsage.runtime.containers") is None,
    reason="needs the i10-ns branch: /opt/ml at its real path and ContainerEntrypoint "
    "/bin/bash -c with the sm_drivers channel",
    strict=True,
)

TRAIN_SCRIPT = """\
import glob
import json
import os

import joblib
import numpy as np
{imports}

train_dir = os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
with open("/opt/ml/input/config/hyperparameters.json") as f:
    hyperparameters = json.load(f)
rows = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in glob.glob(train_dir + "/*.csv")])
y, x = rows[:, 0], rows[:, 1:]
{fit}
joblib.dump(model, os.path.join(model_dir, "model.joblib"))
print("trained on", len(y), "rows with", hyperparameters)
"""

FRAMEWORKS = {
    "sklearn": (
        "1.2-1",
        "from sklearn.linear_model import LogisticRegression",
        "model = LogisticRegression(C=float(hyperparameters.get('C', 1.0))).fit(x, y)",
    ),
    "xgboost": (
        "1.7-1",
        "import xgboost",
        "model = xgboost.XGBClassifier(n_estimators=int(hyperparameters.get('n_estimators', 10)))"
        ".fit(x, y)",
    ),
}


@needs_ns
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_model_trainer_script_mode(v3, fast_polls, role, data, tmp_path, framework):
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.train import ModelTrainer

    version, imports, fit = FRAMEWORKS[framework]
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT.format(imports=imports, fit=fit))
    sess = data["session"]
    image = image_uris.retrieve(framework, region=sess.boto_region_name, version=version)
    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(source), entry_script="train.py"),
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"C": 0.5, "n_estimators": 5},
        base_job_name=f"{framework}-script",
        sagemaker_session=sess,
    )
    trainer.train(
        input_data_config=[
            InputData(
                channel_name="train", data_source=data["uris"]["train"], content_type="text/csv"
            )
        ],
        wait=True,
        logs=False,
    )
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed"
    # v3's own channels came along with the user's.
    channels = {c.channel_name for c in job.input_data_config}
    assert {"train", "code", "sm_drivers"} <= channels
    assert job.algorithm_specification.container_entrypoint[0] == "/bin/bash"

    bucket, key = job.model_artifacts.s3_model_artifacts[5:].split("/", 1)
    archive = v3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "model.joblib" in tar.getnames()
