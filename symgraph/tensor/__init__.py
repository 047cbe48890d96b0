"""The numpy-like namespace of symbolic ops: ``import symgraph.tensor as T``.

Every function takes nodes, arrays or Python numbers and returns a node; semantics follow ``jax.numpy``.
Sub-namespaces: ``T.random`` (random draws) and the control flow ``T.scan``, ``T.map``, ``T.cond``,
``T.while_loop``, ``T.vmap``.
"""

from symgraph.tensor import random
from symgraph.tensor.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus
from symgraph.tensor.control import cond, map, scan, vmap, while_loop
from symgraph.tensor.creation import arange, eye, full, full_like, linspace, one_hot, ones, ones_like, zeros, zeros_like
from symgraph.tensor.indexing import add_at, dynamic_slice, set_at, take, take_along_axis
from symgraph.tensor.linalg import cholesky, diagonal, dot, einsum, inv, matmul, norm, outer, tensordot
from symgraph.tensor.math import (
                                         abs,
                                         add,
                                         all,
                                         any,
                                         arctan2,
                                         arctanh,
                                         argmax,
                                         argmin,
                                         cast,
                                         ceil,
                                         clip,
                                         cos,
                                         cumsum,
                                         divide,
                                         equal,
                                         exp,
                                         expm1,
                                         floor,
                                         floor_divide,
                                         greater,
                                         greater_equal,
                                         isfinite,
                                         isnan,
                                         less,
                                         less_equal,
                                         log,
                                         log1p,
                                         logical_and,
                                         logical_not,
                                         logical_or,
                                         logsumexp,
                                         max,
                                         maximum,
                                         mean,
                                         min,
                                         minimum,
                                         mod,
                                         multiply,
                                         negative,
                                         not_equal,
                                         power,
                                         prod,
                                         reciprocal,
                                         round,
                                         sign,
                                         sin,
                                         sqrt,
                                         square,
                                         std,
                                         stop_gradient,
                                         subtract,
                                         sum,
                                         tan,
                                         tanh,
                                         var,
                                         where,
)
from symgraph.tensor.shape import (
                                         broadcast_to,
                                         concatenate,
                                         expand_dims,
                                         flatten,
                                         flip,
                                         repeat,
                                         reshape,
                                         squeeze,
                                         stack,
                                         swapaxes,
                                         tile,
                                         transpose,
)

__all__ = [
    "random", "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus",
    "cond", "map", "scan", "vmap", "while_loop", "arange", "eye", "full", "full_like", "linspace", "one_hot",
    "ones", "ones_like", "zeros", "zeros_like", "add_at", "dynamic_slice", "set_at", "take", "take_along_axis",
    "cholesky", "diagonal", "dot", "einsum", "inv", "matmul", "norm", "outer", "tensordot", "abs", "add", "all",
    "any", "arctan2", "arctanh", "argmax", "argmin", "cast", "ceil", "clip", "cos", "cumsum", "divide", "equal",
    "exp", "expm1", "floor", "floor_divide", "greater", "greater_equal", "isfinite", "isnan", "less",
    "less_equal", "log", "log1p", "logical_and", "logical_not", "logical_or", "logsumexp", "max", "maximum",
    "mean", "min", "minimum", "mod", "multiply", "negative", "not_equal", "power", "prod", "reciprocal", "round",
    "sign", "sin", "sqrt", "square", "std", "stop_gradient", "subtract", "sum", "tan", "tanh", "var", "where",
    "broadcast_to", "concatenate", "expand_dims", "flatten", "flip", "repeat", "reshape", "squeeze", "stack",
    "swapaxes", "tile", "transpose",
]
