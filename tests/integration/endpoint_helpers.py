"""Shared helpers for the endpoint tests: model artifacts and a deployed endpoint."""

from __future__ import annotations

import io
import tarfile

import numpy as np

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-endpoints"
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 600}


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def xgboost_artifact(flip: bool = False) -> bytes:
    """A model.tar.gz with a small binary classifier on 3 features: the score is high
    when feature 0 is above 0.5 (or below, with ``flip``)."""
    import xgboost as xgb

    rng = np.random.default_rng(7)
    features = rng.random((400, 3))
    labels = (features[:, 0] > 0.5).astype(int)
    if flip:
        labels = 1 - labels
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(features, labels), 10
    )
    return tar_gz({"xgboost-model": bytes(booster.save_raw("ubj"))})


def deploy(
    simsage_local,
    name: str,
    artifacts: dict[str, bytes],
    variants: list[dict] | None = None,
    image: str = XGBOOST,
    environment: dict[str, str] | None = None,
    wait: bool = True,
    **config_extra,
):
    """Upload artifacts (model name → model.tar.gz bytes), create the models, a config
    and the endpoint; returns the sagemaker client."""
    s3 = simsage_local.client("s3")
    sm = simsage_local.client("sagemaker")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if BUCKET not in buckets:
        s3.create_bucket(Bucket=BUCKET)
    for model, data in artifacts.items():
        key = f"models/{model}/model.tar.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        container = {"Image": image, "ModelDataUrl": f"s3://{BUCKET}/{key}"}
        if environment:
            container["Environment"] = environment
        sm.create_model(ModelName=model, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    if variants is None:
        variants = [variant("AllTraffic", next(iter(artifacts)))]
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config", ProductionVariants=variants, **config_extra
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    if wait:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST_WAIT)
    return sm


def variant(name: str, model: str, count: int = 1, weight: float = 1.0) -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def score(runtime, endpoint: str, row: str = "0.9,0.1,0.1", **kwargs) -> tuple[float, dict]:
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=row.encode(), ContentType="text/csv", **kwargs
    )
    return float(response["Body"].read()), response


def instances(simsage_local, endpoint: str):
    """The endpoint's instance rows (pid, port, variant …) from the registry."""
    from simsage.config import load_config
    from simsage.home import Home
    from simsage.hosting.endpoint_state import EndpointStore

    return EndpointStore(Home.open(load_config())).instances(endpoint)
