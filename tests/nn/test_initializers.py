"""Initializers: shapes, reproducibility, statistics against closed forms, lookup and error paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
from symgraph.errors import ShapeError
from symgraph.nn import initializers as init

ALL = [init.zeros(), init.ones(), init.constant(0.3), init.normal(0.1), init.uniform(0.2),
       init.glorot_uniform(), init.glorot_normal(), init.he_uniform(), init.he_normal(), init.orthogonal(2.0)]


@pytest.mark.parametrize("initializer", ALL, ids=repr)
def test_shape_dtype_and_reproducibility(initializer):
    key = sg.key_from_seed(7)
    a = initializer(key, (4, 3, 5))
    assert a.shape == (4, 3, 5) and a.dtype == jnp.float32
    np.testing.assert_array_equal(a, initializer(key, (4, 3, 5)))
    np.testing.assert_array_equal(a, initializer(7, (4, 3, 5)))  # an int seed is the key of that seed
    if repr(initializer) not in ("zeros()", "ones()", "constant(0.3)"):
        assert not np.allclose(a, initializer(8, (4, 3, 5)))


@pytest.mark.parametrize("initializer", [init.normal(), init.orthogonal()], ids=repr)
def test_other_dtypes(initializer):
    assert initializer(0, (2, 3), "float16").dtype == jnp.float16


def test_constant_initializers():
    np.testing.assert_array_equal(init.zeros()(0, (2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(init.ones()(0, (3,)), np.ones(3))
    np.testing.assert_allclose(init.constant(-1.5)(0, (2,)), [-1.5, -1.5])


def test_normal_and_uniform_statistics():
    w = np.asarray(init.normal(0.5, mean=1.0)(0, (200, 500)))
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) / 0.5 < 0.01
    u = np.asarray(init.uniform(0.3)(0, (200, 500)))
    assert u.min() >= -0.3 and u.max() < 0.3 and u.min() < -0.29 and u.max() > 0.29
    assert abs(u.mean()) < 0.003 and abs(u.var() - 0.09 / 3) / 0.03 < 0.02


@pytest.mark.parametrize("name, shape, variance", [
    ("glorot_uniform", (300, 500), 2 / 800),
    ("glorot_normal", (300, 500), 2 / 800),
    ("he_uniform", (300, 500), 2 / 300),
    ("he_normal", (300, 500), 2 / 300),
    ("he_normal", (3, 3, 32, 64), 2 / (9 * 32)),          # HWIO kernel: fan_in = kh * kw * in
    ("glorot_uniform", (3, 3, 32, 64), 2 / (9 * 32 + 9 * 64)),
])
def test_variance_scaling_matches_the_papers(name, shape, variance):
    w = np.asarray(init.get(name)(3, shape))
    assert abs(w.mean()) < 0.05 * np.sqrt(variance)
    assert abs(w.var() / variance - 1) < 0.03
    if name.endswith("uniform"):
        assert np.abs(w).max() <= np.sqrt(3 * variance) + 1e-6


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 4, 8)])
def test_orthogonal_is_orthogonal_times_gain(shape):
    gain = 1.7
    w = np.asarray(init.orthogonal(gain)(5, shape), np.float64).reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), atol=1e-5)


def test_variable_from_initializer_and_functional_reinitialisation():
    with sg.Graph(seed=11):
        v = sg.Variable(init.orthogonal(), shape=(6, 4), name="w")
        np.testing.assert_allclose(v.value.T @ v.value, np.eye(4), atol=1e-5)
        keys = jax.random.split(sg.key_from_seed(0), 3)
        batch = jax.jit(jax.vmap(lambda k: sg.initial_state([v], k)))(keys)["w"]
        assert batch.shape == (3, 6, 4) and not np.allclose(batch[0], batch[1])
        again = sg.initial_state([v], sg.key_from_seed(11))["w"]
        np.testing.assert_array_equal(again, v.value)


def test_get_accepts_names_factories_numbers_and_callables():
    assert repr(init.get("orthogonal")) == "orthogonal(gain=1.0)"
    assert repr(init.get(init.he_normal)) == "he_normal()"
    np.testing.assert_allclose(init.get(0.25)(0, (2,)), [0.25, 0.25])
    custom = jax.nn.initializers.lecun_normal()
    assert init.get(custom) is custom


def test_errors():
    with pytest.raises(ShapeError, match=r"glorot_uniform\(\) needs a shape of rank >= 2"):
        init.glorot_uniform()(0, (5,))
    with pytest.raises(ShapeError, match="non-negative ints"):
        init.normal()(0, (2, -1))
    with pytest.raises(ValueError, match="std must be > 0"):
        init.normal(-1.0)
    with pytest.raises(TypeError, match="gain must be a number"):
        init.orthogonal("big")
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'.*'glorot_uniform'"):
        init.get("glorot")
    with pytest.raises(TypeError, match="constant needs arguments"):
        init.get(init.constant)
    with pytest.raises(TypeError, match="must be an initializer"):
        init.get([1, 2])
    with pytest.raises(ValueError, match="mode must be one of"):
        init.variance_scaling(1.0, "fan_sum", "normal")
