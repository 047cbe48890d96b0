"""Schedules: values (learning rates, exploration rates, coefficients) that change with a step count.

Each factory returns a ``Schedule``: a callable of the step count ``t`` that is

- optax-compatible: ``schedule(t)`` on a Python int or a JAX integer array returns a float32 JAX scalar, so it
  can be given as a learning rate to any optax transform or to the optimizers of ``symgraph.nn.optimizers``,
  whose step counter lives in the optimizer state and advances by one per applied update;
- symbolic: ``schedule(step)`` on a graph node (e.g. an integer step Variable the user advances with
  ``updates={step: step + 1}``) returns a node, usable as an output or inside any expression.

All schedules are pure functions of ``t`` (no hidden counter), so they are exact under ``jax.jit``,
``jax.vmap`` and ``jax.lax.scan``. Closed forms (``t`` the step, clipped to the schedule's range):

======================== ==================================================================================
``constant(v)``          ``v``
``linear(a, b, n)``      ``a + (b - a) * clip((t - begin) / n, 0, 1)``: from ``a`` to ``b``, then hold ``b``
``cosine(a, n, b)``      ``b + (a - b) * (1 + cos(pi * clip(t - begin, 0, n) / n)) / 2``
``exponential(a, r, n)`` ``a * r ** (max(t - begin, 0) / n)`` (exponent floored if ``staircase``), clipped
                         at ``final``
``piecewise_constant``   ``values[i]`` where ``i`` is the number of boundaries ``<= t``
======================== ==================================================================================

SymJAX's stateful forms: :class:`PiecewiseConstant` is the ``piecewise_constant`` schedule whose ``value``
node also reads a step counter of its own, advanced by a registered update per call, and
:class:`SimpleMovingAverage` averages a node over the last calls; both have ``reset()``.
"""

import math
import numbers

import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError
from symgraph.graph import Scope
from symgraph.nodes import Tensor, Variable, apply


class Schedule:
    """A value as a function of the step count; see the module docstring.

    Attributes:
        name: the schedule's kind (also the name of the nodes it builds).
        values: the values the schedule takes at its key points (start, end, each piece), used e.g. by the
            optimizers to check a learning-rate schedule never goes negative.
        arguments: the keyword arguments of the factory of this module that made it (its ``name``), so that
            ``getattr(schedules, s.name)(**s.arguments)`` rebuilds it (checkpoints store schedules so); None
            for a schedule built directly from a function.
    """

    def __init__(self, fn, name, values, arguments=None):
        self._fn = fn
        self.name = name
        self.values = tuple(float(v) for v in values)
        self.arguments = arguments

    def __call__(self, count):
        """The value at step ``count``: a float32 JAX scalar/array, or a node if ``count`` is a graph node."""
        if isinstance(count, Tensor):
            if isinstance(count.aval, tuple) or not (jnp.issubdtype(count.dtype, jnp.integer)
                                                     or jnp.issubdtype(count.dtype, jnp.floating)):
                raise DTypeError(f"schedule {self.name!r}: the step count must be an integer (or float) "
                                 f"node, got {count!r}; pass e.g. an int32 step Variable")
            return apply(self._evaluate, (count,), name=self.name)
        return self._evaluate(count)

    def _evaluate(self, count):
        return jnp.asarray(self._fn(jnp.asarray(count, jnp.float32)), jnp.float32)

    def __repr__(self):
        return f"<Schedule {self.name}: key values {list(self.values)}>"


def _number(owner, argument, value, minimum=None, strict=False, hint=""):
    """``value`` as a finite float, with a message naming the argument and the fix otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.number):
        raise TypeError(f"{owner}: {argument} must be a real number, got {type(value).__name__} {value!r}"
                        f"{hint}")
    value = float(value)
    low_ok = minimum is None or (value > minimum if strict else value >= minimum)
    if not math.isfinite(value) or not low_ok:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum}"
        raise ValueError(f"{owner}: {argument} must be a finite number{bound}, got {value!r}{hint}")
    return value


def _steps(owner, argument, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {argument} must be an int (a number of steps), got "
                        f"{type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {argument} must be an int >= {minimum}, got {value!r}")
    return int(value)


def constant(value):
    """The schedule that is always ``value``."""
    value = _number("constant", "value", value)
    return Schedule(lambda t: jnp.full_like(t, value), "constant", (value,), {"value": value})


def linear(init, final, steps, begin=0):
    """Anneal linearly from ``init`` to ``final`` over ``steps`` steps starting at step ``begin``, then hold.

    ``value(t) = init + (final - init) * clip((t - begin) / steps, 0, 1)``; e.g. the epsilon of an
    epsilon-greedy policy, or a learning rate decayed to zero over training.
    """
    init = _number("linear", "init", init)
    final = _number("linear", "final", final)
    steps = _steps("linear", "steps", steps)
    begin = _steps("linear", "begin", begin, minimum=0)

    def fn(t):
        return init + (final - init) * jnp.clip((t - begin) / steps, 0.0, 1.0)

    return Schedule(fn, "linear", (init, final), {"init": init, "final": final, "steps": steps, "begin": begin})


def cosine(init, steps, final=0.0, begin=0):
    """Cosine annealing from ``init`` to ``final`` over ``steps`` steps from ``begin``, then hold ``final``.

    ``value(t) = final + (init - final) * (1 + cos(pi * clip(t - begin, 0, steps) / steps)) / 2``
    (SGDR without restarts: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017).
    """
    init = _number("cosine", "init", init)
    final = _number("cosine", "final", final)
    steps = _steps("cosine", "steps", steps)
    begin = _steps("cosine", "begin", begin, minimum=0)

    def fn(t):
        progress = jnp.clip(t - begin, 0.0, steps) / steps
        return final + (init - final) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))

    return Schedule(fn, "cosine", (init, final), {"init": init, "steps": steps, "final": final, "begin": begin})


def exponential(init, rate, steps, begin=0, staircase=False, final=None):
    """Exponential decay (or growth): multiply by ``rate`` every ``steps`` steps from step ``begin``.

    ``value(t) = init * rate ** (max(t - begin, 0) / steps)``, the exponent floored when ``staircase``; with
    ``final`` the value never passes it (a floor when ``rate < 1``, a ceiling when ``rate > 1``).
    """
    init = _number("exponential", "init", init)
    rate = _number("exponential", "rate", rate, minimum=0.0, strict=True,
                   hint="; rate < 1 decays, rate > 1 grows")
    steps = _steps("exponential", "steps", steps)
    begin = _steps("exponential", "begin", begin, minimum=0)
    final = None if final is None else _number("exponential", "final", final)

    def fn(t):
        exponent = jnp.maximum(t - begin, 0.0) / steps
        if staircase:
            exponent = jnp.floor(exponent)
        value = init * jnp.power(rate, exponent)
        if final is not None:
            value = jnp.maximum(value, final) if rate < 1 else jnp.minimum(value, final)
        return value

    arguments = {"init": init, "rate": rate, "steps": steps, "begin": begin, "staircase": bool(staircase),
                 "final": final}
    return Schedule(fn, "exponential", (init,) if final is None else (init, final), arguments)


def piecewise_constant(boundaries, values):
    """``values[0]`` before ``boundaries[0]``, ``values[i]`` for ``boundaries[i-1] <= t < boundaries[i]``...

    Args:
        boundaries: strictly increasing step numbers (ints >= 0) where the value changes.
        values: one more value than boundaries.
    """
    try:
        boundaries, values = list(boundaries), list(values)
    except TypeError:
        raise TypeError("piecewise_constant: boundaries and values must be sequences, e.g. "
                        "piecewise_constant([1000, 5000], [1e-3, 1e-4, 1e-5])") from None
    boundaries = [_steps("piecewise_constant", f"boundaries[{i}]", b, minimum=0)
                  for i, b in enumerate(boundaries)]
    values = [_number("piecewise_constant", f"values[{i}]", v) for i, v in enumerate(values)]
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"piecewise_constant: values must hold one more entry than boundaries (one value "
                         f"per piece), got {len(boundaries)} boundaries and {len(values)} values")
    if any(b >= c for b, c in zip(boundaries[:-1], boundaries[1:], strict=True)):
        raise ValueError(f"piecewise_constant: boundaries must be strictly increasing, got {boundaries}")
    table = np.asarray(values, np.float32)
    edges = np.asarray(boundaries, np.float32)

    def fn(t):
        return jnp.asarray(table)[jnp.searchsorted(jnp.asarray(edges), t, side="right")]

    return Schedule(fn, "piecewise_constant", values, {"boundaries": boundaries, "values": values})


class PiecewiseConstant(Schedule):
    """SymJAX's ``PiecewiseConstant(init, {step: value})``: ``init``, then ``value`` from each ``step`` on.

    As a schedule (a learning rate ``Adam(loss, lr=PiecewiseConstant(1e-3, {1000: 1e-4}))``) it is
    :func:`piecewise_constant` over the sorted steps. As SymJAX's node, :attr:`value` reads it at a step
    counter of its own: an int32 Variable ``step`` (in a scope named ``name``) that a registered update
    advances by one per call of a function compiled with ``updates=sg.get_updates()`` (or ``updates=
    schedule.updates``); a call reads the value at the count of the calls before it. :meth:`reset` sets the
    counter back to 0.

    Args:
        init: the value before the first step of ``steps_and_values``.
        steps_and_values: ``{step: value}``, steps ints >= 1 (in any order).
        name: the scope of the step counter.
    """

    def __init__(self, init, steps_and_values, name="PiecewiseConstant"):
        init = _number("PiecewiseConstant", "init", init)
        if not isinstance(steps_and_values, dict):
            raise TypeError(f"PiecewiseConstant: steps_and_values must be a dict {{step: value}}, got "
                            f"{type(steps_and_values).__name__} {steps_and_values!r}; e.g. "
                            "PiecewiseConstant(0.1, {1000: 0.01, 5000: 0.001})")
        steps = sorted(_steps("PiecewiseConstant", f"step {k!r}", k) for k in steps_and_values)
        values = [init] + [_number("PiecewiseConstant", f"the value of step {k}", steps_and_values[k])
                           for k in steps]
        inner = piecewise_constant(steps, values)
        super().__init__(inner._fn, inner.name, inner.values, inner.arguments)
        self.init, self.steps_and_values, self.scope_name = init, dict(zip(steps, values[1:], strict=True)), name
        self._step, self._value, self._updates = None, None, None

    def _build(self):
        if self._step is None:
            with Scope(self.scope_name) as scope:
                self.scope = scope.path
                self._step = Variable(np.int32(0), name="step", trainable=False)
                self._value = self(self._step)
                self._updates = {self._step: self._step + 1}
            self._step.graph.add_updates(self._updates, owner=self)

    @property
    def step(self):
        """The int32 step Variable :attr:`value` reads (created, in the current graph, at first use)."""
        self._build()
        return self._step

    @property
    def value(self):
        """The node of the value at :attr:`step` (SymJAX's return value)."""
        self._build()
        return self._value

    @property
    def updates(self):
        """``{step: step + 1}``, registered with the graph."""
        self._build()
        return dict(self._updates)

    def reset(self):
        """The step counter back to 0 (nothing to do before :attr:`value` is first used)."""
        if self._step is not None:
            self._step.update(np.int32(0))

    def __repr__(self):
        return f"<PiecewiseConstant {self.init} then {self.steps_and_values}>"


def _window_mean(buffer, count, x, window):
    slot = count % window
    kept = jnp.sum(buffer, axis=0) - jnp.where(count >= window, buffer[slot], jnp.zeros_like(x))
    return ((kept + x) / jnp.minimum(count + 1, window).astype(x.dtype)).astype(x.dtype)


def _window_store(buffer, count, x, window):
    return buffer.at[count % window].set(x.astype(buffer.dtype))


class SimpleMovingAverage:
    """SymJAX's ``SimpleMovingAverage(x, n)``: the mean of the last ``window`` values of a node, over calls.

    :attr:`value` is the node of the mean of this call's ``x`` and the ``window - 1`` values before it (fewer
    in the first calls: the mean of those seen so far), i.e. the average *after* this call's update, as
    SymJAX's. The past values live in a non-trainable Variable ``buffer`` of shape ``(window,) + x.shape``
    and a call counter ``count`` (scope ``name``); their updates are registered with the graph, so a
    function compiled with ``updates=sg.get_updates()`` (or ``updates=sma.updates``) advances the window
    once per call. A function compiled without them reads the value over a window that never advances.

    Args:
        x: a float node of fully known shape (e.g. a loss, to smooth it).
        window: the number of values averaged (an int >= 1).
        name: the scope of the Variables.
    """

    def __init__(self, x, window, name="SimpleMovingAverage"):
        if not isinstance(x, Tensor) or isinstance(x.aval, tuple):
            raise TypeError(f"SimpleMovingAverage: x must be a graph node with one output, got {x!r}")
        if not jnp.issubdtype(x.dtype, jnp.floating) or None in x.shape:
            raise DTypeError(f"SimpleMovingAverage: x must be a float node of fully known shape, got {x!r}; "
                             "cast it with T.astype(x, 'float32') or give the placeholder a fixed shape")
        self.window = _steps("SimpleMovingAverage", "window", window)
        with x.graph, Scope(name) as scope:
            self.scope = scope.path
            self.buffer = Variable(np.zeros((self.window, *x.shape), x.dtype), name="buffer", trainable=False)
            self.count = Variable(np.int32(0), name="count", trainable=False)
            params = {"window": self.window}
            self.value = apply(_window_mean, (self.buffer, self.count, x), params, name="simple_moving_average")
            self.updates = {self.buffer: apply(_window_store, (self.buffer, self.count, x), params,
                                               name="window_store"),
                            self.count: self.count + 1}
        x.graph.add_updates(self.updates, owner=self)

    @property
    def variables(self):
        """The window's buffer and call counter."""
        return [self.buffer, self.count]

    def reset(self):
        """An empty window: the buffer to zeros, the counter to 0."""
        self.buffer.reset()
        self.count.reset()

    def __repr__(self):
        return f"<SimpleMovingAverage {self.scope!r}: window {self.window}>"
