"""RecordIO-protobuf encode/decode (simsage.algorithms.recordio) on 100k × 20 rows.

Everything is measured in one run of this script, against baselines measured in the same
run (never as timed assertions in the test suite); each figure is the best of a few runs.

Cases, each with float32 features and float32 labels:
- dense encode: ``write_dense`` against the official SDK v2's ``write_numpy_to_dense_tensor``
  (one protobuf message per row, the SDK's own writer) and against ``ndarray.tobytes`` (the
  floor: copying the numbers);
- dense decode: ``read_arrays`` against the SDK's ``read_records`` plus building the feature
  matrix from its records (what an SDK user's code does);
- sparse (20% density) encode and decode: ``write_sparse``/``read_arrays`` against the SDK's
  ``write_spmatrix_to_sparse_tensor``/``read_records`` (the SDK's reader only parses the
  messages; ``read_arrays`` also builds the CSR matrix and the labels).
Target (issue 13): encode and decode of 100k × 20 well under a second.

Usage: ``python3 benchmarks/bench_recordio.py`` (needs the official SDK v2 for the baselines).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse

from simsage.algorithms import recordio

ROWS, COLS = 100_000, 20


def best(fn: Callable[[], object], runs: int = 3) -> float:
    """The fastest of ``runs`` timed calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from sagemaker.amazon import common

    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, COLS)).astype(np.float32)
    y = rng.integers(0, 2, size=ROWS).astype(np.float32)
    sparse = scipy.sparse.random(ROWS, COLS, density=0.2, format="csr", random_state=0)
    sparse = sparse.astype(np.float32)

    def sdk_dense_write() -> bytes:
        buffer = io.BytesIO()
        common.write_numpy_to_dense_tensor(buffer, x, y)
        return buffer.getvalue()

    def sdk_sparse_write() -> bytes:
        buffer = io.BytesIO()
        common.write_spmatrix_to_sparse_tensor(buffer, sparse, y)
        return buffer.getvalue()

    dense_bytes = recordio.write_dense(None, x, y)
    assert dense_bytes == sdk_dense_write(), "simsage's bytes differ from the SDK's"
    sparse_bytes = recordio.write_sparse(None, sparse, y)

    def sdk_dense_read():
        records = common.read_records(io.BytesIO(dense_bytes))
        return np.array([r.features["values"].float32_tensor.values for r in records])

    rows = [
        ("dense encode", best(lambda: recordio.write_dense(None, x, y)), best(sdk_dense_write)),
        ("dense decode", best(lambda: recordio.read_arrays(dense_bytes)), best(sdk_dense_read)),
        (
            "sparse encode",
            best(lambda: recordio.write_sparse(None, sparse, y)),
            best(sdk_sparse_write),
        ),
        (
            "sparse decode",
            best(lambda: recordio.read_arrays(sparse_bytes)),
            best(lambda: common.read_records(io.BytesIO(sparse_bytes))),
        ),
    ]
    floor = best(x.tobytes)
    print(f"RecordIO-protobuf, {ROWS:,} × {COLS} float32 rows with labels (best of 3)")
    print(f"{'case':<14} {'simsage s':>10} {'SDK v2 s':>10} {'SDK/simsage':>12}")
    for name, ours, theirs in rows:
        print(f"{name:<14} {ours:>10.3f} {theirs:>10.3f} {theirs / ours:>11.1f}x")
    print(f"floor: ndarray.tobytes of the features {floor:.4f} s "
          f"(dense encode = {rows[0][1] / floor:.1f}x the floor)")  # fmt: skip


if __name__ == "__main__":
    main()
