"""REINFORCE: its update (reward-to-go of the finished episodes only) against a plain JAX + optax oracle,
and a seeded learning run on CartPole-v1."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from symgraph.rl import envs
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import REINFORCE
from tests.rl.learners.conftest import close, fill, linear, linear_actor, make_rollout, params_of, train_until

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

# ---------------------------------------------------------------------------------------------------------
# The update against plain JAX + optax


def test_reinforce_update_uses_reward_to_go_of_finished_episodes_only(rng):
    gamma, lr = 0.9, 1e-2
    agent = REINFORCE((4,), 3, 2, 10, linear_actor, lr=lr, gamma=gamma, seed=3)
    t = 9
    data = make_rollout(rng, t, 1, ends={(2, 0): "terminal", (5, 0): "truncated"})  # 2 episodes + a tail
    pa = params_of(agent.actor)
    buffer = Buffer(agent.rollout_size)
    assert agent.update(buffer) is None
    fill(buffer, {k: v[:, 0] for k, v in data.items()})
    rewards = data["reward"][:, 0]
    g, running = np.zeros(t), 0.0
    for i in reversed(range(t)):
        running = rewards[i] + (0.0 if (data["terminal"][i, 0] or data["truncated"][i, 0]) else gamma * running)
        g[i] = running
    g = g[:6]                                        # steps 6..8 belong to the unfinished episode
    adv = jnp.asarray((g - g.mean()) / (g.std() + 1e-8), jnp.float32)
    s, a = jnp.asarray(data["state"][:6, 0]), jnp.asarray(data["action"][:6, 0])

    def loss(p):
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(linear(p, s)), a[:, None], -1)[:, 0]
        return -jnp.mean(log_probs * adv)

    p = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), pa)
    tx = optax.adam(lr, eps=1e-5)
    updates, _ = tx.update(jax.grad(loss)(p), tx.init(p), p)
    want = optax.apply_updates(p, updates)
    metrics = agent.update(buffer)
    assert float(metrics["episodes"]) == 2 and len(buffer) == 0
    got = params_of(agent.actor)
    for key in ("W", "b"):
        close(got[key], want[key])


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_reinforce_learns_cartpole(seed):
    env = envs.make_env("CartPole-v1")
    agent = REINFORCE.from_env(env, n_episodes=4, lr=1e-2, seed=seed)
    result = train_until(env, agent, 100_000, 475, 8, seed=seed, wait_end_path=True)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns
