"""Helpers shared by the bandit environments and agents: seeding, argument checks, error classes."""

import math
import numbers
import operator
import zlib

import numpy as np

from symgraph.errors import ShapeError, SymgraphError

__all__ = ["DataFormatError", "DataNotFoundError", "RandomStream", "ShapeError", "make_rng", "check_seed",
           "check_action", "check_count", "check_whole", "check_real", "check_reward", "as_floats", "MAX_SIZE"]

#: The largest size (arms, bandits, layer width, block...) accepted: beyond it numpy cannot allocate anyway.
MAX_SIZE = 2**31 - 1


class DataFormatError(SymgraphError, ValueError):
    """A dataset file does not have the layout of the original dataset (columns, values, labels)."""


class DataNotFoundError(SymgraphError, FileNotFoundError):
    """A dataset file is not where it was looked for; the message says which file to put where."""


def make_rng(seed, stream):
    """A numpy ``Generator`` for ``seed``, on a stream named ``stream``.

    ``seed`` may be None (fresh entropy), a non-negative int, a ``numpy.random.SeedSequence`` or a
    ``Generator`` (used as is). An int or a SeedSequence is mixed with a hash of ``stream``, so a bandit and
    an agent given the same seed draw independent numbers (with one plain ``default_rng(seed)`` each, the
    agent's exploration coin would be the bandit's reward coin).
    """
    seed = check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    salt = zlib.crc32(stream.encode())
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(
            np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, salt)))
    return np.random.default_rng([seed, salt])


def check_seed(seed, name="seed"):
    """``seed`` if it is None, a ``numpy.random.Generator`` or ``SeedSequence``, or a non-negative int (then
    as an int); a TypeError or ValueError naming the argument otherwise."""
    if seed is None or isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return seed
    try:
        value = operator.index(seed)
    except TypeError:
        raise TypeError(f"{name} must be None, a non-negative int, a numpy SeedSequence or a numpy Generator, "
                        f"got {type(seed).__name__} {seed!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_action(action, n_actions, owner):
    """``action`` as an int in ``[0, n_actions)``; a ValueError naming the action and the range otherwise."""
    try:
        a = operator.index(action)
    except TypeError:
        raise ValueError(f"action must be an integer in 0..{n_actions - 1} for {owner}, got "
                         f"{type(action).__name__} {action!r}") from None
    if a < 0 or a >= n_actions:
        raise ValueError(f"action {a} is out of range for {owner}: valid actions are 0 to {n_actions - 1} "
                         f"({n_actions} arms)")
    return a


def check_count(value, name, minimum=1, maximum=None):
    """``value`` as an int in ``[minimum, maximum]`` (a Python or numpy int, not a bool), or a ValueError
    naming the argument. Give ``maximum`` (e.g. :data:`MAX_SIZE`) for sizes of arrays."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def check_whole(value, name, minimum=0):
    """``value`` as an int >= ``minimum``: an int or a float with an integer value (``3.0``); a TypeError
    (not a number) or ValueError (NaN, infinite, fractional, too small) naming the argument."""
    expected = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if not (isinstance(value, numbers.Integral) or float(value).is_integer()) or value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_real(value, name, finite=False):
    """``value`` itself if it is a real number (a Python or numpy scalar; NaN included unless ``finite``), for
    the caller's range check to follow; a TypeError (not a number) or ValueError (not finite) naming the
    argument otherwise."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def as_floats(value, name):
    """``value`` (a number or an array-like of them) as a float64 array; a TypeError naming the argument when
    it does not hold real numbers (strings, None, complex numbers, ragged lists)."""
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged list
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or an array of them, got {type(value).__name__} "
                        f"{value!r}")
    return array.astype(np.float64)


def check_reward(reward, where, source="the bandit"):
    """``reward`` as a float; a TypeError if it is not a real number (a Python or numpy scalar), a ValueError
    naming ``where`` (e.g. ``"UCB1.update_params"``) and the value if it is NaN or infinite (``source``: what
    produced it, for the advice)."""
    if reward.__class__ is not float:
        if isinstance(reward, numbers.Real) or (isinstance(reward, np.ndarray) and reward.ndim == 0
                                                and reward.dtype.kind in "biuf"):
            reward = float(reward)
        else:
            raise TypeError(f"{where}: reward must be a real number, got {type(reward).__name__} {reward!r}")
    if not math.isfinite(reward):
        raise ValueError(f"{where}: got reward {reward}; rewards must be finite: check {source} (or the reward "
                         f"shaping) that produced it")
    return reward


class RandomStream:
    """Scalar draws from ``rng`` served from blocks: ``stream()`` returns the next float.

    One numpy call per scalar costs several times more than the draw itself; drawing ``block`` at a time
    and handing them out one by one keeps per-step loops cheap. The sequence is fixed by the generator's
    seed like any other draw.

    Args:
        rng: a ``numpy.random.Generator``.
        kind: ``"uniform"`` (in [0, 1)) or ``"normal"`` (standard normal).
        block: how many numbers to draw at once.
    """

    __slots__ = ("_draw", "_block", "_buffer", "_position")

    def __init__(self, rng, kind="uniform", block=1024):
        if kind not in ("uniform", "normal"):
            raise ValueError(f"kind must be 'uniform' or 'normal', got {kind!r}")
        self._draw = rng.random if kind == "uniform" else rng.standard_normal
        self._block = check_count(block, "block")
        self._buffer = []
        self._position = 0

    def __call__(self):
        i = self._position
        if i == len(self._buffer):
            self._buffer = self._draw(self._block).tolist()
            i = 0
        self._position = i + 1
        return self._buffer[i]
