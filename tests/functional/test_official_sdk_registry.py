"""The official SageMaker Python SDK (v2), unmodified, registers models in simsage's
model registry and deploys a registered version: ``Model.register`` (which creates the
group when it is missing, as on AWS), ``ModelMetrics``, approval through
``ModelPackage.update_approval_status`` and ``ModelPackage(...).deploy`` (which approves
a pending version before creating its model), then ``predict``.

Needs the ``official-sdk`` extra (part of ``test``); without it the module is skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# the endpoint tests' booster artifact (tests/integration is on the path only when an
# integration test is collected)
sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from endpoint_helpers import xgboost_artifact  # noqa: E402

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.model import Model, ModelPackage  # noqa: E402
from sagemaker.model_metrics import MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.predictor import Predictor  # noqa: E402
from sagemaker.serializers import CSVSerializer  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"


def test_register_approve_and_deploy_a_version(simsage_local, isolated_sdk, fast_sdk_polls):
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    s3 = simsage_local.client("s3")
    s3.put_object(Bucket=bucket, Key="registry/model.tar.gz", Body=xgboost_artifact())
    s3.put_object(Bucket=bucket, Key="registry/evaluation.json", Body=b'{"auc": 0.93}')
    image = image_uris.retrieve("xgboost", "us-east-1", "1.7-1")
    model = Model(
        image_uri=image,
        model_data=f"s3://{bucket}/registry/model.tar.gz",
        role=ROLE,
        sagemaker_session=sess,
    )
    metrics = ModelMetrics(
        model_statistics=MetricsSource(
            content_type="application/json", s3_uri=f"s3://{bucket}/registry/evaluation.json"
        )
    )
    registered = model.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=[INSTANCE],
        transform_instances=[INSTANCE],
        model_package_group_name="churn-models",
        approval_status="PendingManualApproval",
        model_metrics=metrics,
        customer_metadata_properties={"auc": "0.93"},
        description="first candidate",
    )
    assert isinstance(registered, ModelPackage)
    first = registered.model_package_arn
    assert first == "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/1"
    # a second registration is the group's next version (the group is found, not remade)
    second = model.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=[INSTANCE],
        transform_instances=[INSTANCE],
        model_package_group_name="churn-models",
    ).model_package_arn
    assert second.endswith("/churn-models/2")

    sm = sess.sagemaker_client
    described = sm.describe_model_package(ModelPackageName=first)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageDescription"] == "first candidate"
    assert described["CustomerMetadataProperties"] == {"auc": "0.93"}
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "evaluation.json"
    )
    spec = described["InferenceSpecification"]
    assert spec["Containers"][0]["Image"] == image
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == [INSTANCE]
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["churn-models"]

    registered.update_approval_status("Rejected", approval_description="not yet")
    assert sm.describe_model_package(ModelPackageName=first)["ModelApprovalStatus"] == "Rejected"

    # a later notebook deploys version 1 by its ARN; deploy approves it first
    # (a ModelPackage's deploy answers a predictor when told which class to make)
    package = ModelPackage(
        role=ROLE, model_package_arn=first, sagemaker_session=sess, predictor_cls=Predictor
    )
    predictor = package.deploy(
        initial_instance_count=1, instance_type=INSTANCE, serializer=CSVSerializer()
    )
    assert sm.describe_model_package(ModelPackageName=first)["ModelApprovalStatus"] == "Approved"
    raw = predictor.predict(np.array([[0.9, 0.5, 0.5], [0.1, 0.5, 0.5]]))
    high, low = (float(v) for v in raw.decode().split())
    assert high > 0.5 > low

    model_name = sm.describe_endpoint_config(EndpointConfigName=predictor.endpoint_name)[
        "ProductionVariants"
    ][0]["ModelName"]
    (container,) = sm.describe_model(ModelName=model_name)["Containers"]  # as the SDK sent it
    assert container["ModelPackageName"] == first
    assert container["Image"] == image
    predictor.delete_endpoint()
    sess.delete_model(model_name)
