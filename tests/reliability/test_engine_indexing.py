"""Indexing with indices known when the graph is built: numpy's results in range, numpy's IndexError out of it
(JAX alone would clamp ``x[5]`` to the last row and fill ``take`` with NaN, silently)."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
import symgraph.tensor as T

W = np.arange(6, dtype="float32").reshape(3, 2)
OUT_OF_BOUNDS = r"index -?\d+ is out of bounds for axis \d+ with size \d+"


def _eager(node):
    """The node's value, op by op (no compilation: keeps the oracle tests fast)."""
    with jax.disable_jit():
        return np.asarray(node.get())


@pytest.mark.parametrize("key, message", [
    (5, "index 5 is out of bounds for axis 0 with size 3"),
    (-7, "index -7 is out of bounds for axis 0 with size 3"),
    ((slice(None), 7), "index 7 is out of bounds for axis 1 with size 2"),
    ((Ellipsis, -3), "index -3 is out of bounds for axis 1 with size 2"),
    ((None, 3), "index 3 is out of bounds for axis 0 with size 3"),
    ((0, 2), "index 2 is out of bounds for axis 1 with size 2"),
    ([0, 5], "index 5 is out of bounds for axis 0 with size 3"),
    ((slice(None), np.array([1, -3])), "index -3 is out of bounds for axis 1 with size 2"),
    ((1, [[0], [2]]), "index 2 is out of bounds for axis 1 with size 2"),
])
def test_static_out_of_range_index_raises_at_build_time_like_numpy(key, message):
    w = sg.Variable(W, name="w")
    with pytest.raises(IndexError, match=message):
        W[key]
    with pytest.raises(IndexError, match=rf"'w' \(shape \(3, 2\), float32\): {message}"):
        w[key]


def test_constant_node_index_is_checked_too():
    w = sg.Variable(W, name="w")
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 3"):
        w[sg.constant(np.array([4, 0]))]
    np.testing.assert_array_equal(_eager(w[sg.constant(np.array([2, 0]))]), W[[2, 0]])


def test_boolean_scalar_key_adds_an_axis_and_shifts_no_check():
    w = sg.Variable(W, name="w")
    np.testing.assert_array_equal(_eager(w[True, 2]), W[True, 2])
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        w[True, 3]


def test_zero_size_axis_has_no_valid_index():
    empty = sg.Variable(np.zeros((0, 2), "float32"), name="empty")
    with pytest.raises(IndexError, match="index 0 is out of bounds for axis 0 with size 0"):
        empty[0]


def test_unknown_dimension_is_not_checked_at_build_time():
    x = sg.Placeholder((None, 2), "float32", name="x")
    assert x[5].shape == (2,)               # any size at call time: nothing to check against now
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 1 with size 2"):
        x[5, 2]                             # the known axis still is


@pytest.mark.parametrize("indices, axis, message", [
    ([7], None, "index 7 is out of bounds for axis 0 with size 6"),
    ([0, -7], None, "index -7 is out of bounds for axis 0 with size 6"),
    ([3], 0, "index 3 is out of bounds for axis 0 with size 3"),
    ([[1], [2]], 1, "index 2 is out of bounds for axis 1 with size 2"),
    (np.array([-4]), 0, "index -4 is out of bounds for axis 0 with size 3"),
    (5, 0, "index 5 is out of bounds for axis 0 with size 3"),
    ([0], -1, None),
    ([0], 2, "axis 2 is out of bounds for array of dimension 2"),
])
def test_take_with_constant_out_of_range_indices_raises_like_numpy(indices, axis, message):
    w = sg.Variable(W, name="w")
    if message is None:                     # in range: numpy's result
        np.testing.assert_array_equal(_eager(T.take(w, indices, axis=axis)), np.take(W, indices, axis=axis))
        return
    with pytest.raises((IndexError, ValueError), match=message):
        np.take(W, indices, axis=axis)
    with pytest.raises((IndexError, ValueError), match=message):
        T.take(w, indices, axis=axis)


def test_take_along_axis_set_at_and_add_at_check_constant_indices():
    w = sg.Variable(W, name="w")
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 1 with size 2"):
        T.take_along_axis(w, np.array([[0], [2], [1]]), axis=1)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        T.set_at(w, 3, np.zeros(2, "float32"))
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 0 with size 3"):
        T.add_at(w, np.array([0, -4]), 1.0)
    np.testing.assert_array_equal(_eager(T.take_along_axis(w, np.array([[1], [0], [1]]), axis=1)),
                                  np.take_along_axis(W, np.array([[1], [0], [1]]), axis=1))
    expected = W.copy()
    np.add.at(expected, [0, -1, 0], 1.0)
    np.testing.assert_array_equal(_eager(T.add_at(w, np.array([0, -1, 0]), 1.0)), expected)


def test_take_in_range_matches_numpy_including_negative_indices():
    w = sg.Variable(W, name="w")
    for indices, axis in [([5, -1, 0], None), ([-3, 2], 0), ([[1, -2]], 1)]:
        np.testing.assert_array_equal(_eager(T.take(w, indices, axis=axis)), np.take(W, indices, axis=axis))


def test_runtime_index_is_not_checked_and_is_clamped_as_documented():
    w = sg.Variable(W, name="w")
    i = sg.Placeholder((), "int32", name="i")
    f = sg.function(i, outputs=[w[i], T.take(w, i, axis=0)])
    rows, taken = f(np.int32(5))
    np.testing.assert_array_equal(rows, W[2])           # x[i]: clamped to the last row
    assert np.isnan(taken).all()                        # T.take: filled with NaN


def _index_item(size):
    """One index for an axis of ``size``: an int (sometimes out of range), a slice, or a list of ints."""
    ints = st.integers(-size - 3, size + 3)
    return st.one_of(ints, st.just(slice(None)), st.builds(slice, st.integers(-4, 4), st.integers(-4, 4)),
                     st.lists(ints, min_size=1, max_size=3))


@st.composite
def _array_and_key(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    n = draw(st.integers(1, len(shape)))
    items = [draw(_index_item(size)) for size in shape[:n]]
    lists = [k for k, item in enumerate(items) if isinstance(item, list)]
    for k in lists[1:]:                     # one index array at most: several must broadcast together
        items[k] = slice(None)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    if n < len(shape) and draw(st.booleans()):
        items.insert(0, Ellipsis)
    return np.arange(int(np.prod(shape)), dtype="float32").reshape(shape), tuple(items)


@settings(max_examples=60, deadline=None)
@given(_array_and_key())
def test_indexing_oracle_numpy(case):
    array, key = case
    with sg.Graph("oracle"):
        x = sg.Variable(array, name="x")
        try:
            expected = array[key]
        except IndexError:
            with pytest.raises(IndexError, match=OUT_OF_BOUNDS):
                x[key]
            return
        np.testing.assert_array_equal(_eager(x[key]), expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_take_oracle_numpy(shape, data):
    array = np.arange(int(np.prod(shape)), dtype="float32").reshape(shape)
    axis = data.draw(st.sampled_from([None, *range(-len(shape), len(shape))]))
    size = array.size if axis is None else shape[axis]
    indices = data.draw(st.lists(st.integers(-size - 2, size + 2), min_size=1, max_size=4))
    with sg.Graph("oracle"):
        x = sg.Variable(array, name="x")
        try:
            expected = np.take(array, indices, axis=axis)
        except IndexError:
            with pytest.raises(IndexError, match=OUT_OF_BOUNDS):
                T.take(x, indices, axis=axis)
            return
        np.testing.assert_array_equal(_eager(T.take(x, indices, axis=axis)), expected)
