r"""Exploration noise added to the actions of deterministic policies (DDPG, TD3).

Both processes share one small protocol, which ``run(..., noise=...)`` uses: ``noise()`` returns the next
sample (a numpy array of the noise's shape, to add to the action) and ``noise.reset()`` starts a new episode
(``end_episode()`` is SymJAX's name for it). Each has its own ``numpy.random.Generator`` (``seed=``).

- :class:`GaussianNoise`: independent :math:`\mathcal N(\mu, \sigma^2)` draws (Fujimoto et al. 2018, TD3).
- :class:`OrnsteinUhlenbeckNoise`: temporally correlated noise, the Ornstein-Uhlenbeck process
  (Uhlenbeck & Ornstein 1930) used by DDPG (Lillicrap et al. 2016, "Continuous control with deep
  reinforcement learning").
"""

import math
import numbers

import numpy as np

__all__ = ["GaussianNoise", "OrnsteinUhlenbeckNoise"]


def _shape(owner, shape, **params):
    """The noise's shape: ``shape`` if given (the parameters must broadcast to it), else theirs broadcast."""
    shapes = {name: np.shape(value) for name, value in params.items() if value is not None}
    try:
        common = np.broadcast_shapes(*shapes.values())
        if shape is None:
            return common
        shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(d) for d in shape)
        if np.broadcast_shapes(common, shape) != shape:
            raise ValueError
        return shape
    except ValueError:
        detail = ", ".join(f"{name} {s}" for name, s in shapes.items())
        raise ValueError(f"{owner}: the parameter shapes ({detail}) do not broadcast to shape {shape}; give "
                         f"scalars or arrays of the action shape") from None


def _check(owner, name, value, positive=False):
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0 if positive else arr < 0):
        raise ValueError(f"{owner}: {name} must be {'> 0' if positive else '>= 0'} and finite, got {value!r}")
    return arr


class GaussianNoise:
    r"""Independent Gaussian noise, :math:`\epsilon_t \sim \mathcal N(\mu, \sigma^2)` per entry.

    Args:
        sigma: the standard deviation :math:`\sigma` (a number, or an array broadcasting to ``shape``);
            an attribute, so it can be annealed (``noise.sigma = ...``).
        shape: the shape of a sample (e.g. the action shape, or ``(n_envs, *action_shape)``); ``None``:
            the shape of ``sigma``/``mu``.
        mu: the mean (default 0).
        seed: seed of the noise's ``numpy.random.Generator`` (or a ``Generator``).
    """

    def __init__(self, sigma, shape=None, *, mu=0.0, seed=None):
        self.sigma = _check("GaussianNoise", "sigma", sigma)
        self.mu = np.asarray(mu, dtype=np.float64)
        self.shape = _shape("GaussianNoise", shape, sigma=sigma, mu=mu)
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def __call__(self):
        """A new sample of shape ``self.shape``."""
        return self.mu + self.sigma * self._rng.standard_normal(self.shape)

    def reset(self):
        """Start a new episode (nothing to do: the draws are independent)."""

    end_episode = reset

    def __repr__(self):
        return f"GaussianNoise(sigma={self.sigma}, shape={self.shape}, mu={self.mu})"


class OrnsteinUhlenbeckNoise:
    r"""Ornstein-Uhlenbeck noise (Uhlenbeck & Ornstein 1930), the exploration noise of DDPG (Lillicrap et al.
    2016): the solution of :math:`dx = \theta(\mu - x)\,dt + \sigma\,dW`, simulated with the Euler-Maruyama
    step

    .. math::

        x_{k+1} = x_k + \theta(\mu - x_k)\,\Delta t + \sigma \sqrt{\Delta t}\; \epsilon_k,
        \qquad \epsilon_k \sim \mathcal N(0, I),

    (SymJAX omitted both :math:`\Delta t` factors). ``x`` reverts to :math:`\mu` at rate :math:`\theta`: its
    mean is :math:`\mu + (x_0 - \mu)(1 - \theta\Delta t)^k`, and its stationary variance is
    :math:`\sigma^2 \Delta t / (1 - (1 - \theta\Delta t)^2) = \sigma^2 / (\theta (2 - \theta \Delta t))`,
    which tends to the continuous process's :math:`\sigma^2 / (2\theta)` as :math:`\Delta t \to 0` (within
    0.1% for the defaults). Successive samples are correlated over about :math:`1 / (\theta \Delta t)` steps.

    Args:
        mu: the long-run mean :math:`\mu` (a number or an array broadcasting to ``shape``).
        sigma: the volatility :math:`\sigma` (an attribute: anneal it with ``noise.sigma = ...``).
        theta: the mean-reversion rate :math:`\theta`.
        dt: the time step :math:`\Delta t`.
        x0: the state after :meth:`reset` (default: ``mu``).
        shape: the shape of a sample (e.g. the action shape, or ``(n_envs, *action_shape)``); ``None``:
            the parameters' broadcast shape.
        seed: seed of the noise's ``numpy.random.Generator`` (or a ``Generator``).
    """

    def __init__(self, mu, sigma, theta=0.15, dt=1e-2, x0=None, shape=None, *, seed=None):
        owner = "OrnsteinUhlenbeckNoise"
        self.mu = np.asarray(mu, dtype=np.float64)
        if not np.all(np.isfinite(self.mu)):
            raise ValueError(f"{owner}: mu must be finite, got {mu!r}")
        self.sigma = _check(owner, "sigma", sigma)
        self.theta = _check(owner, "theta", theta)
        self.dt = float(_check(owner, "dt", dt, positive=True))
        if np.ndim(dt):
            raise ValueError(f"{owner}: dt must be a number, got {dt!r}")
        self.x0 = None if x0 is None else np.asarray(x0, dtype=np.float64)
        self.shape = _shape(owner, shape, mu=mu, sigma=sigma, theta=theta, x0=x0)
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.reset()

    def reset(self):
        """Start a new episode: ``x = x0`` (or ``mu``)."""
        start = self.mu if self.x0 is None else self.x0
        self.x = np.array(np.broadcast_to(start, self.shape), dtype=np.float64)

    end_episode = reset

    def __call__(self):
        """Advance the process by one step and return the new state (a copy of shape ``self.shape``)."""
        noise = self._rng.standard_normal(self.shape)
        self.x = self.x + self.theta * (self.mu - self.x) * self.dt + self.sigma * math.sqrt(self.dt) * noise
        return self.x.copy()

    def __repr__(self):
        return (f"OrnsteinUhlenbeckNoise(mu={self.mu}, sigma={self.sigma}, theta={self.theta}, dt={self.dt}, "
                f"shape={self.shape})")
