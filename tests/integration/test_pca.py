"""The built-in PCA algorithm (image ``pca:1``) end to end through boto3: regular and
randomized training (CSV and RecordIO), two sharded hosts giving the one-host answer,
serving in every format, batch transform and refusals."""

import io
import json
import tarfile

import numpy as np
import pytest
from first_party_helpers import batch_transform, channel, train

from simsage.algorithms import recordio

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
ROLE = "arn:aws:iam::123456789012:role/R"
BUCKET = "pca-jobs"
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}


def _data(rows: int, seed: int) -> np.ndarray:
    """Records with three strong directions (σ 8, 4, 2) and small noise, offset from 0."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(42).normal(size=(5, 5)))[0]
    scales = np.array([8.0, 4.0, 2.0, 0.02, 0.02])
    return ((rng.normal(size=(rows, 5)) * scales) @ basis.T + 1.5).astype(np.float32)


def _top_components(x: np.ndarray, k: int) -> np.ndarray:
    """numpy's SVD of the centred records: the top k components as columns, top first."""
    _, _, vt = np.linalg.svd(x.astype(float) - x.astype(float).mean(axis=0))
    return vt[:k].T


def _csv(x: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in x).encode()


def _channel(name, prefix, content_type="text/csv", sharded=False):
    return channel(BUCKET, name, prefix, content_type, sharded)


def _train(sm, name, channels, hyperparameters=None, count=1):
    hps = {"feature_dim": "5", "num_components": "3", "mini_batch_size": "100"}
    hps.update(hyperparameters or {})
    return train(sm, IMAGE, BUCKET, name, channels, hps, count)


def _model(s3, described) -> dict:
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["pca-model.json"]
        return json.load(tar.extractfile("pca-model.json"))


def _cosines(model: dict, x: np.ndarray) -> np.ndarray:
    """|cos| between each learned component and numpy's (the model stores the top last)."""
    v = np.asarray(model["v"])[:, ::-1]
    return np.abs(np.sum(v * _top_components(x, v.shape[1]), axis=0))


@pytest.fixture
def env(simsage_local):
    session = simsage_local.session(region_name="us-east-1")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    return s3, sm, session.client("sagemaker-runtime")


def test_regular_mode_on_csv_matches_numpy_serves_and_transforms(env):
    s3, sm, runtime = env
    x = _data(400, 1)
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(x))
    described = _train(sm, "pca-csv", [_channel("train", "train/")])
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model = _model(s3, described)
    assert _cosines(model, x) == pytest.approx([1, 1, 1], abs=1e-6)
    assert model["s"] == sorted(model["s"])  # ascending: the top component is the last

    sm.create_model(
        ModelName="pca",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="pca-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "pca",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="pca", EndpointConfigName="pca-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="pca", WaiterConfig=FAST_WAIT)

    rows = x[:5]
    # subtract_mean (the default) applies at inference: projections of the centred records.
    expected = (rows - x.astype(float).mean(axis=0)) @ np.asarray(model["v"])
    reference = (rows - x.astype(float).mean(axis=0)) @ _top_components(x, 3)
    answer = runtime.invoke_endpoint(EndpointName="pca", ContentType="text/csv", Body=_csv(rows))
    assert answer["ContentType"] == "application/json"
    got = np.asarray([p["projection"] for p in json.loads(answer["Body"].read())["projections"]])
    assert got == pytest.approx(expected, abs=1e-3)
    assert np.abs(got[:, ::-1]) == pytest.approx(np.abs(reference), abs=1e-3)  # numpy up to sign

    answer = runtime.invoke_endpoint(
        EndpointName="pca", ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio.write_dense(None, rows),
    )  # fmt: skip
    records = recordio.read_records(answer["Body"].read())
    got = np.asarray([list(r.label["projection"].float32_tensor.values) for r in records])
    assert got == pytest.approx(expected, abs=1e-3)

    body = json.dumps({"instances": [{"data": {"features": {"values": r.tolist()}}} for r in rows]})
    answer = runtime.invoke_endpoint(EndpointName="pca", ContentType="application/json",
                                     Accept="text/csv", Body=body)  # fmt: skip
    got = np.asarray([[float(c) for c in line.split(",")]
                      for line in answer["Body"].read().decode().splitlines()])  # fmt: skip
    assert got == pytest.approx(expected, abs=1e-3)

    with pytest.raises(runtime.exceptions.ClientError) as error:  # wrong feature count
        runtime.invoke_endpoint(EndpointName="pca", ContentType="text/csv", Body=b"1,2\n")
    assert "feature_dim=5" in str(error.value)

    out = batch_transform(sm, s3, BUCKET, "pca", "in.csv", _csv(x[:50]), "text/csv")
    got = np.asarray([json.loads(line)["projection"] for line in out.splitlines()])
    full = (x[:50] - x.astype(float).mean(axis=0)) @ np.asarray(model["v"])
    assert got == pytest.approx(full, abs=1e-3)


@pytest.mark.parametrize("mode", ["regular", "randomized"])
def test_two_sharded_hosts_on_recordio(env, mode):
    s3, sm, _ = env
    x = _data(1200, 2)
    s3.put_object(Bucket=BUCKET, Key="rio/part-1", Body=recordio.write_dense(None, x[:500]))
    s3.put_object(Bucket=BUCKET, Key="rio/part-2", Body=recordio.write_dense(None, x[500:]))
    rio = "application/x-recordio-protobuf"
    hps = {"algorithm_mode": mode, "extra_components": "8" if mode == "randomized" else None}
    two = _train(sm, f"pca-2-{mode}", [_channel("train", "rio/", rio, sharded=True)], hps, 2)
    assert two["TrainingJobStatus"] == "Completed", two.get("FailureReason")
    model = _model(s3, two)
    if mode == "regular":  # exact: two hosts give the one-host answer
        one = _train(sm, "pca-1-regular", [_channel("train", "rio/", rio)], hps)
        single = _model(s3, one)
        assert np.asarray(model["v"]) == pytest.approx(np.asarray(single["v"]), abs=1e-5)
        assert model["s"] == pytest.approx(single["s"], rel=1e-5)
        assert _cosines(model, x) == pytest.approx([1, 1, 1], abs=1e-6)
    else:  # the merged sketch approximates numpy's components
        assert model["algorithm_mode"] == "randomized"
        assert _cosines(model, x).min() > 0.99


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"mini_batch_size": None}, "'mini_batch_size' is a required property"),
        ({"num_components": "9"}, "num_components=9 is greater than feature_dim=5"),
        ({"algorithm_mode": "exact"}, "'exact' is not one of ['regular', 'randomized']"),
    ],
)
def test_bad_hyperparameters_fail_the_job_with_a_client_error(env, hyperparameters, reason):
    s3, sm, _ = env
    s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=_csv(_data(20, 3)))
    described = _train(sm, "pca-bad", [_channel("train", "train/")], hyperparameters)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert reason in described["FailureReason"]
