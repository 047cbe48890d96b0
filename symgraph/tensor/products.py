"""Products and contractions on nodes (the ``jax.numpy`` names; ``T.linalg`` holds ``jax.numpy.linalg``)."""

import jax.numpy as jnp

from symgraph.nodes import apply


def dot(x, y):
    """numpy ``dot``: inner product of vectors, matrix product of matrices."""
    return apply(jnp.dot, (x, y), name="dot")


def matmul(x, y):
    """Matrix product ``x @ y`` with batch broadcasting over leading axes."""
    return apply(jnp.matmul, (x, y), name="matmul")


def tensordot(x, y, axes=2):
    """Sum of products over the given axes (an int: the last ``axes`` of x with the first of y)."""
    axes = axes if isinstance(axes, int) else tuple(tuple(a) if isinstance(a, list | tuple) else a for a in axes)
    return apply(jnp.tensordot, (x, y), {"axes": axes}, name="tensordot")


def einsum(subscripts, *operands):
    """Einstein summation, e.g. ``einsum("bi,ij->bj", x, w)``."""
    return apply(_einsum, operands, {"subscripts": subscripts}, name="einsum")


def _einsum(*operands, subscripts):
    return jnp.einsum(subscripts, *operands)


def outer(x, y):
    """Outer product of two vectors."""
    return apply(jnp.outer, (x, y), name="outer")


def diagonal(x, offset=0, axis1=0, axis2=1):
    """Diagonal entries of a matrix (or of the given pair of axes)."""
    return apply(jnp.diagonal, (x,), {"offset": offset, "axis1": axis1, "axis2": axis2}, name="diagonal")
