"""simsage.runtime.metrics: MetricDefinitions are checked when the job is created, and no
regular expression can crash or stall the runner that matches them."""

from __future__ import annotations

import re
import threading
import time

import pytest

from simsage.runtime.metrics import MetricDefinitionError, MetricReader, compile_definitions, match


def test_invalid_regex_is_refused_naming_the_metric():
    with pytest.raises(MetricDefinitionError) as refused:
        compile_definitions([{"Name": "ok", "Regex": "a=(\\d+)"}, {"Name": "loss", "Regex": "("}])
    message = str(refused.value)
    assert "Invalid regular expression '(' in the metric definition 'loss'" in message
    assert "first capture group" in message


def test_match_takes_the_first_group_and_skips_what_is_not_a_finite_number():
    patterns = [
        ("loss", re.compile(r"loss=([0-9.e-]+)")),
        ("no-group", re.compile(r"loss")),
        ("optional", re.compile(r"acc(=([0-9.]+))?")),  # group 1 is "=0.9" or None
        ("word", re.compile(r"state=(\w+)")),
        ("inf", re.compile(r"grad=(\S+)")),
    ]
    found = match(patterns, "loss=0.25 acc state=done grad=inf")
    assert found == [("loss", 0.25)]


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_reader_keeps_the_last_value_of_each_metric():
    logged = []
    reader = MetricReader(
        [
            {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
            {"Name": "broken", "Regex": "(["},  # stored before checks existed: skipped
        ],
        log=logged.append,
    )
    try:
        for step, loss in enumerate((0.75, 0.5, 0.25)):
            reader.feed(f"epoch {step}: loss={loss}", 100.0 + step)
        reader.finish()
        assert reader.latest() == {"train:loss": [0.25, 102.0]}
        assert any("metric definition skipped" in line and "broken" in line for line in logged)
    finally:
        reader.close()


def test_a_catastrophic_regex_never_blocks_the_caller():
    logged = []
    reader = MetricReader(
        [
            {"Name": "fast", "Regex": r"value=([0-9.]+)"},
            {"Name": "slow", "Regex": r"^(a+)+$"},  # exponential on "aaaa…b"
        ],
        log=logged.append,
    )
    try:
        reader.feed("value=1.5", 1.0)
        _wait(lambda: reader.latest().get("fast") == [1.5, 1.0])

        def flood():  # more lines than the queue holds, behind a stuck matcher
            for _ in range(20000):
                reader.feed("a" * 40 + "b", 2.0)

        feeder = threading.Thread(target=flood, daemon=True)
        feeder.start()
        feeder.join(60)
        assert not feeder.is_alive(), "feeding waited for the stuck matcher"
        reader.finish(timeout=0.5)
        assert reader.dropped > 0
        assert any("did not keep up" in line for line in logged)
        assert any("were not matched" in line for line in logged)
    finally:
        reader.close()


def test_no_definitions_start_no_process():
    reader = MetricReader([])
    reader.feed("loss=1", 1.0)
    reader.finish()
    assert reader.latest() == {}
