"""``PCA``: SageMaker's built-in principal component analysis (image ``pca:1``), its model
and predictor, with the official SDK v2's names and hyperparameters
(``sagemaker.amazon.pca``).

The predictor sends RecordIO-protobuf and answers one Record per row, its projection in
``record.label["projection"].float32_tensor.values``. Without ``mini_batch_size``,
training on a RecordSet sends ``min(500, records per host)``.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.amazon.amazon_estimator import (
    AmazonAlgorithmEstimatorBase,
    AmazonAlgorithmModel,
    AmazonAlgorithmPredictor,
)
from simsage.sdk.amazon.hyperparameter import Hyperparameter as hp
from simsage.sdk.amazon.hyperparameter import gt, isin


class PCAPredictor(AmazonAlgorithmPredictor):
    """Projects rows (a numpy array of ``feature_dim`` columns) on the components."""


class PCAModel(AmazonAlgorithmModel):
    """A trained PCA model; ``deploy`` returns a :class:`PCAPredictor`."""

    repo_name = "pca"
    default_predictor = PCAPredictor


class PCA(AmazonAlgorithmEstimatorBase):
    """Reduce records to ``num_components`` principal components.

    Parameters
    ----------
    num_components:
        How many components (> 0).
    algorithm_mode:
        ``regular`` or ``randomized``.
    subtract_mean:
        Centre the data first.
    extra_components:
        Extra components for the randomized mode (≥ 0, or -1 for the default).
    **kwargs:
        As :class:`AmazonAlgorithmEstimatorBase`.
    """

    repo_name = "pca"
    model_cls = PCAModel
    DEFAULT_MINI_BATCH_SIZE = 500

    num_components = hp("num_components", gt(0), "Value must be an integer greater than zero", int)
    algorithm_mode = hp(
        "algorithm_mode",
        isin("regular", "randomized"),
        'Value must be one of "regular" and "randomized"',
        str,
    )
    subtract_mean = hp(
        "subtract_mean", validation_message="Value must be a boolean", data_type=bool
    )
    extra_components = hp(
        "extra_components",
        validation_message="Value must be an integer greater than or equal to 0, or -1.",
        data_type=int,
    )

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        num_components: int | None = None,
        algorithm_mode: str | None = None,
        subtract_mean: bool | None = None,
        extra_components: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_components = num_components
        self.algorithm_mode = algorithm_mode
        self.subtract_mean = subtract_mean
        self.extra_components = extra_components

    def _prepare_for_training(
        self, records: Any, mini_batch_size: int | None = None, job_name: str | None = None
    ) -> None:
        super()._prepare_for_training(
            records, self._batch_or_default(records, mini_batch_size), job_name
        )
