"""What the processors (:mod:`simsage.sdk.processing`, :mod:`simsage.sdk.framework_processor`)
check before a job starts, with the official SDK's messages: arguments and entrypoints
as lists of strings, inputs and outputs named (``input-<i>``/``output-<i>``) as copies,
local sources and code that exist."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from simsage.sdk.inputs import ProcessingInput, ProcessingOutput
from simsage.sdk.workflow.entities import PipelineVariable


def check_strings(what: str, value: Any) -> None:
    """``value`` must be None or a list of strings (a lone string is a common slip)."""
    if value is None:
        return
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a list of strings, e.g. ['--rows', '100']; got {value!r}")
    wrong = [item for item in value if not isinstance(item, str | PipelineVariable)]
    if wrong:
        raise TypeError(f"{what} must hold strings only; {wrong[0]!r} is not (use str()).")


def name_inputs(inputs: list[ProcessingInput] | None) -> list[ProcessingInput]:
    """Copies of ``inputs``, the unnamed ones named ``input-<i>``; refuses what SageMaker
    would refuse."""
    named = []
    for index, item in enumerate(inputs or [], 1):
        if not isinstance(item, ProcessingInput):
            raise TypeError("Your inputs must be provided as ProcessingInput objects.")
        if not item.destination:
            raise ValueError(
                f"ProcessingInput {item.input_name or index} has no destination: give the "
                "folder under /opt/ml/processing/ to download it to."
            )
        if item.s3_compression_type == "Gzip" and item.s3_input_mode != "Pipe":
            raise ValueError("Data can only be gzipped when the input mode is Pipe.")
        named.append(replace(item, input_name=item.input_name or f"input-{index}"))
    return named


def name_outputs(outputs: list[ProcessingOutput] | None) -> list[ProcessingOutput]:
    """Copies of ``outputs``, the unnamed ones named ``output-<i>``."""
    named = []
    for index, item in enumerate(outputs or [], 1):
        if not isinstance(item, ProcessingOutput):
            raise TypeError("Your outputs must be provided as ProcessingOutput objects.")
        if not item.source:
            raise ValueError(
                f"ProcessingOutput {item.output_name or index} has no source: give the "
                "folder under /opt/ml/processing/ the job writes it to."
            )
        named.append(replace(item, output_name=item.output_name or f"output-{index}"))
    return named


def local_source(source: str) -> str | None:
    """The local path of an input source (None for an S3 URI).

    Raises:
        ValueError: neither an S3 URI nor an existing local file or folder.
    """
    parsed = urlparse(source)
    if parsed.scheme == "s3":
        return None
    if parsed.scheme not in ("", "file"):
        raise ValueError(
            f"ProcessingInput source {source} url scheme {parsed.scheme} is not recognized: "
            "give an s3:// URI or a local path."
        )
    path = url2pathname(parsed.path) if parsed.scheme == "file" else source
    if not os.path.exists(path):
        raise ValueError(
            f"ProcessingInput source {source} is neither an s3:// URI nor an existing local "
            "file or folder."
        )
    return path


def local_code(code: str) -> str | None:
    """The local path of ``code`` (None for an S3 URI), with the official SDK's checks."""
    parsed = urlparse(code)
    if parsed.scheme == "s3":
        return None
    if parsed.scheme not in ("", "file"):
        raise ValueError(
            f"code {code} url scheme {parsed.scheme} is not recognized. Please pass a file "
            "path or S3 url"
        )
    path = url2pathname(parsed.path) if parsed.scheme == "file" else code
    if not os.path.exists(path):
        raise ValueError(f"code {code} wasn't found. Please make sure that the file exists.")
    if not os.path.isfile(path):
        raise ValueError(
            f"code {code} must be a file, not a directory. Please pass a path to a file."
        )
    return path
