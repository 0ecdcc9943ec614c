"""The model registry through boto3's ``sagemaker`` client: model package groups and
model packages (versioned and unversioned) created, described, listed (filters, sort,
paginators), approved, updated and deleted, with the errors SageMaker answers, tags on
their ARNs, and a model created from a package (``ModelPackageName`` in CreateModel's
container).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-registry"
MODEL_DATA = f"s3://{BUCKET}/models/model.tar.gz"


@pytest.fixture
def sm(simsage_local):
    """The sagemaker client, with a model artifact in S3."""
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"an artifact")
    return simsage_local.client("sagemaker")


def inference(**changes) -> dict:
    out = {
        "Containers": [
            {"Image": XGBOOST, "ModelDataUrl": MODEL_DATA, "Environment": {"A": "package"}}
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        "SupportedTransformInstanceTypes": ["ml.m5.large"],
    }
    out.update(changes)
    return out


def version(sm, group: str = "churn", **changes) -> str:
    request = {"ModelPackageGroupName": group, "InferenceSpecification": inference()}
    request.update(changes)
    return sm.create_model_package(**request)["ModelPackageArn"]


def names(answer: dict) -> list[str]:
    return [g["ModelPackageGroupName"] for g in answer["ModelPackageGroupSummaryList"]]


def arns(answer: dict) -> list[str]:
    return [p["ModelPackageArn"] for p in answer["ModelPackageSummaryList"]]


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def account_region(sm) -> tuple[str, str]:
    arn = sm.create_model_package_group(ModelPackageGroupName="probe")["ModelPackageGroupArn"]
    sm.delete_model_package_group(ModelPackageGroupName="probe")
    parts = arn.split(":")
    return parts[3], parts[4]


# -- groups ---------------------------------------------------------------------------------
def test_a_group_is_created_described_and_listed(sm):
    region, account = account_region(sm)
    arn = sm.create_model_package_group(
        ModelPackageGroupName="Churn-Models",
        ModelPackageGroupDescription="customer churn",
        Tags=[{"Key": "team", "Value": "growth"}],
    )["ModelPackageGroupArn"]
    assert arn == f"arn:aws:sagemaker:{region}:{account}:model-package-group/churn-models"

    described = sm.describe_model_package_group(ModelPackageGroupName="Churn-Models")
    assert described["ModelPackageGroupName"] == "Churn-Models"
    assert described["ModelPackageGroupArn"] == arn
    assert described["ModelPackageGroupDescription"] == "customer churn"
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert "CreatedBy" in described
    # by ARN, too, and in another case
    assert sm.describe_model_package_group(ModelPackageGroupName=arn)["ModelPackageGroupArn"] == arn
    assert (
        sm.describe_model_package_group(ModelPackageGroupName="churn-models")[
            "ModelPackageGroupName"
        ]
        == "Churn-Models"
    )
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "growth"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    assert len(sm.list_tags(ResourceArn=arn)["Tags"]) == 2

    (summary,) = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert summary["ModelPackageGroupName"] == "Churn-Models"
    assert summary["ModelPackageGroupStatus"] == "Completed"
    assert summary["ModelPackageGroupDescription"] == "customer churn"


def test_a_taken_group_name_and_an_unknown_group_are_refused(sm):
    arn = sm.create_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    with pytest.raises(ClientError) as taken:
        sm.create_model_package_group(ModelPackageGroupName="CHURN")
    assert error_of(taken) == (
        "ValidationException",
        f"Model Package Group already exists: {arn}",
    )
    with pytest.raises(ClientError) as missing:
        sm.describe_model_package_group(ModelPackageGroupName="nope")
    code, message = error_of(missing)
    assert code == "ValidationException"
    assert message == f"ModelPackageGroup {arn.replace('churn', 'nope')} does not exist."
    with pytest.raises(ClientError) as gone:
        sm.delete_model_package_group(ModelPackageGroupName="nope")
    assert error_of(gone)[0] == "ValidationException"


def test_groups_list_ascending_by_default_with_filters_and_pages(sm):
    for name in ("gamma", "alpha", "beta", "alphabet"):
        sm.create_model_package_group(ModelPackageGroupName=name)
    assert names(sm.list_model_package_groups()) == ["gamma", "alpha", "beta", "alphabet"]
    assert names(sm.list_model_package_groups(SortBy="Name", SortOrder="Descending")) == [
        "gamma",
        "beta",
        "alphabet",
        "alpha",
    ]
    assert names(sm.list_model_package_groups(NameContains="ALPHA", SortBy="Name")) == [
        "alpha",
        "alphabet",
    ]
    first = sm.list_model_package_groups(MaxResults=3, SortBy="Name")
    assert names(first) == ["alpha", "alphabet", "beta"]
    second = sm.list_model_package_groups(MaxResults=3, SortBy="Name", NextToken=first["NextToken"])
    assert names(second) == ["gamma"]
    assert "NextToken" not in second
    paginated = sm.get_paginator("list_model_package_groups").paginate(
        PaginationConfig={"PageSize": 1}
    )
    assert [
        g["ModelPackageGroupName"]
        for page in paginated
        for g in page["ModelPackageGroupSummaryList"]
    ] == ["gamma", "alpha", "beta", "alphabet"]
    assert (
        sm.list_model_package_groups(CrossAccountFilterOption="CrossAccount")[
            "ModelPackageGroupSummaryList"
        ]
        == []
    )
    created = sm.describe_model_package_group(ModelPackageGroupName="beta")["CreationTime"]
    assert names(sm.list_model_package_groups(CreationTimeAfter=created)) == ["alphabet"]


def test_a_group_holding_versions_is_not_deleted(sm):
    group_arn = sm.create_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    package = version(sm)
    with pytest.raises(ClientError) as conflict:
        sm.delete_model_package_group(ModelPackageGroupName="churn")
    code, message = error_of(conflict)
    assert code == "ConflictException"
    assert group_arn in message and "DeleteModelPackage" in message
    sm.delete_model_package(ModelPackageName=package)
    sm.delete_model_package_group(ModelPackageGroupName=group_arn)
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


# -- versioned packages ---------------------------------------------------------------------
def test_versions_are_numbered_within_their_group(sm):
    region, account = account_region(sm)
    sm.create_model_package_group(ModelPackageGroupName="Churn")
    first = version(sm, "Churn", ModelPackageDescription="first")
    second = version(sm, "churn", ModelApprovalStatus="Approved")
    prefix = f"arn:aws:sagemaker:{region}:{account}:model-package/churn"
    assert (first, second) == (f"{prefix}/1", f"{prefix}/2")

    described = sm.describe_model_package(ModelPackageName=first)
    assert described["ModelPackageName"] == "Churn"
    assert described["ModelPackageGroupName"] == "Churn"
    assert described["ModelPackageVersion"] == 1
    assert described["ModelPackageArn"] == first
    assert described["ModelPackageDescription"] == "first"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["ModelPackageStatusDetails"] == {
        "ValidationStatuses": [],
        "ImageScanStatuses": [],
    }
    assert described["ModelApprovalStatus"] == "PendingManualApproval"  # the default
    assert described["InferenceSpecification"] == inference()
    assert described["CertifyForMarketplace"] is False
    assert described["LastModifiedTime"] == described["CreationTime"]
    assert sm.describe_model_package(ModelPackageName=second)["ModelApprovalStatus"] == "Approved"
    # "group/version" names a version as its ARN does
    assert sm.describe_model_package(ModelPackageName="Churn/2")["ModelPackageArn"] == second


def test_a_version_echoes_what_it_was_given(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    metrics = {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/eval.json"}
        }
    }
    arn = version(
        sm,
        ModelMetrics=metrics,
        CustomerMetadataProperties={"owner": "ana"},
        Domain="MACHINE_LEARNING",
        Task="CLASSIFICATION",
        SamplePayloadUrl=f"s3://{BUCKET}/payload.tar.gz",
        MetadataProperties={"GeneratedBy": "a pipeline"},
        SkipModelValidation="All",
    )
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelMetrics"] == metrics
    assert described["CustomerMetadataProperties"] == {"owner": "ana"}
    assert (described["Domain"], described["Task"]) == ("MACHINE_LEARNING", "CLASSIFICATION")
    assert described["SamplePayloadUrl"] == f"s3://{BUCKET}/payload.tar.gz"
    assert described["MetadataProperties"] == {"GeneratedBy": "a pipeline"}
    assert described["SkipModelValidation"] == "All"


def test_a_client_token_makes_one_version(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    first = version(sm, ClientToken="run-1")
    assert version(sm, ClientToken="run-1") == first
    assert version(sm, ClientToken="run-2").endswith("/2")


def test_create_refuses_what_aws_refuses(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    cases = [
        ({"ModelPackageName": "x", "ModelPackageGroupName": "churn"}, "Both ModelPackageName"),
        ({}, "Missing ARN"),
        ({"ModelPackageGroupName": "nope"}, "ModelPackageGroup"),
        (
            {
                "ModelPackageGroupName": "churn",
                "InferenceSpecification": inference(
                    Containers=[{"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/no.tar.gz"}]
                ),
            },
            f"Could not find model data at s3://{BUCKET}/no.tar.gz.",
        ),
        (
            {
                "ModelPackageGroupName": "churn",
                "InferenceSpecification": inference(Containers=[{"ModelDataUrl": MODEL_DATA}]),
            },
            "needs an Image",
        ),
        ({"ModelPackageGroupName": "churn", "InferenceSpecification": None}, "needs an Infer"),
        (
            {
                "ModelPackageGroupName": "churn",
                "SourceAlgorithmSpecification": {"SourceAlgorithms": [{"AlgorithmName": "a"}]},
            },
            "algorithm resources",
        ),
    ]
    for changes, expected in cases:
        request = {"InferenceSpecification": inference(), **changes}
        request = {k: v for k, v in request.items() if v is not None}
        with pytest.raises(ClientError) as refused:
            sm.create_model_package(**request)
        code, message = error_of(refused)
        assert code == "ValidationException", changes
        assert expected in message, (changes, message)
    assert sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"] == []


def test_approval_updates_and_metadata_changes(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = version(sm, CustomerMetadataProperties={"owner": "ana", "tier": "gold"})
    before = sm.describe_model_package(ModelPackageName=arn)
    answer = sm.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="AUC 0.91 on the holdout",
        CustomerMetadataProperties={"reviewer": "bo"},
        CustomerMetadataPropertiesToRemove=["tier"],
    )
    assert answer["ModelPackageArn"] == arn
    after = sm.describe_model_package(ModelPackageName=arn)
    assert after["ModelApprovalStatus"] == "Approved"
    assert after["ApprovalDescription"] == "AUC 0.91 on the holdout"
    assert after["CustomerMetadataProperties"] == {"owner": "ana", "reviewer": "bo"}
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]
    assert after["CreationTime"] == before["CreationTime"]

    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Rejected"

    with pytest.raises(ClientError) as missing:
        sm.update_model_package(ModelPackageArn=arn[:-1] + "9", ModelApprovalStatus="Approved")
    assert error_of(missing) == (
        "ValidationException",
        f"ModelPackage {arn[:-1] + '9'} does not exist.",
    )


def test_inference_specifications_are_added_up_to_fifteen(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = version(sm)
    extra = {"Name": "compiled", "Containers": [{"Image": XGBOOST, "ModelDataUrl": MODEL_DATA}]}
    sm.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[extra])
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["AdditionalInferenceSpecifications"] == [extra]
    more = [{**extra, "Name": f"n{i}"} for i in range(15)]
    with pytest.raises(ClientError) as too_many:
        sm.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=more)
    assert error_of(too_many)[0] == "ValidationException"
    assert "at most 15" in error_of(too_many)[1]


def test_versions_are_tagged_and_deleted(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    first = version(sm, Tags=[{"Key": "k", "Value": "v"}])
    second = version(sm)
    assert sm.list_tags(ResourceArn=first)["Tags"] == [{"Key": "k", "Value": "v"}]
    sm.delete_model_package(ModelPackageName=first)
    with pytest.raises(ClientError) as gone:
        sm.describe_model_package(ModelPackageName=first)
    assert error_of(gone) == ("ValidationException", f"ModelPackage {first} does not exist.")
    with pytest.raises(ClientError):
        sm.list_tags(ResourceArn=first)
    # a deleted version's number is not given again
    assert version(sm).endswith("/3")
    sm.delete_model_package(ModelPackageName="churn/2")
    assert [
        p["ModelPackageArn"]
        for p in sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    ] == [second.replace("/2", "/3")]


# -- unversioned packages and listing ---------------------------------------------------------
def test_an_unversioned_package_has_a_name_of_its_own(sm):
    region, account = account_region(sm)
    arn = sm.create_model_package(
        ModelPackageName="Standalone", InferenceSpecification=inference()
    )["ModelPackageArn"]
    assert arn == f"arn:aws:sagemaker:{region}:{account}:model-package/standalone"
    described = sm.describe_model_package(ModelPackageName="standalone")
    assert described["ModelPackageName"] == "Standalone"
    assert "ModelPackageGroupName" not in described
    assert "ModelPackageVersion" not in described
    assert "ModelApprovalStatus" not in described
    with pytest.raises(ClientError) as taken:
        sm.create_model_package(ModelPackageName="STANDALONE", InferenceSpecification=inference())
    assert error_of(taken) == ("ValidationException", f"ModelPackage already exists: {arn}")
    with pytest.raises(ClientError) as unversioned:
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert "unversioned" in error_of(unversioned)[1]


def test_packages_list_by_type_group_status_and_name(sm):
    for group in ("churn", "fraud"):
        sm.create_model_package_group(ModelPackageGroupName=group)
    a1 = version(sm, "churn")
    a2 = version(sm, "churn", ModelApprovalStatus="Approved")
    b1 = version(sm, "fraud", ModelApprovalStatus="Approved")
    solo = sm.create_model_package(ModelPackageName="solo", InferenceSpecification=inference())[
        "ModelPackageArn"
    ]
    assert arns(sm.list_model_packages()) == [solo]  # Unversioned by default
    assert arns(sm.list_model_packages(ModelPackageType="Versioned")) == [a1, a2, b1]
    assert arns(sm.list_model_packages(ModelPackageType="Both")) == [a1, a2, b1, solo]
    assert arns(sm.list_model_packages(ModelPackageGroupName="churn")) == [a1, a2]
    group_arn = sm.describe_model_package_group(ModelPackageGroupName="fraud")[
        "ModelPackageGroupArn"
    ]
    assert arns(sm.list_model_packages(ModelPackageGroupName=group_arn)) == [b1]
    assert arns(
        sm.list_model_packages(ModelPackageType="Versioned", ModelApprovalStatus="Approved")
    ) == [a2, b1]
    assert arns(sm.list_model_packages(ModelPackageType="Both", NameContains="FRA")) == [b1]
    assert arns(sm.list_model_packages(ModelPackageGroupName="churn", SortOrder="Descending")) == [
        a2,
        a1,
    ]
    assert arns(
        sm.list_model_packages(ModelPackageType="Both", SortBy="Name", SortOrder="Descending")
    ) == [solo, b1, a2, a1]
    summary = sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"][1]
    assert summary["ModelPackageGroupName"] == "churn"
    assert summary["ModelPackageVersion"] == 2
    assert summary["ModelApprovalStatus"] == "Approved"
    assert summary["ModelPackageStatus"] == "Completed"
    # pages of one, sorted by name: versions of a group in number order, none repeated
    pages = sm.get_paginator("list_model_packages").paginate(
        ModelPackageType="Both", SortBy="Name", PaginationConfig={"PageSize": 1}
    )
    assert [arn for page in pages for arn in arns(page)] == [a1, a2, b1, solo]


# -- a model from a package -----------------------------------------------------------------
def test_a_model_is_created_from_an_approved_version(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = version(sm)
    with pytest.raises(ClientError) as pending:
        sm.create_model(
            ModelName="from-package",
            PrimaryContainer={"ModelPackageName": arn},
            ExecutionRoleArn=ROLE,
        )
    code, message = error_of(pending)
    assert code == "ValidationException"
    assert "PendingManualApproval" in message and "Approved" in message
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sm.create_model(
        ModelName="from-package",
        Containers=[{"ModelPackageName": arn, "Environment": {"B": "model"}}],
        ExecutionRoleArn=ROLE,
    )
    described = sm.describe_model(ModelName="from-package")
    (container,) = described["Containers"]
    assert container["ModelPackageName"] == arn
    assert container["Image"] == XGBOOST
    assert container["ModelDataUrl"] == MODEL_DATA
    assert container["Environment"] == {"A": "package", "B": "model"}


def test_a_model_from_an_unversioned_package_by_name(sm):
    sm.create_model_package(ModelPackageName="solo", InferenceSpecification=inference())
    sm.create_model(
        ModelName="m", PrimaryContainer={"ModelPackageName": "solo"}, ExecutionRoleArn=ROLE
    )
    assert sm.describe_model(ModelName="m")["PrimaryContainer"]["Image"] == XGBOOST


def test_create_model_refuses_a_bad_package_reference(sm):
    sm.create_model_package(ModelPackageName="solo", InferenceSpecification=inference())
    cases = [
        ({"ModelPackageName": "nope"}, "ModelPackage"),
        ({"ModelPackageName": "solo", "Image": XGBOOST}, "not both"),
    ]
    for container, expected in cases:
        with pytest.raises(ClientError) as refused:
            sm.create_model(ModelName="m", PrimaryContainer=container, ExecutionRoleArn=ROLE)
        code, message = error_of(refused)
        assert code == "ValidationException"
        assert expected in message, message
