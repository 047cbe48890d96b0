"""Helpers the learner tests share: linear networks and rollouts for the on-policy oracles, random replay
buffers and small learners for the off-policy tests, and the runs that stop once an evaluation is good."""

import functools

import gymnasium
import numpy as np

from symgraph import rl
from symgraph.nn import initializers
from symgraph.rl import MLPActor, MLPCritic
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners.dqn import DQN
from symgraph.rl.run import run

# ---------------------------------------------------------------------------------------------------------
# On-policy: linear networks, rollouts, the lambda-return oracle


def linear_actor(states):
    return MLPActor(states, 3, "categorical", hidden=(), head_init="glorot_uniform")


def linear_critic(states):
    return MLPCritic(states, None, hidden=(), head_init="glorot_uniform")


def params_of(network):
    """``{"W": ..., "b": ...}`` of a linear (hidden=()) network, float64."""
    values = {v.name.rsplit("/", 1)[-1]: np.asarray(v.value, np.float64) for v in network.params}
    return {"W": values["W"], "b": values["b"]}


def make_rollout(rng, t, e, n_states=4, n_actions=3, ends=None):
    """A consistent time-major rollout: next-state is the following row's state except where an episode
    ends (a fresh state there); ``ends`` maps (t, env) to "terminal" or "truncated"."""
    states = rng.normal(size=(t + 1, e, n_states)).astype(np.float32)
    next_states = states[1:].copy()
    terminal = np.zeros((t, e), bool)
    truncated = np.zeros((t, e), bool)
    for (i, j), kind in (ends or {}).items():
        (terminal if kind == "terminal" else truncated)[i, j] = True
        next_states[i, j] = rng.normal(size=n_states)  # the episode's last observation
    return {"state": states[:-1], "action": rng.integers(0, n_actions, (t, e)).astype(np.int32),
            "reward": rng.normal(size=(t, e)), "next-state": next_states, "terminal": terminal,
            "truncated": truncated}


def fill(buffer, rollout, extras=None):
    for i in range(rollout["reward"].shape[0]):
        row = {k: v[i] for k, v in rollout.items()}
        row.update({k: v[i] for k, v in (extras or {}).items()})
        buffer.push(row)


def oracle_lambda_returns(rewards, terminal, truncated, next_values, gamma, lam):
    """The lambda-return, step by step: a termination stops it, a truncation or the rollout's end
    bootstraps from V(next state)."""
    t, e = rewards.shape
    out = np.zeros((t, e))
    for j in range(e):
        for i in reversed(range(t)):
            cont = 0.0 if terminal[i, j] else gamma
            if i == t - 1 or terminal[i, j] or truncated[i, j]:
                out[i, j] = rewards[i, j] + cont * next_values[i, j]
            else:
                out[i, j] = rewards[i, j] + cont * ((1 - lam) * next_values[i, j] + lam * out[i + 1, j])
    return out


def linear(p, x):
    return x @ p["W"] + p["b"]


def close(a, b, tol=2e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)


def train_until(env, agent, max_steps, threshold, eval_every, seed, **kwargs):
    """run() with evaluations every ``eval_every`` episodes, stopped once an evaluation reaches
    ``threshold``; returns the RunResult."""
    buffer = Buffer(agent.rollout_size)

    def stop_when_good(info):
        evals = info["result"].eval_returns
        return not (evals and evals[-1][1] >= threshold)

    return run(env, agent, buffer, max_steps=max_steps, max_episodes=None, eval_every=eval_every,
               eval_max_episodes=10, seed=seed, callbacks=stop_when_good, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Off-policy: random replay buffers, small learners, runs stopped at a threshold


def random_buffer(state_dim, action, n=300, seed=0):
    """A buffer of random transitions; ``action(rng)`` draws one action."""
    rng = np.random.default_rng(seed)
    buffer = rl.Buffer(1000, seed=seed)
    for i in range(n):
        buffer.push({"state": rng.normal(size=state_dim).astype(np.float32), "action": action(rng),
                     "reward": float(rng.normal()), "next-state": rng.normal(size=state_dim).astype(np.float32),
                     "terminal": bool(i % 50 == 49), "truncated": False})
    return buffer


def continuous_buffer(dim=2, low=-2.0, high=2.0):
    return random_buffer(3, lambda rng: rng.uniform(low, high, dim).astype(np.float32))


def values(variables):
    return [np.array(v.value) for v in variables]


def small(cls, **kwargs):
    if cls is DQN:
        return DQN((3,), 2, 16, hidden=(16,), seed=3, **kwargs)
    return cls((3,), (2,), 16, hidden=(16,), action_low=-2.0, action_high=2.0, seed=3, **kwargs)


def eval_returns(result):
    return [r for _, r in result.eval_returns]


def torch_like_mlp(hidden):
    """PyTorch's default Linear initialisation (what SB3's tuned settings were tuned with)."""
    init = initializers.variance_scaling(1 / 3, "fan_in", "uniform")
    return functools.partial(rl.MLPCritic, hidden=hidden, activation="relu", init=init, head_init=init)


def stop_at(threshold):
    """A run callback that stops training once an evaluation reached ``threshold``."""
    def callback(state):
        evals = state["result"].eval_returns
        return not (evals and evals[-1][1] >= threshold)
    return callback


def pendulum_run(agent, noise=None, update_after=100, seed=0):
    env = gymnasium.make("Pendulum-v1")
    result = run(env, agent, rl.Buffer(200_000), noise=noise, update_after=update_after, max_steps=20_000,
                 max_episodes=None, eval_every=5, eval_max_episodes=5, seed=seed, callbacks=stop_at(-250))
    return eval_returns(result)
