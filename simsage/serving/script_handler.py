"""Script-mode serving: the SageMaker inference toolkit's handler contract
(CONTRACTS C) for the scikit-learn and XGBoost framework images.

The user module is ``SAGEMAKER_PROGRAM`` (default ``inference.py``) found in
``SAGEMAKER_SUBMIT_DIRECTORY`` (a local folder) or ``<model_dir>/code``; that folder
goes on ``sys.path``. It may define ``model_fn``, ``input_fn``, ``predict_fn``,
``output_fn`` or ``transform_fn`` (the last excludes the other three); each may take a
trailing ``context``. Absent functions fall back to the toolkit's defaults. Any
exception in user code is a 500 whose body is ``"<msg>\\n<traceback>"``; an exception
carrying an integer ``status_code`` (the toolkit's ``BaseInferenceToolkitError``) sets
that status instead.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsage.serving import scoring
from simsage.serving.scoring import CUSTOM_ATTRIBUTES, Response, ScoringError

PROGRAM_ENV = "SAGEMAKER_PROGRAM"
SUBMIT_DIR_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
FRAMEWORKS = ("sklearn", "xgboost")
_HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")


class ModelLoadError(Exception):
    """The user module or its model cannot be loaded."""


class Context:
    """The ``context`` argument handed to handlers that accept one.

    Attributes
    ----------
    model_dir:
        The model directory.
    request_headers:
        The request's headers (lower-case names).
    response_headers:
        Headers a handler sets with :meth:`set_response_header`.
    """

    def __init__(self, model_dir: str, request_headers: dict[str, str]) -> None:
        self.model_dir = model_dir
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}
        self.request_headers = request_headers
        self.response_headers: dict[str, str] = {}

    @property
    def custom_attributes(self) -> str | None:
        """The request's ``X-Amzn-SageMaker-Custom-Attributes``, if any."""
        return self.request_headers.get(CUSTOM_ATTRIBUTES.lower())

    def get_request_header(self, idx: int, key: str) -> str | None:
        """TorchServe-style accessor used by toolkit handlers (``idx`` is ignored)."""
        return self.request_headers.get(key.lower())

    def set_response_header(self, key: str, value: str) -> None:
        """Add a header to the response."""
        self.response_headers[key] = value


def _wants_context(fn: Callable[..., Any], base_arity: int) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > base_arity


def _bind(fn: Callable[..., Any] | None, base_arity: int) -> Callable[..., Any] | None:
    """Wrap a user handler so it is always called ``(*args, context)``."""
    if fn is None:
        return None
    if _wants_context(fn, base_arity):
        return fn
    return lambda *args: fn(*args[:base_arity])


def import_user_module(module_dir: Path, program: str) -> Any:
    """Import ``program`` from ``module_dir`` (put on sys.path, as the toolkit does).

    Re-importing under the same name replaces the earlier module, so two servers in one
    process (tests, batch) each get their own code.
    """
    name = program[:-3] if program.endswith(".py") else program
    path = module_dir / f"{name}.py"
    if not path.is_file():
        raise ModelLoadError(f"{PROGRAM_ENV} {name}.py not found in {module_dir}")
    if str(module_dir) not in sys.path:
        sys.path.insert(0, str(module_dir))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ModelLoadError(f"importing {path.name} failed: {type(exc).__name__}: {exc}") from exc
    return module


def default_xgboost_model_fn(model_dir: str) -> Any:
    """The XGBoost framework image's default ``model_fn``: load ``xgboost-model``."""
    from simsage.serving.xgboost_handler import load_models

    return load_models(model_dir)[0]


def _status_of(exc: BaseException) -> int:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 100 <= status <= 599:
        return status
    return 500


def _error_body(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{message}\n{traceback.format_exc()}"


class ScriptHandler:
    """Serves a model with the user's inference script and the toolkit's defaults.

    Parameters
    ----------
    model_dir:
        The extracted model (``/opt/ml/model``).
    framework:
        ``sklearn`` (no default ``model_fn``) or ``xgboost`` (the default loads
        ``xgboost-model``; without a user module every default applies).
    environ:
        The container environment; defaults to ``os.environ``.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        framework: str = "sklearn",
        environ: dict[str, str] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.framework = framework
        self.environ = dict(os.environ if environ is None else environ)
        self.model_: Any = None

    def module_dir(self) -> Path:
        """Where the user module lives: SAGEMAKER_SUBMIT_DIRECTORY or <model_dir>/code."""
        submit = self.environ.get(SUBMIT_DIR_ENV)
        if submit:
            if submit.startswith("file://"):
                submit = submit[len("file://") :]
            if "://" in submit:
                raise ModelLoadError(
                    f"{SUBMIT_DIR_ENV}={submit} must be a local folder for the server "
                    "(the control plane downloads and extracts it first)"
                )
            return Path(submit)
        return self.model_dir / "code"

    def load(self) -> ScriptHandler:
        """Import the user module, check the handler set and call model_fn.

        Raises
        ------
        ModelLoadError
            For an unknown framework, a missing module (sklearn), transform_fn combined
            with input/predict/output fn, a missing model_fn (sklearn) or a failing one.
        """
        if self.framework not in FRAMEWORKS:
            raise ModelLoadError(
                f"unknown framework {self.framework!r}; expected one of {FRAMEWORKS}"
            )
        program = self.environ.get(PROGRAM_ENV) or "inference.py"
        module_dir = self.module_dir()
        module: Any = None
        try:
            module = import_user_module(module_dir, program)
        except ModelLoadError:
            module_name = program[:-3] if program.endswith(".py") else program
            if self.framework != "xgboost" or (module_dir / f"{module_name}.py").exists():
                raise
        fns = {name: getattr(module, name, None) for name in _HANDLER_NAMES}
        if fns["transform_fn"] is not None:
            combined = [n for n in ("input_fn", "predict_fn", "output_fn") if fns[n] is not None]
            if combined:
                raise ModelLoadError(
                    "Cannot use transform_fn implementation in conjunction with "
                    f"{', '.join(combined)} implementation"
                )
        model_fn = fns["model_fn"]
        if model_fn is None:
            if self.framework != "xgboost":
                raise ModelLoadError(
                    "Please provide a model_fn implementation. "
                    "See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/"
                )
            model_fn = default_xgboost_model_fn
        self.transform_fn_ = _bind(fns["transform_fn"], 4)
        self.input_fn_ = _bind(fns["input_fn"], 2) or self._default_input_fn
        self.predict_fn_ = _bind(fns["predict_fn"], 2) or self._default_predict_fn
        self.output_fn_ = _bind(fns["output_fn"], 2)
        self.default_accept_ = self.environ.get(DEFAULT_ACCEPT_ENV) or scoring.JSON
        load_context = Context(str(self.model_dir), {})
        try:
            self.model_ = _bind(model_fn, 1)(str(self.model_dir), load_context)  # type: ignore[misc]
        except Exception as exc:
            raise ModelLoadError(f"model_fn failed: {type(exc).__name__}: {exc}") from exc
        return self

    # -- toolkit defaults -------------------------------------------------------------
    def _default_input_fn(self, body: bytes, content_type: str, context: Context) -> Any:
        if self.framework == "xgboost":
            from simsage.serving import xgboost_handler

            base, _ = scoring.parse_content_type(content_type)
            if base in (scoring.CSV, scoring.LIBSVM, scoring.X_LIBSVM):
                import xgboost as xgb

                kind, data = xgboost_handler.parse_payload(body, content_type, 0)
                return xgb.DMatrix(data) if kind == "csv" else data
            import xgboost as xgb

            return xgb.DMatrix(scoring.decode(body, content_type))
        return scoring.decode(body, content_type)

    def _default_predict_fn(self, data: Any, model: Any, context: Context) -> Any:
        return model.predict(data)

    def _output(self, prediction: Any, accept: str | None, context: Context) -> tuple[bytes, str]:
        chosen = scoring.negotiate_accept(accept, scoring.ENCODABLE, self.default_accept_)
        if self.output_fn_ is not None:
            result = self.output_fn_(prediction, chosen or accept or self.default_accept_, context)
            return _body_and_type(result, chosen or accept or self.default_accept_)
        if chosen is None:
            raise ScoringError(415, scoring.unsupported_format_message(accept, scoring.ENCODABLE))
        return scoring.encode(prediction, chosen), chosen

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Answer one /invocations request.

        Raises
        ------
        ScoringError
            500 (or the exception's ``status_code``) with ``"<msg>\\n<traceback>"``;
            415 from the default codecs.
        """
        context = Context(str(self.model_dir), dict(headers or {}))
        content_type = content_type or scoring.JSON
        try:
            if self.transform_fn_ is not None:
                chosen = scoring.negotiate_accept(accept, scoring.ENCODABLE, self.default_accept_)
                result = self.transform_fn_(
                    self.model_,
                    body,
                    content_type,
                    chosen or accept or self.default_accept_,
                    context,
                )
                out, out_type = _body_and_type(result, chosen or self.default_accept_)
            else:
                data = self.input_fn_(body, content_type, context)
                prediction = self.predict_fn_(data, self.model_, context)
                out, out_type = self._output(prediction, accept, context)
        except ScoringError:
            raise
        except Exception as exc:
            raise ScoringError(_status_of(exc), _error_body(exc)) from exc
        return Response(out, out_type, headers=context.response_headers)


def _body_and_type(result: Any, default_type: str) -> tuple[bytes, str]:
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type = result
    else:
        body, content_type = result, default_type
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, (bytes, bytearray, memoryview)):
        body = (
            scoring.to_json(body).encode("utf-8")
            if content_type == scoring.JSON
            else str(body).encode()
        )
    return bytes(body), str(content_type)
