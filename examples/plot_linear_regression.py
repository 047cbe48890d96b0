"""
Linear regression in twenty lines
=================================

The engine's basics on the smallest model there is: declare the inputs (placeholders) and the parameters
(variables), write the loss as an expression, ask for its gradients, and compile one training step whose
updates change the parameters in place. Then fit a line to noisy data and plot it.

The budget comes from ``SYMGRAPH_EXAMPLE_BUDGET`` (``small`` or ``full``, the default).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import symgraph as sg
import symgraph.tensor as T

BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
STEPS = 50 if BUDGET == "small" else 200

# %%
# The model and its training step
# -------------------------------
# ``None`` in a placeholder's shape means "any size at call time": here the number of points.

x = sg.Placeholder((None,), "float32", name="x")
y = sg.Placeholder((None,), "float32", name="y")
slope = sg.Variable(0.0, name="slope")
intercept = sg.Variable(0.0, name="intercept")

prediction = slope * x + intercept
loss = T.mean((prediction - y) ** 2)
g_slope, g_intercept = sg.gradients(loss, [slope, intercept])
train = sg.function(x, y, outputs=loss,
                    updates={slope: slope - 0.1 * g_slope, intercept: intercept - 0.1 * g_intercept})
predict = sg.function(x, outputs=prediction)

# %%
# Fitting noisy data
# ------------------
# Each call runs one compiled step (``jax.jit`` compiled it on the first call) and writes the new values of
# ``slope`` and ``intercept`` back.

rng = np.random.default_rng(0)
data_x = rng.uniform(-2.0, 2.0, size=200).astype("float32")
data_y = (1.5 * data_x - 0.7 + rng.normal(scale=0.4, size=200)).astype("float32")

losses = [train(data_x, data_y) for _ in range(STEPS)]
print(f"after {STEPS} steps: loss {losses[-1]:.4f}, slope {slope.value:.3f}, "
      f"intercept {intercept.value:.3f} (data made with 1.5 and -0.7)")

# %%
# The fitted line and the learning curve
# --------------------------------------

grid = np.linspace(-2.0, 2.0, 50, dtype="float32")
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
left.scatter(data_x, data_y, s=8, alpha=0.5, label="data")
left.plot(grid, predict(grid), color="tab:red", label="fitted line")
left.set_xlabel("x")
left.set_ylabel("y")
left.legend()
right.plot(losses)
right.set_yscale("log")
right.set_xlabel("training step")
right.set_ylabel("mean squared error")
plt.show()
