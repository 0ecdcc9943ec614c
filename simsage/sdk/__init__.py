"""simsage's SDK: the classic SageMaker notebook workflow with the official SDK v2's
names, built only on boto3 clients — so the same code runs on simsage and, with
``SIMSAGE_BACKEND=aws``, on AWS.

    from simsage import sdk
    session = sdk.Session()
    train = session.upload_data("train.csv", key_prefix="flights/v1/train")
    xgb = sdk.Estimator(sdk.image_uris.retrieve("xgboost", session.boto_region_name,
                        "1.7-1"), role, instance_type="ml.m5.large")
    xgb.set_hyperparameters(objective="binary:logistic", num_round=50)
    xgb.fit({"train": sdk.TrainingInput(train, content_type="text/csv")})
    predictor = xgb.deploy(1, "ml.m5.large", serializer=sdk.serializers.CSVSerializer())

Processing jobs (preprocessing, evaluation) run scripts the same way:

    processor = sdk.SKLearnProcessor("1.2-1", role, instance_count=1,
                                     instance_type="ml.m5.large")
    processor.run(code="preprocessing.py",
                  inputs=[sdk.ProcessingInput(raw, "/opt/ml/processing/input")],
                  outputs=[sdk.ProcessingOutput("/opt/ml/processing/train",
                                                output_name="train")])

Tuning jobs run an estimator over hyperparameter ranges and keep the best:

    tuner = sdk.HyperparameterTuner(xgb, "validation:auc",
                                    {"eta": sdk.ContinuousParameter(0.05, 0.5)},
                                    strategy="Random", max_jobs=8, max_parallel_jobs=2)
    tuner.fit({"train": train, "validation": validation})
    tuner.analytics().dataframe()
    predictor = tuner.deploy(1, "ml.m5.large")

SageMaker's first-party algorithms train on RecordIO-protobuf record sets and answer
Records (``KMeans``, ``LinearLearner``, ``RandomCutForest``, ``KNN``, ``PCA``; the
hyperparameters are validated when set, a bad one raising ValueError):

    kmeans = sdk.KMeans(role, instance_count=1, instance_type="ml.m5.large", k=3)
    kmeans.fit(kmeans.record_set(x))    # shards + manifest under sagemaker-record-sets/
    predictor = kmeans.deploy(1, "ml.m5.large")
    clusters = [r.label["closest_cluster"].float32_tensor.values[0]
                for r in predictor.predict(x[:10])]

Modules mirror the official ones: ``session``, ``image_uris``, ``estimator``,
``sklearn``, ``xgboost``, ``inputs``, ``model``, ``predictor``, ``serializers``,
``deserializers``, ``transformer``, ``processing``, ``model_monitor``, ``parameter``,
``tuner``, ``analytics``, ``exceptions``, ``amazon`` (the first-party algorithms).
"""

from __future__ import annotations

from simsage.sdk import deserializers, image_uris, serializers
from simsage.sdk.amazon import (
    KNN,
    PCA,
    AmazonAlgorithmEstimatorBase,
    KMeans,
    KMeansModel,
    KMeansPredictor,
    KNNModel,
    KNNPredictor,
    LinearLearner,
    LinearLearnerModel,
    LinearLearnerPredictor,
    PCAModel,
    PCAPredictor,
    RandomCutForest,
    RandomCutForestModel,
    RandomCutForestPredictor,
    RecordSet,
)
from simsage.sdk.analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics
from simsage.sdk.estimator import Estimator
from simsage.sdk.exceptions import UnexpectedStatusException
from simsage.sdk.framework_processor import FrameworkProcessor
from simsage.sdk.inputs import TrainingInput, TransformInput
from simsage.sdk.model import Model
from simsage.sdk.model_monitor import DataCaptureConfig
from simsage.sdk.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
from simsage.sdk.predictor import Predictor
from simsage.sdk.processing import (
    ProcessingInput,
    ProcessingJob,
    ProcessingOutput,
    Processor,
    ScriptProcessor,
    SKLearnProcessor,
)
from simsage.sdk.session import Session
from simsage.sdk.sklearn import SKLearn, SKLearnModel
from simsage.sdk.transformer import Transformer
from simsage.sdk.tuner import (
    HyperbandStrategyConfig,
    HyperparameterTuner,
    StrategyConfig,
    TuningJobCompletionCriteriaConfig,
    WarmStartConfig,
    WarmStartTypes,
)
from simsage.sdk.xgboost import XGBoost, XGBoostModel

__all__ = [
    "KNN",
    "PCA",
    "AmazonAlgorithmEstimatorBase",
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
    "RecordSet",
    "CategoricalParameter",
    "ContinuousParameter",
    "DataCaptureConfig",
    "Estimator",
    "FrameworkProcessor",
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "HyperparameterTuningJobAnalytics",
    "IntegerParameter",
    "Model",
    "Predictor",
    "ProcessingInput",
    "ProcessingJob",
    "ProcessingOutput",
    "Processor",
    "SKLearn",
    "SKLearnModel",
    "SKLearnProcessor",
    "ScriptProcessor",
    "Session",
    "StrategyConfig",
    "TrainingInput",
    "TrainingJobAnalytics",
    "TransformInput",
    "Transformer",
    "TuningJobCompletionCriteriaConfig",
    "UnexpectedStatusException",
    "WarmStartConfig",
    "WarmStartTypes",
    "XGBoost",
    "XGBoostModel",
    "deserializers",
    "image_uris",
    "serializers",
]
