"""The switch to AWS, proven without a network.

One pipeline — the learner's workflow written with simsage.sdk: default bucket, upload,
train built-in XGBoost, deploy, predict, batch transform, delete — runs twice:

1. on the ``local`` backend: simsage answers, and every request it receives is
   recorded (as botocore serialized it) together with the answer it gave;
2. on the ``aws`` backend: a plain boto3 session, nothing of simsage in the path.
   Requests are captured at botocore's ``before-send`` stage — the prepared HTTP
   request about to go on the wire — and answered from the recording of run 1.

The two lists of requests must be equal: the code that ran on simsage sends AWS exactly
what simsage accepted. With ``SIMSAGE_CONTRACT_AWS=1`` (and credentials, a role in
``SIMSAGE_ROLE_ARN``) the opt-in test runs the same pipeline against real AWS.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from wire import canonical_local, canonical_wire, to_wire

from simsage import sdk
from simsage.sdk.deserializers import CSVDeserializer
from simsage.sdk.serializers import CSVSerializer

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
REGION = "us-east-1"


def pipeline(session: sdk.Session, data_dir: Path, role: str) -> list[list[str]]:
    """The workflow under test; the same code whatever the backend."""
    bucket = session.default_bucket()
    train = session.upload_data(data_dir / "train.csv", key_prefix="contract/v1/train")
    batch = session.upload_data(data_dir / "batch", key_prefix="contract/v1/batch")
    image = sdk.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = sdk.Estimator(
        image,
        role,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/contract/models",
        sagemaker_session=session,
    )
    estimator.set_hyperparameters(objective="binary:logistic", num_round=5)
    estimator.fit(
        {"train": sdk.TrainingInput(train, content_type="text/csv")},
        logs=False,
        job_name="contract-training",
    )
    predictor = estimator.deploy(
        1,
        "ml.m5.large",
        endpoint_name="contract-endpoint",
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    scores = predictor.predict([[0.9, 0.2, 0.3], [0.1, 0.2, 0.3]])
    transformer = estimator.transformer(
        1, "ml.m5.large", output_path=f"s3://{bucket}/contract/v1/scored", assemble_with="Line"
    )
    transformer.transform(
        batch, content_type="text/csv", split_type="Line", job_name="contract-transform", logs=False
    )
    predictor.delete_endpoint()
    predictor.delete_model()
    return scores


@pytest.fixture
def data_dir(tmp_path) -> Path:
    rows = [(int(i % 3 == 0), (i % 10) / 10, (i % 7) / 7, (i % 5) / 5) for i in range(200)]
    (tmp_path / "train.csv").write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "part-1.csv").write_text("0.9,0.2,0.3\n0.1,0.2,0.3\n")
    return tmp_path


def test_requests_simsage_accepts_are_the_requests_aws_receives(
    simsage_home, data_dir, monkeypatch
):
    from simsage.transport.activation import activate, deactivate

    # -- 1. local: record what simsage receives and answers -------------------------------
    monkeypatch.setenv("SIMSAGE_BACKEND", "local")
    transport = activate()
    received, recording = [], []
    lock = threading.Lock()

    def observe(model, request_dict):
        with lock:
            received.append(canonical_local(model, request_dict))

    def record_answer(model, parsed, **_):
        body = parsed.get("Body")
        if hasattr(body, "read"):  # a stream: record its bytes, hand the caller a fresh one
            data = body.read()
            parsed["Body"] = data
            answer = to_wire(model, parsed)
            parsed["Body"] = StreamingBody(io.BytesIO(data), len(data))
        else:
            answer = to_wire(model, parsed)
        with lock:
            recording.append((model.name, answer))

    transport.observers.append(observe)
    try:
        local_session = boto3.Session(region_name=REGION)
        local_session._session.register("after-call", record_answer)
        local_scores = pipeline(sdk.Session(local_session), data_dir, ROLE)
    finally:
        deactivate()
        transport.home.stop_everything()
    assert len(local_scores) == 2 and all(0 <= float(row[0]) <= 1 for row in local_scores)

    # -- 2. aws: capture what reaches the wire, answer from the recording ----------------
    monkeypatch.setenv("SIMSAGE_BACKEND", "aws")
    monkeypatch.setattr("simsage.sdk.session.time.sleep", lambda seconds: None)
    sent = []
    replies = list(recording)

    def on_the_wire(request, event_name, **_):
        service_id, operation = event_name.split(".")[1:3]
        model = models[(service_id, operation)]
        with lock:
            sent.append(canonical_wire(model, request))
            name, (status, headers, body) = replies.pop(0)
        assert name == operation, f"the aws run called {operation} where simsage saw {name}"
        return AWSResponse(request.url, status, headers, _Raw(body))

    models = {}

    def remember_model(model, **_):
        models[(model.service_model.service_id.hyphenize(), model.name)] = model

    aws_session = boto3.Session(
        region_name=REGION, aws_access_key_id="AKIDCONTRACT", aws_secret_access_key="secret"
    )
    aws_session._session.register("before-call", remember_model)
    aws_session._session.register("before-send", on_the_wire)
    aws_scores = pipeline(sdk.Session(aws_session), data_dir, ROLE)

    assert aws_scores == local_scores
    assert replies == []
    differences = [
        f"#{i}: simsage received {a}\n     the wire carried {b}"
        for i, (a, b) in enumerate(zip(received, sent, strict=False))
        if a != b
    ]
    assert not differences, "\n".join(differences)
    assert len(received) == len(sent)
    operations = {r.operation for r in received}
    assert {"CreateTrainingJob", "CreateEndpoint", "InvokeEndpoint", "CreateTransformJob"} <= (
        operations
    )


class _Raw(io.BytesIO):
    """The raw stream botocore reads a response body from."""

    def stream(self, amt=1024 * 1024, decode_content=False):
        while chunk := self.read(amt):
            yield chunk


@pytest.mark.aws
@pytest.mark.skipif(
    os.environ.get("SIMSAGE_CONTRACT_AWS") != "1", reason="opt-in: SIMSAGE_CONTRACT_AWS=1"
)
def test_pipeline_on_real_aws(data_dir, monkeypatch):  # pragma: no cover - needs AWS
    role = os.environ.get("SIMSAGE_ROLE_ARN")
    if not role:
        pytest.fail("set SIMSAGE_ROLE_ARN to a SageMaker execution role in your account")
    monkeypatch.setenv("SIMSAGE_BACKEND", "aws")
    scores = pipeline(sdk.Session(), data_dir, role)
    assert len(scores) == 2
