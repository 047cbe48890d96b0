"""Bad input: each error names the culprit (node, argument, shape) and says how to fix it."""

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T


def test_shape_mismatch_is_raised_at_build_time_naming_op_and_shapes():
    x = sg.Placeholder((None, 3), "float32", name="x")
    w = sg.Variable(np.ones((4, 2), "float32"), name="w")
    with pytest.raises(sg.ShapeError, match=r"matmul: cannot be applied to 'x' \(shape \(None, 3\).*'w' "
                                             r"\(shape \(4, 2\)"):
        x @ w
    with pytest.raises(sg.ShapeError, match=r"add: .*\(3,\).*\(4,\)"):
        sg.Placeholder((3,)) + sg.Placeholder((4,))
    with pytest.raises(sg.ShapeError, match="reshape"):
        T.reshape(sg.Placeholder((3, 4)), (5, 5))


def test_missing_placeholder_names_it_and_lists_inputs():
    x = sg.Placeholder((3,), name="x")
    y = sg.Placeholder((3,), name="y")
    with pytest.raises(sg.InputError, match=r"needs placeholder 'y'.*not among the inputs \['x'\]"):
        sg.function(x, outputs=x + y)


def test_unused_input_raises_unless_ignored():
    x = sg.Placeholder((3,), name="x")
    y = sg.Placeholder((3,), name="unused")
    with pytest.raises(sg.InputError, match="'unused'.*not used.*on_unused_input='ignore'"):
        sg.function(x, y, outputs=x * 2)
    f = sg.function(x, y, outputs=x * 2, on_unused_input="ignore")
    np.testing.assert_allclose(f(np.ones(3), np.zeros(3)), 2.0)


def test_wrong_number_of_call_arguments():
    x = sg.Placeholder((3,), name="x")
    f = sg.function(x, outputs=x * 2)
    with pytest.raises(sg.InputError, match=r"takes 1 input\(s\) \['x'\], got 2"):
        f(np.ones(3), np.ones(3))


def test_wrong_input_shape_and_dtype_name_the_placeholder():
    x = sg.Placeholder((None, 3), "float32", name="x")
    f = sg.function(x, outputs=x * 2)
    with pytest.raises(sg.InputError, match=r"'x'.*expects shape \(None, 3\), got \(2, 4\)"):
        f(np.ones((2, 4), "float32"))
    with pytest.raises(sg.InputError, match=r"'x'.*expects shape \(None, 3\), got \(3,\)"):
        f(np.ones(3, "float32"))
    i = sg.Placeholder((2,), "int32", name="i")
    g = sg.function(i, outputs=i + 1)
    with pytest.raises(sg.InputError, match="'i'.*expects dtype int32, got float32"):
        g(np.ones(2, "float32"))
    f(np.ones((2, 3), "float32"))  # still works after the errors


def test_update_errors():
    w = sg.Variable(np.ones(3, "float32"), name="w")
    x = sg.Placeholder((3,), name="x")
    with pytest.raises(sg.UpdateError, match=r"update of Variable 'w' has shape \(\) .*variable has shape \(3,\)"):
        sg.function(x, updates={w: T.sum(x)})
    with pytest.raises(sg.UpdateError, match="dtype int32.*float32"):
        sg.function(updates={w: T.ones(3, "int32")})
    with pytest.raises(sg.UpdateError, match="keys must be Variables"):
        sg.function(x, updates={x * 2: x})
    with pytest.raises(sg.UpdateError, match="updated twice"):
        sg.function(updates=[(w, w + 1), (w, w * 2)])


def test_input_listed_twice_or_not_a_placeholder():
    x = sg.Placeholder((3,), name="x")
    with pytest.raises(sg.InputError, match="'x' is listed twice"):
        sg.function(x, x, outputs=x * 2)
    with pytest.raises(sg.InputError, match="inputs must be Placeholders"):
        sg.function(x * 2, outputs=x)


def test_truth_value_of_a_node_is_an_error():
    x = sg.Placeholder((3,), name="x")
    with pytest.raises(TypeError, match="T.where / T.cond"):
        if x > 0:
            pass


def test_bad_placeholder_and_slice_arguments():
    with pytest.raises(sg.ShapeError, match="shape must hold non-negative ints or None"):
        sg.Placeholder((3, -1))
    x = sg.Placeholder((5,), name="x")
    with pytest.raises(TypeError, match="slice bounds .* T.dynamic_slice"):
        x[T.argmax(x):]


def test_mixing_graphs_is_an_error():
    a = sg.Placeholder((2,), name="a")
    with sg.Graph("other"):
        b = sg.Placeholder((2,), name="b")
    with pytest.raises(sg.ScopeError, match="different graphs"):
        a + b


def test_unknown_sizes_that_disagree_at_call_time_name_the_node():
    a = sg.Placeholder((None,), name="a")
    b = sg.Placeholder((None,), name="b")
    f = sg.function(a, b, outputs=a + b)
    with pytest.raises(sg.ShapeError, match=r"add: failed on the call's values \('a' \(2,\), 'b' \(3,\)\)"):
        f(np.ones(2, "float32"), np.ones(3, "float32"))


def test_multi_output_nodes_explain_themselves():
    w = sg.Variable(np.ones(3, "float32"), name="w")
    multi = sg.gradients(T.sum(w ** 2), [w])[0].inputs[0]
    for attribute in ("shape", "dtype", "ndim"):
        with pytest.raises(sg.ShapeError, match=f"several outputs and has no single {attribute}"):
            getattr(multi, attribute)
