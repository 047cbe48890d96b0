"""gradients()/jacobians() against jax.grad/jax.jacrev, higher order, intermediates, and error paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T


def mlp(x, params):
    h = jnp.tanh(x @ params[0] + params[1])
    return jnp.mean(jax.nn.softplus(h @ params[2]) ** 2)


def test_gradients_match_jax_grad(rng):
    values = [rng.normal(size=s).astype("float32") for s in [(3, 4), (4,), (4, 2)]]
    data = rng.normal(size=(6, 3)).astype("float32")
    x = sg.Placeholder((None, 3))
    w1, b1, w2 = [sg.Variable(v) for v in values]
    loss = T.mean(T.softplus(T.tanh(x @ w1 + b1) @ w2) ** 2)
    grads = sg.gradients(loss, [w1, b1, w2, x])
    got = sg.function(x, outputs=grads)(data)
    expected = jax.grad(mlp, argnums=1)(data, values)
    for g, e in zip(got[:3], expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], jax.grad(mlp)(data, values), rtol=1e-5, atol=1e-6)


def test_single_in_single_out_and_second_order():
    x = sg.Placeholder((), name="x")
    y = T.sin(x) * x ** 3
    dy = sg.gradients(y, x)
    d2y = sg.gradients(dy, x)
    assert isinstance(dy, sg.Tensor)
    f = lambda v: jnp.sin(v) * v ** 3
    got = sg.function(x, outputs=[dy, d2y])(np.float32(0.7))
    np.testing.assert_allclose(got[0], jax.grad(f)(0.7), rtol=1e-5)
    np.testing.assert_allclose(got[1], jax.grad(jax.grad(f))(0.7), rtol=1e-5)


def test_gradient_wrt_intermediate_holds_other_paths_fixed():
    x = sg.Placeholder((), name="x")
    h = x * 2
    y = h ** 2 + x
    dh = sg.gradients(y, h)
    assert sg.function(x, outputs=dh)(np.float32(3.0)) == pytest.approx(12.0)


def test_stop_gradient_and_gradient_through_scan():
    x = sg.Placeholder((4,), name="x")
    w = sg.Variable(np.float32(0.5), name="w")
    total, _ = T.scan(lambda c, xi: (c * w + xi, None), np.float32(0.0), x)
    loss = total ** 2 + T.stop_gradient(w) * 100
    g = sg.gradients(loss, w)

    def reference(wv, xv):
        c = 0.0
        for xi in xv:
            c = c * wv + xi
        return c ** 2

    data = np.array([1.0, -2.0, 0.5, 3.0], "float32")
    np.testing.assert_allclose(sg.function(x, outputs=g)(data), jax.grad(reference)(0.5, data), rtol=1e-5)


def test_jacobians_match_jacrev(rng):
    a = rng.normal(size=(3, 3)).astype("float32")
    v = sg.Variable(rng.normal(size=3).astype("float32"))
    out = T.tanh(sg.constant(a) @ v)
    jac = sg.jacobians(out, v)
    assert jac.shape == (3, 3)
    expected = jax.jacrev(lambda z: jnp.tanh(a @ z))(jnp.asarray(v.value))
    np.testing.assert_allclose(jac.get(), expected, rtol=1e-5)


def test_random_nodes_see_the_same_draw_in_forward_and_gradient():
    mean = sg.Variable(np.float32(0.3))
    sample = mean + T.random.normal(())
    loss = sample ** 2
    f = sg.function(outputs=[sample, sg.gradients(loss, mean)], seed=5)
    for _ in range(3):
        s, g = f()
        np.testing.assert_allclose(g, 2 * s, rtol=1e-5)


def test_gradient_errors():
    x = sg.Placeholder((3,), name="x")
    w = sg.Variable(np.ones(3, "float32"), name="w")
    other = sg.Variable(np.ones(2, "float32"), name="other")
    with pytest.raises(sg.GradientError, match="scalar float.*T.mean or T.sum"):
        sg.gradients(x * w, w)
    with pytest.raises(sg.GradientError, match="scalar float"):
        sg.gradients(T.argmax(x), w)
    with pytest.raises(sg.GradientError, match="does not depend on 'other'.*disconnected='zero'"):
        sg.gradients(T.sum(x * w), [w, other])
    gw, go = sg.gradients(T.sum(x * w), [w, other], disconnected="zero")
    got_w, got_other = sg.function(x, outputs=[gw, go])(np.ones(3))
    np.testing.assert_allclose(got_w, 1.0)
    np.testing.assert_allclose(got_other, [0.0, 0.0])
    n = sg.Placeholder((), "int32", name="n")
    with pytest.raises(sg.GradientError, match="not a float tensor"):
        sg.gradients(T.sum(x * w), n)
