"""STS: who the caller is. simsage has one identity per home: a fixed IAM user of the
configured account (the official SDK asks for it to name its default bucket)."""

from __future__ import annotations

from simsage.errors import ClientFault
from simsage.transport import Request
from simsage.transport.constraints import ValidationErrors

LOCAL_USER = "simsage"
LOCAL_USER_ID = "AIDASIMSAGELOCALUSER1"


class ValidationError(ClientFault):
    """STS's code for input that breaks a constraint (query protocol: Type Sender)."""

    code = "ValidationError"


class STSService:
    CHECK_INPUT = ValidationErrors(ValidationError)

    def __init__(self, home) -> None:
        self.home = home

    def get_caller_identity(self, request: Request) -> dict:
        account = request.account_id
        return {
            "UserId": LOCAL_USER_ID,
            "Account": account,
            "Arn": f"arn:aws:iam::{account}:user/{LOCAL_USER}",
        }
