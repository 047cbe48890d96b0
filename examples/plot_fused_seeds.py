"""
Many seeds of PPO in one compiled program
=========================================

:func:`symgraph.rl.train` trains a learner on a JAX-native environment (gymnax) with the whole loop, rollouts,
advantages, epochs and minibatches, compiled into one program, and trains several seeds at once with
``jax.vmap``. Here PPO learns gymnax's CartPole-v1 with PureJaxRL's public settings (4 envs, 128 steps, 4
epochs of 4 minibatches, lr 2.5e-4 annealed, GAE 0.95, clip 0.2) on 8 seeds, and the learning curve is drawn
as the mean over seeds with a 95% bootstrap confidence interval.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET``: ``full`` (the default) trains 8 seeds for 5e5 steps each
(976 updates, as PureJaxRL floors 5e5); ``small`` trains 4 seeds for 5e4 steps.
"""

import os

import gymnax
import matplotlib.pyplot as plt
import numpy as np

from symgraph import rl
from symgraph.rl.plotting import plot_mean_band

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
SEEDS, UPDATES = (4, 97) if BUDGET == "small" else (8, 976)
TOTAL_STEPS = UPDATES * 4 * 128

# %%
# The environment and the learner
# --------------------------------
# ``gymnax.make`` returns the environment and its parameters; the pair is accepted wherever an environment
# is, so ``from_env`` reads its spaces. ``n_envs`` is the number of parallel copies each seed steps.

env = gymnax.make("CartPole-v1")
learner = rl.PPO.from_env(env, n_envs=4, n_steps=128, batch_size=128, K_epochs=4, lr=2.5e-4, gamma=0.99, lam=0.95,
                          eps_clip=0.2, entropy_beta=0.01, vf_coef=0.5, clip_vf=0.2, max_grad_norm=0.5,
                          anneal_lr=True, total_steps=TOTAL_STEPS, seed=0)

# %%
# Training every seed at once
# ---------------------------
# Seed ``s`` starts from the parameters the learner's initializers draw with seed ``s`` (seed 0, the
# learner's own, from the parameters it was created with). The result holds each iteration's metrics per
# seed; the first seed's final state is written back into the learner.

result = rl.train(env, learner, TOTAL_STEPS, seeds=SEEDS, progress=False)
print(f"{SEEDS} seeds x {TOTAL_STEPS} steps in {result.seconds:.1f} s ({result.steps_per_second:,.0f} env steps/s, "
      f"compiled in {result.compile_seconds:.1f} s)")
print("final greedy return per seed:", np.round(result.final_returns, 1))

# %%
# The learning curve
# ------------------
# ``episode_returns`` is ``(seeds, iterations)``: the mean return of the training episodes that ended in each
# iteration. :func:`~symgraph.rl.plotting.plot_mean_band` draws their mean over seeds and a bootstrap
# confidence interval of that mean.

fig, ax = plt.subplots(figsize=(7, 4))
plot_mean_band(ax, result.steps, result.episode_returns, "PPO (fused, gymnax CartPole-v1)", band="ci")
ax.set_xlabel("environment steps per seed")
ax.set_ylabel("training episode return")
ax.axhline(500, color="grey", linestyle=":", linewidth=1)
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
