"""Elementwise maths, comparisons and reductions on nodes (numpy names, ``jax.numpy`` semantics)."""

import jax
import jax.numpy as jnp

from symgraph.nodes import _axis, apply, canonical_dtype


def _unary(fn, name, doc):
    def op(x):
        return apply(fn, (x,), name=name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _binary(fn, name, doc):
    def op(x, y):
        return apply(fn, (x, y), name=name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _with_options(fn, name, x, axis, keepdims, options):
    """The op of ``fn`` given ``jax.numpy``'s other keyword arguments (``dtype``, ``where``, ``initial``...),
    built by the generic wrapper (a ``where`` node becomes an operand)."""
    from symgraph.tensor import wrap

    return wrap.wrap(wrap.Spec(fn, name, "array"), f"jax.numpy.{name}")(x, axis=_axis(axis), keepdims=keepdims,
                                                                         **options)


def _reduction(fn, name, doc):
    def op(x, axis=None, keepdims=False, **options):
        if options:
            return _with_options(fn, name, x, axis, keepdims, options)
        return apply(fn, (x,), {"axis": _axis(axis), "keepdims": keepdims}, name=name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (doc + " over ``axis`` (None: all), keeping reduced axes if ``keepdims``; other keyword "
                  f"arguments are those of ``jax.numpy.{name}`` (e.g. ``where=``).")
    return op


abs = _unary(jnp.abs, "abs", "Elementwise absolute value.")
exp = _unary(jnp.exp, "exp", "Elementwise exponential.")
log = _unary(jnp.log, "log", "Elementwise natural logarithm.")
log1p = _unary(jnp.log1p, "log1p", "Elementwise log(1 + x), accurate for small x.")
expm1 = _unary(jnp.expm1, "expm1", "Elementwise exp(x) - 1, accurate for small x.")
sqrt = _unary(jnp.sqrt, "sqrt", "Elementwise square root.")
square = _unary(jnp.square, "square", "Elementwise square.")
sin = _unary(jnp.sin, "sin", "Elementwise sine.")
cos = _unary(jnp.cos, "cos", "Elementwise cosine.")
tan = _unary(jnp.tan, "tan", "Elementwise tangent.")
tanh = _unary(jnp.tanh, "tanh", "Elementwise hyperbolic tangent.")
arctanh = _unary(jnp.arctanh, "arctanh", "Elementwise inverse hyperbolic tangent.")
sign = _unary(jnp.sign, "sign", "Elementwise sign (-1, 0 or 1).")
floor = _unary(jnp.floor, "floor", "Elementwise floor.")
ceil = _unary(jnp.ceil, "ceil", "Elementwise ceiling.")
negative = _unary(jnp.negative, "negative", "Elementwise negation.")
reciprocal = _unary(jnp.reciprocal, "reciprocal", "Elementwise 1 / x.")
isnan = _unary(jnp.isnan, "isnan", "Elementwise test for NaN.")
isfinite = _unary(jnp.isfinite, "isfinite", "Elementwise test for finite values (not inf, not NaN).")
logical_not = _unary(jnp.logical_not, "logical_not", "Elementwise logical not.")
stop_gradient = _unary(jax.lax.stop_gradient, "stop_gradient",
                       "Identity whose gradient is zero: the value is treated as a constant by gradients().")

add = _binary(jnp.add, "add", "Elementwise x + y (broadcasting).")
subtract = _binary(jnp.subtract, "subtract", "Elementwise x - y (broadcasting).")
multiply = _binary(jnp.multiply, "multiply", "Elementwise x * y (broadcasting).")
divide = _binary(jnp.true_divide, "divide", "Elementwise x / y (broadcasting).")
floor_divide = _binary(jnp.floor_divide, "floor_divide", "Elementwise x // y (broadcasting).")
mod = _binary(jnp.mod, "mod", "Elementwise x % y (broadcasting).")
power = _binary(jnp.power, "power", "Elementwise x ** y (broadcasting).")
maximum = _binary(jnp.maximum, "maximum", "Elementwise maximum (broadcasting).")
minimum = _binary(jnp.minimum, "minimum", "Elementwise minimum (broadcasting).")
arctan2 = _binary(jnp.arctan2, "arctan2", "Elementwise arctan(x / y) with the quadrant of (y, x).")
equal = _binary(jnp.equal, "equal", "Elementwise x == y (``==`` on nodes is identity, so use this).")
not_equal = _binary(jnp.not_equal, "not_equal", "Elementwise x != y.")
less = _binary(jnp.less, "less", "Elementwise x < y.")
less_equal = _binary(jnp.less_equal, "less_equal", "Elementwise x <= y.")
greater = _binary(jnp.greater, "greater", "Elementwise x > y.")
greater_equal = _binary(jnp.greater_equal, "greater_equal", "Elementwise x >= y.")
logical_and = _binary(jnp.logical_and, "logical_and", "Elementwise logical and.")
logical_or = _binary(jnp.logical_or, "logical_or", "Elementwise logical or.")

sum = _reduction(jnp.sum, "sum", "Sum")
mean = _reduction(jnp.mean, "mean", "Mean")
max = _reduction(jnp.max, "max", "Maximum")
min = _reduction(jnp.min, "min", "Minimum")
prod = _reduction(jnp.prod, "prod", "Product")
all = _reduction(jnp.all, "all", "Logical and")
any = _reduction(jnp.any, "any", "Logical or")
logsumexp = _reduction(jax.scipy.special.logsumexp, "logsumexp", "log(sum(exp(x))), computed stably,")


def round(x, decimals=0):
    """Elementwise rounding to ``decimals`` decimal places (default: the nearest integer; half to even)."""
    return apply(jnp.round, (x,), {"decimals": decimals} if decimals else {}, name="round")


def var(x, axis=None, keepdims=False, ddof=0, **options):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (0: population variance); other keyword
    arguments are those of ``jax.numpy.var`` (e.g. ``where=``)."""
    if options:
        return _with_options(jnp.var, "var", x, axis, keepdims, dict(options, ddof=ddof))
    return apply(jnp.var, (x,), {"axis": _axis(axis), "keepdims": keepdims, "ddof": ddof}, name="var")


def std(x, axis=None, keepdims=False, ddof=0, **options):
    """Standard deviation over ``axis`` with ``ddof`` delta degrees of freedom; other keyword arguments are
    those of ``jax.numpy.std`` (e.g. ``where=``)."""
    if options:
        return _with_options(jnp.std, "std", x, axis, keepdims, dict(options, ddof=ddof))
    return apply(jnp.std, (x,), {"axis": _axis(axis), "keepdims": keepdims, "ddof": ddof}, name="std")


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis`` (None: of the flattened tensor)."""
    return apply(jnp.argmax, (x,), {"axis": axis, "keepdims": keepdims}, name="argmax")


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis`` (None: of the flattened tensor)."""
    return apply(jnp.argmin, (x,), {"axis": axis, "keepdims": keepdims}, name="argmin")


def cumsum(x, axis=None, reverse=False):
    """Cumulative sum along ``axis`` (None: flattened); ``reverse`` sums from the end."""
    if reverse:
        return apply(_reverse_cumsum, (x,), {"axis": axis}, name="cumsum")
    return apply(jnp.cumsum, (x,), {"axis": axis}, name="cumsum")


def _reverse_cumsum(x, axis):
    if axis is None:
        x, axis = x.reshape(-1), 0
    return jnp.flip(jnp.cumsum(jnp.flip(x, axis), axis), axis)


def clip(x, min=None, max=None):
    """Clamp values into ``[min, max]`` (either bound may be None, a number or a node)."""
    return apply(_clip, (x, min if min is not None else -jnp.inf, max if max is not None else jnp.inf),
                 name="clip")


def _clip(x, low, high):
    return jnp.clip(x, low, high).astype(jnp.result_type(x))


def where(condition, x, y):
    """Elementwise ``x`` where ``condition`` holds, else ``y`` (broadcasting)."""
    return apply(jnp.where, (condition, x, y), name="where")


def cast(x, dtype):
    """``x`` converted to ``dtype``."""
    return apply(_cast, (x,), {"dtype": canonical_dtype(dtype)}, name="cast")


def _cast(x, dtype):
    return jnp.asarray(x).astype(dtype)
