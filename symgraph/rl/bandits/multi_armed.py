"""Multi-armed bandit environments: Bernoulli and Gaussian arms, one or several bandits.

With several bandits, one of them is drawn uniformly at random before every pull and the context says which:
a one-hot float32 vector of length ``bandits`` (``context_type="tensor"``) or its index
(``context_type="int"``). Each bandit has its own arms.

Protocol shared by every bandit of :mod:`symgraph.rl.bandits`::

    context = bandit.reset()
    regret = bandit.regret(action)          # expected regret q*(context) - q(context, action), before step
    context, reward = bandit.step(action)   # sampled reward, next context

The regret is the *expected* one, computed from the true means, not from the sampled reward.
"""

import numpy as np

from symgraph.rl.bandits._common import MAX_SIZE, RandomStream, as_floats, check_action, check_count, make_rng

__all__ = ["MultiArmedBandit", "BernoulliMAB", "GaussianMAB"]


class MultiArmedBandit:
    """Base of the multi-armed bandits: a ``(bandits, arms)`` table of arm means and a sampler.

    Subclasses set ``self._means`` (float64 array ``(bandits, arms)``) and implement ``_sample(b, a)``.

    Args:
        bandits: number of bandits; the active one is drawn uniformly before each pull.
        arms: number of arms of each bandit.
        context_type: ``"tensor"`` for a one-hot float32 context of length ``bandits``, ``"int"`` for the
            index of the active bandit.
        seed: None, int, ``numpy.random.SeedSequence`` or ``numpy.random.Generator``.
    """

    def __init__(self, bandits, arms, context_type="tensor", seed=None):
        self._bandits = check_count(bandits, "bandits", maximum=MAX_SIZE)
        self._arms = check_count(arms, "arms", maximum=MAX_SIZE)
        if self._bandits * self._arms > MAX_SIZE:
            raise ValueError(f"bandits x arms must be at most {MAX_SIZE} (one statistic per arm of each bandit), "
                             f"got bandits={bandits}, arms={arms}")
        if not isinstance(context_type, str) or context_type not in ("tensor", "int"):
            raise ValueError(f"context_type must be 'tensor' (one-hot vector) or 'int' (bandit index), "
                             f"got {context_type!r}")
        self.context_type = context_type
        self.rng = make_rng(seed, type(self).__name__)
        self._uniform = RandomStream(self.rng, "uniform")
        onehots = np.eye(self._bandits, dtype=np.float32)
        onehots.flags.writeable = False
        # one read-only row per bandit: returning it allocates nothing
        self._onehots = list(onehots)
        self._active = 0

    def _finish_setup(self, means):
        """Store the means table (and the Python copies the per-step code reads), then draw a bandit."""
        means = np.array(means, dtype=np.float64)
        means.flags.writeable = False
        self._means = means
        self._means_list = means.tolist()
        best = means.max(axis=1)
        self._best_list = best.tolist()
        self._active = self._draw_bandit()

    # -- sizes ---------------------------------------------------------------------------------------
    @property
    def bandits(self):
        """int: number of bandits."""
        return self._bandits

    @property
    def arms(self):
        """int: number of arms of each bandit."""
        return self._arms

    @property
    def n_actions(self):
        """int: number of actions (= ``arms``)."""
        return self._arms

    @property
    def context_dim(self):
        """int: length of a ``"tensor"`` context (= ``bandits``)."""
        return self._bandits

    @property
    def expected_rewards_table(self):
        """numpy.ndarray: ``(bandits, arms)`` true mean reward of every arm (read-only)."""
        return self._means

    @property
    def active_bandit(self):
        """int: index of the bandit the current context points to."""
        return self._active

    # -- protocol --------------------------------------------------------------------------------------
    def _draw_bandit(self):
        if self._bandits == 1:
            return 0
        return int(self._uniform() * self._bandits)

    def _context(self):
        if self.context_type == "int":
            return self._active
        return self._onehots[self._active]

    def reset(self):
        """Draw the active bandit and return its context."""
        self._active = self._draw_bandit()
        return self._context()

    def step(self, action):
        """Pull ``action`` on the active bandit: returns ``(next_context, reward)``.

        Raises:
            ValueError: if ``action`` is not an integer in ``[0, arms)``.
        """
        a = check_action(action, self._arms, type(self).__name__)
        reward = self._sample(self._active, a)
        self._active = self._draw_bandit()
        return self._context(), reward

    def expected_rewards(self):
        """numpy.ndarray: true mean reward of every arm of the active bandit."""
        return self._means[self._active].copy()

    def regret(self, action):
        """Expected regret ``q* - q(action)`` of ``action`` on the active bandit (call it before ``step``)."""
        a = check_action(action, self._arms, type(self).__name__)
        b = self._active
        return self._best_list[b] - self._means_list[b][a]

    def optimal_action(self):
        """int: the arm with the highest mean on the active bandit (the lowest index on ties)."""
        return int(self._means[self._active].argmax())

    def _sample(self, bandit, action):
        raise NotImplementedError

    def __repr__(self):
        return (f"{type(self).__name__}(bandits={self._bandits}, arms={self._arms}, "
                f"context_type={self.context_type!r})")


def _table(values, bandits, arms, default_bandits, default_arms, name):
    """``values`` as a ``(bandits, arms)`` float64 table: its shape defines the sizes.

    A 1-D table is one bandit. ``bandits``/``arms`` that are not their defaults must agree with the shape.
    """
    table = as_floats(values, name)
    if table.ndim == 1:
        table = table[None, :]
    if table.ndim != 2 or table.shape[1] == 0:
        raise ValueError(f"{name} must have shape (arms,) or (bandits, arms), got shape {np.shape(values)}")
    b, k = table.shape
    if bandits not in (b, default_bandits) or arms not in (k, default_arms):
        raise ValueError(f"{name} has shape {np.shape(values)} (bandits={b}, arms={k}), which contradicts "
                         f"bandits={bandits}, arms={arms}; leave those out or make them agree")
    if not np.all(np.isfinite(table)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return table


class BernoulliMAB(MultiArmedBandit):
    """Bernoulli arms: arm ``a`` of bandit ``b`` pays 1 with probability ``reward_probs[b, a]``, else 0.

    Args:
        bandits: number of bandits (ignored when ``reward_probs`` gives a shape).
        arms: number of arms (ignored when ``reward_probs`` gives a shape).
        reward_probs: probabilities in [0, 1], shape ``(arms,)`` (one bandit) or ``(bandits, arms)``; drawn
            uniformly in [0, 1) from the seed when None.
        context_type: ``"tensor"`` (one-hot, float32) or ``"int"``.
        seed: None, int, SeedSequence or Generator.

    Example:
        >>> bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
        >>> context = bandit.reset()
        >>> round(bandit.regret(1), 6)   # expected regret: 0.9 - 0.8
        0.1
    """

    def __init__(self, bandits=1, arms=5, reward_probs=None, context_type="tensor", seed=None):
        if reward_probs is not None:
            probs = _table(reward_probs, bandits, arms, 1, 5, "reward_probs")
            bandits, arms = probs.shape
        super().__init__(bandits, arms, context_type, seed)
        if reward_probs is None:
            probs = self.rng.random((self._bandits, self._arms))
        if np.any(probs < 0) or np.any(probs > 1):
            raise ValueError(f"reward_probs must lie in [0, 1], got {np.asarray(reward_probs)!r}")
        self._finish_setup(probs)

    @property
    def reward_probs(self):
        """numpy.ndarray: ``(bandits, arms)`` probability that each arm pays 1 (read-only)."""
        return self._means

    def _sample(self, bandit, action):
        return 1.0 if self._uniform() < self._means_list[bandit][action] else 0.0


class GaussianMAB(MultiArmedBandit):
    """Gaussian arms: arm ``a`` of bandit ``b`` pays ``N(reward_means[b, a], reward_std[b, a]**2)``.

    Args:
        bandits: number of bandits (ignored when ``reward_means`` gives a shape).
        arms: number of arms (ignored when ``reward_means`` gives a shape).
        reward_means: shape ``(arms,)`` or ``(bandits, arms)``; drawn from N(0, 1) when None (the 10-armed
            testbed of Sutton & Barto, 2018, section 2.3).
        reward_std: noise standard deviation, a scalar or an array broadcastable to ``(bandits, arms)``.
        context_type: ``"tensor"`` (one-hot, float32) or ``"int"``.
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandits=10, arms=5, reward_means=None, reward_std=1.0, context_type="tensor",
                 seed=None):
        if reward_means is not None:
            means = _table(reward_means, bandits, arms, 10, 5, "reward_means")
            bandits, arms = means.shape
        super().__init__(bandits, arms, context_type, seed)
        if reward_means is None:
            means = self.rng.standard_normal((self._bandits, self._arms))
        try:
            std = np.broadcast_to(as_floats(reward_std, "reward_std"), means.shape).copy()
        except ValueError:
            raise ValueError(f"reward_std must be a scalar or broadcast to (bandits, arms) = {means.shape}, "
                             f"got shape {np.shape(reward_std)}") from None
        if not np.all(np.isfinite(std)) or np.any(std < 0):
            raise ValueError(f"reward_std must be finite and >= 0, got {reward_std!r}")
        std.flags.writeable = False
        self._normal = RandomStream(self.rng, "normal")
        self._std = std
        self._std_list = std.tolist()
        self._finish_setup(means)

    @property
    def reward_means(self):
        """numpy.ndarray: ``(bandits, arms)`` mean reward of each arm (read-only)."""
        return self._means

    @property
    def reward_std(self):
        """numpy.ndarray: ``(bandits, arms)`` noise standard deviation of each arm (read-only)."""
        return self._std

    def _sample(self, bandit, action):
        return self._means_list[bandit][action] + self._std_list[bandit][action] * self._normal()
