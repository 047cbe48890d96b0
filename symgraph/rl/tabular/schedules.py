"""Exploration schedules: callables of an episode (or step) index returning the exploration probability ε.

Any callable ``f(t) -> float`` with values in [0, 1] can be passed as ``epsilon`` to a tabular agent; these
two are the common ones, as small frozen dataclasses (readable ``repr``, picklable).
"""

import math
from dataclasses import dataclass

from symgraph.rl.bandits._common import check_real


def _check_probability(name, value):
    if not 0.0 <= check_real(value, name) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class LinearDecay:
    """ε(t) = start + (end − start) · min(t / duration, 1): a straight line from ``start`` to ``end`` in
    ``duration`` episodes (or steps), then constant at ``end``.

    Example: ``QLearning(env, epsilon=LinearDecay(1.0, 0.01, 2000))``.
    """

    start: float = 1.0
    end: float = 0.01
    duration: int = 1000

    def __post_init__(self):
        _check_probability("LinearDecay start", self.start)
        _check_probability("LinearDecay end", self.end)
        if not 0 < check_real(self.duration, "LinearDecay duration") < math.inf:
            raise ValueError(f"LinearDecay duration must be a positive number of episodes/steps, "
                             f"got {self.duration!r}")

    def __call__(self, t):
        fraction = t / self.duration
        if fraction >= 1.0:
            return self.end
        return self.start + (self.end - self.start) * fraction


@dataclass(frozen=True)
class ExponentialDecay:
    """ε(t) = end + (start − end) · rate^t: geometric decay from ``start`` towards ``end``.

    ``rate`` in (0, 1]; the distance to ``end`` halves every ln 2 / −ln(rate) episodes (or steps), e.g.
    ``rate=0.999`` halves it every ≈ 693.
    """

    start: float = 1.0
    end: float = 0.01
    rate: float = 0.999

    def __post_init__(self):
        _check_probability("ExponentialDecay start", self.start)
        _check_probability("ExponentialDecay end", self.end)
        if not 0.0 < check_real(self.rate, "ExponentialDecay rate") <= 1.0:
            raise ValueError(f"ExponentialDecay rate must be in (0, 1], got {self.rate!r}")

    def __call__(self, t):
        return self.end + (self.start - self.end) * self.rate ** t
