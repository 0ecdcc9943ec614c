"""``KMeans``: SageMaker's built-in k-means (image ``kmeans:1``), its model and predictor,
with the official SDK v2's names and hyperparameters (``sagemaker.amazon.kmeans``).

The predictor sends RecordIO-protobuf and answers one Record per row, the cluster in
``record.label["closest_cluster"].float32_tensor.values[0]`` and the distance to it in
``label["distance_to_cluster"]``. As the official SDK, training sends
``force_dense=True``; a tuning job on a RecordSet without ``mini_batch_size`` sends 5000.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.amazon.amazon_estimator import (
    AmazonAlgorithmEstimatorBase,
    AmazonAlgorithmModel,
    AmazonAlgorithmPredictor,
)
from simsage.sdk.amazon.hyperparameter import Hyperparameter as hp
from simsage.sdk.amazon.hyperparameter import ge, gt, isin, le


class KMeansPredictor(AmazonAlgorithmPredictor):
    """Assigns rows (a numpy array of ``feature_dim`` columns) to their closest cluster."""


class KMeansModel(AmazonAlgorithmModel):
    """A trained k-means model; ``deploy`` returns a :class:`KMeansPredictor`."""

    repo_name = "kmeans"
    default_predictor = KMeansPredictor


class KMeans(AmazonAlgorithmEstimatorBase):
    """Cluster unlabeled records into ``k`` groups.

    Parameters (each optional, validated on assignment; see the SageMaker k-means
    hyperparameters): ``k`` (> 1), ``init_method`` (``random`` or ``kmeans++``),
    ``max_iterations`` (``local_lloyd_max_iter``), ``tol`` (``local_lloyd_tol``, in
    [0, 1]), ``num_trials`` (``local_lloyd_num_trials``), ``local_init_method``
    (``local_lloyd_init_method``), ``half_life_time_size`` (≥ 0), ``epochs`` (> 0),
    ``center_factor`` (``extra_center_factor``), ``eval_metrics`` (``["msd", "ssd"]``);
    the rest as :class:`AmazonAlgorithmEstimatorBase`.
    """

    repo_name = "kmeans"
    model_cls = KMeansModel

    k = hp("k", gt(1), "An integer greater-than 1", int)
    init_method = hp("init_method", isin("random", "kmeans++"), 'One of "random", "kmeans++"', str)
    max_iterations = hp("local_lloyd_max_iter", gt(0), "An integer greater-than 0", int)
    tol = hp("local_lloyd_tol", (ge(0), le(1)), "An float in [0, 1]", float)
    num_trials = hp("local_lloyd_num_trials", gt(0), "An integer greater-than 0", int)
    local_init_method = hp(
        "local_lloyd_init_method", isin("random", "kmeans++"), 'One of "random", "kmeans++"', str
    )
    half_life_time_size = hp(
        "half_life_time_size", ge(0), "An integer greater-than-or-equal-to 0", int
    )
    epochs = hp("epochs", gt(0), "An integer greater-than 0", int)
    center_factor = hp("extra_center_factor", gt(0), "An integer greater-than 0", int)
    eval_metrics = hp(
        "eval_metrics",
        validation_message='A comma separated list of "msd" or "ssd"',
        data_type=list,
    )

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        k: int | None = None,
        init_method: str | None = None,
        max_iterations: int | None = None,
        tol: float | None = None,
        num_trials: int | None = None,
        local_init_method: str | None = None,
        half_life_time_size: int | None = None,
        epochs: int | None = None,
        center_factor: int | None = None,
        eval_metrics: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.init_method = init_method
        self.max_iterations = max_iterations
        self.tol = tol
        self.num_trials = num_trials
        self.local_init_method = local_init_method
        self.half_life_time_size = half_life_time_size
        self.epochs = epochs
        self.center_factor = center_factor
        self.eval_metrics = eval_metrics

    def _prepare_for_training(
        self, records: Any, mini_batch_size: int | None = 5000, job_name: str | None = None
    ) -> None:
        super()._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)

    def hyperparameters(self) -> dict[str, str]:
        """``force_dense=True`` (k-means trains on dense records) and the ones set."""
        return {"force_dense": "True", **super().hyperparameters()}
