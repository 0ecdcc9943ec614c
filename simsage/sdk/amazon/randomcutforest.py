"""``RandomCutForest``: SageMaker's built-in random cut forest anomaly detector (image
``randomcutforest:1``), its model and predictor, with the official SDK v2's names and
hyperparameters (``sagemaker.amazon.randomcutforest``).

The predictor sends RecordIO-protobuf and answers one Record per row, its anomaly score
in ``record.label["score"].float32_tensor.values[0]``. The forest trains with a fixed
``mini_batch_size`` of 1000 (another value is refused) and ``feature_dim`` in [1, 10000].
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.amazon.amazon_estimator import (
    AmazonAlgorithmEstimatorBase,
    AmazonAlgorithmModel,
    AmazonAlgorithmPredictor,
)
from simsage.sdk.amazon.hyperparameter import Hyperparameter as hp
from simsage.sdk.amazon.hyperparameter import ge, le


class RandomCutForestPredictor(AmazonAlgorithmPredictor):
    """Scores rows (a numpy array of ``feature_dim`` columns): higher is more anomalous."""


class RandomCutForestModel(AmazonAlgorithmModel):
    """A trained forest; ``deploy`` returns a :class:`RandomCutForestPredictor`."""

    repo_name = "randomcutforest"
    default_predictor = RandomCutForestPredictor


class RandomCutForest(AmazonAlgorithmEstimatorBase):
    """Detect anomalies with a forest of random cut trees.

    Parameters
    ----------
    num_samples_per_tree:
        Each tree's reservoir sample size, in [1, 2048].
    num_trees:
        Trees in the forest, in [50, 1000].
    eval_metrics:
        For a ``test`` channel with labels: ``["accuracy", "precision_recall_fscore"]``.
    **kwargs:
        As :class:`AmazonAlgorithmEstimatorBase`.
    """

    repo_name = "randomcutforest"
    model_cls = RandomCutForestModel
    MINI_BATCH_SIZE = 1000

    eval_metrics = hp(
        "eval_metrics",
        validation_message='A comma separated list of "accuracy" or "precision_recall_fscore"',
        data_type=list,
    )
    num_trees = hp("num_trees", (ge(50), le(1000)), "An integer in [50, 1000]", int)
    num_samples_per_tree = hp(
        "num_samples_per_tree", (ge(1), le(2048)), "An integer in [1, 2048]", int
    )
    feature_dim = hp("feature_dim", (ge(1), le(10000)), "An integer in [1, 10000]", int)

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        num_samples_per_tree: int | None = None,
        num_trees: int | None = None,
        eval_metrics: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_samples_per_tree = num_samples_per_tree
        self.num_trees = num_trees
        self.eval_metrics = eval_metrics

    def _prepare_for_training(
        self, records: Any, mini_batch_size: int | None = None, job_name: str | None = None
    ) -> None:
        """Raises ValueError for a ``mini_batch_size`` other than 1000."""
        if mini_batch_size is None:
            mini_batch_size = self.MINI_BATCH_SIZE
        elif mini_batch_size != self.MINI_BATCH_SIZE:
            raise ValueError(
                f"Random Cut Forest uses a fixed mini_batch_size of {self.MINI_BATCH_SIZE}"
            )
        super()._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)
