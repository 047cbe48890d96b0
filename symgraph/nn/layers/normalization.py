"""Normalisation layers: LayerNorm and BatchNorm (features on the last axis, channels last)."""

import symgraph.tensor as T
from symgraph.nn.layers.base import Layer, positive_int
from symgraph.nn.layers.core import training_mode


def _normalize(x, mean, var, gamma, beta, eps):
    y = (x - mean) / T.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def _positive_float(value, argument, owner):
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{owner}: {argument} must be a positive number, got {value!r}")
    return float(value)


class LayerNorm(Layer):
    """Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization") over the last axis:

    ``mu = mean(x, -1)``, ``sigma2 = mean((x - mu)**2, -1)`` and
    ``y = gamma * (x - mu) / sqrt(sigma2 + eps) + beta``

    with learnt ``gamma`` (ones) and ``beta`` (zeros) of shape ``(features,)``. The statistics are those of
    each example, so training and evaluation behave the same.

    Args:
        eps: added to the variance for stability.
        center, scale: whether to learn ``beta`` / ``gamma``.
        in_features: the feature size, to create the variables now (else on the first call).
    """

    def __init__(self, eps=1e-5, center=True, scale=True, in_features=None, dtype="float32",
                 name="layer_norm"):
        super().__init__(name)
        self.eps = _positive_float(eps, "eps", self)
        self.center, self.scale, self.dtype = center, scale, dtype
        self.gamma = self.beta = None
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        _build_scale_and_offset(self, in_features)

    def __call__(self, x):
        x = self.input(x, min_rank=1, layout="(..., features)")
        self.ensure_built(self.features(x))
        with self.name_scope():
            mean = T.mean(x, axis=-1, keepdims=True)
            var = T.var(x, axis=-1, keepdims=True)
            return _normalize(x, mean, var, self.gamma, self.beta, self.eps)


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift") of the last (feature/channel) axis, with statistics over all others.

    Training (``training=True``) normalises with the batch statistics and moves the running ones::

        mu_B = mean(x, axes), sigma2_B = mean((x - mu_B)**2, axes)      (biased variance)
        y = gamma * (x - mu_B) / sqrt(sigma2_B + eps) + beta
        running_mean <- momentum * running_mean + (1 - momentum) * mu_B
        running_var  <- momentum * running_var  + (1 - momentum) * sigma2_B

    Evaluation (``training=False``) uses ``running_mean``/``running_var`` instead of ``mu_B``/``sigma2_B`` and
    changes nothing: the output is deterministic and per-example.

    Call as ``bn(x, training)`` with a Python bool, or a scalar boolean tensor (a ``Placeholder((), "bool")``)
    to switch inside one compiled function; or with SymJAX's ``bn(x, deterministic=...)``, its negation
    (``deterministic=True`` evaluates); exactly one of the two. The running statistics are non-trainable Variables
    (``running_mean``, ``running_var``); a training call returns the output and sets ``bn.updates`` to their
    ``{variable: new_value}`` updates, also registered with the graph (``sg.get_updates()``). Pass them to
    ``sg.function(..., updates=...)`` next to the optimizer's (they apply only where ``training`` holds). A
    layer called in training mode several times keeps the updates of the latest call.

    Args:
        momentum: weight of the old running value (Keras/Flax convention; PyTorch's 0.1 is 0.9 here).
        eps: added to the variance for stability.
        center, scale: whether to learn ``beta`` (zeros) / ``gamma`` (ones).
        in_features: the feature size, to create the variables now (else on the first call).
    """

    def __init__(self, momentum=0.99, eps=1e-5, center=True, scale=True, in_features=None, dtype="float32",
                 name="batch_norm"):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, int | float) or not 0 <= momentum <= 1:
            raise ValueError(f"{self}: momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.eps = _positive_float(eps, "eps", self)
        self.center, self.scale, self.dtype = center, scale, dtype
        self.gamma = self.beta = self.running_mean = self.running_var = None
        self.updates = {}
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        _build_scale_and_offset(self, in_features)
        self.running_mean = self.add_variable("running_mean", "zeros", (in_features,), trainable=False,
                                              dtype=self.dtype)
        self.running_var = self.add_variable("running_var", "ones", (in_features,), trainable=False,
                                             dtype=self.dtype)

    def __call__(self, x, training=None, *, deterministic=None):
        x = self.input(x, min_rank=2, layout="(batch, ..., features)")
        training = training_mode(training, deterministic, self)
        self.ensure_built(self.features(x))
        with self.name_scope():
            if training is not True:
                running = _normalize(x, self.running_mean, self.running_var, self.gamma, self.beta, self.eps)
                if training is False:
                    return running
            axes = tuple(range(x.ndim - 1))
            mean, var = T.mean(x, axis=axes), T.var(x, axis=axes)
            y = _normalize(x, mean, var, self.gamma, self.beta, self.eps)
            m = self.momentum
            dtype = self.running_mean.dtype
            new_mean = T.cast(m * self.running_mean + (1 - m) * T.stop_gradient(mean), dtype)
            new_var = T.cast(m * self.running_var + (1 - m) * T.stop_gradient(var), dtype)
            if training is not True:
                y = T.where(training, y, running)
                new_mean = T.where(training, new_mean, self.running_mean)
                new_var = T.where(training, new_var, self.running_var)
        self.updates = {self.running_mean: new_mean, self.running_var: new_var}
        self.graph.add_updates(self.updates, owner=self)
        return y


def layer_norm(x, eps=1e-5, center=True, scale=True, name="layer_norm"):
    """``LayerNorm(...)(x)`` with fresh variables; see :class:`LayerNorm`."""
    return LayerNorm(eps, center, scale, name=name)(x)


def batch_norm(x, training=None, momentum=0.99, eps=1e-5, center=True, scale=True, name="batch_norm", *,
               deterministic=None):
    """``BatchNorm(...)(x, training)`` (or ``deterministic=``, SymJAX's negation of ``training``) with fresh
    variables; the updates are in ``sg.get_updates()``."""
    return BatchNorm(momentum, eps, center, scale, name=name)(x, training, deterministic=deterministic)


def _build_scale_and_offset(layer, in_features):
    """The learned per-feature scale ``gamma`` and offset ``beta`` of a normalisation layer (each optional)."""
    if layer.scale:
        layer.gamma = layer.add_variable("gamma", "ones", (in_features,), dtype=layer.dtype)
    if layer.center:
        layer.beta = layer.add_variable("beta", "zeros", (in_features,), dtype=layer.dtype)
