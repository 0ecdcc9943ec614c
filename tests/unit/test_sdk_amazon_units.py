"""simsage.sdk's first-party estimators (``KMeans``, ``LinearLearner``, ``RandomCutForest``,
``KNN``, ``PCA``) behave as the official SDK v2's: typed hyperparameters refuse a bad value
when it is set, ``record_set`` writes the same shards and manifest at the same place, the
RecordIO serializers write and read the official bytes, and ``fit`` / a tuner's ``fit``
send the CreateTrainingJob / CreateHyperParameterTuningJob requests the official SDK sends
for the same call.

No job runs here: S3 is simsage's (uploads are real), the SageMaker calls are answered by
botocore's Stubber after their parameters are recorded (tests/functional/
test_sdk_first_party.py trains and serves for real).
"""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from sdk_helpers import RequestRecorder, official_sdk_v2

from simsage import sdk
from simsage.algorithms import recordio
from simsage.sdk.amazon import common
from simsage.sdk.amazon.hyperparameter import Hyperparameter

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"
TRAINING_ARN = {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"}
TUNING_ARN = {
    "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:"
    "hyper-parameter-tuning-job/x"
}
# The record-set folders' timestamps differ between two runs; the rest must not.
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}")


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


@pytest.fixture
def s3(simsage_local):
    return simsage_local.client("s3")


@pytest.fixture
def official(monkeypatch, tmp_path, simsage_local):
    return official_sdk_v2(monkeypatch, tmp_path)


def data(rows: int = 12, columns: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, columns)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.float32)


# -- hyperparameters -----------------------------------------------------------------------
def test_a_bad_hyperparameter_is_refused_when_set(session):
    with pytest.raises(ValueError, match=r"Invalid hyperparameter value 1 for k\. Expecting: An"):
        sdk.KMeans(ROLE, k=1, sagemaker_session=session)
    kmeans = sdk.KMeans(ROLE, k=3, sagemaker_session=session)
    for attribute, value, name in (
        ("tol", 1.5, "local_lloyd_tol"),
        ("init_method", "spectral", "init_method"),
        ("k", "many", "k"),  # not an integer at all
        ("epochs", 0, "epochs"),
    ):
        with pytest.raises(ValueError, match=f"for {name}"):
            setattr(kmeans, attribute, value)
    assert kmeans.k == 3  # a refused value changes nothing
    with pytest.raises(ValueError, match="num_trees"):
        sdk.RandomCutForest(ROLE, num_trees=10, sagemaker_session=session)
    with pytest.raises(ValueError, match="feature_dim"):  # RCF narrows the base's range
        sdk.RandomCutForest(ROLE, feature_dim=20000, sagemaker_session=session)
    with pytest.raises(ValueError, match="index_metric"):
        sdk.KNN(ROLE, k=3, index_metric="MANHATTAN", sagemaker_session=session)
    with pytest.raises(ValueError, match="algorithm_mode"):
        sdk.PCA(ROLE, num_components=2, algorithm_mode="fast", sagemaker_session=session)
    with pytest.raises(ValueError, match="momentum"):
        sdk.LinearLearner(ROLE, predictor_type="regressor", momentum=1.0, sagemaker_session=session)
    with pytest.raises(ValueError, match="num_classes"):
        sdk.LinearLearner(ROLE, predictor_type="multiclass_classifier", sagemaker_session=session)
    with pytest.raises(ValueError, match="dimension_reduction_target"):
        sdk.KNN(ROLE, k=3, dimension_reduction_type="sign", sagemaker_session=session)


def test_hyperparameters_convert_unset_and_serialise_as_the_official_sdk(session):
    kmeans = sdk.KMeans(ROLE, k="4", max_iterations=5.0, eval_metrics=["msd", "ssd"],
                        sagemaker_session=session)  # fmt: skip
    assert kmeans.k == 4 and kmeans.max_iterations == 5
    assert kmeans.half_life_time_size is None  # not given: None, never sent
    assert kmeans.hyperparameters() == {
        "force_dense": "True",
        "k": "4",
        "local_lloyd_max_iter": "5",
        "eval_metrics": '["msd", "ssd"]',
    }
    kmeans.k = None  # unset again: not sent
    assert "k" not in kmeans.hyperparameters()
    del kmeans.k
    assert not hasattr(kmeans, "k")  # deleted: AttributeError, as the official descriptor
    # By the hyperparameter's name or the attribute's; declared ones are validated.
    kmeans.set_hyperparameters(local_lloyd_max_iter="7", center_factor=2, custom="x")
    assert kmeans.max_iterations == 7 and kmeans.center_factor == 2
    assert kmeans.hyperparameters()["custom"] == "x"
    with pytest.raises(ValueError, match="local_lloyd_tol"):
        kmeans.set_hyperparameters(tol=-1)
    learner = sdk.LinearLearner(ROLE, predictor_type="regressor", use_bias="false",
                                normalize_data=True, sagemaker_session=session)  # fmt: skip
    assert learner.use_bias is False
    assert learner.hyperparameters() == {
        "predictor_type": "regressor",
        "use_bias": "False",
        "normalize_data": "True",
    }
    assert set(Hyperparameter.of(sdk.LinearLearner)) >= {"feature_dim", "mini_batch_size", "l1"}
    with pytest.raises(TypeError, match="own image"):
        sdk.KMeans(ROLE, image_uri="x", sagemaker_session=session)


def test_the_hyperparameters_are_the_official_sdks(official):
    """Same names, same messages, the same values refused, for every first-party class."""
    import sagemaker

    probes = [0, 1, 2, 50, 1001, 2049, 20000, -1, 0.5, 1.0, "auto", "random", "sign", "L2"]
    for name in ("KMeans", "LinearLearner", "RandomCutForest", "KNN", "PCA"):
        ours, theirs = getattr(sdk, name), getattr(sagemaker, name)
        declared = Hyperparameter.of(ours)
        official_hps = {}
        for klass in reversed(theirs.__mro__):
            for attribute, value in vars(klass).items():
                if type(value).__name__ == "Hyperparameter":
                    official_hps[value.name] = (attribute, value)
        assert set(declared) == set(official_hps), name
        for hp_name, (attribute, their_hp) in official_hps.items():
            our_hp = declared[hp_name]
            assert our_hp.attribute == attribute
            assert our_hp.data_type is their_hp.data_type
            assert our_hp.validation_message == their_hp.validation_message
            for probe in probes:
                if isinstance(probe, str) and their_hp.data_type in (bool, list):
                    continue  # ours reads "false" and JSON lists, where bool()/list() do not
                try:
                    value = their_hp.data_type(probe)
                    their_hp.validate(value)
                    refused = False
                except (TypeError, ValueError):
                    refused = True
                try:
                    our_hp.validate(our_hp.convert(probe))
                    ours_refused = False
                except ValueError:
                    ours_refused = True
                assert ours_refused == refused, (name, hp_name, probe)


# -- record sets and the RecordIO codec ------------------------------------------------------
def test_record_set_writes_one_shard_per_instance_and_a_manifest(session, s3, official):
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    x, y = data(rows=11)
    learner = sdk.LinearLearner(ROLE, instance_count=3, predictor_type="binary_classifier",
                                sagemaker_session=session)  # fmt: skip
    records = learner.record_set(x, labels=y, channel="validation")
    match = re.fullmatch(
        rf"s3://{BUCKET}/sagemaker-record-sets/LinearLearner-{STAMP.pattern}/\.amazon\.manifest",
        records.records_s3_uri,
    )
    assert match, records.records_s3_uri
    assert (records.num_records, records.feature_dim, records.channel) == (11, 3, "validation")
    assert records.s3_data == records.records_s3_uri
    assert (records.s3_data_type, records.distribution) == ("ManifestFile", "ShardedByS3Key")
    prefix = records.s3_data.split(f"s3://{BUCKET}/", 1)[1].rsplit("/", 1)[0] + "/"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    assert sorted(o["Key"][len(prefix) :] for o in listed) == [
        ".amazon.manifest",
        "matrix_0.pbr",
        "matrix_1.pbr",
        "matrix_2.pbr",
    ]
    manifest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=prefix + ".amazon.manifest")["Body"].read()
    )
    assert manifest == [{"prefix": f"s3://{BUCKET}/{prefix}"}, "matrix_0.pbr", "matrix_1.pbr",
                        "matrix_2.pbr"]  # fmt: skip
    # Three rows, three rows, then the remainder; byte for byte what the official SDK writes.
    for index, (start, stop) in enumerate(((0, 3), (3, 6), (6, 11))):
        body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}matrix_{index}.pbr")["Body"].read()
        theirs = io.BytesIO()
        write_numpy_to_dense_tensor(theirs, x[start:stop], y[start:stop])
        assert body == theirs.getvalue()
    assert records.records_s3_input().config == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "ManifestFile",
                "S3Uri": records.s3_data,
                "S3DataDistributionType": "ShardedByS3Key",
            }
        }
    }


def test_record_set_names_pad_the_shard_index_and_refuse_too_few_rows(session, s3):
    x, _ = data(rows=24)
    kmeans = sdk.KMeans(ROLE, instance_count=12, k=2, data_location="s3://records/kmeans",
                        sagemaker_session=session)  # fmt: skip
    s3.create_bucket(Bucket="records")
    assert kmeans.data_location == "s3://records/kmeans/"
    records = kmeans.record_set(x)
    assert records.s3_data.startswith("s3://records/kmeans/KMeans-")
    keys = [o["Key"].rsplit("/", 1)[1] for o in s3.list_objects_v2(Bucket="records")["Contents"]]
    assert sorted(keys)[1:3] == ["matrix_00.pbr", "matrix_01.pbr"] and "matrix_11.pbr" in keys
    # Two record sets made at once never share a folder.
    again = [kmeans.record_set(x[:12]).s3_data for _ in range(3)]
    assert len(set(again)) == 3
    with pytest.raises(ValueError, match="less than num shards"):
        kmeans.record_set(x[:5])
    with pytest.raises(ValueError, match="2-D"):
        kmeans.record_set(x[0])
    with pytest.raises(ValueError, match="one label per row"):
        kmeans.record_set(x, labels=np.zeros(3))
    with pytest.raises(ValueError, match="s3://"):
        kmeans.data_location = "/tmp/records"


def test_record_serializer_and_deserializer_round_trip_with_the_official_ones(official):
    from sagemaker.deserializers import RecordDeserializer as TheirDeserializer
    from sagemaker.serializers import RecordSerializer as TheirSerializer

    x, _ = data(rows=4)
    ours = common.RecordSerializer()
    assert ours.content_type == "application/x-recordio-protobuf"
    assert ours.serialize(x) == TheirSerializer().serialize(x).read()
    assert ours.serialize(x[0]) == TheirSerializer().serialize(x[0]).read()  # a 1-D row
    with pytest.raises(ValueError, match="1D or 2D"):
        ours.serialize(np.zeros((2, 2, 2)))
    # What an endpoint answers: one Record per row, the prediction in its label map.
    answer = recordio.encode_label_records(
        [{"closest_cluster": 1.0, "distance_to_cluster": 0.25}, {"closest_cluster": 0.0,
                                                                 "distance_to_cluster": 2.0}]
    )  # fmt: skip
    records = common.RecordDeserializer().deserialize(answer, "application/x-recordio-protobuf")
    assert [r.label["closest_cluster"].float32_tensor.values[0] for r in records] == [1.0, 0.0]
    assert common.RecordDeserializer().accept == ("application/x-recordio-protobuf",)
    theirs = TheirDeserializer().deserialize(io.BytesIO(answer), "application/x-recordio-protobuf")
    assert [r.SerializeToString() for r in theirs] == [r.SerializeToString() for r in records]
    # The file helpers, both ways.
    buffer = io.BytesIO()
    common.write_numpy_to_dense_tensor(buffer, x, np.arange(4.0))
    buffer.seek(0)
    decoded = common.read_records(buffer)
    assert [r.label["values"].float64_tensor.values[0] for r in decoded] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="Vector"):
        common.write_numpy_to_dense_tensor(io.BytesIO(), x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="not a valid Record|magic"):
        common.RecordDeserializer().deserialize(b"not records", None)


# -- the requests -------------------------------------------------------------------------------
def first_party_fits(api, api_session) -> None:
    """The same four fits with simsage.sdk or the official SDK (``api``)."""
    x, y = data()
    kmeans = api.KMeans(role=ROLE, instance_count=2, instance_type="ml.m5.large", k=3,
                        init_method="kmeans++", eval_metrics=["msd"], sagemaker_session=api_session)  # fmt: skip
    kmeans.fit(kmeans.record_set(x), wait=False)
    learner = api.LinearLearner(role=ROLE, instance_count=1, instance_type="ml.m5.large",
                                predictor_type="binary_classifier", use_bias=False, epochs=3,
                                output_path="s3://models/ll", sagemaker_session=api_session)  # fmt: skip
    train, validation = learner.record_set(x, y), learner.record_set(x, y, channel="validation")
    learner.fit([train, validation], wait=False)
    learner.fit(train, mini_batch_size=4, wait=False, job_name="ll-batch")
    forest = api.RandomCutForest(role=ROLE, instance_count=1, instance_type="ml.m5.large",
                                 num_trees=50, num_samples_per_tree=8, sagemaker_session=api_session)  # fmt: skip
    forest.fit(forest.record_set(x), wait=False)


def normalised(request: dict) -> dict:
    kept = {k: request[k] for k in ("AlgorithmSpecification", "InputDataConfig",
                                    "HyperParameters", "ResourceConfig", "OutputDataConfig")}  # fmt: skip
    return json.loads(STAMP.sub("<ts>", json.dumps(kept)))


def test_fit_sends_the_official_sdks_create_training_job(official, session):
    theirs = official.Session(boto_session=session.boto_session)
    ours_recorder = RequestRecorder(session.sagemaker_client, "create_training_job", TRAINING_ARN)
    their_recorder = RequestRecorder(theirs.sagemaker_client, "create_training_job", TRAINING_ARN)
    ours_recorder.expect(4)
    first_party_fits(sdk, session)
    their_recorder.expect(4)
    first_party_fits(official, theirs)

    assert [normalised(r) for r in ours_recorder.requests] == [
        normalised(r) for r in their_recorder.requests
    ]
    kmeans, learner, batch, forest = ours_recorder.requests
    # What the comparison covers, spelled out once.
    assert kmeans["AlgorithmSpecification"]["TrainingImage"].endswith("/kmeans:1")
    assert kmeans["TrainingJobName"].startswith("kmeans-")
    assert kmeans["HyperParameters"] == {"force_dense": "True", "k": "3", "init_method": "kmeans++",
                                         "eval_metrics": '["msd"]', "feature_dim": "3"}  # fmt: skip
    assert [c["ChannelName"] for c in learner["InputDataConfig"]] == ["train", "validation"]
    assert learner["HyperParameters"]["mini_batch_size"] == "12"  # min(1000, rows per host)
    assert batch["HyperParameters"]["mini_batch_size"] == "4"
    assert batch["TrainingJobName"] == "ll-batch"
    assert forest["HyperParameters"]["mini_batch_size"] == "1000"
    with pytest.raises(ValueError, match="fixed mini_batch_size of 1000"):
        sdk.RandomCutForest(ROLE, sagemaker_session=session).fit(
            sdk.RecordSet("s3://b/m", 10, 3), mini_batch_size=10, wait=False
        )
    with pytest.raises(ValueError, match="Must provide train channel"):
        sdk.PCA(ROLE, num_components=1, sagemaker_session=session).fit(
            [sdk.RecordSet("s3://b/m", 10, 3, channel="test")], wait=False
        )
    assert len(ours_recorder.requests) == 4  # nothing sent for the refused fits


def first_party_tuning(api, api_session, prefix: str) -> None:
    x, y = data()
    learner = api.LinearLearner(role=ROLE, instance_count=1, instance_type="ml.m5.large",
                                predictor_type="binary_classifier", sagemaker_session=api_session)  # fmt: skip
    records = learner.record_set(x, y)
    tuner = api.HyperparameterTuner(
        learner,
        "validation:binary_classification_accuracy",
        {
            "learning_rate": api.ContinuousParameter(0.01, 0.5),
            "l1": api.ContinuousParameter(0.0, 0.1),
        },
        max_jobs=2,
    )
    tuner.fit([records, learner.record_set(x, y, channel="validation")], mini_batch_size=6,
              job_name=f"{prefix}-ll", wait=False)  # fmt: skip
    kmeans = api.KMeans(role=ROLE, instance_count=1, instance_type="ml.m5.large", k=2,
                        sagemaker_session=api_session)  # fmt: skip
    tuner = api.HyperparameterTuner(
        kmeans, "test:msd", {"extra_center_factor": api.IntegerParameter(2, 4)},
        objective_type="Minimize", max_jobs=2,
    )  # fmt: skip
    tuner.fit(kmeans.record_set(x), job_name=f"{prefix}-km", wait=False)


def test_tuning_on_record_sets_sends_the_official_sdks_request(official, session):
    theirs = official.Session(boto_session=session.boto_session)
    method = "create_hyper_parameter_tuning_job"
    ours_recorder = RequestRecorder(session.sagemaker_client, method, TUNING_ARN)
    their_recorder = RequestRecorder(theirs.sagemaker_client, method, TUNING_ARN)
    ours_recorder.expect(2)
    first_party_tuning(sdk, session, "ours")
    their_recorder.expect(2)
    import sagemaker.tuner

    api = SimpleNamespace(
        LinearLearner=official.LinearLearner,
        KMeans=official.KMeans,
        HyperparameterTuner=sagemaker.tuner.HyperparameterTuner,
        ContinuousParameter=sagemaker.tuner.ContinuousParameter,
        IntegerParameter=sagemaker.tuner.IntegerParameter,
    )
    first_party_tuning(api, theirs, "theirs")

    def norm(request):
        return json.loads(STAMP.sub("<ts>", json.dumps(request).replace("theirs-", "ours-")))

    assert [norm(r) for r in ours_recorder.requests] == [norm(r) for r in their_recorder.requests]
    learner, kmeans = ours_recorder.requests
    static = learner["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"predictor_type": "binary_classifier", "feature_dim": "3",
                      "mini_batch_size": "6"}  # fmt: skip
    channels = learner["TrainingJobDefinition"]["InputDataConfig"]
    assert [c["ChannelName"] for c in channels] == ["train", "validation"]
    # A tuner on a RecordSet without mini_batch_size: k-means' 5000, as the official SDK.
    assert kmeans["TrainingJobDefinition"]["StaticHyperParameters"]["mini_batch_size"] == "5000"


def test_tuning_ranges_must_be_values_the_hyperparameter_accepts(session):
    kmeans = sdk.KMeans(ROLE, k=3, sagemaker_session=session)
    tuner = sdk.HyperparameterTuner(kmeans, "test:msd", {"k": sdk.IntegerParameter(1, 5)},
                                    objective_type="Minimize")  # fmt: skip
    with pytest.raises(ValueError, match="Invalid hyperparameter value 1 for k"):
        tuner.fit(sdk.RecordSet("s3://b/m", 10, 3), wait=False)
    tuner = sdk.HyperparameterTuner(
        kmeans, "test:msd", {"init_method": sdk.CategoricalParameter(["random", "spectral"])}
    )
    with pytest.raises(ValueError, match="spectral"):
        tuner.fit(sdk.RecordSet("s3://b/m", 10, 3), wait=False)
    xgb = sdk.Estimator("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        ROLE, sagemaker_session=session)  # fmt: skip
    tuner = sdk.HyperparameterTuner(xgb, "validation:auc", {"eta": sdk.ContinuousParameter(0, 1)})
    with pytest.raises(TypeError, match="only first-party estimators take mini_batch_size"):
        tuner.fit("s3://b/train", mini_batch_size=10, wait=False)


def test_attach_rebuilds_a_first_party_estimator_from_its_job(session):
    described = {
        "TrainingJobName": "kmeans-1",
        "AlgorithmSpecification": {
            "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://models/"},
        "ResourceConfig": {
            "InstanceCount": 2,
            "InstanceType": "ml.m5.xlarge",
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {
            "force_dense": "True",
            "k": "3",
            "local_lloyd_max_iter": "5",
            "eval_metrics": '["msd"]',
            "feature_dim": "2",
        },  # fmt: skip
    }
    kmeans = sdk.KMeans._from_description(described, session)
    assert isinstance(kmeans, sdk.KMeans)
    assert (kmeans.k, kmeans.max_iterations, kmeans.eval_metrics) == (3, 5, ["msd"])
    assert (kmeans.instance_count, kmeans.instance_type) == (2, "ml.m5.xlarge")
    assert kmeans.hyperparameters() == described["HyperParameters"]
    kmeans._model_data = "s3://models/kmeans-1/output/model.tar.gz"
    model = kmeans.create_model()
    assert isinstance(model, sdk.KMeansModel) and model.predictor_cls is sdk.KMeansPredictor
    assert model.image_uri.endswith("/kmeans:1")
    predictor = sdk.KMeansPredictor("endpoint", sagemaker_session=session)
    assert predictor.content_type == "application/x-recordio-protobuf"
    assert predictor.accept == ("application/x-recordio-protobuf",)
