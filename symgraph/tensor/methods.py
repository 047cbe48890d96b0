"""Methods and properties of nodes that mirror ``jax.Array``'s (``x.dot(y)``, ``x.std(ddof=1)``, ``x.mT``,
``x.at[i].set(v)``...), looked up by ``Tensor.__getattr__``. Each method is the ``jax.numpy`` function of
the same name with the node as its first argument (``x.flatten()`` flattens all axes, as ``jax.Array``'s,
unlike ``T.flatten``, which keeps the batch axis). ``reshape``, ``astype``, ``sum``, ``mean``, ``max``,
``min``, ``T``, ``get`` and the shape attributes are defined on ``Tensor`` itself.
"""

import jax.numpy as jnp
import numpy as np

from symgraph.nodes import apply
from symgraph.tensor import renames, wrap

#: Method name -> the ``jax.numpy`` function it calls with the node first.
METHODS = {name: getattr(jnp, name) for name in (
    "all any argmax argmin argpartition argsort choose clip conj conjugate copy cumprod cumsum "
    "diagonal dot nonzero prod ptp ravel repeat round searchsorted sort squeeze std swapaxes take trace "
    "var").split()}
METHODS["flatten"] = jnp.ravel

#: Property name -> the ``jax.numpy`` function computing it.
PROPERTIES = {"real": jnp.real, "imag": jnp.imag, "mT": jnp.matrix_transpose}

_BOUND = {}


def _bound(name, fn):
    if name not in _BOUND:
        _BOUND[name] = wrap.wrap(wrap.Spec(fn, name, "array"), f"Tensor.{name}")
    return _BOUND[name]


def transpose(x, *axes):
    """``x.transpose(1, 0)`` or ``x.transpose((1, 0))``: permute the axes (none given: reverse them)."""
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list | type(None)) else axes
    return apply(jnp.transpose, (x,), {"axes": tuple(axes) if axes else None}, name="transpose")


def clone(x, replace=None):
    """SymJAX's ``x.clone(givens)``: ``symgraph.clone(x, replace)``; without ``replace``, a copy node."""
    if replace is None:
        return apply(jnp.copy, (x,), name="copy")
    from symgraph.clone import clone as clone_graph

    return clone_graph(x, replace)


class _At:
    """``x.at[key]``: a functional indexed update of a copy of ``x``, as ``jax.Array.at``."""

    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, key):
        return _AtKey(self.x, key)


class _AtKey:
    __slots__ = ("x", "key")

    def __init__(self, x, key):
        self.x, self.key = x, key

    def _update(self, method, values=None, **kwargs):
        key = self.key if isinstance(self.key, tuple) else (self.key,)
        structure, dynamic = [], []
        for entry in key:
            static = entry is None or entry is Ellipsis or isinstance(entry, int | np.integer | slice)
            structure.append(("static", entry) if static else ("dynamic", None))
            if not static:
                dynamic.append(entry)
        operands = (self.x, *dynamic) if method == "get" else (self.x, values, *dynamic)
        return apply(_at, operands, {"structure": tuple(structure), "method": method,
                                     "kwargs": tuple(sorted(kwargs.items()))}, name=f"at_{method}")

    def get(self, **kwargs):
        """``x[key]`` with JAX's out-of-bounds ``mode``/``fill_value`` options."""
        return self._update("get", **kwargs)

    def set(self, values, **kwargs):
        """A copy of ``x`` with ``x[key] = values``."""
        return self._update("set", values, **kwargs)

    def add(self, values, **kwargs):
        """A copy of ``x`` with ``values`` added at ``key`` (repeated indices accumulate)."""
        return self._update("add", values, **kwargs)

    def multiply(self, values, **kwargs):
        """A copy of ``x`` with ``x[key]`` multiplied by ``values``."""
        return self._update("multiply", values, **kwargs)

    def divide(self, values, **kwargs):
        """A copy of ``x`` with ``x[key]`` divided by ``values``."""
        return self._update("divide", values, **kwargs)

    def power(self, values, **kwargs):
        """A copy of ``x`` with ``x[key]`` raised to ``values``."""
        return self._update("power", values, **kwargs)

    def min(self, values, **kwargs):
        """A copy of ``x`` with ``x[key] = minimum(x[key], values)``."""
        return self._update("min", values, **kwargs)

    def max(self, values, **kwargs):
        """A copy of ``x`` with ``x[key] = maximum(x[key], values)``."""
        return self._update("max", values, **kwargs)


def _at(x, *rest, structure, method, kwargs):
    values, dynamic = (None, rest) if method == "get" else (rest[0], rest[1:])
    parts = iter(dynamic)
    key = tuple(next(parts) if kind == "dynamic" else entry for kind, entry in structure)
    ref = x.at[key]
    return ref.get(**dict(kwargs)) if method == "get" else getattr(ref, method)(values, **dict(kwargs))


def attribute(node, name):
    """The value of ``node.name`` for the names this module adds, else an AttributeError (which names the
    symgraph spelling of a SymJAX name)."""
    if name in METHODS:
        op = _bound(name, METHODS[name])
        return lambda *args, **kwargs: op(node, *args, **kwargs)
    if name in PROPERTIES:
        return _bound(name, PROPERTIES[name])(node)
    if name == "compress":  # jax.Array.compress(condition) is jnp.compress(condition, array)
        op = _bound("compress", jnp.compress)
        return lambda condition, *args, **kwargs: op(condition, node, *args, **kwargs)
    if name == "transpose":
        return lambda *axes: transpose(node, *axes)
    if name == "clone":
        return lambda replace=None: clone(node, replace)
    if name == "at":
        return _At(node)
    if name == "size":
        shape = node.shape
        return None if None in shape else int(np.prod(shape, dtype=np.int64))
    raise renames.attribute_error("Tensor", name)


#: Every name :func:`attribute` answers (for ``dir`` and the documentation).
NAMES = tuple(sorted([*METHODS, *PROPERTIES, "compress", "transpose", "clone", "at", "size"]))

__all__ = ["attribute", "METHODS", "PROPERTIES", "NAMES", "transpose", "clone"]
