"""Tests of the fused on-policy iteration: the fused and Python paths of PPO, ActorCritic and REINFORCE give the
same parameters from the same state and env keys, truncated transitions bootstrap from the pre-reset
observation, and each learner learns gymnax CartPole-v1 (PPO with PureJaxRL's public settings, 8 seeds)."""

import gymnax
import jax
import numpy as np
import pytest

from symgraph import rl
from symgraph.rl.fused import on_policy
from symgraph.rl.fused.envs import JaxEnv

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


def small(kind, env, **kwargs):
    """A small learner of ``kind`` for ``env`` (16-unit networks)."""
    if kind == "ppo":
        return rl.PPO.from_env(env, n_envs=2, n_steps=8, batch_size=4, K_epochs=2, hidden=(16,), seed=3, **kwargs)
    if kind == "a2c":
        return rl.ActorCritic.from_env(env, n_envs=2, n_steps=8, lr=3e-3, train_v_iters=3, hidden=(16,), seed=3,
                                       **kwargs)
    return rl.REINFORCE.from_env(env, n_envs=2, n_episodes=1, episode_length=60, lr=1e-2, hidden=(16,), seed=3,
                                 **kwargs)


def python_iteration(learner, env, key):
    """One iteration of the Python path from the learner's current state: ``act_and_extras`` per step on the
    env stepped from Python with the fused loop's keys, a Buffer, then ``learner.update(buffer)``."""
    obs, env_state = env.reset(jax.random.fold_in(key, 1))
    length = on_policy.rollout_length(learner)
    _, keys = on_policy.rollout_keys(jax.random.fold_in(key, 2), length, env.num_envs)
    buffer = rl.Buffer(learner.rollout_size)
    step = jax.jit(env.step)
    for step_key in keys:
        actions, extras = learner.act_and_extras(np.asarray(obs))
        next_obs, env_state, reward, terminated, truncated, final_obs = step(step_key, env_state, actions)
        buffer.push({"state": np.asarray(obs), "action": actions, "reward": np.asarray(reward),
                     "next-state": np.asarray(final_obs), "terminal": np.asarray(terminated),
                     "truncated": np.asarray(truncated), **extras})
        obs = next_obs
    return learner.update(buffer)


@pytest.mark.parametrize("kind", ["ppo", "a2c", "reinforce"])
def test_fused_iteration_equals_python_path(cartpole, kind):
    """The fused iteration (act_pure in lax.scan, update_pure) and the Python path (act_and_extras per step, a
    Buffer, update) give the same parameters, to float tolerance."""
    learner = small(kind, cartpole)
    env = JaxEnv(*cartpole, num_envs=2)
    program = on_policy.build(learner, env, on_policy.rollout_length(learner) * 2)
    key = jax.random.PRNGKey(7)
    start = learner.state

    carry = on_policy.OnPolicyCarry(start, *env.reset(jax.random.fold_in(key, 1)), jax.random.fold_in(key, 2))
    carry, metrics = jax.jit(program.iteration)(carry)
    python_metrics = python_iteration(learner, env, key)
    fused, python = carry.learner, learner.state
    assert fused.keys() == python.keys()
    for name in fused:
        np.testing.assert_allclose(np.asarray(fused[name], np.float64), np.asarray(python[name], np.float64),
                                   rtol=2e-5, atol=2e-6, err_msg=name)
    assert not np.allclose(start["actor/logits/W"], fused["actor/logits/W"])  # it learned something
    for name, value in python_metrics.items():
        np.testing.assert_allclose(metrics[f"update/{name}"], value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_reinforce_rollout_without_an_episode_end_leaves_the_learner_unchanged(cartpole):
    """3 steps of CartPole never end an episode: no return to learn from, so (as learner.update, which waits
    for an episode to end) the fused iteration changes nothing but the sampling key."""
    learner = rl.REINFORCE.from_env(cartpole, n_envs=2, n_episodes=1, episode_length=6, hidden=(16,), seed=3)
    env = JaxEnv(*cartpole, num_envs=2)
    start = learner.state
    carry = on_policy.OnPolicyCarry(start, *env.reset(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    carry, metrics = jax.jit(on_policy.build(learner, env, 6).iteration)(carry)
    assert metrics["episode/count"] == 0
    for name, value in carry.learner.items():
        if name != "act/rng":
            np.testing.assert_array_equal(value, start[name], err_msg=name)


def test_truncated_transitions_bootstrap_from_the_pre_reset_observation(cartpole):
    """With a 5-step limit, truncations happen: the stored next state is the pre-reset observation (not the
    next row's fresh state) and A2C's one-step targets (lam=0) are r + gamma (1 - terminated) V(next state),
    checked through the update's first value loss against a numpy oracle (and not with V(next row))."""
    env_fn, params = cartpole
    env = JaxEnv(env_fn, params.replace(max_steps_in_episode=5), num_envs=2)
    learner = rl.ActorCritic.from_env((env_fn, params), n_envs=2, n_steps=12, lam=0.0, gamma=0.9, train_v_iters=1,
                                      hidden=(16,), seed=1)
    state = learner.state
    carry = on_policy.OnPolicyCarry(state, *env.reset(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    _, batch, _ = jax.jit(on_policy.make_rollout(learner, env))(carry)
    batch = {k: np.asarray(v) for k, v in batch.items()}
    truncated, terminal = batch["truncated"], batch["terminal"]
    assert truncated.sum() >= 2
    rows, cols = np.nonzero(truncated[:-1])
    assert np.all(np.abs(batch["state"][rows + 1, cols]) <= 0.05)  # a fresh episode follows
    assert not np.allclose(batch["next-state"][rows, cols], batch["state"][rows + 1, cols])
    not_done = ~(truncated | terminal)[:-1]
    np.testing.assert_allclose(batch["next-state"][:-1][not_done], batch["state"][1:][not_done], rtol=1e-6, atol=1e-7)

    values = learner.value(batch["state"].reshape(-1, 4)).reshape(12, 2)
    next_values = learner.value(batch["next-state"].reshape(-1, 4)).reshape(12, 2)

    def first_value_loss(bootstrap):
        targets = batch["reward"] + 0.9 * (1.0 - terminal) * bootstrap
        return 0.5 * np.mean((values - targets) ** 2)

    metrics, _ = jax.jit(learner.update_pure)(state, batch)
    np.testing.assert_allclose(metrics["value_loss"], first_value_loss(next_values), rtol=1e-5)
    wrong = next_values.copy()
    wrong[rows, cols] = values[rows + 1, cols]  # bootstrapping from the next episode's first state
    assert not np.isclose(first_value_loss(wrong), first_value_loss(next_values), rtol=1e-3)


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
def test_ppo_purejaxrl_settings_reach_475_over_8_seeds(cartpole):
    """PureJaxRL's public CartPole-v1 PPO settings, 8 seeds vmapped in one program; 5e5 steps floored to whole
    updates as PureJaxRL does (976 updates of 4 envs x 128 steps)."""
    total = 500_000 // 512 * 512
    learner = rl.PPO.from_env(cartpole, n_envs=4, n_steps=128, batch_size=128, K_epochs=4, lr=2.5e-4, gamma=0.99,
                              lam=0.95, eps_clip=0.2, entropy_beta=0.01, vf_coef=0.5, clip_vf=0.2, max_grad_norm=0.5,
                              anneal_lr=True, total_steps=total, seed=0)
    result = rl.train(cartpole, learner, total, seeds=8, progress=False)
    final_training = result.episode_returns[:, -1]
    assert result.episode_returns.shape == (8, 976)
    assert final_training.mean() >= 475, final_training
    assert result.final_returns.mean() >= 475, result.final_returns


@pytest.mark.learning
def test_actor_critic_learns_cartpole(cartpole):
    """n-step A2C (8 envs x 16 steps, GAE 0.95, normalised advantages), 1e5 steps, 8 seeds: the greedy policy
    reaches 475 on most seeds (random play scores about 22)."""
    learner = rl.ActorCritic.from_env(cartpole, n_envs=8, n_steps=16, lr=3e-3, lam=0.95, train_v_iters=4,
                                      normalize_advantage=True, seed=0)
    result = rl.train(cartpole, learner, 100_000 // 128 * 128, seeds=8, progress=False)
    assert np.median(result.final_returns) >= 475 and result.final_returns.mean() >= 400, result.final_returns


@pytest.mark.learning
def test_reinforce_learns_cartpole(cartpole):
    """REINFORCE (4 envs, 4 episodes of at most 500 steps per update, lr 5e-3), 3e5 steps, 8 seeds: a mean
    greedy return of at least 350 and every seed far above random play (about 22)."""
    learner = rl.REINFORCE.from_env(cartpole, n_envs=4, n_episodes=4, lr=5e-3, seed=0)
    result = rl.train(cartpole, learner, 300_000 // 2000 * 2000, seeds=8, progress=False)
    assert result.final_returns.mean() >= 350 and result.final_returns.min() >= 100, result.final_returns
