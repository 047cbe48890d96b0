r"""Contextual bandit agents: the shared protocol, the transition database, the Bayesian linear posterior,
and the agents that need no network (LinearPosterior, Fixed, Uniform).

Every contextual agent follows one protocol, driven by :class:`~symgraph.rl.bandits.DCBTrainer`::

    action = agent.select_action(context)           # context: a (context_dim,) vector
    agent.update_db(context, action, reward)        # store the transition
    agent.update_params(action=None, batch_size=64, train_epochs=20)   # learn from the stored data

For the first ``init_pulls * n_actions`` transitions an agent pulls the arms round robin (Riquelme, Tucker &
Snoek, 2018, "Deep Bayesian Bandits Showdown", ``initial_pulls``); the count is the number of transitions
stored, so ``select_action`` alone never advances it. Randomness comes from a seeded
``numpy.random.Generator`` (``seed=``).

The Bayesian linear model (:class:`NIGPosterior`) is the one of Riquelme et al.'s ``LinFullPost`` and
``NeuralLinear``: per arm :math:`k`, :math:`r = \beta_k^\top z + \varepsilon`,
:math:`\varepsilon \sim N(0, \sigma_k^2)`, with the conjugate Normal-Inverse-Gamma prior

.. math:: \sigma_k^2 \sim \mathrm{IG}(a_0, b_0), \qquad
          \beta_k \mid \sigma_k^2 \sim N\big(0, \tfrac{\sigma_k^2}{\lambda} I\big),

whose posterior after the :math:`n` observations :math:`(Z, y)` of the arm is exact:

.. math:: \Lambda_n = Z^\top Z + \lambda I, \quad \mu_n = \Lambda_n^{-1} Z^\top y, \quad
          a_n = a_0 + \tfrac{n}{2}, \quad b_n = b_0 + \tfrac12\big(y^\top y - \mu_n^\top \Lambda_n \mu_n\big),

.. math:: \sigma_k^2 \mid D \sim \mathrm{IG}(a_n, b_n), \qquad
          \beta_k \mid \sigma_k^2, D \sim N\big(\mu_n, \sigma_k^2 \Lambda_n^{-1}\big).

Thompson sampling draws :math:`(\sigma_k^2, \beta_k)` for every arm and pulls :math:`\arg\max_k \beta_k^\top z`.
"""

import math
import numbers

import numpy as np

from symgraph.rl.bandits._common import (
    MAX_SIZE,
    ShapeError,
    as_floats,
    check_action,
    check_count,
    check_reward,
    make_rng,
)

__all__ = ["DCBAgent", "TransitionDB", "NIGPosterior", "LinearPosterior", "Fixed", "Uniform",
           "LinearPosteriorAgent", "FixedAgent", "UniformAgent"]


def _positive(value, name, owner):
    """``value`` as a float > 0, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


class TransitionDB:
    """The transitions an agent has seen: contexts ``(n, context_dim)`` float32, actions int64, rewards
    float64, in arrival order, in arrays that grow by doubling (amortised O(1) per ``add``).

    Args:
        context_dim: length of a context.
        capacity: initial room (rows).
    """

    def __init__(self, context_dim, capacity=1024):
        self.context_dim = check_count(context_dim, "context_dim", maximum=MAX_SIZE)
        capacity = check_count(capacity, "capacity", maximum=MAX_SIZE)
        self._contexts = np.zeros((capacity, self.context_dim), dtype=np.float32)
        self._actions = np.zeros(capacity, dtype=np.int64)
        self._rewards = np.zeros(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self):
        return self._n

    def add(self, context, action, reward):
        """Append one transition (``context`` already checked)."""
        n = self._n
        if n == len(self._actions):
            self._contexts = np.concatenate([self._contexts, np.zeros_like(self._contexts)])
            self._actions = np.concatenate([self._actions, np.zeros_like(self._actions)])
            self._rewards = np.concatenate([self._rewards, np.zeros_like(self._rewards)])
        self._contexts[n] = context
        self._actions[n] = action
        self._rewards[n] = reward
        self._n = n + 1

    @property
    def contexts(self):
        """numpy.ndarray: ``(n, context_dim)`` float32 contexts (a view; do not modify)."""
        return self._contexts[:self._n]

    @property
    def actions(self):
        """numpy.ndarray: ``(n,)`` int64 actions (a view)."""
        return self._actions[:self._n]

    @property
    def rewards(self):
        """numpy.ndarray: ``(n,)`` float64 rewards (a view)."""
        return self._rewards[:self._n]

    def of_action(self, action):
        """``(contexts, rewards)`` of the transitions where ``action`` was pulled."""
        mask = self.actions == action
        return self.contexts[mask], self.rewards[mask]

    def sample_indices(self, rng, shape, subset=None):
        """Indices drawn uniformly with replacement, of ``shape``, from all rows or from ``subset``."""
        if subset is None:
            return rng.integers(0, self._n, size=shape)
        subset = np.asarray(subset)
        return subset[rng.integers(0, len(subset), size=shape)]

    def __repr__(self):
        return f"TransitionDB(n={self._n}, context_dim={self.context_dim})"


class DCBAgent:
    """Base of the contextual agents: sizes, seeding, context and action checks, round-robin initial pulls
    and the transition database.

    Subclasses implement ``_select(x)`` (the action for the checked float32 context ``x``) and, if they
    learn, ``_store(x, action, reward)`` (called by ``update_db`` after storing) and ``update_params``.

    Args:
        bandit: the bandit to solve; its ``n_actions`` (or ``arms``) and ``context_dim`` set the sizes. A
            multi-armed bandit with ``context_type="int"`` gets its bandit index turned into a one-hot vector.
        init_pulls: pulls of each arm, round robin, before the agent's own choices.
        seed: None, int, ``numpy.random.SeedSequence`` or ``numpy.random.Generator``.

    Attributes:
        n_actions, context_dim: the sizes.
        db: the :class:`TransitionDB` of stored transitions.
        rng: the agent's ``numpy.random.Generator``.
    """

    def __init__(self, bandit, init_pulls=2, seed=None):
        owner = type(self).__name__
        arms = getattr(bandit, "n_actions", None)
        if arms is None:
            arms = getattr(bandit, "arms", None)
        dim = getattr(bandit, "context_dim", None)
        if arms is None or dim is None:
            raise TypeError(f"{owner} needs a bandit with 'n_actions' (or 'arms') and 'context_dim' attributes, "
                            f"got {type(bandit).__name__}")
        self.n_actions = check_count(int(arms), "the bandit's n_actions")
        self.context_dim = check_count(int(dim), "the bandit's context_dim")
        self._int_context = getattr(bandit, "context_type", "tensor") == "int"
        self.init_pulls = check_count(init_pulls, "init_pulls", minimum=0)
        self.rng = make_rng(seed, owner)
        self.db = TransitionDB(self.context_dim)

    # -- checks ----------------------------------------------------------------------------------------
    def _context(self, context):
        """``context`` as a ``(context_dim,)`` float32 vector, or a ShapeError saying what was expected."""
        if self._int_context and isinstance(context, numbers.Integral) and not isinstance(context, bool):
            if not 0 <= context < self.context_dim:
                raise ValueError(f"{type(self).__name__} got bandit index {context}; expected 0.."
                                 f"{self.context_dim - 1}")
            x = np.zeros(self.context_dim, dtype=np.float32)
            x[context] = 1.0
            return x
        x = np.asarray(context, dtype=np.float32)
        if x.shape != (self.context_dim,):
            raise ShapeError(f"{type(self).__name__} got a context of shape {x.shape}; expected "
                             f"({self.context_dim},), the context dimension of the bandit it was built for")
        return x

    def _action(self, action):
        return check_action(action, self.n_actions, type(self).__name__)

    # -- protocol --------------------------------------------------------------------------------------
    def select_action(self, context):
        """The arm to pull in ``context`` (an int): round robin during the initial pulls, then the agent's
        own rule."""
        x = self._context(context)
        n = len(self.db)
        if n < self.init_pulls * self.n_actions:
            return n % self.n_actions
        return self._select(x)

    def update_db(self, context, action, reward):
        """Store the transition ``(context, action, reward)``.

        Raises:
            ShapeError: if the context does not have the bandit's context dimension.
            ValueError: if ``action`` is not an integer in ``[0, n_actions)`` or ``reward`` is not finite.
            TypeError: if ``reward`` is not a real number.
        """
        x = self._context(context)
        a = self._action(action)
        r = check_reward(reward, f"{type(self).__name__}.update_db")
        self.db.add(x, a, r)
        self._store(x, a, r)

    def update_params(self, action=None, batch_size=64, train_epochs=20):
        """Learn from the stored transitions (agents without parameters do nothing).

        Args:
            action: the arm whose model to update (agents with one model per arm), or None for all.
            batch_size: minibatch size of gradient-trained agents.
            train_epochs: gradient steps of gradient-trained agents.
        """
        self._check_training_args(action, batch_size, train_epochs)

    def _select(self, x):
        raise NotImplementedError

    def _store(self, x, action, reward):
        """Hook run after a transition is stored."""

    def _check_training_args(self, action, batch_size, train_epochs):
        if action is not None:
            action = self._action(action)
        return action, check_count(batch_size, "batch_size"), check_count(train_epochs, "train_epochs")

    def __repr__(self):
        return f"{type(self).__name__}(n_actions={self.n_actions}, context_dim={self.context_dim})"


class NIGPosterior:
    r"""One Bayesian linear regression per arm with the Normal-Inverse-Gamma prior, updated exactly.

    Prior (Riquelme et al., 2018, ``LinFullPost``): :math:`\sigma^2 \sim \mathrm{IG}(a_0, b_0)`,
    :math:`\beta \mid \sigma^2 \sim N(0, \sigma^2 / \lambda\, I)`. Each arm keeps the sufficient statistics
    :math:`Z^\top Z`, :math:`Z^\top y`, :math:`y^\top y` and :math:`n`, so adding an observation is a rank-one
    update (:meth:`add`) and the posterior (module docstring) is recomputed from them when next needed, with
    a Cholesky factorisation :math:`\Lambda_n = L L^\top` (never an explicit inverse in the mean).

    Args:
        n_arms: number of arms.
        dim: length of the regression inputs :math:`z`.
        lambda_prior: prior precision scale :math:`\lambda > 0`.
        a0, b0: prior shape and scale of the noise variance, > 0.
    """

    def __init__(self, n_arms, dim, lambda_prior=0.25, a0=6.0, b0=6.0):
        self.n_arms = check_count(n_arms, "n_arms")
        self.dim = check_count(dim, "dim")
        self.lambda_prior = _positive(lambda_prior, "lambda_prior", "NIGPosterior")
        self.a0 = _positive(a0, "a0", "NIGPosterior")
        self.b0 = _positive(b0, "b0", "NIGPosterior")
        self.reset()

    def reset(self):
        """Back to the prior for every arm."""
        k, p = self.n_arms, self.dim
        self._zz = np.zeros((k, p, p))
        self._zy = np.zeros((k, p))
        self._yy = np.zeros(k)
        self._n = np.zeros(k, dtype=np.int64)
        self._mean = np.zeros((k, p))
        self._factor = np.broadcast_to(np.eye(p) / np.sqrt(self.lambda_prior), (k, p, p)).copy()
        self._a = np.full(k, self.a0)
        self._b = np.full(k, self.b0)
        self._stale = set()

    def add(self, arm, z, y):
        """Fold one observation ``(z, y)`` of ``arm`` into its statistics."""
        z = np.asarray(z, dtype=np.float64)
        self._zz[arm] += np.outer(z, z)
        self._zy[arm] += z * y
        self._yy[arm] += y * y
        self._n[arm] += 1
        self._stale.add(arm)

    def fit(self, arm, Z, y):
        """Replace the statistics of ``arm`` by those of the observations ``Z`` ``(n, dim)``, ``y`` ``(n,)``."""
        Z = np.asarray(Z, dtype=np.float64).reshape(-1, self.dim)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        # einsum's single-threaded loop: a BLAS call this small is slower when its threads must share a
        # busy machine
        self._zz[arm] = np.einsum("ni,nj->ij", Z, Z)
        self._zy[arm] = np.einsum("ni,n->i", Z, y)
        self._yy[arm] = y @ y
        self._n[arm] = len(y)
        self._stale.add(arm)

    def _refresh(self):
        eye = np.eye(self.dim)
        for k in self._stale:
            precision = self._zz[k] + self.lambda_prior * eye
            # precision = L L^T; F = L^-T satisfies F F^T = precision^-1 (numpy's small-matrix calls are
            # much cheaper per call than scipy's triangular solver)
            inverse_chol = np.linalg.inv(np.linalg.cholesky(precision))
            mean = inverse_chol.T @ (inverse_chol @ self._zy[k])
            self._factor[k] = inverse_chol.T
            self._mean[k] = mean
            self._a[k] = self.a0 + 0.5 * self._n[k]
            # y'y - mu' Lambda mu = y'y - mu' Z'y >= 0 in exact arithmetic; clip the rounding
            self._b[k] = self.b0 + 0.5 * max(self._yy[k] - mean @ self._zy[k], 0.0)
        self._stale.clear()

    def posterior(self, arm):
        """``dict(mean, precision, cov, a, b, n)`` of the posterior of ``arm`` (copies)."""
        self._refresh()
        precision = self._zz[arm] + self.lambda_prior * np.eye(self.dim)
        factor = self._factor[arm]
        return dict(mean=self._mean[arm].copy(), precision=precision, cov=factor @ factor.T,
                    a=float(self._a[arm]), b=float(self._b[arm]), n=int(self._n[arm]))

    @property
    def means(self):
        """numpy.ndarray: ``(n_arms, dim)`` posterior means of the coefficients."""
        self._refresh()
        return self._mean.copy()

    def sample(self, rng):
        r"""One Thompson draw per arm, ``(n_arms, dim)``: :math:`\sigma^2 = b_n / G` with
        :math:`G \sim \mathrm{Gamma}(a_n, 1)` (so :math:`\sigma^2 \sim \mathrm{IG}(a_n, b_n)`), then
        :math:`\beta = \mu_n + \sigma L^{-\top} \epsilon`, :math:`\epsilon \sim N(0, I)`."""
        self._refresh()
        sigma = np.sqrt(self._b / rng.standard_gamma(self._a))
        eps = rng.standard_normal((self.n_arms, self.dim))
        return self._mean + sigma[:, None] * np.einsum("kij,kj->ki", self._factor, eps)


class LinearPosterior(DCBAgent):
    r"""Thompson sampling with an exact Bayesian linear regression per arm (``LinFullPost`` of Riquelme,
    Tucker & Snoek, 2018, "Deep Bayesian Bandits Showdown", section 3).

    Each arm's reward is modelled as linear in the context plus an intercept, :math:`z = (x, 1)`, with the
    Normal-Inverse-Gamma prior and exact posterior of :class:`NIGPosterior` (module docstring). Every stored
    transition is folded into the pulled arm's posterior at once (``update_db``; a rank-one update, as the
    paper updates after every pull), so the posterior is always current; ``update_params`` recomputes it
    from the whole database (the same result, up to rounding).

    Args:
        bandit: the bandit to solve.
        lambda_prior: prior precision scale :math:`\lambda` (paper: 0.25).
        a0, b0: Inverse-Gamma prior of the noise variance (paper: 6, 6).
        intercept: append a constant 1 to the context.
        init_pulls: round-robin pulls per arm first (paper: 2).
        seed: None, int, SeedSequence or Generator.

    Attributes:
        posterior: the :class:`NIGPosterior`.
    """

    def __init__(self, bandit, lambda_prior=0.25, a0=6.0, b0=6.0, intercept=True, init_pulls=2, seed=None):
        super().__init__(bandit, init_pulls, seed)
        self.intercept = bool(intercept)
        self.posterior = NIGPosterior(self.n_actions, self.context_dim + self.intercept, lambda_prior, a0, b0)

    def _features(self, x):
        return np.append(x, 1.0) if self.intercept else x.astype(np.float64)

    def predict(self, context):
        """numpy.ndarray: the posterior mean reward of every arm in ``context``, :math:`\\mu_k^\\top z`."""
        return self.posterior.means @ self._features(self._context(context))

    def _select(self, x):
        beta = self.posterior.sample(self.rng)
        return int(np.argmax(beta @ self._features(x)))

    def _store(self, x, action, reward):
        self.posterior.add(action, self._features(x), reward)

    def update_params(self, action=None, batch_size=64, train_epochs=20):
        """Recompute the posterior of ``action`` (None: every arm) from the stored transitions.

        ``batch_size`` and ``train_epochs`` are accepted for the common protocol and unused: the update is
        exact, over all the data.
        """
        action, _, _ = self._check_training_args(action, batch_size, train_epochs)
        X = self.db.contexts.astype(np.float64)
        if self.intercept:
            X = np.concatenate([X, np.ones((len(X), 1))], axis=1)
        arms = range(self.n_actions) if action is None else [action]
        actions, rewards = self.db.actions, self.db.rewards
        for k in arms:
            mask = actions == k
            self.posterior.fit(k, X[mask], rewards[mask])


class Fixed(DCBAgent):
    """A fixed policy that ignores the context: always ``arm``, or an arm drawn from ``probs`` (Riquelme et
    al.'s ``FixedPolicySampling``). Useful as a baseline and for off-policy data collection.

    Args:
        bandit: the bandit.
        arm: the arm to pull every time; or
        probs: a probability for each arm (non-negative, summing to 1). Exactly one of the two.
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandit, arm=None, probs=None, seed=None):
        super().__init__(bandit, init_pulls=0, seed=seed)
        if (arm is None) == (probs is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of arm= (always that arm) and probs= (a "
                             f"distribution over the {self.n_actions} arms)")
        self.arm = None if arm is None else self._action(arm)
        self.probs = None
        if probs is not None:
            p = as_floats(probs, "probs")
            if p.shape != (self.n_actions,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
                raise ValueError(f"{type(self).__name__}: probs must be {self.n_actions} non-negative numbers "
                                 f"summing to 1 (one per arm), got {probs!r}")
            self.probs = p / p.sum()
            self._cdf = np.cumsum(self.probs)

    def _select(self, x):
        if self.arm is not None:
            return self.arm
        return int(min(np.searchsorted(self._cdf, self.rng.random(), side="right"), self.n_actions - 1))


class Uniform(Fixed):
    """Pulls an arm uniformly at random, whatever the context: the baseline that Riquelme et al. (2018)
    normalise regret by (Uniform = 100)."""

    def __init__(self, bandit, seed=None):
        n = getattr(bandit, "n_actions", None) or getattr(bandit, "arms", None) or 1
        super().__init__(bandit, probs=np.full(int(n), 1.0 / int(n)), seed=seed)

    def _select(self, x):
        return int(self.rng.integers(self.n_actions))


# GenRL's names
LinearPosteriorAgent = LinearPosterior
FixedAgent = Fixed
UniformAgent = Uniform
