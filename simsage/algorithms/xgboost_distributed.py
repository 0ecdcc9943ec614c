"""Distributed training of the built-in XGBoost algorithm: one host of several.

The first host (sorted) runs ``xgboost.tracker.RabitTracker`` on
127.0.0.1:``$SIMSAGE_TRACKER_PORT``; every host joins as a worker whose task id is its
host name, rebuilds its matrices inside the communicator and trains with the others;
only the first host (rank 0) saves the model, as in the real container. A host whose
data is bad tells the others to stop (``collective.signal_error``) instead of leaving
them waiting, and a peer that went away is reported as that, not as xgboost's socket
error.

Layer: algorithm, above :mod:`simsage.algorithms.xgboost_training` (the training of one
host), used by the entry point :mod:`simsage.algorithms.xgboost_train`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

from simsage.algorithms.xgboost_data import JobConfig, UserError
from simsage.algorithms.xgboost_params import Plan
from simsage.algorithms.xgboost_training import (
    load_data,
    train_job,
    write_failure,
    xgboost_message,
)

logger = logging.getLogger("simsage.algorithms.xgboost")

TRACKER_PORT_ENV = "SIMSAGE_TRACKER_PORT"
TRACKER_TIMEOUT_ENV = "SIMSAGE_XGBOOST_TRACKER_TIMEOUT"

# How xgboost's collective reports a peer that went away.
_BROKEN_CONNECTION = ("ring allreduce", "ring allgather", "socket")


def train_cluster(job: JobConfig, plan: Plan, data_format: str) -> None:
    """One host of a distributed job: the first host also runs the tracker (started
    before reading data, so the others can connect as soon as they are ready)."""
    tracker = _start_tracker(job)
    try:
        import xgboost

        try:
            dtrain, dvalidation = load_data(job, plan, data_format)
        except UserError as error:
            # The others would wait for this host forever: join, and tell them to stop.
            write_failure(job.root, str(error))
            _signal_error(job)
            raise
        logger.info("Distributed node training with %s hosts: %s", len(job.hosts), job.hosts)
        if dtrain is None:
            logger.warning(
                "Host %s does not have training data; it joins the cluster with no rows. Divide "
                "the training data across instances (ShardedByS3Key) so every host has some.",
                job.current_host,
            )
        _train_distributed(xgboost, job, plan, dtrain, dvalidation)
        if tracker is not None:
            tracker.wait_for()
    finally:
        if tracker is not None:
            with contextlib.suppress(Exception):  # after a failure the tracker may complain
                tracker.free()


def _start_tracker(job: JobConfig) -> Any:
    port = _tracker_port()
    if not job.is_master:
        return None
    from xgboost.tracker import RabitTracker

    timeout = int(os.environ.get(TRACKER_TIMEOUT_ENV, "300"))
    tracker = RabitTracker(
        n_workers=len(job.hosts), host_ip="127.0.0.1", port=port, sortby="task", timeout=timeout
    )
    tracker.start()
    logger.info("Started the XGBoost tracker on 127.0.0.1:%s for %s hosts", port, len(job.hosts))
    return tracker


def _tracker_port() -> int:
    raw = os.environ.get(TRACKER_PORT_ENV)
    if not raw or not raw.isdigit():
        raise UserError(
            f"Distributed training needs the tracker port in ${TRACKER_PORT_ENV} (got {raw!r})"
        )
    return int(raw)


def _worker_args(job: JobConfig) -> dict[str, Any]:
    port = _tracker_port()
    _wait_for_listener(port, time.monotonic() + 60)
    return {
        "dmlc_tracker_uri": "127.0.0.1",
        "dmlc_tracker_port": port,
        "dmlc_task_id": job.current_host,
        "dmlc_retry": 30,
    }


def _signal_error(job: JobConfig) -> None:
    from xgboost import collective

    with contextlib.suppress(Exception), collective.CommunicatorContext(**_worker_args(job)):
        collective.signal_error()


def _wait_for_listener(port: int, deadline: float) -> None:
    """Wait (Linux: by reading /proc/net/tcp, without touching the socket) until the
    tracker listens, so the worker's first connection succeeds instead of backing off."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return
    wanted = f":{port:04X}"
    while time.monotonic() < deadline:
        for table in tables:
            try:
                lines = table.read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":
                    return
        time.sleep(0.05)


def _train_distributed(
    xgboost: Any, job: JobConfig, plan: Plan, dtrain: Any, dvalidation: Any
) -> None:
    from xgboost import collective

    if "nthread" not in plan.values:
        # The hosts share this machine: splitting its CPUs avoids OpenMP threads spinning
        # against each other at every allreduce (several times slower otherwise).
        cpus = int(os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1)
        nthread = max(1, cpus // len(job.hosts))
        plan = dataclasses.replace(plan, values={**plan.values, "nthread": nthread})
        logger.info("The %s hosts share %s CPUs: nthread=%s", len(job.hosts), cpus, nthread)
    try:
        with collective.CommunicatorContext(**_worker_args(job)):
            dtrain = _rebuild(xgboost, dtrain)
            if "validation" in job.channels:
                dvalidation = _rebuild(xgboost, dvalidation)
            rank, size = collective.get_rank(), collective.get_world_size()
            logger.info("Host %s is rank %s of %s", job.current_host, rank, size)
            train_job(xgboost, job, plan, dtrain, dvalidation)
    except (xgboost.core.XGBoostError, UserError) as error:
        message = str(error) if isinstance(error, UserError) else xgboost_message(error)
        if any(sign in message.lower() for sign in _BROKEN_CONNECTION):
            raise UserError(
                "Distributed training failed: the connection to another host broke, most "
                f"likely because that host failed first (see its log).\n {message}"
            ) from None
        raise UserError(message) from None


def _rebuild(xgboost: Any, dmatrix: Any) -> Any:
    """The same matrix, built inside the communicator and the same way on every host:
    building a DMatrix in a distributed job is itself a collective call (the hosts agree
    on the number of columns), so a host without rows gets an empty one, synced too."""
    import numpy as np
    import scipy.sparse

    if dmatrix is None:
        empty = scipy.sparse.csr_matrix((0, 0), dtype=np.float32)
        return xgboost.DMatrix(empty, label=np.empty(0, dtype=np.float32))
    weight = dmatrix.get_weight()
    rebuilt = xgboost.DMatrix(
        dmatrix.get_data(), label=dmatrix.get_label(), weight=weight if weight.size else None
    )
    group_pointers = dmatrix.get_uint_info("group_ptr")
    if group_pointers.size > 1:
        rebuilt.set_group(np.diff(group_pointers))
    return rebuilt
