"""Every op of ``symgraph.tensor`` against its ``jax.numpy`` oracle, on random inputs, through a compiled
function, with the build-time shape/dtype checked against the computed value."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
import symgraph.tensor as T

R = np.random.default_rng(42)
M = R.normal(size=(4, 5)).astype("float32")
N = R.normal(size=(5, 3)).astype("float32")
P = (R.uniform(size=(4, 5)) + 0.1).astype("float32")
V = R.normal(size=5).astype("float32")
IDX = R.integers(0, 5, size=4).astype("int32")
B = R.normal(size=(2, 4, 5)).astype("float32")
SQ = (R.normal(size=(3, 3)) + 3 * np.eye(3)).astype("float32")
SPD = (SQ @ SQ.T).astype("float32")

# (id, symbolic function, oracle, inputs)
CASES = [
    ("abs", T.abs, jnp.abs, [M]), ("exp", T.exp, jnp.exp, [M]), ("log", T.log, jnp.log, [P]),
    ("log1p", T.log1p, jnp.log1p, [P]), ("expm1", T.expm1, jnp.expm1, [M]), ("sqrt", T.sqrt, jnp.sqrt, [P]),
    ("square", T.square, jnp.square, [M]), ("sin", T.sin, jnp.sin, [M]), ("cos", T.cos, jnp.cos, [M]),
    ("tan", T.tan, jnp.tan, [M * 0.3]), ("tanh", T.tanh, jnp.tanh, [M]),
    ("arctanh", T.arctanh, jnp.arctanh, [P * 0.5]), ("sign", T.sign, jnp.sign, [M]),
    ("floor", T.floor, jnp.floor, [M * 3]), ("ceil", T.ceil, jnp.ceil, [M * 3]),
    ("round", T.round, jnp.round, [M * 3]), ("negative", T.negative, jnp.negative, [M]),
    ("reciprocal", T.reciprocal, jnp.reciprocal, [P]), ("isnan", T.isnan, jnp.isnan, [M]),
    ("isfinite", T.isfinite, jnp.isfinite, [M]), ("sigmoid", T.sigmoid, jax.nn.sigmoid, [M]),
    ("relu", T.relu, jax.nn.relu, [M]), ("softplus", T.softplus, jax.nn.softplus, [M]),
    ("elu", T.elu, jax.nn.elu, [M]), ("gelu", T.gelu, jax.nn.gelu, [M]), ("silu", T.silu, jax.nn.silu, [M]),
    ("leaky_relu", T.leaky_relu, jax.nn.leaky_relu, [M]), ("softmax", T.softmax, jax.nn.softmax, [M]),
    ("log_softmax", T.log_softmax, jax.nn.log_softmax, [M]),
    ("logsumexp", lambda x: T.logsumexp(x, axis=1), lambda x: jax.scipy.special.logsumexp(x, axis=1), [M]),
    ("add", T.add, jnp.add, [M, V]), ("subtract", T.subtract, jnp.subtract, [M, V]),
    ("multiply", T.multiply, jnp.multiply, [M, V]), ("divide", T.divide, jnp.divide, [M, P]),
    ("floor_divide", T.floor_divide, jnp.floor_divide, [M * 5, P]), ("mod", T.mod, jnp.mod, [M * 5, P]),
    ("power", T.power, jnp.power, [P, M]), ("maximum", T.maximum, jnp.maximum, [M, V]),
    ("minimum", T.minimum, jnp.minimum, [M, V]), ("arctan2", T.arctan2, jnp.arctan2, [M, P]),
    ("equal", T.equal, jnp.equal, [IDX, IDX[::-1]]), ("not_equal", T.not_equal, jnp.not_equal, [IDX, IDX[::-1]]),
    ("less", T.less, jnp.less, [M, V]), ("less_equal", T.less_equal, jnp.less_equal, [M, V]),
    ("greater", T.greater, jnp.greater, [M, V]), ("greater_equal", T.greater_equal, jnp.greater_equal, [M, V]),
    ("logical_and", T.logical_and, jnp.logical_and, [M > 0, M < 1]),
    ("logical_or", T.logical_or, jnp.logical_or, [M > 0, M < -1]),
    ("logical_not", T.logical_not, jnp.logical_not, [M > 0]),
    ("sum", lambda x: T.sum(x, axis=0), lambda x: jnp.sum(x, axis=0), [M]),
    ("sum_all", T.sum, jnp.sum, [M]),
    ("mean", lambda x: T.mean(x, 1, True), lambda x: jnp.mean(x, 1, keepdims=True), [M]),
    ("max", lambda x: T.max(x, axis=[0, 1]), lambda x: jnp.max(x, axis=(0, 1)), [M]),
    ("min", lambda x: T.min(x, axis=1), lambda x: jnp.min(x, axis=1), [M]),
    ("prod", lambda x: T.prod(x, axis=1), lambda x: jnp.prod(x, axis=1), [P]),
    ("all", lambda x: T.all(x, axis=1), lambda x: jnp.all(x, axis=1), [M > -1]),
    ("any", lambda x: T.any(x, axis=0), lambda x: jnp.any(x, axis=0), [M > 1]),
    ("var", lambda x: T.var(x, axis=0, ddof=1), lambda x: jnp.var(x, axis=0, ddof=1), [M]),
    ("std", lambda x: T.std(x, axis=1), lambda x: jnp.std(x, axis=1), [M]),
    ("sum_where_initial", lambda x: T.sum(x, axis=1, where=x > 0, initial=1.0),
     lambda x: jnp.sum(x, axis=1, where=x > 0, initial=1.0), [M]),
    ("max_where", lambda x: T.max(x, 0, where=x < 0.5, initial=-9.0),
     lambda x: jnp.max(x, 0, where=x < 0.5, initial=-9.0), [M]),
    ("mean_dtype", lambda x: T.mean(x, dtype="float16"), lambda x: jnp.mean(x, dtype="float16"), [M]),
    ("std_where", lambda x: T.std(x, axis=0, ddof=1, where=x > -1), lambda x: jnp.std(x, 0, ddof=1, where=x > -1),
     [M]),
    ("argmax", lambda x: T.argmax(x, axis=1), lambda x: jnp.argmax(x, axis=1), [M]),
    ("argmin", T.argmin, jnp.argmin, [M]),
    ("cumsum", lambda x: T.cumsum(x, axis=1), lambda x: jnp.cumsum(x, axis=1), [M]),
    ("cumsum_reverse", lambda x: T.cumsum(x, axis=0, reverse=True),
     lambda x: jnp.flip(jnp.cumsum(jnp.flip(x, 0), 0), 0), [M]),
    ("clip", lambda x: T.clip(x, -0.5, 0.5), lambda x: jnp.clip(x, -0.5, 0.5), [M]),
    ("clip_low", lambda x: T.clip(x, min=0.0), lambda x: jnp.maximum(x, 0.0), [M]),
    ("where", T.where, jnp.where, [M > 0, M, V]), ("cast", lambda x: T.cast(x, "int32"),
                                                  lambda x: x.astype(jnp.int32), [M * 4]),
    ("stop_gradient", T.stop_gradient, jax.lax.stop_gradient, [M]),
    ("dot", T.dot, jnp.dot, [M, N]), ("matmul", T.matmul, jnp.matmul, [B, N]),
    ("tensordot", lambda x, y: T.tensordot(x, y, axes=1), lambda x, y: jnp.tensordot(x, y, axes=1), [M, N]),
    ("einsum", lambda x, y: T.einsum("ij,jk->ik", x, y), lambda x, y: jnp.einsum("ij,jk->ik", x, y), [M, N]),
    ("outer", T.outer, jnp.outer, [V, V]), ("norm", T.norm, jnp.linalg.norm, [M]),
    ("norm_axis", lambda x: T.norm(x, axis=1), lambda x: jnp.linalg.norm(x, axis=1), [M]),
    ("cholesky", T.cholesky, jnp.linalg.cholesky, [SPD]), ("inv", T.inv, jnp.linalg.inv, [SQ]),
    ("diagonal", T.diagonal, jnp.diagonal, [SQ]),
    ("transpose", T.transpose, jnp.transpose, [B]),
    ("transpose_axes", lambda x: T.transpose(x, (1, 0, 2)), lambda x: jnp.transpose(x, (1, 0, 2)), [B]),
    ("reshape", lambda x: T.reshape(x, (5, -1)), lambda x: jnp.reshape(x, (5, -1)), [M]),
    ("flatten", T.flatten, lambda x: x.reshape(2, -1), [B]),
    ("swapaxes", lambda x: T.swapaxes(x, 0, 2), lambda x: jnp.swapaxes(x, 0, 2), [B]),
    ("expand_dims", lambda x: T.expand_dims(x, 1), lambda x: jnp.expand_dims(x, 1), [M]),
    ("squeeze", lambda x: T.squeeze(T.expand_dims(x, 0)), lambda x: x, [M]),
    ("concatenate", lambda x, y: T.concatenate([x, y], axis=0), lambda x, y: jnp.concatenate([x, y]), [M, P]),
    ("stack", lambda x, y: T.stack([x, y], axis=1), lambda x, y: jnp.stack([x, y], axis=1), [M, P]),
    ("broadcast_to", lambda x: T.broadcast_to(x, (3, 5)), lambda x: jnp.broadcast_to(x, (3, 5)), [V]),
    ("tile", lambda x: T.tile(x, (2, 1)), lambda x: jnp.tile(x, (2, 1)), [M]),
    ("repeat", lambda x: T.repeat(x, 2, axis=0), lambda x: jnp.repeat(x, 2, axis=0), [M]),
    ("flip", lambda x: T.flip(x, 1), lambda x: jnp.flip(x, 1), [M]),
    ("take", lambda x, i: T.take(x, i, axis=1), lambda x, i: jnp.take(x, i, axis=1), [M, IDX]),
    ("take_along_axis", lambda x, i: T.take_along_axis(x, i[:, None], axis=1),
     lambda x, i: jnp.take_along_axis(x, i[:, None], axis=1), [M, IDX]),
    ("dynamic_slice", lambda x, i: T.dynamic_slice(x, (i[0], 1), (2, 3)),
     lambda x, i: jax.lax.dynamic_slice(x, (i[0], 1), (2, 3)), [M, IDX]),
    ("set_at", lambda x, i: T.set_at(x, i, 0.0), lambda x, i: x.at[i].set(0.0), [V, IDX]),
    ("add_at", lambda x, i: T.add_at(x, i, 1.0), lambda x, i: x.at[i].add(1.0), [V, IDX]),
    ("getitem_slice", lambda x: x[:, 1:4:2], lambda x: x[:, 1:4:2], [M]),
    ("getitem_int", lambda x: x[-1, 0], lambda x: x[-1, 0], [M]),
    ("getitem_none_ellipsis", lambda x: x[None, ..., 0], lambda x: x[None, ..., 0], [B]),
    ("getitem_node", lambda x, i: x[i], lambda x, i: x[i], [M, IDX]),
    ("getitem_mixed", lambda x, i: x[i, 2:], lambda x, i: x[i, 2:], [M, IDX]),
    ("zeros_like", T.zeros_like, jnp.zeros_like, [M]), ("ones_like", T.ones_like, jnp.ones_like, [M]),
    ("full_like", lambda x: T.full_like(x, 3.0), lambda x: jnp.full_like(x, 3.0), [M]),
    ("one_hot", lambda i: T.one_hot(i, 6), lambda i: jax.nn.one_hot(i, 6), [IDX]),
    ("operators", lambda x, y: (x + 1) * y - x / 2 + 2 ** x - abs(-x) + x ** 2 - 3 % (x + 5),
     lambda x, y: (x + 1) * y - x / 2 + 2 ** x - abs(-x) + x ** 2 - 3 % (x + 5), [M, V]),
    ("matmul_operator", lambda x, y: x @ y, lambda x, y: x @ y, [M, N]),
    ("comparisons", lambda x: (x < 0) | (x >= 1), lambda x: (x < 0) | (x >= 1), [M]),
    ("methods", lambda x: x.T.reshape(-1).astype("float32").sum() + x.mean(0).max() - x.min(),
     lambda x: x.T.reshape(-1).sum() + x.mean(0).max() - x.min(), [M]),
]


@pytest.mark.parametrize("name, op, oracle, inputs", CASES, ids=[c[0] for c in CASES])
def test_op_matches_jax_numpy(name, op, oracle, inputs):
    placeholders = [sg.Placeholder(np.shape(a), np.asarray(a).dtype) for a in inputs]
    node = op(*placeholders)
    expected = np.asarray(oracle(*[jnp.asarray(a) for a in inputs]))
    assert node.shape == expected.shape, f"{name}: build-time shape {node.shape} vs computed {expected.shape}"
    assert node.dtype == expected.dtype, f"{name}: build-time dtype {node.dtype} vs computed {expected.dtype}"
    got = sg.function(*placeholders, outputs=node)(*inputs)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6)


CREATION = [
    ("zeros", lambda: T.zeros((2, 3)), jnp.zeros((2, 3))),
    ("ones", lambda: T.ones(4, "int32"), jnp.ones(4, jnp.int32)),
    ("full", lambda: T.full((2, 2), 7.0), jnp.full((2, 2), 7.0)),
    ("arange", lambda: T.arange(2, 11, 3), jnp.arange(2, 11, 3)),
    ("linspace", lambda: T.linspace(0.0, 1.0, 5), jnp.linspace(0.0, 1.0, 5)),
    ("eye", lambda: T.eye(3), jnp.eye(3)),
    ("eye_k", lambda: T.eye(3, 4, k=1), jnp.eye(3, 4, k=1)),
    ("round_decimals", lambda: T.round(np.float32([1.234, -5.678]), 1), jnp.round(jnp.float32([1.234, -5.678]), 1)),
    ("constant", lambda: sg.constant(np.arange(3.0)) * 2, jnp.arange(3.0) * 2),
]


@pytest.mark.parametrize("name, op, expected", CREATION, ids=[c[0] for c in CREATION])
def test_creation_matches_jax_numpy(name, op, expected):
    node = op()
    assert node.shape == expected.shape and node.dtype == expected.dtype
    np.testing.assert_allclose(node.get(), expected)


def test_unknown_dimensions_are_inferred_symbolically():
    x = sg.Placeholder((None, 3), "float32")
    w = sg.Variable(np.ones((3, 2), "float32"))
    assert (x @ w).shape == (None, 2)
    assert T.concatenate([x, x]).shape == (None, 3)
    assert T.reshape(x, (-1,)).shape == (None,)
    assert T.mean(x).shape == ()
    assert (T.sum(x, 1) - sg.Placeholder((None,), "float32")).shape == (None,)
    assert x[:, 0].shape == (None,)
    v = sg.Placeholder((None,), "float32")
    assert (v + np.ones(6, "float32")).shape == (6,)  # an unknown size broadcasting against a known one


def test_python_numbers_are_weakly_typed():
    x = sg.Placeholder((3,), "int32")
    assert (x + 1).dtype == np.int32
    assert (x * 0.5).dtype == np.float32
    h = sg.Placeholder((3,), "float16")
    assert (h * 2.0).dtype == np.float16


def test_numpy_arrays_defer_to_nodes():
    x = sg.Placeholder((3,), "float32")
    node = np.ones(3, "float32") + x
    assert isinstance(node, sg.Tensor)
    np.testing.assert_allclose(node.get({x: np.arange(3, dtype="float32")}), [1, 2, 3])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.lists(st.booleans(), min_size=3, max_size=3),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_broadcast_shape_inference_matches_numpy(dims, drop, unknown):
    """For random broadcastable pairs, the inferred shape is numpy's, with None where a dim is unknown."""
    a_shape = tuple(dims)
    b_shape = tuple(1 if d else s for s, d in zip(a_shape, drop))[-len(a_shape):]
    with sg.Graph():
        a = sg.Placeholder(a_shape, "float32")
        b = sg.Placeholder(b_shape, "float32")
        expected = np.broadcast_shapes(a_shape, b_shape)
        assert (a + b).shape == expected
        hidden = tuple(None if u else s for s, u in zip(a_shape, unknown))
        c = sg.Placeholder(hidden, "float32")
        assert (c * c).shape == hidden
