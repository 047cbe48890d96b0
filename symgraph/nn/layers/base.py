"""The Layer base class: a named scope that owns variables, built on its first call, shared on every call.

A layer reserves its scope when it is constructed (``Dense(64, name="pi")`` inside ``Scope("actor")`` owns
``actor/pi``) and creates its variables there, either at once (when told its input size, ``in_features=``)
or on its first call, from the input's last dimension. Calling the same layer object again reuses the same
variables, which is how weights are shared (siamese branches, the same network on states and next states);
constructing a second layer gives fresh variables. ``layer.variables`` lists them; they are also found with
``sg.get_variables(scope=layer.scope)``.
"""

import contextlib

import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError, ScopeError, ShapeError, describe
from symgraph.graph import Scope, get_graph, get_variables
from symgraph.nn import initializers
from symgraph.nodes import Tensor, Variable, as_tensor


def positive_int(value, argument, owner):
    """``value`` as an int > 0, or a ValueError naming ``owner`` and ``argument``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{owner}: {argument} must be a positive int, got {value!r}")
    return int(value)


def int_tuple(value, length, argument, owner):
    """An int or a sequence of ``length`` positive ints, as a tuple of ``length`` ints."""
    items = (value,) * length if isinstance(value, int | np.integer) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != length or any(isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0
                                   for v in items):
        raise ValueError(f"{owner}: {argument} must be a positive int or a tuple of {length} positive ints, "
                         f"got {value!r}")
    return tuple(int(v) for v in items)


def compatible(shape, expected):
    """Whether two public shapes agree, ``None`` matching any size."""
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected, strict=True))


def training_flag(training, owner):
    """A Python bool, or a scalar boolean node, for the train/eval switch of ``owner``."""
    if isinstance(training, bool | np.bool_):
        return bool(training)
    if isinstance(training, Tensor):
        if training.ndim != 0:
            raise ShapeError(f"{owner}: training must be a Python bool or a scalar boolean tensor, got "
                             f"{describe(training)}")
        if training.dtype != np.bool_:
            raise DTypeError(f"{owner}: training must be a boolean tensor, got {describe(training)}; use "
                             "sg.Placeholder((), 'bool') or a comparison")
        return training
    raise TypeError(f"{owner}: training must be a Python bool or a scalar boolean tensor, got "
                    f"{type(training).__name__} {training!r}")


class Layer:
    """Base class of layers. Subclasses implement ``__call__`` (checking the input with ``input`` and
    ``features``, then building with ``ensure_built`` and computing inside ``name_scope``) and, if they own
    variables sized by the input, ``build(in_features)``.

    Args:
        name: the scope name, made unique in the graph (a second ``"dense"`` becomes ``"dense_1"``).

    Attributes:
        scope: the full scope path holding the layer's variables, e.g. ``"actor/dense"``.
        graph: the graph the layer builds into.
        in_features: the input's last dimension once built (None before, and for layers that need none).
    """

    def __init__(self, name):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without '/', got "
                             f"{name!r}")
        self.graph = get_graph()
        with Scope(name) as scope:
            self.scope = scope.path
        self.in_features = None
        self.built = False

    # -- scope and variables ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def name_scope(self):
        """Build into this layer's graph and scope (reserved at construction), wherever it is called from."""
        with self.graph, Scope(self.scope, reopen=True):
            yield

    def initializer(self, init, argument="init"):
        """``init`` resolved by ``initializers.get`` (so a bad one fails when the layer is constructed)."""
        return initializers.get(init, f"{self} {argument}")

    def add_variable(self, name, init, shape, trainable=True, dtype="float32", argument="init"):
        """A Variable ``scope/name`` made from ``init`` (see ``initializers.get``)."""
        with self.name_scope():
            return Variable(self.initializer(init, argument), name=name, trainable=trainable,
                            shape=tuple(shape), dtype=dtype)

    @property
    def variables(self):
        """Every variable in the layer's scope (its own and its sub-layers'), in creation order."""
        return get_variables(scope=self.scope, graph=self.graph)

    @property
    def trainable_variables(self):
        """The trainable ones among ``variables`` (not BatchNorm's running statistics)."""
        return get_variables(scope=self.scope, trainable=True, graph=self.graph)

    # -- input checks and build ------------------------------------------------------------------------
    def fail(self, expected, x, hint=""):
        """Raise a ShapeError naming this layer, what it expects and what it got."""
        raise ShapeError(f"{self}: expects {expected}, got {describe(x)}{hint}")

    def input(self, x, min_rank=1, rank=None, layout=""):
        """``x`` as a node of this layer's graph, with its rank checked."""
        if isinstance(x, Tensor):
            if x.graph is not self.graph:
                raise ScopeError(f"{self} was built in graph {self.graph.name!r} but called on {describe(x)} "
                                 f"of graph {x.graph.name!r}; build the layer and its inputs in one graph")
        else:
            x = as_tensor(x, self.graph)
        if isinstance(x.aval, tuple):
            raise ShapeError(f"{self}: its input must be a single tensor, got the multi-output node "
                             f"{x.name!r}")
        if rank is not None and x.ndim != rank:
            self.fail(f"an input of rank {rank} {layout}".rstrip(), x)
        if x.ndim < min_rank:
            self.fail(f"an input of rank >= {min_rank} {layout}".rstrip(), x)
        return x

    def features(self, x, what="features"):
        """The last dimension of ``x``, which must be known at build time and match the built size."""
        size = x.shape[-1]
        if size is None:
            self.fail(f"a known number of {what} in the last dimension", x,
                      "; give the placeholder a fixed last dimension")
        if self.in_features is not None and size != self.in_features:
            self.fail(f"{self.in_features} {what} in the last dimension (the size it was built with)", x,
                      "; a shared layer takes inputs of one size")
        return size

    def ensure_built(self, in_features):
        """Create the variables for inputs with ``in_features`` last-dimension entries, once."""
        if not self.built:
            self.in_features = in_features
            self.build(in_features)
            self.built = True

    def build(self, in_features):
        """Create the layer's variables (layers without any keep this no-op)."""

    def __repr__(self):
        return f"{type(self).__name__} {self.scope!r}"


def float_dtype(x):
    """The float dtype a layer computes in for input ``x`` (its own if floating, else float32)."""
    return x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else np.dtype("float32")

