"""``AmazonAlgorithmEstimatorBase`` and ``RecordSet``: the first-party algorithms'
estimators (KMeans, LinearLearner, RandomCutForest, KNN, PCA) and the RecordIO data they
train on, with the official SDK v2's names and the requests it sends
(``sagemaker.amazon.amazon_estimator``).

Layer: SDK, on the boto3 ``sagemaker`` and ``s3`` clients (the RecordIO codec is
simsage.algorithms.recordio, which imports nothing of simsage).

Invariants:

- ``record_set(train, labels)`` writes ``train`` as ``instance_count`` shards of dense
  Records under ``<data_location><ClassName>-<timestamp>/`` (data_location defaulting to
  ``s3://<default bucket>/sagemaker-record-sets/``): ``matrix_0.pbr``, ``matrix_1.pbr`` …
  (the index zero-padded to the width of the shard count), equal row counts but the last,
  which takes the remainder (the timestamp is never reused in one process, so two sets
  made in the same millisecond do not collide); then the manifest ``.amazon.manifest``,
  ``[{"prefix": "s3://<bucket>/<prefix>/"}, "matrix_0.pbr", …]``. A failed upload deletes
  the shards already written.
- A RecordSet is one channel: ``S3DataType`` ManifestFile, ``ShardedByS3Key`` (each host
  reads its shards), no content type (the algorithms default to RecordIO-protobuf).
- ``fit(records, mini_batch_size)`` takes a RecordSet or a list of them (one per channel,
  a ``train`` one required) and sets ``feature_dim`` from the train set and
  ``mini_batch_size`` (each algorithm's default rule in ``_prepare_for_training``) before
  the request is built; other inputs (S3 URIs, TrainingInput, dicts of them) are passed
  as the generic Estimator takes them, with ``feature_dim`` as set by the caller.
- Hyperparameters are the class's :class:`Hyperparameter` descriptors: validated on
  assignment, sent as the official SDK sends them (``"True"``, lists as JSON).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlparse

import numpy as np

from simsage.sdk import image_uris
from simsage.sdk.amazon.hyperparameter import Hyperparameter, gt
from simsage.sdk.deserializers import RecordDeserializer
from simsage.sdk.estimator import Estimator
from simsage.sdk.inputs import TrainingInput
from simsage.sdk.model import Model
from simsage.sdk.predictor import Predictor
from simsage.sdk.serializers import RecordSerializer
from simsage.sdk.session import Session
from simsage.sdk.utils import timestamp

log = logging.getLogger("simsage.sdk")

MANIFEST = ".amazon.manifest"


class RecordSet:
    """RecordIO-protobuf training data in S3, bound to one channel.

    Parameters
    ----------
    s3_data:
        The manifest's S3 URI (``s3_data_type="ManifestFile"``) or a prefix
        (``"S3Prefix"``).
    num_records, feature_dim:
        How many records, and the width of their ``features["values"]``.
    channel:
        The training channel (``train``, ``validation``, ``test``).
    distribution:
        ``ShardedByS3Key`` (default: each host reads its shards) or ``FullyReplicated``.
    """

    def __init__(
        self,
        s3_data: str,
        num_records: int,
        feature_dim: int,
        s3_data_type: str = "ManifestFile",
        channel: str = "train",
        distribution: str = "ShardedByS3Key",
    ) -> None:
        self.s3_data = s3_data
        self.num_records = num_records
        self.feature_dim = feature_dim
        self.s3_data_type = s3_data_type
        self.channel = channel
        self.distribution = distribution

    @property
    def records_s3_uri(self) -> str:
        """The manifest's (or prefix's) S3 URI: ``s3_data``."""
        return self.s3_data

    def __repr__(self) -> str:
        return (
            f"RecordSet(s3_data={self.s3_data!r}, num_records={self.num_records}, "
            f"feature_dim={self.feature_dim}, s3_data_type={self.s3_data_type!r}, "
            f"channel={self.channel!r}, distribution={self.distribution!r})"
        )

    def records_s3_input(self) -> TrainingInput:
        """The channel's :class:`TrainingInput`."""
        return TrainingInput(
            self.s3_data, distribution=self.distribution, s3_data_type=self.s3_data_type
        )

    def data_channel(self) -> dict[str, TrainingInput]:
        """``{channel: records_s3_input()}``, as ``fit`` takes inputs."""
        return {self.channel: self.records_s3_input()}


def _shards(count: int, array: np.ndarray) -> list[np.ndarray]:
    if count < 1:
        raise ValueError("num_shards must be >= 1")
    size = array.shape[0] // count
    if size == 0:
        raise ValueError(
            f"Array length ({array.shape[0]}) is less than num shards ({count}): give at least "
            "one row per training instance."
        )
    return [array[i * size : (i + 1) * size] for i in range(count - 1)] + [
        array[(count - 1) * size :]
    ]


def upload_numpy_to_s3_shards(
    num_shards: int,
    s3_client: Any,
    bucket: str,
    key_prefix: str,
    array: np.ndarray,
    labels: np.ndarray | None = None,
    encrypt: bool = False,
) -> str:
    """Write ``array`` (and ``labels``) as ``num_shards`` RecordIO shards and their manifest
    under ``s3://bucket/key_prefix``; returns the manifest's S3 URI.

    Raises:
        ValueError: fewer rows than shards, or arrays the codec cannot write.
        botocore.exceptions.ClientError: an upload failed (the shards written are deleted).
    """
    from simsage.algorithms import recordio

    shards = _shards(num_shards, array)
    label_shards = _shards(num_shards, labels) if labels is not None else [None] * len(shards)
    if not key_prefix.endswith("/"):
        key_prefix += "/"
    extra = {"ServerSideEncryption": "AES256"} if encrypt else {}
    width = len(str(len(shards)))
    uploaded: list[str] = []
    try:
        for index, (shard, label_shard) in enumerate(zip(shards, label_shards, strict=True)):
            name = f"matrix_{str(index).zfill(width)}.pbr"
            body = recordio.write_dense(None, shard, label_shard)
            s3_client.put_object(Bucket=bucket, Key=key_prefix + name, Body=body, **extra)
            uploaded.append(name)
        manifest = json.dumps([{"prefix": f"s3://{bucket}/{key_prefix}"}, *uploaded])
        s3_client.put_object(
            Bucket=bucket, Key=key_prefix + MANIFEST, Body=manifest.encode("utf-8"), **extra
        )
    except Exception:
        for name in uploaded:
            s3_client.delete_object(Bucket=bucket, Key=key_prefix + name)
        raise
    return f"s3://{bucket}/{key_prefix}{MANIFEST}"


_last_timestamp = ""
_timestamp_lock = threading.Lock()


def _fresh_timestamp() -> str:
    """The SDK's millisecond timestamp, never the same twice in this process: two
    ``record_set`` calls in one millisecond (train, then validation) would otherwise
    write to the same prefix, the second set replacing the first."""
    global _last_timestamp
    with _timestamp_lock:
        stamp = timestamp()
        while stamp == _last_timestamp:
            time.sleep(0.001)
            stamp = timestamp()
        _last_timestamp = stamp
        return stamp


def _train_set(records: RecordSet | list[RecordSet]) -> RecordSet:
    if isinstance(records, list):
        for record in records:
            if not isinstance(record, RecordSet):
                raise ValueError("List compatible only with RecordSets.")
        for record in records:
            if record.channel == "train":
                return record
        raise ValueError("Must provide train channel.")
    return records


class AmazonAlgorithmEstimatorBase(Estimator):
    """The estimator of a first-party algorithm (not made directly: use
    :class:`~simsage.sdk.amazon.kmeans.KMeans` and the others).

    Parameters
    ----------
    role, instance_count, instance_type:
        As for :class:`~simsage.sdk.estimator.Estimator`.
    data_location:
        The S3 prefix ``record_set`` writes under (default
        ``s3://<default bucket>/sagemaker-record-sets/``).
    **kwargs:
        Hyperparameters by attribute name (``feature_dim=4``, ``k=3``; validated), and
        the other :class:`~simsage.sdk.estimator.Estimator` arguments (``output_path``,
        ``base_job_name``, ``sagemaker_session``, ``tags``, ``max_run`` …) except
        ``image_uri``: the algorithm's image is
        ``image_uris.retrieve(repo_name, region, repo_version)``.
    """

    repo_name: str = ""
    repo_version: str = "1"
    DEFAULT_MINI_BATCH_SIZE: int | None = None
    model_cls: type[Model] | None = None  # set by each algorithm module

    feature_dim = Hyperparameter("feature_dim", gt(0), data_type=int)
    mini_batch_size = Hyperparameter("mini_batch_size", gt(0), data_type=int)

    def __init__(
        self,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        data_location: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "image_uri" in kwargs:
            raise TypeError(
                f"{type(self).__name__} trains with its own image; use Estimator for another"
            )
        declared = {hp.attribute for hp in Hyperparameter.of(type(self)).values()}
        hyperparameters = {key: kwargs.pop(key) for key in list(kwargs) if key in declared}
        super().__init__(
            image_uri="",
            role=role,
            instance_count=instance_count,
            instance_type=instance_type,
            **kwargs,
        )
        self._data_location: str | None = None
        if data_location is not None:
            self.data_location = data_location
        for attribute, value in hyperparameters.items():
            setattr(self, attribute, value)  # validated: ValueError on a bad value

    # -- image, hyperparameters ----------------------------------------------------------
    def training_image_uri(self) -> str:
        """The algorithm's image in the session's region (``…/kmeans:1``)."""
        if not self.image_uri:
            self.image_uri = image_uris.retrieve(
                self.repo_name, self.sagemaker_session.boto_region_name, self.repo_version
            )
        return self.image_uri

    def hyperparameters(self) -> dict[str, str]:
        """Every hyperparameter set (not None), as CreateTrainingJob sends them."""
        return Hyperparameter.serialize_all(self)

    def set_hyperparameters(self, **kwargs: Any) -> None:
        """Set hyperparameters by name (``local_lloyd_max_iter=5``) or by attribute
        (``max_iterations=5``); the declared ones are validated (ValueError on a bad
        value), others are sent as given."""
        declared = Hyperparameter.of(type(self))
        by_attribute = {hp.attribute: hp for hp in declared.values()}
        for key, value in kwargs.items():
            hp = declared.get(key) or by_attribute.get(key)
            if hp is not None:
                hp.__set__(self, value)
            else:
                self._hyperparameters[key] = value

    @property
    def data_location(self) -> str:
        """Where ``record_set`` writes (an ``s3://`` prefix ending in ``/``)."""
        if self._data_location is None:
            bucket = self.sagemaker_session.default_bucket()
            return f"s3://{bucket}/sagemaker-record-sets/"
        return self._data_location

    @data_location.setter
    def data_location(self, data_location: str) -> None:
        if not isinstance(data_location, str) or not data_location.startswith("s3://"):
            raise ValueError(f'Expecting an S3 URL beginning with "s3://". Got "{data_location}"')
        self._data_location = data_location if data_location.endswith("/") else data_location + "/"

    # -- data ----------------------------------------------------------------------------
    def record_set(
        self,
        train: np.ndarray,
        labels: np.ndarray | None = None,
        channel: str = "train",
        encrypt: bool = False,
        distribution: str = "ShardedByS3Key",
    ) -> RecordSet:
        """Upload ``train`` (a 2-D array, one record per row) and ``labels`` (one per row)
        as RecordIO-protobuf, one shard per training instance, with a manifest.

        Parameters
        ----------
        channel:
            The channel the set is for (``train``, ``validation``, ``test``).
        encrypt:
            Upload with ``ServerSideEncryption=AES256``.
        distribution:
            The channel's S3DataDistributionType.

        Raises
        ------
        ValueError
            ``train`` is not 2-D, has fewer rows than ``instance_count``, or labels do not
            match its rows.
        """
        train = np.asarray(train)
        if train.ndim != 2:
            raise ValueError(f"train must be a 2-D array (rows × features); got {train.ndim}-D")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.ndim != 1 or labels.shape[0] != train.shape[0]:
                raise ValueError(
                    f"labels must be a vector of one label per row ({train.shape[0]}); got "
                    f"shape {labels.shape}"
                )
        parsed = urlparse(self.data_location)
        prefix = f"{parsed.path}{type(self).__name__}-{_fresh_timestamp()}/".lstrip("/")
        log.debug("Uploading record set to s3://%s/%s", parsed.netloc, prefix)
        manifest = upload_numpy_to_s3_shards(
            self.instance_count,
            self.sagemaker_session.s3_client,
            parsed.netloc,
            prefix,
            train,
            labels,
            encrypt,
        )
        return RecordSet(
            manifest,
            num_records=train.shape[0],
            feature_dim=train.shape[1],
            channel=channel,
            distribution=distribution,
        )

    def _channels(self, inputs: Any) -> list[dict[str, Any]]:
        if isinstance(inputs, RecordSet):
            inputs = inputs.data_channel()
        elif isinstance(inputs, list):
            _train_set(inputs)  # only RecordSets
            inputs = {record.channel: record.records_s3_input() for record in inputs}
        return super()._channels(inputs)

    # -- training ------------------------------------------------------------------------
    def _get_default_mini_batch_size(self, num_records: int) -> int:
        """The default batch: ``DEFAULT_MINI_BATCH_SIZE``, at most one host's records."""
        assert self.DEFAULT_MINI_BATCH_SIZE is not None
        return min(self.DEFAULT_MINI_BATCH_SIZE, max(1, num_records // self.instance_count))

    def _prepare_for_training(
        self, records: Any, mini_batch_size: int | None = None, job_name: str | None = None
    ) -> None:
        """Set ``feature_dim`` from the train RecordSet and ``mini_batch_size`` (None: not
        sent), as the official SDK does before each training or tuning job. Inputs that are
        not RecordSets leave ``feature_dim`` as set.

        Raises:
            ValueError: a list without a ``train`` RecordSet, or a bad mini_batch_size.
        """
        if isinstance(records, RecordSet | list):
            self.feature_dim = _train_set(records).feature_dim
        self.mini_batch_size = mini_batch_size

    def _batch_or_default(self, records: Any, mini_batch_size: int | None) -> int | None:
        """``mini_batch_size``, else the default for the train RecordSet's size (None for
        inputs that are not RecordSets: the algorithm's own default applies)."""
        if mini_batch_size or not isinstance(records, RecordSet | list):
            return mini_batch_size
        return self._get_default_mini_batch_size(_train_set(records).num_records)

    def fit(
        self,
        records: Any = None,
        mini_batch_size: int | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> None:
        """Train on ``records``: a :class:`RecordSet` (see :meth:`record_set`), a list of
        them (one per channel), or what :meth:`Estimator.fit` takes (then set
        ``feature_dim`` yourself).

        Raises
        ------
        ValueError
            No ``train`` RecordSet in a list, or a hyperparameter out of its range.
        UnexpectedStatusException
            With ``wait``, the job Failed (the algorithm's reason is in the message).
        botocore.exceptions.ClientError
            The request was refused.
        """
        self._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)
        self._start(self._job_name(job_name), records, wait, logs)

    # -- using the model -----------------------------------------------------------------
    @classmethod
    def _from_description(cls, described: dict[str, Any], session: Session) -> Estimator:
        """The estimator of a training job of this algorithm: its hyperparameters back on
        their attributes (validated), the rest as sent."""
        resources = described["ResourceConfig"]
        estimator = cls(
            role=described["RoleArn"],
            instance_count=resources["InstanceCount"],
            instance_type=resources["InstanceType"],
            output_path=described["OutputDataConfig"]["S3OutputPath"],
            max_run=described["StoppingCondition"]["MaxRuntimeInSeconds"],
            volume_size=resources.get("VolumeSizeInGB", 30),
            environment=described.get("Environment"),
            sagemaker_session=session,
        )
        estimator.image_uri = described["AlgorithmSpecification"]["TrainingImage"]
        hyperparameters = dict(described.get("HyperParameters") or {})
        estimator._hyperparameters.clear()  # the job's, not the constructor's defaults
        estimator.set_hyperparameters(**hyperparameters)
        return estimator

    def create_model(self, name: str | None = None, env: dict[str, str] | None = None) -> Model:
        """The algorithm's model (e.g. :class:`KMeansModel`) of the trained artifact."""
        if self.model_cls is None:
            return super().create_model(name=name, env=env)
        return self.model_cls(
            self.model_data,
            role=self.role,
            sagemaker_session=self.sagemaker_session,
            env=env,
            name=name or (self.latest_training_job.name if self.latest_training_job else None),
        )


class AmazonAlgorithmModel(Model):
    """A first-party algorithm's model: served by the algorithm's image, deployed to an
    endpoint whose predictor speaks RecordIO-protobuf (``predictor_cls``)."""

    repo_name: str = ""
    repo_version: str = "1"
    default_predictor: type[Predictor] = Predictor

    def __init__(
        self,
        model_data: str,
        role: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        session = sagemaker_session or Session()
        super().__init__(
            image_uris.retrieve(self.repo_name, session.boto_region_name, self.repo_version),
            model_data=model_data,
            role=role,
            env=env,
            name=name,
            sagemaker_session=session,
            predictor_cls=self.default_predictor,
        )


class AmazonAlgorithmPredictor(Predictor):
    """A predictor that sends numpy arrays as RecordIO-protobuf and reads the answer's
    Records (the predictions in each record's ``label`` map)."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: Any = None,
        deserializer: Any = None,
    ) -> None:
        super().__init__(
            endpoint_name,
            sagemaker_session=sagemaker_session,
            serializer=serializer or RecordSerializer(),
            deserializer=deserializer or RecordDeserializer(),
        )
