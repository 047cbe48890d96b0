"""
SAC on Pendulum
===============

Soft actor-critic (Haarnoja et al. 2018) learns a squashed Gaussian policy that maximises the return plus
:math:`\\alpha` times the policy's entropy, with twin critics and a temperature :math:`\\alpha` tuned so that
the entropy stays near a target (``alpha="auto"``, target :math:`-\\dim \\mathcal A`). The settings are
rl-baselines3-zoo's for Pendulum-v1: learning rate 1e-3, the rest Stable-Baselines3's defaults (batch 256,
one gradient step per environment step, :math:`\\tau = 0.005`, two hidden layers of 256 units).

Pendulum's episodes last 200 steps; a random policy scores about -1,200 and a good one about -150 (it
swings the pole up and holds it there).

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) trains for 10,000 environment steps
(50 episodes, about a minute on a laptop CPU), ``small`` for 300.
"""

import os

import gymnasium as gym
import matplotlib.pyplot as plt

from symgraph import rl

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
STEPS = 300 if BUDGET == "small" else 10_000

# %%
# The learner and the training run
# --------------------------------
# ``from_env`` reads the observation shape and the action bounds: the policy acts in :math:`[-1, 1]` and
# the learner rescales its actions to the environment's :math:`[-2, 2]`. The first 100 actions are uniform
# (``random_steps``), and updates start once 100 transitions are stored.

env = gym.make("Pendulum-v1")
agent = rl.SAC.from_env(env, lr=1e-3, random_steps=100, seed=0)
result = rl.run(env, agent, rl.Buffer(1_000_000), update_after=100, max_steps=STEPS, max_episodes=None,
                eval_every=5, eval_max_episodes=5, seed=0)

print(f"{result.total_steps} steps, {result.episodes} episodes, {len(result.losses)} gradient steps in "
      f"{result.wall_time:.1f} s")
print(f"temperature alpha: {agent.alpha:.4f}; last training return {result.episode_returns[-1]:.1f}")
if result.eval_returns:
    print(f"greedy evaluation: {result.eval_returns[-1][1]:.1f} after {result.eval_returns[-1][0]} steps")

# %%
# Learning curve and temperature
# ------------------------------
# The temperature falls while the policy's entropy is above its target (-1 for Pendulum's one action
# dimension), so the entropy bonus weighs less and less against the return as the policy settles.

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.plot(result.episode_steps, result.episode_returns, "o-", alpha=0.6, label="training episodes")
if result.eval_returns:
    steps, returns = zip(*result.eval_returns, strict=True)
    left.plot(steps, returns, "s-", label="greedy evaluation (5 episodes)")
left.set_xlabel("environment steps")
left.set_ylabel("episode return")
left.legend(loc="lower right")
right.plot(result.update_steps, [m["alpha"] for m in result.losses])
right.set_yscale("log")
right.set_xlabel("environment steps")
right.set_ylabel(r"temperature $\alpha$")
fig.suptitle("SAC on Pendulum-v1")
plt.show()
