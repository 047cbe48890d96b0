"""
Contextual bandits on the Wheel
===============================

The Wheel bandit (Riquelme, Tucker & Snoek 2018, "Deep Bayesian Bandits Showdown", section 5.4) shows a
point :math:`x` drawn uniformly on the unit disk before each pull. Arm 0 pays about 1.2 everywhere; inside
the radius :math:`\\delta` the four other arms pay about 1.0, so arm 0 is best there; outside it, the arm of
:math:`x`'s quadrant pays about 50. An agent has to find the radius and the quadrants from its own pulls, and
the larger :math:`\\delta`, the rarer the lucrative points and the harder the exploration.

The agents of :mod:`symgraph.rl.bandits` compared here, all driven by
:class:`~symgraph.rl.bandits.DCBTrainer`:

- :class:`~symgraph.rl.bandits.LinearPosterior`: Thompson sampling with an exact Bayesian linear regression
  per arm, on the raw context (a linear model can only approximate the wheel's regions);
- :class:`~symgraph.rl.bandits.NeuralLinearPosterior`: the same posterior on the last hidden layer of a
  network trained on all the data (the paper's best all-rounder);
- :class:`~symgraph.rl.bandits.NeuralGreedy`: the greedy arm of one network (no exploration of its own);
- :class:`~symgraph.rl.bandits.Uniform`: a random arm, the baseline the paper normalises regret by.

:class:`~symgraph.rl.bandits.Bootstrap`, :class:`~symgraph.rl.bandits.NeuralNoiseSampling` and
:class:`~symgraph.rl.bandits.Variational` plug into the same loop.

The networks train every 50 pulls, 100 gradient steps on minibatches of 512, as in the paper's code.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) makes 5,000 pulls over 3 seeds
(about a minute on a laptop CPU), ``small`` 300 pulls with one seed.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from symgraph.rl.bandits import (
    DCBTrainer,
    LinearPosterior,
    NeuralGreedy,
    NeuralLinearPosterior,
    Uniform,
    WheelBandit,
)

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
PULLS, SEEDS = (300, 1) if BUDGET == "small" else (5_000, 3)
DELTA = 0.7
SCHEDULE = dict(update_interval=50, update_after=50, batch_size=512, train_epochs=100)

# %%
# The runs
# --------
# Each agent is built for its bandit (it reads ``n_actions`` and ``context_dim`` from it), and every agent
# meets the same sequence of contexts for a given seed. ``cumulative_regret`` sums the *expected* regret
# of each pull, computed from the arms' true means, so it carries no reward noise.

agents = {
    "LinearPosterior": LinearPosterior,
    "NeuralLinearPosterior": NeuralLinearPosterior,
    "NeuralGreedy": NeuralGreedy,
    "Uniform": Uniform,
}
regret = {name: [] for name in agents}
trained = {}
for seed in range(SEEDS):
    for name, make in agents.items():
        bandit = WheelBandit(delta=DELTA, seed=seed)
        agent = make(bandit, seed=seed)
        result = DCBTrainer(agent, bandit, progress=False).train(PULLS, **SCHEDULE)
        regret[name].append(result.cumulative_regret)
        trained[name] = agent

uniform_final = np.mean([curve[-1] for curve in regret["Uniform"]])
for name, curves in regret.items():
    final = np.array([curve[-1] for curve in curves])
    print(f"{name:<22} cumulative regret {final.mean():8.1f}, normalised {100 * final.mean() / uniform_final:6.1f} "
          f"(Uniform = 100)")

# %%
# What NeuralLinear learned
# -------------------------
# The arm with the highest posterior mean reward at each point of the disk (``agent.predict``), for the
# agent of the last seed, with the true regions drawn in black: arm 0 inside the circle, one arm per
# quadrant outside it. Outside, the quadrant arms pay 50 and the agent finds them; inside, the arms differ
# by 0.2 only (1.2 against 1.0), so small errors in the estimates flip the arg-max there, at little cost.

agent = trained["NeuralLinearPosterior"]
grid = np.linspace(-1.0, 1.0, 61, dtype=np.float32)
best_arm = np.full((len(grid), len(grid)), np.nan)
for i, x2 in enumerate(grid):
    for j, x1 in enumerate(grid):
        if x1 ** 2 + x2 ** 2 <= 1.0:
            best_arm[i, j] = np.argmax(agent.predict(np.array([x1, x2], np.float32)))

# %%
# Regret curves and the learned decision map
# ------------------------------------------

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
pulls = np.arange(1, PULLS + 1)
for name, curves in regret.items():
    left.plot(pulls, np.mean(curves, axis=0), label=name)
left.set_yscale("log")
left.set_ylim(bottom=1.0)
left.set_xlabel("pulls")
left.set_ylabel("cumulative expected regret")
left.set_title(f"Wheel bandit, delta = {DELTA}, mean over {SEEDS} seed(s)")
left.legend(loc="lower right")
arm_colors = ListedColormap(plt.get_cmap("tab10").colors[:5])
image = right.imshow(best_arm, origin="lower", extent=(-1, 1, -1, 1), cmap=arm_colors, vmin=-0.5, vmax=4.5,
                     interpolation="nearest")
angle = np.linspace(0, 2 * np.pi, 200)
right.plot(DELTA * np.cos(angle), DELTA * np.sin(angle), "k-")
right.plot([0, 0], [-1, 1], "k-", linewidth=0.8)
right.plot([-1, 1], [0, 0], "k-", linewidth=0.8)
right.set_xlabel("context $x_1$")
right.set_ylabel("context $x_2$")
right.set_title("NeuralLinear's best arm by posterior mean")
colorbar = fig.colorbar(image, ax=right, ticks=range(5))
colorbar.set_label("arm")
plt.show()
