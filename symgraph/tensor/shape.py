"""Reshaping, joining and rearranging nodes."""

import jax.numpy as jnp
import numpy as np

from symgraph.errors import ShapeError
from symgraph.nodes import Tensor, _axis, apply


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def reshape(x, shape):
    """``x`` with a new shape of the same size (one dimension may be -1)."""
    return apply(jnp.reshape, (x,), {"shape": _shape(shape)}, name="reshape")


def flatten(x, start_axis=1):
    """Merge the axes from ``start_axis`` on into one: by default keep the batch axis, ``(B, H, W) -> (B, H*W)``.

    SymJAX's and numpy's flatten merge all axes: that is ``T.ravel(x)``, ``x.flatten()`` or
    ``T.flatten(x, start_axis=0)``. A tensor of fewer than ``start_axis + 1`` axes raises (flattening a
    vector "from axis 1" is almost certainly meant as ``T.ravel``)."""
    ndim = x.ndim if isinstance(x, Tensor) else np.ndim(x)
    if isinstance(start_axis, int) and -ndim <= start_axis < 0:
        start_axis += ndim
    if not isinstance(start_axis, int) or not 0 <= start_axis < max(ndim, 1):
        raise ShapeError(f"T.flatten: start_axis={start_axis!r} but the tensor has {ndim} axes; T.flatten keeps "
                         "the axes before start_axis (default 1: the batch axis); to flatten all axes (SymJAX's "
                         "and numpy's flatten) use T.ravel(x), x.flatten() or T.flatten(x, start_axis=0)")
    return apply(_flatten, (x,), {"start_axis": start_axis}, name="flatten")


def _flatten(x, start_axis):
    return x.reshape(x.shape[:start_axis] + (-1,))


def transpose(x, axes=None):
    """Permute the axes (None: reverse them)."""
    return apply(jnp.transpose, (x,), {"axes": None if axes is None else tuple(axes)}, name="transpose")


def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    return apply(jnp.swapaxes, (x,), {"axis1": axis1, "axis2": axis2}, name="swapaxes")


def expand_dims(x, axis):
    """Insert a size-1 axis at ``axis``."""
    return apply(jnp.expand_dims, (x,), {"axis": _axis(axis)}, name="expand_dims")


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    return apply(jnp.squeeze, (x,), {"axis": _axis(axis)}, name="squeeze")


def concatenate(tensors, axis=0):
    """Join a sequence of tensors along an existing axis."""
    return apply(_concatenate, tuple(tensors), {"axis": axis}, name="concatenate")


def _concatenate(*tensors, axis):
    return jnp.concatenate(tensors, axis=axis)


def stack(tensors, axis=0):
    """Join a sequence of same-shaped tensors along a new axis."""
    return apply(_stack, tuple(tensors), {"axis": axis}, name="stack")


def _stack(*tensors, axis):
    return jnp.stack(tensors, axis=axis)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``."""
    return apply(jnp.broadcast_to, (x,), {"shape": _shape(shape)}, name="broadcast_to")


def tile(x, reps):
    """Repeat the whole tensor ``reps`` times along each axis."""
    return apply(jnp.tile, (x,), {"reps": _shape(reps)}, name="tile")


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis``."""
    return apply(jnp.repeat, (x,), {"repeats": repeats, "axis": axis}, name="repeat")


def flip(x, axis=None):
    """Reverse the order of elements along ``axis`` (None: all axes)."""
    return apply(jnp.flip, (x,), {"axis": _axis(axis)}, name="flip")
