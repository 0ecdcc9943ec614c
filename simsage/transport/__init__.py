"""The transports: in-process (simsage answers boto3 under botocore, with no HTTP:
:mod:`simsage.transport.handler`) and the S3 endpoint over HTTP
(:mod:`simsage.transport.s3_endpoint`, its lifecycle in
:mod:`simsage.transport.endpoint_use`).

``Request`` and ``Transport`` are loaded on first use (PEP 562), so a job runner can
import :mod:`simsage.transport.endpoint_use` (to give its containers S3) without
loading botocore, which the handler needs and the runner of a built-in image never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simsage.transport.handler import Request, Transport

__all__ = ["Request", "Transport"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from simsage.transport import handler

        return getattr(handler, name)
    raise AttributeError(f"module 'simsage.transport' has no attribute {name!r}")
