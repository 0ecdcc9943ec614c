"""The in-process transport: simsage answers boto3 under botocore, with no HTTP."""

from simsage.transport.handler import Request, Transport

__all__ = ["Request", "Transport"]
