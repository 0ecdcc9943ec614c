"""A model created from a registered model package serves, as any other model: a
version of a group holding a small XGBoost booster is approved, a model names it by
ARN (``ModelPackageName``), and the model is deployed to a real endpoint and invoked,
and scores a batch transform job.
"""

from __future__ import annotations

import pytest
from endpoint_helpers import BUCKET, FAST_WAIT, ROLE, XGBOOST, score, variant, xgboost_artifact


@pytest.fixture
def approved_version(simsage_local) -> str:
    """The ARN of version 1 of group ``churn``, Approved, holding a booster that scores
    rows whose feature 0 is above 0.5 high."""
    s3 = simsage_local.client("s3")
    sm = simsage_local.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="registry/model.tar.gz", Body=xgboost_artifact())
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification={
            "Containers": [
                {"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/registry/model.tar.gz"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sm.create_model(
        ModelName="churn-from-registry",
        PrimaryContainer={"ModelPackageName": arn},
        ExecutionRoleArn=ROLE,
    )
    return arn


def test_a_model_from_a_package_deploys_and_serves(simsage_local, approved_version):
    sm = simsage_local.client("sagemaker")
    sm.create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[variant("AllTraffic", "churn-from-registry")],
    )
    sm.create_endpoint(EndpointName="churn", EndpointConfigName="churn-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="churn", WaiterConfig=FAST_WAIT)
    (deployed,) = sm.describe_endpoint(EndpointName="churn")["ProductionVariants"]
    assert deployed["DeployedImages"][0]["SpecifiedImage"] == XGBOOST

    runtime = simsage_local.client("sagemaker-runtime")
    high, _ = score(runtime, "churn", "0.9,0.5,0.5")
    low, _ = score(runtime, "churn", "0.1,0.5,0.5")
    assert high > 0.5 > low
    sm.delete_endpoint(EndpointName="churn")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="churn", WaiterConfig=FAST_WAIT)


def test_a_model_from_a_package_scores_a_transform_job(simsage_local, approved_version):
    s3 = simsage_local.client("s3")
    sm = simsage_local.client("sagemaker")
    s3.put_object(Bucket=BUCKET, Key="batch/in/rows.csv", Body=b"0.9,0.5,0.5\n0.1,0.5,0.5\n")
    sm.create_transform_job(
        TransformJobName="churn-batch",
        ModelName="churn-from-registry",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/batch/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="churn-batch", WaiterConfig=FAST_WAIT
    )
    assert sm.describe_transform_job(TransformJobName="churn-batch")["TransformJobStatus"] == (
        "Completed"
    )
    body = s3.get_object(Bucket=BUCKET, Key="batch/out/rows.csv.out")["Body"].read().decode()
    high, low = (float(line) for line in body.split())
    assert high > 0.5 > low
