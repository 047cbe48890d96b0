"""ActorCritic (A2C): its update (one actor step, train_v_iters critic steps) against a plain JAX + optax
oracle on a fixed rollout, and a seeded learning run on CartPole-v1."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from symgraph.rl import envs
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import ActorCritic
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


def test_a2c_update_equals_one_actor_step_and_train_v_iters_critic_steps(rng):
    t, e, gamma, lam, lr, clr, beta = 6, 3, 0.95, 0.9, 1e-2, 5e-3, 0.01
    agent = ActorCritic((4,), (), None, None, linear_actor, linear_critic, lr=lr, gamma=gamma, train_v_iters=4,
                        n_steps=t, n_envs=e, lam=lam, critic_lr=clr, entropy_beta=beta,
                        normalize_advantage=True, max_grad_norm=None, seed=2)
    data = make_rollout(rng, t, e, ends={(1, 0): "terminal", (3, 2): "truncated"})
    pa, pv = params_of(agent.actor), params_of(agent.critic)
    buffer = Buffer(t * e)
    fill(buffer, data)  # no stored V or log-prob: the update computes them with the current networks

    values = linear(pv, data["state"].astype(np.float64))[..., 0]
    next_values = linear(pv, data["next-state"].astype(np.float64))[..., 0]
    targets = oracle_lambda_returns(data["reward"], data["terminal"], data["truncated"], next_values, gamma, lam)
    adv = (targets - values).reshape(-1)
    adv = jnp.asarray((adv - adv.mean()) / (adv.std() + 1e-8), jnp.float32)
    s, a = jnp.asarray(data["state"].reshape(-1, 4)), jnp.asarray(data["action"].reshape(-1))
    targets = jnp.asarray(targets.reshape(-1), jnp.float32)

    def actor_loss(p):
        logits = linear(p, s)
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], -1)[:, 0]
        entropy = -jnp.mean(jnp.sum(jax.nn.softmax(logits) * jax.nn.log_softmax(logits), -1))
        return -jnp.mean(log_probs * adv) - beta * entropy

    def critic_loss(p):
        return 0.5 * jnp.mean((linear(p, s)[:, 0] - targets) ** 2)

    def steps(loss, p, lr, n):
        p = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), p)
        tx = optax.adam(lr, eps=1e-5)
        opt = tx.init(p)
        for _ in range(n):
            updates, opt = tx.update(jax.grad(loss)(p), opt, p)
            p = optax.apply_updates(p, updates)
        return p

    want_a, want_v = steps(actor_loss, pa, lr, 1), steps(critic_loss, pv, clr, 4)
    metrics = agent.update(buffer)
    close(metrics["value_loss"], critic_loss(jax.tree_util.tree_map(jnp.asarray, pv)), 1e-4)
    got_a, got_v = params_of(agent.actor), params_of(agent.critic)
    for key in ("W", "b"):
        close(got_a[key], want_a[key])
        close(got_v[key], want_v[key])


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_a2c_learns_cartpole(seed):
    env = envs.make_env("CartPole-v1")
    agent = ActorCritic.from_env(env, n_episodes=2, lr=3e-3, lam=0.95, train_v_iters=10,
                                 normalize_advantage=True, seed=seed)
    result = train_until(env, agent, 100_000, 475, 10, seed=seed, wait_end_path=True)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns
