"""The numpy-like namespace of symbolic ops: ``import symgraph.tensor as T``.

Every function takes nodes, arrays or Python numbers and returns a node; semantics follow ``jax.numpy``.
Besides the ops written here by hand, every public function of ``jax.numpy`` is available under its own name
and signature, generated from the table of ``symgraph.tensor.numpy_table`` (the few without a symbolic
counterpart are listed there, with the reason). Sub-namespaces: ``T.random`` (random draws), ``T.linalg``
(``jax.numpy.linalg``), ``T.fft`` (``jax.numpy.fft``), and the control flow ``T.scan``, ``T.map``,
``T.cond``, ``T.while_loop``, ``T.vmap``. ``T.Placeholder`` and ``T.Variable`` are symgraph's.
"""

import jax.numpy as _jnp

from symgraph.nodes import Placeholder, Variable
from symgraph.tensor import fft, linalg, random
from symgraph.tensor import numpy_table as _numpy_table
from symgraph.tensor import renames as _renames
from symgraph.tensor import wrap as _wrap
from symgraph.tensor.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus
from symgraph.tensor.control import cond, map, scan, vmap, while_loop
from symgraph.tensor.creation import arange, eye, full, full_like, linspace, one_hot, ones, ones_like, zeros, zeros_like
from symgraph.tensor.indexing import add_at, dynamic_slice, set_at, take, take_along_axis
from symgraph.tensor.linalg import cholesky, inv, norm
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
from symgraph.tensor.products import diagonal, dot, einsum, matmul, outer, tensordot
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
from symgraph.tensor.static import (
                                         broadcast_shapes,
                                         can_cast,
                                         iscomplexobj,
                                         isdtype,
                                         isrealobj,
                                         isscalar,
                                         issubdtype,
                                         iterable,
                                         ndim,
                                         promote_types,
                                         result_type,
                                         shape,
                                         size,
                                         vectorize,
)

__all__ = [
    "Placeholder", "Variable", "linalg", "fft", "shape", "ndim", "size", "isscalar", "iscomplexobj", "isrealobj",
    "iterable", "result_type", "can_cast", "promote_types", "issubdtype", "isdtype", "broadcast_shapes",
    "vectorize", "random", "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus",
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

#: The ops generated from ``numpy_table.NUMPY`` (every ``jax.numpy`` function not written by hand above).
GENERATED = _wrap.build(_jnp, _numpy_table.NUMPY, "jax.numpy", skip=set(__all__))
globals().update(GENERATED)
__all__ += sorted(GENERATED)
__getattr__ = _renames.module_getattr("tensor")
