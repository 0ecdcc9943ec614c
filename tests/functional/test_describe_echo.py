"""What the Describe calls repeat of the Create request: every member of the Create
request that is also a member of the Describe answer (as botocore's model says), at any
depth, including those hand lists used to drop (ProfilerRuleConfigurations,
AcceleratorPartitionLayouts, ContainerMetricsConfig, CrossRegionTrafficConfig), with the
defaults SageMaker adds; never members the answer does not have (Tags)."""

from __future__ import annotations

import pytest
from model_helpers import in_model

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "describe-echo"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
MODEL_DATA = f"s3://{BUCKET}/models/model.tar.gz"
RULE_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


@pytest.fixture
def sm(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"not really gzip")
    s3.put_object(Bucket=BUCKET, Key="in/x.csv", Body=b"1,2,3\n")
    return simsage_local.client("sagemaker")


def assert_echoes(answer: dict, request: dict, skip: tuple[str, ...] = ()) -> None:
    """Every member of ``request`` (recursively) is in ``answer`` with the same value."""
    for name, value in request.items():
        if name in skip:
            continue
        assert name in answer, f"{name} was not echoed"
        if isinstance(value, dict):
            assert_echoes(answer[name], value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for mine, theirs in zip(answer[name], value, strict=True):
                assert_echoes(mine, theirs)
        else:
            assert answer[name] == value, name


def test_describe_training_job_echoes_every_request_member_it_answers(sm):
    request = {
        "TrainingJobName": "echoed-job",
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"sagemaker_program": '"train.py"'},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/missing/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "ProfilerConfig": {"S3OutputPath": f"s3://{BUCKET}/profiler"},
        "ProfilerRuleConfigurations": [
            {
                "RuleConfigurationName": "ProfilerReport",
                "RuleEvaluatorImage": RULE_IMAGE,
                "RuleParameters": {"rule_to_invoke": "ProfilerReport"},
            }
        ],
        "DebugRuleConfigurations": [
            {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluatorImage": RULE_IMAGE}
        ],
        "Environment": {"MODE": "test"},
        "RetryStrategy": {"MaximumRetryAttempts": 2},
        "InfraCheckConfig": {"EnableInfraCheck": True},
        "ExperimentConfig": {"ExperimentName": "exp", "TrialName": "trial"},
        "Tags": [{"Key": "team", "Value": "ml"}],
        "SessionChainingConfig": {"EnableSessionTagChaining": True},
    }
    sm.create_training_job(**request)
    described = sm.describe_training_job(TrainingJobName="echoed-job")
    assert_echoes(described, request, skip=("Tags", "SessionChainingConfig"))
    # Not members of DescribeTrainingJob's answer.
    assert "Tags" not in described and "SessionChainingConfig" not in described
    # The defaults SageMaker adds stay.
    assert described["OutputDataConfig"]["KmsKeyId"] == ""
    assert described["EnableNetworkIsolation"] is False
    assert described["EnableManagedSpotTraining"] is False


def test_describe_transform_job_echoes_request_members_with_defaults(sm):
    sm.create_model(
        ModelName="m1",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        ExecutionRoleArn=ROLE,
    )
    request = {
        "TransformJobName": "echoed-transform",
        "ModelName": "m1",
        "BatchStrategy": "MultiRecord",
        "Environment": {"A": "1"},
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/out",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "None"},
        "ExperimentConfig": {"ExperimentName": "exp"},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    sm.create_transform_job(**request)
    described = sm.describe_transform_job(TransformJobName="echoed-transform")
    assert_echoes(described, request, skip=("Tags",))
    assert "Tags" not in described
    assert described["TransformInput"]["CompressionType"] == "None"
    assert described["MaxConcurrentTransforms"] == 1
    assert described["MaxPayloadInMB"] == 6


def test_describe_model_echoes_container_members(sm):
    container = {
        "Image": XGBOOST,
        "ModelDataUrl": MODEL_DATA,
        "Environment": {"SAGEMAKER_PROGRAM": "serve.py"},
        "ContainerMetricsConfig": {"MetricsEndpoints": []},
    }
    request = {
        "ModelName": "echoed-model",
        "PrimaryContainer": container,
        "ExecutionRoleArn": ROLE,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    sm.create_model(**request)
    described = sm.describe_model(ModelName="echoed-model")
    assert_echoes(described, request, skip=("Tags",))
    assert described["EnableNetworkIsolation"] is False
    assert "Tags" not in described


def test_describe_model_echoes_members_no_field_of_simsage_holds(sm):
    """A model given as Containers, with network isolation, an inference execution
    config and container members simsage only records, describes them all back."""
    request = {
        "ModelName": "recorded-model",
        "Containers": [
            {
                "Image": XGBOOST,
                "ModelDataUrl": MODEL_DATA,
                "Mode": "SingleModel",
                "ContainerHostname": "primary",
                "ImageConfig": {"RepositoryAccessMode": "Platform"},
            }
        ],
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "ExecutionRoleArn": ROLE,
        "EnableNetworkIsolation": True,
    }
    sm.create_model(**request)
    described = sm.describe_model(ModelName="recorded-model")
    assert_echoes(described, request)
    assert "PrimaryContainer" not in described


@pytest.mark.skipif(
    not in_model("CreateEndpointConfig", "CrossRegionTrafficConfig"),
    reason="the installed botocore's model has no CrossRegionTrafficConfig",
)
def test_describe_endpoint_config_echoes_variant_and_config_members(sm):
    sm.create_model(
        ModelName="m1",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        ExecutionRoleArn=ROLE,
    )
    request = {
        "EndpointConfigName": "echoed-config",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 4,
                "AcceleratorPartitionLayouts": [{"AcceleratorPartitionTypes": []}],
            }
        ],
        "CrossRegionTrafficConfig": {
            "MaxInvocationsPerSecondPerInstance": 10,
            "MaxCrossRegionPercentPerEndpoint": 50,
        },
        "KmsKeyId": "alias/mine",
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    sm.create_endpoint_config(**request)
    described = sm.describe_endpoint_config(EndpointConfigName="echoed-config")
    assert_echoes(described, request, skip=("Tags",))
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0  # the default
    assert "Tags" not in described


def test_describe_endpoint_config_echoes_members_no_field_of_simsage_holds(sm):
    """The members simsage only records (no field of its own holds them: routing,
    scaling, SSM, timeouts, VPC, isolation, metrics) come back from the stored request."""
    sm.create_model(
        ModelName="m2",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        ExecutionRoleArn=ROLE,
    )
    request = {
        "EndpointConfigName": "recorded-config",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m2",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VariantInstanceProvisionTimeoutInSeconds": 1800,
                "ModelDataDownloadTimeoutInSeconds": 600,
                "ContainerStartupHealthCheckTimeoutInSeconds": 120,
                "VolumeSizeInGB": 8,
                "EnableSSMAccess": False,
                "ManagedInstanceScaling": {
                    "Status": "ENABLED",
                    "MinInstanceCount": 1,
                    "MaxInstanceCount": 2,
                },
                "RoutingConfig": {"RoutingStrategy": "RANDOM"},
            }
        ],
        "ExecutionRoleArn": ROLE,
        "VpcConfig": {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-12345678"]},
        "EnableNetworkIsolation": True,
        "MetricsConfig": {"EnableEnhancedMetrics": True},
    }
    sm.create_endpoint_config(**request)
    answer = sm.describe_endpoint_config(EndpointConfigName="recorded-config")
    assert_echoes(answer, request)


def test_rows_from_before_the_stored_request_still_read(sm):
    """Model and configuration rows written when echoed members were fields of their
    own (no stored request) are read past those fields: they describe and list, never
    a traceback."""
    import json

    from simsage.config import load_config
    from simsage.home import Home

    sm.create_model(
        ModelName="m3",
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": MODEL_DATA},
        ExecutionRoleArn=ROLE,
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "m3",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName="old-config", ProductionVariants=[variant])
    db = Home.open(load_config()).db
    (body,) = db.query_one("SELECT body FROM hosting_endpoint_configs WHERE name = 'old-config'")
    old = json.loads(body)
    old.pop("spec")
    old["kms_key_id"] = None
    old["variants"][0].update(accelerator_type=None, routing_config={"RoutingStrategy": "RANDOM"})
    with db.write() as conn:
        conn.execute(
            "UPDATE hosting_endpoint_configs SET body = ? WHERE name = 'old-config'",
            (json.dumps(old),),
        )
    (body,) = db.query_one("SELECT body FROM hosting_models WHERE name = 'm3'")
    old = json.loads(body)
    old.pop("spec")
    old.update(vpc_config=None, enable_network_isolation=False)
    old["container"].update(mode="SingleModel", image_config=None)
    with db.write() as conn:
        conn.execute("UPDATE hosting_models SET body = ? WHERE name = 'm3'", (json.dumps(old),))
    answer = sm.describe_endpoint_config(EndpointConfigName="old-config")
    assert answer["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    model = sm.describe_model(ModelName="m3")
    assert model["PrimaryContainer"]["ModelDataUrl"] == MODEL_DATA
    assert model["EnableNetworkIsolation"] is False
    assert sm.list_endpoint_configs()["EndpointConfigs"][0]["EndpointConfigName"] == "old-config"
