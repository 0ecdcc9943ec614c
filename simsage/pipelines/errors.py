"""The errors of SageMaker Pipelines requests: a definition refused (CreatePipeline,
UpdatePipeline), a version alias unknown or already taken."""

from __future__ import annotations

from simsage.errors import ClientFault, ValidationException


class PipelineDefinitionError(ValidationException):
    """A definition CreatePipeline (or UpdatePipeline) refuses: ``ValidationException``
    with a message that lists every problem found.

    Attributes:
        problems: each problem found, in the order found.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def unparsable(detail: str) -> PipelineDefinitionError:
    """A definition that is not shaped as one, in the service's words."""
    return PipelineDefinitionError(f"Unable to parse pipeline definition. {detail}")


MAX_REPORTED = 10


def raise_problems(problems: list[str]) -> None:
    """Raise one :class:`PipelineDefinitionError` for ``problems`` (if any), showing the
    first :data:`MAX_REPORTED`."""
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more else "")
        raise PipelineDefinitionError(f"Invalid pipeline definition: {text}.", list(problems))


class ResourceNotFound(ClientFault):
    """A pipeline version alias no version has (DescribePipeline,
    StartPipelineExecution, ListPipelineExecutions, UpdatePipelineVersion)."""

    code = "ResourceNotFound"


class ConflictException(ClientFault):
    """An alias another version of the pipeline already has."""

    code = "ConflictException"
