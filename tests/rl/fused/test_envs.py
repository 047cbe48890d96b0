"""Tests of the gymnax adapter: detection, the vmapped reset/step against gymnax's own step, the pre-reset
final observations, the episode statistics, the spaces read by ``space_info``/``from_env``, and the errors."""

import gymnasium
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import environment as gymnax_environment
from gymnax.environments import spaces as gymnax_spaces

from symgraph import rl
from symgraph.rl.envs import make_env, space_info
from symgraph.rl.fused.envs import JaxEnv, as_jax_env, is_jax_env

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


def test_is_jax_env(cartpole):
    env, params = cartpole
    assert is_jax_env(env) and is_jax_env((env, params)) and is_jax_env(JaxEnv(env, params, 2))
    assert not is_jax_env(gymnasium.make("CartPole-v1"))
    assert not is_jax_env((1, 2)) and not is_jax_env("CartPole-v1")


def test_as_jax_env_keeps_or_resizes(cartpole):
    env, params = cartpole
    adapter = as_jax_env((env, params), num_envs=3)
    assert adapter.num_envs == 3 and adapter.params is params and adapter.name == "CartPole-v1"
    assert as_jax_env(adapter) is adapter
    assert as_jax_env(adapter, num_envs=5).num_envs == 5
    short = params.replace(max_steps_in_episode=7)
    assert as_jax_env((env, params), short).max_episode_steps == 7
    assert as_jax_env(env).params == env.default_params


def test_step_matches_gymnax_step(cartpole):
    """reset/step are gymnax's own, vmapped over copies with keys split per copy."""
    env, params = cartpole
    adapter = JaxEnv(env, params, 3)
    key = jax.random.PRNGKey(0)
    obs, state = adapter.reset(key)
    keys = jax.random.split(key, 3)
    for i in range(3):
        ref_obs, _ = env.reset(keys[i], params)
        np.testing.assert_array_equal(obs[i], ref_obs)
    action = jnp.array([0, 1, 1])
    step_key = jax.random.PRNGKey(1)
    new_obs, new_state, reward, terminated, truncated, final_obs = adapter.step(step_key, state, action)
    for i in range(3):
        ref = env.step(jax.random.split(step_key, 3)[i], jax.tree_util.tree_map(lambda x, i=i: x[i],
                                                                                  state.env_state), action[i], params)
        np.testing.assert_array_equal(new_obs[i], ref[0])
        assert reward[i] == ref[2] and terminated[i] == ref[3] and truncated[i] == ref[4]
        np.testing.assert_array_equal(final_obs[i], ref[5]["final_observation"])
    assert new_obs.dtype == np.float32 and reward.dtype == np.float32 and terminated.dtype == bool
    assert new_state.episode_length.tolist() == [1, 1, 1]
    per_copy = adapter.step(jax.random.split(step_key, 3), state, action)  # one key per copy, split beforehand
    for ours, theirs in zip(per_copy, (new_obs, new_state, reward, terminated, truncated, final_obs), strict=True):
        jax.tree_util.tree_map(np.testing.assert_array_equal, ours, theirs)


def test_final_obs_and_episode_statistics(cartpole):
    """Over random steps: where no episode ends, final_obs is the next obs; where one ends, obs is a fresh
    reset (CartPole starts within +-0.05) and final_obs the ended episode's last; the statistics count the
    rewards of each episode (an oracle accumulated here)."""
    env, params = cartpole
    adapter = JaxEnv(env, params.replace(max_steps_in_episode=12), 4)
    _, state = adapter.reset(jax.random.PRNGKey(3))
    step = jax.jit(adapter.step)
    running, ended, truncations = np.zeros(4), [], 0
    for t in range(60):
        action = jax.random.bernoulli(jax.random.PRNGKey(100 + t), 0.5, (4,)).astype(jnp.int32)
        new_obs, state, reward, terminated, truncated, final_obs = step(jax.random.PRNGKey(t), state, action)
        running += np.asarray(reward)
        done = np.asarray(terminated | truncated)
        truncations += int(np.sum(np.asarray(truncated)))
        for i in range(4):
            if done[i]:
                assert np.all(np.abs(np.asarray(new_obs[i])) <= 0.05)
                assert not np.allclose(final_obs[i], new_obs[i])
                assert state.last_return[i] == running[i] and state.episode_return[i] == 0
                ended.append(running[i])
                running[i] = 0
            else:
                np.testing.assert_array_equal(final_obs[i], new_obs[i])
        np.testing.assert_allclose(state.episode_return, running)
    assert truncations > 0 and len(ended) >= 8 and max(ended) <= 12


def test_space_info_reads_gymnax_spaces(cartpole):
    env, params = cartpole
    for given in (env, (env, params), JaxEnv(env, params, 4)):
        info = space_info(given)
        assert info.obs_shape == (4,) and info.discrete and info.n_actions == 2 and info.action_start == 0
    assert space_info(JaxEnv(env, params, 4)).n_envs == 4
    pendulum = space_info(gymnax.make("Pendulum-v1"))
    assert not pendulum.discrete and pendulum.action_shape == (1,)
    np.testing.assert_array_equal(pendulum.action_low, [-2.0]) and np.testing.assert_array_equal(
        pendulum.action_high, [2.0])


def test_from_env_builds_learners_for_gymnax_envs(cartpole):
    reinforce = rl.REINFORCE.from_env(cartpole[0], n_envs=4, hidden=(8,), seed=0)
    assert reinforce.state_shape == (4,) and reinforce.n_envs == 4 and reinforce.discrete
    assert reinforce.episode_length == 500  # the gymnax params' max_steps_in_episode
    continuous = rl.PPO.from_env(gymnax.make("Pendulum-v1"), n_steps=8, batch_size=8, hidden=(8,), seed=0)
    np.testing.assert_array_equal(continuous.action_bounds[1], [2.0])
    assert not continuous.discrete and continuous.n_envs == 1


class _DictObservationEnv(gymnax_environment.Environment):
    """A gymnax env with a Dict observation space (not supported by the learners)."""

    @property
    def default_params(self):
        return gymnax_environment.EnvParams(max_steps_in_episode=3)

    def observation_space(self, params):
        return gymnax_spaces.Dict({"a": gymnax_spaces.Discrete(2)})

    def action_space(self, params):
        return gymnax_spaces.Discrete(2)


def test_errors(cartpole):
    env, params = cartpole
    with pytest.raises(TypeError, match="JaxEnv: env must be a gymnax Environment"):
        JaxEnv(gymnasium.make("CartPole-v1"))
    with pytest.raises(ValueError, match="num_envs must be a positive int, got 0"):
        JaxEnv(env, params, 0)
    with pytest.raises(TypeError, match="expected a JAX-native environment.*got CartPoleEnv"):
        as_jax_env(gymnasium.make("CartPole-v1").unwrapped)
    with pytest.raises(TypeError, match="observation space .* is not supported.*FlattenObservation"):
        JaxEnv(_DictObservationEnv())
    with pytest.raises(TypeError, match=r"make_env: got a JAX-native \(gymnax\) environment.*rl.train"):
        make_env((env, params))
    agent = rl.PPO.from_env(cartpole, n_steps=8, batch_size=8, seed=0)
    with pytest.raises(TypeError, match=r"symgraph.rl.train\(env, learner, total_steps\)"):
        rl.run(env, agent, rl.Buffer(agent.rollout_size))
