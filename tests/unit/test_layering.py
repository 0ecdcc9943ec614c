"""The layering DESIGN.md promises: a job kind never imports another job kind's
internals (what they share lives in simsage.runtime), the programs that run inside the
"containers" import no job kind, and the runtime imports no job kind. Reads the imports of the source files, so a new
sideways import fails here with the module it reached for."""

from __future__ import annotations

import ast
from pathlib import Path

import simsage

ROOT = Path(simsage.__file__).parent
# The job kinds, and the model registry (a concept too: hosting reads its rows from the store).
JOB_KINDS = ("training", "processing", "transform", "hosting", "tuning", "registry")
PROGRAMS = ("algorithms", "serving")  # what runs inside the "containers"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _concept(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "simsage" else None


def _reaches(package: str) -> set[tuple[str, str, str]]:
    """``(file, module imported, its concept)`` for every simsage import of a package."""
    out = set()
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in _imports(path):
            concept = _concept(module)
            if concept is not None:
                out.add((str(path.relative_to(ROOT)), module, concept))
    return out


def test_no_job_kind_imports_another_kinds_internals():
    sideways = set()
    for kind in JOB_KINDS:
        for _, module, concept in _reaches(kind):
            if concept in JOB_KINDS and concept != kind:
                # "from simsage.hosting import containers" names the module as an alias
                sideways.add((kind, ".".join(module.split(".")[:3])))
    assert sorted(sideways) == []


def test_programs_in_containers_import_no_job_kind():
    reached = set()
    for package in PROGRAMS:
        for _, module, concept in _reaches(package):
            if concept in JOB_KINDS:
                reached.add((package, ".".join(module.split(".")[:3])))
    assert sorted(reached) == []


def test_the_runtime_imports_no_job_kind():
    reached = [(f, m) for f, m, concept in _reaches("runtime") if concept in JOB_KINDS]
    assert reached == []
