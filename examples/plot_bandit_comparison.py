"""
Comparing multi-armed bandit agents
===================================

Five agents of :mod:`symgraph.rl.bandits` face the same two-armed Bernoulli bandit, whose arms pay 1 with
probability 0.9 and 0.8. The measure is the cumulative *expected* regret: after each pull, the difference
between the best arm's mean and the pulled arm's mean, summed over pulls. A good agent's regret grows like
the logarithm of the number of pulls; Lai and Robbins (1985) showed that no agent can do better than
:math:`\\sum_a \\Delta_a \\ln T / \\mathrm{KL}(p_a, p^*)` asymptotically, which Thompson sampling attains.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) runs 100,000 pulls over 5 seeds,
the setting of the benchmark page; ``small`` runs 5,000 pulls over 3 seeds.
"""

import functools
import math
import os

import matplotlib.pyplot as plt
import numpy as np

from symgraph.rl.bandits import (
    UCB1,
    BayesianUCB,
    BernoulliMAB,
    EpsilonGreedy,
    GradientBandit,
    ThompsonSampling,
    compare_agents,
)

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
PULLS, SEEDS = (5_000, 3) if BUDGET == "small" else (100_000, 5)
PROBS = [0.9, 0.8]

# %%
# The agents and the runs
# -----------------------
# :func:`~symgraph.rl.bandits.compare_agents` takes agent factories (an agent class, or a
# ``functools.partial`` with its settings) and a bandit factory, and runs every agent on fresh bandits for
# each seed, so all agents meet the same bandits.

agents = {
    "epsilon-greedy (0.1)": functools.partial(EpsilonGreedy, epsilon=0.1),
    "gradient bandit": GradientBandit,
    "UCB1": UCB1,
    "Bayes-UCB": BayesianUCB,
    "Thompson sampling": ThompsonSampling,
}
summaries = compare_agents(agents, lambda seed: BernoulliMAB(reward_probs=PROBS, seed=seed), PULLS,
                           seeds=SEEDS)

for name, summary in summaries.items():
    print(f"{name:<22} cumulative regret after {PULLS} pulls: {summary.final_mean:7.1f} "
          f"+- {summary.final_std:5.1f} (std over {SEEDS} seeds)")

# %%
# The asymptotic lower bound
# --------------------------
# For Bernoulli arms the Kullback-Leibler divergence between the suboptimal arm and the best one sets the
# constant in front of :math:`\ln T`.


def bernoulli_kl(p, q):
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


best = max(PROBS)
lai_robbins = sum((best - p) / bernoulli_kl(p, best) for p in PROBS if p < best)
print(f"Lai-Robbins constant: {lai_robbins:.2f}, so about {lai_robbins * math.log(PULLS):.1f} "
      f"regret after {PULLS} pulls")

# %%
# Regret curves
# -------------
# Mean over seeds with a band of one standard deviation, on a logarithmic pull axis where logarithmic regret
# is a straight line. (:func:`~symgraph.rl.bandits.plot_regret` draws the same kind of figure and saves it
# to a file.)

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
t = np.arange(1, PULLS + 1)
for name, summary in summaries.items():
    (line,) = ax.plot(t, summary.mean, label=name)
    ax.fill_between(t, summary.mean - summary.std, summary.mean + summary.std, color=line.get_color(),
                    alpha=0.2, linewidth=0)
ax.plot(t, lai_robbins * np.log(t), "k--", label="Lai-Robbins rate")
ax.set_xscale("log")
ax.set_xlabel("pulls")
ax.set_ylabel("cumulative expected regret")
ax.set_title(f"Bernoulli bandit {PROBS}, {SEEDS} seeds")
ax.legend(loc="upper left")
plt.show()
