"""Training on one host of the built-in XGBoost algorithm: its channels read into
DMatrix, ``xgboost.train`` with the container's callbacks (evaluation lines numbered
across checkpoints, early stopping, ``xgboost-checkpoint.<i>`` files, the model saved
on termination), and the host's outputs (``model/xgboost-model``, ``output/failure``).

Layer: algorithm, used by the entry point :mod:`simsage.algorithms.xgboost_train` and by
:mod:`simsage.algorithms.xgboost_distributed`. xgboost is passed in by the caller (it is
imported only once the job is known to be valid); every model file is written to a
temporary name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from simsage.algorithms import xgboost_data as data
from simsage.algorithms import xgboost_metrics as metrics
from simsage.algorithms.xgboost_data import JobConfig, UserError
from simsage.algorithms.xgboost_params import Plan

logger = logging.getLogger("simsage.algorithms.xgboost")

MODEL_NAME = "xgboost-model"
CHECKPOINT_NAME = "xgboost-checkpoint"
CHECKPOINTS_KEPT = 5


def load_data(job: JobConfig, plan: Plan, data_format: str) -> tuple[Any, Any]:
    """The train and validation DMatrix of this host (None where it has no rows)."""
    csv_weights = bool(plan.values.get("csv_weights", 0))
    loaded = []
    for name in ("train", "validation"):
        if name not in job.channels:
            loaded.append(None)
            continue
        logger.info("File path %s of input files", job.channel_dir(name))
        matrix = data.load_channel(job.channel_dir(name), data_format, csv_weights)
        if matrix is not None:
            data.check_labels(matrix.get_label(), name, plan.values, strict=name == "train")
        loaded.append(matrix)
    return loaded[0], loaded[1]


def train_job(xgboost: Any, job: JobConfig, plan: Plan, dtrain: Any, dvalidation: Any) -> None:
    """Train from the newest checkpoint (if any) to ``num_round`` and, on the master,
    save the model.

    Raises:
        UserError: xgboost refused the parameters or data, or a container metric failed.
    """
    logger.info("Train matrix has %s rows and %s columns", dtrain.num_row(), dtrain.num_col())
    if dvalidation is not None:
        logger.info("Validation matrix has %s rows", dvalidation.num_row())
    model_path = job.root / "model" / MODEL_NAME
    evals = [(dtrain, "train")]
    if dvalidation is not None:
        evals.append((dvalidation, "validation"))
    custom_metric = None
    if plan.container_metrics:
        custom_metric = metrics.container_metric_function(
            plan.container_metrics, plan.values["objective"], plan.values.get("num_class")
        )
    checkpoint, done = latest_checkpoint(job.checkpoint_dir)
    if checkpoint is not None:
        logger.info("Checkpoint loaded from %s", checkpoint)
        logger.info("Resuming from iteration %s", done)
    rounds = max(plan.values["num_round"] - done, 0)
    callbacks = _callbacks(xgboost, job, plan, dvalidation is not None, model_path)
    try:
        booster = xgboost.train(
            plan.booster_params(),
            dtrain,
            num_boost_round=rounds,
            evals=evals,
            custom_metric=custom_metric,
            callbacks=callbacks,
            xgb_model=str(checkpoint) if checkpoint is not None else None,
            verbose_eval=False,
        )
    except xgboost.core.XGBoostError as error:
        raise UserError(
            f"XGB train call failed with exception:\n {xgboost_message(error)}"
        ) from None
    except metrics.MetricError as error:
        raise UserError(str(error)) from None
    if job.is_master:
        _atomic_save(booster, model_path)
        logger.info("Stored trained model at %s", model_path)


def _callbacks(
    xgboost: Any, job: JobConfig, plan: Plan, has_validation: bool, model_path: Path
) -> list[Any]:
    values = plan.values
    callbacks = [_monitor(xgboost)]
    rounds = values.get("early_stopping_rounds")
    if rounds:
        if has_validation:
            metric = plan.stop_on
            direction = metrics.metric_direction(metric) if metric else None
            callbacks.append(
                xgboost.callback.EarlyStopping(
                    rounds=rounds,
                    data_name="validation",
                    metric_name=metric,
                    maximize=None if direction is None else direction == "Maximize",
                    save_best=job.is_master,
                )
            )
        else:
            logger.warning(
                "early_stopping_rounds needs a validation channel; training all %s rounds",
                values["num_round"],
            )
    if job.is_master and job.checkpoint_dir is not None:
        callbacks.append(_checkpoint_callback(xgboost, job.checkpoint_dir))
    if job.is_master and values.get("save_model_on_termination") == "true":
        callbacks.append(_intermediate_model_callback(xgboost, model_path))
    return callbacks


def _monitor(xgboost: Any) -> Any:
    class Monitor(xgboost.callback.EvaluationMonitor):
        """xgboost's evaluation lines, numbered from the rounds a checkpoint already
        holds (xgboost numbers a continued training from 0)."""

        def before_training(self, model: Any) -> Any:
            self.starting_round = model.num_boosted_rounds()
            return super().before_training(model)

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return super().after_iteration(model, epoch + self.starting_round, evals_log)

    return Monitor(logger=print_line)


def _checkpoint_callback(xgboost: Any, folder: Path) -> Any:
    class SaveCheckpoint(xgboost.callback.TrainingCallback):
        """``xgboost-checkpoint.<i>`` after every round, keeping the last few."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            iteration = model.num_boosted_rounds() - 1
            folder.mkdir(parents=True, exist_ok=True)
            _atomic_save(model, folder / f"{CHECKPOINT_NAME}.{iteration}")
            stale = folder / f"{CHECKPOINT_NAME}.{iteration - CHECKPOINTS_KEPT}"
            stale.unlink(missing_ok=True)
            return False

    return SaveCheckpoint()


def _intermediate_model_callback(xgboost: Any, model_path: Path) -> Any:
    class SaveModel(xgboost.callback.TrainingCallback):
        """The model so far, so a stopped job still has one."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            _atomic_save(model, model_path)
            return False

    return SaveModel()


def _atomic_save(booster: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.ubj")
    booster.save_model(str(temporary))
    os.replace(temporary, path)


def latest_checkpoint(folder: Path | None) -> tuple[Path | None, int]:
    """The newest ``xgboost-checkpoint.<i>`` in ``folder`` and the rounds it holds."""
    if folder is None or not folder.is_dir():
        return None, 0
    found = []
    for path in folder.iterdir():
        prefix, _, number = path.name.partition(".")
        if prefix == CHECKPOINT_NAME and number.isdigit():
            found.append((int(number), path))
    if not found:
        return None, 0
    number, path = max(found)
    return path, number + 1


def print_line(message: str) -> None:
    print(message.strip(), flush=True)


def xgboost_message(error: Exception) -> str:
    return str(error).split("Stack trace:", 1)[0].strip()


def write_failure(root: Path, message: str) -> None:
    failure = root / "output" / "failure"
    try:
        failure.parent.mkdir(parents=True, exist_ok=True)
        if not failure.exists():  # the first failure is the reason, as the toolkit does
            failure.write_text(message)
    except OSError:
        pass
