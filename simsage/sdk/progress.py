"""Progress bars for training rounds and batch transform files, drawn only when a
terminal is attached; the job's log lines stay on the screen above the bar.

Rounds are read from the training log lines (``[12]#011train-auc:…`` for XGBoost),
transformed files from the transform job's data-log lines (``…: completed, …``).
"""

from __future__ import annotations

import re
import sys
from typing import Any

_ROUND = re.compile(r"^\[(\d+)\]")
_FILE_DONE = re.compile(r": completed[,( ]")


class LogProgress:
    """Prints log lines and moves a bar along.

    Parameters
    ----------
    total:
        How many steps (rounds, files); None when unknown (no bar).
    unit, desc:
        The bar's labels.
    stream:
        Where lines and bar go (stdout); without a terminal there is no bar.
    """

    def __init__(self, total: int | None, unit: str, desc: str, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.bar = None
        if total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream)

    def write(self, line: str) -> None:
        """Print a log line (above the bar when there is one)."""
        if self.bar is None:
            print(line, file=self.stream, flush=True)
        else:
            self.bar.write(line, file=self.stream)

    def line(self, line: str) -> None:
        """Look at one log line and move the bar if it reports progress."""

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class RoundsBar(LogProgress):
    """Training rounds (``num_round`` of them)."""

    def __init__(self, total: int | None, stream: Any = None) -> None:
        super().__init__(total, "round", "training", stream)

    def line(self, line: str) -> None:
        match = _ROUND.match(line)
        if self.bar is not None and match:
            self.bar.n = min(int(match.group(1)) + 1, self.bar.total)
            self.bar.refresh()


class FilesBar(LogProgress):
    """Input files of a transform job."""

    def __init__(self, total: int | None, stream: Any = None) -> None:
        super().__init__(total, "file", "transform", stream)

    def line(self, line: str) -> None:
        if self.bar is not None and _FILE_DONE.search(line):
            self.bar.update(1)


# The official SDK's characters for a tuning job's status while it waits.
_TUNING_CODES = {
    "Completed": "!",
    "InProgress": ".",
    "Failed": "*",
    "Stopped": "s",
    "Stopping": "_",
}


class TuningProgress:
    """A tuning job's progress, from its descriptions (:meth:`update`).

    In a terminal: a bar of the training jobs that ended, out of
    ``MaxNumberOfTrainingJobs``, with the best objective so far. Otherwise the official
    SDK's status characters — ``.`` as training jobs end (one per job, not one per poll:
    simsage polls every 0.1 s) and ``!``/``*``/``s`` when the tuning job ends Completed,
    Failed or Stopped, then a new line.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.bar = None
        self._ended = 0
        self._closed = False

    def update(self, described: dict[str, Any]) -> None:
        """Show what description ``described`` (DescribeHyperParameterTuningJob) says."""
        if self._closed:
            return
        counters = described.get("TrainingJobStatusCounters", {})
        ended = sum(counters.get(k, 0) for k in ("Completed", "Stopped", "NonRetryableError"))
        status = described["HyperParameterTuningJobStatus"]
        finished = status not in ("InProgress", "Stopping")
        if self.tty:
            self._bar(described, ended)
        elif ended > self._ended:
            print(_TUNING_CODES["InProgress"] * (ended - self._ended), end="", file=self.stream)
        self._ended = max(ended, self._ended)
        if finished:
            if not self.tty:
                print(_TUNING_CODES.get(status, "?"), file=self.stream)
            self.close()
        self.stream.flush()

    def _bar(self, described: dict[str, Any], ended: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            limits = described.get("HyperParameterTuningJobConfig", {}).get("ResourceLimits", {})
            total = limits.get("MaxNumberOfTrainingJobs")
            self.bar = tqdm(total=total, unit="job", desc="tuning", file=self.stream)
        best = described.get("BestTrainingJob", {})
        value = best.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        if value is not None:
            self.bar.set_postfix(best=f"{value:.6g}", refresh=False)
        self.bar.n = ended
        self.bar.refresh()

    def close(self) -> None:
        self._closed = True
        if self.bar is not None:
            self.bar.close()
            self.bar = None
