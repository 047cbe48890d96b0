"""Tests of symgraph.rl.storage.sum_tree.SumTree against a brute-force cumulative sum."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symgraph.rl.storage.sum_tree import SumTree


def _brute(priorities, set_mask):
    cumsum = np.cumsum(priorities)
    minimum = priorities[set_mask].min() if set_mask.any() else np.inf
    return cumsum, minimum


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 70), data=st.data())
def test_total_min_find_match_brute_force(capacity, data):
    tree = SumTree(capacity)
    priorities = np.zeros(capacity)
    set_mask = np.zeros(capacity, dtype=bool)
    n_updates = data.draw(st.integers(1, 5))
    for _ in range(n_updates):
        idx = np.array(data.draw(st.lists(st.integers(0, capacity - 1), min_size=1, max_size=capacity)))
        values = np.array(data.draw(st.lists(
            st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=len(idx), max_size=len(idx))))
        if len(idx) == 1 and data.draw(st.booleans()):
            tree.update(int(idx[0]), float(values[0]))   # the scalar fast path
        else:
            tree.update(idx, values)
        for i, v in zip(idx, values, strict=True):   # the last of repeated indices wins
            priorities[i] = v
        set_mask[idx] = True
    cumsum, minimum = _brute(priorities, set_mask)
    assert tree.total == pytest.approx(cumsum[-1], rel=1e-12, abs=1e-12)
    assert tree.min == minimum
    np.testing.assert_array_equal(tree[np.arange(capacity)], priorities)
    if cumsum[-1] == 0:
        with pytest.raises(ValueError, match="every priority is 0"):
            tree.find([0.0])
        return
    # The midpoint of each non-empty leaf's interval lands on that leaf.
    lower = np.concatenate([[0.0], cumsum[:-1]])
    nonzero = np.flatnonzero(priorities > 0)
    np.testing.assert_array_equal(tree.find((lower + cumsum)[nonzero] / 2), nonzero)
    # Any u in [0, total) lands on a non-empty leaf whose interval holds u (up to rounding).
    u = np.array(data.draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=20)))
    u = u * tree.total
    found = tree.find(u)
    assert np.all(priorities[found] > 0)
    tol = 1e-9 * cumsum[-1]
    assert np.all(lower[found] - tol <= u) and np.all(u < cumsum[found] + tol)


def test_find_matches_searchsorted_on_a_large_tree():
    rng = np.random.default_rng(0)
    tree = SumTree(100_000)
    p = rng.random(100_000)
    tree.update(np.arange(100_000), p)
    u = rng.random(1000) * tree.total
    np.testing.assert_array_equal(tree.find(u), np.searchsorted(np.cumsum(p), u, side="right"))
    assert tree.find(u.reshape(10, 100)).shape == (10, 100)


def test_scalar_and_batch_updates_are_bit_identical():
    rng = np.random.default_rng(1)
    p = rng.random(37)
    batch, one_by_one = SumTree(37), SumTree(37)
    batch.update(np.arange(37), p)
    for i in range(37):
        one_by_one.update(i, float(p[i]))
    np.testing.assert_array_equal(batch._sum, one_by_one._sum)
    np.testing.assert_array_equal(batch._min, one_by_one._min)


def test_find_clips_and_never_returns_empty_leaves():
    tree = SumTree(5)
    tree.update([0, 1, 2], [1.0, 0.0, 2.0])   # leaves 3, 4 are empty
    np.testing.assert_array_equal(tree.find([-1.0, 0.5, 1.0, 2.999, 3.0, 100.0]), [0, 0, 2, 2, 2, 2])
    tree.clear()
    assert tree.total == 0.0 and tree.min == np.inf


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.update(4, 1.0), IndexError, "index 4 is out of range .* 0 to 3"),
    (lambda t: t.update([0, -1], [1.0, 1.0]), IndexError, "index -1"),
    (lambda t: t.update([0, 1], [1.0, -2.0]), ValueError, "finite and >= 0, got -2.0 for index 1"),
    (lambda t: t.update(0, float("nan")), ValueError, "finite and >= 0"),
    (lambda t: t.update([0.5], [1.0]), TypeError, "indices must be integers"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(SumTree(4))


@pytest.mark.parametrize("capacity", [0, -3, 2.5, True])
def test_bad_capacity(capacity):
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        SumTree(capacity)


def test_state_dict_round_trip_is_identical():
    tree = SumTree(6)
    tree.update([0, 1, 3], [1.0, 2.0, 3.0])
    tree.update(2, 0.0)                     # set to 0: counts in the minimum
    copy = SumTree(6)
    copy.update([5], [9.0])                 # overwritten by the load
    copy.load_state_dict(tree.state_dict())
    assert copy.total == tree.total == 6.0 and copy.min == tree.min == 0.0
    np.testing.assert_array_equal(copy.find([0.5, 1.5, 4.0, 5.9]), tree.find([0.5, 1.5, 4.0, 5.9]))
    unset = SumTree(4)
    unset.update([1], [2.0])
    restored = SumTree(4)
    restored.load_state_dict(unset.state_dict())
    assert restored.min == 2.0              # items never set do not count


def test_state_dict_errors():
    tree = SumTree(4)
    with pytest.raises(KeyError, match="no entry 'set'"):
        tree.load_state_dict({"priorities": np.zeros(4)})
    with pytest.raises(ValueError, match=r"'priorities' must be a float array of shape \(4,\)"):
        tree.load_state_dict({"priorities": np.zeros(3), "set": np.zeros(4, bool)})
    with pytest.raises(ValueError, match="finite and >= 0"):
        tree.load_state_dict({"priorities": -np.ones(4), "set": np.ones(4, bool)})
