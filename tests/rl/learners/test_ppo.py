"""PPO: its update against a plain JAX + optax oracle on a fixed rollout, the whole update as one compiled
call, its minibatch argument's error, a smoke run on Atari Pong, and seeded learning runs (CartPole-v1,
Pendulum-v1) with rl-baselines3-zoo's tuned settings."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from symgraph.rl import CNNActor, envs
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import PPO
from symgraph.rl.run import run
from tests.rl.learners.conftest import (
    close,
    fill,
    linear,
    linear_actor,
    linear_critic,
    make_rollout,
    oracle_lambda_returns,
    params_of,
    train_until,
)

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

# ---------------------------------------------------------------------------------------------------------
# The update against plain JAX + optax


def test_ppo_update_equals_optax_adam_on_the_clipped_loss(rng):
    t, e, gamma, lam, lr, c_v, beta, clip = 8, 2, 0.9, 0.8, 3e-3, 0.7, 0.05, 0.2
    agent = PPO((4,), 3, 16, linear_actor, linear_critic, lr=lr, K_epochs=3, eps_clip=clip, gamma=gamma,
                entropy_beta=beta, n_steps=t, n_envs=e, lam=lam, vf_coef=c_v, max_grad_norm=0.5, seed=1)
    ends = {(2, 0): "terminal", (5, 0): "truncated", (4, 1): "truncated", (6, 1): "terminal"}
    data = make_rollout(rng, t, e, ends=ends)
    pa, pv = params_of(agent.actor), params_of(agent.critic)
    log_softmax = jax.nn.log_softmax(linear(pa, data["state"].astype(np.float64)))
    true_log_probs = np.take_along_axis(np.asarray(log_softmax), data["action"][..., None], -1)[..., 0]
    stored = {"log-prob": (true_log_probs + rng.normal(0, 0.1, (t, e))).astype(np.float32),   # stored, used
              "V": (linear(pv, data["state"])[..., 0] + rng.normal(0, 0.1, (t, e))).astype(np.float32)}
    buffer = Buffer(t * e)
    fill(buffer, data, stored)

    next_values = linear(pv, data["next-state"].astype(np.float64))[..., 0]
    targets = oracle_lambda_returns(data["reward"], data["terminal"], data["truncated"], next_values, gamma, lam)
    advantages = (targets - stored["V"]).reshape(-1)
    s, a = jnp.asarray(data["state"].reshape(-1, 4)), jnp.asarray(data["action"].reshape(-1))
    old = jnp.asarray(stored["log-prob"].reshape(-1))
    targets = jnp.asarray(targets.reshape(-1), jnp.float32)

    def loss_fn(p):
        logits = linear(p["actor"], s)
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], -1)[:, 0]
        ratio = jnp.exp(log_probs - old)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv))
        value = 0.5 * jnp.mean((linear(p["critic"], s)[:, 0] - targets) ** 2)
        entropy = -jnp.mean(jnp.sum(jax.nn.softmax(logits) * jax.nn.log_softmax(logits), -1))
        return policy + c_v * value - beta * entropy

    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), {"actor": pa, "critic": pv})
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr, eps=1e-5))
    opt_state = tx.init(params)
    for _ in range(3):  # K_epochs full-batch steps (one minibatch: the order does not matter)
        updates, opt_state = tx.update(jax.grad(loss_fn)(params), opt_state, params)
        params = optax.apply_updates(params, updates)

    metrics = agent.update(buffer)
    assert len(buffer) == 0
    assert set(metrics) >= {"loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                            "grad_norm", "explained_variance", "lr", "clip"}
    got_a, got_v = params_of(agent.actor), params_of(agent.critic)
    for key in ("W", "b"):
        close(got_a[key], params["actor"][key])
        close(got_v[key], params["critic"][key])


# ---------------------------------------------------------------------------------------------------------
# Compiled calls


def test_the_whole_update_is_one_compiled_call(monkeypatch):
    env = envs.make_env("CartPole-v1", n_envs=2)
    agent = PPO.from_env(env, batch_size=8, n_steps=16, K_epochs=4, seed=0)
    calls = []
    jitted = agent._update_jit
    monkeypatch.setattr(agent, "_update_jit", lambda *args: calls.append(1) or jitted(*args))
    train = agent._train_fn._jitted
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=96,
                 max_episodes=None, eval_every=0, seed=0)
    assert len(result.losses) == 3 and len(calls) == 3
    assert jitted.cache_size() == 1 and train._cache_size() <= 1   # the train step only runs traced inside
    assert int(agent._updates_done.value) == 3 and int(agent.optimizer.step.value) == 3 * 4 * 4


# ---------------------------------------------------------------------------------------------------------
# Pixel observations


def test_ppo_smoke_on_atari_pong():
    ale_py = pytest.importorskip("ale_py")
    gymnasium.register_envs(ale_py)

    def pong():
        env = gymnasium.make("ALE/Pong-v5", frameskip=1)
        env = gymnasium.wrappers.AtariPreprocessing(env, frame_skip=4)
        return gymnasium.wrappers.FrameStackObservation(env, 4)

    env = envs.make_env(pong, n_envs=2)
    agent = PPO.from_env(env, batch_size=64, n_steps=64, K_epochs=1, seed=0)
    assert isinstance(agent.actor, CNNActor) and agent.actor.channels_first and agent.n_actions == 6
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=384,
                 max_episodes=None, eval_every=0, seed=0)
    assert result.total_steps == 384 and len(result.losses) == 3
    assert all(np.isfinite(m["loss"]) for m in result.losses)


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_a_batch_larger_than_the_rollout_is_an_error():
    with pytest.raises(ValueError, match=r"batch_size=512 is larger than the rollout of n_steps x n_envs = "
                                         r"32 x 8 = 256"):
        PPO.from_env(envs.make_env("CartPole-v1", n_envs=8), batch_size=512, n_steps=32)


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_solves_cartpole_within_100k_steps(seed):
    """rl-baselines3-zoo's tuned settings: eval return >= 475 (10 episodes) within 1e5 env steps."""
    env = envs.make_env("CartPole-v1", n_envs=8)
    agent = PPO.from_env(env, batch_size=256, n_steps=32, K_epochs=20, lr=1e-3, gamma=0.98, lam=0.8,
                         entropy_beta=0.0, anneal_lr=True, anneal_clip=True, total_steps=100_000, seed=seed)
    result = train_until(env, agent, 100_000, 475, 16, seed=seed, update_every=agent.rollout_size)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_learns_pendulum(seed):
    """rl-baselines3-zoo's PPO Pendulum-v1 settings without gSDE: from about -1200 to >= -400."""
    env = envs.make_env("Pendulum-v1", n_envs=4)
    agent = PPO.from_env(env, batch_size=64, n_steps=1024, K_epochs=10, lr=1e-3, gamma=0.9, lam=0.95,
                         entropy_beta=0.0, seed=seed)
    result = train_until(env, agent, 80_000, -400, 8, seed=seed, update_every=agent.rollout_size)
    assert np.mean(result.episode_returns[:8]) < -900
    assert max(r for _, r in result.eval_returns) >= -400, result.eval_returns
