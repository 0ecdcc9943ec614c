"""``LinearLearner``: SageMaker's built-in linear learner (image ``linear-learner:1``), its
model and predictor, with the official SDK v2's names and hyperparameters
(``sagemaker.amazon.linear_learner``).

The predictor sends RecordIO-protobuf and answers one Record per row: ``score`` (and, for
classifiers, ``predicted_label``) in ``record.label``. Without ``mini_batch_size``,
training on a RecordSet sends ``min(1000, records per host)``.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.amazon.amazon_estimator import (
    AmazonAlgorithmEstimatorBase,
    AmazonAlgorithmModel,
    AmazonAlgorithmPredictor,
)
from simsage.sdk.amazon.hyperparameter import Hyperparameter as hp
from simsage.sdk.amazon.hyperparameter import ge, gt, isin, le, lt

_POSITIVE_FLOAT = "A float greater-than 0"
_NON_NEGATIVE_FLOAT = "A float greater-than or equal to 0"
_POSITIVE_INT = "An integer greater-than 0"
_UNIT_OPEN = "A float in (0,1)"
_UNIT_HALF_OPEN = "A float in [0,1)"


class LinearLearnerPredictor(AmazonAlgorithmPredictor):
    """Scores rows (a numpy array of ``feature_dim`` columns) with a linear model."""


class LinearLearnerModel(AmazonAlgorithmModel):
    """A trained linear learner; ``deploy`` returns a :class:`LinearLearnerPredictor`."""

    repo_name = "linear-learner"
    default_predictor = LinearLearnerPredictor


class LinearLearner(AmazonAlgorithmEstimatorBase):
    """Binary or multiclass classification, or regression, with linear models.

    Parameters
    ----------
    predictor_type:
        ``binary_classifier``, ``multiclass_classifier`` (then ``num_classes`` > 2) or
        ``regressor``.
    **kwargs:
        The other hyperparameters by attribute name, as in the official SDK (each
        validated on assignment): ``binary_classifier_model_selection_criteria``,
        ``target_recall``, ``target_precision``, ``positive_example_weight_mult``,
        ``epochs``, ``use_bias``, ``num_models``, ``num_calibration_samples``,
        ``init_method``, ``init_scale``, ``init_sigma``, ``init_bias``, ``optimizer``,
        ``loss``, ``wd``, ``l1``, ``momentum``, ``learning_rate``, ``beta_1``, ``beta_2``,
        ``bias_lr_mult``, ``bias_wd_mult``, ``use_lr_scheduler``, ``lr_scheduler_step``,
        ``lr_scheduler_factor``, ``lr_scheduler_minimum_lr``, ``normalize_data``,
        ``normalize_label``, ``unbias_data``, ``unbias_label``, ``num_point_for_scaler``,
        ``margin``, ``quantile``, ``loss_insensitivity``, ``huber_delta``,
        ``early_stopping_patience``, ``early_stopping_tolerance``, ``num_classes``,
        ``accuracy_top_k``, ``f_beta``, ``balance_multiclass_weights``; and the
        :class:`AmazonAlgorithmEstimatorBase` arguments.

    Raises
    ------
    ValueError
        A hyperparameter out of its range, or ``multiclass_classifier`` without
        ``num_classes`` > 2.
    """

    repo_name = "linear-learner"
    model_cls = LinearLearnerModel
    DEFAULT_MINI_BATCH_SIZE = 1000

    binary_classifier_model_selection_criteria = hp(
        "binary_classifier_model_selection_criteria",
        isin(
            "accuracy",
            "f1",
            "f_beta",
            "precision_at_target_recall",
            "recall_at_target_precision",
            "cross_entropy_loss",
            "loss_function",
        ),
        data_type=str,
    )
    target_recall = hp("target_recall", (gt(0), lt(1)), _UNIT_OPEN, float)
    target_precision = hp("target_precision", (gt(0), lt(1)), _UNIT_OPEN, float)
    positive_example_weight_mult = hp(
        "positive_example_weight_mult", (), "A float greater than 0 or 'auto' or 'balanced'", str
    )
    epochs = hp("epochs", gt(0), _POSITIVE_INT, int)
    predictor_type = hp(
        "predictor_type",
        isin("binary_classifier", "regressor", "multiclass_classifier"),
        'One of "binary_classifier" or "multiclass_classifier" or "regressor"',
        str,
    )
    use_bias = hp("use_bias", (), "Either True or False", bool)
    num_models = hp("num_models", gt(0), _POSITIVE_INT, int)
    num_calibration_samples = hp("num_calibration_samples", gt(0), _POSITIVE_INT, int)
    init_method = hp("init_method", isin("uniform", "normal"), 'One of "uniform" or "normal"', str)
    init_scale = hp("init_scale", gt(0), _POSITIVE_FLOAT, float)
    init_sigma = hp("init_sigma", gt(0), _POSITIVE_FLOAT, float)
    init_bias = hp("init_bias", (), "A number", float)
    optimizer = hp(
        "optimizer",
        isin("sgd", "adam", "rmsprop", "auto"),
        'One of "sgd", "adam", "rmsprop" or "auto',
        str,
    )
    loss = hp(
        "loss",
        isin(
            "logistic",
            "squared_loss",
            "absolute_loss",
            "hinge_loss",
            "eps_insensitive_squared_loss",
            "eps_insensitive_absolute_loss",
            "quantile_loss",
            "huber_loss",
            "softmax_loss",
            "auto",
        ),
        '"logistic", "squared_loss", "absolute_loss", "hinge_loss", '
        '"eps_insensitive_squared_loss", "eps_insensitive_absolute_loss", "quantile_loss", '
        '"huber_loss", "softmax_loss" or "auto"',
        str,
    )
    wd = hp("wd", ge(0), _NON_NEGATIVE_FLOAT, float)
    l1 = hp("l1", ge(0), _NON_NEGATIVE_FLOAT, float)
    momentum = hp("momentum", (ge(0), lt(1)), _UNIT_HALF_OPEN, float)
    learning_rate = hp("learning_rate", gt(0), _POSITIVE_FLOAT, float)
    beta_1 = hp("beta_1", (ge(0), lt(1)), _UNIT_HALF_OPEN, float)
    beta_2 = hp("beta_2", (ge(0), lt(1)), _UNIT_HALF_OPEN, float)
    bias_lr_mult = hp("bias_lr_mult", gt(0), _POSITIVE_FLOAT, float)
    bias_wd_mult = hp("bias_wd_mult", ge(0), _NON_NEGATIVE_FLOAT, float)
    use_lr_scheduler = hp("use_lr_scheduler", (), "A boolean", bool)
    lr_scheduler_step = hp("lr_scheduler_step", gt(0), _POSITIVE_INT, int)
    lr_scheduler_factor = hp("lr_scheduler_factor", (gt(0), lt(1)), _UNIT_OPEN, float)
    lr_scheduler_minimum_lr = hp("lr_scheduler_minimum_lr", gt(0), _POSITIVE_FLOAT, float)
    normalize_data = hp("normalize_data", (), "A boolean", bool)
    normalize_label = hp("normalize_label", (), "A boolean", bool)
    unbias_data = hp("unbias_data", (), "A boolean", bool)
    unbias_label = hp("unbias_label", (), "A boolean", bool)
    num_point_for_scaler = hp("num_point_for_scaler", gt(0), _POSITIVE_INT, int)
    margin = hp("margin", ge(0), _NON_NEGATIVE_FLOAT, float)
    quantile = hp("quantile", (gt(0), lt(1)), _UNIT_OPEN, float)
    loss_insensitivity = hp("loss_insensitivity", gt(0), _POSITIVE_FLOAT, float)
    huber_delta = hp("huber_delta", ge(0), _NON_NEGATIVE_FLOAT, float)
    early_stopping_patience = hp("early_stopping_patience", gt(0), _POSITIVE_INT, int)
    early_stopping_tolerance = hp("early_stopping_tolerance", gt(0), _POSITIVE_FLOAT, float)
    num_classes = hp("num_classes", (gt(0), le(1000000)), "An integer in [1,1000000]", int)
    accuracy_top_k = hp("accuracy_top_k", (gt(0), le(1000000)), "An integer in [1,1000000]", int)
    f_beta = hp("f_beta", gt(0), _POSITIVE_FLOAT, float)
    balance_multiclass_weights = hp("balance_multiclass_weights", (), "A boolean", bool)

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        predictor_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.predictor_type = predictor_type
        num_classes = self._hyperparameters.get("num_classes")
        if predictor_type == "multiclass_classifier" and (num_classes is None or num_classes < 3):
            raise ValueError(
                "For predictor_type 'multiclass_classifier', 'num_classes' should be set to a "
                "value greater than 2."
            )

    def _prepare_for_training(
        self, records: Any, mini_batch_size: int | None = None, job_name: str | None = None
    ) -> None:
        super()._prepare_for_training(
            records, self._batch_or_default(records, mini_batch_size), job_name
        )
