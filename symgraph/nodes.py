"""Graph nodes: the immutable Tensor and its leaves (Placeholder, Variable, constants, internal arguments).

A node holds the JAX function that computes it (``fn``), its input nodes, static keyword parameters, an
abstract value (shape and dtype) and a name. Nodes hash by identity, so they can be dict keys (``updates``);
``==`` is therefore identity too: use ``T.equal`` for elementwise comparison.

Shapes and dtypes come from ``jax.eval_shape`` on the node's own JAX function, so no op needs a shape rule.
Unknown dimensions (``None`` in a Placeholder's shape) are carried as one symbolic JAX dimension, so
``(None, 3) @ (3, 2)`` is known to be ``(None, 2)`` and a real mismatch is caught when the node is built.
"""

import contextlib
import contextvars
import math

import jax
import jax.numpy as jnp
import numpy as np

from symgraph import rng
from symgraph.errors import DTypeError, ShapeError, UpdateError, describe, format_shape
from symgraph.graph import get_graph, next_uid

UNKNOWN_DIM = jax.export.symbolic_shape("n")[0]


def canonical_dtype(dtype):
    """The dtype JAX will really use (float64 becomes float32 unless 64-bit mode is on)."""
    return jax.dtypes.canonicalize_dtype(np.dtype(dtype))


#: The dtypes placeholders and variables accept, as error messages list them.
ACCEPTED_DTYPES = "accepted dtypes: bool, integers, floats and complex (e.g. 'float32', 'int32', bool)"


def is_numeric(dtype):
    """Whether values of ``dtype`` can be computed with (bool, integer, floating or complex)."""
    return dtype == np.bool_ or jnp.issubdtype(dtype, jnp.number)


def numeric_dtype(dtype, owner):
    """:func:`canonical_dtype` of ``dtype``, or a DTypeError naming ``owner`` if it is not a numeric dtype."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{owner}: dtype {dtype!r} is not a dtype; {ACCEPTED_DTYPES}") from None
    if not is_numeric(dtype):
        raise DTypeError(f"{owner}: dtype {dtype} is not numeric; {ACCEPTED_DTYPES}")
    return canonical_dtype(dtype)


def is_known(dim):
    return isinstance(dim, int | np.integer)


def _public_shape(shape):
    return tuple(int(d) if is_known(d) else None for d in shape)


class Tensor:
    """A node of the graph: the result of applying a JAX function to input nodes.

    Attributes:
        fn: the JAX callable, called as ``fn(*input_values, **params)``.
        inputs: tuple of input nodes.
        params: dict of static keyword arguments of ``fn``.
        aval: ``jax.ShapeDtypeStruct`` (or a tuple of them for internal multi-output nodes).
        name: unique name within the graph (scope-prefixed).
    """

    __slots__ = ("fn", "inputs", "params", "aval", "name", "graph", "uid", "rebuild", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None
    is_leaf = False

    def __init__(self, fn, inputs, params, aval, name, graph, unique_name=None):
        self.fn = fn
        self.inputs = tuple(inputs)
        self.params = params
        self.aval = aval
        self.graph = graph
        self.name = unique_name or graph.unique_name(name)
        self.uid = next_uid()
        self.rebuild = None
        graph.add_node(self)

    def compute(self, values):
        """The node's value from its inputs' values (JAX arrays or tracers)."""
        return self.fn(*values, **self.params)

    def _single_aval(self, what):
        if isinstance(self.aval, tuple):
            raise ShapeError(f"node {self.name!r} holds several outputs and has no single {what}; take one "
                             "with symgraph.nodes.item(node, index)")
        return self.aval

    @property
    def shape(self):
        """The static shape, with ``None`` for dimensions only known at call time."""
        return _public_shape(self._single_aval("shape").shape)

    @property
    def dtype(self):
        """The dtype (a numpy dtype, or JAX's extended dtype for typed PRNG keys)."""
        return self._single_aval("dtype").dtype

    @property
    def ndim(self):
        return len(self._single_aval("ndim").shape)

    def __repr__(self):
        if isinstance(self.aval, tuple):
            return f"<{type(self).__name__} {self.name!r}: {len(self.aval)} outputs>"
        return f"<{type(self).__name__} {self.name!r}: shape {format_shape(self.shape)}, {self.dtype}>"

    def __bool__(self):
        raise TypeError(
            f"the truth value of symbolic tensor {self.name!r} is unknown until the graph runs; use "
            "T.where / T.cond for value-dependent choices, and `is` to compare nodes")

    def __len__(self):
        first = self.shape[0] if self.ndim else None
        if first is None:
            raise TypeError(f"len() of {describe(self)}: its first dimension is not known at build time")
        return first

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def get(self, feed_dict=None):
        """Evaluate this node now with the variables' current values; ``feed_dict`` maps placeholders to data."""
        from symgraph.function import evaluate_now

        return evaluate_now(self, feed_dict or {})

    # Operators. ``__eq__``/``__ne__`` are deliberately not overloaded: nodes compare by identity.
    def __add__(self, other): return apply(jnp.add, (self, other), name="add")
    def __radd__(self, other): return apply(jnp.add, (other, self), name="add")
    def __sub__(self, other): return apply(jnp.subtract, (self, other), name="subtract")
    def __rsub__(self, other): return apply(jnp.subtract, (other, self), name="subtract")
    def __mul__(self, other): return apply(jnp.multiply, (self, other), name="multiply")
    def __rmul__(self, other): return apply(jnp.multiply, (other, self), name="multiply")
    def __truediv__(self, other): return apply(jnp.true_divide, (self, other), name="divide")
    def __rtruediv__(self, other): return apply(jnp.true_divide, (other, self), name="divide")
    def __floordiv__(self, other): return apply(jnp.floor_divide, (self, other), name="floor_divide")
    def __rfloordiv__(self, other): return apply(jnp.floor_divide, (other, self), name="floor_divide")
    def __mod__(self, other): return apply(jnp.mod, (self, other), name="mod")
    def __rmod__(self, other): return apply(jnp.mod, (other, self), name="mod")
    def __pow__(self, other): return apply(jnp.power, (self, other), name="power")
    def __rpow__(self, other): return apply(jnp.power, (other, self), name="power")
    def __matmul__(self, other): return apply(jnp.matmul, (self, other), name="matmul")
    def __rmatmul__(self, other): return apply(jnp.matmul, (other, self), name="matmul")
    def __neg__(self): return apply(jnp.negative, (self,), name="negative")
    def __pos__(self): return self
    def __abs__(self): return apply(jnp.abs, (self,), name="abs")
    def __invert__(self): return apply(jnp.invert, (self,), name="invert")
    def __and__(self, other): return apply(jnp.logical_and, (self, other), name="logical_and")
    def __or__(self, other): return apply(jnp.logical_or, (self, other), name="logical_or")
    def __lt__(self, other): return apply(jnp.less, (self, other), name="less")
    def __le__(self, other): return apply(jnp.less_equal, (self, other), name="less_equal")
    def __gt__(self, other): return apply(jnp.greater, (self, other), name="greater")
    def __ge__(self, other): return apply(jnp.greater_equal, (self, other), name="greater_equal")
    __hash__ = object.__hash__

    def __getitem__(self, key):
        return getitem(self, key)

    @property
    def T(self):
        return apply(jnp.transpose, (self,), name="transpose")

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return apply(jnp.reshape, (self,), {"shape": tuple(shape)}, name="reshape")

    def astype(self, dtype):
        return apply(_astype, (self,), {"dtype": canonical_dtype(dtype)}, name="cast")

    def sum(self, axis=None, keepdims=False):
        return apply(jnp.sum, (self,), {"axis": _axis(axis), "keepdims": keepdims}, name="sum")

    def mean(self, axis=None, keepdims=False):
        return apply(jnp.mean, (self,), {"axis": _axis(axis), "keepdims": keepdims}, name="mean")

    def max(self, axis=None, keepdims=False):
        return apply(jnp.max, (self,), {"axis": _axis(axis), "keepdims": keepdims}, name="max")

    def min(self, axis=None, keepdims=False):
        return apply(jnp.min, (self,), {"axis": _axis(axis), "keepdims": keepdims}, name="min")

    def __getattr__(self, name):
        """The methods and properties of ``jax.Array`` not defined here (``x.dot(y)``, ``x.std()``, ``x.mT``,
        ``x.at[i].set(v)``...): see ``symgraph.tensor.methods``."""
        if name.startswith("_") or name in Tensor.__slots__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if hasattr(type(self), name):  # a property that raised AttributeError: raise that error, not ours
            return object.__getattribute__(self, name)
        from symgraph.tensor.methods import attribute

        return attribute(self, name)


def _astype(x, dtype):
    return x.astype(dtype)


def _axis(axis):
    """Axis arguments must be static and hashable: lists become tuples."""
    return tuple(axis) if isinstance(axis, list) else axis


class Leaf(Tensor):
    """A node whose value is supplied from outside the graph (input, state, key or traced argument)."""

    __slots__ = ()
    is_leaf = True

    def __init__(self, aval, name, graph):
        super().__init__(None, (), {}, aval, name, graph)

    def compute(self, values):
        raise RuntimeError(f"leaf node {self.name!r} has no value here; it must be supplied")


def _abstract_shape(shape, argument, owner):
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ShapeError(f"{owner}: {argument} must be a tuple of ints or None, got {shape!r}") from None
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0):
            raise ShapeError(f"{owner}: {argument} must hold non-negative ints or None (unknown size), "
                             f"got {shape!r}")
    return tuple(UNKNOWN_DIM if d is None else int(d) for d in dims)


class Placeholder(Leaf):
    """An input of the graph, given a value when a compiled function is called.

    Args:
        shape: tuple of ints, ``None`` for a dimension of any size at call time (e.g. a batch).
        dtype: numpy dtype or its name (``"float32"``).
        name: optional name (made unique in the graph).
    """

    __slots__ = ()

    def __init__(self, shape, dtype="float32", name=None):
        graph = get_graph()
        owner = f"Placeholder {name or 'placeholder'!r}"
        aval = jax.ShapeDtypeStruct(_abstract_shape(shape, "shape", owner), numeric_dtype(dtype, owner))
        super().__init__(aval, name or "placeholder", graph)
        graph.placeholders[self.name] = self


class Argument(Leaf):
    """Internal placeholder for the arguments of a traced sub-graph (control-flow bodies)."""

    __slots__ = ()


class RandomKey(Leaf):
    """The per-call PRNG key random ops draw from; supplied by the compiled function (or loop step)."""

    __slots__ = ()

    def __init__(self, graph):
        super().__init__(jax.ShapeDtypeStruct((2,), jnp.uint32), "rng_key", graph)


class Constant(Tensor):
    """A literal value in the graph. Python scalars stay weakly typed, as in JAX (``x * 0.5`` keeps x's dtype)."""

    __slots__ = ("value",)

    def __init__(self, value, name, graph):
        if not isinstance(value, int | float | complex | bool | jax.Array):
            array = np.asarray(value)
            value = array.astype(canonical_dtype(array.dtype), copy=False)
        self.value = value
        super().__init__(None, (), {}, jax.eval_shape(lambda: value), name, graph)

    def compute(self, values):
        return self.value


#: The budget of :func:`variable_budget` in force in this context: ``[elements left, error factory]`` or None.
_BUDGET = contextvars.ContextVar("symgraph_variable_budget", default=None)


@contextlib.contextmanager
def variable_budget(elements, error):
    """While active (in this thread or task): creating variables of more than ``elements`` elements in all
    raises ``error(name, size)``, the exception that ``error`` makes of the name and size of the variable that
    passes the budget, before that variable's value is made. Loading a checkpoint builds its learner under the
    budget of the arrays the file holds, so a file whose config was altered to describe huge networks allocates
    nothing for them."""
    token = _BUDGET.set([int(elements), error])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _spend(size, name):
    budget = _BUDGET.get()
    if budget is not None:
        budget[0] -= size
        if budget[0] < 0:
            raise budget[1](name, size)


class Variable(Leaf):
    """State of the graph: a value kept between calls, read by compiled functions and changed by updates.

    Args:
        value_or_initializer: an array-like initial value, or an initializer ``init(key, shape, dtype)``
            (the signature of ``jax.nn.initializers``), called with a key derived from the graph's seed and
            this variable's unique name; ``shape`` is then required.
        name: optional name (scope-prefixed, made unique).
        trainable: whether optimizers and ``get_variables(trainable=True)`` include it.
        shape, dtype: expected shape/dtype (checked against a given value; dtype defaults to float32 for
            initializers and to the value's canonical dtype otherwise).
    """

    __slots__ = ("trainable", "initializer", "_value", "_initial")

    def __init__(self, value_or_initializer, name=None, trainable=True, shape=None, dtype=None):
        graph = get_graph()
        full_name = graph.unique_name(name or "variable")
        self.trainable = bool(trainable)
        if callable(value_or_initializer) and not hasattr(value_or_initializer, "shape"):
            if shape is None:
                raise ShapeError(f"Variable {full_name!r}: an initializer needs shape=, e.g. "
                                 "Variable(init, shape=(3, 2))")
            self.initializer = value_or_initializer
            dims = _abstract_shape(shape, "shape", f"Variable {full_name!r}")
            if not all(is_known(d) for d in dims):
                raise ShapeError(f"Variable {full_name!r}: shape {tuple(shape)} must be fully known (no None)")
            dtype = numeric_dtype(dtype or "float32", f"Variable {full_name!r}")
            _spend(math.prod(int(d) for d in dims), full_name)
            value = self.initializer(rng.fold_name(rng.key_from_seed(graph.seed), full_name), dims, dtype)
            value = _checked_value(value, dims, dtype, f"Variable {full_name!r}: its initializer returned")
        else:
            self.initializer = None
            array = _numeric_value(value_or_initializer, f"Variable {full_name!r}")
            _spend(array.size, full_name)
            dtype = numeric_dtype(dtype or array.dtype, f"Variable {full_name!r}")
            if shape is not None and tuple(array.shape) != tuple(shape):
                raise ShapeError(f"Variable {full_name!r}: value has shape {format_shape(array.shape)} but "
                                 f"shape={tuple(shape)} was given")
            value = jnp.asarray(array, dtype)
        self._value = value
        self._initial = value
        aval = jax.ShapeDtypeStruct(value.shape, value.dtype)
        Tensor.__init__(self, None, (), {}, aval, None, graph, unique_name=full_name)
        graph.variables[full_name] = self

    @property
    def value(self):
        """The current value, as a numpy array."""
        return np.asarray(self._value)

    @property
    def device_value(self):
        """The current value as a JAX array (no host copy)."""
        return self._value

    def update(self, new_value):
        """Set a new value (same shape; dtype cast within its kind, e.g. float64 -> float32)."""
        self._value = _checked_value(new_value, self.aval.shape, self.aval.dtype,
                                     f"Variable {self.name!r}.update got")

    def reset(self):
        """Back to the value the variable was created with."""
        self._value = self._initial


def _numeric_value(value, owner):
    """``value`` as an array of numbers, or a TypeError naming ``owner`` (None, strings, objects)."""
    if value is None:
        raise TypeError(f"{owner}: got None; give an array-like initial value or an initializer "
                        "init(key, shape, dtype) with shape=")
    array = value if isinstance(value, jax.Array) else np.asarray(value)
    if not is_numeric(array.dtype):
        raise DTypeError(f"{owner}: value has dtype {array.dtype}, which is not numeric; {ACCEPTED_DTYPES}")
    return array


def _checked_value(value, shape, dtype, context):
    """``value`` as a JAX array of exactly ``shape``/``dtype``, or an UpdateError that says why not."""
    if not isinstance(value, jax.Array):
        value = np.asarray(value)
    if tuple(value.shape) != tuple(shape):
        raise UpdateError(f"{context} shape {format_shape(value.shape)}, expected {format_shape(shape)}")
    if value.dtype != dtype:
        if not np.can_cast(value.dtype, dtype, "same_kind"):
            raise UpdateError(f"{context} dtype {value.dtype}, expected {np.dtype(dtype)} (a {value.dtype} "
                              "value cannot be cast to it safely); cast it explicitly")
        value = value.astype(dtype)
    return jnp.asarray(value)


def constant(value, name=None):
    """A literal node in the current graph."""
    return Constant(value, name or "constant", get_graph())


def as_tensor(value, graph=None):
    """``value`` if it is a node, else a Constant of it (in ``graph`` or the current graph)."""
    if isinstance(value, Tensor):
        return value
    if value is None:
        raise TypeError("None cannot be used as a tensor value")
    return Constant(value, "constant", graph or get_graph())


def _graph_of(values):
    graphs = {id(v.graph): v.graph for v in values if isinstance(v, Tensor)}
    if len(graphs) > 1:
        from symgraph.errors import ScopeError

        names = sorted(g.name for g in graphs.values())
        raise ScopeError(f"operands come from different graphs {names}; build them in one graph")
    return next(iter(graphs.values())) if graphs else get_graph()


def infer_aval(fn, inputs, params, name):
    """Output shape/dtype of ``fn`` on the inputs' abstract values (raises ShapeError naming the op)."""
    avals = [t.aval for t in inputs]
    try:
        return jax.eval_shape(lambda *a: fn(*a, **params), *avals)
    except Exception as error:  # JAX raises TypeError/ValueError/IndexError and its own shape errors
        broadcast = _infer_with_unit_unknowns(fn, avals, params)
        if broadcast is not None:
            return broadcast
        operands = ", ".join(describe(t) for t in inputs) or "no operands"
        shown = {k: v for k, v in params.items() if not callable(v)}
        extra = f" with {shown}" if shown else ""
        message = str(error).split("\n")[0].rstrip(".")
        exc = DTypeError if "dtype" in message.lower() and "shape" not in message.lower() else ShapeError
        raise exc(f"{name}: cannot be applied to {operands}{extra}: {message}. Check the operands' shapes "
                  "and dtypes (None marks a size known only at call time).") from error


def _infer_with_unit_unknowns(fn, avals, params):
    """Second try for unknown sizes meeting known ones (``(None,) + (6,)``): unknown dims set to 1, which
    broadcasts against anything; the result's size-1 dims are then reported unknown. None if it fails too."""
    leaves = [a for a in jax.tree_util.tree_leaves(avals) if hasattr(a, "shape")]
    if all(is_known(d) for a in leaves for d in a.shape):
        return None
    unit = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(tuple(d if is_known(d) else 1 for d in a.shape), a.dtype,
                                       weak_type=getattr(a, "weak_type", False)), avals)
    try:
        result = jax.eval_shape(lambda *a: fn(*a, **params), *unit)
    except Exception:  # the operands really do not fit
        return None
    return jax.tree_util.tree_map(
        lambda r: jax.ShapeDtypeStruct(tuple(UNKNOWN_DIM if d == 1 else d for d in r.shape), r.dtype,
                                       weak_type=r.weak_type), result)


def apply(fn, args, params=None, name=None):
    """Build the node ``fn(*args, **params)``: the single entry point of every op.

    ``args`` may mix nodes, Python numbers and arrays (made constants); ``params`` are static keyword
    arguments (axes, shapes, dtypes). Shape and dtype are inferred now, so errors surface at build time.
    """
    params = params or {}
    name = name or getattr(fn, "__name__", "op")
    graph = _graph_of(args)
    inputs = [as_tensor(a, graph) for a in args]
    aval = infer_aval(fn, inputs, params, name)
    return Tensor(fn, inputs, params, aval, name, graph)


def _take_item(values, index):
    return values[index]


def item(node, index):
    """Output ``index`` of a multi-output node (gradients, scan, while_loop...)."""
    return apply(_take_item, (node,), {"index": index}, name=f"{node.name.rsplit('/', 1)[-1]}[{index}]")


def _index(x, *dynamic, structure):
    parts = iter(dynamic)
    key = tuple(next(parts) if kind == "dynamic" else item for kind, item in structure)
    return x[key]


def getitem(x, key):
    """``x[key]``: ints, slices, None, Ellipsis, and index arrays or nodes (gathered)."""
    key = key if isinstance(key, tuple) else (key,)
    structure, dynamic = [], []
    for item in key:
        if isinstance(item, slice):
            for bound in (item.start, item.stop, item.step):
                if bound is not None and not isinstance(bound, int | np.integer):
                    raise TypeError(f"slice bounds of {describe(x)} must be Python ints or None, got "
                                    f"{bound!r}; for a computed start use T.dynamic_slice or T.take")
            structure.append(("static", item))
        elif item is None or item is Ellipsis or isinstance(item, int | np.integer):
            structure.append(("static", item))
        else:
            structure.append(("dynamic", None))
            dynamic.append(item)
    _check_key_in_bounds(x, key)
    return apply(_index, (x, *dynamic), {"structure": tuple(structure)}, name="getitem")


def _check_key_in_bounds(x, key):
    """IndexError for an index of ``key`` known now that lies outside a known dimension of ``x`` (JAX would
    clamp it). Unknown dimensions (None), runtime index nodes and malformed keys are left to the op."""
    kinds = [_item_kind(item) for item in key]
    if isinstance(x.aval, tuple) or "mask" in kinds:
        return  # a boolean mask spans several axes; the op rejects masks anyway (their shape is unknown now)
    shape = x.shape
    axis = 0
    for item, kind in zip(key, kinds):
        if kind == "ellipsis":
            axis += max(len(shape) - kinds.count("axis"), 0)
        elif kind == "axis":
            if axis < len(shape):
                check_indices_in_bounds(x, static_indices(item), axis, shape[axis])
            axis += 1


def _item_kind(item):
    """How an index item walks the axes: ``"axis"`` (takes one), ``"new"`` (None or a boolean scalar adds
    one), ``"ellipsis"``, or ``"mask"`` (a boolean array)."""
    if item is Ellipsis:
        return "ellipsis"
    if item is None:
        return "new"
    if isinstance(item, Tensor) and not isinstance(item, Constant):
        boolean = not isinstance(item.aval, tuple) and item.dtype == np.bool_
        return ("mask" if item.ndim else "new") if boolean else "axis"
    value = _known_value(item)
    if value is not None and value.dtype == np.bool_:
        return "mask" if value.ndim else "new"
    return "axis"


def _known_value(item):
    """The value of an index item known at build time as a numpy array, or None (slices, runtime nodes)."""
    if isinstance(item, Constant):
        item = item.value
    elif isinstance(item, Tensor | slice) or item is None or item is Ellipsis:
        return None
    try:
        return np.asarray(item)
    except (TypeError, ValueError):  # ragged lists and the like: the op reports them
        return None


def static_indices(item):
    """The integer indices ``item`` holds if they are known at build time (a number, a list, an array, a
    constant node), else None (a slice, a runtime node, a boolean mask)."""
    value = _known_value(item)
    return value if value is not None and value.dtype.kind in "iu" else None


def check_indices_in_bounds(x, indices, axis, size):
    """IndexError worded as numpy's if an index of ``indices`` (None: not known now) is outside
    ``-size <= i < size`` (``size`` None: not known now)."""
    if indices is None or size is None:
        return
    outside = indices[(indices < -size) | (indices >= size)]
    if outside.size:
        valid = f"valid indices run from {-size} to {size - 1}" if size else "the axis is empty"
        raise IndexError(f"indexing {describe(x)}: index {outside.flat[0]} is out of bounds for axis {axis} "
                         f"with size {size} ({valid}); indices known when the graph is built are checked then")
