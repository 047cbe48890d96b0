"""Dense, Flatten, Embedding, Dropout and the MLP helper."""

import math

import jax.numpy as jnp

import symgraph.tensor as T
from symgraph.errors import DTypeError, describe
from symgraph.nn import activations
from symgraph.nn.layers.base import Layer, positive_int, training_flag
from symgraph.nodes import apply


def training_mode(training, deterministic, owner):
    """The train/eval switch of ``owner`` (Dropout, BatchNorm) from exactly one of symgraph's ``training`` and
    SymJAX's ``deterministic`` (``deterministic = not training``): a Python bool or a scalar boolean node."""
    if (training is None) == (deterministic is None):
        got = "both" if training is not None else "neither"
        raise TypeError(f"{owner}: pass exactly one of training= (True: training mode) or SymJAX's "
                        f"deterministic= (True: evaluation mode, the negation of training), got {got}")
    if training is not None:
        return training_flag(training, owner)
    try:
        flag = training_flag(deterministic, owner)
    except (TypeError, ValueError) as error:
        raise type(error)(str(error).replace("training must", "deterministic must")) from None
    return (not flag) if isinstance(flag, bool) else T.logical_not(flag)


class Dense(Layer):
    """Fully connected layer ``y = activation(x @ W + b)`` on the last axis of ``x``.

    Args:
        units: output size.
        activation: a name (see ``nn.activations``), a callable or None (identity).
        init: initializer of ``W`` (shape ``(in_features, units)``); a name, a factory or ``init(key, shape,
            dtype)``. Default Glorot uniform.
        bias_init: initializer of ``b`` (shape ``(units,)``), default zeros.
        use_bias: whether to add ``b``.
        in_features: the input size, to create the variables now; by default they are created on the first
            call, from the input's last dimension (with ``flatten=True``, the product of the non-batch ones).
        dtype: dtype of the variables.
        name: scope name.
        flatten: how an input of rank > 2 is read. None (default): the leading axes are batch axes and the
            layer applies to the last one, ``(..., in_features) -> (..., units)``, for inputs of rank <= 3
            (sequences); an input of rank >= 4 (an image batch) is refused, asking for a choice. True:
            SymJAX's behaviour, every axis after the first is flattened into the features,
            ``(batch, d1, d2, ...) -> (batch, units)``. False: the last axis at any rank (per position).

    Input ``(..., in_features)`` of rank >= 1; output ``(..., units)``. Variables ``W`` and ``b``.
    """

    def __init__(self, units, activation=None, init="glorot_uniform", bias_init="zeros", use_bias=True,
                 in_features=None, dtype="float32", name="dense", *, flatten=None):
        super().__init__(name)
        self.units = positive_int(units, "units", self)
        self.activation = activations.get(activation)
        self.init, self.bias_init = self.initializer(init), self.initializer(bias_init, "bias_init")
        self.use_bias, self.dtype = use_bias, dtype
        if flatten not in (None, True, False):
            raise TypeError(f"{self}: flatten must be None, True or False, got {type(flatten).__name__} "
                            f"{flatten!r}")
        self.flatten = flatten
        self.W = self.b = None
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        self.W = self.add_variable("W", self.init, (in_features, self.units), dtype=self.dtype)
        if self.use_bias:
            self.b = self.add_variable("b", self.bias_init, (self.units,), dtype=self.dtype,
                                       argument="bias_init")

    def __call__(self, x):
        if self.flatten:
            x = self.input(x, min_rank=2, layout="(batch, ...) with flatten=True")
            if any(d is None for d in x.shape[1:]):
                self.fail("known sizes after the batch axis (flatten=True)", x,
                          "; give the placeholder fixed non-batch dimensions")
            x = T.reshape(x, (-1, math.prod(x.shape[1:]))) if x.ndim > 2 else x
        else:
            x = self.input(x, min_rank=1, layout="(..., features)")
            if self.flatten is None and x.ndim >= 4:
                self.fail("an input of rank <= 3 (it applies to the last axis, the leading ones being batch "
                          "axes)", x, "; SymJAX's Dense flattened every axis after the first: pass "
                          "flatten=True for that (or apply nn.Flatten() first), or flatten=False to apply it "
                          "to the last axis at each position")
        self.ensure_built(self.features(x))
        with self.name_scope():
            y = T.matmul(x, self.W)
            if self.use_bias:
                y = y + self.b
            return self.activation(y)


class Flatten(Layer):
    """Merge every axis after the first (batch) one: ``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)``."""

    def __init__(self, name="flatten"):
        super().__init__(name)

    def __call__(self, x):
        x = self.input(x, min_rank=2, layout="(batch, ...)")
        with self.name_scope():
            return T.flatten(x, start_axis=1)


def _lookup(table, ids):
    return jnp.take(table, ids, axis=0, mode="clip")


class Embedding(Layer):
    """A lookup table: integer ids ``(...)`` to vectors ``(..., features)``, ``y = W[ids]``.

    Args:
        num_embeddings: number of rows (valid ids are ``0 .. num_embeddings - 1``; others are clipped).
        features: size of each vector.
        init: initializer of ``W`` ``(num_embeddings, features)``, default ``normal(1.0)``.

    The table is created at once (it does not depend on the input). Ids must be an integer tensor.
    """

    def __init__(self, num_embeddings, features, init=None, dtype="float32", name="embedding"):
        from symgraph.nn.initializers import normal

        super().__init__(name)
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", self)
        self.features = positive_int(features, "features", self)
        self.W = self.add_variable("W", normal(1.0) if init is None else init,
                                   (self.num_embeddings, self.features), dtype=dtype)
        self.built = True

    def __call__(self, ids):
        ids = self.input(ids, min_rank=0)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise DTypeError(f"{self}: expects integer ids, got {describe(ids)}; cast them with T.cast(ids, "
                             "'int32')")
        with self.name_scope():
            return apply(_lookup, (self.W, ids), name="lookup")


class Dropout(Layer):
    """Dropout (Srivastava et al. 2014): in training, zero each entry with probability ``rate`` and scale the
    kept ones by ``1 / (1 - rate)`` so the expectation is unchanged; at evaluation, the identity.

    Call as ``dropout(x, training)`` where ``training`` is a Python bool or a scalar boolean tensor (e.g. a
    ``Placeholder((), "bool")``, so one compiled function serves both), or with SymJAX's
    ``dropout(x, deterministic=...)``, its negation (``deterministic=True`` evaluates); exactly one of the two.
    The mask comes from ``T.random``: it changes at every call of the compiled function and is reproducible
    with ``function(seed=...)``.
    """

    def __init__(self, rate, name="dropout"):
        super().__init__(name)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"{self}: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def __call__(self, x, training=None, *, deterministic=None):
        x = self.input(x, min_rank=0)
        training = training_mode(training, deterministic, self)
        if training is False or self.rate == 0.0:
            return x
        with self.name_scope():
            keep = T.random.bernoulli(1.0 - self.rate, shape=x)
            dropped = T.where(keep, x / (1.0 - self.rate), T.zeros_like(x))
            return dropped if training is True else T.where(training, dropped, x)


class MLP(Layer):
    """A multi-layer perceptron: Dense layers ``hidden_0 .. hidden_{k-1}`` with ``activation``, then an
    optional Dense ``out`` layer with ``out_activation``.

    Args:
        hidden: sizes of the hidden layers.
        activation: activation of the hidden layers (name or callable).
        out: size of the output layer, or None for none (the last hidden layer is then the output).
        out_activation: activation of the output layer (default: identity).
        init, bias_init: initializers of the hidden layers.
        out_init: initializer of the output layer's weights (default: ``init``).
        in_features: input size, to create the variables now.

    Its variables live in its scope: ``mlp.variables`` or ``sg.get_variables(scope=mlp.scope)``.
    """

    def __init__(self, hidden=(64, 64), activation="tanh", out=None, out_activation=None,
                 init="glorot_uniform", out_init=None, bias_init="zeros", in_features=None, name="mlp"):
        super().__init__(name)
        hidden = tuple(hidden)
        if out is None and not hidden:
            raise ValueError(f"{self}: give at least one hidden layer or an output size (out=)")
        with self.name_scope():
            self.layers = [Dense(units, activation, init=init, bias_init=bias_init, name=f"hidden_{i}")
                           for i, units in enumerate(hidden)]
            if out is not None:
                self.layers.append(Dense(out, out_activation, init=init if out_init is None else out_init,
                                         bias_init=bias_init, name="out"))
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        for layer in self.layers:
            layer.ensure_built(in_features)
            in_features = layer.units

    def __call__(self, x):
        x = self.input(x, min_rank=1, layout="(..., features)")
        self.ensure_built(self.features(x))
        for layer in self.layers:
            x = layer(x)
        return x


def dense(x, units, activation=None, init="glorot_uniform", bias_init="zeros", use_bias=True, name="dense", *,
          flatten=None):
    """``Dense(units, ...)(x)`` with a fresh layer (new variables at each call); see :class:`Dense`."""
    return Dense(units, activation, init=init, bias_init=bias_init, use_bias=use_bias, name=name,
                 flatten=flatten)(x)


def flatten(x, name="flatten"):
    """``Flatten()(x)``: keep the batch axis, merge the others."""
    return Flatten(name=name)(x)


def embedding(ids, num_embeddings, features, init=None, name="embedding"):
    """``Embedding(num_embeddings, features)(ids)`` with a fresh table."""
    return Embedding(num_embeddings, features, init=init, name=name)(ids)


def dropout(x, rate, training=None, name="dropout", *, deterministic=None):
    """``Dropout(rate)(x, training)`` (or ``deterministic=``, SymJAX's negation of ``training``)."""
    return Dropout(rate, name=name)(x, training, deterministic=deterministic)


def mlp(x, hidden=(64, 64), activation="tanh", out=None, out_activation=None, init="glorot_uniform",
        out_init=None, bias_init="zeros", name="mlp"):
    """A fresh :class:`MLP` applied to ``x``; returns its output tensor.

    Its variables live in scope ``name`` (made unique, under the current scope). To collect them reliably,
    open a scope around it (``with sg.Scope("actor") as s: y = nn.mlp(x, ...)`` then
    ``sg.get_variables(scope=s.path)``), or build an ``nn.MLP`` and use its ``.variables``.
    """
    return MLP(hidden, activation, out=out, out_activation=out_activation, init=init, out_init=out_init,
               bias_init=bias_init, name=name)(x)
