"""Nodes made from shapes and values: filled tensors, ranges, one-hot encodings."""

import jax
import jax.numpy as jnp

from symgraph.nodes import apply, canonical_dtype


def _dtype(dtype):
    return None if dtype is None else canonical_dtype(dtype)


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def zeros(shape, dtype="float32"):
    """A tensor of zeros of a static shape."""
    return apply(jnp.zeros, (), {"shape": _shape(shape), "dtype": _dtype(dtype)}, name="zeros")


def ones(shape, dtype="float32"):
    """A tensor of ones of a static shape."""
    return apply(jnp.ones, (), {"shape": _shape(shape), "dtype": _dtype(dtype)}, name="ones")


def full(shape, fill_value, dtype=None):
    """A tensor of a static shape filled with ``fill_value`` (a number or a scalar node)."""
    return apply(_full, (fill_value,), {"shape": _shape(shape), "dtype": _dtype(dtype)}, name="full")


def _full(fill_value, shape, dtype):
    return jnp.full(shape, fill_value, dtype=dtype)


def zeros_like(x, dtype=None):
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    return apply(jnp.zeros_like, (x,), {"dtype": _dtype(dtype)}, name="zeros_like")


def ones_like(x, dtype=None):
    """Ones with the shape (and dtype, unless given) of ``x``."""
    return apply(jnp.ones_like, (x,), {"dtype": _dtype(dtype)}, name="ones_like")


def full_like(x, fill_value, dtype=None):
    """``fill_value`` with the shape (and dtype, unless given) of ``x``."""
    return apply(_full_like, (x, fill_value), {"dtype": _dtype(dtype)}, name="full_like")


def _full_like(x, fill_value, dtype):
    return jnp.full_like(x, fill_value, dtype=dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in ``[start, stop)`` (static Python numbers)."""
    return apply(jnp.arange, (), {"start": start, "stop": stop, "step": step, "dtype": _dtype(dtype)},
                 name="arange")


def linspace(start, stop, num=50, endpoint=True, dtype="float32"):
    """``num`` evenly spaced values from ``start`` to ``stop`` (static Python numbers)."""
    return apply(jnp.linspace, (), {"start": start, "stop": stop, "num": num, "endpoint": endpoint,
                                    "dtype": _dtype(dtype)}, name="linspace")


def eye(n, m=None, k=0, dtype="float32"):
    """The ``n`` x ``m`` matrix with ones on its ``k``-th diagonal (default: the identity)."""
    return apply(jnp.eye, (), {"N": n, "M": m, "k": k, "dtype": _dtype(dtype)}, name="eye")


def one_hot(x, num_classes, dtype="float32"):
    """One-hot encoding of integer indices: a new last axis of size ``num_classes``."""
    return apply(jax.nn.one_hot, (x,), {"num_classes": num_classes, "dtype": _dtype(dtype)}, name="one_hot")
