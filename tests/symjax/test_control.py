"""SymJAX's ``map``/``scan`` with ``sequences=``/``non_sequences=`` (trap 9: ``T.map(f, [x])`` used to pass the
list as one argument), and ``T.flatten``'s documented difference from SymJAX's (trap 11's half)."""

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.errors import ShapeError


def test_symjax_scan_example_reproduces_its_documented_values():
    """SymJAX's scan docstring: ``acc + w[i]`` over indices, w a non-sequence."""
    indices = sg.Placeholder((3,), "int32")
    w = T.arange(10)
    out = T.scan(lambda acc, i, w: (acc + w[i], i), T.zeros(1), sequences=[indices], non_sequences=[w])
    f = sg.function(indices, outputs=list(out))
    carry, ys = f(np.array([0, 2, 3], "int32"))
    np.testing.assert_array_equal(carry, [5.0])
    np.testing.assert_array_equal(ys, [0, 2, 3])
    carry, ys = f(np.array([1, 1, 1], "int32"))
    np.testing.assert_array_equal(carry, [3.0])


def test_symjax_map_passes_each_sequence_and_non_sequence_as_its_own_argument():
    """SymJAX's map docstring builds a diagonal matrix with ``index_update(w, i, x)`` (here ``w.at[i].set(x)``)."""
    x, y, w = T.ones(3), T.zeros(3), T.arange(3)
    out = T.map(lambda x, i, w: w.at[i].set(x), sequences=[x, w], non_sequences=[y])
    np.testing.assert_array_equal(sg.function(outputs=out)(), np.eye(3, dtype="float32"))
    a, b = np.arange(6.0, dtype="float32").reshape(3, 2), np.ones((3, 2), "float32")
    summed = T.map(lambda u, v, c: u * v + c, sequences=[a, b], non_sequences=[10.0])
    np.testing.assert_allclose(summed.get(), a * b + 10)


def test_scan_sequences_run_in_reverse_and_without_non_sequences():
    xs = np.arange(4.0, dtype="float32")
    carry, ys = T.scan(lambda c, x: (c * 2 + x, c), np.float32(0), sequences=[xs], reverse=True)
    total, partial = sg.function(outputs=[carry, ys])()
    expected = 0.0
    for x in xs[::-1]:
        expected = expected * 2 + x
    assert total == expected and partial[-1] == 0.0


def test_jax_style_keeps_working_with_tuples_and_pytrees():
    x = np.arange(6.0, dtype="float32").reshape(3, 2)
    pairs = T.map(lambda xs: xs[0] + xs[1], (x, x))
    np.testing.assert_allclose(pairs.get(), 2 * x)
    _, ys = T.scan(lambda c, d: (c, d["a"] * 2), np.float32(0), {"a": x})
    np.testing.assert_allclose(ys.get(), 2 * x)


@pytest.mark.parametrize("build", [lambda x: T.map(lambda a: a, [x]),
                                   lambda x: T.scan(lambda c, a: (c, a), np.float32(0), [x])],
                         ids=["map", "scan"])
def test_a_positional_list_is_refused_naming_both_styles(build):
    with pytest.raises(TypeError, match=r"xs is a list, which SymJAX's (map|scan) unpacks .* sequences=\[\.\.\.\] "
                                        r".* a tuple \(or dict\) for jax.lax's"):
        build(T.ones((3, 2)))


def test_xs_and_sequences_together_are_refused():
    with pytest.raises(TypeError, match="give xs .* or sequences= .*, not both"):
        T.map(lambda a: a, T.ones(3), sequences=[T.ones(3)])


def test_flatten_keeps_the_batch_axis_and_names_the_symjax_spelling():
    x = sg.Placeholder((None, 2, 3))
    assert T.flatten(x).shape == (None, 6)
    assert T.flatten(x, start_axis=0).shape == (None,)
    assert T.flatten(x, -1).shape == (None, 2, 3)
    assert x.flatten().shape == (None,) and T.ravel(x).shape == (None,)  # SymJAX's (numpy's) flatten
    with pytest.raises(ShapeError, match=r"T.flatten: start_axis=1 but the tensor has 1 axes; .* use T.ravel\(x\)"):
        T.flatten(T.ones(4))
    with pytest.raises(ShapeError, match="start_axis=3"):
        T.flatten(x, 3)
