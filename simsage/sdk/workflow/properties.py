"""Step properties: ``step.properties.ModelArtifacts.S3ModelArtifacts`` and
``…Outputs['train'].S3Output.S3Uri`` are ``{"Get": "Steps.<step>.…"}`` paths into the
Describe* answer of the step's job, built by attribute access (for the PascalCase member
names of the API) and ``[key]`` indexing, as the official SDK writes them; and
``PropertyFile``, a JSON file a processing step writes that ``JsonGet`` reads.

simsage checks the paths against the Describe shapes when the pipeline is created (see
:mod:`simsage.pipelines.shapes`), so this module does not repeat the shapes.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.workflow.entities import PipelineVariable


class Properties(PipelineVariable):
    """A property path; attributes and ``[key]`` extend it."""

    def __init__(self, path: str) -> None:
        self._path = path

    @property
    def expr(self) -> dict[str, Any]:
        return {"Get": self._path}

    def __getattr__(self, name: str) -> Properties:
        # Only API member names (PascalCase) extend a path: anything else (dunders,
        # copy/pickle probes, typos in lower case) is a plain missing attribute.
        if not name[:1].isupper():
            raise AttributeError(name)
        return Properties(f"{self._path}.{name}")

    def __getitem__(self, key: int | str) -> Properties:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TypeError(f"A property list is indexed by a name or a position; got {key!r}.")
        index = key if isinstance(key, int) else f"'{key}'"
        return Properties(f"{self._path}[{index}]")

    def __iter__(self):
        raise TypeError(f"{self._path} is known only at run time: it cannot be iterated.")

    def __repr__(self) -> str:
        return f"Properties({self._path!r})"


class PropertyFile:
    """A JSON file (``path``, relative to the output ``output_name``) that the processing
    step with ``property_files=[…]`` writes; read with :class:`~simsage.sdk.workflow
    .functions.JsonGet`."""

    def __init__(self, name: str, output_name: str, path: str) -> None:
        self.name = name
        self.output_name = output_name
        self.path = path

    @property
    def expr(self) -> dict[str, str]:
        return {
            "PropertyFileName": self.name,
            "OutputName": self.output_name,
            "FilePath": self.path,
        }
