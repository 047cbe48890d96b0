"""``symgraph.data.batchify``: each option's order (continuous, a shuffled epoch, independent random batches),
drop_last, seeds, and the argument checks."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.data import batchify

N = 10
X = np.arange(N * 2, dtype="float32").reshape(N, 2)
Y = np.arange(N, dtype="int32")


def _rows(batches):
    return [y.tolist() for _, y in batches]


def test_continuous_is_in_order_and_drops_the_short_batch():
    batches = list(batchify(X, Y, batch_size=3))
    assert _rows(batches) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    for x, y in batches:
        np.testing.assert_array_equal(x, X[y])


def test_drop_last_false_yields_the_short_batch():
    assert _rows(batchify(X, Y, batch_size=3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_random_see_all_is_one_permutation_and_seeded():
    first = _rows(batchify(X, Y, batch_size=5, option="random_see_all", seed=3))
    assert sorted(sum(first, [])) == list(range(N))
    assert first != [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert _rows(batchify(X, Y, batch_size=5, option="random_see_all", seed=3)) == first
    assert _rows(batchify(X, Y, batch_size=5, option="random_see_all", seed=4)) != first
    # pairs stay aligned
    for x, y in batchify(X, Y, batch_size=5, option="random_see_all", seed=3):
        np.testing.assert_array_equal(x, X[y])


def test_random_draws_independent_full_batches():
    batches = _rows(batchify(X, Y, batch_size=4, option="random", seed=0))
    assert len(batches) == N // 4
    assert all(len(b) == 4 and len(set(b)) == 4 for b in batches)
    draws = [sum(_rows(batchify(X, Y, batch_size=4, option="random", seed=s)), []) for s in range(20)]
    assert any(len(set(d)) < len(d) for d in draws)  # rows repeat across batches: not a permutation


def test_single_array_yields_the_array_and_feeds_a_function():
    x = sg.Placeholder((4, 2), "float32")
    f = sg.function(x, outputs=x.sum())
    totals = [float(f(batch)) for batch in batchify(X, batch_size=4)]
    np.testing.assert_allclose(totals, [X[:4].sum(), X[4:8].sum()])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
    ({"batch_size": 11}, ValueError, "larger than the 10 rows"),
    ({"batch_size": 2, "option": "shuffle"}, ValueError, "option must be one of"),
    ({"batch_size": 2, "option": "random", "drop_last": False}, ValueError, "random_see_all"),
    ({"batch_size": 2, "seed": 1.5}, TypeError, "seed must be an int"),
])
def test_wrong_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        batchify(X, Y, **kwargs)


def test_arrays_of_different_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        batchify(X, Y[:5], batch_size=2)
    assert _rows(batchify(X, Y, batch_size=11, drop_last=False)) == [list(range(N))]
