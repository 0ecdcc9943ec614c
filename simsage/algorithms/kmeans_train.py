"""The built-in SageMaker k-means algorithm (image ``kmeans:1``), one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.kmeans_train

Layer: programs (runs as the container's ``train``); imports the first-party data formats
and the shared host-config reader of the XGBoost algorithm.

What it does, as the real algorithm describes itself (web-scale mini-batch k-means):
1. each host runs mini-batch k-means (scikit-learn ``MiniBatchKMeans``, ``epochs`` passes of
   ``mini_batch_size`` records) over its ``train`` records with ``k * extra_center_factor``
   centers, and weighs each center by the records closest to it;
2. with several hosts (``ShardedByS3Key``: each has its shard), every host sends its
   weighted centers to the first host over 127.0.0.1:``$SIMSAGE_TRACKER_PORT``;
3. the first host runs a local Lloyd pass (``KMeans`` on all weighted centers, weights =
   counts) down to ``k`` centers, logs ``train msd`` (and ``test msd``/``ssd`` on the
   optional ``test`` channel) and writes the model.

Model format (simsage's own; the real container writes an MXNet array, which no client
reads): ``model/kmeans-model.json`` = ``{"format": "simsage-kmeans/1", "k", "feature_dim",
"centers": [[...], ...]}``. Distances are Euclidean (whether the real container reports the
squared distance is unverified); msd/ssd are means/sums of squared distances.

A channel without ContentType is read as RecordIO-protobuf (what ``record_set()`` sends);
plain ``text/csv`` is read as features only (``label_size=0``, as the docs ask for
unsupervised data; whether the container's own default is 1 is unverified), and an
explicit ``label_size=1`` drops the first column.
On bad input (hyperparameters, data) the failure reason is ``ClientError: …`` in
``output/failure`` and the exit status 1. ``half_life_time_size`` is validated but has no
effect (scikit-learn's mini-batch k-means has no decay; 0, the default, means none).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import socket
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.algorithms.kmeans_metrics import EVAL_METRICS, metric_line
from simsage.algorithms.xgboost_data import JobConfig, UserError, read_config

logger = logging.getLogger("simsage.algorithms.kmeans")

OPT_ML_ENV = "SIMSAGE_OPT_ML"
PORT_ENV = "SIMSAGE_TRACKER_PORT"
PEER_TIMEOUT_ENV = "SIMSAGE_KMEANS_PEER_TIMEOUT"
MODEL_FILE = "kmeans-model.json"
MODEL_FORMAT = "simsage-kmeans/1"
CHANNELS = ("train", "test")
_HP_PREFIX = "Unable to initialize the algorithm. Failed to validate input hyperparameters. "


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters."""

    k: int
    feature_dim: int
    init_method: str = "random"
    extra_center_factor: int | None = None  # None: auto
    mini_batch_size: int = 5000
    epochs: int = 1
    local_lloyd_max_iter: int = 300
    local_lloyd_tol: float = 0.0001
    local_lloyd_init_method: str = "kmeans++"
    local_lloyd_num_trials: int | None = None  # None: auto (one trial)
    half_life_time_size: int = 0
    eval_metrics: tuple[str, ...] = ("msd",)


def _bad(message: str) -> UserError:
    return UserError(f"{_HP_PREFIX}(caused by ValidationError)\n\nCaused by: {message}")


def _int(values: dict[str, str], name: str, low: int, default: int | None = None) -> int:
    raw = values.get(name)
    if raw is None:
        if default is None:
            raise _bad(f"'{name}' is a required property")
        return default
    try:
        number = float(str(raw).strip())
        if not number.is_integer():
            raise ValueError
        value = int(number)
    except ValueError:
        raise _bad(
            f"{raw!r} is not valid under any of the given schemas ({name}: an integer)"
        ) from None
    if value < low:
        raise _bad(f"{value} is less than the minimum of {low} ({name})")
    return value


def _choice(values: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = str(values.get(name, default)).strip()
    if raw not in choices:
        raise _bad(f"{raw!r} is not one of {list(choices)} ({name})")
    return raw


def _auto_int(values: dict[str, str], name: str) -> int | None:
    """An integer ≥ 1, or None for ``auto`` (the default)."""
    if str(values.get(name, "auto")).strip() == "auto":
        return None
    return _int(values, name, 1)


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required or invalid hyperparameter (the failure reason).
    """
    known = set(Params.__dataclass_fields__) | {"force_dense", "_tuning_objective_metric"}
    extra = sorted(name for name in values if name not in known)
    if extra:
        raise _bad(f"Additional properties are not allowed ({', '.join(map(repr, extra))})")
    k = _int(values, "k", 2)
    feature_dim = _int(values, "feature_dim", 1)
    factor = _auto_int(values, "extra_center_factor")
    try:
        tol = float(values.get("local_lloyd_tol", 0.0001))
    except ValueError:
        raise _bad(f"{values['local_lloyd_tol']!r} is not a number (local_lloyd_tol)") from None
    if not 0 <= tol <= 1:
        raise _bad(f"{tol} is not within 0..1 (local_lloyd_tol)")
    metrics_raw = str(values.get("eval_metrics", '["msd"]'))
    try:
        metrics = json.loads(metrics_raw.replace("'", '"'))
    except ValueError:
        metrics = [m.strip() for m in metrics_raw.strip("[]").split(",") if m.strip()]
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not metrics or any(m not in EVAL_METRICS for m in metrics):
        raise _bad(f"{metrics_raw!r} is not valid: eval_metrics is a list of 'msd', 'ssd'")
    return Params(
        k=k,
        feature_dim=feature_dim,
        init_method=_choice(values, "init_method", ("random", "kmeans++"), "random"),
        extra_center_factor=factor,
        mini_batch_size=_int(values, "mini_batch_size", 1, 5000),
        epochs=_int(values, "epochs", 1, 1),
        local_lloyd_max_iter=_int(values, "local_lloyd_max_iter", 1, 300),
        local_lloyd_tol=tol,
        local_lloyd_init_method=_choice(
            values, "local_lloyd_init_method", ("random", "kmeans++"), "kmeans++"
        ),
        local_lloyd_num_trials=_auto_int(values, "local_lloyd_num_trials"),
        half_life_time_size=_int(values, "half_life_time_size", 0, 0),
        eval_metrics=tuple(dict.fromkeys(metrics)),
    )


def _sk_init(method: str) -> str:
    return "k-means++" if method == "kmeans++" else "random"


def load(job: JobConfig, channel: str, params: Params) -> Any:
    """A channel's records as X (labels, if any, are ignored)."""
    from simsage.algorithms.first_party_data import RECORDIO, load_channel

    # No ContentType means RecordIO-protobuf for the first-party algorithms: the SDK's
    # record_set() channels carry none, and the real algorithms read them as RecordIO.
    content_type = job.channels[channel].get("ContentType") or RECORDIO
    try:
        x, _ = load_channel(
            str(job.channel_dir(channel)),
            content_type,
            label_size=0,
            feature_dim=params.feature_dim,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return x


def local_centers(x: Any, params: Params) -> tuple[Any, Any]:
    """This host's mini-batch k-means: ``(centers, counts)`` with ``k*extra_center_factor``
    centers (fewer when the shard has fewer records)."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    rows = x.shape[0]
    factor = params.extra_center_factor
    if factor is None:  # auto: a few extra centers, more for more data (simsage's choice)
        factor = max(1, min(10, math.ceil(math.log10(max(rows, 10)))))
    n_centers = min(params.k * factor, rows)
    model = MiniBatchKMeans(
        n_clusters=n_centers,
        init=_sk_init(params.init_method),
        batch_size=min(params.mini_batch_size, rows),
        max_iter=params.epochs,
        n_init=1,
        random_state=0,
        compute_labels=True,
    ).fit(x)
    counts = np.bincount(model.predict(x), minlength=n_centers).astype(np.float64)
    return np.asarray(model.cluster_centers_, dtype=np.float64), counts


def lloyd(centers: Any, counts: Any, params: Params) -> Any:
    """The local Lloyd pass: k centers from the weighted centers of every host."""
    import numpy as np
    from sklearn.cluster import KMeans

    keep = counts > 0
    centers, counts = centers[keep], counts[keep]
    if centers.shape[0] < params.k:
        raise UserError(
            f"The training data has fewer distinct points than k={params.k}: give more "
            "records or a smaller k"
        )
    model = KMeans(
        n_clusters=params.k,
        init=_sk_init(params.local_lloyd_init_method),
        max_iter=params.local_lloyd_max_iter,
        tol=params.local_lloyd_tol,
        n_init=params.local_lloyd_num_trials or 1,
        random_state=0,
    ).fit(centers, sample_weight=counts)
    return np.asarray(model.cluster_centers_, dtype=np.float64)


def squared_distances(x: Any, centers: Any) -> tuple[Any, Any]:
    """``(closest center index, squared Euclidean distance)`` of every record."""
    import numpy as np
    from sklearn.metrics.pairwise import euclidean_distances

    squared = euclidean_distances(x, centers, squared=True)
    closest = np.argmin(squared, axis=1)
    return closest, np.maximum(squared[np.arange(squared.shape[0]), closest], 0.0)


def report(host: str, channel: str, x: Any, centers: Any, metrics: tuple[str, ...]) -> None:
    """Log the channel's metrics as the container does."""
    _, squared = squared_distances(x, centers)
    values = {"msd": float(squared.mean()), "ssd": float(squared.sum())}
    for metric in metrics:
        print(metric_line(host, channel, metric, values[metric]), flush=True)


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


def _pack(centers: Any, counts: Any, error: str = "") -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, centers=centers, counts=counts, error=np.array(error))
    return buffer.getvalue()


def _timeout() -> float:
    return float(os.environ.get(PEER_TIMEOUT_ENV) or 600)


def gather(job: JobConfig, centers: Any, counts: Any, error: str = "") -> tuple[Any, Any]:
    """Bring every host's weighted centers to the first host (which returns them all; the
    others return None). A host that failed sends its error so the first host stops too.

    Raises:
        UserError: a peer failed, or did not report within the timeout.
    """
    import numpy as np

    port = int(os.environ[PORT_ENV])
    if not job.is_master:
        deadline = time.monotonic() + _timeout()
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=_timeout()) as sock:
                    _send(sock, _pack(centers, counts, error))
                    _receive(sock)  # the first host's acknowledgement
                return None, None
            except OSError:
                if time.monotonic() > deadline:
                    raise UserError("could not reach the first host (algo-1)") from None
                time.sleep(0.1)
    all_centers, all_counts, errors = [centers], [counts], [error] if error else []
    with socket.create_server(("127.0.0.1", port)) as server:
        server.settimeout(_timeout())
        for _ in job.hosts[1:]:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                raise UserError("a host did not send its centers in time") from None
            with conn:
                conn.settimeout(_timeout())
                with np.load(io.BytesIO(_receive(conn))) as data:
                    if str(data["error"]):
                        errors.append(str(data["error"]))
                    else:
                        all_centers.append(data["centers"])
                        all_counts.append(data["counts"])
                _send(conn, b"ok")
    if errors:
        raise UserError(errors[0])
    return np.vstack(all_centers), np.concatenate(all_counts)


# -- the job ---------------------------------------------------------------------------


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    import numpy as np

    extra = sorted(set(job.channels) - set(CHANNELS))
    if extra:
        raise UserError(f"Extraneous channel(s) {', '.join(extra)}: k-means reads train and test")
    if "train" not in job.channels:
        raise UserError("k-means needs a 'train' channel")
    params = parse_params(job.hyperparameters)
    distributed = len(job.hosts) > 1
    x = None
    centers, counts = np.zeros((0, params.feature_dim)), np.zeros(0)
    try:
        if distributed and not _has_data(job.channel_dir("train")):
            # More hosts than ShardedByS3Key files: this host has no shard and adds nothing.
            logger.warning("Host %s has no training data: it adds no centers", job.current_host)
        else:
            x = load(job, "train", params)
            centers, counts = local_centers(x, params)
            logger.info("Host %s: %d records, %d local centers", job.current_host, x.shape[0],
                        centers.shape[0])  # fmt: skip
    except Exception as exc:
        if not distributed:
            raise
        # The first host waits for every host: tell it this one failed, then fail too.
        reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(UserError):
            gather(job, centers, counts, f"{job.current_host}: {reason}")
        raise
    if distributed:
        centers, counts = gather(job, centers, counts)
        if centers is None:  # not the first host: it has handed over its part
            return
    final = lloyd(centers, counts, params)
    if x is not None:
        report(job.current_host, "train", x, final, ("msd",))
    if "test" in job.channels:
        report(job.current_host, "test", load(job, "test", params), final, params.eval_metrics)
    model = {"format": MODEL_FORMAT, "k": params.k, "feature_dim": params.feature_dim,
             "centers": final.tolist()}  # fmt: skip
    (job.root / "model").mkdir(parents=True, exist_ok=True)
    (job.root / "model" / MODEL_FILE).write_text(json.dumps(model))


def _has_data(folder: Path) -> bool:
    return folder.is_dir() and any(
        f.is_file() and f.stat().st_size and not f.name.startswith((".", "_"))
        for f in folder.rglob("*")
    )


def _write_failure(root: Path, message: str) -> None:
    with contextlib.suppress(OSError):
        (root / "output").mkdir(parents=True, exist_ok=True)
        failure = root / "output" / "failure"
        if not failure.exists():
            failure.write_text(message)


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
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


if __name__ == "__main__":
    sys.exit(main())
