"""The built-in SageMaker XGBoost algorithm (algorithm mode of the sagemaker-xgboost
container, versions 1.x–3.x), run as one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.xgboost_train

The host root is an ``/opt/ml``-shaped folder: ``input/config/*.json``,
``input/data/<channel>/``, ``model/``, ``output/``. The process validates the
hyperparameters and channels, reads ``train`` (and ``validation``), trains with
``xgboost.train`` printing xgboost's own evaluation lines
(``[i]\\ttrain-rmse:…\\tvalidation-rmse:…``), and saves ``model/xgboost-model``
(``Booster.save_model``). On failure it writes the reason to ``output/failure`` and
exits 1.

With several hosts, every host trains on its own data with XGBoost's collective
communication: the first host (sorted) runs ``xgboost.tracker.RabitTracker`` on
127.0.0.1:``$SIMSAGE_TRACKER_PORT``, every host joins as a worker whose task id is its
host name, and only the first host saves the model and prints the evaluation lines
(rank 0, as in the real container). The workers' own listening sockets bind every
interface (xgboost 3.x has no setting for their address), so the runner starts the hosts
in a loopback-only network namespace (:mod:`simsage.runtime.network`).

This module is the process (logging as the container prints it, the entry point, the
exit status and ``output/success``/``failure``); the work is split by responsibility:
:mod:`~simsage.algorithms.xgboost_params` (hyperparameters and the :class:`Plan`),
:mod:`~simsage.algorithms.xgboost_training` (one host's data, callbacks, model) and
:mod:`~simsage.algorithms.xgboost_distributed` (the tracker and the workers).

Start-up is kept lean: only the standard library is imported at module level, the slow
scikit-learn import xgboost would do is blocked, and pandas/pyarrow are imported only
for the formats that need them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsage.algorithms.xgboost_data import JobConfig, UserError, read_config, validate_channels
from simsage.algorithms.xgboost_distributed import train_cluster
from simsage.algorithms.xgboost_params import Plan
from simsage.algorithms.xgboost_training import (
    load_data,
    print_line,
    train_job,
    write_failure,
    xgboost_message,
)

logger = logging.getLogger("simsage.algorithms.xgboost")

OPT_ML_ENV = "SIMSAGE_OPT_ML"
LOG_FORMAT = "[%(asctime)s:%(levelname)s] %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d:%H:%M:%S"


def train(job: JobConfig) -> None:
    """Run the job of one host: validate, read data, train (with the other hosts), save.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    plan = Plan.from_hyperparameters(job.hyperparameters)
    data_format = validate_channels(job.channels)
    if plan.values.get("_tuning_objective_metric"):
        tuning = plan.values["_tuning_objective_metric"]
        logger.info("Setting up HPO optimized metric to be : %s", tuning[1])
    logger.info(
        "Determined %s GPU(s) available on the instance.", os.environ.get("SM_NUM_GPUS", "0")
    )
    if len(job.hosts) > 1:
        train_cluster(job, plan, data_format)
        return
    import xgboost

    dtrain, dvalidation = load_data(job, plan, data_format)
    if dtrain is None:
        raise UserError(f"No data in training channel path {job.channel_dir('train')}")
    if "validation" in job.channels and dvalidation is None:
        raise UserError(f"No data in validation channel path {job.channel_dir('validation')}")
    logger.info("Single node training.")
    train_job(xgboost, job, plan, dtrain, dvalidation)


# -- process ---------------------------------------------------------------------------


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """xgboost's native warnings (``[12:00:00] WARNING: …``) go to stdout as the container
    prints them; other warnings keep Python's format on stderr."""
    text = str(message)
    if "WARNING:" in text and text.lstrip().startswith("["):
        print_line(text)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _setup_process() -> None:
    # xgboost imports scikit-learn (≈1 s) when it is installed, and its plotting and
    # sklearn modules (scipy.special, ≈0.1 s), only for APIs this process never uses;
    # xgboost's __init__ skips those on ImportError.
    sys.modules.setdefault("sklearn", None)  # type: ignore[assignment]
    sys.modules.setdefault("xgboost.plotting", None)  # type: ignore[assignment]
    with contextlib.suppress(AttributeError):  # a replaced stdout may not have it
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    warnings.showwarning = _show_warning
    warnings.filterwarnings("ignore", message=".*Saving model in the UBJSON format as default.*")


def main(adapt: Callable[[JobConfig], JobConfig] | None = None) -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code.

    ``adapt`` rewrites the job before it is validated (an image's own parameter
    handling, e.g. :mod:`simsage.algorithms.xgboost_legacy`); it may raise UserError.
    """
    _setup_process()
    raw_root = os.environ.get(OPT_ML_ENV)
    if not raw_root:
        print(
            f"{OPT_ML_ENV} is not set: it must name the host's /opt/ml-shaped folder",
            file=sys.stderr,
        )
        return 2
    root = Path(raw_root)
    logger.info("Running XGBoost Sagemaker in algorithm mode")
    try:
        job = read_config(root)
        train(adapt(job) if adapt is not None else job)
    except UserError as error:
        logger.error("Reporting training FAILURE")
        logger.error("%s", error)
        # SageMaker reports the container's user errors as ClientError.
        write_failure(root, f"ClientError: {error}")
        return 1
    except Exception as error:  # an algorithm bug: keep the traceback in the log
        logger.error("Reporting training FAILURE")
        traceback.print_exc()
        message = xgboost_message(error)
        write_failure(root, f"framework error: {type(error).__name__}: {message}")
        return 1
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "success").touch()
    return 0


def _exit_now(code: int) -> None:
    """Leave without the interpreter's teardown (about 0.2 s once xgboost and numpy are
    loaded): the model and the failure report are already on disk and the output is
    flushed here, so nothing is lost and the job finishes sooner."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(adapt: Callable[[JobConfig], JobConfig] | None = None) -> None:
    """Run the job as this module's ``__main__`` does, then leave the process."""
    _exit_now(main(adapt))


if __name__ == "__main__":
    run()
