"""The SDK's exceptions, with the official SDK's names."""

from __future__ import annotations


class UnexpectedStatusException(ValueError):
    """A job or endpoint ended in a status other than the one waited for.

    Attributes:
        allowed_statuses: the statuses that would have been fine.
        actual_status: the status it ended in.
    """

    def __init__(self, message: str, allowed_statuses: list[str], actual_status: str) -> None:
        super().__init__(message)
        self.allowed_statuses = allowed_statuses
        self.actual_status = actual_status
