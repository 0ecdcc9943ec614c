"""What every first-party algorithm's ``train`` shares: hyperparameter validation with the
containers' messages, reading channels, merging hosts' results over 127.0.0.1, writing the
model, and the process's entry point.

Layer: programs (runs as the container's ``train``); imports the first-party data formats
and the XGBoost algorithm's host-config reader (``JobConfig``, ``UserError``).

Invariants:
- A hyperparameter error is a :class:`UserError` starting with the containers' words
  ("Unable to initialize the algorithm. Failed to validate input hyperparameters.") and
  naming the hyperparameter; :func:`run` writes it as ``ClientError: …`` to
  ``output/failure`` and exits 1. Any other exception is an ``AlgorithmError`` with the
  traceback in the log.
- A channel without ContentType is read as RecordIO-protobuf (what the SDK's
  ``record_set()`` sends; the real algorithms read it so).
- :func:`gather` brings one dict of numpy arrays from every host to the first host
  (``algo-1``) over ``127.0.0.1:$SIMSAGE_TRACKER_PORT``; a host that failed sends its
  error instead, so the first host fails with it rather than waiting.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsage.algorithms.xgboost_data import JobConfig, UserError, read_config

__all__ = ["Hyperparameters", "JobConfig", "UserError", "bad_hyperparameter",
           "check_distribution", "gather", "has_data", "load", "run", "write_arrays",
           "write_model"]  # fmt: skip

logger = logging.getLogger("simsage.algorithms.first_party")

OPT_ML_ENV = "SIMSAGE_OPT_ML"
PORT_ENV = "SIMSAGE_TRACKER_PORT"
PEER_TIMEOUT_ENV = "SIMSAGE_FIRST_PARTY_PEER_TIMEOUT"
HP_PREFIX = "Unable to initialize the algorithm. Failed to validate input hyperparameters. "
_ALWAYS_ALLOWED = frozenset({"_tuning_objective_metric", "force_dense"})


def bad_hyperparameter(message: str) -> UserError:
    """A hyperparameter error with the containers' wording."""
    return UserError(f"{HP_PREFIX}(caused by ValidationError)\n\nCaused by: {message}")


class Hyperparameters:
    """Typed reads of a job's hyperparameters (strings, as SageMaker passes them).

    Args:
        values: the job's hyperparameters.
        known: every name the algorithm accepts; any other is refused ("Additional
            properties are not allowed"), as the containers' schema does.
    """

    def __init__(self, values: dict[str, str], known: set[str] | frozenset[str]) -> None:
        self.values = {k: str(v).strip() for k, v in values.items()}
        extra = sorted(n for n in self.values if n not in known and n not in _ALWAYS_ALLOWED)
        if extra:
            raise bad_hyperparameter(
                f"Additional properties are not allowed ({', '.join(map(repr, extra))})"
            )

    def is_auto(self, name: str) -> bool:
        """Whether ``name`` is missing or ``auto``."""
        return self.values.get(name, "auto") == "auto"

    def integer(
        self, name: str, low: int | None = None, high: int | None = None, default: int | None = None
    ) -> int:
        """An integer in ``low..high``; missing means ``default`` (required when None)."""
        raw = self.values.get(name)
        if raw is None:
            if default is None:
                raise bad_hyperparameter(f"'{name}' is a required property")
            return default
        try:
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            value = int(number)
        except (ValueError, OverflowError):
            raise bad_hyperparameter(
                f"{raw!r} is not valid under any of the given schemas ({name}: an integer)"
            ) from None
        self._check_range(name, value, low, high)
        return value

    def number(
        self,
        name: str,
        low: float | None = None,
        high: float | None = None,
        default: float | None = None,
    ) -> float:
        """A finite float in ``low..high``; missing means ``default`` (required when None)."""
        raw = self.values.get(name)
        if raw is None:
            if default is None:
                raise bad_hyperparameter(f"'{name}' is a required property")
            return default
        try:
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
        except ValueError:
            raise bad_hyperparameter(
                f"{raw!r} is not valid under any of the given schemas ({name}: a number)"
            ) from None
        self._check_range(name, value, low, high)
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        """One of ``choices``; missing means ``default`` (required when None)."""
        raw = self.values.get(name)
        if raw is None:
            if default is None:
                raise bad_hyperparameter(f"'{name}' is a required property")
            return default
        if raw not in choices:
            raise bad_hyperparameter(f"{raw!r} is not one of {list(choices)} ({name})")
        return raw

    def boolean(self, name: str, default: bool) -> bool:
        """``true``/``false`` (any case; also ``1``/``0``)."""
        raw = self.values.get(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_hyperparameter(f"{raw!r} is not one of ['true', 'false'] ({name})")

    def auto_integer(
        self, name: str, low: int | None = None, high: int | None = None
    ) -> int | None:
        """An integer, or None for ``auto`` (the default)."""
        return None if self.is_auto(name) else self.integer(name, low, high)

    def auto_number(
        self, name: str, low: float | None = None, high: float | None = None
    ) -> float | None:
        """A number, or None for ``auto`` (the default)."""
        return None if self.is_auto(name) else self.number(name, low, high)

    def string_list(self, name: str, choices: tuple[str, ...], default: list[str]) -> list[str]:
        """A list such as ``["msd", "ssd"]`` (JSON, Python-quoted, or bare comma-separated)
        of values from ``choices``, duplicates dropped."""
        raw = self.values.get(name)
        if raw is None:
            return list(default)
        try:
            items = json.loads(raw.replace("'", '"'))
        except ValueError:
            items = [m.strip() for m in raw.strip("[]").split(",") if m.strip()]
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items or any(m not in choices for m in items):
            raise bad_hyperparameter(
                f"{raw!r} is not valid: {name} is a list of {', '.join(map(repr, choices))}"
            )
        return list(dict.fromkeys(items))

    @staticmethod
    def _check_range(name: str, value: float, low: float | None, high: float | None) -> None:
        if low is not None and value < low:
            raise bad_hyperparameter(f"{value} is less than the minimum of {low} ({name})")
        if high is not None and value > high:
            raise bad_hyperparameter(f"{value} is greater than the maximum of {high} ({name})")


def load(
    job: JobConfig, channel: str, label_size: int = 0, feature_dim: int | None = None
) -> tuple[Any, Any]:
    """A channel's records as ``(X, y)`` (y None without labels); CSV reads ``label_size``
    label columns unless its content type says (``text/csv;label_size=1``).

    Raises:
        UserError: an unsupported content type, no data, bad values, a width other than
            ``feature_dim``.
    """
    from simsage.algorithms.first_party_data import RECORDIO, load_channel

    content_type = job.channels[channel].get("ContentType") or RECORDIO
    try:
        return load_channel(
            str(job.channel_dir(channel)),
            content_type,
            label_size=label_size,
            feature_dim=feature_dim,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def has_data(folder: Path) -> bool:
    """Whether a channel folder holds a non-empty data file (with more hosts than
    ShardedByS3Key files, some hosts get none)."""
    return folder.is_dir() and any(
        f.is_file() and f.stat().st_size and not f.name.startswith((".", "_"))
        for f in folder.rglob("*")
    )


def check_channels(job: JobConfig, accepted: tuple[str, ...], algorithm: str) -> None:
    """Refuse channels the algorithm does not read, and a missing ``train``."""
    extra = sorted(set(job.channels) - set(accepted))
    if extra:
        raise UserError(
            f"Extraneous channel(s) {', '.join(extra)}: {algorithm} reads {', '.join(accepted)}"
        )
    if "train" not in job.channels:
        raise UserError(f"{algorithm} needs a 'train' channel")


def check_distribution(job: JobConfig, channel: str, allowed: tuple[str, ...]) -> None:
    """Refuse a channel whose S3DataDistributionType the algorithm does not take, as the
    containers do when they validate the input data configuration (a ClientError when the
    job starts, not a CreateTrainingJob refusal)."""
    given = (job.channels.get(channel) or {}).get("S3DistributionType") or "FullyReplicated"
    if given not in allowed:
        raise UserError(
            "Unable to initialize the algorithm. Failed to validate input data configuration. "
            f"(caused by ValidationError)\n\nCaused by: {given!r} is not one of "
            f"{list(allowed)} ({channel} channel: S3DataDistributionType)"
        )


# -- several hosts -------------------------------------------------------------------


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!Q", len(payload)) + payload)


def _receive(sock: socket.socket) -> bytes:
    def exactly(size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = sock.recv(min(left, 1 << 20))
            if not chunk:
                raise ConnectionError("peer closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    (size,) = struct.unpack("!Q", exactly(8))
    return exactly(size)


def _pack(arrays: dict[str, Any], error: str) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **{f"a_{k}": v for k, v in arrays.items()}, error__=np.array(error))
    return buffer.getvalue()


def _unpack(payload: bytes) -> tuple[dict[str, Any], str]:
    import numpy as np

    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        arrays = {k[2:]: data[k] for k in data.files if k.startswith("a_")}
        return arrays, str(data["error__"])


def _timeout() -> float:
    return float(os.environ.get(PEER_TIMEOUT_ENV) or 600)


def gather(job: JobConfig, arrays: dict[str, Any], error: str = "") -> list[dict[str, Any]] | None:
    """Bring every host's ``arrays`` to the first host.

    Returns:
        On the first host, every host's arrays (its own first, then in arrival order);
        on the others, None once the first host has acknowledged them.

    Raises:
        UserError: a host failed (its error), or did not report within the timeout
            (``$SIMSAGE_FIRST_PARTY_PEER_TIMEOUT`` seconds, 600 by default).
    """
    if len(job.hosts) == 1:
        if error:
            raise UserError(error)
        return [arrays]
    port = int(os.environ[PORT_ENV])
    if not job.is_master:
        deadline = time.monotonic() + _timeout()
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=_timeout()) as sock:
                    _send(sock, _pack(arrays, error))
                    _receive(sock)  # the first host's acknowledgement
                return None
            except OSError:
                if time.monotonic() > deadline:
                    raise UserError("could not reach the first host (algo-1)") from None
                time.sleep(0.1)
    results, errors = [arrays], [error] if error else []
    with socket.create_server(("127.0.0.1", port)) as server:
        server.settimeout(_timeout())
        for _ in job.hosts[1:]:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                raise UserError("a host did not send its part in time") from None
            with conn:
                conn.settimeout(_timeout())
                received, peer_error = _unpack(_receive(conn))
                if peer_error:
                    errors.append(peer_error)
                else:
                    results.append(received)
                _send(conn, b"ok")
    if errors:
        raise UserError(errors[0])
    return results


def gather_or_fail(job: JobConfig, compute: Callable[[], dict[str, Any]]) -> list | None:
    """Run this host's part (``compute``) and :func:`gather` it; if it fails on a host of
    several, tell the first host (which would otherwise wait) and fail too."""
    try:
        arrays = compute()
    except Exception as exc:
        if len(job.hosts) == 1:
            raise
        reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(UserError):
            gather(job, {}, f"{job.current_host}: {reason}")
        raise
    return gather(job, arrays)


# -- the model and the process ---------------------------------------------------------


def write_model(job: JobConfig, filename: str, model: dict[str, Any]) -> None:
    """Write the model file (JSON) to ``model/``, which SageMaker packs as model.tar.gz."""
    folder = job.root / "model"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{filename}.tmp"
    temporary.write_text(json.dumps(model))
    temporary.replace(folder / filename)


def write_arrays(job: JobConfig, filename: str, arrays: dict[str, Any]) -> None:
    """Write numpy arrays (an uncompressed ``.npz``: fast to load, no pickles) to
    ``model/``, for models too big for JSON (e.g. k-NN's sampled points)."""
    import numpy as np

    folder = job.root / "model"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{filename}.tmp"
    with temporary.open("wb") as handle:
        np.savez(handle, **arrays)
    temporary.replace(folder / filename)


def _write_failure(root: Path, message: str) -> None:
    with contextlib.suppress(OSError):
        (root / "output").mkdir(parents=True, exist_ok=True)
        failure = root / "output" / "failure"
        if not failure.exists():
            failure.write_text(message)


def run(train: Callable[[JobConfig], None]) -> int:
    """Entry point: run ``train`` on the job described by ``$SIMSAGE_OPT_ML``; returns the
    exit code (0, or 1 with ``output/failure`` written)."""
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="[%(asctime)s %(levelname)s] %(message)s"
    )
    raw_root = os.environ.get(OPT_ML_ENV)
    if not raw_root:
        print(f"{OPT_ML_ENV} is not set: it must name the host's /opt/ml folder", file=sys.stderr)
        return 2
    root = Path(raw_root)
    try:
        train(read_config(root))
    except UserError as error:
        logger.error("Customer Error: %s", error)
        _write_failure(root, f"ClientError: {error}")
        return 1
    except Exception as error:  # an algorithm bug: keep the traceback in the log
        traceback.print_exc()
        _write_failure(root, f"AlgorithmError: {type(error).__name__}: {error}")
        return 1
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "success").touch()
    return 0
