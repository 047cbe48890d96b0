"""Inputs the engine cannot compute with are refused where they are given, naming the argument and what was
expected: non-numeric dtypes at build time, None and strings at call time (never a JAX-internal message)."""

import numpy as np
import pytest

import symgraph as sg

ACCEPTED = r"accepted dtypes: bool, integers, floats and complex"


@pytest.mark.parametrize("dtype", [str, object, "U3", "S2", np.dtype("datetime64[s]")])
def test_placeholder_of_a_non_numeric_dtype_is_refused_at_build_time(dtype):
    with pytest.raises(sg.DTypeError, match=rf"Placeholder 'text': dtype .* is not numeric; {ACCEPTED}"):
        sg.Placeholder((2,), dtype, name="text")


def test_placeholder_of_an_unknown_dtype_name_says_so():
    with pytest.raises(sg.DTypeError, match=rf"Placeholder 'x': dtype 'flot32' is not a dtype; {ACCEPTED}"):
        sg.Placeholder((2,), "flot32", name="x")


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", bool, "complex64", "bfloat16", np.float64])
def test_placeholder_of_numeric_dtypes_is_accepted(dtype):
    assert sg.Placeholder((2,), dtype).shape == (2,)


@pytest.mark.parametrize("value", [np.array(["a", "b"]), "abc", np.array([object(), 1], dtype=object)])
def test_variable_of_a_non_numeric_value_is_refused(value):
    with pytest.raises(sg.DTypeError, match=rf"Variable 'w': value has dtype .* which is not numeric; {ACCEPTED}"):
        sg.Variable(value, name="w")


def test_variable_of_a_non_numeric_dtype_argument_is_refused():
    with pytest.raises(sg.DTypeError, match=rf"Variable 'w': dtype .* is not numeric; {ACCEPTED}"):
        sg.Variable(np.zeros(2), name="w", dtype=str)


def test_variable_of_none_names_the_variable_and_what_it_takes():
    with pytest.raises(TypeError, match=r"Variable 'w': got None; give an array-like initial value or an "
                                        r"initializer"):
        sg.Variable(None, name="w")


def test_calling_with_none_names_the_input_and_what_it_expects():
    x = sg.Placeholder((None, 3), "float32", name="x")
    y = sg.Placeholder((), "int32", name="y")
    f = sg.function(x, y, outputs=[x * 2, y])
    message = r"input 1 \('y'\) of '.*' got None; expected an array of shape \(\) and dtype int32"
    with pytest.raises(sg.InputError, match=message):
        f(np.ones((1, 3), "float32"), None)
    with pytest.raises(sg.InputError, match=message):
        f.pure(f.state, np.ones((1, 3), "float32"), None)
    with pytest.raises(sg.InputError, match=r"input 0 \('x'\) .* got str 'abc'; expected an array of shape "
                                            r"\(None, 3\) and dtype float32"):
        f("abc", 1)
    with pytest.raises(sg.InputError, match=r"input 0 \('x'\) .* got an array of shape \(1, 3\) and dtype <U1; "
                                            r"expected an array of shape \(None, 3\)"):
        f(np.array([["a", "b", "c"]]), np.int32(1))     # arrays of the fast path too
    with pytest.raises(sg.InputError, match=r"input 0 \('x'\) .* got list \[\[1, 2\], \[3\]\]"):
        f([[1, 2], [3]], 1)
    out, y_value = f([[1, 2, 3]], 4)           # numbers and lists still convert
    np.testing.assert_array_equal(out, [[2, 4, 6]])
    assert y_value == 4


def test_wrong_shape_and_dtype_errors_are_kept():
    x = sg.Placeholder((None, 3), "float32", name="x")
    f = sg.function(x, outputs=x * 2)
    with pytest.raises(sg.InputError, match=r"'x'.*expects shape \(None, 3\), got \(2, 4\)"):
        f(np.ones((2, 4), "float32"))
    with pytest.raises(sg.InputError, match=r"'x'.*expects dtype float32, got complex64"):
        f(np.ones((2, 3), "complex64"))


def test_variable_budget_stops_an_allocation_before_its_value_is_made():
    from symgraph.nodes import variable_budget

    calls = []

    def initializer(key, shape, dtype):
        calls.append(shape)
        return np.zeros(shape, dtype)

    def exceeded(name, size):
        return MemoryError(f"{name}: {size}")

    with variable_budget(10, exceeded):
        sg.Variable(np.ones(4, "float32"), name="small")
        sg.Variable(initializer, shape=(2, 3), name="fits")
        with pytest.raises(MemoryError, match="huge: 100000000"):
            sg.Variable(initializer, shape=(10_000, 10_000), name="huge")
    assert calls == [(2, 3)]  # the huge initializer never ran
    sg.Variable(initializer, shape=(20,), name="after")  # no budget outside the context
