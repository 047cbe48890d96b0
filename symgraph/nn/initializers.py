"""Initializers: functions ``init(key, shape, dtype)`` that draw the starting value of a weight.

Each factory below (``glorot_uniform()``, ``orthogonal(gain)``...) returns an :class:`Initializer`, a callable
with the signature of ``jax.nn.initializers`` so it can be handed straight to a Variable::

    w = sg.Variable(nn.initializers.glorot_uniform(), shape=(784, 256), name="w")

which draws it with a key derived from the graph seed and the variable's unique name (and again, under
``jax.jit``/``jax.vmap``, in ``sg.initial_state``). For convenience the first argument may also be an int
seed: ``glorot_uniform()(0, (3, 2))``. The same key (or seed), shape and dtype always give the same array.
Factories are memoised (``glorot_uniform() is glorot_uniform()``), so layers of one shape share one
compiled initializer.

Fans: for a shape ``(..., fan_in, fan_out)`` the receptive field is the product of the leading dimensions,
so ``fan_in = receptive * shape[-2]`` and ``fan_out = receptive * shape[-1]``: right for Dense weights
``(in, out)`` and for convolution kernels ``(kh, kw, in, out)`` (HWIO) alike.

The variance-scaling and orthogonal initializers are those of ``jax.nn.initializers``; this module adds
argument checks, seeds, readable reprs and lookup by name (:func:`get`).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symgraph import rng
from symgraph.errors import ShapeError
from symgraph.nodes import canonical_dtype


class Initializer:
    """An ``init(key_or_seed, shape, dtype="float32")`` callable with a readable repr.

    Args:
        fn: ``fn(key, shape, dtype)`` returning an array of exactly ``shape`` and ``dtype``.
        description: what ``repr`` shows, e.g. ``"orthogonal(gain=1.414)"``.
        min_rank: the smallest shape rank ``fn`` accepts (2 for fan-based and orthogonal initializers).
    """

    def __init__(self, fn, description, min_rank=0):
        self.fn = fn
        self.description = description
        self.min_rank = min_rank
        # one compiled program per (shape, dtype) instead of one eager dispatch per primitive
        self._compiled = jax.jit(fn, static_argnums=(1, 2))

    def __call__(self, key, shape, dtype="float32"):
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            key = rng.key_from_seed(key)
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        try:
            shape = tuple(shape)
        except TypeError:
            raise ShapeError(f"initializer {self.description}: shape must be a tuple of ints, got "
                             f"{shape!r}") from None
        if any(isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0 for d in shape):
            raise ShapeError(f"initializer {self.description}: shape must hold non-negative ints (known "
                             f"sizes), got {shape!r}")
        shape = tuple(int(d) for d in shape)
        if len(shape) < self.min_rank:
            raise ShapeError(
                f"initializer {self.description} needs a shape of rank >= {self.min_rank} "
                f"(..., fan_in, fan_out), got {shape}; use normal/uniform/constant for vectors")
        return self._compiled(key, shape, canonical_dtype(dtype))

    def __repr__(self):
        return self.description


def _number(value, name, owner, positive=False):
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value}")
    if not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    return float(value)


@functools.cache
def zeros():
    """All zeros (the usual bias initializer)."""
    return Initializer(jax.nn.initializers.zeros, "zeros()")


@functools.cache
def ones():
    """All ones (the usual scale initializer of normalisation layers)."""
    return Initializer(jax.nn.initializers.ones, "ones()")


@functools.cache
def constant(value):
    """Every entry equal to ``value``."""
    value = _number(value, "value", "constant")
    return Initializer(jax.nn.initializers.constant(value), f"constant({value!r})")


@functools.cache
def normal(std=0.01, mean=0.0):
    """Gaussian entries ``mean + std * N(0, 1)``."""
    std = _number(std, "std", "normal", positive=True)
    mean = _number(mean, "mean", "normal")
    base = jax.nn.initializers.normal(std)

    def init(key, shape, dtype):
        return base(key, shape, dtype) + jnp.asarray(mean, dtype)

    return Initializer(init if mean else base, f"normal(std={std!r}, mean={mean!r})")


@functools.cache
def uniform(scale=0.05):
    """Entries uniform in ``[-scale, scale)``.

    Symmetric, unlike ``jax.nn.initializers.uniform(scale)`` which draws in ``[0, scale)``.
    """
    scale = _number(scale, "scale", "uniform", positive=True)

    def init(key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return Initializer(init, f"uniform(scale={scale!r})")


@functools.cache
def variance_scaling(scale, mode, distribution):
    """Entries of variance ``scale / n`` with ``n`` the fan given by ``mode`` (``jax.nn.initializers``).

    Args:
        scale: the variance numerator.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"`` (the mean of both).
        distribution: ``"uniform"``, ``"normal"`` or ``"truncated_normal"`` (two-sigma truncation, with the
            standard deviation corrected so the variance is still ``scale / n``).
    """
    scale = _number(scale, "scale", "variance_scaling", positive=True)
    modes, distributions = ("fan_in", "fan_out", "fan_avg"), ("uniform", "normal", "truncated_normal")
    if mode not in modes:
        raise ValueError(f"variance_scaling: mode must be one of {list(modes)}, got {mode!r}")
    if distribution not in distributions:
        raise ValueError(f"variance_scaling: distribution must be one of {list(distributions)}, got "
                         f"{distribution!r}")
    return Initializer(jax.nn.initializers.variance_scaling(scale, mode, distribution),
                       f"variance_scaling({scale!r}, {mode!r}, {distribution!r})", min_rank=2)


@functools.cache
def glorot_uniform():
    """Glorot/Xavier uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``, variance
    ``2 / (fan_in + fan_out)`` (Glorot & Bengio 2010, "Understanding the difficulty of training deep
    feedforward neural networks")."""
    return Initializer(jax.nn.initializers.glorot_uniform(), "glorot_uniform()", min_rank=2)


@functools.cache
def glorot_normal():
    """Glorot/Xavier normal: variance ``2 / (fan_in + fan_out)`` (truncated normal, Glorot & Bengio 2010)."""
    return Initializer(jax.nn.initializers.glorot_normal(), "glorot_normal()", min_rank=2)


@functools.cache
def he_uniform():
    """He/Kaiming uniform: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``, variance ``2 / fan_in``, suited to
    ReLU networks (He et al. 2015, "Delving deep into rectifiers")."""
    return Initializer(jax.nn.initializers.he_uniform(), "he_uniform()", min_rank=2)


@functools.cache
def he_normal():
    """He/Kaiming normal: variance ``2 / fan_in`` (truncated normal, He et al. 2015)."""
    return Initializer(jax.nn.initializers.he_normal(), "he_normal()", min_rank=2)


@functools.cache
def orthogonal(gain=1.0):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014, "Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks").

    The shape is viewed as a ``(prod(shape[:-1]), shape[-1])`` matrix ``W``: ``W.T @ W = gain**2 I`` when it
    has at least as many rows as columns, ``W @ W.T = gain**2 I`` otherwise. ``gain=sqrt(2)`` is the usual
    choice for ReLU/tanh hidden layers in RL, 0.01 for policy heads.
    """
    gain = _number(gain, "gain", "orthogonal")
    base = jax.nn.initializers.orthogonal(scale=gain)

    def init(key, shape, dtype):
        # the QR decomposition has no half-precision kernels: draw in float32, then cast
        wide = jnp.promote_types(dtype, jnp.float32)
        return base(key, shape, wide).astype(dtype)

    return Initializer(init, f"orthogonal(gain={gain!r})", min_rank=2)


_FACTORIES = {
    "zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform, "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal, "he_uniform": he_uniform, "he_normal": he_normal,
    "orthogonal": orthogonal,
    "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
}


def get(init, argument="init"):
    """An initializer from a flexible description.

    Accepts an :class:`Initializer` or any ``init(key, shape, dtype)`` callable (returned as is), one of the
    factories of this module not yet called (``glorot_uniform`` is taken as ``glorot_uniform()``), its name
    (``"orthogonal"``, with default arguments), or a number (``constant(number)``). Anything else raises.
    """
    if isinstance(init, str):
        if init not in _FACTORIES:
            raise ValueError(f"unknown initializer {init!r} for {argument}; valid names: "
                             f"{sorted(_FACTORIES)}")
        return _FACTORIES[init]()
    if init is constant or init is variance_scaling:
        raise TypeError(f"{argument}: {init.__name__} needs arguments, e.g. nn.initializers.constant(0.1)")
    if any(init is factory for factory in _FACTORIES.values()):
        return init()
    if isinstance(init, int | float | np.integer | np.floating) and not isinstance(init, bool):
        return constant(init)
    if callable(init):
        return init
    raise TypeError(f"{argument} must be an initializer (e.g. nn.initializers.orthogonal(1.0)), its name, or "
                    f"a number; got {type(init).__name__} {init!r}")
