"""RecordIO-protobuf and the first-party data formats (simsage.algorithms.recordio and
first_party_data): round trips, byte-for-byte interop with the official SDK v2's helpers,
strict framing errors, channel loading and the serving request/response shapes."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import scipy.sparse

from simsage.algorithms import first_party_data as fpd
from simsage.algorithms import recordio


@pytest.fixture(scope="module")
def sdk():
    """The official SDK v2's RecordIO helpers, serializer and deserializer."""
    pytest.importorskip("sagemaker")
    from sagemaker.amazon import common
    from sagemaker.deserializers import RecordDeserializer
    from sagemaker.serializers import RecordSerializer

    return common, RecordSerializer, RecordDeserializer


def _rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("with_labels", [True, False])
def test_dense_round_trip_keeps_values_and_labels(dtype, with_labels):
    x = (_rng().normal(size=(40, 6)) * 100).astype(dtype)
    y = np.arange(40).astype(dtype) if with_labels else None
    data = recordio.write_dense(None, x, y)
    got_x, got_y = recordio.read_arrays(data)
    assert got_x.dtype == np.float32 and got_x.shape == (40, 6)
    np.testing.assert_allclose(got_x, x.astype(np.float32))
    if with_labels:
        np.testing.assert_allclose(got_y, y)
    else:
        assert got_y is None
    records = recordio.read_records(data)
    kind = {np.float32: "float32_tensor", np.float64: "float64_tensor", np.int64: "int32_tensor"}
    assert records[0].features["values"].WhichOneof("value") == kind[dtype]


def test_write_dense_to_a_stream_writes_what_it_returns():
    x = np.ones((3, 2), np.float32)
    stream = io.BytesIO()
    assert recordio.write_dense(stream, x) == stream.getvalue()
    assert len(recordio.read_records(stream.getvalue())) == 3


def test_sparse_round_trip_gives_csr_with_the_declared_width():
    matrix = scipy.sparse.random(
        30, 50, density=0.1, format="csr", random_state=3, dtype=np.float32
    )
    labels = np.arange(30, dtype=np.float32)
    x, y = recordio.read_arrays(recordio.write_sparse(None, matrix, labels))
    assert scipy.sparse.issparse(x) and x.shape == (30, 50)
    np.testing.assert_allclose(x.toarray(), matrix.toarray())
    np.testing.assert_allclose(y, labels)
    record = recordio.read_records(recordio.write_sparse(None, matrix[:1]))[0]
    assert list(record.features["values"].float32_tensor.shape) == [50]


def test_dense_bytes_are_identical_to_the_official_sdk_writer(sdk):
    common, _, _ = sdk
    rng = _rng()
    for x, y in [
        (rng.normal(size=(25, 7)).astype(np.float32), rng.normal(size=25).astype(np.float32)),
        (rng.normal(size=(25, 300)), None),
        (rng.integers(-5, 5, size=(10, 3)), rng.integers(0, 3, size=10)),
    ]:
        theirs = io.BytesIO()
        common.write_numpy_to_dense_tensor(theirs, x, y)
        assert recordio.write_dense(None, x, y) == theirs.getvalue()


def test_sdk_written_records_read_back_here_and_ours_read_there(sdk):
    common, _, _ = sdk
    rng = _rng()
    matrix = scipy.sparse.random(20, 40, density=0.2, format="csr", random_state=1)
    labels = rng.normal(size=20)
    theirs = io.BytesIO()
    common.write_spmatrix_to_sparse_tensor(theirs, matrix, labels)
    x, y = recordio.read_arrays(theirs.getvalue())
    np.testing.assert_allclose(x.toarray(), matrix.toarray(), rtol=1e-6)
    np.testing.assert_allclose(y, labels)
    # and the other way: the SDK's reader parses what we write
    ours = recordio.write_sparse(None, matrix, labels)
    records = common.read_records(io.BytesIO(ours))
    assert len(records) == 20
    row = records[3].features["values"].float64_tensor
    np.testing.assert_allclose(
        np.bincount(list(row.keys), weights=list(row.values), minlength=40),
        matrix[3].toarray()[0],
    )
    assert records[3].label["values"].float64_tensor.values[0] == pytest.approx(labels[3])


def test_record_serializer_body_decodes_as_a_request(sdk):
    _, serializer_cls, _ = sdk
    x = _rng().normal(size=(5, 4)).astype(np.float32)
    body = serializer_cls().serialize(x).read()
    np.testing.assert_array_equal(fpd.decode_request(body, "application/x-recordio-protobuf"), x)


def test_recordio_response_is_what_the_sdk_record_deserializer_reads(sdk):
    _, _, deserializer_cls = sdk
    predictions = [
        {"closest_cluster": 1.0, "distance_to_cluster": 3.5},
        {"closest_cluster": 0.0, "distance_to_cluster": 0.25},
    ]
    body, content_type = fpd.encode_response(predictions, "application/x-recordio-protobuf")
    assert content_type == "application/x-recordio-protobuf"
    records = deserializer_cls().deserialize(io.BytesIO(body), content_type)
    assert [r.label["closest_cluster"].float32_tensor.values[0] for r in records] == [1.0, 0.0]
    assert records[0].label["distance_to_cluster"].float32_tensor.values[0] == 3.5
    body, _ = fpd.encode_response(
        [{"projection": [0.5, -1.0, 2.0]}], "application/x-recordio-protobuf"
    )
    (record,) = deserializer_cls().deserialize(io.BytesIO(body), content_type)
    assert list(record.label["projection"].float32_tensor.values) == [0.5, -1.0, 2.0]


def test_fast_dense_reader_agrees_with_protobuf_parsing():
    x = _rng().normal(size=(200, 9)).astype(np.float32)
    y = _rng().normal(size=200)
    data = recordio.write_dense(None, x, y)
    fast_x, fast_y = recordio.read_arrays(data)
    slow_x, slow_y = recordio.to_arrays(recordio.read_records(data))
    np.testing.assert_array_equal(fast_x, slow_x)
    np.testing.assert_array_equal(fast_y, slow_y)


def test_mixed_layouts_fall_back_to_per_record_parsing():
    first = recordio.write_dense(None, np.ones((2, 3), np.float32), np.zeros(2, np.float32))
    other = recordio.write_dense(None, np.full((1, 3), 2.0), np.ones(1))  # float64 record
    x, y = recordio.read_arrays(first + other)
    np.testing.assert_array_equal(x, [[1, 1, 1], [1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(y, [0, 0, 1])


def test_bad_magic_is_refused_with_its_offset():
    data = recordio.write_dense(None, np.ones((2, 3), np.float32))
    broken = data[: len(data) // 2] + b"\x00\x00\x00\x00" + data[len(data) // 2 + 4 :]
    with pytest.raises(ValueError, match=r"bad magic number 0x00000000 at offset \d+"):
        recordio.read_records(broken)
    with pytest.raises(ValueError, match="bad magic"):
        recordio.read_arrays(b"1,2,3\n4,5,6\n")


def test_truncated_records_are_refused():
    data = recordio.write_dense(None, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="truncated: the record at offset"):
        recordio.read_records(data[:-3])
    with pytest.raises(ValueError, match="too few for a record header"):
        recordio.read_records(data + b"\x0a\x23")
    with pytest.raises(ValueError, match="not a valid Record"):
        recordio.read_records(recordio.frame(b"\xff\xff\xff"))


def test_a_frame_is_padded_to_four_bytes():
    framed = recordio.frame(b"abcde")
    assert struct.unpack("<II", framed[:8]) == (0xCED7230A, 5)
    assert len(framed) == 16 and framed[13:] == b"\0\0\0"


def test_labels_on_only_some_records_are_refused():
    data = recordio.write_dense(None, np.ones((1, 2), np.float32), np.ones(1, np.float32))
    data += recordio.write_dense(None, np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="record 1 has no label"):
        recordio.read_arrays(data)


def test_feature_dim_mismatch_is_refused():
    data = recordio.write_dense(None, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="3 features but feature_dim is 4"):
        recordio.read_arrays(data, feature_dim=4)


# ---------------------------------------------------------------- channels


def _write(folder, name, content):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_csv_channel_label_in_the_first_column(tmp_path):
    _write(tmp_path, "part-1.csv", "1,0.5,2\n0,1.5,3\n")
    _write(tmp_path, "sub/part-2.csv", "1,2.5,4\n")
    _write(tmp_path, ".hidden", "garbage")
    x, y = fpd.load_channel(str(tmp_path), "text/csv")
    np.testing.assert_array_equal(x, [[0.5, 2], [1.5, 3], [2.5, 4]])
    np.testing.assert_array_equal(y, [1, 0, 1])
    assert x.dtype == np.float32


def test_csv_channel_label_size_zero_from_the_content_type(tmp_path):
    _write(tmp_path, "data.csv", "1,0.5,2\n0,1.5,3\n")
    x, y = fpd.load_channel(str(tmp_path), "text/csv;label_size=0")
    assert y is None and x.shape == (2, 3)
    x, y = fpd.load_channel(str(tmp_path), "text/csv", label_size=0, feature_dim=3)
    assert y is None


def test_csv_channel_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad"
    _write(bad, "a.csv", "1,2,3\n4,x,6\n")
    with pytest.raises(ValueError, match="a.csv: non-numeric value"):
        fpd.load_channel(str(bad), "text/csv")
    short = tmp_path / "short"
    _write(short, "a.csv", "1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="row 2 has an empty value or fewer than 3 columns"):
        fpd.load_channel(str(short), "text/csv")
    wide = tmp_path / "wide"
    _write(wide, "a.csv", "1,2\n4,5,6\n")
    with pytest.raises(ValueError, match="different numbers of columns"):
        fpd.load_channel(str(wide), "text/csv")
    files = tmp_path / "files"
    _write(files, "a.csv", "1,2\n")
    _write(files, "b.csv", "1,2,3\n")
    with pytest.raises(ValueError, match="b.csv has 3 columns but earlier files have 2"):
        fpd.load_channel(str(files), "text/csv")
    one = tmp_path / "one"
    _write(one, "a.csv", "1\n0\n")
    with pytest.raises(ValueError, match="label_size=0 for unlabelled data"):
        fpd.load_channel(str(one), "text/csv")
    dim = tmp_path / "dim"
    _write(dim, "a.csv", "1,2,3\n")
    with pytest.raises(ValueError, match="2 features per record but feature_dim is 5"):
        fpd.load_channel(str(dim), "text/csv", feature_dim=5)


def test_empty_channels_and_unknown_types_are_refused(tmp_path):
    with pytest.raises(ValueError, match="has no data"):
        fpd.load_channel(str(tmp_path), "text/csv")
    _write(tmp_path, "empty.csv", "")
    with pytest.raises(ValueError, match="has no data"):
        fpd.load_channel(str(tmp_path), "application/x-recordio-protobuf")
    _write(tmp_path, "a.csv", "1,2\n")
    with pytest.raises(ValueError, match="not supported for training: use one of text/csv"):
        fpd.load_channel(str(tmp_path), "application/x-parquet")


def test_recordio_channel_concatenates_files(tmp_path):
    x = _rng().normal(size=(10, 4)).astype(np.float32)
    y = np.arange(10, dtype=np.float32)
    _write(tmp_path, "shard-0", recordio.write_dense(None, x[:6], y[:6]))
    _write(tmp_path, "shard-1", recordio.write_dense(None, x[6:], y[6:]))
    got_x, got_y = fpd.load_channel(str(tmp_path), "application/x-recordio-protobuf")
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    _write(tmp_path, "shard-2", b"1,2,3,4\n")
    with pytest.raises(ValueError, match="shard-2: not RecordIO-protobuf data"):
        fpd.load_channel(str(tmp_path), "application/x-recordio-protobuf")


def test_libsvm_channel(tmp_path):
    _write(tmp_path, "a.libsvm", "1 1:0.5 3:2\n0 2:1.5\n")
    _write(tmp_path, "b.libsvm", "1 4:7\n")
    x, y = fpd.load_channel(str(tmp_path), "text/libsvm", feature_dim=4)
    assert scipy.sparse.issparse(x) and x.shape == (3, 4)
    np.testing.assert_array_equal(x.toarray(), [[0.5, 0, 2, 0], [0, 1.5, 0, 0], [0, 0, 0, 7]])
    np.testing.assert_array_equal(y, [1, 0, 1])
    _write(tmp_path, "c.libsvm", "1 one:2\n")
    with pytest.raises(ValueError, match="invalid libsvm data"):
        fpd.load_channel(str(tmp_path), "text/libsvm")


# ---------------------------------------------------------------- serving


def test_json_requests_in_both_instance_shapes():
    plain = json.dumps({"instances": [{"features": [1, 2]}, {"features": [3, 4]}]}).encode()
    nested = json.dumps(
        {
            "instances": [
                {"data": {"features": {"values": [1, 2]}}},
                {"data": {"features": {"values": [3, 4]}}},
            ]
        }  # fmt: skip
    ).encode()
    for body in (plain, nested):
        np.testing.assert_array_equal(
            fpd.decode_request(body, "application/json"), [[1, 2], [3, 4]]
        )
    with pytest.raises(ValueError, match=r"instance 1 has no features"):
        fpd.decode_request(b'{"instances": [{"features": [1]}, {"x": 1}]}', "application/json")
    with pytest.raises(ValueError, match="not valid JSON"):
        fpd.decode_request(b"{", "application/json")
    with pytest.raises(ValueError, match="different numbers of features"):
        fpd.decode_request(b'{"instances": [[1], [1, 2]]}', "application/json")


def test_jsonlines_and_csv_requests():
    body = b'{"features": [1, 2]}\n\n{"data": {"features": {"values": [3, 4]}}}\n'
    np.testing.assert_array_equal(
        fpd.decode_request(body, "application/jsonlines"), [[1, 2], [3, 4]]
    )
    np.testing.assert_array_equal(fpd.decode_request(b"1,2\n3,4\n", "text/csv"), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="not supported: send one of text/csv"):
        fpd.decode_request(b"x", "image/png")


def test_json_and_jsonlines_responses():
    predictions = [{"score": np.float32(0.25), "predicted_label": np.int64(1)}]
    body, content_type = fpd.encode_response(predictions, "application/json; verbose=true")
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": [{"score": 0.25, "predicted_label": 1}]}
    body, _ = fpd.encode_response([{"score": 1.5}, {"score": 2.0}], None, envelope="scores")
    assert json.loads(body) == {"scores": [{"score": 1.5}, {"score": 2.0}]}
    body, content_type = fpd.encode_response(
        [{"score": 1.5}, {"score": 2.0}], "application/jsonlines"
    )
    assert content_type == "application/jsonlines"
    assert [json.loads(line) for line in body.splitlines()] == [{"score": 1.5}, {"score": 2.0}]
    body, _ = fpd.encode_response(
        [{"closest_cluster": 1.0, "distance_to_cluster": 3.0}], "text/csv"
    )
    assert body == b"1.0,3.0\n"
    with pytest.raises(ValueError, match="not supported: ask for one of application/json"):
        fpd.encode_response(predictions, "image/png")


def test_sparse_rows_of_another_width_than_feature_dim_are_refused():
    matrix = scipy.sparse.csr_matrix(np.eye(3, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="shape 5 but feature_dim is 4"):
        recordio.read_arrays(recordio.write_sparse(None, matrix), feature_dim=4)
    x, _ = recordio.read_arrays(recordio.write_sparse(None, matrix), feature_dim=5)
    assert x.shape == (3, 5)


def test_dense_and_sparse_records_mix_into_one_csr():
    matrix = scipy.sparse.csr_matrix(np.array([[0, 2, 0], [0, 0, 0], [1, 0, 3]], np.float32))
    data = recordio.write_sparse(None, matrix[:2]) + recordio.write_dense(
        None, np.array([[4, 5, 6]], np.float32)
    )
    data += recordio.write_sparse(None, matrix[2:])
    x, y = recordio.read_arrays(data)
    assert y is None
    np.testing.assert_array_equal(x.toarray(), [[0, 2, 0], [0, 0, 0], [4, 5, 6], [1, 0, 3]])


def test_sparse_json_instances_become_csr():
    body = json.dumps(
        {
            "instances": [
                {"data": {"features": {"keys": [0, 3], "shape": [4], "values": [1.5, 2]}}},
                {"data": {"features": {"keys": [], "shape": [4], "values": []}}},
            ]
        }
    ).encode()
    x = fpd.decode_request(body, "application/json")
    assert scipy.sparse.issparse(x)
    np.testing.assert_array_equal(x.toarray(), [[1.5, 0, 0, 2], [0, 0, 0, 0]])
    bad = b'{"instances": [{"data": {"features": {"keys": [9], "shape": [4], "values": [1]}}}]}'
    with pytest.raises(ValueError, match=r"keys must lie in 0..shape-1 \(4 features\)"):
        fpd.decode_request(bad, "application/json")


@pytest.mark.parametrize(
    ("dtype", "label_dtype"),
    [(np.float32, np.float32), (np.float64, np.int64), (np.int64, None)],
)
def test_sparse_bytes_are_identical_to_the_official_sdk_writer(sdk, dtype, label_dtype):
    common, _, _ = sdk
    matrix = scipy.sparse.random(30, 12, density=0.3, format="csr", random_state=2)
    matrix = (matrix * 10).astype(dtype)
    labels = None if label_dtype is None else np.arange(30).astype(label_dtype)
    theirs = io.BytesIO()
    common.write_spmatrix_to_sparse_tensor(theirs, matrix, labels)
    assert recordio.write_sparse(None, matrix, labels) == theirs.getvalue()
    x, y = recordio.read_arrays(theirs.getvalue())
    np.testing.assert_array_equal(x.toarray(), matrix.toarray().astype(np.float32))
    if labels is not None:
        np.testing.assert_array_equal(y, labels)
