"""``T.linalg``: ``jax.numpy.linalg`` on nodes (decompositions, solvers, norms), from the table of
``symgraph.tensor.numpy_table``; ``norm``, ``cholesky`` and ``inv`` are written by hand (also in ``T``).
Decompositions return tuples of nodes (``q, r = T.linalg.qr(x)``, ``T.linalg.svd(x).S``)."""

import jax.numpy as jnp

from symgraph.nodes import _axis, apply
from symgraph.tensor import numpy_table, renames, wrap


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (``jax.numpy.linalg.norm``): by default the 2-norm of the flattened tensor."""
    return apply(jnp.linalg.norm, (x,), {"ord": ord, "axis": _axis(axis), "keepdims": keepdims}, name="norm")


def cholesky(x):
    """Lower Cholesky factor of symmetric positive-definite matrices (batched over leading axes)."""
    return apply(jnp.linalg.cholesky, (x,), name="cholesky")


def inv(x):
    """Matrix inverse (batched over leading axes)."""
    return apply(jnp.linalg.inv, (x,), name="inv")



globals().update(wrap.build(jnp.linalg, numpy_table.LINALG, "jax.numpy.linalg", skip={"norm", "cholesky", "inv"}))

__all__ = sorted(numpy_table.parse(numpy_table.LINALG))  # norm, cholesky and inv are in the table too
__getattr__ = renames.module_getattr("tensor.linalg")
