"""STS: who the caller is. simsage has one identity per home: a fixed IAM user of the
configured account (the official SDK asks for it to name its default bucket)."""

from __future__ import annotations

from simsage.transport import Request

LOCAL_USER = "simsage"
LOCAL_USER_ID = "AIDASIMSAGELOCALUSER1"


class STSService:
    def __init__(self, home) -> None:
        self.home = home

    def get_caller_identity(self, request: Request) -> dict:
        account = request.account_id
        return {
            "UserId": LOCAL_USER_ID,
            "Account": account,
            "Arn": f"arn:aws:iam::{account}:user/{LOCAL_USER}",
        }
