"""Each example notebook (``.ipynb``) is the jupytext pair of its ``.py`` script: the same
cells, in the same order, with the same sources — so the script the tests run is the
notebook a learner opens. After editing a script, regenerate its notebook with
``jupytext --sync examples/<name>/<name>.py``."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PAIRED_SCRIPTS = sorted(
    path
    for path in EXAMPLES.rglob("*.py")
    if "formats: ipynb,py:percent" in path.read_text(encoding="utf-8")[:1000]
)


def cells(path: Path) -> list[tuple[str, str]]:
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_the_examples_have_notebooks():
    names = {path.stem for path in PAIRED_SCRIPTS}
    assert {
        "anomaly_detection",
        "flight_delay",
        "flight_delay_pipeline",
        "fraud_detection",
    } <= names


@pytest.mark.parametrize("script", PAIRED_SCRIPTS, ids=lambda p: p.stem)
def test_notebook_is_in_sync_with_its_script(script: Path):
    notebook = script.with_suffix(".ipynb")
    assert notebook.is_file(), f"run: jupytext --sync {script.relative_to(EXAMPLES.parent)}"
    assert cells(notebook) == cells(script), (
        f"{notebook.name} differs from {script.name}: "
        f"run jupytext --sync {script.relative_to(EXAMPLES.parent)}"
    )


@pytest.mark.parametrize("script", PAIRED_SCRIPTS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(script: Path):
    raw = json.loads(script.with_suffix(".ipynb").read_text(encoding="utf-8"))
    code = [cell for cell in raw["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
