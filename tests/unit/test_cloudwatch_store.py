"""The metric store's promises: a metric is its namespace, name and whole dimension set;
series come back in time order; a buffer writes what any thread queued, aggregates by
period when asked (exact count/sum/min/max) and is flushed before a reader of the same
home reads."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from simsage.ids import Clock
from simsage.store import Database
from simsage.store.metrics import MetricBuffer, MetricStore, Sample, flush_pending


@pytest.fixture
def home(tmp_path):
    db = Database(tmp_path / "state.db")
    yield SimpleNamespace(db=db, clock=Clock())
    db.close()


def test_series_is_in_time_order_for_exactly_the_dimensions_given(home):
    store = MetricStore(home)
    host1 = {"Host": "job/algo-1"}
    store.put("/aws/sagemaker/TrainingJobs", "loss", host1, [(30.0, 0.3), (10.0, 0.9)])
    store.put("/aws/sagemaker/TrainingJobs", "loss", host1, [(20.0, 0.5)])
    store.put("/aws/sagemaker/TrainingJobs", "loss", {"Host": "job/algo-2"}, [(15.0, 7.0)])
    store.put("/aws/sagemaker/TrainingJobs", "loss", {**host1, "X": "y"}, [(15.0, 8.0)])
    series = store.series("/aws/sagemaker/TrainingJobs", "loss", host1)
    assert series == [(10.0, 0.9), (20.0, 0.5), (30.0, 0.3)]
    assert store.series("/aws/sagemaker/TrainingJobs", "loss", host1, start=20.0, end=30.0) == [
        (20.0, 0.5)
    ]
    assert store.series("/aws/sagemaker/TrainingJobs", "loss", {"Host": "other"}) == []
    names = [(m.name, m.dimensions) for m in store.metrics("/aws/sagemaker/TrainingJobs")]
    # In the order of their stored dimension key, the one ListMetrics' token pages by.
    assert names == [
        ("loss", (("Host", "job/algo-1"), ("X", "y"))),
        ("loss", (("Host", "job/algo-1"),)),
        ("loss", (("Host", "job/algo-2"),)),
    ]


def test_a_statistic_set_keeps_its_statistics_and_reads_as_its_average(home):
    store = MetricStore(home)
    sample = Sample.statistic_set(5.0, count=4, total=10.0, minimum=1.0, maximum=4.0)
    store.put_samples([("App", "Latency", {}, [sample])])
    (kept,) = store.samples(store.find("App", "Latency", {}))
    assert (kept.count, kept.total, kept.minimum, kept.maximum, kept.value) == (4, 10, 1, 4, None)
    assert store.series("App", "Latency", {}) == [(5.0, 2.5)]


def test_buffer_writes_what_threads_queued_in_one_flush(home):
    store = MetricStore(home)
    buffer = MetricBuffer(store)

    def publish(worker):
        for step in range(50):
            buffer.add("App", "steps", {"Worker": str(worker)}, float(step), 1000.0 + step)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffer.flush()
    for worker in range(4):
        values = [v for _, v in store.series("App", "steps", {"Worker": str(worker)})]
        assert values == [float(step) for step in range(50)]


def test_an_aggregating_buffer_keeps_exact_statistics_per_period(home):
    store = MetricStore(home)
    buffer = MetricBuffer(store, aggregate=60, significant=2)
    for ts, value in ((60.5, 1234.0), (61.0, 1239.0), (70.0, 5.0), (125.0, 7.0)):
        buffer.add("AWS/SageMaker", "ModelLatency", {"EndpointName": "e"}, value, ts)
    buffer.flush()
    samples = store.samples(store.find("AWS/SageMaker", "ModelLatency", {"EndpointName": "e"}))
    rows = sorted((s.timestamp, s.value, s.count, s.total, s.minimum, s.maximum) for s in samples)
    assert rows == [
        (60.0, 5.0, 1, 5.0, 5.0, 5.0),
        (60.0, 1200.0, 2, 2473.0, 1234.0, 1239.0),  # value rounded, the rest exact
        (120.0, 7.0, 1, 7.0, 7.0, 7.0),
    ]


def test_a_reader_of_the_home_sees_what_an_idle_flushing_buffer_queued(home):
    store = MetricStore(home)
    buffer = MetricBuffer(store, idle_flush=3600)  # its own flush would come much later
    buffer.add("App", "Invocations", {"EndpointName": "e"}, 1.0, 10.0)
    flush_pending(home)
    assert store.series("App", "Invocations", {"EndpointName": "e"}) == [(10.0, 1.0)]
    buffer.close()
