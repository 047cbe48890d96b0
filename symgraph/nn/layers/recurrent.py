"""Recurrent cells (GRUCell, LSTMCell) and their sequence versions over ``T.scan`` (RNN, GRU, LSTM).

A cell is one time step: ``output, new_state = cell(x_t, state)`` with ``x_t`` of shape ``(batch,
in_features)`` (any leading axes work). A sequence layer runs a cell along the time axis of ``x`` with
``T.scan``, so the whole sequence compiles to one XLA loop and gradients flow through time (BPTT).

Sequence layout: **batch-major** by default, ``x`` of shape ``(batch, time, features)`` and outputs
``(batch, time, units)``; pass ``time_major=True`` for ``(time, batch, features)`` inputs and outputs.

Weights: ``W`` ``(in_features, gates * units)`` (input kernel, Glorot uniform), ``U`` ``(units, gates *
units)`` (recurrent kernel, orthogonal, Saxe et al. 2014) and ``b`` ``(gates * units,)``, the gates
concatenated in the order given in each cell's docstring.
"""

import jax.numpy as jnp

import symgraph.tensor as T
from symgraph.errors import ShapeError, describe, format_shape
from symgraph.nn import initializers
from symgraph.nn.layers.base import Layer, compatible, positive_int
from symgraph.nodes import Tensor, apply, as_tensor


def _zeros_state(x, units):
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    return jnp.zeros(x.shape[:-1] + (units,), dtype)


class _Cell(Layer):
    gates = 1

    def __init__(self, units, init, recurrent_init, bias_init, in_features, dtype, name):
        super().__init__(name)
        self.units = positive_int(units, "units", self)
        self.init = self.initializer(init)
        self.recurrent_init = self.initializer(recurrent_init, "recurrent_init")
        self.bias_init = self.initializer(bias_init, "bias_init")
        self.dtype = dtype
        self.W = self.U = self.b = None
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        width = self.gates * self.units
        self.W = self.add_variable("W", self.init, (in_features, width), dtype=self.dtype)
        self.U = self.add_variable("U", self.recurrent_init, (self.units, width), dtype=self.dtype,
                                   argument="recurrent_init")
        self.b = self.add_variable("b", self.bias_init, (width,), dtype=self.dtype, argument="bias_init")

    def zeros(self, x):
        """A zero state vector ``(..., units)`` for inputs shaped like ``x`` ``(..., features)``."""
        with self.name_scope():
            return apply(_zeros_state, (x,), {"units": self.units}, name="zero_state")

    def check_input(self, x):
        x = self.input(x, min_rank=1, layout="(batch, features)")
        self.ensure_built(self.features(x))
        return x

    def check_vector(self, h, x, what):
        h = as_tensor(h, self.graph)
        expected = x.shape[:-1] + (self.units,)
        if not isinstance(h, Tensor) or isinstance(h.aval, tuple) or not compatible(h.shape, expected):
            raise ShapeError(f"{self}: expects a {what} of shape {format_shape(expected)} for the input "
                             f"{describe(x)}, got {describe(h)}; start from cell.initial_state(x)")
        return h

    def gate(self, pre, index):
        """Slice ``index`` (of ``gates``) of the pre-activations ``pre`` (..., gates * units)."""
        u = self.units
        return pre[..., index * u:(index + 1) * u]


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder for
    Statistical Machine Translation"), gates ordered ``[r, z, n]``::

        r  = sigmoid(x W_r + h U_r + b_r)             reset gate
        z  = sigmoid(x W_z + h U_z + b_z)             update gate
        n  = tanh(x W_n + (r * h) U_n + b_n)          candidate state
        h' = (1 - z) * n + z * h

    ``output, h' = cell(x, h)`` (the output is the new state). ``cell.initial_state(x)`` gives zeros.

    Args:
        units: state size.
        init, recurrent_init, bias_init: initializers of ``W``, ``U``, ``b``.
        in_features: the input size, to create the variables now (else on the first call).
    """

    gates = 3

    def __init__(self, units, init="glorot_uniform", recurrent_init="orthogonal", bias_init="zeros",
                 in_features=None, dtype="float32", name="gru_cell"):
        super().__init__(units, init, recurrent_init, bias_init, in_features, dtype, name)

    def initial_state(self, x):
        """Zeros ``(..., units)`` for inputs shaped like ``x``."""
        return self.zeros(self.check_input(x))

    def __call__(self, x, h):
        x = self.check_input(x)
        h = self.check_vector(h, x, "state h")
        u = self.units
        with self.name_scope():
            pre_x = T.matmul(x, self.W) + self.b
            pre_h = T.matmul(h, self.U[:, :2 * u])
            r = T.sigmoid(self.gate(pre_x, 0) + pre_h[..., :u])
            z = T.sigmoid(self.gate(pre_x, 1) + pre_h[..., u:])
            n = T.tanh(self.gate(pre_x, 2) + T.matmul(r * h, self.U[:, 2 * u:]))
            h = (1.0 - z) * n + z * h
        return h, h


class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, "Long Short-Term Memory"; forget gate of
    Gers et al. 2000), gates ordered ``[i, f, g, o]``::

        i  = sigmoid(x W_i + h U_i + b_i)             input gate
        f  = sigmoid(x W_f + h U_f + b_f)             forget gate
        g  = tanh(x W_g + h U_g + b_g)                candidate cell
        o  = sigmoid(x W_o + h U_o + b_o)             output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    ``output, (h', c') = cell(x, (h, c))`` (the output is ``h'``). ``cell.initial_state(x)`` gives zeros.

    Args:
        units: state size.
        init, recurrent_init, bias_init: initializers of ``W``, ``U``, ``b``.
        forget_bias: added to the forget-gate slice of ``b`` at initialisation (1.0, as Jozefowicz et al.
            2015 recommend, so the cell remembers by default).
        in_features: the input size, to create the variables now (else on the first call).
    """

    gates = 4

    def __init__(self, units, init="glorot_uniform", recurrent_init="orthogonal", bias_init="zeros",
                 forget_bias=1.0, in_features=None, dtype="float32", name="lstm_cell"):
        units = positive_int(units, "units", f"LSTMCell {name!r}")
        base = initializers.get(bias_init, "LSTMCell bias_init")
        self.forget_bias = float(forget_bias)

        def bias(key, shape, dtype):
            return base(key, shape, dtype).at[units:2 * units].add(self.forget_bias)

        description = f"{base!r} + forget_bias {self.forget_bias}"
        super().__init__(units, init, recurrent_init, initializers.Initializer(bias, description),
                         in_features, dtype, name)

    def initial_state(self, x):
        """``(h, c)``, both zeros ``(..., units)``, for inputs shaped like ``x``."""
        x = self.check_input(x)
        return self.zeros(x), self.zeros(x)

    def __call__(self, x, state):
        x = self.check_input(x)
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise ShapeError(f"{self}: the state must be a pair (h, c), got {type(state).__name__}; start "
                             "from cell.initial_state(x)")
        h = self.check_vector(state[0], x, "state h")
        c = self.check_vector(state[1], x, "state c")
        with self.name_scope():
            pre = T.matmul(x, self.W) + T.matmul(h, self.U) + self.b
            i, f = T.sigmoid(self.gate(pre, 0)), T.sigmoid(self.gate(pre, 1))
            g, o = T.tanh(self.gate(pre, 2)), T.sigmoid(self.gate(pre, 3))
            c = f * c + i * g
            h = o * T.tanh(c)
        return h, (h, c)


class RNN(Layer):
    """Run a cell along the time axis of a sequence with ``T.scan``.

    Args:
        cell: a GRUCell, LSTMCell or any layer with ``initial_state(x_t)`` and ``cell(x_t, state) -> (output,
            new_state)``.
        time_major: inputs/outputs ``(time, batch, features)`` if True, else ``(batch, time, features)``.
        reverse: run from the last step to the first (outputs stay aligned with their inputs).

    Call ``rnn(x, initial_state=None, return_state=False)``: returns the outputs ``(batch, time, units)`` (or
    time-major), and with ``return_state=True`` the pair ``(outputs, final_state)``. The initial state
    defaults to the cell's zeros.
    """

    def __init__(self, cell, time_major=False, reverse=False, name="rnn"):
        super().__init__(name)
        if not isinstance(cell, Layer) or not hasattr(cell, "initial_state"):
            raise TypeError(f"{self}: cell must be a recurrent cell layer (GRUCell, LSTMCell...), got "
                            f"{cell!r}")
        self.cell, self.time_major, self.reverse = cell, bool(time_major), bool(reverse)

    def __call__(self, x, initial_state=None, return_state=False):
        layout = "(time, batch, features)" if self.time_major else "(batch, time, features)"
        x = self.input(x, rank=3, layout=layout)
        self.ensure_built(self.features(x))
        with self.name_scope():
            xs = x if self.time_major else T.swapaxes(x, 0, 1)
            state = self.cell.initial_state(xs[0]) if initial_state is None else initial_state

            def step(state, x_t):
                output, new_state = self.cell(x_t, state)
                return new_state, output

            final, ys = T.scan(step, state, xs, reverse=self.reverse)
            outputs = ys if self.time_major else T.swapaxes(ys, 0, 1)
        return (outputs, final) if return_state else outputs


class GRU(RNN):
    """A :class:`GRUCell` (scope ``name/cell``) over a sequence; see :class:`RNN` for layout and call."""

    def __init__(self, units, init="glorot_uniform", recurrent_init="orthogonal", bias_init="zeros",
                 time_major=False, reverse=False, in_features=None, dtype="float32", name="gru"):
        Layer.__init__(self, name)
        with self.name_scope():
            cell = GRUCell(units, init, recurrent_init, bias_init, in_features, dtype, name="cell")
        self.cell, self.time_major, self.reverse = cell, bool(time_major), bool(reverse)


class LSTM(RNN):
    """An :class:`LSTMCell` (scope ``name/cell``) over a sequence; see :class:`RNN` for layout and call."""

    def __init__(self, units, init="glorot_uniform", recurrent_init="orthogonal", bias_init="zeros",
                 forget_bias=1.0, time_major=False, reverse=False, in_features=None, dtype="float32",
                 name="lstm"):
        Layer.__init__(self, name)
        with self.name_scope():
            cell = LSTMCell(units, init, recurrent_init, bias_init, forget_bias, in_features, dtype,
                            name="cell")
        self.cell, self.time_major, self.reverse = cell, bool(time_major), bool(reverse)
