"""How the SDK v3 resolves its session and validates the execution role against
simsage's IAM: region and credentials come from ``simsage.activate()`` (no AWS
configuration at all), a role the user created passes, and a role IAM does not know is
refused by the SDK itself (``RoleValidationError``) before anything reaches SageMaker, as
on AWS. ``SAGEMAKER_VALIDATE_ROLE=false`` is the SDK's own switch to skip the check."""

from __future__ import annotations

import json

import pytest
from sdk_helpers import trust_of

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")

INSTANCE = "ml.m5.large"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NEVER_CREATED = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def no_aws_configuration(monkeypatch, tmp_path):
    """A machine with no AWS configuration: no region, no credentials, no config files."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _trainer(role: str):
    from sagemaker.core.training.configs import Compute
    from sagemaker.train import ModelTrainer

    return ModelTrainer(
        training_image=IMAGE,
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"objective": "binary:logistic", "num_round": 5},
    )


def test_session_region_and_credentials_come_from_simsage(no_aws_configuration, v3):
    from sagemaker.core.helper.session_helper import Session

    sess = Session()
    assert sess.boto_region_name == v3.config.region
    assert sess.account_id() == v3.config.account_id
    credentials = sess.boto_session.get_credentials()
    assert credentials is not None and credentials.access_key
    assert sess.default_bucket() == f"sagemaker-{v3.config.region}-{v3.config.account_id}"


def test_a_created_role_passes_validation(no_aws_configuration, role):
    trainer = _trainer(role)
    assert trainer.role == role


def test_a_role_iam_does_not_know_is_refused_by_the_sdk(no_aws_configuration, v3):
    from sagemaker.core.helper.iam_role_resolver import RoleValidationError

    with pytest.raises(RoleValidationError) as caught:
        _trainer(NEVER_CREATED)
    assert NEVER_CREATED in str(caught.value)
    # Nothing reached SageMaker.
    assert v3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_the_sdk_switch_skips_validation_of_an_uncreated_role(
    no_aws_configuration, v3, monkeypatch
):
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    assert _trainer(NEVER_CREATED).role == NEVER_CREATED


def test_a_role_sagemaker_may_not_assume_is_refused(no_aws_configuration, v3):
    from sagemaker.core.helper.iam_role_resolver import RoleValidationError

    lambda_trust = trust_of("lambda.amazonaws.com")
    arn = v3.client("iam").create_role(
        RoleName="LambdaRole", AssumeRolePolicyDocument=json.dumps(lambda_trust)
    )["Role"]["Arn"]
    with pytest.raises(RoleValidationError):
        _trainer(arn)


def test_get_execution_role_use_default_makes_a_usable_role(no_aws_configuration, v3):
    from sagemaker.core.helper.session_helper import get_execution_role

    arn = get_execution_role(use_default=True)
    account = v3.config.account_id
    assert arn == f"arn:aws:iam::{account}:role/AmazonSageMaker-DefaultRole"
    iam = v3.client("iam")
    attached = iam.list_attached_role_policies(RoleName="AmazonSageMaker-DefaultRole")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AmazonSageMakerFullAccess"]
    # A second notebook run finds the role and reuses it.
    assert get_execution_role(use_default=True) == arn
    assert _trainer(arn).role == arn
