"""Starting simsage's own modules in child processes (runners, supervisors, algorithm
hosts, inference servers, helpers).

Layer: runtime; standard library only. Two rules every such child follows:

- it imports this simsage, installed or not: the folder holding the ``simsage`` package
  goes first on the child's ``PYTHONPATH`` (:func:`child_environment`);
- it never imports another one: ``python -m`` would put the child's working folder first
  on ``sys.path``, so a folder named ``simsage`` there (another checkout, or whatever a
  job's folder holds) would be imported instead. ``-P`` (Python 3.11) leaves it out
  (:func:`module_command`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def module_command(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m <module> <args>`` with this interpreter."""
    return [sys.executable, "-P", "-m", module, *args]


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (this process's environment by default) whose ``PYTHONPATH``
    starts with the folder of this simsage (what ``base`` had follows it)."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env
