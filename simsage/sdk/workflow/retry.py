"""Retry policies of a step: ``StepRetryPolicy`` (the service's own faults and throttling)
and ``SageMakerJobStepRetryPolicy`` (a job that could not start or failed for capacity,
resource limits, internal errors)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class StepExceptionTypeEnum(Enum):
    SERVICE_FAULT = "Step.SERVICE_FAULT"
    THROTTLING = "Step.THROTTLING"


class SageMakerJobExceptionTypeEnum(Enum):
    INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
    CAPACITY_ERROR = "SageMaker.CAPACITY_ERROR"
    RESOURCE_LIMIT = "SageMaker.RESOURCE_LIMIT"


class RetryPolicy:
    """Retry ``max_attempts`` times, or until ``expire_after_mins`` have passed (one of
    the two), waiting ``interval_seconds`` times ``backoff_rate`` to the attempt."""

    def __init__(
        self,
        backoff_rate: float = 2.0,
        interval_seconds: int = 1,
        max_attempts: int | None = None,
        expire_after_mins: int | None = None,
    ) -> None:
        self.backoff_rate = backoff_rate
        self.interval_seconds = interval_seconds
        self.max_attempts = max_attempts
        self.expire_after_mins = expire_after_mins

    def _types(self) -> list[str]:
        raise NotImplementedError

    def to_request(self) -> dict[str, Any]:
        """This policy's entry of the step's ``RetryPolicies``.

        Raises:
            ValueError: both or neither of ``max_attempts`` and ``expire_after_mins``.
        """
        if (self.max_attempts is None) == (self.expire_after_mins is None):
            raise ValueError("Only one of [max_attempts] and [expire_after_mins] can be given.")
        request: dict[str, Any] = {
            "BackoffRate": self.backoff_rate,
            "IntervalSeconds": self.interval_seconds,
        }
        if self.max_attempts:
            request["MaxAttempts"] = self.max_attempts
        if self.expire_after_mins:
            request["ExpireAfterMin"] = self.expire_after_mins
        request["ExceptionType"] = self._types()
        return request


class StepRetryPolicy(RetryPolicy):
    def __init__(self, exception_types: list[StepExceptionTypeEnum], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exception_types = list(exception_types)

    def _types(self) -> list[str]:
        return [StepExceptionTypeEnum(item).value for item in self.exception_types]


class SageMakerJobStepRetryPolicy(RetryPolicy):
    def __init__(
        self,
        exception_types: list[SageMakerJobExceptionTypeEnum] | None = None,
        failure_reason_types: list[SageMakerJobExceptionTypeEnum] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not exception_types and not failure_reason_types:
            raise ValueError(
                "At least one of the [exception_types, failure_reason_types] needs to be given."
            )
        self.exception_types = list(exception_types or [])
        self.failure_reason_types = list(failure_reason_types or [])

    def _types(self) -> list[str]:
        types = {SageMakerJobExceptionTypeEnum(item).value for item in self.exception_types}
        types |= {SageMakerJobExceptionTypeEnum(item).value for item in self.failure_reason_types}
        return sorted(types)
