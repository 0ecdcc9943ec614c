"""simsage: Amazon SageMaker on your laptop.

simsage answers boto3 itself, under botocore: the same pipeline code runs here, offline,
and on AWS when ``SIMSAGE_BACKEND=aws``.

    import simsage
    s3 = simsage.boto3_session().client("s3")     # answered by simsage

    simsage.activate()                            # every boto3 client from now on
    with simsage.local(): ...                     # only inside the block

The entry points are loaded on first use, so processes that only need the store (job
runners, inference servers) do not pay for importing boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["Config", "activate", "boto3_session", "deactivate", "load_config", "local"]

_LAZY = {
    "Config": "simsage.config",
    "load_config": "simsage.config",
    "activate": "simsage.transport.activation",
    "boto3_session": "simsage.transport.activation",
    "deactivate": "simsage.transport.activation",
    "local": "simsage.transport.activation",
}

if TYPE_CHECKING:
    from simsage.config import Config, load_config
    from simsage.transport.activation import activate, boto3_session, deactivate, local


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simsage' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
