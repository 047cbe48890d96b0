"""
FrozenLake: Dyna-Q against Q-learning
=====================================

Tabular agents of :mod:`symgraph.rl.tabular` on gymnasium's ``FrozenLake-v1`` (4x4, slippery: a move goes
sideways two times out of three; 100-step time limit). Q-learning learns from each real step once. Dyna-Q
(Sutton 1990) also records every real transition in a model of the environment and replays ten simulated
transitions from it after each real step, so it needs far fewer real episodes to find a good policy.

Both are scored the same way: every 25 episodes their greedy policy is evaluated *exactly* on the
environment's known transition model (no evaluation noise), and compared with the optimal policy found by
value iteration, which reaches the goal with probability 0.7402.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) trains for 3,000 episodes over 5
seeds, ``small`` for 500 episodes over 2 seeds.
"""

import os

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np

from symgraph.rl.tabular import DynaQ, LinearDecay, QLearning, Trainer, ValueIteration

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
EPISODES, SEEDS = (500, 2) if BUDGET == "small" else (3_000, 5)
EVERY = 25

env = gym.make("FrozenLake-v1")

# %%
# The optimum, by value iteration
# -------------------------------
# Value iteration solves the known model (``env.unwrapped.P``); a trainer scores its greedy policy exactly.

planner = ValueIteration(env, gamma=0.99, tol=1e-10).solve()
optimum = Trainer(planner, env, evaluation="exact", progress=False).evaluate(exact=True)["success_rate"]
print(f"value iteration: success probability {optimum:.4f}")

# %%
# Learning from experience
# ------------------------
# Exploration decays linearly from 1 to 0.01 over 2,000 episodes (over the whole run at the small budget).


def learning_curve(make_agent, seed):
    trainer = Trainer(make_agent(seed), env, n_episodes=EPISODES, evaluate_frequency=EVERY,
                      evaluation="exact", seed=seed, progress=False)
    trainer.train()
    return np.array([e["success_rate"] for e in trainer.evaluations]), trainer.train_seconds


schedule = LinearDecay(1.0, 0.01, min(2_000, EPISODES))
agents = {
    "Q-learning": lambda seed: QLearning(env, epsilon=schedule, gamma=0.99, lr=0.1, seed=seed),
    "Dyna-Q (10 planning steps)": lambda seed: DynaQ(env, epsilon=schedule, gamma=0.99, lr=0.1,
                                                     planning_steps=10, seed=seed),
}
curves = {}
for name, make_agent in agents.items():
    runs = [learning_curve(make_agent, seed) for seed in range(SEEDS)]
    curves[name] = np.stack([success for success, _ in runs])
    seconds = np.mean([s for _, s in runs])
    print(f"{name}: final greedy success {curves[name][:, -1].mean():.3f} (mean over {SEEDS} seeds), "
          f"{seconds:.2f} s per run of {EPISODES} episodes")

# %%
# Success of the greedy policy
# ----------------------------

episodes = np.arange(1, EPISODES // EVERY + 1) * EVERY
fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
for name, success in curves.items():
    mean = success.mean(axis=0)
    (line,) = ax.plot(episodes, mean, label=name)
    ax.fill_between(episodes, success.min(axis=0), success.max(axis=0), color=line.get_color(), alpha=0.2,
                    linewidth=0)
ax.axhline(optimum, color="k", linestyle="--", label=f"optimal policy ({optimum:.4f})")
ax.set_xlabel("real training episodes")
ax.set_ylabel("success probability of the greedy policy")
ax.set_ylim(0.0, 0.8)
ax.set_title(f"FrozenLake-v1 4x4, mean and range over {SEEDS} seeds")
ax.legend(loc="center right")
plt.show()
