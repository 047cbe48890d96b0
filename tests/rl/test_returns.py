"""Tests of symgraph.rl.returns: rlax's published fixtures, a plain-Python oracle, jit/vmap/grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symgraph.rl.returns import discounted_returns, gae, lambda_returns, n_step_returns, td_errors

# ---------------------------------------------------------------------------------------------------------
# Golden values. Numbers from rlax's public tests (rlax/_src/multistep_test.py and value_learning_test.py,
# google-deepmind/rlax). rlax lays them out batch-major, [B, T]; ours is time-major, so the fixtures are
# transposed to (T, B), which also exercises the trailing (vector-env) axis.

R_T = np.array([[1.0, 0.0, -1.0, 0.0, 1.0], [0.5, 0.8, -0.7, 0.0, 2.1]]).T
DISCOUNT_T = np.array([[0.5, 0.9, 1.0, 0.5, 0.8], [0.9, 0.5, 0.3, 0.8, 0.7]]).T
V_T = np.array([[3.0, 1.0, 5.0, -5.0, 3.0], [-1.7, 1.2, 2.3, 2.2, 2.7]]).T  # V(s_{t+1})


def test_lambda_returns_rlax_fixture():
    expected = np.array([[1.6460547, 0.72281253, 0.7375001, 0.6500001, 3.4],
                         [0.7866317, 0.9913063, 0.1101501, 2.834, 3.99]]).T
    np.testing.assert_allclose(lambda_returns(R_T, DISCOUNT_T, V_T, 0.75), expected, rtol=1e-5)


def test_discounted_returns_rlax_fixture():
    expected = np.array([[1.315, 0.63000005, 0.70000005, 1.7, 3.4],
                         [1.33592, 0.9288, 0.2576, 3.192, 3.9899998]]).T
    np.testing.assert_allclose(discounted_returns(R_T, DISCOUNT_T, V_T[-1]), expected, rtol=1e-5)


@pytest.mark.parametrize("n, expected", [
    (3, [[2.8, -3.15, 0.7, 1.7, 3.4], [1.2155, 0.714, 0.2576, 3.192, 3.99]]),
    (5, [[1.315, 0.63, 0.7, 1.7, 3.4], [1.33592, 0.9288, 0.2576, 3.192, 3.99]]),
    (7, [[1.315, 0.63, 0.7, 1.7, 3.4], [1.33592, 0.9288, 0.2576, 3.192, 3.99]]),
])
def test_n_step_returns_rlax_fixture(n, expected):
    np.testing.assert_allclose(n_step_returns(R_T, DISCOUNT_T, V_T, n), np.array(expected).T, rtol=1e-5)


# rlax's truncated-GAE fixture; the second trajectory terminates at step 3 (discount 0).
GAE_R = np.array([[0.0, 0.0, 1.0, 0.0, -0.5], [0.0, 0.0, 0.0, 0.0, 1.0]]).T
GAE_V = np.array([[1.0, 4.0, -3.0, -2.0, -1.0, -1.0], [-3.0, -2.0, -1.0, 0.0, 5.0, -1.0]]).T
GAE_D = np.array([[0.99, 0.99, 0.99, 0.99, 0.99], [0.9, 0.9, 0.9, 0.0, 0.9]]).T


@pytest.mark.parametrize("lam, expected", [
    (1.0, [[-1.45118, -4.4557, 2.5396, 0.5249, -0.49], [3.0, 2.0, 1.0, 0.0, -4.9]]),
    (0.7, [[-0.676979, -5.248167, 2.4846, 0.6704, -0.49], [2.2899, 1.73, 1.0, 0.0, -4.9]]),
    (0.4, [[0.56731, -6.042, 2.3431, 0.815, -0.49], [1.725, 1.46, 1.0, 0.0, -4.9]]),
])
def test_gae_rlax_fixture(lam, expected):
    # rlax prints these rounded and checks them with atol=1e-3; so do we.
    np.testing.assert_allclose(gae(GAE_R, GAE_V, GAE_D, lam), np.array(expected).T, atol=1e-3)


def test_gae_scalar_and_per_step_lambda_agree():
    per_step = np.full(GAE_R.shape, 0.9)
    per_time = np.full(GAE_R.shape[:1], 0.9)  # (T,) broadcasts over the trailing axis
    scalar = gae(GAE_R, GAE_V, GAE_D, 0.9)
    np.testing.assert_allclose(gae(GAE_R, GAE_V, GAE_D, per_step), scalar, rtol=1e-6)
    np.testing.assert_allclose(gae(GAE_R, GAE_V, GAE_D, per_time), scalar, rtol=1e-6)


def test_td_errors_rlax_fixture():
    # rlax's td_learning fixture: nine independent transitions, here T = 1 with nine trailing "envs".
    v_tm1 = np.ones(9)
    r_t = -np.ones(9)
    discount_t = np.array([0, 0.5, 1, 0, 0.5, 1, 0, 0.5, 1])
    v_t = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    expected = np.array([-2.0, -2.0, -2.0, -2.0, -1.5, -1.0, -2.0, -1.0, 0.0])
    actual = td_errors(r_t[None], np.stack([v_tm1, v_t]), discount_t[None])
    np.testing.assert_allclose(actual[0], expected)


# ---------------------------------------------------------------------------------------------------------
# Oracle: plain Python loops, one trajectory at a time, on random data with terminals in the middle.


def _ref_discounted(r, d, bootstrap):
    out, g = [0.0] * len(r), bootstrap
    for t in reversed(range(len(r))):
        g = r[t] + d[t] * g
        out[t] = g
    return out


def _ref_gae(r, v, d, lam):
    out, a = [0.0] * len(r), 0.0
    for t in reversed(range(len(r))):
        a = r[t] + d[t] * v[t + 1] - v[t] + d[t] * lam[t] * a
        out[t] = a
    return out


def _ref_lambda(r, d, v_next, lam):
    out, g = [0.0] * len(r), v_next[-1]
    for t in reversed(range(len(r))):
        g = r[t] + d[t] * ((1 - lam[t]) * v_next[t] + lam[t] * g)
        out[t] = g
    return out


def _ref_n_step(r, d, v_next, n):
    """Sum of up to n discounted rewards, then the discounted value of the state reached (direct formula)."""
    T, out = len(r), []
    for t in range(T):
        m = min(n, T - t)
        g, scale = 0.0, 1.0
        for k in range(m):
            g += scale * r[t + k]
            scale *= d[t + k]
        out.append(g + scale * v_next[t + m - 1])
    return out


def _per_trajectory(reference, *arrays):
    """Run ``reference`` on each trajectory of (T, ...) arrays (trailing axes flattened); keep the shape."""
    shape = arrays[0].shape
    flat = [a.reshape(a.shape[0], -1) for a in arrays]
    columns = [reference(*[list(map(float, a[:, i])) for a in flat]) for i in range(flat[0].shape[1])]
    return np.array(columns).T.reshape(shape)


def _random_rollout(seed, T, trailing):
    rng = np.random.default_rng(seed)
    shape = (T, *trailing)
    rewards = rng.normal(size=shape).astype("float32")
    terminal = rng.random(shape) < 0.25  # episodes end inside the sequence
    discounts = (0.97 * ~terminal).astype("float32")
    values = rng.normal(size=(T + 1, *trailing)).astype("float32")
    lam = rng.uniform(0, 1, size=shape).astype("float32")
    return rewards, discounts, values, lam


rollouts = st.builds(_random_rollout, st.integers(0, 2**31 - 1), st.sampled_from([1, 2, 7, 16]),
                     st.sampled_from([(), (3,), (2, 2)]))


@settings(max_examples=30, deadline=None)
@given(rollouts)
def test_discounted_returns_matches_loop(rollout):
    rewards, discounts, values, _ = rollout
    actual = discounted_returns(rewards, discounts, values[-1])
    bootstrap = np.broadcast_to(values[-1], rewards.shape)  # the reference reads bootstrap from the last step
    expected = _per_trajectory(lambda r, d, b: _ref_discounted(r, d, b[-1]), rewards, discounts, bootstrap)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(rollouts)
def test_td_errors_and_gae_match_loop(rollout):
    rewards, discounts, values, lam = rollout
    expected_td = rewards + discounts * values[1:] - values[:-1]
    np.testing.assert_allclose(td_errors(rewards, values, discounts), expected_td, rtol=1e-5, atol=1e-6)
    # values has T + 1 rows, so pass it to the reference as two (T, ...) slices and rebuild the list.
    expected = _per_trajectory(lambda r, v0, v1, d, lm: _ref_gae(r, v0 + [v1[-1]], d, lm),
                               rewards, values[:-1], values[1:], discounts, lam)
    np.testing.assert_allclose(gae(rewards, values, discounts, lam), expected, rtol=1e-4, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(rollouts)
def test_lambda_returns_matches_loop(rollout):
    rewards, discounts, values, lam = rollout
    expected = _per_trajectory(_ref_lambda, rewards, discounts, values[1:], lam)
    np.testing.assert_allclose(lambda_returns(rewards, discounts, values[1:], lam), expected,
                               rtol=1e-4, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(rollouts, st.sampled_from([1, 3, 20]))
def test_n_step_returns_matches_loop(rollout, n):
    rewards, discounts, values, _ = rollout
    expected = _per_trajectory(lambda r, d, v: _ref_n_step(r, d, v, n), rewards, discounts, values[1:])
    np.testing.assert_allclose(n_step_returns(rewards, discounts, values[1:], n), expected,
                               rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Identities between the estimators


def test_identities():
    rewards, discounts, values, _ = _random_rollout(1, 9, (4,))
    v_next = values[1:]
    mc = discounted_returns(rewards, discounts, values[-1])
    np.testing.assert_allclose(gae(rewards, values, discounts, 1.0), mc - values[:-1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gae(rewards, values, discounts, 0.0), td_errors(rewards, values, discounts))
    np.testing.assert_allclose(lambda_returns(rewards, discounts, v_next, 1.0), mc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lambda_returns(rewards, discounts, v_next, 0.0), rewards + discounts * v_next,
                               rtol=1e-6)
    np.testing.assert_allclose(gae(rewards, values, discounts, 0.8) + values[:-1],
                               lambda_returns(rewards, discounts, v_next, 0.8), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(n_step_returns(rewards, discounts, v_next, 1), rewards + discounts * v_next,
                               rtol=1e-6)
    np.testing.assert_allclose(n_step_returns(rewards, discounts, v_next, 9), mc, rtol=1e-5, atol=1e-6)


def test_terminal_cuts_the_return():
    rewards = np.array([1.0, 2.0, 4.0, 8.0])
    discounts = np.array([0.5, 0.0, 0.5, 0.5])  # s_2 is terminal: the first episode sees rewards 1 and 2
    np.testing.assert_allclose(discounted_returns(rewards, discounts, 16.0), [2.0, 2.0, 12.0, 16.0])


def test_scalar_discount_and_integer_rewards():
    out = discounted_returns(np.array([1, 1, 1]), 0.5, 0)
    assert out.dtype == jnp.result_type(float)
    np.testing.assert_allclose(out, [1.75, 1.5, 1.0])


def test_empty_sequence():
    for out in (discounted_returns(np.zeros((0, 2)), 0.9, np.zeros(2)),
                gae(np.zeros((0, 2)), np.zeros((1, 2)), 0.9, 0.95),
                lambda_returns(np.zeros((0, 2)), 0.9, np.zeros((0, 2)), 0.95),
                n_step_returns(np.zeros((0, 2)), 0.9, np.zeros((0, 2)), 3)):
        assert out.shape == (0, 2)


# ---------------------------------------------------------------------------------------------------------
# Transforms: jit, vmap, grad


def test_jit_and_vmap_agree_with_eager():
    rewards, discounts, values, lam = _random_rollout(2, 6, (3,))
    eager = gae(rewards, values, discounts, lam)
    np.testing.assert_allclose(jax.jit(gae)(rewards, values, discounts, lam), eager, rtol=1e-6, atol=1e-6)
    # vmap over the env axis (moved to the front) gives the same as the trailing-axis broadcast.
    batched = jax.vmap(gae, in_axes=1, out_axes=1)(rewards, values, discounts, lam)
    np.testing.assert_allclose(batched, eager, rtol=1e-6, atol=1e-6)
    n_step = jax.jit(n_step_returns, static_argnums=3)(rewards, discounts, values[1:], 2)
    np.testing.assert_allclose(n_step, n_step_returns(rewards, discounts, values[1:], 2), rtol=1e-6)


def test_gradient_flows_through_lambda_returns():
    rewards, discounts, values, _ = _random_rollout(3, 5, ())
    v_next = values[1:]
    grad = jax.grad(lambda v: lambda_returns(rewards, discounts, v, 0.5)[0])(v_next)
    # dG_0/dv_0 = gamma_0 (1 - lambda): the first bootstrap value enters with that weight.
    np.testing.assert_allclose(grad[0], discounts[0] * 0.5, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_values_without_bootstrap_row_is_rejected():
    with pytest.raises(ValueError, match=r"gae: `values` must have shape \(6, 2\).*got \(5, 2\).*append"):
        gae(np.zeros((5, 2)), np.zeros((5, 2)), 0.99, 0.95)
    with pytest.raises(ValueError, match=r"td_errors: `values` must have shape \(4,\)"):
        td_errors(np.zeros(3), np.zeros(3), 0.99)


def test_bad_discounts_and_lambda_are_rejected():
    with pytest.raises(ValueError, match=r"`discounts` must be a scalar or have shape \(5, 2\).*got \(2,\)"):
        discounted_returns(np.zeros((5, 2)), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"lambda_returns: `lam` must be a scalar or.*\(5,\).*got \(4,\)"):
        lambda_returns(np.zeros(5), 0.9, np.zeros(5), np.zeros(4))


def test_bad_bootstrap_and_next_values_are_rejected():
    with pytest.raises(ValueError, match=r"`bootstrap` must be a scalar or have shape \(3,\).*got \(2,\)"):
        discounted_returns(np.zeros((4, 3)), 0.9, np.zeros(2))
    with pytest.raises(ValueError, match=r"n_step_returns: `next_values` must have shape \(4,\).*\[1:\]"):
        n_step_returns(np.zeros(4), 0.9, np.zeros(5), 2)


def test_scalar_rewards_and_bad_n_are_rejected():
    with pytest.raises(ValueError, match=r"`rewards` must have time on a leading axis"):
        discounted_returns(1.0, 0.9, 0.0)
    for n in (0, 2.0, True):
        with pytest.raises(ValueError, match=r"`n` must be a Python int >= 1"):
            n_step_returns(np.zeros(4), 0.9, np.zeros(4), n)


def test_shape_errors_are_raised_under_jit():
    with pytest.raises(ValueError, match=r"gae: `values`"):
        jax.jit(gae)(jnp.zeros(5), jnp.zeros(5), 0.99, 0.95)
