"""``PipelineSession``: a :class:`~simsage.sdk.session.Session` under which the SDK's job
calls (``processor.run``, ``estimator.fit``, ``model.create``, ``model.register``) do not
start anything: they return :class:`StepArguments`, which a step turns into its
``Arguments`` when the pipeline's definition is written — as the official SDK's
``PipelineSession`` does.

How: a call under a pipeline session is recorded (:func:`runnable_by_pipeline`) and
replayed when the definition is built, with the session knowing the pipeline and step
(``session.context``); during the replay the ``sagemaker`` client answers the Create*
request by keeping it instead of sending it. Replaying at definition time lets the SDK
choose paths that depend on the pipeline and step names (the code's S3 key, the outputs'
``s3://<bucket>/<pipeline>/<execution id>/<step>/output/<name>``), as the official SDK
does; everything else (S3 uploads of the code, describe calls) goes to the service.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simsage.sdk.session import Session

# The Create* operations a step's arguments are, and the name member the service chooses.
CAPTURED = {
    "create_processing_job": "ProcessingJobName",
    "create_training_job": "TrainingJobName",
    "create_hyper_parameter_tuning_job": "HyperParameterTuningJobName",
    "create_transform_job": "TransformJobName",
    "create_model": "ModelName",
    "create_model_package": None,
}


@dataclass(frozen=True)
class PipelineConfig:
    """What the session knows while a step's arguments are built."""

    pipeline_name: str
    step_name: str


class _CapturingClient:
    """The ``sagemaker`` client, except that one Create* request is kept, not sent."""

    def __init__(self, client, session: PipelineSession) -> None:
        self._client = client
        self._session = session

    def __getattr__(self, name: str):
        if name not in CAPTURED:
            return getattr(self._client, name)

        def keep(**request: Any) -> dict[str, Any]:
            self._session._captured = (name, request)
            return {}

        return keep


class PipelineSession(Session):
    """A session whose job calls return step arguments (see the module docstring).

    Parameters are :class:`~simsage.sdk.session.Session`'s.
    """

    def __init__(self, boto_session=None, default_bucket: str | None = None) -> None:
        super().__init__(boto_session=boto_session, default_bucket=default_bucket)
        self.context: PipelineConfig | None = None
        self._captured: tuple[str, dict[str, Any]] | None = None

    @property
    def sagemaker_client(self):
        client = super().sagemaker_client
        return client if self.context is None else _CapturingClient(client, self)


class StepArguments:
    """A recorded SDK call (``caller_name``, e.g. ``run``) that :meth:`build` replays."""

    def __init__(self, caller_name: str, func: Callable[[], Any], session: PipelineSession):
        self.caller_name = caller_name
        self.func = func
        self.sagemaker_session = session

    def build(self, pipeline_name: str, step_name: str) -> tuple[str, dict[str, Any]]:
        """Replay the call for step ``step_name`` of ``pipeline_name``.

        Returns:
            The Create* operation (``create_training_job`` …) and its request, without
            the job's name (the service names a pipeline's jobs).

        Raises:
            ValueError: the call sent no Create* request.
        """
        session = self.sagemaker_session
        session.context = PipelineConfig(pipeline_name, step_name)
        session._captured = None
        try:
            self.func()
        finally:
            session.context = None
        if session._captured is None:
            raise ValueError(
                f"step {step_name!r}: {self.caller_name}() made no SageMaker job request, so "
                "it cannot be a step's step_args."
            )
        operation, request = session._captured
        request = dict(request)
        name_key = CAPTURED[operation]
        if name_key is not None:
            request.pop(name_key, None)
        return operation, request


def pipeline_context(session: Session) -> PipelineConfig | None:
    """The pipeline and step whose arguments ``session`` is building (None otherwise)."""
    return getattr(session, "context", None)


def runnable_by_pipeline(run_func: Callable) -> Callable:
    """Make ``run_func`` (a method of an object with ``sagemaker_session``) return
    :class:`StepArguments` under a :class:`PipelineSession`, with ``wait`` and ``logs``
    off when replayed; it runs as before under any other session."""
    signature = inspect.signature(run_func)

    @functools.wraps(run_func)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        session = self.sagemaker_session
        if not isinstance(session, PipelineSession) or session.context is not None:
            return run_func(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        for flag in ("wait", "logs"):
            if flag in signature.parameters:
                bound.arguments[flag] = False
        return StepArguments(
            run_func.__name__, lambda: run_func(*bound.args, **bound.kwargs), session
        )

    return wrapper
