"""
Rainbow-style DQN on CartPole
=============================

:class:`~symgraph.rl.DQN` has one independent switch per improvement that Rainbow (Hessel et al. 2018)
combines, and this example turns all of them on:

- ``double=True``: Double DQN, the online network picks the next action and the target network scores it;
- ``dueling=True``: the dueling head, :math:`Q(s, a) = V(s) + A(s, a) - \\operatorname{mean}_{a'} A(s, a')`;
- ``noisy=True``: NoisyNet layers, whose learned noise explores (ε-greedy exploration stays on as well);
- ``n_step=3``: three-step returns;
- ``prioritized=True``: prioritised replay, from a buffer made by ``agent.make_buffer``;
- ``categorical=True``: C51, a distribution over 51 returns evenly spaced in ``[v_min, v_max]`` per action.

The schedule is rl-baselines3-zoo's for DQN on CartPole-v1: after 1,000 random-ish steps, every 256
environment steps make 128 gradient steps in one compiled call, and the target network is copied after each
such round.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) trains for 20,000 environment steps
(about a minute on a laptop CPU), ``small`` for 1,100.
"""

import os

import gymnasium as gym
import matplotlib.pyplot as plt

from symgraph import rl
from symgraph.nn import schedules

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
STEPS = 1_100 if BUDGET == "small" else 20_000

# %%
# The learner
# -----------
# ``from_env`` reads the observation shape and the number of actions. The critic is an MLP of ``hidden``
# ReLU layers (NoisyDense layers with ``noisy``) whose last layer has ``(n_actions + 1) * atoms`` outputs:
# the dueling value and advantages, each a distribution over the 51 atoms. The support ``[0, 100]`` covers
# CartPole's discounted returns (at most :math:`1 / (1 - 0.99) = 100`).

env = gym.make("CartPole-v1")
agent = rl.DQN.from_env(
    env, batch_size=64, lr=2.3e-3, hidden=(256, 256),
    double=True, dueling=True, noisy=True, n_step=3, prioritized=True,
    categorical=True, atoms=51, v_min=0.0, v_max=100.0,
    gradient_steps=128, target_update_period=128, epsilon=schedules.linear(1.0, 0.04, 8_000), seed=0,
)
# Prioritised replay: priority exponent alpha, importance-sampling exponent beta annealed from 0.4 to 1.
buffer = agent.make_buffer(100_000, alpha=0.5, beta=schedules.linear(0.4, 1.0, 10_000))

# %%
# Training
# --------
# :func:`~symgraph.rl.run` steps the environment, stores every transition, and calls ``agent.update(buffer)``
# every 256 steps once 1,000 are stored; the greedy policy is evaluated every 10 episodes.

result = rl.run(env, agent, buffer, update_every=256, update_after=1_000, max_steps=STEPS, max_episodes=None,
                eval_every=10, eval_max_episodes=5, seed=0)

print(f"{result.total_steps} steps, {result.episodes} episodes, {len(result.losses)} updates of "
      f"{agent.gradient_steps} gradient steps in {result.wall_time:.1f} s")
print(f"exploration rate now {float(agent.epsilon.get()):.3f}")
best = max(result.eval_returns, key=lambda pair: pair[1], default=None)
if best is not None:
    print(f"best greedy evaluation: {best[1]:.1f} after {best[0]} steps")

# %%
# Learning curve and value estimates
# ----------------------------------
# On the right, the mean over each update's minibatches of :math:`\max_a Q(s, a)`, the expected value of the
# learned return distribution.

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.plot(result.episode_steps, result.episode_returns, ".", alpha=0.4, label="training episodes")
if result.eval_returns:
    steps, returns = zip(*result.eval_returns, strict=True)
    left.plot(steps, returns, "o-", label="greedy evaluation (5 episodes)")
left.axhline(500, color="k", linestyle="--", linewidth=1, label="maximum return")
left.set_xlabel("environment steps")
left.set_ylabel("episode return")
left.legend(loc="center right")
right.plot(result.update_steps, [m["q"] for m in result.losses], "o-")
right.set_xlabel("environment steps")
right.set_ylabel(r"mean $\max_a Q(s, a)$ of the minibatches")
fig.suptitle("DQN with every Rainbow switch on CartPole-v1")
plt.show()
