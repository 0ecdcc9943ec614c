"""``KNN``: SageMaker's built-in k-nearest-neighbours (image ``knn:1``), its model and
predictor, with the official SDK v2's names and hyperparameters (``sagemaker.amazon.knn``).

The predictor sends RecordIO-protobuf and answers one Record per row, the prediction in
``record.label["predicted_label"].float32_tensor.values[0]``. ``mini_batch_size`` is sent
only when given.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.amazon.amazon_estimator import (
    AmazonAlgorithmEstimatorBase,
    AmazonAlgorithmModel,
    AmazonAlgorithmPredictor,
)
from simsage.sdk.amazon.hyperparameter import Hyperparameter as hp
from simsage.sdk.amazon.hyperparameter import ge, isin

_POSITIVE_INT = "An integer greater than 0"


class KNNPredictor(AmazonAlgorithmPredictor):
    """Predicts labels (classifier) or values (regressor) for rows (a numpy array of
    ``feature_dim`` columns) from their nearest training records."""


class KNNModel(AmazonAlgorithmModel):
    """A trained k-NN index; ``deploy`` returns a :class:`KNNPredictor`."""

    repo_name = "knn"
    default_predictor = KNNPredictor


class KNN(AmazonAlgorithmEstimatorBase):
    """Classify or regress by the ``k`` nearest of ``sample_size`` sampled records.

    Parameters
    ----------
    k, sample_size:
        Neighbours per prediction, and records kept in the index (≥ 1 each).
    predictor_type:
        ``classifier`` or ``regressor``.
    dimension_reduction_type, dimension_reduction_target:
        ``sign`` or ``fjlt``, to ``dimension_reduction_target`` dimensions (required
        with a type).
    index_type, index_metric:
        ``faiss.Flat``, ``faiss.IVFFlat`` or ``faiss.IVFPQ``; ``COSINE``,
        ``INNER_PRODUCT`` or ``L2``.
    faiss_index_ivf_nlists, faiss_index_pq_m:
        The IVF lists (``"auto"`` or an integer) and PQ sub-vectors.
    **kwargs:
        As :class:`AmazonAlgorithmEstimatorBase`.

    Raises
    ------
    ValueError
        A hyperparameter out of its range, or a reduction type without a target.
    """

    repo_name = "knn"
    model_cls = KNNModel

    k = hp("k", ge(1), _POSITIVE_INT, int)
    sample_size = hp("sample_size", ge(1), _POSITIVE_INT, int)
    predictor_type = hp(
        "predictor_type", isin("classifier", "regressor"), 'One of "classifier" or "regressor"', str
    )
    dimension_reduction_target = hp(
        "dimension_reduction_target",
        ge(1),
        "An integer greater than 0 and less than feature_dim",
        int,
    )
    dimension_reduction_type = hp(
        "dimension_reduction_type", isin("sign", "fjlt"), 'One of "sign" or "fjlt"', str
    )
    index_metric = hp(
        "index_metric",
        isin("COSINE", "INNER_PRODUCT", "L2"),
        'One of "COSINE", "INNER_PRODUCT", "L2"',
        str,
    )
    index_type = hp(
        "index_type",
        isin("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"),
        'One of "faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"',
        str,
    )
    faiss_index_ivf_nlists = hp(
        "faiss_index_ivf_nlists", (), '"auto" or an integer greater than 0', str
    )
    faiss_index_pq_m = hp("faiss_index_pq_m", ge(1), _POSITIVE_INT, int)

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        k: int | None = None,
        sample_size: int | None = None,
        predictor_type: str | None = None,
        dimension_reduction_type: str | None = None,
        dimension_reduction_target: int | None = None,
        index_type: str | None = None,
        index_metric: str | None = None,
        faiss_index_ivf_nlists: str | None = None,
        faiss_index_pq_m: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.sample_size = sample_size
        self.predictor_type = predictor_type
        self.dimension_reduction_type = dimension_reduction_type
        self.dimension_reduction_target = dimension_reduction_target
        self.index_type = index_type
        self.index_metric = index_metric
        self.faiss_index_ivf_nlists = faiss_index_ivf_nlists
        self.faiss_index_pq_m = faiss_index_pq_m
        if dimension_reduction_type and not dimension_reduction_target:
            raise ValueError(
                '"dimension_reduction_target" is required when "dimension_reduction_type" is set.'
            )
