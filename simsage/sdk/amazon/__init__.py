"""SageMaker's first-party algorithms in simsage's SDK, with the official SDK v2's names
(``sagemaker.amazon``): ``KMeans``, ``LinearLearner``, ``RandomCutForest``, ``KNN`` and
``PCA``, their ``*Model`` and ``*Predictor`` classes, ``RecordSet``, the ``Hyperparameter``
descriptor and the RecordIO-protobuf serializers.

    kmeans = sdk.KMeans(role, instance_count=1, instance_type="ml.m5.large", k=3)
    kmeans.fit(kmeans.record_set(x))          # RecordIO shards + manifest in S3
    predictor = kmeans.deploy(1, "ml.m5.large")
    [r.label["closest_cluster"].float32_tensor.values[0] for r in predictor.predict(x[:5])]

Modules: ``amazon_estimator`` (the base and RecordSet), ``hyperparameter``, ``common``
(serializers and file helpers), ``kmeans``, ``linear_learner``, ``randomcutforest``,
``knn``, ``pca``.
"""

from __future__ import annotations

from simsage.sdk.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase, RecordSet
from simsage.sdk.amazon.common import RecordDeserializer, RecordSerializer
from simsage.sdk.amazon.hyperparameter import Hyperparameter
from simsage.sdk.amazon.kmeans import KMeans, KMeansModel, KMeansPredictor
from simsage.sdk.amazon.knn import KNN, KNNModel, KNNPredictor
from simsage.sdk.amazon.linear_learner import (
    LinearLearner,
    LinearLearnerModel,
    LinearLearnerPredictor,
)
from simsage.sdk.amazon.pca import PCA, PCAModel, PCAPredictor
from simsage.sdk.amazon.randomcutforest import (
    RandomCutForest,
    RandomCutForestModel,
    RandomCutForestPredictor,
)

__all__ = [
    "KNN",
    "PCA",
    "AmazonAlgorithmEstimatorBase",
    "Hyperparameter",
    "KMeans",
    "KMeansModel",
    "KMeansPredictor",
    "KNNModel",
    "KNNPredictor",
    "LinearLearner",
    "LinearLearnerModel",
    "LinearLearnerPredictor",
    "PCAModel",
    "PCAPredictor",
    "RandomCutForest",
    "RandomCutForestModel",
    "RandomCutForestPredictor",
    "RecordDeserializer",
    "RecordSerializer",
    "RecordSet",
]
