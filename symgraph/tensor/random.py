"""Random nodes. Each draws from the compiled function's per-call key folded with its own salt, so two random
nodes in one graph are independent, two calls draw different numbers, and a fixed ``function(seed=...)``
reproduces them. Inside a ``T.scan``/``T.while_loop`` body the key is folded with the iteration index too.

``shape`` is a tuple of ints, or a node whose (call-time) shape is used, e.g. ``normal(shape=x)``.
"""

import jax
import jax.numpy as jnp

from symgraph.graph import get_graph
from symgraph.nodes import Tensor, apply, canonical_dtype


def _random(sampler, name, shape, operands=(), **params):
    """Node ``sampler(key, shape, *operands, **params)`` with a fresh salt."""
    like = isinstance(shape, Tensor)
    graph = get_graph()
    args = (graph.random_key_node(), *((shape,) if like else ()), *operands)
    if not like:
        shape = None if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
        if shape is not None and any(d is None for d in shape):
            raise ValueError(f"T.random.{name}: shape {shape} has unknown (None) dimensions; pass shape=<a node "
                             "of the wanted shape> to take it at call time")
    return apply(_draw, args, {"sampler": sampler, "shape": shape, "like": like, "salt": graph.next_random_salt(),
                                 **params},
                 name=name)


def _draw(key, *operands, sampler, shape, like, salt, **params):
    key = jax.random.fold_in(key, salt)
    if like:
        shape, operands = operands[0].shape, operands[1:]
    return sampler(key, shape, *operands, **params)


def _normal(key, shape, mean, std, dtype):
    shape = jnp.broadcast_shapes(jnp.shape(mean), jnp.shape(std)) if shape is None else shape
    return mean + std * jax.random.normal(key, shape, dtype)


def _uniform(key, shape, low, high, dtype):
    shape = jnp.broadcast_shapes(jnp.shape(low), jnp.shape(high)) if shape is None else shape
    return jax.random.uniform(key, shape, dtype, low, high)


def _categorical(key, shape, logits, axis):
    return jax.random.categorical(key, logits, axis=axis, shape=shape)


def _bernoulli(key, shape, p):
    return jax.random.bernoulli(key, p, shape)


def _randint(key, shape, low, high, dtype):
    return jax.random.randint(key, shape, low, high, dtype)


def _permutation(key, shape, x, axis):
    return jax.random.permutation(key, x, axis=axis)


def _gumbel(key, shape, dtype):
    return jax.random.gumbel(key, shape, dtype)


def normal(shape=None, mean=0.0, std=1.0, dtype="float32"):
    """Gaussian samples ``mean + std * N(0, 1)`` (shape: given, or that of mean/std broadcast)."""
    return _random(_normal, "normal", shape, (mean, std), dtype=canonical_dtype(dtype))


def uniform(shape=None, low=0.0, high=1.0, dtype="float32"):
    """Uniform samples in ``[low, high)``."""
    return _random(_uniform, "uniform", shape, (low, high), dtype=canonical_dtype(dtype))


def categorical(logits, axis=-1, shape=None):
    """Category indices sampled with probabilities ``softmax(logits)`` along ``axis``."""
    return _random(_categorical, "categorical", shape, (logits,), axis=axis)


def bernoulli(p, shape=None):
    """Booleans that are True with probability ``p``."""
    return _random(_bernoulli, "bernoulli", shape, (p,))


def randint(shape, low, high, dtype="int32"):
    """Integers uniform in ``[low, high)``."""
    return _random(_randint, "randint", shape, (low, high), dtype=canonical_dtype(dtype))


def permutation(x, axis=0):
    """A random permutation of ``x`` along ``axis`` (an int ``x``: of ``arange(x)``)."""
    if isinstance(x, int):
        x = jnp.arange(x)
    return _random(_permutation, "permutation", None, (x,), axis=axis)


def gumbel(shape, dtype="float32"):
    """Standard Gumbel samples."""
    return _random(_gumbel, "gumbel", shape, dtype=canonical_dtype(dtype))
