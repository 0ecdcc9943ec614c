"""Pipeline version aliases and the members the SDK v3 sends, through boto3:
``PipelineVersionAliases`` on CreatePipeline and UpdatePipeline, UpdatePipelineVersion
(display name, description, ``PipelineVersionAliasOperations``), ``PipelineVersionAlias``
in DescribePipeline, StartPipelineExecution and ListPipelineExecutions, the aliases in
the answers; and ``MlflowExperimentName`` with the definition's ``MlflowConfig``,
answered as DescribePipelineExecution's ``MLflowConfig``. The errors are the service's:
``ResourceNotFound`` for an alias no version has, ``ConflictException`` for one another
version has, ``ValidationException`` for the rest."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from model_helpers import in_model

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TRACKING = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlf"


def definition(message: str, mlflow: dict | None = None) -> str:
    """A one-step pipeline (a Fail step: nothing to run but the scheduler)."""
    body = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": message}}],
    }
    if mlflow is not None:
        body["MlflowConfig"] = mlflow
    return json.dumps(body)


@pytest.fixture
def sm(simsage_local):
    return simsage_local.client("sagemaker")


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def _wait(sm, arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if found["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def _start(sm, **extra) -> str:
    return sm.start_pipeline_execution(
        PipelineName="Scores", ClientRequestToken=uuid.uuid4().hex, **extra
    )["PipelineExecutionArn"]


@pytest.mark.skipif(
    not in_model("CreatePipeline", "PipelineVersionAliases"),
    reason="the installed botocore's model has no PipelineVersionAliases",
)
def test_aliases_name_versions_to_describe_start_and_list(sm):
    arn = sm.create_pipeline(
        PipelineName="Scores",
        PipelineDefinition=definition("one"),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
        PipelineVersionAliases=["prod"],
    )["PipelineArn"]
    assert sm.describe_pipeline(PipelineName="Scores")["PipelineVersionAliases"] == ["prod"]

    with pytest.raises(ClientError) as taken:
        sm.update_pipeline(
            PipelineName="Scores",
            PipelineDefinition=definition("two"),
            PipelineVersionAliases=["prod"],
        )
    assert _code(taken) == "ConflictException"
    with pytest.raises(ClientError) as unchanged:
        sm.update_pipeline(PipelineName="Scores", PipelineVersionAliases=["dev"])
    assert _code(unchanged) == "ValidationException"
    updated = sm.update_pipeline(
        PipelineName="Scores", PipelineDefinition=definition("two"), PipelineVersionAliases=["dev"]
    )
    assert updated["PipelineVersionId"] == 2

    prod = sm.describe_pipeline(PipelineName="Scores", PipelineVersionAlias="prod")
    assert json.loads(prod["PipelineDefinition"])["Steps"][0]["Arguments"] == {
        "ErrorMessage": "one"
    }
    with pytest.raises(ClientError) as both:
        sm.describe_pipeline(
            PipelineName="Scores", PipelineVersionId=1, PipelineVersionAlias="prod"
        )
    assert _code(both) == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        sm.describe_pipeline(PipelineName="Scores", PipelineVersionAlias="staging")
    assert _code(unknown) == "ResourceNotFound"

    # The executions run the version their alias names, and are listed by it.
    on_prod = _start(sm, PipelineVersionAlias="prod")
    on_latest = _start(sm)
    ran = _wait(sm, on_prod)
    assert (ran["PipelineVersionId"], ran["PipelineVersionAliases"]) == (1, ["prod"])
    assert _wait(sm, on_latest)["PipelineVersionId"] == 2
    listed = sm.list_pipeline_executions(PipelineName="Scores", PipelineVersionAlias="prod")
    assert [e["PipelineExecutionArn"] for e in listed["PipelineExecutionSummaries"]] == [on_prod]
    assert listed["PipelineExecutionSummaries"][0]["PipelineVersionAliases"] == ["prod"]
    with pytest.raises(ClientError) as start_unknown:
        _start(sm, PipelineVersionAlias="staging")
    assert _code(start_unknown) == "ResourceNotFound"

    # UpdatePipelineVersion moves "prod" to version 2 (removed from 1 first, as AWS asks).
    with pytest.raises(ClientError) as held:
        sm.update_pipeline_version(
            PipelineArn=arn, PipelineVersionId=2, PipelineVersionAliasOperations={"Add": ["prod"]}
        )
    assert _code(held) == "ConflictException"
    sm.update_pipeline_version(
        PipelineArn=arn, PipelineVersionId=1, PipelineVersionAliasOperations={"Remove": ["prod"]}
    )
    moved = sm.update_pipeline_version(
        PipelineArn=arn,
        PipelineVersionId=2,
        PipelineVersionDisplayName="second",
        PipelineVersionDescription="the fixed message",
        PipelineVersionAliasOperations={"Add": ["prod"]},
    )
    assert (moved["PipelineArn"], moved["PipelineVersionId"]) == (arn, 2)
    summaries = {
        v["PipelineVersionId"]: v
        for v in sm.list_pipeline_versions(PipelineName="Scores")["PipelineVersionSummaries"]
    }
    assert "PipelineVersionAliases" not in summaries[1]
    assert summaries[2]["PipelineVersionAliases"] == ["dev", "prod"]
    assert summaries[2]["PipelineVersionDisplayName"] == "second"
    latest = sm.describe_pipeline(PipelineName="Scores", PipelineVersionAlias="prod")
    assert latest["PipelineVersionDescription"] == "the fixed message"
    # An execution shows the aliases its version has now.
    assert "PipelineVersionAliases" not in sm.describe_pipeline_execution(
        PipelineExecutionArn=on_prod
    )
    with pytest.raises(ClientError) as digits:
        sm.update_pipeline_version(
            PipelineArn=arn, PipelineVersionId=1, PipelineVersionAliasOperations={"Add": ["42"]}
        )
    assert _code(digits) == "ValidationException"


def test_an_execution_answers_its_mlflow_config(sm):
    sm.create_pipeline(
        PipelineName="Scores",
        PipelineDefinition=definition(
            "done", {"MlflowResourceArn": TRACKING, "MlflowExperimentName": "scores"}
        ),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    default = _wait(sm, _start(sm))
    assert default["MLflowConfig"] == {
        "MlflowResourceArn": TRACKING,
        "MlflowExperimentName": "scores",
    }
    renamed = _wait(sm, _start(sm, MlflowExperimentName="scores-rerun"))
    assert renamed["MLflowConfig"]["MlflowExperimentName"] == "scores-rerun"
