"""MetricDefinitions: checking them, and matching log lines against them.

Layer: runtime. SageMaker reads a job's metrics from its log lines with each
definition's ``Regex``, the value being the first capture group, and the job never
notices how slow or odd a regular expression is. Here too:

- :func:`compile_definitions` checks the definitions at create time (every ``Regex``
  compiles), raising :class:`MetricDefinitionError` with a message the API answers as a
  ValidationException.
- :class:`MetricReader` matches lines in a child process (``python -m
  simsage.runtime.metrics``), fed through a bounded queue. It keeps each metric's latest
  value (FinalMetricDataList) and hands every match, with the host whose line it was, to
  its ``on_value`` hook (the runner publishes them as CloudWatch metric series). Python's ``re`` holds the GIL
  while it matches, so a catastrophically backtracking pattern in a thread would stall the
  whole runner (log shipping, stop and timeout handling); in a child it only delays
  metrics, lines it cannot keep up with are dropped and counted, and the child is killed
  when the job ends. A definition that does not compile, a match without a group, or a
  group that is not a finite number is skipped, never an error.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import re
import subprocess
import sys
import threading
import time

from simsage.runtime.python import child_environment, module_command

QUEUE_LINES = 10000
LINE_LIMIT = 64 * 1024  # characters of a line matched (a log event is at most 256 KB)


class MetricDefinitionError(ValueError):
    """A MetricDefinitions entry that cannot be used; the message names it."""


def compile_definitions(definitions: list[dict[str, str]]) -> list[tuple[str, re.Pattern]]:
    """``[(name, compiled Regex)]`` of the definitions, in order.

    Raises:
        MetricDefinitionError: a Regex that is not a valid regular expression.
    """
    compiled = []
    for definition in definitions:
        name, regex = definition.get("Name", ""), definition.get("Regex", "")
        try:
            compiled.append((name, re.compile(regex)))
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            raise MetricDefinitionError(
                f"Invalid regular expression {regex!r} in the metric definition {name!r} "
                f"(AlgorithmSpecification.MetricDefinitions): {exc}. Give a valid regular "
                "expression whose first capture group matches the metric's value, "
                r"for example 'loss=([0-9\.]+)'."
            ) from None
    return compiled


def _usable(definitions: list[dict[str, str]]) -> tuple[list[tuple[str, re.Pattern]], list[str]]:
    """The definitions that compile, and a warning for each one that does not."""
    usable, warnings = [], []
    for definition in definitions:
        try:
            usable += compile_definitions([definition])
        except MetricDefinitionError as exc:
            warnings.append(f"simsage: metric definition skipped: {exc}")
        except Exception as exc:  # a malformed entry: never a reason to fail the job
            warnings.append(f"simsage: metric definition {definition!r} skipped: {exc}")
    return usable, warnings


def match(patterns: list[tuple[str, re.Pattern]], line: str) -> list[tuple[str, float]]:
    """The ``(name, value)`` pairs ``line`` gives (first group, finite numbers only)."""
    found = []
    for name, pattern in patterns:
        try:
            hit = pattern.search(line[:LINE_LIMIT])
            value = float(hit.group(1)) if hit and hit.re.groups else None
        except (TypeError, ValueError, IndexError, RecursionError):
            continue  # an optional group that did not take part, or not a number
        if value is not None and math.isfinite(value):
            found.append((name, value))
    return found


class MetricReader:
    """Feeds log lines to the matching child; ``latest()`` holds each metric's last
    value and time (``{name: [value, timestamp]}``), and ``on_value(name, host,
    timestamp, value)``, if given, sees every match in the order the lines were fed (from
    the reader's thread: it must be quick and thread-safe, e.g. queue to a buffer)."""

    def __init__(self, definitions: list[dict[str, str]], log=print, on_value=None) -> None:
        self.log = log
        self.on_value = on_value
        self._latest: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.dirty = False
        self.dropped = 0
        self._lines: queue.Queue = queue.Queue(QUEUE_LINES)
        patterns, warnings = _usable(definitions)
        for warning in warnings:
            log(warning)
        self._names = [name for name, _ in patterns]
        self._child: subprocess.Popen | None = None
        if not patterns:
            return
        self._child = subprocess.Popen(
            module_command("simsage.runtime.metrics"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_environment(),
            close_fds=True,
        )
        definitions_line = json.dumps([{"Name": n, "Regex": p.pattern} for n, p in patterns])
        self._lines.put(definitions_line)
        self._writer = threading.Thread(target=self._write, name="metrics-in", daemon=True)
        self._reader = threading.Thread(target=self._read, name="metrics-out", daemon=True)
        self._writer.start()
        self._reader.start()

    def feed(self, line: str, timestamp: float, host: str = "") -> None:
        """Queue a line ``host`` printed (never blocks: when the matcher lags, the line
        is dropped)."""
        if self._child is None:
            return
        try:
            self._lines.put_nowait(json.dumps([timestamp, line[:LINE_LIMIT], host]))
        except queue.Full:
            self.dropped += 1

    def latest(self) -> dict[str, list[float]]:
        with self._lock:
            self.dirty = False
            return {name: list(value) for name, value in self._latest.items()}

    def finish(self, timeout: float = 2.0) -> None:
        """Match what is queued, then stop the child. It waits while the queue shrinks,
        and at most ``timeout`` s without progress (a stuck pattern)."""
        if self._child is None:
            return
        ended = False  # the end marker is queued: the child exits when it gets there
        left, idle_since = self._lines.qsize(), time.monotonic()
        while self._reader.is_alive() and time.monotonic() - idle_since < timeout:
            if not ended:
                with contextlib.suppress(queue.Full):
                    self._lines.put_nowait(None)
                    ended = True
            self._reader.join(0.05)
            if self._lines.qsize() < left:
                left, idle_since = self._lines.qsize(), time.monotonic()
        if self._reader.is_alive():
            self.log(
                "simsage: matching the log against MetricDefinitions did not keep up (a "
                "Regex may backtrack heavily); the last metric values may be missing."
            )
        if self.dropped:
            self.log(
                f"simsage: {self.dropped} log lines were not matched against "
                "MetricDefinitions: matching fell behind the log."
            )
        self.close()

    def close(self) -> None:
        if self._child is not None and self._child.poll() is None:
            with contextlib.suppress(OSError):
                self._child.kill()
            self._child.wait()

    def _write(self) -> None:
        stdin = self._child.stdin
        try:
            while (item := self._lines.get()) is not None:
                stdin.write(item.encode("utf-8", "replace") + b"\n")
                if self._lines.empty():
                    stdin.flush()
        except (OSError, ValueError):  # the child is gone
            pass
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def _read(self) -> None:
        for raw in self._child.stdout:
            try:
                index, value, timestamp, host = json.loads(raw)
                name = self._names[index]
            except (ValueError, TypeError, IndexError):
                continue
            with self._lock:
                self._latest[name] = [value, timestamp]
                self.dirty = True
            if self.on_value is not None:
                try:
                    self.on_value(name, host, timestamp, value)
                except Exception as exc:  # publishing must never stop the matching
                    self.log(f"simsage: publishing metric {name} failed: {exc}")


def _serve(stdin, stdout) -> None:
    """The child: the first line is the definitions, then ``[timestamp, line, host]``
    per line; answers ``[definition index, value, timestamp, host]`` per match."""
    first = stdin.readline()
    if not first:
        return
    patterns, _ = _usable(json.loads(first))
    for raw in stdin:
        try:
            timestamp, line, host = json.loads(raw)
        except ValueError:
            continue
        hits = [
            json.dumps([index, value, timestamp, host])
            for index, pattern in enumerate(patterns)
            for _, value in match([pattern], str(line))
        ]
        if hits:
            stdout.write("\n".join(hits) + "\n")
            stdout.flush()


def main() -> int:
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        _serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
