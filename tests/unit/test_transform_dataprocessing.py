"""JSONPath filters and joins of batch transform's DataProcessing (CONTRACTS F)."""

from __future__ import annotations

import json

import pytest

from simsage.errors import ValidationException
from simsage.transform.dataprocessing import Filter, RecordError, RecordProcessor, validate

ROW = [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("$", ROW, ROW),
        ("$[1:]", ROW, [1, 2, 3, 4, 5, 6]),
        ("$[1:4]", ROW, [1, 2, 3, 4]),  # the developer guide: slices include the end
        ("$[:2]", ROW, [0, 1, 2]),
        ("$[0:-2]", ROW, [0, 1, 2, 3, 4, 5]),
        ("$[0,-1]", ROW, [0, 6]),
        ("$[-1]", ROW, 6),
        ("$[*]", ROW, ROW),
        ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
        (
            "$['id','SageMakerOutput']",
            {"id": 1, "x": 2, "SageMakerOutput": 3},
            {"id": 1, "SageMakerOutput": 3},
        ),
        ("$.a[1]", {"a": [5, 6]}, 6),
        ("$.rows[*].v", {"rows": [{"v": 1}, {"v": 2}]}, [1, 2]),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_filters_select_as_sagemaker_documents(expression, value, expected):
    assert Filter(expression).apply(value) == expected


@pytest.mark.parametrize("expression", ["$..a", "$[?(@.a > 1)]", "a.b", "$["])
def test_operators_outside_the_subset_are_refused(expression):
    with pytest.raises(ValueError):
        Filter(expression)


def test_missing_fields_and_indexes_are_record_errors():
    with pytest.raises(RecordError, match="no field 'x'"):
        Filter("$.x").apply({"a": 1})
    with pytest.raises(RecordError, match="no index 9"):
        Filter("$[9]").apply([1])


def test_csv_rows_are_arrays_and_join_appends_the_output():
    processor = RecordProcessor(
        {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        "text/csv",
        "text/csv",
    )
    assert processor.filter_input(b"id7,1.5,2.5") == b"1.5,2.5"
    assert processor.assemble(b"id7,1.5,2.5", b"0.25") == b"id7,0.25"
    quoted = RecordProcessor({"JoinSource": "Input"}, "text/csv", None)
    assert quoted.assemble(b'"a,b",1', b"0.5,0.7") == b'"a,b",1,0.5,0.7'


def test_json_join_adds_sagemaker_output_or_wraps_the_input():
    processor = RecordProcessor(
        {"JoinSource": "Input"}, "application/jsonlines", "application/json"
    )
    assert json.loads(processor.assemble(b'{"id": 1}', b'{"score": 0.5}')) == {
        "id": 1,
        "SageMakerOutput": {"score": 0.5},
    }
    assert json.loads(processor.assemble(b"[1, 2]", b"3")) == {
        "SageMakerInput": [1, 2],
        "SageMakerOutput": 3,
    }
    only_output = RecordProcessor({"OutputFilter": "$.score"}, "application/json", None)
    assert only_output.assemble(b"{}", b'{"score": 0.5}') == b"0.5"


@pytest.mark.parametrize(
    ("processing", "content_type", "accept", "split", "assemble", "words"),
    [
        ({"InputFilter": "$[1:]"}, "text/libsvm", None, "Line", "Line", "text/libsvm"),
        ({"JoinSource": "Input"}, "text/csv", "application/x-npy", "Line", "Line", "Accept"),
        ({"JoinSource": "Input"}, "text/csv", None, "None", "Line", "SplitType Line"),
        ({"JoinSource": "Input"}, None, None, "Line", "Line", "ContentType"),
        ({"OutputFilter": "$..x"}, "application/json", None, "Line", "None", "OutputFilter"),
    ],
)
def test_validation_says_what_to_change(processing, content_type, accept, split, assemble, words):
    with pytest.raises(ValidationException, match=words):
        validate(processing, content_type, accept, split, assemble)


def test_identity_processing_is_accepted_for_any_type():
    validate(
        {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}, "x/y", None, "None", "None"
    )
