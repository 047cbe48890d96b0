"""The wheel bandit of Riquelme, Tucker & Snoek (2018, "Deep Bayesian Bandits Showdown", section 5.4)."""

import math

import numpy as np

from symgraph.rl.bandits._common import (
    MAX_SIZE,
    RandomStream,
    as_floats,
    check_action,
    check_count,
    check_real,
    make_rng,
)

__all__ = ["WheelBandit"]


def _five(values, name):
    """The five per-arm values of ``values`` (a number or five numbers), as floats."""
    array = as_floats(values, name)
    if array.shape not in ((), (1,), (5,)) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be one finite number or five (one per arm), got {values!r}")
    return [float(v) for v in np.broadcast_to(array, (5,))]


class WheelBandit:
    r"""Synthetic contextual bandit whose hard part grows with ``delta``: 2-D contexts, 5 arms.

    Each context :math:`x` is uniform on the unit disk. Arm 0 always pays :math:`N(1.2, 0.01^2)`. Inside the
    radius, :math:`\lVert x \rVert < \delta`, arms 1-4 pay :math:`N(1.0, 0.01^2)`, so arm 0 is best.
    Outside, the arm of :math:`x`'s quadrant pays :math:`N(50, 0.01^2)` and the three others
    :math:`N(1.0, 0.01^2)`:

    ============================  ===
    quadrant                      arm
    ============================  ===
    :math:`x_1 > 0, x_2 > 0`      1
    :math:`x_1 > 0, x_2 \le 0`    2
    :math:`x_1 \le 0, x_2 > 0`    3
    :math:`x_1 \le 0, x_2 \le 0`  4
    ============================  ===

    (the paper's code numbers the quadrant arms 0-3 and the safe arm 4). The fraction of contexts outside
    is :math:`1 - \delta^2`; with a large ``delta`` the lucrative region is rare and exploration is hard.
    Regret is expected regret, from the means.

    Args:
        delta: inner radius in [0, 1].
        mean_v: mean reward of arms 0..4 inside the radius (and of the non-quadrant arms outside).
        std_v: noise standard deviation of those rewards.
        mu_large: mean reward of the quadrant arm outside the radius.
        std_large: its noise standard deviation.
        seed: None, int, ``numpy.random.SeedSequence`` or ``numpy.random.Generator``.
        block: contexts drawn at once (a speed knob; the sequence depends on it).
    """

    n_actions = 5
    context_dim = 2

    def __init__(self, delta=0.5, mean_v=(1.2, 1.0, 1.0, 1.0, 1.0), std_v=0.01, mu_large=50.0,
                 std_large=0.01, seed=None, block=1024):
        if not 0.0 <= check_real(delta, "delta") <= 1.0:
            raise ValueError(f"delta must lie in [0, 1] (the inner radius of the unit disk), got {delta!r}")
        mean_v, std_v = _five(mean_v, "mean_v"), _five(std_v, "std_v")
        mu_large = check_real(mu_large, "mu_large", finite=True)
        if min(std_v) < 0 or check_real(std_large, "std_large", finite=True) < 0:
            raise ValueError(f"noise standard deviations must be >= 0, got std_v={std_v}, "
                             f"std_large={std_large}")
        self.delta = float(delta)
        self.mean_v = tuple(mean_v)
        self.std_v = tuple(std_v)
        self.mu_large = float(mu_large)
        self.std_large = float(std_large)
        self.rng = make_rng(seed, type(self).__name__)
        self._normal = RandomStream(self.rng, "normal")
        self._block = check_count(block, "block", maximum=MAX_SIZE)
        self._contexts = np.zeros((0, 2), dtype=np.float32)
        self._coordinates = []
        self._position = 0
        self._means = list(mean_v)
        self._large_arm = None
        self.reset()

    @property
    def arms(self):
        """int: number of arms (5)."""
        return self.n_actions

    @staticmethod
    def quadrant_arm(x1, x2):
        """The arm that pays ``mu_large`` outside the radius at the point ``(x1, x2)``."""
        if x1 > 0:
            return 1 if x2 > 0 else 2
        return 3 if x2 > 0 else 4

    def _refill(self):
        """A block of contexts uniform on the unit disk (radius sqrt(U), angle 2 pi V)."""
        radius = np.sqrt(self.rng.random(self._block))
        angle = 2 * np.pi * self.rng.random(self._block)
        contexts = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
        contexts.flags.writeable = False
        self._contexts = contexts
        self._coordinates = contexts.astype(np.float64).tolist()
        self._position = 0

    def _next_context(self):
        if self._position == len(self._coordinates):
            self._refill()
        x1, x2 = self._coordinates[self._position]
        self._means = list(self.mean_v)
        self._large_arm = None
        if math.hypot(x1, x2) >= self.delta:
            self._large_arm = self.quadrant_arm(x1, x2)
            self._means[self._large_arm] = self.mu_large
        context = self._contexts[self._position]
        self._position += 1
        return context

    def reset(self):
        """Draw a new context."""
        self._context = self._next_context()
        return self._context

    def step(self, action):
        """Reward of ``action`` for the current context, then a new context: ``(next_context, reward)``.

        Raises:
            ValueError: if ``action`` is not an integer in 0..4.
        """
        a = check_action(action, 5, "WheelBandit")
        std = self.std_large if a == self._large_arm else self.std_v[a]
        reward = self._means[a] + std * self._normal()
        self._context = self._next_context()
        return self._context, reward

    def expected_rewards(self):
        """numpy.ndarray: mean reward of every arm for the current context."""
        return np.array(self._means, dtype=np.float64)

    def regret(self, action):
        """Expected regret of ``action`` for the current context."""
        a = check_action(action, 5, "WheelBandit")
        return max(self._means) - self._means[a]

    def optimal_action(self):
        """int: the best arm for the current context."""
        return self._means.index(max(self._means))

    def __repr__(self):
        return f"WheelBandit(delta={self.delta})"
