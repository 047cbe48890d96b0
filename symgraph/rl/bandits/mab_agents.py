"""Multi-armed bandit agents: epsilon-greedy, UCB1, Bayes-UCB, Thompson sampling, gradient bandit.

Every agent keeps one set of statistics per bandit of a :class:`~symgraph.rl.bandits.MultiArmedBandit` (the
context says which bandit is active) and follows one protocol::

    action = agent.select_action(context)            # context: bandit index or one-hot vector
    agent.update_params(context, action, reward)

The per-step work is plain Python over the arms of one bandit, which for the usual handful of arms is several
times faster than calling numpy on tiny arrays; the statistics are exposed as numpy arrays (copies).
Randomness comes from a seeded ``numpy.random.Generator`` (``seed=``).

GenRL's class names are kept as aliases: ``EpsGreedyMABAgent``, ``UCBMABAgent``, ``BayesianUCBMABAgent``,
``ThompsonSamplingMABAgent``, ``GradientMABAgent``.
"""

import math
import numbers

import numpy as np
from scipy import special

from symgraph.rl.bandits._common import (
    RandomStream,
    ShapeError,
    as_floats,
    check_action,
    check_real,
    check_reward,
    make_rng,
)

__all__ = [
    "MABAgent", "EpsilonGreedy", "UCB1", "BayesianUCB", "ThompsonSampling", "GaussianThompsonSampling",
    "GradientBandit", "EpsGreedyMABAgent", "UCBMABAgent", "BayesianUCBMABAgent", "ThompsonSamplingMABAgent",
    "GradientMABAgent",
]


def _argmax(values):
    """Index of the largest value (the first one on ties)."""
    return values.index(max(values))


class MABAgent:
    """Base of the multi-armed agents: sizes, seeding, context decoding and pull counts.

    Args:
        bandit: the bandit to solve; its ``arms`` (or ``n_actions``) and ``bandits`` (default 1) set the
            size of the statistics.
        seed: None, int, ``numpy.random.SeedSequence`` or ``numpy.random.Generator``.
    """

    def __init__(self, bandit, seed=None):
        arms = getattr(bandit, "arms", None)
        if arms is None:
            arms = getattr(bandit, "n_actions", None)
        if arms is None:
            raise TypeError(f"{type(self).__name__} needs a bandit with an 'arms' or 'n_actions' attribute, "
                            f"got {type(bandit).__name__}")
        self.arms = int(arms)
        self.bandits = int(getattr(bandit, "bandits", 1))
        self.rng = make_rng(seed, type(self).__name__)
        self._uniform = RandomStream(self.rng, "uniform")
        self._context_shape = (self.bandits,)
        self._counts = [[0] * self.arms for _ in range(self.bandits)]
        self._plays = [0] * self.bandits

    # -- context and bookkeeping ----------------------------------------------------------------------
    def _index(self, context):
        """The bandit index a context stands for: an int, or a one-hot vector of length ``bandits``."""
        if context.__class__ is int:
            if 0 <= context < self.bandits:
                return context
        elif isinstance(context, np.ndarray):
            if context.shape == self._context_shape:
                return 0 if self.bandits == 1 else int(context.argmax())
            raise ShapeError(f"{type(self).__name__} got a context of shape {context.shape}; expected "
                             f"({self.bandits},), a one-hot vector saying which of the {self.bandits} "
                             f"bandits is active, or the bandit index as an int (feature vectors of "
                             f"contextual bandits need a contextual agent)")
        elif isinstance(context, numbers.Integral) and 0 <= context < self.bandits:
            return int(context)
        raise ValueError(f"{type(self).__name__} got context {context!r}; expected a bandit index in "
                         f"0..{self.bandits - 1} or a one-hot vector of length {self.bandits}")

    def _reward(self, reward):
        """``reward`` as a finite float, checked before any statistic changes."""
        return check_reward(reward, f"{type(self).__name__}.update_params")

    def _count(self, b, action):
        """Check ``action`` and add one pull of it on bandit ``b``; returns the action as an int."""
        a = check_action(action, self.arms, type(self).__name__)
        self._counts[b][a] += 1
        self._plays[b] += 1
        return a

    @property
    def counts(self):
        """numpy.ndarray: ``(bandits, arms)`` number of pulls of each arm."""
        return np.array(self._counts, dtype=np.int64)

    # -- protocol --------------------------------------------------------------------------------------
    def select_action(self, context):
        """The arm to pull in ``context`` (an int)."""
        raise NotImplementedError

    def update_params(self, context, action, reward):
        """Learn from the ``reward`` that pulling ``action`` in ``context`` gave.

        Raises:
            ValueError: ``reward`` is NaN or infinite, or ``action`` is not an arm (nothing is changed).
            TypeError: ``reward`` is not a real number.
        """
        raise NotImplementedError


class _SampleAverage(MABAgent):
    """Agents whose estimate of an arm is the sample average of its rewards."""

    def __init__(self, bandit, seed=None):
        super().__init__(bandit, seed)
        self._q = [[0.0] * self.arms for _ in range(self.bandits)]

    @property
    def quality(self):
        """numpy.ndarray: ``(bandits, arms)`` sample-average reward of each arm (0 before its first pull)."""
        return np.array(self._q, dtype=np.float64)

    def update_params(self, context, action, reward):
        r"""Incremental sample average (Sutton & Barto, 2018, eq. 2.3):
        :math:`n_a \leftarrow n_a + 1,\; Q_a \leftarrow Q_a + (r - Q_a) / n_a`."""
        b = self._index(context)
        reward = self._reward(reward)
        a = self._count(b, action)
        q = self._q[b]
        q[a] += (reward - q[a]) / self._counts[b][a]


class EpsilonGreedy(_SampleAverage):
    r"""Epsilon-greedy (Sutton & Barto, 2018, section 2.2-2.4).

    With probability :math:`\varepsilon` pull an arm uniformly at random (the greedy one included), otherwise
    the greedy arm :math:`\arg\max_a Q_a` (the lowest index on ties). :math:`Q_a` is the sample average of
    arm :math:`a`'s rewards. With a constant :math:`\varepsilon` the regret grows linearly, by
    :math:`\varepsilon \sum_a \Delta_a / k` per pull once the estimates have settled.

    Args:
        bandit: the bandit to solve.
        epsilon: exploration probability in [0, 1].
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandit, epsilon=0.05, seed=None):
        super().__init__(bandit, seed)
        if not 0.0 <= check_real(epsilon, "epsilon") <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)

    def select_action(self, context):
        b = self._index(context)
        uniform = self._uniform
        if uniform() < self.epsilon:
            return int(uniform() * self.arms)
        return _argmax(self._q[b])


class UCB1(_SampleAverage):
    r"""UCB1 (Auer, Cesa-Bianchi & Fischer, 2002, "Finite-time analysis of the multiarmed bandit problem").

    Pull every arm once, then the arm maximising the upper confidence bound

    .. math:: Q_a + c \sqrt{\frac{2 \ln t}{n_a}},

    where :math:`t` is the number of pulls so far (of the active bandit), :math:`n_a` those of arm
    :math:`a` and :math:`Q_a` its sample-average reward. With :math:`c = 1` (the paper's bound, for rewards
    in [0, 1]) the expected regret is at most :math:`\sum_{a: \Delta_a > 0} 8 \ln T / \Delta_a +
    (1 + \pi^2/3) \sum_a \Delta_a`.

    Args:
        bandit: the bandit to solve.
        confidence: the factor :math:`c` of the exploration bonus (>= 0).
        seed: None, int, SeedSequence or Generator (UCB1 itself draws nothing).
    """

    def __init__(self, bandit, confidence=1.0, seed=None):
        super().__init__(bandit, seed)
        if not 0 <= check_real(confidence, "confidence") < math.inf:
            raise ValueError(f"confidence must be >= 0 and finite, got {confidence!r}")
        self.confidence = float(confidence)

    def upper_bounds(self, context):
        """numpy.ndarray: the UCB1 index of every arm of the bandit ``context`` points to (inf: unpulled)."""
        b = self._index(context)
        n = np.array(self._counts[b], dtype=np.float64)
        bonus = self.confidence * np.sqrt(2.0 * np.log(max(self._plays[b], 1)) / np.maximum(n, 1))
        return np.where(n > 0, np.array(self._q[b]) + bonus, np.inf)

    def select_action(self, context):
        b = self._index(context)
        n = self._counts[b]
        if 0 in n:
            return n.index(0)
        q = self._q[b]
        scale = self.confidence * math.sqrt(2.0 * math.log(self._plays[b]))
        sqrt = math.sqrt
        return _argmax([q[a] + scale / sqrt(n[a]) for a in range(self.arms)])


class _BetaBernoulli(MABAgent):
    r"""Agents with a Beta(alpha, beta) prior on each arm's probability of paying 1.

    The update is conjugate: after reward :math:`r \in \{0, 1\}`, :math:`\alpha_a \leftarrow \alpha_a + r`
    and :math:`\beta_a \leftarrow \beta_a + 1 - r`, so after :math:`S_a` successes and :math:`F_a` failures
    the posterior is :math:`\mathrm{Beta}(\alpha_0 + S_a, \beta_0 + F_a)`. A reward strictly between 0 and 1
    is first turned into a Bernoulli draw with that probability (Agrawal & Goyal, 2012), which keeps the
    posterior exact for the induced binary problem.
    """

    def __init__(self, bandit, alpha=1.0, beta=1.0, seed=None):
        super().__init__(bandit, seed)
        if not (0 < check_real(alpha, "alpha") < math.inf and 0 < check_real(beta, "beta") < math.inf):
            raise ValueError(f"the Beta prior needs alpha > 0 and beta > 0, finite, got alpha={alpha!r}, "
                             f"beta={beta!r}")
        self._alpha = [[float(alpha)] * self.arms for _ in range(self.bandits)]
        self._beta = [[float(beta)] * self.arms for _ in range(self.bandits)]

    @property
    def alpha(self):
        """numpy.ndarray: ``(bandits, arms)`` posterior alpha (prior alpha + successes)."""
        return np.array(self._alpha, dtype=np.float64)

    @property
    def beta(self):
        """numpy.ndarray: ``(bandits, arms)`` posterior beta (prior beta + failures)."""
        return np.array(self._beta, dtype=np.float64)

    @property
    def quality(self):
        """numpy.ndarray: ``(bandits, arms)`` posterior mean alpha / (alpha + beta)."""
        a, b = self.alpha, self.beta
        return a / (a + b)

    def update_params(self, context, action, reward):
        b = self._index(context)
        reward = self._reward(reward)
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"{type(self).__name__} models rewards in [0, 1] (Bernoulli arms), got reward "
                             f"{reward!r}; for other rewards use GaussianThompsonSampling, UCB1 or "
                             f"EpsilonGreedy")
        a = self._count(b, action)
        if reward == 1.0:
            self._alpha[b][a] += 1.0
        elif reward == 0.0:
            self._beta[b][a] += 1.0
        elif self._uniform() < reward:
            self._alpha[b][a] += 1.0
        else:
            self._beta[b][a] += 1.0


class ThompsonSampling(_BetaBernoulli):
    r"""Beta-Bernoulli Thompson sampling (Thompson, 1933; Agrawal & Goyal, 2012, "Analysis of Thompson
    sampling for the multi-armed bandit problem").

    Each pull draws :math:`\theta_a \sim \mathrm{Beta}(\alpha_a, \beta_a)` for every arm from the posterior
    and pulls :math:`\arg\max_a \theta_a`; the posterior update is conjugate (see ``update_params``). Its
    regret matches the Lai-Robbins lower bound :math:`\sum_a \Delta_a \ln T / \mathrm{KL}(p_a, p^*)`
    asymptotically (Kaufmann, Korda & Munos, 2012).

    Args:
        bandit: the bandit to solve (rewards in [0, 1]).
        alpha: prior alpha (> 0); 1 with ``beta=1`` is the uniform prior.
        beta: prior beta (> 0).
        seed: None, int, SeedSequence or Generator.
    """

    def select_action(self, context):
        b = self._index(context)
        draw = self.rng.beta
        alpha, beta = self._alpha[b], self._beta[b]
        return _argmax([draw(alpha[a], beta[a]) for a in range(self.arms)])


class BayesianUCB(_BetaBernoulli):
    r"""Bayes-UCB with a Beta posterior (Kaufmann, Cappé & Garivier, 2012, "On Bayesian upper confidence
    bounds for bandit problems").

    At round :math:`t` (1, 2, ... pulls of the active bandit, this one included), pull the arm whose
    posterior quantile of level

    .. math:: 1 - \frac{1}{t\, (\ln T)^c}

    is the highest, :math:`Q(\cdot, \mathrm{Beta}(\alpha_a, \beta_a))`, computed with
    ``scipy.special.betaincinv``. :math:`T` is ``horizon`` when given, else :math:`t`. The paper proves
    asymptotic optimality for :math:`c \geq 5` and recommends :math:`c = 0` in practice (the default).

    Args:
        bandit: the bandit to solve (rewards in [0, 1]).
        alpha: prior alpha (> 0).
        beta: prior beta (> 0).
        c: exponent of the :math:`\ln T` factor (>= 0).
        horizon: total number of pulls, if known.
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandit, alpha=1.0, beta=1.0, c=0.0, horizon=None, seed=None):
        super().__init__(bandit, alpha, beta, seed)
        if not 0 <= check_real(c, "c") < math.inf:
            raise ValueError(f"c must be >= 0 and finite, got {c!r}")
        if horizon is not None and not 1 <= check_real(horizon, "horizon") < math.inf:
            raise ValueError(f"horizon must be >= 1 (and finite) or None, got {horizon!r}")
        self.c = float(c)
        self.horizon = horizon

    def quantile_level(self, t):
        """The posterior quantile level used at round ``t`` (1-based), clipped to [0, 1)."""
        log_horizon = math.log(self.horizon if self.horizon is not None else t)
        scale = log_horizon ** self.c if self.c else 1.0
        if scale <= 0:
            return 0.0
        return max(0.0, 1.0 - 1.0 / (t * scale))

    def _bounds(self, b):
        level = self.quantile_level(self._plays[b] + 1)
        alpha, beta = self._alpha[b], self._beta[b]
        inv = special.betaincinv
        return [float(inv(alpha[a], beta[a], level)) for a in range(self.arms)]

    def upper_bounds(self, context):
        """numpy.ndarray: the Bayes-UCB index of every arm of the bandit ``context`` points to."""
        return np.array(self._bounds(self._index(context)))

    def select_action(self, context):
        return _argmax(self._bounds(self._index(context)))


class GaussianThompsonSampling(MABAgent):
    r"""Thompson sampling for Gaussian rewards with known noise (Agrawal & Goyal, 2013, "Further optimal
    regret bounds for Thompson sampling"; Russo et al., 2018, "A tutorial on Thompson sampling").

    Prior :math:`\mu_a \sim N(m_0, s_0^2)`, rewards :math:`r \sim N(\mu_a, \sigma^2)`. After :math:`n_a`
    pulls with reward sum :math:`S_a` the posterior is normal with

    .. math:: \tau_a = \frac{1}{s_0^2} + \frac{n_a}{\sigma^2}, \qquad
              m_a = \frac{1}{\tau_a}\Big(\frac{m_0}{s_0^2} + \frac{S_a}{\sigma^2}\Big),

    precision :math:`\tau_a` (variance :math:`1/\tau_a`). Each pull draws :math:`\theta_a \sim N(m_a,
    1/\tau_a)` and pulls :math:`\arg\max_a \theta_a`.

    Args:
        bandit: the bandit to solve.
        prior_mean: :math:`m_0`.
        prior_std: :math:`s_0` (> 0); the defaults N(0, 1) match :class:`GaussianMAB`'s random means.
        noise_std: :math:`\sigma` (> 0), a scalar or an array broadcastable to ``(bandits, arms)``; None
            takes the bandit's ``reward_std`` when it has one, else 1.
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandit, prior_mean=0.0, prior_std=1.0, noise_std=None, seed=None):
        super().__init__(bandit, seed)
        if not 0 < check_real(prior_std, "prior_std") < math.inf:
            raise ValueError(f"prior_std must be > 0 and finite, got {prior_std!r}")
        if noise_std is None:
            noise_std = getattr(bandit, "reward_std", 1.0)
        shape = (self.bandits, self.arms)
        try:
            noise = np.broadcast_to(as_floats(noise_std, "noise_std"), shape)
        except ValueError:
            raise ValueError(f"noise_std must be a scalar or broadcast to (bandits, arms) = {shape}, got "
                             f"shape {np.shape(noise_std)}") from None
        if not np.all((noise > 0) & np.isfinite(noise)):
            raise ValueError(f"noise_std must be > 0 and finite (the posterior divides by it), got {noise_std!r}")
        self.prior_mean = float(check_real(prior_mean, "prior_mean", finite=True))
        self.prior_std = float(prior_std)
        self._noise_precision = (1.0 / noise**2).tolist()
        self._normal = RandomStream(self.rng, "normal")
        self._sums = [[0.0] * self.arms for _ in range(self.bandits)]
        self._precision = [[1.0 / self.prior_std**2] * self.arms for _ in range(self.bandits)]
        self._mean = [[self.prior_mean] * self.arms for _ in range(self.bandits)]

    @property
    def posterior_mean(self):
        """numpy.ndarray: ``(bandits, arms)`` posterior mean :math:`m_a`."""
        return np.array(self._mean, dtype=np.float64)

    @property
    def posterior_std(self):
        """numpy.ndarray: ``(bandits, arms)`` posterior standard deviation :math:`1/\\sqrt{\\tau_a}`."""
        return 1.0 / np.sqrt(np.array(self._precision, dtype=np.float64))

    quality = posterior_mean

    def select_action(self, context):
        b = self._index(context)
        normal = self._normal
        mean, precision = self._mean[b], self._precision[b]
        sqrt = math.sqrt
        return _argmax([mean[a] + normal() / sqrt(precision[a]) for a in range(self.arms)])

    def update_params(self, context, action, reward):
        b = self._index(context)
        reward = self._reward(reward)
        a = self._count(b, action)
        self._sums[b][a] += reward
        prior_precision = 1.0 / self.prior_std**2
        noise_precision = self._noise_precision[b][a]
        precision = prior_precision + self._counts[b][a] * noise_precision
        self._precision[b][a] = precision
        weighted = self.prior_mean * prior_precision + self._sums[b][a] * noise_precision
        self._mean[b][a] = weighted / precision


class GradientBandit(MABAgent):
    r"""Gradient bandit: softmax over learned preferences, with an average-reward baseline (Sutton & Barto,
    2018, section 2.8; Williams, 1992).

    :math:`\pi(a) = e^{H_a} / \sum_b e^{H_b}`. After pulling :math:`A_t` and receiving :math:`R_t`,

    .. math:: H_a \leftarrow H_a + \alpha (R_t - \bar R_t)(\mathbb{1}[a = A_t] - \pi(a)) \quad \forall a,

    a stochastic gradient ascent step on the expected reward. :math:`\bar R_t` is the average of the rewards
    before :math:`t` (with :math:`\bar R_1 = R_1`), per bandit, or 0 with ``baseline=False``.

    Args:
        bandit: the bandit to solve.
        alpha: step size (> 0).
        baseline: subtract the average reward (True) or not.
        seed: None, int, SeedSequence or Generator.
    """

    def __init__(self, bandit, alpha=0.1, baseline=True, seed=None):
        super().__init__(bandit, seed)
        if not 0 < check_real(alpha, "alpha") < math.inf:
            raise ValueError(f"alpha must be > 0 and finite, got {alpha!r}")
        self.alpha = float(alpha)
        self.baseline = bool(baseline)
        self._h = [[0.0] * self.arms for _ in range(self.bandits)]
        self._mean_reward = [0.0] * self.bandits

    @property
    def preferences(self):
        """numpy.ndarray: ``(bandits, arms)`` preferences :math:`H_a`."""
        return np.array(self._h, dtype=np.float64)

    @property
    def probabilities(self):
        """numpy.ndarray: ``(bandits, arms)`` softmax policy :math:`\\pi(a)`."""
        return np.array([self._policy(b) for b in range(self.bandits)], dtype=np.float64)

    def _policy(self, b):
        h = self._h[b]
        top = max(h)
        exp = math.exp
        weights = [exp(x - top) for x in h]
        total = sum(weights)
        return [w / total for w in weights]

    def select_action(self, context):
        pi = self._policy(self._index(context))
        u = self._uniform()
        cumulative = 0.0
        for a, p in enumerate(pi):
            cumulative += p
            if u < cumulative:
                return a
        return self.arms - 1  # rounding left u >= the last cumulative sum

    def update_params(self, context, action, reward):
        b = self._index(context)
        reward = self._reward(reward)
        pi = self._policy(b)
        a = self._count(b, action)
        n = self._plays[b]  # rewards seen, this one included
        if self.baseline:
            baseline = reward if n == 1 else self._mean_reward[b]
            self._mean_reward[b] += (reward - self._mean_reward[b]) / n
        else:
            baseline = 0.0
        step = self.alpha * (reward - baseline)
        h = self._h[b]
        for i in range(self.arms):
            h[i] -= step * pi[i]
        h[a] += step


EpsGreedyMABAgent = EpsilonGreedy
UCBMABAgent = UCB1
BayesianUCBMABAgent = BayesianUCB
ThompsonSamplingMABAgent = ThompsonSampling
GradientMABAgent = GradientBandit
