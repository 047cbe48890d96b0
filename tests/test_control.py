"""Control flow with symbolic bodies against plain Python/JAX references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T


def test_scan_with_pytrees_closure_and_reverse(rng):
    xs = rng.normal(size=(5, 2)).astype("float32")
    x = sg.Placeholder((None, 2), name="x")
    scale = sg.Variable(np.float32(0.5), name="scale")

    def body(carry, xt):
        total, count = carry["total"], carry["count"]
        new = {"total": total * scale + xt, "count": count + 1}
        return new, (new["total"].sum(), xt * 2)

    init = {"total": T.zeros(2), "count": np.int32(0)}
    final, (sums, doubled) = T.scan(body, init, x)
    rev, _ = T.scan(lambda c, xt: (c * 0.5 + xt, None), T.zeros(2), x, reverse=True)
    got = sg.function(x, outputs=[final["total"], final["count"], sums, doubled, rev])(xs)
    total, rtotal, expected_sums = np.zeros(2), np.zeros(2), []
    for xt in xs:
        total = total * 0.5 + xt
        expected_sums.append(total.sum())
    for xt in xs[::-1]:
        rtotal = rtotal * 0.5 + xt
    np.testing.assert_allclose(got[0], total, rtol=1e-6)
    assert got[1] == 5
    np.testing.assert_allclose(got[2], expected_sums, rtol=1e-6)
    np.testing.assert_allclose(got[3], xs * 2)
    np.testing.assert_allclose(got[4], rtotal, rtol=1e-6)


def test_scan_with_length_and_fresh_randomness_per_iteration():
    final, draws = T.scan(lambda c, _: (c + 1, T.random.uniform(())), np.int32(0), None, length=6)
    f = sg.function(outputs=[final, draws], seed=0)
    count, values = f()
    assert count == 6 and len(set(np.round(values, 6))) == 6
    _, again = f()
    assert not np.allclose(values, again)


def test_scan_carry_mismatch_is_a_clear_error():
    x = sg.Placeholder((4,), name="x")
    with pytest.raises(sg.ShapeError, match="carry entry 0 enters the body as shape \\(\\) int32"):
        T.scan(lambda c, xt: (c + xt, None), np.int32(0), x)
    with pytest.raises(sg.ShapeError, match="pair \\(new_carry, y\\)"):
        T.scan(lambda c, xt: c + xt, np.float32(0), x)


def test_map_cond_while_loop():
    x = sg.Placeholder((3,), name="x")
    mapped = T.map(lambda row: row ** 2 + 1, x)
    chosen = T.cond(T.sum(x) > 0, lambda a: a * 2, lambda a: a - 1, x)
    count, value = T.while_loop(lambda cv: cv[1] < 100.0, lambda cv: (cv[0] + 1, cv[1] * 3),
                                (np.int32(0), T.max(x)))
    f = sg.function(x, outputs=[mapped, chosen, count, value])
    data = np.array([1.0, 2.0, 3.0], "float32")
    got = f(data)
    np.testing.assert_allclose(got[0], data ** 2 + 1)
    np.testing.assert_allclose(got[1], data * 2)
    assert got[2] == 4 and got[3] == pytest.approx(243.0)
    other = np.array([-5.0, -2.0, 1.0], "float32")  # negative sum: the false branch; max 1 -> 243 in 5 steps
    got = f(other)
    np.testing.assert_allclose(got[1], other - 1)
    assert got[2] == 5 and got[3] == pytest.approx(243.0)


def test_cond_branch_mismatch_is_a_clear_error():
    x = sg.Placeholder((3,), name="x")
    with pytest.raises(sg.ShapeError, match="T.cond"):
        T.cond(T.sum(x) > 0, lambda a: a, lambda a: T.sum(a), x)


def test_vmap_matches_jax_vmap_and_draws_independently(rng):
    xs = rng.normal(size=(4, 3)).astype("float32")
    w = sg.Variable(rng.normal(size=(3, 2)).astype("float32"))
    x = sg.Placeholder((4, 3), name="x")
    out = T.vmap(lambda row: T.tanh(row @ w), x)
    noise = T.vmap(lambda row: row + T.random.normal(()), x)
    got, noisy = sg.function(x, outputs=[out, noise], seed=1)(xs)
    np.testing.assert_allclose(got, jax.vmap(lambda r: jnp.tanh(r @ w.value))(xs), rtol=1e-6)
    offsets = (noisy - xs)[:, 0]
    assert len(set(np.round(offsets, 6))) == 4
