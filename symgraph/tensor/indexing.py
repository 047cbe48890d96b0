"""Gathering and scattering by index nodes (``x[idx]`` with a node index also works)."""

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.nodes import Tensor, apply, check_indices_in_bounds, static_indices


def _check_bounds(x, indices, axis):
    """IndexError if ``indices`` are known now (numbers, lists, arrays, constants) and one lies outside
    ``axis`` of ``x`` (None: the flattened ``x``) where its size is known; JAX would clamp or fill instead."""
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    if axis is None:
        size = None if None in shape else int(np.prod(shape, dtype=np.int64))
        check_indices_in_bounds(x, static_indices(indices), 0, size)
    elif isinstance(axis, int) and -len(shape) <= axis < len(shape):
        check_indices_in_bounds(x, static_indices(indices), axis % len(shape), shape[axis])


def take(x, indices, axis=None):
    """Elements of ``x`` at integer ``indices`` along ``axis`` (None: of the flattened tensor).

    Indices known when the graph is built (numbers, lists, arrays, constants) are checked then: one outside
    the axis raises an IndexError, as numpy does. Indices computed at run time cannot be: an out-of-range
    one gives NaN for floats (JAX's ``mode="fill"``) and the dtype's lowest value for integers."""
    _check_bounds(x, indices, axis)
    return apply(jnp.take, (x, indices), {"axis": axis}, name="take")


def take_along_axis(x, indices, axis):
    """``x`` gathered with ``indices`` of matching rank along ``axis`` (e.g. Q(s, a) from Q(s, .)); indices
    are checked as :func:`take` checks them (a runtime one out of range gives NaN)."""
    _check_bounds(x, indices, axis)
    return apply(jnp.take_along_axis, (x, indices), {"axis": axis}, name="take_along_axis")


def dynamic_slice(x, start_indices, sizes):
    """A block of static ``sizes`` starting at (possibly computed) ``start_indices``, one per axis."""
    return apply(_dynamic_slice, (x, *start_indices), {"sizes": tuple(sizes)}, name="dynamic_slice")


def _dynamic_slice(x, *starts, sizes):
    return jax.lax.dynamic_slice(x, starts, sizes)


def set_at(x, indices, values):
    """A copy of ``x`` with ``x[indices] = values`` (``indices``: an index node/array, or an int, along the
    first axis). Indices known now are checked as :func:`take` checks them; at a runtime index out of range
    the update is dropped (JAX's behaviour)."""
    _check_bounds(x, indices, 0)
    return apply(_set_at, (x, indices, values), name="set_at")


def _set_at(x, indices, values):
    return x.at[indices].set(values)


def add_at(x, indices, values):
    """A copy of ``x`` with ``values`` added at ``indices`` (repeated indices accumulate; checked as
    :func:`set_at` checks them)."""
    _check_bounds(x, indices, 0)
    return apply(_add_at, (x, indices, values), name="add_at")


def _add_at(x, indices, values):
    return x.at[indices].add(values)
