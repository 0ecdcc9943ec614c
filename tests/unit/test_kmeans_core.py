"""The numpy k-means arithmetic (:mod:`simsage.algorithms.kmeans_core`) on small arrays:
mini-batch k-means, its seedings and weight decay, the weighted Lloyd pass and the
chunked squared distances."""

import numpy as np
import pytest
import scipy.sparse

from simsage.algorithms import kmeans_core as core

BLOB_CENTERS = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 0.0], [0.0, 10.0, 10.0], [10.0, 0, 10]])


def _blobs(sizes, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    x = BLOB_CENTERS[labels] + rng.normal(scale=scale, size=(len(labels), 3))
    return x.astype(np.float32), labels


def _found_every_blob(centers) -> bool:
    """Each blob center has exactly one learned center within 1 of it."""
    distances = np.linalg.norm(centers[:, None, :] - BLOB_CENTERS[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    return sorted(nearest.tolist()) == list(range(len(BLOB_CENTERS))) and (
        distances.min(axis=1).max() < 1
    )


def test_mini_batch_then_lloyd_recovers_well_separated_blobs():
    x, _ = _blobs([500, 400, 300, 200])
    centers, weights = core.minibatch_kmeans(x, 12, batch_size=100, epochs=2, seed=3)
    assert centers.shape == (12, 3) and weights.sum() == pytest.approx(2 * len(x))
    final = core.lloyd(centers[weights > 0], weights[weights > 0], 4, seed=3)
    assert final.shape == (4, 3) and _found_every_blob(final)


def test_kmeans_plus_plus_finds_small_blobs_that_random_seeding_misses():
    # One big blob and three of 4 records: K=4 random records are nearly always all from
    # the big one, while k-means++ spreads its seeds over the blobs.
    x, _ = _blobs([988, 4, 4, 4])
    found = {"random": 0, "kmeans++": 0}
    for seed in range(10):
        for method in found:
            centers, _ = core.minibatch_kmeans(x, 4, batch_size=1000, epochs=3,
                                               init_method=method, seed=seed)  # fmt: skip
            found[method] += _found_every_blob(centers)
    assert found["kmeans++"] >= 8 and found["random"] <= 2, found


def test_kmeans_plus_plus_seeds_are_distinct_records():
    x, _ = _blobs([5, 5, 5, 5])
    seeded = core.kmeans_plus_plus(x, 4, np.random.default_rng(0))
    assert {tuple(row) for row in seeded} <= {tuple(row) for row in x.astype(np.float64)}
    assert len({tuple(row) for row in seeded}) == 4


@pytest.mark.parametrize("half_life", [0, 50, 400])
def test_weights_decay_by_half_every_half_life_time_size_records(half_life):
    x, _ = _blobs([150, 150, 150, 150])
    _, weights = core.minibatch_kmeans(x, 4, batch_size=64, epochs=2,
                                       half_life_time_size=half_life, seed=1)  # fmt: skip
    seen = 2 * len(x)
    if half_life == 0:  # no decay: the weights count the records assigned
        assert weights.sum() == pytest.approx(seen)
    else:  # the j-th last record weighs 0.5 ** (j / half_life)
        g = 0.5 ** (1 / half_life)
        assert weights.sum() == pytest.approx((1 - g**seen) / (1 - g))
        assert weights.sum() < seen


def test_decay_makes_the_center_follow_the_latest_records():
    # the stream drifts: 400 records at 0, then 400 at 10; one center
    x = np.repeat([[0.0], [10.0]], 400, axis=0)
    plain, _ = core.minibatch_kmeans(x, 1, batch_size=100, half_life_time_size=0)
    assert plain[0, 0] == pytest.approx(5.0)  # the plain mean of all records
    decayed, weight = core.minibatch_kmeans(x, 1, batch_size=100, half_life_time_size=100)
    # the first 400 records have lost 1 - 0.5**4 of their weight: a mean of 10 / (1 + 1/16)
    assert decayed[0, 0] == pytest.approx(10 / (1 + 0.5**4))
    assert weight[0] == pytest.approx((1 - 0.5**8) / (1 - 0.5 ** (1 / 100)))


def test_lloyd_reduces_weighted_points_to_k_weighted_means():
    points = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 12.0], [20.0, 0.0]])
    weights = np.array([3.0, 1.0, 1.0, 1.0, 2.0])
    final = core.lloyd(points, weights, 3)
    expected = np.array([[0.0, 0.25], [10.0, 11.0], [20.0, 0.0]])
    assert np.allclose(final[np.argsort(final[:, 0])], expected)
    for method in ("random", "kmeans++"):
        again = core.lloyd(points, weights, 3, init_method=method, num_trials=4, seed=5)
        assert np.allclose(again[np.argsort(again[:, 0])], expected)


def test_more_lloyd_trials_never_end_with_a_higher_loss():
    x, _ = _blobs([50, 50, 50, 50], scale=2.5)
    weights = np.random.default_rng(0).uniform(1, 3, size=len(x))

    def loss(centers):
        return float(np.dot(weights, core.squared_distances(x, centers)[1]))

    one = core.lloyd(x, weights, 4, init_method="random", num_trials=1, seed=2)
    many = core.lloyd(x, weights, 4, init_method="random", num_trials=8, seed=2)
    assert loss(many) <= loss(one)
    # one iteration stops short of convergence
    short = core.lloyd(x, weights, 4, init_method="random", max_iter=1, seed=2)
    assert loss(short) >= loss(one)


def test_squared_distances_equal_brute_force_in_chunks_and_on_sparse_rows():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(53, 6)).astype(np.float32)
    centers = rng.normal(size=(5, 6))
    closest, squared = core.squared_distances(x, centers, chunk_rows=7)
    brute = ((x[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(axis=2)
    assert closest.tolist() == brute.argmin(axis=1).tolist()
    assert squared == pytest.approx(brute.min(axis=1), abs=1e-9)
    sparse = core.squared_distances(scipy.sparse.csr_matrix(x), centers, chunk_rows=10)
    assert sparse[0].tolist() == closest.tolist() and sparse[1] == pytest.approx(squared)


def test_squared_distances_are_never_negative():
    # ||x||^2 - 2xc + ||c||^2 cancels badly for large equal vectors; the result is clipped
    centers = np.array([[1e8 + 0.1, 3e8 + 0.7], [0.0, 0.0]])
    _, squared = core.squared_distances(centers.copy(), centers)
    assert (squared >= 0).all() and squared[1] == 0.0


def test_the_same_seed_learns_the_same_centers():
    x, _ = _blobs([100, 100, 100, 100], scale=3.0)
    for method in ("random", "kmeans++"):
        first = core.minibatch_kmeans(x, 8, batch_size=32, init_method=method, seed=9)
        again = core.minibatch_kmeans(x, 8, batch_size=32, init_method=method, seed=9)
        other = core.minibatch_kmeans(x, 8, batch_size=32, init_method=method, seed=10)
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
        assert not np.array_equal(first[0], other[0])
    weights = np.ones(len(x))
    assert np.array_equal(core.lloyd(x, weights, 4, seed=1), core.lloyd(x, weights, 4, seed=1))
