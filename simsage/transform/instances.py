"""The transform runner's working records: its instances, the input objects on their way
through them, how one object fails, and the batch settings a container may give.

Layer: transform (data plane), used by :mod:`simsage.transform.runner` only.
"""

from __future__ import annotations

from typing import Any

from simsage.runtime import staging
from simsage.runtime.servers import InferenceServer


class ObjectFailed(Exception):
    """One input object could not be transformed; the message says why."""


class Stopped(Exception):
    """StopTransformJob arrived."""


def object_uri(obj: staging.S3Object) -> str:
    return f"s3://{obj.bucket}/{obj.key}"


class ObjectRun:
    """One input object on its way through an instance: its spool and progress."""

    def __init__(self, position: int, obj: staging.S3Object, spool) -> None:
        self.position = position
        self.obj = obj
        self.spool = spool
        self.count = 0  # records, when the splitter counted them
        self.requests = 0
        self.bytes = 0
        self.outstanding = 0  # batches sent whose responses are not written yet
        self.read_done = False
        self.failed: str | None = None
        self.content_type: str | None = None
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.spool.close()


class Instance:
    """One emulated transform instance: its server and log streams."""

    def __init__(self, instance_id: str, stream: str) -> None:
        self.id = instance_id
        self.stream = stream
        self.data_log = f"{stream}/data-log"
        self.server: InferenceServer | None = None


_STRATEGIES = {"MULTIRECORD": "MultiRecord", "SINGLERECORD": "SingleRecord"}


def apply_execution_parameters(
    spec: dict[str, Any], settings: dict[str, Any], answer: dict[str, Any]
) -> None:
    """Take the container's ``GET /execution-parameters`` answer into ``settings`` where
    the CreateTransformJob request ``spec`` left the setting to it (the request wins)."""
    if not spec.get("MaxConcurrentTransforms") and "MaxConcurrentTransforms" in answer:
        settings["max_concurrent"] = max(1, min(int(answer["MaxConcurrentTransforms"]), 64))
    if "MaxPayloadInMB" not in spec and "MaxPayloadInMB" in answer:
        settings["max_payload_mb"] = max(0, min(int(answer["MaxPayloadInMB"]), 100))
    # Containers spell it as the environment does (MULTI_RECORD, the DG's example
    # and the XGBoost container's answer); the API's spelling is accepted too.
    strategy = _STRATEGIES.get(str(answer.get("BatchStrategy", "")).upper().replace("_", ""))
    if "BatchStrategy" not in spec and settings["split_type"] != "None" and strategy:
        settings["batch_strategy"] = strategy
