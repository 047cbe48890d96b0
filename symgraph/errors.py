"""Exceptions raised by symgraph.

Every message says what was wrong, which node/argument/shape was involved, and how to fix it. Each class
also derives from the builtin exception a Python user would expect (``ValueError``, ``TypeError``...), so
``except ValueError`` keeps working.
"""


class SymgraphError(Exception):
    """Base class of every error raised by symgraph."""


class ShapeError(SymgraphError, ValueError):
    """Operands whose shapes do not fit the operation, found when the node is built or the function called."""


class DTypeError(SymgraphError, TypeError):
    """An operand, input or update has a dtype the operation cannot take."""


class InputError(SymgraphError, ValueError):
    """A compiled function got missing, extra, duplicated or malformed inputs."""


class UpdateError(SymgraphError, ValueError):
    """An ``updates`` entry is not a Variable, or its new value has another shape/dtype."""


class GradientError(SymgraphError, ValueError):
    """A gradient was asked of a non-scalar/non-float cost, or with respect to a disconnected node."""


class ScopeError(SymgraphError, ValueError):
    """A scope, graph or name was used in a way the graph bookkeeping does not allow."""


class SaveLoadError(SymgraphError, ValueError):
    """A variables file is missing entries or holds entries of the wrong shape."""


def describe(value):
    """A short human description of a node or value, for error messages: ``name: shape dtype``."""
    from symgraph.nodes import Tensor

    if isinstance(value, Tensor):
        return f"{value.name!r} (shape {format_shape(value.shape)}, {value.dtype})"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        return f"an array of shape {format_shape(shape)} and dtype {dtype}"
    return f"{type(value).__name__} {value!r}"


def format_shape(shape):
    """``(None, 3)`` style, with ``None`` for unknown dimensions."""
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"
