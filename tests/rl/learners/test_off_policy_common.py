"""What the off-policy learners (DQN, DDPG, TD3, SAC) share: several gradient steps in one compiled call,
writing the new state back, the batches, save/load, action rescaling, and the bad-input errors."""


import gymnasium
import jax
import numpy as np
import pytest
from gymnasium import spaces

import symgraph as sg
from symgraph import rl
from symgraph.rl.learners.dqn import DQN
from symgraph.rl.learners.off_policy import BATCH_FIELDS
from symgraph.rl.learners.sac import SAC
from symgraph.rl.learners.td3 import DDPG, TD3
from symgraph.rl.run import run
from tests.rl.learners.conftest import continuous_buffer, random_buffer, small, values

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

# ---------------------------------------------------------------------------------------------------------
# The compiled update


@pytest.mark.parametrize("cls", [DQN, TD3, SAC])
def test_gradient_steps_in_one_call_equal_one_call_per_step(cls):
    """A scan of K gradient steps (one compiled call) equals K calls of one step: same parameters, same
    optimizer state, same counters (TD3's delay), same random draws (SAC, TD3's smoothing)."""
    buffer = (random_buffer(3, lambda rng: np.int32(rng.integers(2))) if cls is DQN else continuous_buffer())
    agent = small(cls, gradient_steps=4)
    update = jax.jit(agent.update_pure)
    batches, _ = agent.sample_batches(buffer)
    metrics, state_many = update(agent.state, batches)
    state_one = agent.state
    for k in range(4):
        _, state_one = update(state_one, {f: v[k:k + 1] for f, v in batches.items()})
    assert set(state_many) == set(state_one)
    for name in state_many:
        np.testing.assert_allclose(np.asarray(state_many[name], np.float64), np.asarray(state_one[name], np.float64),
                                   rtol=2e-5, atol=1e-6, err_msg=name)
    assert int(state_many[agent.gradient_step.name]) == 4
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_update_writes_the_new_state_back_and_returns_means():
    agent = small(DQN, gradient_steps=3)
    buffer = random_buffer(3, lambda rng: np.int32(rng.integers(2)))
    before = values(agent.critic.params)
    metrics = agent.update(buffer)
    assert set(metrics) == {"loss", "q", "grad_norm"}
    assert agent.gradient_step.value == 3 and agent.optimizer.step.value == 3
    assert all(not np.allclose(b, a) for b, a in zip(before, values(agent.critic.params)))


def test_update_waits_for_a_full_batch():
    agent = small(DQN)
    assert agent.update(random_buffer(3, lambda rng: np.int32(0), n=10)) is None


def test_batches_have_the_placeholder_shapes_and_dtypes():
    agent = small(SAC, gradient_steps=5)
    batches, indices = agent.sample_batches(continuous_buffer())
    assert set(batches) == set(BATCH_FIELDS) and indices.shape == (80,)
    assert batches["state"].shape == (5, 16, 3) and batches["action"].shape == (5, 16, 2)
    assert all(batches[f].dtype == np.float32 for f in BATCH_FIELDS)
    np.testing.assert_array_equal(batches["weight"], 1.0)


def test_save_and_load_restore_a_learner(tmp_path):
    agent = small(SAC, gradient_steps=2)
    agent.update(continuous_buffer())
    path = agent.save(tmp_path / "sac.npz")
    states = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = agent.act(states, deterministic=True)
    other = small(SAC, gradient_steps=2).load(path)
    np.testing.assert_allclose(other.act(states, deterministic=True), expected, rtol=1e-6)
    assert other.gradient_step.value == 2


# ---------------------------------------------------------------------------------------------------------
# Continuous actions


class BoxEnv(gymnasium.Env):
    """Observations in R^3; actions in a box with uneven bounds; reward -|a - center|; 5-step episodes."""

    def __init__(self):
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = spaces.Box(np.array([0.0, -2.0], np.float32), np.array([1.0, 6.0], np.float32))
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.normal(size=3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        reward = -float(np.abs(np.asarray(action) - np.array([0.5, 2.0])).sum())
        return self.np_random.normal(size=3).astype(np.float32), reward, self.t >= 5, False, {}


@pytest.mark.parametrize("cls", [SAC, TD3, DDPG])
def test_actions_are_rescaled_to_the_env_bounds(cls):
    env = BoxEnv()
    agent = cls.from_env(env, batch_size=8, hidden=(16,), random_steps=50, seed=0)
    np.testing.assert_array_equal(agent.action_low, [0.0, -2.0])
    np.testing.assert_array_equal(agent.action_high, [1.0, 6.0])
    states = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    warm = agent.act(states)                 # the first 50 exploring actions are uniform in the bounds
    assert warm.shape == (200, 2)
    assert (warm >= agent.action_low).all() and (warm <= agent.action_high).all()
    assert warm[:, 1].min() < -1.0 and warm[:, 1].max() > 5.0
    for deterministic in (True, False):
        actions = agent.act(states, deterministic)
        assert (actions >= agent.action_low).all() and (actions <= agent.action_high).all()
    noise = agent.make_noise(0.1)
    np.testing.assert_allclose(noise.sigma, [0.05, 0.4])   # 0.1 of the half-range of each component
    result = run(env, agent, agent.make_buffer(1000), noise=noise, update_after=16, max_steps=60,
                 max_episodes=None, eval_every=0, seed=0)
    assert result.losses and np.isfinite(result.losses[-1]["critic_loss"])


def test_stored_actions_are_normalised_for_the_critics():
    agent = TD3((3,), (2,), 2, hidden=(8,), action_low=[0.0, -2.0], action_high=[1.0, 6.0], seed=0)
    with agent.graph:
        stored = sg.Placeholder((None, 2), "float32", name="stored")
        normalise = sg.function(stored, outputs=agent._normalised(stored))
    actions = np.array([[0.0, -2.0], [1.0, 6.0], [0.5, 2.0]], np.float32)
    np.testing.assert_allclose(normalise(actions), [[-1, -1], [1, 1], [0, 0]], atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("cls", [SAC, TD3, DDPG])
def test_continuous_learners_refuse_discrete_actions(cls):
    with pytest.raises(ValueError, match=r"needs a continuous \(Box\) action space"):
        cls.from_env(gymnasium.make("CartPole-v1"))
    with pytest.raises(ValueError, match="action_low and action_high must be finite"):
        cls((3,), (1,), 32, action_low=-np.inf, action_high=np.inf)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        DQN((4,), 2, 0)
    with pytest.raises(ValueError, match=r"gamma must be a number in \[0, 1\]"):
        SAC((3,), (1,), 32, gamma=1.5)
    with pytest.raises(ValueError, match="n_step must be an int >= 1"):
        TD3((3,), (1,), 32, n_step=0)
    with pytest.raises(ValueError, match="alpha must be a number > 0 or 'auto'"):
        SAC((3,), (1,), 32, alpha=-1.0)
    with pytest.raises(ValueError, match="n_critics must be 1"):
        TD3((3,), (1,), 32, n_critics=3)
    with pytest.raises(ValueError, match="tau must be a number in"):
        DDPG((3,), (1,), 32, tau=0.0)


def test_buffer_without_transitions_fields_is_named():
    agent = small(DQN)
    buffer = rl.Buffer(100)
    for _ in range(20):
        buffer.push({"state": np.zeros(3, np.float32), "action": np.int32(0), "reward": 0.0})
    with pytest.raises(KeyError, match="no field 'next-state'"):
        agent.update(buffer)
