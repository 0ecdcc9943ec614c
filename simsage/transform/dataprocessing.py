"""DataProcessing for batch transform: InputFilter, JoinSource and OutputFilter.

Layer: data plane (pure functions; the runner calls them per record).

The JSONPath subset SageMaker documents (CONTRACTS F): ``$``, ``.name``, ``['a','b']``,
``*``, ``[i,j]`` (negative indexes count from the end) and ``[s:e]``, where — as the
developer guide says — **a slice includes its end index**: ``$[1:4]`` selects indexes 1
to 4. jsonpath-ng parses the expression; the evaluation is ours because SageMaker's
result shapes differ from a list of matches: a single name or index gives the value
itself, several names give an object of them, several indexes, a slice or ``*`` give
an array (and the steps after them apply to each element).

A CSV record is a JSON array of its fields (strings, so numbers keep their text);
JSON and JSON Lines records are JSON values. ``JoinSource=Input`` appends the output's
fields to a CSV row, and for JSON adds ``SageMakerOutput`` to an input object or makes
``{"SageMakerInput": …, "SageMakerOutput": …}`` of any other value. The join uses the
original record, before the input filter.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from simsage.errors import ValidationException

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
SUPPORTED = (CSV, JSON, JSONLINES)


class RecordError(Exception):
    """A record the filters cannot process; the message names why."""


@dataclass(frozen=True)
class _Step:
    kind: str  # "field", "fields", "index", "indexes", "slice", "wildcard"
    args: tuple


class Filter:
    """A compiled JSONPath filter.

    Raises:
        ValueError: the expression is not JSONPath, or uses an operator outside
            SageMaker's subset (the message says which).
    """

    def __init__(self, expression: str) -> None:
        from jsonpath_ng import jsonpath, parse
        from jsonpath_ng.exceptions import JSONPathError

        self.expression = expression
        try:
            tree = parse(expression)
        except (JSONPathError, Exception) as exc:  # the lexer raises plain Exceptions too
            raise ValueError(f"{expression!r} is not a JSONPath expression: {exc}") from None
        steps: list[_Step] = []
        node = tree
        while isinstance(node, jsonpath.Child):
            steps.append(self._step(node.right, expression))
            node = node.left
        if not isinstance(node, jsonpath.Root):
            raise ValueError(
                f"{expression!r} uses {type(node).__name__}, which SageMaker's filters do not "
                "support; a filter starts at the root ($) and uses only .name, ['a','b'], *, "
                "[i,j] and [start:end]."
            )
        self.steps = tuple(reversed(steps))

    @staticmethod
    def _step(node: Any, expression: str) -> _Step:
        from jsonpath_ng import jsonpath

        if isinstance(node, jsonpath.Fields):
            names = tuple(node.fields)
            if names == ("*",):
                return _Step("wildcard", ())
            return _Step("field" if len(names) == 1 else "fields", names)
        if isinstance(node, jsonpath.Index):
            indexes = tuple(getattr(node, "indices", None) or (node.index,))
            return _Step("index" if len(indexes) == 1 else "indexes", indexes)
        if isinstance(node, jsonpath.Slice):
            return _Step("slice", (node.start, node.end, node.step))
        if isinstance(node, jsonpath.Wildcard):
            return _Step("wildcard", ())
        raise ValueError(
            f"{expression!r} uses {type(node).__name__}, which SageMaker's filters do not "
            "support; use only $, .name, ['a','b'], *, [i,j] and [start:end]."
        )

    def apply(self, value: Any) -> Any:
        """The part of ``value`` the filter selects (see the module doc for shapes).

        Raises:
            RecordError: the record has no such field or index.
        """
        return self._apply(value, self.steps)

    def _apply(self, value: Any, steps: tuple[_Step, ...]) -> Any:
        if not steps:
            return value
        step, rest = steps[0], steps[1:]
        if step.kind == "field":
            return self._apply(self._field(value, step.args[0]), rest)
        if step.kind == "fields":
            return {name: self._apply(self._field(value, name), rest) for name in step.args}
        if step.kind == "index":
            return self._apply(self._index(value, step.args[0]), rest)
        if step.kind == "indexes":
            items = [self._index(value, i) for i in step.args]
        elif step.kind == "slice":
            items = self._slice(value, *step.args)
        else:  # wildcard
            if isinstance(value, dict):
                items = list(value.values())
            elif isinstance(value, list):
                items = list(value)
            else:
                raise RecordError(f"{self.expression}: * needs an array or object")
        return [self._apply(item, rest) for item in items]

    def _field(self, value: Any, name: str) -> Any:
        if not isinstance(value, dict) or name not in value:
            raise RecordError(f"{self.expression}: the record has no field {name!r}")
        return value[name]

    def _index(self, value: Any, index: int) -> Any:
        if not isinstance(value, list) or not -len(value) <= index < len(value):
            raise RecordError(f"{self.expression}: the record has no index {index}")
        return value[index]

    def _slice(self, value: Any, start: int | None, end: int | None, step: int | None) -> list:
        if not isinstance(value, list):
            raise RecordError(f"{self.expression}: a slice needs an array")
        # SageMaker's slices include their end index.
        stop = None if end is None or end == -1 else end + 1
        return value[slice(start, stop, step)]


def base_type(media_type: str | None) -> str:
    return (media_type or "").split(";", 1)[0].strip().lower()


def validate(
    processing: dict[str, Any],
    content_type: str | None,
    accept: str | None,
    split_type: str,
    assemble_with: str,
) -> None:
    """Check a job's DataProcessing as CreateTransformJob does.

    Raises:
        ValidationException: unsupported content type or accept, a CSV job not split
            and assembled by line, or a filter that is not in the supported subset.
    """
    used = (
        processing.get("InputFilter", "$") not in ("", "$")
        or processing.get("OutputFilter", "$") not in ("", "$")
        or processing.get("JoinSource", "None") == "Input"
    )
    if not used:
        return
    for label, value in (("TransformInput.ContentType", content_type), ("Accept", accept)):
        if value is not None and base_type(value) not in SUPPORTED:
            raise ValidationException(
                f"DataProcessing (InputFilter, JoinSource, OutputFilter) works on "
                f"{', '.join(SUPPORTED)} data only; {label} is {value!r}. Remove DataProcessing "
                "or use one of those types."
            )
    if base_type(content_type) not in SUPPORTED:
        raise ValidationException(
            "DataProcessing needs TransformInput.ContentType to be one of "
            f"{', '.join(SUPPORTED)} so records can be parsed; set it."
        )
    if base_type(content_type) == CSV and (split_type != "Line" or assemble_with != "Line"):
        raise ValidationException(
            "DataProcessing on text/csv input needs TransformInput.SplitType Line and "
            "TransformOutput.AssembleWith Line (each row is one record)."
        )
    if split_type not in ("Line", "None"):
        raise ValidationException(
            f"DataProcessing needs SplitType Line (or None for a single JSON document), not "
            f"{split_type}."
        )
    for name in ("InputFilter", "OutputFilter"):
        expression = processing.get(name)
        if expression:
            try:
                Filter(expression)
            except ValueError as exc:
                raise ValidationException(f"DataProcessing.{name}: {exc}") from None


def _csv_row(text: str) -> list[str]:
    rows = list(csv.reader([text]))
    return rows[0] if rows else []


def _csv_text(value: Any) -> str:
    fields = value if isinstance(value, list) else [value]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="")
    writer.writerow(
        [json.dumps(f) if isinstance(f, dict | list) else ("" if f is None else f) for f in fields]
    )
    return out.getvalue()


class RecordProcessor:
    """Applies a job's DataProcessing to records (each one line of bytes, no newline).

    Parameters
    ----------
    processing:
        The job's DataProcessing (validated).
    content_type:
        The input's ContentType (its base type decides CSV or JSON records).
    accept:
        The output's Accept (CSV or JSON output records); defaults to ``content_type``.
    """

    def __init__(self, processing: dict[str, Any], content_type: str, accept: str | None) -> None:
        self.input_csv = base_type(content_type) == CSV
        self.output_csv = base_type(accept or content_type) == CSV
        self.join = processing.get("JoinSource", "None") == "Input"
        source = processing.get("InputFilter")
        target = processing.get("OutputFilter")
        self.input_filter = Filter(source) if source and source != "$" else None
        self.output_filter = Filter(target) if target and target != "$" else None

    @property
    def changes_output(self) -> bool:
        return self.join or self.output_filter is not None

    def _parse_input(self, record: bytes) -> Any:
        text = record.decode("utf-8")
        if self.input_csv:
            return _csv_row(text)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise RecordError(f"the record is not valid JSON: {exc}") from None

    def filter_input(self, record: bytes) -> bytes:
        """The record as the container gets it (the input filter applied)."""
        if self.input_filter is None:
            return record
        value = self.input_filter.apply(self._parse_input(record))
        text = _csv_text(value) if self.input_csv else json.dumps(value)
        return text.encode("utf-8")

    def _parse_output(self, output: bytes) -> Any:
        text = output.decode("utf-8").strip()
        if self.output_csv:
            return _csv_row(text)
        try:
            return json.loads(text)
        except ValueError:
            return text

    def assemble(self, record: bytes, output: bytes) -> bytes:
        """One output line: the prediction, joined with the input and filtered."""
        value = self._parse_output(output)
        as_csv = self.output_csv
        if self.join:
            source = self._parse_input(record)
            if self.input_csv:
                value = source + (value if isinstance(value, list) else [value])
                as_csv = True
            elif isinstance(source, dict):
                value = {**source, "SageMakerOutput": value}
                as_csv = False
            else:
                value = {"SageMakerInput": source, "SageMakerOutput": value}
                as_csv = False
        if self.output_filter is not None:
            value = self.output_filter.apply(value)
        text = _csv_text(value) if as_csv else json.dumps(value)
        return text.encode("utf-8")
