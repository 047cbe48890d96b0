"""
PPO on CartPole with your own actor and critic
==============================================

The learners of :mod:`symgraph.rl` take any network you write: subclass :class:`~symgraph.rl.Actor` or
:class:`~symgraph.rl.Critic` and implement ``create_network``. The template builds your network in its own
scope, turns its output into a policy (here a Categorical over CartPole's two actions) or a value, and gives
the learner everything else: sampled and greedy actions, log-probabilities, entropies, the trainable
parameters, and the same network applied to other inputs.

Here both networks are small MLPs written with :class:`symgraph.nn.Dense`, with the orthogonal
initialisation PPO implementations use. :class:`~symgraph.rl.PPO` trains them with rl-baselines3-zoo's tuned
CartPole-v1 settings: 8 environments, rollouts of 32 steps, 20 epochs of minibatches of 256, the learning rate
and the clip range annealed to 0. The plot shows the training episodes' returns and the greedy policy's
evaluations (500 is the most an episode can return).

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) trains for 100,000 environment
steps (about 10 seconds on a laptop CPU), ``small`` for 1,024.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import symgraph.nn as nn
from symgraph import rl

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
STEPS = 1_024 if BUDGET == "small" else 100_000

# %%
# The networks
# ------------
# ``create_network`` receives the states placeholder, shape ``(batch, 4)``, and returns what the
# distribution needs: logits of shape ``(batch, n_actions)`` for a Categorical actor, and ``(batch,)`` or
# ``(batch, 1)`` values for a V(s) critic. Every variable the network creates inside ``create_network``
# belongs to it: the learner optimises exactly those (``actor.params``).


class SmallActor(rl.Actor):
    """Two tanh layers of 64 units, then the logits (a near-uniform policy to start)."""

    def create_network(self, states):
        hidden = nn.Dense(64, "tanh", init=nn.initializers.orthogonal(np.sqrt(2)), name="hidden_1")(states)
        hidden = nn.Dense(64, "tanh", init=nn.initializers.orthogonal(np.sqrt(2)), name="hidden_2")(hidden)
        return nn.Dense(2, init=nn.initializers.orthogonal(0.01), name="logits")(hidden)


class SmallCritic(rl.Critic):
    """The same torso, then one value per state."""

    def create_network(self, states):
        hidden = nn.Dense(64, "tanh", init=nn.initializers.orthogonal(np.sqrt(2)), name="hidden_1")(states)
        hidden = nn.Dense(64, "tanh", init=nn.initializers.orthogonal(np.sqrt(2)), name="hidden_2")(hidden)
        return nn.Dense(1, init=nn.initializers.orthogonal(1.0), name="value")(hidden)


# %%
# The learner and the training run
# --------------------------------
# ``PPO.from_env`` reads the spaces (and the number of sub-environments) from the environment; the
# ``actor=`` and ``critic=`` factories receive the learner's states placeholder. The buffer holds one
# rollout, and :func:`~symgraph.rl.run` calls ``agent.update(buffer)`` once per rollout.

env = rl.envs.make_env("CartPole-v1", n_envs=8)
agent = rl.PPO.from_env(
    env,
    actor=lambda states: SmallActor(states, "categorical"),
    critic=lambda states: SmallCritic(states),
    batch_size=256, n_steps=32, K_epochs=20, lr=1e-3, gamma=0.98, lam=0.8, entropy_beta=0.0,
    anneal_lr=True, anneal_clip=True, total_steps=STEPS, seed=0,
)
buffer = rl.Buffer(agent.rollout_size)
result = rl.run(env, agent, buffer, update_every=agent.rollout_size, max_steps=STEPS, max_episodes=None,
                eval_every=40, eval_max_episodes=5, seed=0)

print(f"{agent.actor!r}: {sum(p.value.size for p in agent.actor.params)} parameters")
print(f"{result.total_steps} steps, {result.episodes} episodes, {len(result.losses)} updates in "
      f"{result.wall_time:.1f} s")
kl = np.mean([m["approx_kl"] for m in result.losses])
clipped = np.mean([m["clip_fraction"] for m in result.losses])
print(f"mean over the updates: approx_kl {kl:.4f}, clip fraction {clipped:.3f}")
if result.eval_returns:
    print(f"greedy evaluation: {result.eval_returns[-1][1]:.1f} after {result.eval_returns[-1][0]} steps")

# %%
# The trained actor is an ordinary network: its greedy action for a batch of states is one compiled call.

states = np.zeros((3, 4), np.float32)
print("greedy actions for three upright poles:", agent.act(states, deterministic=True))

# %%
# Learning curve
# --------------

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
ax.plot(result.episode_steps, result.episode_returns, ".", alpha=0.3, label="training episodes")
if result.eval_returns:
    steps, returns = zip(*result.eval_returns, strict=True)
    ax.plot(steps, returns, "o-", label="greedy evaluation (5 episodes)")
ax.axhline(500, color="k", linestyle="--", linewidth=1, label="maximum return")
ax.set_xlabel("environment steps")
ax.set_ylabel("episode return")
ax.set_title("PPO with custom networks on CartPole-v1")
ax.legend(loc="lower right")
plt.show()
