"""The on-device replay buffer against the host Buffer and closed forms: the ring layout and wrap-around,
uniform and prioritised sampling frequencies (chi-square), the importance-weight formula, priority updates,
n-step targets (the same as the off-policy learners compute from the host Buffer), use under jit, scan and
vmap, and its errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from symgraph import rl
from symgraph.errors import ShapeError
from symgraph.rl.fused import replay
from symgraph.rl.learners.dqn import DQN

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)


def row(t, n_envs=1):
    """Row ``t`` of a stream where item ``(t, env)`` holds ``10 * t + env`` in every field."""
    value = 10 * t + np.arange(n_envs)
    return {"state": value[:, None].astype(np.float32), "reward": value.astype(np.float32)}


def filled(capacity, rows, n_envs=1, **kwargs):
    buffer = replay.init(capacity, row(0, n_envs), **kwargs)
    add = jax.jit(replay.add)
    for t in range(rows):
        buffer = add(buffer, row(t, n_envs))
    return buffer


# ---------------------------------------------------------------------------------------------------------
# Layout


def test_init_shapes_and_dtypes():
    example = {"state": np.zeros((3, 4)), "action": np.zeros(3, np.int32), "terminal": np.zeros(3, bool)}
    buffer = replay.init(10, example, prioritized=True)
    assert (buffer.rows, buffer.n_envs, buffer.capacity) == (4, 3, 12)   # ceil(10 / 3) rows, as Buffer
    assert buffer.data["state"].shape == (4, 3, 4) and buffer.data["state"].dtype == jnp.float32
    assert buffer.data["action"].dtype == jnp.int32 and buffer.data["terminal"].dtype == jnp.bool_
    assert buffer.priorities.shape == (4, 3) and int(buffer.size) == 0 and buffer.prioritized
    assert not replay.init(10, example).prioritized


def test_wrap_around_keeps_the_newest_rows_in_place():
    buffer = filled(5, 8)
    assert int(buffer.size) == 5 and int(buffer.row) == 3
    # rows 5, 6, 7 overwrote slots 0, 1, 2; rows 3, 4 are still in slots 3, 4 (the host Buffer's layout)
    host = rl.Buffer(5)
    for t in range(8):
        host.push({k: v[0] for k, v in row(t).items()})
    host_states = host.get(np.arange(5), "state")["state"][:, 0]
    np.testing.assert_array_equal(np.asarray(buffer.data["state"][:, 0, 0]), host_states)
    np.testing.assert_array_equal(np.asarray(buffer.data["reward"][:, 0]), [50, 60, 70, 30, 40])


def test_vector_rows_use_the_host_slots():
    buffer = filled(6, 2, n_envs=2)
    batch = replay.sample(buffer, jax.random.PRNGKey(0), 50)
    # slot = row * n_envs + env holds 10 * row + env
    idx = np.asarray(batch["indices"])
    np.testing.assert_array_equal(np.asarray(batch["reward"]), 10 * (idx // 2) + idx % 2)
    assert idx.max() < 4


# ---------------------------------------------------------------------------------------------------------
# Uniform sampling


def test_uniform_sampling_draws_stored_items_evenly():
    buffer = filled(16, 10)   # 10 of 16 slots stored
    sample = jax.jit(replay.sample, static_argnums=2)
    counts = np.zeros(16)
    for i in range(50):
        batch = sample(buffer, jax.random.PRNGKey(i), 200)
        idx = np.asarray(batch["indices"])
        np.testing.assert_array_equal(np.asarray(batch["state"][:, 0]), 10 * idx)   # fields stay paired
        np.testing.assert_array_equal(np.asarray(batch["weights"]), 1.0)
        counts += np.bincount(idx, minlength=16)
    assert counts[10:].sum() == 0
    assert stats.chisquare(counts[:10]).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------------------
# Prioritised sampling


def prioritised(td, alpha):
    buffer = filled(len(td), len(td), prioritized=True, alpha=alpha)
    return replay.update_priorities(buffer, jnp.arange(len(td)), jnp.asarray(td, jnp.float32))


def counts_of(buffer, draws=400, batch_size=10):
    keys = jax.random.split(jax.random.PRNGKey(1), draws)
    idx = jax.jit(jax.vmap(lambda k: replay.sample(buffer, k, batch_size)["indices"]))(keys)
    return np.bincount(np.asarray(idx).ravel(), minlength=buffer.capacity)


def test_priorities_sample_with_the_right_frequencies():
    td = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 0.0, 3.0, 0.2, 1.5, 0.7])
    buffer = prioritised(td, alpha=0.7)
    counts = counts_of(buffer)
    p = (np.abs(td) + buffer.eps) ** 0.7
    assert stats.chisquare(counts, counts.sum() * p / p.sum()).pvalue > 1e-3
    wrong = np.abs(td) + buffer.eps   # alpha = 1: clearly rejected
    assert stats.chisquare(counts, counts.sum() * wrong / wrong.sum()).pvalue < 1e-6


def test_prioritised_sampling_matches_the_host_buffer():
    """The host Buffer (sum tree) and the device buffer (cumulative sum) draw from one distribution."""
    td = np.array([0.3, 2.0, 0.1, 1.0, 5.0, 0.6])
    host = rl.Buffer(6, True, alpha=0.6, seed=0)
    for t in range(6):
        host.push({k: v[0] for k, v in row(t).items()})
    host.update_priorities(np.arange(6), td)
    host_counts = np.bincount(np.concatenate([host.sample(6)["indices"] for _ in range(700)]), minlength=6)
    device_counts = counts_of(prioritised(td, alpha=0.6), draws=700, batch_size=6)
    assert stats.chi2_contingency(np.stack([host_counts, device_counts])).pvalue > 1e-3


def test_alpha_zero_is_uniform_with_unit_weights():
    buffer = prioritised(np.arange(8.0) * 10, alpha=0.0)
    assert stats.chisquare(counts_of(buffer, batch_size=8)).pvalue > 1e-3
    np.testing.assert_allclose(np.asarray(replay.sample(buffer, jax.random.PRNGKey(0), 8)["weights"]), 1.0)


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_importance_weights_match_the_formula(beta):
    td = np.random.default_rng(5).normal(size=20) * 3
    buffer = prioritised(td, alpha=0.6)
    batch = replay.sample(buffer, jax.random.PRNGKey(3), 20, beta=jnp.float32(beta))   # a traced beta works
    prob = (np.abs(td) + buffer.eps) ** 0.6
    prob /= prob.sum()
    w_all = (20 * prob) ** -beta   # (N P(i))^-beta / max_j (N P(j))^-beta
    idx = np.asarray(batch["indices"])
    np.testing.assert_allclose(np.asarray(batch["weights"]), w_all[idx] / w_all.max(), rtol=1e-5)
    assert batch["weights"].dtype == jnp.float32 and float(batch["weights"].max()) <= 1.0


def test_weights_are_normalised_over_the_stored_items_only():
    buffer = filled(8, 3, prioritized=True, alpha=1.0)   # 5 empty slots of priority 0
    buffer = replay.update_priorities(buffer, jnp.arange(3), jnp.array([1.0, 2.0, 4.0]))
    batch = replay.sample(buffer, jax.random.PRNGKey(0), 64, beta=1.0)
    idx = np.asarray(batch["indices"])
    assert idx.max() < 3
    p = np.array([1.0, 2.0, 4.0]) + buffer.eps
    np.testing.assert_allclose(np.asarray(batch["weights"]), p.min() / p[idx], rtol=1e-5)


def test_new_items_get_the_largest_priority_seen():
    buffer = filled(4, 1, prioritized=True, alpha=0.5)
    assert float(buffer.priorities[0, 0]) == pytest.approx(1.0)   # the initial max priority
    buffer = replay.update_priorities(buffer, jnp.array([0]), jnp.array([8.0]))
    buffer = replay.add(buffer, row(1))
    assert float(buffer.priorities[1, 0]) == pytest.approx((8.0 + buffer.eps) ** 0.5)
    buffer = replay.update_priorities(buffer, jnp.array([0, 1]), jnp.array([0.1, -0.1]))
    buffer = replay.add(buffer, row(2))   # the max seen stays the max
    assert float(buffer.priorities[2, 0]) == pytest.approx((8.0 + buffer.eps) ** 0.5)
    assert float(buffer.priorities[1, 0]) == pytest.approx((0.1 + buffer.eps) ** 0.5)   # |delta|


# ---------------------------------------------------------------------------------------------------------
# n-step targets


def stream(rows, n_envs, seed=0):
    """Transitions of ``n_envs`` environments with terminations and truncations; each step's state is the
    previous step's next state except after an episode end (what the host Buffer's chains check)."""
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(n_envs, 2)).astype(np.float32)
    out = []
    for _ in range(rows):
        nxt = rng.normal(size=(n_envs, 2)).astype(np.float32)
        terminal = rng.random(n_envs) < 0.15
        truncated = ~terminal & (rng.random(n_envs) < 0.15)
        out.append({"state": state, "action": rng.integers(0, 2, n_envs).astype(np.int32),
                    "reward": rng.normal(size=n_envs).astype(np.float32), "next-state": nxt,
                    "terminal": terminal, "truncated": truncated})
        reset = rng.normal(size=(n_envs, 2)).astype(np.float32)
        state = np.where((terminal | truncated)[:, None], reset, nxt)
    return out


@pytest.mark.parametrize("n_envs, rows, capacity", [(1, 30, 64), (1, 39, 16), (2, 25, 20)])
def test_n_step_targets_match_the_learners_host_path(n_envs, rows, capacity):
    """The n-step returns, discounts and bootstrap states equal those an off-policy learner computes from the
    host Buffer holding the same transitions (with terminations, truncations, a full ring)."""
    transitions = stream(rows, n_envs)
    assert not (transitions[-1]["terminal"] | transitions[-1]["truncated"]).all()   # chains reach the newest row
    host = rl.Buffer(capacity, n_envs=n_envs)
    device = replay.init(capacity, transitions[0])
    for tr in transitions:
        host.push(tr if n_envs > 1 else {k: v[0] for k, v in tr.items()})
        device = replay.add(device, tr)
    agent = DQN((2,), 2, 16, hidden=(4,), gamma=0.9, n_step=3, gradient_steps=16, seed=0)
    batches, indices = agent.sample_batches(host)
    expected = {k: v.reshape(256, *v.shape[2:]) for k, v in batches.items()}
    targets = jax.jit(replay.n_step_targets, static_argnums=(2, 3))(device, jnp.asarray(indices), 0.9, 3)
    np.testing.assert_allclose(np.asarray(targets["reward"]), expected["reward"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(targets["discount"]), expected["discount"], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(targets["next-state"]), expected["next-state"])
    assert len(np.unique(expected["discount"])) >= 4   # chains of every length, and terminations, were drawn


def test_n_step_closed_form():
    """One environment, rewards 1, 2, 4, 8, a truncation after the third step and a termination after the
    fourth: chains stop there (bootstrapping after the truncation, not after the termination)."""
    flags = [(False, False), (False, False), (False, True), (True, False)]
    buffer = replay.init(8, {"reward": np.zeros(1), "terminal": np.zeros(1, bool), "truncated": np.zeros(1, bool),
                             "next-state": np.zeros((1, 1))})
    for t, (term, trunc) in enumerate(flags):
        buffer = replay.add(buffer, {"reward": np.array([2.0 ** t]), "terminal": np.array([term]),
                                     "truncated": np.array([trunc]), "next-state": np.array([[t + 1.0]])})
    g = 0.5
    out = replay.n_step_targets(buffer, jnp.arange(4), g, 3)
    np.testing.assert_allclose(np.asarray(out["reward"]), [1 + g * 2 + g * g * 4, 2 + g * 4, 4, 8])
    np.testing.assert_allclose(np.asarray(out["discount"]), [g ** 3, g ** 2, g, 0.0])
    np.testing.assert_array_equal(np.asarray(out["next-state"][:, 0]), [3, 3, 3, 4])
    one = replay.n_step_targets(buffer, jnp.arange(4), g, 1)
    np.testing.assert_allclose(np.asarray(one["reward"]), [1, 2, 4, 8])
    np.testing.assert_allclose(np.asarray(one["discount"]), [g, g, g, 0.0])


# ---------------------------------------------------------------------------------------------------------
# Compiled use


def test_add_in_a_scan_vmapped_over_seeds():
    def fill(key):
        buffer = replay.init(4, row(0), prioritized=True)

        def body(buffer, t):
            x = jax.random.normal(jax.random.fold_in(key, t), ())
            return replay.add(buffer, {"state": jnp.full((1, 1), x), "reward": jnp.full((1,), t, jnp.float32)}), None

        buffer, _ = jax.lax.scan(body, buffer, jnp.arange(6))
        return buffer

    buffers = jax.jit(jax.vmap(fill))(jax.random.split(jax.random.PRNGKey(0), 3))
    assert buffers.data["state"].shape == (3, 4, 1, 1)
    np.testing.assert_array_equal(np.asarray(buffers.data["reward"][:, :, 0]), [[4, 5, 2, 3]] * 3)
    np.testing.assert_array_equal(np.asarray(buffers.rows_stored), 4)
    assert not np.allclose(buffers.data["state"][0], buffers.data["state"][1])


# ---------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((0, row(0)), {}, ValueError, "capacity must be a positive int"),
    ((4, row(0)), {"alpha": 1.5}, ValueError, "alpha must be a number in"),
    ((4, row(0)), {"eps": 0.0}, ValueError, "eps must be a number > 0"),
    ((4, {}), {}, TypeError, "non-empty dict"),
    ((4, {"a": np.zeros(2), "b": np.zeros(3)}), {}, ValueError, "same leading axis"),
    ((4, {"a": np.float32(1.0)}), {}, ValueError, "same leading axis"),
])
def test_init_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        replay.init(*args, **kwargs)


def test_add_errors():
    buffer = replay.init(4, {"state": np.zeros((1, 2), np.float32), "action": np.zeros(1, np.int32)})
    with pytest.raises(KeyError, match=r"missing \['action'\]"):
        replay.add(buffer, {"state": np.zeros((1, 2))})
    with pytest.raises(KeyError, match=r"unknown \['extra'\]"):
        replay.add(buffer, {"state": np.zeros((1, 2)), "action": np.zeros(1, np.int32), "extra": np.zeros(1)})
    with pytest.raises(ShapeError, match=r"'state' has shape \(1, 3\).*rows of \(1, 2\)"):
        replay.add(buffer, {"state": np.zeros((1, 3)), "action": np.zeros(1, np.int32)})
    with pytest.raises(TypeError, match="'action' is float32.*int32"):
        replay.add(buffer, {"state": np.zeros((1, 2)), "action": np.zeros(1, np.float32)})


def test_sample_and_priority_errors():
    buffer = filled(4, 2)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        replay.sample(buffer, key, 0)
    with pytest.raises(KeyError, match="unknown field 'action'"):
        replay.sample(buffer, key, 2, fields=["action"])
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        replay.sample(buffer, key, 2, beta=-1.0)
    with pytest.raises(ValueError, match="samples uniformly"):
        replay.update_priorities(buffer, jnp.arange(2), jnp.ones(2))
    with pytest.raises(ShapeError, match="2 indices and 3 TD errors"):
        replay.update_priorities(filled(4, 2, prioritized=True), jnp.arange(2), jnp.ones(3))


def test_n_step_errors():
    buffer = filled(4, 2)
    with pytest.raises(KeyError, match="no field 'terminal'"):
        replay.n_step_targets(buffer, jnp.arange(2), 0.9, 1)
    with pytest.raises(ValueError, match="gamma must be a number in"):
        replay.n_step_targets(buffer, jnp.arange(2), 1.5, 1)
    with pytest.raises(ValueError, match="n_step must be a positive int"):
        replay.n_step_targets(buffer, jnp.arange(2), 0.9, 0)
