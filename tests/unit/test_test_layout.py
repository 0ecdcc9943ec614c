"""The suite's layout: pytest imports test modules by their basename (rootdir-relative
"prepend" import mode, no packages), so two test files with one name in different folders
stop the whole collection ("import file mismatch"). Checked here, before it happens."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_basename_of_its_own():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
