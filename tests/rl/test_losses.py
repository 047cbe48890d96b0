"""Tests of symgraph.rl.losses: rlax's published fixtures, closed forms, gradients and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symgraph.rl.losses import (
    batched_index,
    categorical_entropy,
    categorical_projection,
    clipped_surrogate_loss,
    double_q_learning_target,
    entropy_loss,
    expected_sarsa_target,
    huber_loss,
    l2_loss,
    policy_gradient_loss,
    ppo_diagnostics,
    ppo_value_loss,
    q_learning_target,
    sarsa_target,
    td_loss,
)

# Fixtures marked "rlax" are numbers from rlax's public tests (rlax/_src/policy_gradients_test.py and
# value_learning_test.py, google-deepmind/rlax); rlax checks one sequence per call, we loop over its batch.

PG_LOGITS = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0], [-1.0, -2.0, -3.0]])


def _log_prob(logits, actions):
    return np.take_along_axis(jax.nn.log_softmax(logits), np.asarray(actions)[:, None], axis=-1)[:, 0]


# ---------------------------------------------------------------------------------------------------------
# Policy losses


def test_policy_gradient_loss_rlax_fixture():
    cases = [  # (logits, actions, advantages, weights, expected)
        (PG_LOGITS, [0, 1, 2], [0.3, 0.2, 0.1], [-2.0, 2.0, 0.0], 0.0788835088),
        (PG_LOGITS + 1, [0, 0, 0], [-0.3, -0.2, -0.1], [-3.0, 1.0, -1.0], 0.327200909),
    ]
    for logits, actions, advantages, weights, expected in cases:
        loss = policy_gradient_loss(_log_prob(logits, actions), np.array(advantages), np.array(weights))
        np.testing.assert_allclose(loss, expected, atol=1e-4)


def test_policy_gradient_loss_stops_advantage_gradient():
    log_probs, advantages = jnp.array([-0.5, -1.0, -2.0, -0.1]), jnp.array([1.0, -2.0, 0.5, 3.0])
    d_logp, d_adv = jax.grad(policy_gradient_loss, argnums=(0, 1))(log_probs, advantages)
    np.testing.assert_allclose(d_logp, -advantages / 4)
    np.testing.assert_allclose(d_adv, 0.0)


def test_clipped_surrogate_rlax_fixture():
    old_logits = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0], [-3.0, -2.0, -1.0]])
    actions = [0, 1, 2]
    log_probs, old_log_probs = _log_prob(PG_LOGITS, actions), _log_prob(old_logits, actions)
    for advantages, expected in [([0.3, 0.2, 0.1], -0.17117467), ([-0.3, -0.2, -0.1], 0.19333333)]:
        loss = clipped_surrogate_loss(log_probs, old_log_probs, np.array(advantages), epsilon=0.2)
        np.testing.assert_allclose(loss, expected, atol=1e-4)


def test_clipped_surrogate_hand_picked_ratios():
    ratios = np.array([1.5, 0.5, 0.5, 1.5, 1.1])
    advantages = np.array([1.0, 1.0, -1.0, -1.0, 2.0])
    # min(rho A, clip(rho, 0.8, 1.2) A) per sample: clipped at 1.2; 0.5 (pessimistic); 0.8 A; 1.5 A; in range.
    surrogate = np.array([1.2, 0.5, -0.8, -1.5, 2.2])
    old = np.log(np.full(5, 0.4))
    new = old + np.log(ratios)
    loss = clipped_surrogate_loss(new, old, advantages, 0.2)
    np.testing.assert_allclose(loss, -surrogate.mean(), rtol=1e-5)
    grads = jax.grad(clipped_surrogate_loss, argnums=(0, 1, 2))(jnp.asarray(new), jnp.asarray(old),
                                                                 jnp.asarray(advantages), 0.2)
    # d/dlogp of rho A is rho A / N where the unclipped term is the min, and 0 where the clip is active.
    np.testing.assert_allclose(grads[0], -np.array([0.0, 0.5, 0.0, -1.5, 2.2]) / 5, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], 0.0)  # old log-probs and advantages are data
    np.testing.assert_allclose(grads[2], 0.0)
    weights = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(clipped_surrogate_loss(new, old, advantages, 0.2, weights),
                               -(surrogate * weights).mean(), rtol=1e-5)


def test_clipped_surrogate_accepts_traced_epsilon():
    loss = jax.jit(clipped_surrogate_loss)(jnp.log(jnp.array([0.6])), jnp.log(jnp.array([0.4])),
                                           jnp.array([1.0]), 0.1)
    np.testing.assert_allclose(loss, -1.1, rtol=1e-6)


def test_ppo_value_loss_closed_form():
    values, old_values, returns = np.array([2.0, 1.05]), np.array([1.0, 1.0]), np.array([3.0, 0.0])
    np.testing.assert_allclose(ppo_value_loss(values, returns), 0.5 * np.mean([1.0, 1.05**2]), rtol=1e-6)
    # Sample 0: the clipped value 1.2 is further from 3 than 2 is, so max picks (1.2 - 3)^2 = 3.24.
    # Sample 1: 1.05 is inside the clip range, both terms are 1.05^2.
    clipped = ppo_value_loss(values, returns, old_values, epsilon=0.2)
    np.testing.assert_allclose(clipped, 0.5 * np.mean([3.24, 1.05**2]), rtol=1e-6)
    grad = jax.grad(ppo_value_loss, argnums=(0, 1, 2))(jnp.asarray(values), returns, old_values, 0.2)
    np.testing.assert_allclose(grad[0], [0.0, 0.5 * 1.05], rtol=1e-6)  # the clipped branch has no gradient
    np.testing.assert_allclose(grad[1], 0.0)
    np.testing.assert_allclose(grad[2], 0.0)


def test_ppo_diagnostics():
    old = np.log(np.array([0.5, 0.5, 0.5, 0.5]))
    new = old + np.log(np.array([1.0, 1.1, 1.3, 0.5]))
    stats = ppo_diagnostics(new, old, epsilon=0.2)
    ratios = np.array([1.0, 1.1, 1.3, 0.5])
    np.testing.assert_allclose(stats["approx_kl"], np.mean(ratios - 1 - np.log(ratios)), rtol=1e-5)
    np.testing.assert_allclose(stats["clip_fraction"], 0.5)


def test_entropy_rlax_fixture():
    for logits, weights, expected in [(PG_LOGITS, [-2.0, 2.0, 0.0], 0.288693),
                                      (PG_LOGITS + 1, [-3.0, 1.0, -1.0], 1.15422)]:
        np.testing.assert_allclose(entropy_loss(categorical_entropy(logits), np.array(weights)), expected,
                                   atol=1e-4)
    np.testing.assert_allclose(categorical_entropy(np.zeros((2, 4))), np.log(4.0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Value losses


def test_huber_and_l2_closed_forms():
    x = jnp.array([0.5, -0.5, 2.0, -3.0, 0.0])
    np.testing.assert_allclose(huber_loss(x), [0.125, 0.125, 1.5, 2.5, 0.0])
    np.testing.assert_allclose(huber_loss(x, delta=2.0), [0.125, 0.125, 2.0, 4.0, 0.0])
    np.testing.assert_allclose(jax.grad(lambda x: huber_loss(x).sum())(x), [0.5, -0.5, 1.0, -1.0, 0.0])
    np.testing.assert_allclose(l2_loss(x), 0.5 * np.square(x))


def test_td_loss_weights_and_stop_gradient():
    q, y, w = jnp.array([1.0, 2.0, 0.0]), jnp.array([1.5, 0.0, 3.0]), jnp.array([1.0, 0.5, 2.0])
    np.testing.assert_allclose(td_loss(q, y, "l2"), np.mean([0.125, 2.0, 4.5]), rtol=1e-6)
    np.testing.assert_allclose(td_loss(q, y, weights=w), np.mean([0.125, 0.75, 5.0]), rtol=1e-6)
    d_q, d_y = jax.grad(td_loss, argnums=(0, 1))(q, y, "l2")
    np.testing.assert_allclose(d_q, (q - y) / 3, rtol=1e-6)
    np.testing.assert_allclose(d_y, 0.0)


# ---------------------------------------------------------------------------------------------------------
# Targets. rlax's fixtures give TD errors, target - Q(s_tm1, a_tm1).


def test_q_learning_target_rlax_fixture():
    q_tm1, a_tm1 = np.array([[1.0, 1.0, 0.0], [1.0, 2.0, 0.0]]), np.array([0, 1])
    r_t, discount_t = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    q_t = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 0.0]])
    td = q_learning_target(r_t, discount_t, q_t) - batched_index(q_tm1, a_tm1)
    np.testing.assert_allclose(td, [0.0, 1.0])


def test_double_q_learning_target_rlax_fixture():
    q_tm1, a_tm1 = np.array([[1.0, 1.0, 0.0], [1.0, 2.0, 0.0]]), np.array([0, 1])
    r_t, discount_t = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    q_t_value = np.array([[99.0, 1.0, 98.0], [91.0, 2.0, 66.0]])
    q_t_selector = np.array([[2.0, 10.0, 1.0], [11.0, 20.0, 1.0]])
    td = double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector) - batched_index(q_tm1, a_tm1)
    np.testing.assert_allclose(td, [0.0, 1.0])


def test_double_q_selects_with_online_and_evaluates_with_target():
    online = np.array([[0.0, 5.0, 1.0]])  # the selector picks action 1
    target = np.array([[10.0, -1.0, 7.0]])  # whose target value is -1, though the target's max is 10
    np.testing.assert_allclose(double_q_learning_target(np.array([0.5]), 0.9, target, online), [0.5 - 0.9])
    np.testing.assert_allclose(q_learning_target(np.array([0.5]), 0.9, target), [0.5 + 9.0])


def test_sarsa_target_rlax_fixture():
    q_tm1, a_tm1 = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]), np.array([0, 1])
    r_t, discount_t = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    q_t, a_t = np.array([[0.0, 1.0, 0.0], [3.0, 2.0, 0.0]]), np.array([1, 0])
    td = sarsa_target(r_t, discount_t, q_t, a_t) - batched_index(q_tm1, a_tm1)
    np.testing.assert_allclose(td, [0.0, 3.0])


def test_expected_sarsa_target_rlax_fixture():
    q_tm1, a_tm1 = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 3.0]]), np.array([0, 1])
    r_t, discount_t = np.array([4.0, 1.0]), np.array([1.0, 1.0])
    q_t = np.array([[1.5, 1.0, 2.0], [3.0, 2.0, 1.0]])
    probs_a_t = np.array([[0.2, 0.5, 0.3], [0.3, 0.4, 0.3]])
    td = expected_sarsa_target(r_t, discount_t, q_t, probs_a_t) - batched_index(q_tm1, a_tm1)
    np.testing.assert_allclose(td, [4.4, 2.0], rtol=1e-6)


def test_targets_broadcast_over_leading_axes():
    rng = np.random.default_rng(0)
    q_t, r_t = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(q_learning_target(r_t, 0.9, q_t), r_t + 0.9 * q_t.max(-1),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# C51 projection


ATOMS = np.array([0.0, 1.0, 2.0])


def test_categorical_projection_hand_computed():
    probs = np.array([[0.2, 0.3, 0.5]] * 4)
    rewards = np.array([0.5, 3.0, 0.25, -1.0])
    discounts = np.array([0.5, 1.0, 0.0, 0.5])
    expected = np.array([
        [0.1, 0.65, 0.25],  # r + g z = 0.5, 1.0, 1.5: 0.5 splits 0.2 evenly, 1.5 splits 0.5 evenly
        [0.0, 0.0, 1.0],  # everything above vmax is clipped to it
        [0.75, 0.25, 0.0],  # terminal: all the mass sits at r = 0.25
        [1.0, 0.0, 0.0],  # r + g z = -1.0, -0.5, 0.0, all clipped to vmin
    ])
    np.testing.assert_allclose(categorical_projection(probs, rewards, discounts, ATOMS), expected, atol=1e-6)


def test_categorical_projection_sums_to_one_and_keeps_the_mean():
    rng = np.random.default_rng(1)
    atoms = np.linspace(-10.0, 10.0, 51)
    probs = rng.dirichlet(np.ones(51), size=(8, 2))
    rewards = rng.uniform(-1, 1, size=(8, 2))
    discounts = rng.choice([0.0, 0.5, 0.9], size=(8, 2))  # |r| + 0.9 * 10 stays within 10
    projected = categorical_projection(probs, rewards, discounts, atoms)
    assert projected.shape == (8, 2, 51)
    np.testing.assert_allclose(projected.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.asarray(projected) >= 0)
    # Linear interpolation keeps the mean when r + g Z stays inside the support.
    np.testing.assert_allclose(projected @ atoms, rewards + discounts * (probs @ atoms), atol=1e-4)
    # r = 0, g = 1 maps the support onto itself: the identity.
    np.testing.assert_allclose(categorical_projection(probs, np.zeros((8, 2)), 1.0, atoms), probs, atol=1e-6)


def test_categorical_projection_uneven_support():
    atoms = np.array([0.0, 1.0, 3.0])
    # All the mass on z = 1 moves to 1 + 1 = 2.0, half-way between atoms 1 and 3: it splits evenly.
    np.testing.assert_allclose(categorical_projection(np.array([0.0, 1.0, 0.0]), 1.0, 1.0, atoms),
                               [0.0, 0.5, 0.5], atol=1e-6)


def test_categorical_projection_rlax_td_fixture():
    # rlax's categorical_td_learning fixture: cross-entropy between the projected target and the
    # prediction, support (0.5, 1, 1.5).
    atoms = np.array([0.5, 1.0, 1.5])
    logits_tm1 = np.array([[0, 9, 0], [9, 0, 9], [0, 9, 0], [9, 9, 0], [9, 0, 9]], dtype=np.float32)
    r_t = np.array([0.5, 0.0, 0.5, 0.8, -0.1])
    discount_t = np.array([0.8, 1.0, 0.8, 0.0, 1.0])
    logits_t = np.array([[0, 0, 9], [1, 1, 1], [0, 0, 9], [1, 1, 1], [0, 9, 9]], dtype=np.float32)
    target = categorical_projection(jax.nn.softmax(logits_t), r_t, discount_t, atoms)
    loss = -jnp.sum(target * jax.nn.log_softmax(logits_tm1), axis=-1)
    np.testing.assert_allclose(loss, [8.998915, 3.6932087, 8.998915, 0.69320893, 5.1929307], rtol=1e-4)


def test_categorical_projection_under_jit_and_vmap():
    rng = np.random.default_rng(2)
    probs, rewards = rng.dirichlet(np.ones(3), size=4), rng.uniform(-1, 1, size=4)
    eager = categorical_projection(probs, rewards, 0.9, ATOMS)
    np.testing.assert_allclose(jax.jit(categorical_projection)(probs, rewards, 0.9, ATOMS), eager, atol=1e-6)
    per_sample = jax.vmap(categorical_projection, in_axes=(0, 0, None, None))(probs, rewards, 0.9, ATOMS)
    np.testing.assert_allclose(per_sample, eager, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_mismatched_policy_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"policy_gradient_loss: `advantages` must have the shape of "
                                         r"`log_probs`, \(4,\), got \(4, 1\)"):
        policy_gradient_loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"clipped_surrogate_loss: `old_log_probs`.*\(3,\), got \(2,\)"):
        clipped_surrogate_loss(np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"`epsilon` must be >= 0"):
        clipped_surrogate_loss(np.zeros(3), np.zeros(3), np.zeros(3), epsilon=-0.1)
    with pytest.raises(ValueError, match=r"`epsilon` must be a scalar"):
        clipped_surrogate_loss(np.zeros(3), np.zeros(3), np.zeros(3), epsilon=np.zeros(3))
    with pytest.raises(ValueError, match=r"entropy_loss: `weights` must have the shape of `entropy`"):
        entropy_loss(np.zeros(3), np.zeros(2))


def test_value_clipping_needs_old_values():
    with pytest.raises(ValueError, match=r"ppo_value_loss: value clipping.*needs `old_values`"):
        ppo_value_loss(np.zeros(3), np.zeros(3), epsilon=0.2)


def test_bad_td_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"td_loss: `loss` must be 'huber' or 'l2', got 'mse'"):
        td_loss(np.zeros(2), np.zeros(2), loss="mse")
    with pytest.raises(ValueError, match=r"`targets` must have the shape of `predictions`"):
        td_loss(np.zeros(2), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"q_learning_target: `q_t` must have shape \(4, A\).*got \(4,\)"):
        q_learning_target(np.zeros(4), 0.9, np.zeros(4))
    with pytest.raises(ValueError, match=r"q_learning_target: `discount_t` must be a scalar or.*\(4,\)"):
        q_learning_target(np.zeros(4), np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"double_q_learning_target: `q_t_selector` must have the shape"):
        double_q_learning_target(np.zeros(4), 0.9, np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"sarsa_target: `a_t` must have the shape of `r_t`, \(4,\)"):
        sarsa_target(np.zeros(4), 0.9, np.zeros((4, 2)), np.zeros(3, dtype=np.int32))
    with pytest.raises(TypeError, match=r"sarsa_target: `a_t` must hold integer actions"):
        sarsa_target(np.zeros(4), 0.9, np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"batched_index: `values` must have shape \(3, A\)"):
        batched_index(np.zeros((2, 2)), np.zeros(3, dtype=np.int32))


def test_bad_projection_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"`atoms` must be a vector of at least 2"):
        categorical_projection(np.ones((2, 1)), np.zeros(2), 0.9, np.zeros(1))
    with pytest.raises(ValueError, match=r"`next_probs` must have shape \(2, 3\).*got \(2, 4\)"):
        categorical_projection(np.ones((2, 4)) / 4, np.zeros(2), 0.9, ATOMS)
    with pytest.raises(ValueError, match=r"`discounts` must be a scalar or have shape \(2,\)"):
        categorical_projection(np.ones((2, 3)) / 3, np.zeros(2), np.zeros(3), ATOMS)
    with pytest.raises(ValueError, match=r"categorical_entropy: `logits` must have a trailing axis"):
        categorical_entropy(1.0)
