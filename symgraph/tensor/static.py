"""The ``jax.numpy`` functions whose answer is a Python value known when the graph is built (shapes, dtypes),
and ``vectorize``, which makes a function of nodes."""

import jax.numpy as jnp
import numpy as np

from symgraph.nodes import Tensor
from symgraph.tensor import wrap


def _dtype_of(value):
    return value.dtype if isinstance(value, Tensor) else value


def _shape_of(x):
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def shape(a):
    """The shape of ``a`` as a tuple (``None`` for a size known only at call time)."""
    return _shape_of(a)


def ndim(a):
    """The number of axes of ``a``."""
    return len(_shape_of(a))


def size(a, axis=None):
    """The number of elements of ``a`` (along ``axis`` if given); None if it is known only at call time."""
    dims = _shape_of(a)
    dims = dims if axis is None else tuple(dims[i] for i in ((axis,) if isinstance(axis, int) else axis))
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


def isscalar(element):
    """Whether ``element`` is a scalar (a node of no axes, or a Python/numpy scalar)."""
    return ndim(element) == 0 if isinstance(element, Tensor) else bool(jnp.isscalar(element))


def iscomplexobj(x):
    """Whether ``x`` has a complex dtype."""
    return jnp.issubdtype(_dtype_of(x) if isinstance(x, Tensor) else np.asarray(x).dtype, jnp.complexfloating)


def isrealobj(x):
    """Whether ``x`` does not have a complex dtype."""
    return not iscomplexobj(x)


def iterable(y):
    """Whether ``y`` can be iterated over (a node: if it has a first axis)."""
    return ndim(y) > 0 if isinstance(y, Tensor) else bool(jnp.iterable(y))


def result_type(*args):
    """The dtype JAX gives the result of combining ``args`` (nodes, arrays, dtypes or numbers)."""
    return jnp.result_type(*(_dtype_of(a) for a in args))


def can_cast(from_, to, casting="safe"):
    """Whether a value of ``from_`` (a node or a dtype) can be cast to ``to`` under the ``casting`` rule."""
    return bool(jnp.can_cast(_dtype_of(from_), _dtype_of(to), casting=casting))


def promote_types(a, b):
    """The dtype both ``a`` and ``b`` (nodes or dtypes) promote to."""
    return jnp.promote_types(_dtype_of(a), _dtype_of(b))


def issubdtype(arg1, arg2):
    """Whether dtype ``arg1`` (or a node's dtype) is below ``arg2`` in the dtype hierarchy."""
    return bool(jnp.issubdtype(_dtype_of(arg1), arg2))


def isdtype(dtype, kind):
    """Whether ``dtype`` (or a node's dtype) is of ``kind`` (``"real floating"``, ``jnp.int32``...)."""
    return bool(jnp.isdtype(_dtype_of(dtype), kind))


def broadcast_shapes(*shapes):
    """The shape the given shapes (tuples, or nodes' shapes) broadcast to."""
    return tuple(jnp.broadcast_shapes(*(_shape_of(s) if isinstance(s, Tensor) else s for s in shapes)))


def vectorize(pyfunc, excluded=frozenset(), signature=None):
    """``jax.numpy.vectorize`` for nodes: returns a function of nodes building one op that applies
    ``pyfunc`` (a function of JAX arrays) with numpy broadcasting and the generalised ``signature``."""
    spec = wrap.Spec(jnp.vectorize(pyfunc, excluded=excluded, signature=signature),
                     getattr(pyfunc, "__name__", "vectorize"), "array")
    spec.qualified = f"T.vectorize({spec.name})"
    return wrap.wrap(spec, spec.qualified)
