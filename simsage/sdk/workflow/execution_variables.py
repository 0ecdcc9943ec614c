"""``ExecutionVariables``: what an execution knows about itself (its id, the pipeline's
name, the start time …), written as ``{"Get": "Execution.<name>"}``."""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.entities import PipelineVariable


class ExecutionVariable(PipelineVariable):
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def expr(self) -> dict[str, Any]:
        return {"Get": f"Execution.{self.name}"}


class ExecutionVariables:
    """The execution variables the pipeline service resolves."""

    START_DATETIME = ExecutionVariable("StartDateTime")
    CURRENT_DATETIME = ExecutionVariable("CurrentDateTime")
    PIPELINE_NAME = ExecutionVariable("PipelineName")
    PIPELINE_ARN = ExecutionVariable("PipelineArn")
    PIPELINE_EXECUTION_ID = ExecutionVariable("PipelineExecutionId")
    PIPELINE_EXECUTION_ARN = ExecutionVariable("PipelineExecutionArn")
    TRAINING_JOB_NAME = ExecutionVariable("TrainingJobName")
    PROCESSING_JOB_NAME = ExecutionVariable("ProcessingJobName")
