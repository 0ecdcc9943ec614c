"""simsage.sdk end to end on the local backend: the notebook workflow with the official
SDK's names — session helpers, built-in XGBoost fit/deploy/predict/transform, script
mode with SKLearn, attach, and failures surfacing as UnexpectedStatusException."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from simsage import sdk
from simsage.sdk.deserializers import JSONDeserializer, NumpyDeserializer
from simsage.sdk.serializers import CSVSerializer, JSONSerializer

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(3)
    features = rng.random((400, 4))
    labels = (features[:, 0] > 0.5).astype(int)
    train = tmp_path / "train.csv"
    pd.DataFrame(np.column_stack([labels, features])).to_csv(train, header=False, index=False)
    test = tmp_path / "batch" / "test.csv"
    test.parent.mkdir()
    pd.DataFrame(features[:50]).to_csv(test, header=False, index=False)
    return train, test, features, labels


def test_session_helpers(simsage_local, tmp_path):
    session = sdk.Session()
    assert session.boto_region_name == "us-east-1"
    bucket = session.default_bucket()
    assert bucket == "sagemaker-us-east-1-123456789012"
    assert session.default_bucket() == bucket
    folder = tmp_path / "up"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    assert session.upload_data(folder, key_prefix="set/v1") == f"s3://{bucket}/set/v1"
    uri = session.upload_data(folder / "a.txt", key_prefix="one")
    assert uri == f"s3://{bucket}/one/a.txt"
    assert session.read_s3_file(bucket, "set/v1/sub/b.txt") == "beta"
    written = session.download_data(tmp_path / "down", bucket, "set/v1")
    assert sorted(p.split("down/")[1] for p in written) == ["a.txt", "sub/b.txt"]
    assert (tmp_path / "down" / "sub" / "b.txt").read_text() == "beta"


def test_builtin_xgboost_fit_deploy_predict_transform(simsage_local, data, capsys):
    train_file, test_file, features, labels = data
    session = sdk.Session()
    train = session.upload_data(train_file, key_prefix="flights/v1/train")
    batch = session.upload_data(test_file.parent, key_prefix="flights/v1/batch")
    image = sdk.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = sdk.Estimator(image, ROLE, instance_type="ml.m5.large", base_job_name="flights")
    estimator.set_hyperparameters(objective="binary:logistic", num_round=15, eval_metric="auc")
    estimator.fit(
        {
            "train": sdk.TrainingInput(train, content_type="text/csv"),
            "validation": sdk.TrainingInput(train, content_type="text/csv"),
        }
    )
    printed = capsys.readouterr().out
    assert "[14]#011train-auc:" in printed and "Billable seconds:" in printed
    job = estimator.latest_training_job.name
    assert job.startswith("flights-")
    assert estimator.model_data == (f"s3://{session.default_bucket()}/{job}/output/model.tar.gz")

    predictor = estimator.deploy(
        1,
        "ml.m5.large",
        serializer=CSVSerializer(),
        deserializer=NumpyDeserializer(accept="text/csv"),
    )
    scores = predictor.predict(features[:20])
    assert scores.shape == (20,)
    accuracy = ((scores > 0.5).astype(int) == labels[:20]).mean()
    assert accuracy >= 0.9
    as_json = sdk.Predictor(
        predictor.endpoint_name, serializer=CSVSerializer(), deserializer=JSONDeserializer()
    ).predict(features[:2], custom_attributes="c=1")
    assert len(as_json["predictions"]) == 2

    transformer = estimator.transformer(
        1, "ml.m5.large", strategy="MultiRecord", assemble_with="Line", accept="text/csv"
    )
    transformer.transform(batch, content_type="text/csv", split_type="Line")
    bucket, prefix = transformer.output_path.removeprefix("s3://").split("/", 1)
    out = session.read_s3_file(bucket, f"{prefix}/test.csv.out")
    batch_scores = np.array([float(line) for line in out.splitlines()])
    assert len(batch_scores) == 50
    np.testing.assert_allclose(batch_scores[:20], scores, rtol=1e-5)

    predictor.delete_model()
    predictor.delete_endpoint()
    sm = simsage_local.client("sagemaker")
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []

    attached = sdk.Estimator.attach(job)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters()["num_round"] == "15"


def test_failing_job_raises_unexpected_status(simsage_local, data):
    train_file, *_ = data
    session = sdk.Session()
    train = session.upload_data(train_file, key_prefix="bad/train")
    image = sdk.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = sdk.Estimator(image, ROLE)
    estimator.set_hyperparameters(objective="multi:softmax", num_round=5)  # num_class missing
    with pytest.raises(sdk.UnexpectedStatusException) as excinfo:
        estimator.fit({"train": sdk.TrainingInput(train, content_type="text/csv")}, logs=False)
    assert excinfo.value.actual_status == "Failed"
    assert "num_class" in str(excinfo.value)


TRAIN_SCRIPT = textwrap.dedent(
    """
    import argparse, os, pickle
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--C", type=float, default=1.0)
        args = parser.parse_args()
        frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"),
                            header=None)
        model = LogisticRegression(C=args.C).fit(frame.iloc[:, 1:], frame.iloc[:, 0])
        print(f"C={args.C} accuracy={model.score(frame.iloc[:, 1:], frame.iloc[:, 0]):.3f}")
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pkl"), "wb") as out:
            pickle.dump(model, out)

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
            return pickle.load(f)

    def predict_fn(data, model):
        return model.predict_proba(data)[:, 1]
    """
)


def test_sklearn_script_mode_fit_and_deploy(simsage_local, data, tmp_path, capsys):
    train_file, _, features, labels = data
    source = tmp_path / "code"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT)
    session = sdk.Session()
    train = session.upload_data(train_file, key_prefix="sk/train")
    estimator = sdk.SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        hyperparameters={"C": 0.5},
    )
    estimator.fit({"train": train})
    assert "C=0.5 accuracy=" in capsys.readouterr().out
    assert estimator.image_uri.endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    predictor = estimator.deploy(
        1, "ml.m5.large", serializer=JSONSerializer(), deserializer=JSONDeserializer()
    )
    probabilities = np.array(predictor.predict(features[:30].tolist()))
    assert (((probabilities > 0.5).astype(int)) == labels[:30]).mean() >= 0.8
    predictor.delete_endpoint()
