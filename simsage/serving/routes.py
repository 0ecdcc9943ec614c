"""The routes of a SageMaker inference container, independent of HTTP: ``/ping``,
``/invocations`` and ``/execution-parameters`` answered from a scoring handler.

Layer: serving, between the scoring handlers (:mod:`simsage.serving.scoring` and the
handlers built by :func:`build_handler`) and the web layer (:mod:`simsage.serving.server`),
which only copies an :class:`Answer` onto the wire. Invariant: an answer never raises
out of :meth:`Routes.answer`; a bug in a handler is a 500 with its traceback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from simsage.serving.scoring import CUSTOM_ATTRIBUTES, Handler, Response, ScoringError

PREFIX = "simsage-serving:"
_CUSTOM_ATTRIBUTES_LOWER = CUSTOM_ATTRIBUTES.lower()


@dataclass
class Answer:
    """One response, whatever server writes it: status, body, content type, headers.
    ``close`` asks for the connection to be closed after it (a drain began)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


class Routes:
    """The three routes of a SageMaker inference container, independent of HTTP.

    ``handler`` is None until the model is loaded (``/ping`` and ``/invocations``
    answer 503 until then); ``stopping`` is set when a drain begins (``/ping`` answers
    503 and every answer asks to close the connection).
    """

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.execution_parameters: dict[str, Any] | None = None
        self.stopping = False

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request; ``headers`` has lower-cased names."""
        if path == "/invocations":
            if method != "POST":
                return Answer(405, headers={"Allow": "POST"})
            return self._invoke(headers, body)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return Answer(405, headers={"Allow": "GET"})
            return Answer(200 if self.handler is not None and not self.stopping else 503)
        if path == "/execution-parameters" and self.execution_parameters is not None:
            if method != "GET":
                return Answer(405, headers={"Allow": "GET"})
            payload = json.dumps(self.execution_parameters).encode()
            return Answer(200, payload, "application/json")
        return Answer(404)

    def _invoke(self, headers: dict[str, str], body: bytes) -> Answer:
        handler = self.handler
        custom = headers.get(_CUSTOM_ATTRIBUTES_LOWER)
        if handler is None:
            return Answer(503, b"model is not loaded yet", "text/plain")
        try:
            response: Response = handler.invoke(
                body, headers.get("content-type"), headers.get("accept"), headers
            )
        except ScoringError as exc:
            extra = {CUSTOM_ATTRIBUTES: custom} if custom is not None else {}
            # close: SIGTERM may have arrived while scoring; the answer says so
            return Answer(
                exc.status, exc.message.encode("utf-8"), "text/plain", extra, self.stopping
            )
        except Exception as exc:  # a bug in simsage's own code: still answer, never die
            message = f"{exc}\n{traceback.format_exc()}"
            print(f"{PREFIX} internal error: {message}", file=sys.stderr, flush=True)
            return Answer(500, message.encode("utf-8"), "text/plain")
        extra = dict(response.headers)
        if custom is not None and not any(k.lower() == _CUSTOM_ATTRIBUTES_LOWER for k in extra):
            extra[CUSTOM_ATTRIBUTES] = custom
        content_type = response.content_type if response.status != 204 else None
        return Answer(response.status, response.body, content_type, extra, self.stopping)


def builtin_execution_parameters(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """What the built-in XGBoost container answers to ``GET /execution-parameters``:
    one concurrent transform per CPU (its gunicorn worker count), MULTI_RECORD
    mini-batches, and its largest payload (``MAX_CONTENT_LENGTH``, 6291456 bytes by
    default) in whole MB."""
    environ = os.environ if environ is None else environ
    try:
        max_content = int(environ.get("MAX_CONTENT_LENGTH") or 6 * 1024 * 1024)
    except ValueError:
        max_content = 6 * 1024 * 1024
    return {
        "MaxConcurrentTransforms": multiprocessing.cpu_count(),
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": max(max_content, 0) // (1024 * 1024),
    }


def build_handler(mode: str, model_dir: str, framework: str = "sklearn") -> Any:
    """Create (not load) the scoring handler for ``mode`` (``xgboost``, ``script``, or
    ``first-party`` with the algorithm's repository, e.g. ``kmeans``, as ``framework``)."""
    if mode == "xgboost":
        # The built-in container never uses xgboost's scikit-learn wrappers or plotting;
        # importing them costs ~1.5 s of start-up (xgboost skips them on ImportError).
        sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]
        sys.modules.setdefault("xgboost.plotting", None)  # type: ignore[arg-type]
        from simsage.serving.xgboost_handler import XGBoostHandler

        return XGBoostHandler(model_dir)
    if mode == "first-party":
        import importlib

        from simsage.algorithms.first_party import ALGORITHMS

        algorithm = ALGORITHMS.get(framework)
        if algorithm is None or not algorithm.emulated:
            raise ValueError(f"first-party algorithm {framework!r} is not served by simsage")
        module = importlib.import_module(algorithm.handler_module)
        return getattr(module, algorithm.handler)(model_dir)
    if mode == "script":
        from simsage.serving.script_handler import ScriptHandler

        return ScriptHandler(model_dir, framework=framework)
    raise ValueError(f"unknown serving mode {mode!r}; expected xgboost, first-party or script")
