"""Convolutions (Conv1D, Conv2D) and pooling (MaxPool/AvgPool 1D and 2D), channels last by default.

Layouts: 1D inputs are ``(batch, width, channels)`` (NWC), 2D inputs ``(batch, height, width, channels)``
(NHWC); kernels are ``(kw, in, out)`` / ``(kh, kw, in, out)`` (WIO / HWIO). Convolutions and pooling also take
channels-first inputs (SymJAX's and PyTorch's layout) with ``data_format="NCW"`` / ``"NCHW"``, and give
outputs in the same layout. An input that looks channels first given to a channels-last 2D layer
(``(batch, c, s, s)`` with ``c`` in 1, 3, 4 and a square ``s > 4``, which would otherwise run as ``c`` rows of
``s`` channels) is refused unless ``data_format`` is given. Padding ``"SAME"`` keeps ``ceil(size / stride)``
positions (padding split evenly, the extra one at the end, as TensorFlow), ``"VALID"`` keeps only the windows
that fit: ``floor((size - dilated_kernel) / stride) + 1``.
"""

import math

import jax
import jax.numpy as jnp

import symgraph.tensor as T
from symgraph.nn import activations
from symgraph.nn.layers.base import Layer, int_tuple, positive_int
from symgraph.nodes import apply

_LAYOUTS = {"NWC": ("NWC", "WIO", "NWC"), "NHWC": ("NHWC", "HWIO", "NHWC"),
            "NCW": ("NCW", "WIO", "NCW"), "NCHW": ("NCHW", "HWIO", "NCHW")}
_LAYOUT_TEXT = {1: "(batch, width, channels)", 2: "(batch, height, width, channels)",
                "NWC": "(batch, width, channels)", "NHWC": "(batch, height, width, channels)",
                "NCW": "(batch, channels, width)", "NCHW": "(batch, channels, height, width)"}
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW")}


def _padding(padding, owner):
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        return padding.upper()
    raise ValueError(f"{owner}: padding must be 'SAME' or 'VALID', got {padding!r}")


def _data_format(data_format, n, owner):
    if data_format is not None and data_format not in _FORMATS[n]:
        raise ValueError(f"{owner}: data_format must be None (channels last), {_FORMATS[n][0]!r} or "
                         f"{_FORMATS[n][1]!r} (channels first), got {data_format!r}")
    return data_format


def _conv(x, kernel, strides, padding, dilation, dimension_numbers):
    return jax.lax.conv_general_dilated(x, kernel, window_strides=strides, padding=padding,
                                        rhs_dilation=dilation, dimension_numbers=dimension_numbers)


class _Conv(Layer):
    n_spatial = 2

    def __init__(self, filters, kernel_size, strides=1, padding="SAME", dilation=1, activation=None,
                 init="glorot_uniform", bias_init="zeros", use_bias=True, in_channels=None, dtype="float32",
                 name="conv", data_format=None):
        super().__init__(name)
        n = self.n_spatial
        self.data_format = _data_format(data_format, n, self)
        self.filters = positive_int(filters, "filters", self)
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", self)
        self.strides = int_tuple(strides, n, "strides", self)
        self.dilation = int_tuple(dilation, n, "dilation", self)
        self.padding = _padding(padding, self)
        self.activation = activations.get(activation)
        self.init, self.bias_init = self.initializer(init), self.initializer(bias_init, "bias_init")
        self.use_bias, self.dtype = use_bias, dtype
        self.W = self.b = None
        if in_channels is not None:
            self.ensure_built(positive_int(in_channels, "in_channels", self))

    def build(self, in_channels):
        shape = (*self.kernel_size, in_channels, self.filters)
        self.W = self.add_variable("W", self.init, shape, dtype=self.dtype)
        if self.use_bias:
            self.b = self.add_variable("b", self.bias_init, (self.filters,), dtype=self.dtype,
                                       argument="bias_init")

    def __call__(self, x):
        n = self.n_spatial
        layout = self.data_format or _FORMATS[n][0]
        first = layout in ("NCW", "NCHW")
        x = self.input(x, rank=n + 2, layout=_LAYOUT_TEXT[layout])
        if first:
            channels = x.shape[1]
            if channels is None or (self.in_features is not None and channels != self.in_features):
                self.fail(f"{self.in_features or 'a known number of'} channels on axis 1 ({layout})", x)
        else:
            channels = self.features(x, "channels")
        if n == 2 and self.data_format is None:
            _refuse_channels_first(self, x)
        spatial = x.shape[2:] if first else x.shape[1:-1]
        if self.padding == "VALID":
            for size, k, d in zip(spatial, self.kernel_size, self.dilation, strict=True):
                if size is not None and size < (k - 1) * d + 1:
                    self.fail(f"spatial sizes of at least the (dilated) kernel {self.kernel_size} with "
                              "padding 'VALID'", x, "; use padding='SAME' or a smaller kernel")
        self.ensure_built(channels)
        with self.name_scope():
            y = apply(_conv, (x, self.W), {"strides": self.strides, "padding": self.padding,
                                           "dilation": self.dilation, "dimension_numbers": _LAYOUTS[layout]},
                      name="conv")
            if self.use_bias:
                y = y + (T.reshape(self.b, (-1,) + (1,) * n) if first else self.b)
            return self.activation(y)


def _refuse_channels_first(layer, x):
    """Refuse a channels-last Conv2D input shaped like a channels-first image batch ``(batch, c, s, s)``."""
    _, c, h, w = x.shape
    if c in (1, 3, 4) and h is not None and h == w and h > 4:
        layer.fail("NHWC inputs (batch, height, width, channels)", x,
                   f"; this shape looks channels first (NCHW: {c} channels of {h}x{w}), which would run as "
                   f"{c}-pixel-high images of {w} channels: transpose it to NHWC (T.transpose(x, (0, 2, 3, "
                   f"1))) or pass data_format='NCHW'; pass data_format='NHWC' if the layout is right")


class Conv1D(_Conv):
    """1D convolution over ``(batch, width, channels)``: ``y = activation(conv(x, W) + b)``.

    Args:
        filters: output channels.
        kernel_size, strides, dilation: an int or a 1-tuple.
        padding: ``"SAME"`` or ``"VALID"``.
        activation, init, bias_init, use_bias, dtype, name: as :class:`Dense`; ``W`` is ``(kw, in, filters)``.
        in_channels: the input channels, to create the variables now (else on the first call).
        data_format: None or ``"NWC"`` (channels last), or ``"NCW"``: inputs and outputs
            ``(batch, channels, width)``.
    """

    n_spatial = 1

    def __init__(self, filters, kernel_size, strides=1, padding="SAME", dilation=1, activation=None,
                 init="glorot_uniform", bias_init="zeros", use_bias=True, in_channels=None, dtype="float32",
                 name="conv1d", *, data_format=None):
        super().__init__(filters, kernel_size, strides, padding, dilation, activation, init, bias_init,
                         use_bias, in_channels, dtype, name, data_format)


class Conv2D(_Conv):
    """2D convolution over NHWC ``(batch, height, width, channels)``: ``y = activation(conv(x, W) + b)``,
    computed by ``jax.lax.conv_general_dilated`` (a cross-correlation, as in every deep-learning library).

    Args:
        filters: output channels.
        kernel_size, strides, dilation: an int or an ``(h, w)`` pair.
        padding: ``"SAME"`` or ``"VALID"``.
        activation, init, bias_init, use_bias, dtype, name: as :class:`Dense`; ``W`` is ``(kh, kw, in,
            filters)`` (HWIO).
        in_channels: the input channels, to create the variables now (else on the first call).
        data_format: None (channels last, refusing an input that looks channels first, see the module doc),
            ``"NHWC"`` (channels last, unchecked), or ``"NCHW"``: inputs and outputs ``(batch, channels,
            height, width)``, SymJAX's layout.
    """

    n_spatial = 2

    def __init__(self, filters, kernel_size, strides=1, padding="SAME", dilation=1, activation=None,
                 init="glorot_uniform", bias_init="zeros", use_bias=True, in_channels=None, dtype="float32",
                 name="conv2d", *, data_format=None):
        super().__init__(filters, kernel_size, strides, padding, dilation, activation, init, bias_init,
                         use_bias, in_channels, dtype, name, data_format)


def _max_pool(x, window, strides, padding):
    # a Python scalar start value lets JAX pick its differentiable max-pool primitive (an array would not)
    lowest = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else int(jnp.iinfo(x.dtype).min)
    return jax.lax.reduce_window(x, lowest, jax.lax.max, window, strides, padding)


def _avg_pool(x, window, strides, padding):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.float32)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, padding)
    if padding == "VALID":
        return total / math.prod(window)
    count = jax.lax.reduce_window(jnp.ones(x.shape[1:-1], x.dtype), 0.0, jax.lax.add, window[1:-1],
                                  strides[1:-1], padding)
    return total / count[..., None]


class _Pool(Layer):
    n_spatial = 2
    reducer = staticmethod(_max_pool)

    def __init__(self, window=2, strides=None, padding="VALID", name="pool", data_format=None):
        super().__init__(name)
        n = self.n_spatial
        self.window = int_tuple(window, n, "window", self)
        self.strides = self.window if strides is None else int_tuple(strides, n, "strides", self)
        self.padding = _padding(padding, self)
        self.data_format = _data_format(data_format, n, self)

    def __call__(self, x):
        n = self.n_spatial
        layout = self.data_format or _FORMATS[n][0]
        first = layout in ("NCW", "NCHW")
        x = self.input(x, rank=n + 2, layout=_LAYOUT_TEXT[layout])
        if n == 2 and self.data_format is None:
            _refuse_channels_first(self, x)
        if self.padding == "VALID":
            for size, k in zip(x.shape[2:] if first else x.shape[1:-1], self.window, strict=True):
                if size is not None and size < k:
                    self.fail(f"spatial sizes of at least the window {self.window} with padding 'VALID'", x,
                              "; use padding='SAME' or a smaller window")
        with self.name_scope():
            if first:  # pooled channels last, then back
                x = T.transpose(x, (0, *range(2, n + 2), 1))
            params = {"window": (1, *self.window, 1), "strides": (1, *self.strides, 1),
                      "padding": self.padding}
            y = apply(type(self).reducer, (x,), params, name=type(self).__name__.lower())
            return T.transpose(y, (0, n + 1, *range(1, n + 1))) if first else y


class MaxPool1D(_Pool):
    """Maximum over windows of ``(batch, width, channels)``; ``strides`` defaults to the window (no overlap).
    Padding ``"VALID"`` (default) or ``"SAME"`` (padded entries never win); ``data_format="NCW"`` for
    ``(batch, channels, width)`` inputs."""

    n_spatial = 1

    def __init__(self, window=2, strides=None, padding="VALID", name="max_pool1d", *, data_format=None):
        super().__init__(window, strides, padding, name, data_format)


class MaxPool2D(_Pool):
    """Maximum over ``(h, w)`` windows of NHWC inputs; ``strides`` defaults to the window (no overlap).
    Padding ``"VALID"`` (default) or ``"SAME"`` (padded entries never win); ``data_format`` as
    :class:`Conv2D`."""

    def __init__(self, window=2, strides=None, padding="VALID", name="max_pool2d", *, data_format=None):
        super().__init__(window, strides, padding, name, data_format)


class AvgPool1D(_Pool):
    """Mean over windows of ``(batch, width, channels)``; with ``"SAME"`` padding each mean is over the real
    (unpadded) entries of its window only; ``data_format="NCW"`` for ``(batch, channels, width)`` inputs."""

    n_spatial = 1
    reducer = staticmethod(_avg_pool)

    def __init__(self, window=2, strides=None, padding="VALID", name="avg_pool1d", *, data_format=None):
        super().__init__(window, strides, padding, name, data_format)


class AvgPool2D(_Pool):
    """Mean over ``(h, w)`` windows of NHWC inputs; with ``"SAME"`` padding each mean is over the real
    (unpadded) entries of its window only; ``data_format`` as :class:`Conv2D`."""

    reducer = staticmethod(_avg_pool)

    def __init__(self, window=2, strides=None, padding="VALID", name="avg_pool2d", *, data_format=None):
        super().__init__(window, strides, padding, name, data_format)


MaxPool = MaxPool2D
AvgPool = AvgPool2D


def conv1d(x, filters, kernel_size, strides=1, padding="SAME", dilation=1, activation=None,
           init="glorot_uniform", bias_init="zeros", use_bias=True, name="conv1d", *, data_format=None):
    """``Conv1D(...)(x)`` with a fresh layer; see :class:`Conv1D`."""
    return Conv1D(filters, kernel_size, strides, padding, dilation, activation, init, bias_init, use_bias,
                  name=name, data_format=data_format)(x)


def conv2d(x, filters, kernel_size, strides=1, padding="SAME", dilation=1, activation=None,
           init="glorot_uniform", bias_init="zeros", use_bias=True, name="conv2d", *, data_format=None):
    """``Conv2D(...)(x)`` with a fresh layer; see :class:`Conv2D`."""
    return Conv2D(filters, kernel_size, strides, padding, dilation, activation, init, bias_init, use_bias,
                  name=name, data_format=data_format)(x)


def max_pool2d(x, window=2, strides=None, padding="VALID", *, data_format=None):
    """``MaxPool2D(window, strides, padding, data_format=data_format)(x)``."""
    return MaxPool2D(window, strides, padding, data_format=data_format)(x)


def avg_pool2d(x, window=2, strides=None, padding="VALID", *, data_format=None):
    """``AvgPool2D(window, strides, padding, data_format=data_format)(x)``."""
    return AvgPool2D(window, strides, padding, data_format=data_format)(x)


def max_pool1d(x, window=2, strides=None, padding="VALID", *, data_format=None):
    """``MaxPool1D(window, strides, padding, data_format=data_format)(x)``."""
    return MaxPool1D(window, strides, padding, data_format=data_format)(x)


def avg_pool1d(x, window=2, strides=None, padding="VALID", *, data_format=None):
    """``AvgPool1D(window, strides, padding, data_format=data_format)(x)``."""
    return AvgPool1D(window, strides, padding, data_format=data_format)(x)
