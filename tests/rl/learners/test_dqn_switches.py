"""Each DQN switch against its formula, on a table critic whose outputs the tests set by hand (one-hot states
pick a row of a table Variable): Double-Q targets, the dueling aggregation, the C51 projection and loss,
n-step returns from the replay buffer, prioritised replay (weights in the loss, |delta| as new priorities),
target-network updates, epsilon-greedy acting, and the NoisyNet layer."""

import math

import numpy as np
import pytest

import symgraph as sg
from symgraph import rl
from symgraph.nn import schedules
from symgraph.nn.noisy import NoisyDense, noise_nodes, resample_noise, without_noise
from symgraph.rl import losses
from symgraph.rl.learners.dqn import DQN, dueling_aggregation

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

N_STATES = 4


class TableCritic(rl.Critic):
    """``Q(s, .) = s @ table``: with one-hot states, each state reads one row of the table."""

    def __init__(self, states, n_actions, name="q", dense=None):
        self.outputs = n_actions
        super().__init__(states, name=name, n_actions=n_actions)

    def create_network(self, states):
        self.table = sg.Variable(np.zeros((N_STATES, self.outputs), "float32"), name="table")
        return states @ self.table


def one_hot(i):
    return np.eye(N_STATES, dtype=np.float32)[i]


def learner(**kwargs):
    kwargs.setdefault("huber", False)
    kwargs.setdefault("epsilon", 0.0)
    return DQN((N_STATES,), 2, 1, TableCritic, lr=0.0, gamma=0.9, seed=0, **kwargs)


def set_tables(agent, online, target):
    agent.critic.variables[0].update(np.asarray(online, np.float32))
    agent.target.variables[0].update(np.asarray(target, np.float32))


def one_transition(s=0, a=1, r=1.0, s2=1, terminal=False, buffer=None):
    buffer = buffer if buffer is not None else rl.Buffer(10, seed=0)
    buffer.push({"state": one_hot(s), "action": np.int32(a), "reward": r, "next-state": one_hot(s2),
                 "terminal": terminal, "truncated": False})
    return buffer


# ---------------------------------------------------------------------------------------------------------
# Double Q-learning


@pytest.mark.parametrize("double, expected_target", [(False, 1 + 0.9 * 10.0), (True, 1 + 0.9 * 5.0)])
def test_double_q_target_selects_with_the_online_and_evaluates_with_the_target(double, expected_target):
    agent = learner(double=double)
    online = np.zeros((N_STATES, 2))
    target = np.zeros((N_STATES, 2))
    online[0] = [2.0, 3.0]     # Q(s_0, a = 1) = 3
    online[1] = [1.0, 0.0]     # the online network prefers action 0 in s_1 ...
    target[1] = [5.0, 10.0]    # ... which the target values at 5 (its own max is 10)
    set_tables(agent, online, target)
    metrics = agent.update(one_transition())
    assert float(metrics["loss"]) == pytest.approx(0.5 * (expected_target - 3.0) ** 2, rel=1e-6)


def test_terminal_transitions_do_not_bootstrap():
    agent = learner()
    target = np.zeros((N_STATES, 2))
    target[1] = [5.0, 10.0]
    set_tables(agent, np.zeros((N_STATES, 2)), target)
    metrics = agent.update(one_transition(terminal=True))
    assert float(metrics["loss"]) == pytest.approx(0.5 * 1.0 ** 2)


def test_huber_loss_is_linear_beyond_one():
    agent = learner(huber=True)
    target = np.zeros((N_STATES, 2))
    target[1] = [0.0, 10.0]
    set_tables(agent, np.zeros((N_STATES, 2)), target)
    metrics = agent.update(one_transition())
    assert float(metrics["loss"]) == pytest.approx(10.0 - 0.5)  # |delta| - 1/2 for delta = 1 + 9 = 10


# ---------------------------------------------------------------------------------------------------------
# Dueling


def test_dueling_aggregation_formula():
    rng = np.random.default_rng(0)
    value, advantages = rng.normal(size=(5, 1)), rng.normal(size=(5, 3))
    expected = value + advantages - advantages.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(dueling_aggregation(value, advantages), expected, rtol=1e-6)


def test_dueling_head_through_the_learner():
    agent = learner(dueling=True)
    assert agent.critic.n_actions == 3  # V, then one advantage per action
    table = np.zeros((N_STATES, 3))
    table[2] = [1.0, 2.0, 6.0]   # V = 1, A = (2, 6): Q = 1 + (2, 6) - 4
    set_tables(agent, table, table)
    np.testing.assert_allclose(agent.q_values(one_hot(2)), [-1.0, 3.0])
    assert agent.act(one_hot(2), deterministic=True) == 1


# ---------------------------------------------------------------------------------------------------------
# C51


def test_categorical_projection_sums_to_one():
    rng = np.random.default_rng(1)
    agent = learner(categorical=True, atoms=11, v_min=-5.0, v_max=5.0)
    support = np.asarray(agent.support, np.float32)
    probs = rng.dirichlet(np.ones(11), size=64).astype(np.float32)
    rewards = rng.normal(0, 4, 64).astype(np.float32)
    discounts = rng.choice([0.0, 0.99], 64).astype(np.float32)
    projected = np.asarray(losses.categorical_projection(probs, rewards, discounts, support))
    np.testing.assert_allclose(projected.sum(axis=-1), 1.0, rtol=1e-5)
    assert (projected >= 0).all()


def test_categorical_loss_matches_a_hand_computed_case():
    # Support z = (-1, 0, 1); reward 0.5 and discount 0.5 move the atoms to (0, 0.5, 1).
    agent = DQN((N_STATES,), 2, 1, TableCritic, lr=0.0, gamma=0.5, categorical=True, atoms=3, v_min=-1.0,
                v_max=1.0, epsilon=0.0, seed=0)
    assert agent.support == (-1.0, 0.0, 1.0)
    online = np.zeros((N_STATES, 6))
    target = np.zeros((N_STATES, 6))
    online[0, 3:] = np.log([0.25, 0.25, 0.5])           # p(s_0, a = 1)
    target[1, :3] = np.log([0.2, 0.3, 0.5])             # p(s_1, 0): Q = 0.3, the greedy next action
    target[1, 3:] = np.log([0.6, 0.3, 0.1])             # p(s_1, 1): Q = -0.5
    set_tables(agent, online, target)
    np.testing.assert_allclose(agent.q_values(one_hot(0)), [0.0, 0.25], atol=1e-6)
    # Atom 0 -> 0 gives its 0.2 to z = 0; atom 1 -> 0.5 splits 0.3 evenly; atom 2 -> 1 gives 0.5 to z = 1.
    m = np.array([0.0, 0.2 + 0.15, 0.15 + 0.5])
    expected = -(m * np.log([0.25, 0.25, 0.5])).sum()
    metrics = agent.update(one_transition(r=0.5))
    assert float(metrics["loss"]) == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.35 * math.log(4) + 0.65 * math.log(2))


def test_support_must_be_increasing():
    with pytest.raises(ValueError, match="v_min < v_max"):
        DQN((4,), 2, 32, categorical=True, v_min=1.0, v_max=1.0)
    with pytest.raises(ValueError, match="atoms must be an int >= 2"):
        DQN((4,), 2, 32, categorical=True, atoms=1)


# ---------------------------------------------------------------------------------------------------------
# n-step returns


def _push(buffer, i, reward, terminal=False, truncated=False, next_id=None):
    buffer.push({"state": np.array([i], np.float32), "action": np.int32(0), "reward": reward,
                 "next-state": np.array([i + 1 if next_id is None else next_id], np.float32),
                 "terminal": terminal, "truncated": truncated})


def _sampled(agent, buffer):
    batches, _ = agent.sample_batches(buffer)
    ids = batches["state"].reshape(-1).astype(int)
    rows = {}
    for j, i in enumerate(ids):
        rows[i] = (batches["reward"].reshape(-1)[j], batches["discount"].reshape(-1)[j],
                   batches["next-state"].reshape(-1)[j])
    return rows


def test_n_step_returns_stop_at_terminations_truncations_and_the_newest_step():
    agent = DQN((1,), 2, 4, gamma=0.5, n_step=3, gradient_steps=64, seed=0)
    buffer = rl.Buffer(100, seed=0)
    _push(buffer, 0, 1.0)                      # 0 -> 1
    _push(buffer, 1, 2.0)                      # 1 -> 2
    _push(buffer, 2, 4.0, terminal=True)       # 2 -> 3, terminal
    _push(buffer, 4, 8.0)                      # new episode: 4 -> 5
    _push(buffer, 5, 16.0, truncated=True)     # 5 -> 6, time limit
    _push(buffer, 7, 32.0)                     # new episode: 7 -> 8, the newest step
    rows = _sampled(agent, buffer)
    expected = {0: (1 + 0.5 * 2 + 0.25 * 4, 0.0, 3), 1: (2 + 0.5 * 4, 0.0, 3), 2: (4.0, 0.0, 3),
                4: (8 + 0.5 * 16, 0.25, 6), 5: (16.0, 0.5, 6), 7: (32.0, 0.5, 8)}
    assert set(rows) == set(expected)
    for i, (g, discount, next_id) in expected.items():
        np.testing.assert_allclose(rows[i], (g, discount, next_id), rtol=1e-6, err_msg=f"from state {i}")


def test_n_step_chains_do_not_wrap_from_the_newest_to_the_oldest_step():
    agent = DQN((1,), 2, 4, gamma=0.5, n_step=3, gradient_steps=64, seed=0)
    buffer = rl.Buffer(4, seed=0)
    for i in range(6):                         # one long episode; the buffer keeps steps 2 .. 5
        _push(buffer, i, float(2 ** i))
    rows = _sampled(agent, buffer)
    assert set(rows) == {2, 3, 4, 5}
    np.testing.assert_allclose(rows[3], (8 + 0.5 * 16 + 0.25 * 32, 0.125, 6))
    np.testing.assert_allclose(rows[4], (16 + 0.5 * 32, 0.25, 6))
    np.testing.assert_allclose(rows[5], (32.0, 0.5, 6))      # not chained into step 2


def test_n_step_follows_each_environment_of_a_vector_buffer():
    agent = DQN((1,), 2, 2, gamma=0.5, n_step=2, gradient_steps=32, seed=0)
    buffer = rl.Buffer(100, n_envs=2, seed=0)
    for t in range(2):  # env 0 visits 0 -> 1 -> 2, env 1 visits 10 -> 11 -> 12
        buffer.push({"state": np.array([[t], [10 + t]], np.float32), "action": np.zeros(2, np.int32),
                     "reward": np.array([1.0, 100.0]) * (t + 1),
                     "next-state": np.array([[t + 1], [11 + t]], np.float32),
                     "terminal": np.zeros(2, bool), "truncated": np.zeros(2, bool)})
    rows = _sampled(agent, buffer)
    np.testing.assert_allclose(rows[0], (1 + 0.5 * 2, 0.25, 2))
    np.testing.assert_allclose(rows[10], (100 + 0.5 * 200, 0.25, 12))


def test_n_step_must_be_positive():
    with pytest.raises(ValueError, match="n_step must be an int >= 1"):
        DQN((4,), 2, 32, n_step=0)


# ---------------------------------------------------------------------------------------------------------
# Prioritised replay


def _prioritised_setup():
    agent = DQN((N_STATES,), 2, 2, TableCritic, lr=0.0, gamma=0.9, prioritized=True, huber=False, gradient_steps=4,
                epsilon=0.0, seed=0)
    online = np.zeros((N_STATES, 2))
    online[0] = [0.0, 1.0]
    online[2] = [4.0, 0.0]
    set_tables(agent, online, np.zeros((N_STATES, 2)))
    buffer = agent.make_buffer(16, alpha=1.0, beta=1.0)
    one_transition(s=0, a=1, r=3.0, s2=1, buffer=buffer)       # delta = 3 - 1 = 2
    one_transition(s=2, a=0, r=1.0, s2=3, buffer=buffer)       # delta = 1 - 4 = -3
    buffer.update_priorities([0, 1], [1.0, 4.0])               # unequal weights: (p_i / p_min) ** -1
    return agent, buffer


def test_prioritised_weights_scale_the_loss():
    agent, buffer = _prioritised_setup()
    batches, indices = agent.sample_batches(buffer)
    deltas = np.where(indices == 0, 2.0, -3.0)
    weights = batches["weight"].reshape(-1)
    np.testing.assert_allclose(weights, np.where(indices == 0, 1.0, (1.0 + 1e-6) / (4.0 + 1e-6)), rtol=1e-5)
    metrics, _ = agent.update_pure(agent.state, batches)
    assert float(metrics["loss"]) == pytest.approx(np.mean(weights * 0.5 * deltas ** 2), rel=1e-5)


def test_prioritised_replay_sets_priorities_to_abs_td_errors():
    agent, buffer = _prioritised_setup()
    calls = []
    original = buffer.update_priorities
    buffer.update_priorities = lambda idx, td: (calls.append((np.array(idx), np.array(td))), original(idx, td))
    agent.update(buffer)
    (indices, td), = calls
    np.testing.assert_allclose(td, np.where(indices == 0, 2.0, 3.0), rtol=1e-6)


def test_prioritized_needs_a_prioritised_buffer():
    agent = learner(prioritized=True)
    with pytest.raises(ValueError, match="priority sampling"):
        agent.update(one_transition())
    plain = learner()
    with pytest.raises(ValueError, match="prioritized=False"):
        plain.update(one_transition(buffer=rl.Buffer(10, priority_sampling=True)))


# ---------------------------------------------------------------------------------------------------------
# Target updates


def test_target_updates_every_period_with_polyak_averaging():
    agent = DQN((N_STATES,), 2, 1, TableCritic, lr=0.1, gamma=0.9, target_update_period=2, tau=0.5,
                gradient_steps=2, epsilon=0.0, seed=0)
    set_tables(agent, np.ones((N_STATES, 2)), np.zeros((N_STATES, 2)))
    buffer = one_transition(r=3.0)
    _, state = agent.update_pure(agent.state, agent.sample_batches(buffer)[0])
    online, target = agent.critic.variables[0].name, agent.target.variables[0].name
    assert not np.allclose(state[online], 1.0)  # it learned
    np.testing.assert_allclose(state[target], 0.5 * np.asarray(state[online]), rtol=1e-6)
    agent.set_state(state)
    assert agent.gradient_step.value == 2


def test_hard_target_copies_after_each_period():
    agent = DQN((N_STATES,), 2, 1, TableCritic, lr=0.1, target_update_period=3, gradient_steps=3, seed=0)
    set_tables(agent, np.ones((N_STATES, 2)), np.zeros((N_STATES, 2)))
    agent.update(one_transition(r=3.0))
    assert not np.allclose(agent.critic.variables[0].value, 1.0)
    np.testing.assert_array_equal(agent.target.variables[0].value, agent.critic.variables[0].value)


# ---------------------------------------------------------------------------------------------------------
# Epsilon-greedy


def test_epsilon_one_is_uniform_and_zero_is_greedy():
    agent = learner(epsilon=1.0)
    table = np.zeros((N_STATES, 2))
    table[:, 1] = 1.0
    set_tables(agent, table, table)
    states = np.tile(one_hot(0), (4000, 1))
    actions = agent.act(states)
    assert actions.dtype == np.int32 and set(np.unique(actions)) == {0, 1}
    assert abs(actions.mean() - 0.5) < 0.05
    assert (agent.act(states, deterministic=True) == 1).all()
    greedy = learner(epsilon=0.0)
    set_tables(greedy, table, table)
    assert (greedy.act(states) == 1).all()


def test_epsilon_schedule_counts_exploring_actions():
    agent = learner(epsilon=schedules.linear(1.0, 0.0, 100))
    assert float(agent.epsilon.get()) == pytest.approx(1.0)
    agent.act(np.tile(one_hot(0), (50, 1)))
    agent.act(one_hot(0), deterministic=True)  # greedy actions do not count
    assert agent.act_steps.value == 50
    assert float(agent.epsilon.get()) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------------
# NoisyNet


def test_noisy_dense_is_the_factorised_formula():
    x = sg.Placeholder((None, 3), "float32", name="x")
    layer = NoisyDense(2, name="noisy")
    y = layer(x)
    eps_in, eps_out = noise_nodes(y)
    f = sg.function(x, outputs=[y, eps_in, eps_out, without_noise(y)], seed=0)
    data = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    out, f_in, f_out, clean = f(data)
    mu_w, sigma_w, mu_b, sigma_b = (v.value for v in layer.variables)
    w = mu_w + sigma_w * np.outer(f_in, f_out)
    np.testing.assert_allclose(out, data @ w + mu_b + sigma_b * f_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clean, data @ mu_w + mu_b, rtol=1e-5, atol=1e-6)
    # f(e) = sgn(e) sqrt(|e|) with e ~ N(0, 1): f^4 = e^2 averages 1
    draws = np.concatenate([f(data)[1] for _ in range(300)])
    assert np.mean(draws ** 4) == pytest.approx(1.0, abs=0.15)
    bound = 1 / math.sqrt(3)
    assert np.abs(mu_w).max() <= bound and np.abs(mu_b).max() <= bound
    np.testing.assert_allclose(sigma_w, 0.5 / math.sqrt(3))


def test_noise_is_redrawn_per_call_and_resampled_clones_draw_their_own():
    x = sg.Placeholder((None, 4), "float32", name="x")
    y = NoisyDense(3, name="noisy")(x)
    f = sg.function(x, outputs=[y, resample_noise(y), without_noise(y)], seed=0)
    data = np.ones((1, 4), np.float32)
    first, other, clean = f(data)
    second, _, clean2 = f(data)
    assert not np.allclose(first, second)
    assert not np.allclose(first, other)
    np.testing.assert_array_equal(clean, clean2)


def test_noisy_dqn_acts_noise_free_when_deterministic():
    agent = DQN((4,), 3, 8, noisy=True, hidden=(16,), seed=0)
    assert any(isinstance(v.name, str) and "sigma_w" in v.name for v in agent.critic.variables)
    states = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(states, True), agent.act(states, True))
    assert float(agent.epsilon.get()) == 0.0   # NoisyNet explores through its noise
