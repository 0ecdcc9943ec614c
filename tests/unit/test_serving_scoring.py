"""Scoring logic of the inference server, without HTTP: codecs, Accept negotiation, the
built-in XGBoost handler and the script-mode handler contract."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simsage.serving import scoring
from simsage.serving.scoring import ScoringError
from simsage.serving.script_handler import ModelLoadError as ScriptLoadError
from simsage.serving.script_handler import ScriptHandler
from simsage.serving.xgboost_handler import ModelLoadError, XGBoostHandler

# -- scoring codecs -----------------------------------------------------------------


def test_parse_content_type_splits_base_and_parameters():
    assert scoring.parse_content_type("Text/CSV; charset=UTF-8; label_size=1") == (
        "text/csv",
        {"charset": "UTF-8", "label_size": "1"},
    )
    assert scoring.parse_content_type(None) == ("", {})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("application/json", "application/json"),
        ("image/png, application/jsonlines;q=0.9, text/csv", "application/jsonlines"),
        ("image/png", None),
    ],
)
def test_negotiate_accept_uses_default_and_first_supported(accept, expected):
    supported = ("text/csv", "application/json", "application/jsonlines")
    assert scoring.negotiate_accept(accept, supported, "text/csv") == expected


def test_csv_empty_field_is_nan_and_rows_are_kept():
    arr = scoring.csv_to_array("1,,3\r\n4,5,6\n\n")
    assert arr.shape == (2, 3)
    assert np.isnan(arr[0, 1]) and arr[1, 2] == 6


def test_large_csv_goes_through_the_same_rules():
    text = "\n".join("1.5,,2" for _ in range(20000))
    arr = scoring.csv_to_array(text)
    assert arr.shape == (20000, 3) and np.isnan(arr[:, 1]).all()


@pytest.mark.parametrize("text", ["a,b", "1,2\n1,2,3", "   "])
def test_bad_csv_is_415(text):
    with pytest.raises(ScoringError) as info:
        scoring.csv_to_array(text)
    assert info.value.status == 415


def test_csv_encoding_matches_array_to_csv():
    assert scoring.array_to_csv(np.array([0.5, 1.25], dtype=np.float32)) == "0.5\n1.25\n"
    assert scoring.array_to_csv(np.array([[1, 2], [3, 4]])) == "1,2\n3,4\n"


def test_default_codecs_round_trip_json_csv_npy():
    data = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(scoring.decode(b"[[1, 2], [3, 4]]", "application/json"), data)
    assert np.array_equal(scoring.decode(b"1,2\n3,4", "text/csv"), data)
    assert np.array_equal(scoring.decode(scoring.array_to_npy(data), "application/x-npy"), data)
    buffer = io.BytesIO()
    np.savez(buffer, x=data)
    assert np.array_equal(scoring.decode(buffer.getvalue(), "application/x-npz"), data)
    assert json.loads(scoring.encode(data, "application/json")) == data.tolist()
    with pytest.raises(ScoringError) as info:
        scoring.decode(b"x", "image/png")
    assert info.value.status == 415 and "application/json" in info.value.message


def test_npy_pickles_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ScoringError):
        scoring.decode(buffer.getvalue(), "application/x-npy")


# -- built-in XGBoost ---------------------------------------------------------------


def _train(model_dir: Path, objective: str = "binary:logistic") -> Path:
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.random((120, 3))
    if objective == "multi:softprob":
        y = (x[:, 0] * 3).astype(int).astype(float)
        params = {"objective": objective, "num_class": 3}
    else:
        y = (x[:, 0] > 0.5).astype(float)
        params = {"objective": objective}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=4)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "xgboost-model.json"))
    (model_dir / "xgboost-model.json").rename(model_dir / "xgboost-model")
    (model_dir / ".hidden").write_text("not a model")  # dot files are skipped
    return model_dir


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("xgb") / "model")


@pytest.fixture(scope="module")
def xgb_handler(binary_dir):
    return XGBoostHandler(binary_dir, environ={}).load()


def test_xgboost_csv_rows_give_one_value_per_line(xgb_handler):
    out = xgb_handler.invoke(b"0.9,0.1,0.2\n0.1,,0.3\n", "text/csv; charset=utf-8", None)
    assert out.status == 200 and out.content_type == "text/csv"
    lines = out.body.decode().split("\n")
    assert len(lines) == 3 and lines[2] == ""
    assert float(lines[0]) > 0.5 > float(lines[1])


def test_xgboost_json_and_jsonlines(xgb_handler):
    out = xgb_handler.invoke(b"0.9,0.1,0.2", "text/csv", "application/json")
    score = json.loads(out.body)["predictions"][0]["score"]
    assert isinstance(score, float) and score > 0.5
    out = xgb_handler.invoke(b"0.9,0.1,0.2\n0.1,0.1,0.2", "text/csv", "application/jsonlines")
    assert [set(json.loads(line)) for line in out.body.decode().splitlines()] == [
        {"score"},
        {"score"},
    ]


def test_xgboost_libsvm_and_missing_content_type(xgb_handler):
    for content_type in ("text/libsvm", "text/x-libsvm", None):
        out = xgb_handler.invoke(b"0 0:0.9 1:0.1\n2:0.3", content_type, "text/csv")
        assert out.status == 200 and len(out.body.decode().splitlines()) == 2


def test_xgboost_default_accept_from_environment(binary_dir):
    handler = XGBoostHandler(
        binary_dir, environ={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"}
    )
    out = handler.load().invoke(b"0.9,0.1,0.2", "text/csv", "*/*")
    assert out.content_type == "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "needle"),
    [
        (b"1,2,3", "application/x-recordio-protobuf", None, 415, "not supported by simsage"),
        (b"1,2,3", "application/x-parquet", None, 415, "text/libsvm"),
        (b"a,b,c", "text/csv", None, 415, "csv"),
        (b"1:x", "text/libsvm", None, 415, "libsvm"),
        (b"1,2,3,4,5,6", "text/csv", None, 400, "Unable to evaluate payload provided"),
        (b"1,2,3", "text/csv", "image/png", 406, "text/csv"),
    ],
)
def test_xgboost_errors_carry_container_statuses(
    xgb_handler, body, content_type, accept, status, needle
):
    with pytest.raises(ScoringError) as info:
        xgb_handler.invoke(body, content_type, accept)
    assert info.value.status == status
    assert needle in info.value.message


def test_xgboost_empty_body_is_204(xgb_handler):
    assert xgb_handler.invoke(b"", "text/csv", None).status == 204


def test_xgboost_multiclass_rows_and_score_lists(tmp_path):
    handler = XGBoostHandler(_train(tmp_path / "m", "multi:softprob"), environ={}).load()
    csv_out = handler.invoke(b"0.1,0.2,0.3\n0.9,0.2,0.3", "text/csv", "text/csv").body.decode()
    rows = csv_out.splitlines()
    assert len(rows) == 2 and all(len(r.split(",")) == 3 for r in rows)
    scores = json.loads(handler.invoke(b"0.1,0.2,0.3", "text/csv", "application/json").body)
    assert len(scores["predictions"][0]["score"]) == 3


def test_xgboost_batch_csv_output(binary_dir):
    handler = XGBoostHandler(binary_dir, environ={"SAGEMAKER_BATCH": "true"}).load()
    body = handler.invoke(b"0.9,0.1,0.2\n0.1,0.1,0.2", "text/csv", None).body.decode()
    assert body.endswith("\n") and len(body.split("\n")) == 3


def test_xgboost_model_load_failures(tmp_path):
    with pytest.raises(ModelLoadError, match="no model file"):
        XGBoostHandler(tmp_path, environ={}).load()
    (tmp_path / "xgboost-model").write_text("garbage")
    with pytest.raises(ModelLoadError, match="not an xgboost model"):
        XGBoostHandler(tmp_path, environ={}).load()


# -- script mode --------------------------------------------------------------------


@pytest.fixture
def sklearn_dir(tmp_path):
    import pickle

    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 2.0, 4.0]))
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "model.pkl").write_bytes(pickle.dumps(model))
    return model_dir


def _script(model_dir: Path, source: str) -> None:
    (model_dir / "code" / "inference.py").write_text(textwrap.dedent(source))


MODEL_FN = """
import os, pickle
def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)
"""


def test_script_defaults_decode_predict_encode(sklearn_dir):
    _script(sklearn_dir, MODEL_FN)
    handler = ScriptHandler(sklearn_dir, environ={}).load()
    out = handler.invoke(b"[[3.0]]", "application/json", None)
    assert out.content_type == "application/json"
    assert json.loads(out.body) == pytest.approx([6.0])
    out = handler.invoke(b"1\n2", "text/csv", "image/png, text/csv")
    assert out.content_type == "text/csv"
    assert [float(v) for v in out.body.decode().split()] == pytest.approx([2.0, 4.0])
    out = handler.invoke(
        scoring.array_to_npy(np.array([[1.0]])), "application/x-npy", "application/x-npy"
    )
    assert np.load(io.BytesIO(out.body)).tolist() == pytest.approx([2.0])


def test_script_user_functions_with_context_and_tuple_output(sklearn_dir):
    _script(
        sklearn_dir,
        MODEL_FN
        + """
import json
def input_fn(body, content_type, context):
    return [[float(json.loads(body)["x"])]]
def predict_fn(data, model):
    return model.predict(data)
def output_fn(prediction, accept, context):
    context.set_response_header("X-Amzn-SageMaker-Custom-Attributes", "seen=" + str(context.custom_attributes))
    return json.dumps({"y": float(prediction[0])}), "application/vnd+json"
""",
    )
    handler = ScriptHandler(sklearn_dir, environ={}).load()
    out = handler.invoke(
        b'{"x": 5}', "application/json", None, {"x-amzn-sagemaker-custom-attributes": "trace=1"}
    )
    assert json.loads(out.body) == {"y": pytest.approx(10.0)}
    assert out.content_type == "application/vnd+json"
    assert out.headers["X-Amzn-SageMaker-Custom-Attributes"] == "seen=trace=1"


def test_script_transform_fn(sklearn_dir):
    _script(
        sklearn_dir,
        MODEL_FN
        + """
def transform_fn(model, body, content_type, accept):
    return b"T:" + body, "text/plain"
""",
    )
    out = ScriptHandler(sklearn_dir, environ={}).load().invoke(b"abc", "text/csv", None)
    assert out.body == b"T:abc" and out.content_type == "text/plain"


def test_script_transform_fn_cannot_be_combined(sklearn_dir):
    _script(
        sklearn_dir,
        MODEL_FN + "\ndef transform_fn(m, b, c, a):\n    pass\ndef input_fn(b, c):\n    pass\n",
    )
    with pytest.raises(ScriptLoadError, match="transform_fn.*input_fn"):
        ScriptHandler(sklearn_dir, environ={}).load()


def test_script_sklearn_needs_model_fn(sklearn_dir):
    _script(sklearn_dir, "def predict_fn(data, model):\n    return data\n")
    with pytest.raises(ScriptLoadError, match="model_fn"):
        ScriptHandler(sklearn_dir, environ={}).load()


def test_script_program_and_submit_directory(sklearn_dir, tmp_path):
    submit = tmp_path / "src"
    submit.mkdir()
    (submit / "helper.py").write_text("FACTOR = 3\n")
    (submit / "serve.py").write_text(
        MODEL_FN
        + "\nimport helper\ndef predict_fn(data, model):\n    return model.predict(data) * helper.FACTOR\n"
    )
    environ = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(submit)}
    out = (
        ScriptHandler(sklearn_dir, environ=environ)
        .load()
        .invoke(b"[[1.0]]", "application/json", None)
    )
    assert json.loads(out.body) == pytest.approx([6.0])
    with pytest.raises(ScriptLoadError, match="not found"):
        ScriptHandler(sklearn_dir, environ={"SAGEMAKER_PROGRAM": "missing.py"}).load()


def test_script_errors_are_500_with_traceback_or_custom_status(sklearn_dir):
    _script(
        sklearn_dir,
        MODEL_FN
        + """
class ToolkitError(Exception):
    def __init__(self, status_code, message):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
def predict_fn(data, model):
    if data.shape == (1, 1):
        raise ToolkitError(422, "custom refusal")
    raise RuntimeError("boom")
""",
    )
    handler = ScriptHandler(sklearn_dir, environ={}).load()
    with pytest.raises(ScoringError) as info:
        handler.invoke(b"[[1.0, 2.0]]", "application/json", None)
    assert info.value.status == 500
    assert info.value.message.startswith("boom\nTraceback")
    with pytest.raises(ScoringError) as info:
        handler.invoke(b"[[1.0]]", "application/json", None)
    assert (info.value.status, info.value.message.split("\n")[0]) == (422, "custom refusal")
    with pytest.raises(ScoringError) as info:
        handler.invoke(b"[[1.0]]", "image/png", None)
    assert info.value.status == 415


def test_script_xgboost_framework_defaults(tmp_path):
    model_dir = _train(tmp_path / "model")
    handler = ScriptHandler(model_dir, framework="xgboost", environ={}).load()
    out = handler.invoke(b"0.9,0.1,0.2", "text/csv", "text/csv")
    assert float(out.body.decode()) > 0.5


def test_large_utf8_bodies_parse_from_bytes_like_text():
    rng = np.random.default_rng(5)
    rows = rng.random((5000, 6))
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n"
    from_bytes = scoring.csv_to_array(text.encode())
    np.testing.assert_array_equal(from_bytes, scoring.csv_to_array(text))
    assert from_bytes.dtype == np.float32 and from_bytes.shape == (5000, 6)
    tabbed = text.replace(",", "\t").encode()
    np.testing.assert_array_equal(scoring.csv_to_array(tabbed), from_bytes)


def test_large_bodies_that_are_not_utf8_or_not_numbers_are_415():
    big = b"1.0,2.0\n" * 20000
    with pytest.raises(scoring.ScoringError) as excinfo:
        scoring.csv_to_array(big + b"\xff\xfe,1\n")
    assert excinfo.value.status == 415
    with pytest.raises(scoring.ScoringError) as excinfo:
        scoring.csv_to_array(big + b"abc,1\n")
    assert excinfo.value.status == 415
    with pytest.raises(scoring.ScoringError, match="Empty"):
        scoring.csv_to_array(b"\n" * 70000)
