"""Exponential moving averages of tensors, kept in shadow Variables: target networks and running statistics.

For a tracked value ``x_t`` (a Variable or any float expression) and its shadow ``s``, each applied update
is::

    s_t = decay * s_{t-1} + (1 - decay) * x_t            t = 1, 2, ...

This is the exponential form of Polyak averaging of iterates (Polyak & Juditsky, "Acceleration of Stochastic
Approximation by Averaging", SIAM J. Control Optim. 1992), used for the soft target-network updates of
DDPG/TD3/SAC with ``tau = 1 - decay`` (Lillicrap et al. 2016), and for running statistics.

Debiasing (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, section 3): a shadow that
starts at ``s_0 = 0`` is biased towards zero, ``s_t = (1 - decay) * sum_i decay**(t-i) x_i`` whose weights sum
to ``1 - decay**t``; the debiased average divides that out::

    s_hat_t = s_t / (1 - decay**t)                        (s_hat_0 = 0 before any update)

i.e. the exact exponentially weighted mean of ``x_1..x_t``.

Reading an average: ``average(x)`` (and ``ema(x)``) is the value *before* the call's update, ``s_{t-1}``
(debiased: ``s_hat_{t-1}``), the average of the values of the previous calls; with ``debias=False`` it is the
shadow Variable itself, which does not read ``x`` (so compiling it needs no value of ``x``). SymJAX's moving
average is the value *after* this step's update, ``s_t`` (debiased: ``s_hat_t``), which includes this call's
``x``: ``average(x, after_update=True)``, one update ahead.

The updates are registered with the graph, as layers' and optimizers' are: ``sg.function(...,
updates=sg.get_updates())`` moves the averages too.

All shadows of one ``ExponentialMovingAverage`` share one step counter ``t``: track every value before the
first update (or use one average per group). Updates are computed from pre-call values, so a shadow of a
parameter Variable updated in the same call averages the value the parameter had before that call's step;
track the optimizer's new value expression (``opt.updates[w]``) to average the post-step value instead.
"""

import numbers

import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError, ShapeError, describe
from symgraph.graph import Scope
from symgraph.nodes import Tensor, Variable, apply

__all__ = ["ExponentialMovingAverage", "polyak_update"]


class ExponentialMovingAverage:
    """Exponential moving averages of tensors, with optional debiasing; see the module docstring.

    Args:
        decay: weight of the past, in ``[0, 1]`` (``[0, 1)`` with ``debias``); ``decay = 1 - tau`` for the
            soft target updates ``target <- tau * online + (1 - tau) * target``. 0 copies (hard update).
        debias: divide out the bias of a zero start (Kingma & Ba 2015): shadows created here start at 0 and
            ``average(x)`` returns ``s_t / (1 - decay**t)``. Without it, a shadow created for a Variable
            starts at that Variable's current value (for an expression: at 0) and ``average(x)`` is the shadow
            itself.
        name: scope of the shadow Variables and of the ``step`` counter (made unique).

    Example, a target network and an evaluation average of the parameters::

        target = ExponentialMovingAverage(decay=0.995, debias=False)
        target.track(online_params, targets=target_params)    # existing Variables become the shadows
        ema = ExponentialMovingAverage(decay=0.999)
        w_avg = ema(w)                                          # debiased average node of w
        train = sg.function(x, outputs=loss, updates={**opt.updates, **target.updates, **ema.updates})

    Attributes:
        step: int32 Variable counting the applied updates (``t``).
        updates: ``{shadow: new_value, ..., step: step + 1}`` for ``sg.function(..., updates=...)``; the same
            nodes are registered with the graph (``sg.get_updates()``).
    """

    def __init__(self, decay, debias=True, name="ema"):
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real | np.number):
            raise TypeError(f"ExponentialMovingAverage: decay must be a number in [0, 1], got "
                            f"{type(decay).__name__} {decay!r}")
        decay = float(decay)
        if not 0.0 <= decay <= 1.0 or (debias and decay == 1.0):
            allowed = "[0, 1)" if debias else "[0, 1]"
            raise ValueError(f"ExponentialMovingAverage: decay must lie in {allowed}, got {decay!r}; typical "
                             "values are 0.99 to 0.9999 (decay = 1 - tau for soft target updates)")
        self.decay = decay
        self.debias = bool(debias)
        with Scope(name) as scope:
            self.scope = scope.path
            self.step = Variable(np.int32(0), name="step", trainable=False)
            self._next_step = self.step + 1
        self._shadows = {}
        self._created = []
        self._updates = {}

    def track(self, sources, targets=None):
        """Average ``sources``: create their shadow Variables (or use ``targets``) and return the shadows.

        Args:
            sources: a float node of fully known shape (Variable or expression), or a list of them.
            targets: None to create non-trainable shadows in this average's scope, or existing Variables
                (one per source, same shape and dtype) to update in place, e.g. a target network's
                parameters; needs ``debias=False`` since they do not start at zero.

        Returns:
            The shadow Variable, or the list of them if ``sources`` is a list.
        """
        single = isinstance(sources, Tensor)
        sources = [sources] if single else list(sources)
        if targets is not None:
            targets = [targets] if isinstance(targets, Tensor) else list(targets)
            if self.debias:
                raise ValueError("ExponentialMovingAverage.track: targets= needs debias=False: debiasing "
                                 "assumes shadows that start at zero, and given targets (e.g. a target "
                                 "network copied from the online one) do not; create the average with "
                                 "debias=False")
            if len(targets) != len(sources):
                raise ValueError(f"ExponentialMovingAverage.track: got {len(sources)} sources but "
                                 f"{len(targets)} targets; give one target Variable per source, in order")
        for index, source in enumerate(sources):
            self._check_source(index, source)
            if targets is not None:
                self._check_target(index, source, targets[index])
        shadows = []
        for index, source in enumerate(sources):
            if targets is not None:
                shadow = targets[index]
            else:
                shadow = self._create_shadow(source)
            self._shadows[source] = shadow
            with shadow.graph:
                self._updates[shadow] = apply(_ema_step, (shadow, source), {"decay": self.decay},
                                              name="ema_update")
            shadow.graph.add_updates({shadow: self._updates[shadow], self.step: self._next_step}, owner=self)
            shadows.append(shadow)
        return shadows[0] if single else shadows

    def _check_source(self, index, source):
        where = f"ExponentialMovingAverage.track: sources[{index}]"
        if not isinstance(source, Tensor) or isinstance(source.aval, tuple):
            raise TypeError(f"{where} must be a graph node (a Variable or an expression), got "
                            f"{describe(source)}")
        if not jnp.issubdtype(source.dtype, jnp.floating):
            raise DTypeError(f"{where} must be a float tensor, got {describe(source)}; cast it to float32")
        if None in source.shape:
            raise ShapeError(f"{where} {describe(source)} has a dimension unknown at build time; a shadow "
                             "Variable needs a fixed shape: average a reduced value (e.g. its mean over the "
                             "batch)")
        if source in self._shadows:
            raise ValueError(f"{where} {source.name!r} is already tracked by this average; track it once")

    def _check_target(self, index, source, target):
        if not isinstance(target, Variable):
            raise TypeError(f"ExponentialMovingAverage.track: targets[{index}] must be a Variable, got "
                            f"{describe(target)}")
        if target.shape != source.shape or target.dtype != source.dtype:
            raise ShapeError(f"ExponentialMovingAverage.track: targets[{index}] {describe(target)} does not "
                             f"match sources[{index}] {describe(source)}; pair each target with the source "
                             "of the same shape and dtype")

    def _create_shadow(self, source):
        if not self.debias and isinstance(source, Variable):
            initial = source.device_value
        else:
            initial = np.zeros(source.shape, source.dtype)
        graph = source.graph
        with graph, Scope(self.scope, reopen=True):  # the shadows live in this average's scope
            shadow = Variable(initial, name=f"shadow/{source.name}", trainable=False)
        self._created.append(shadow)
        return shadow

    def shadow(self, source):
        """The shadow Variable of a tracked ``source``."""
        if source not in self._shadows:
            raise KeyError(f"ExponentialMovingAverage: {describe(source)} is not tracked; call track() first")
        return self._shadows[source]

    def average(self, source, after_update=False):
        """The average of a tracked ``source`` (see the module doc, "Reading an average").

        Args:
            source: a tracked node.
            after_update: False: the value before this call's update, ``s_{t-1}`` (debiased
                ``s_{t-1} / (1 - decay**(t-1))``, 0 before any update), which with ``debias=False`` is the shadow
                Variable itself. True: SymJAX's, the value after this call's update, ``s_t = decay * s_{t-1} +
                (1 - decay) * x_t`` (debiased ``s_t / (1 - decay**t)``), which reads ``source``.
        """
        shadow = self.shadow(source)
        value, step = (self._updates[shadow], self._next_step) if after_update else (shadow, self.step)
        if not self.debias:
            return value
        return apply(_debiased, (value, step), {"decay": self.decay}, name="ema_average")

    def __call__(self, source, after_update=False):
        """Track ``source`` (if not yet tracked) and return its average node (``after_update`` as
        :meth:`average`)."""
        if source not in self._shadows:
            self.track(source)
        return self.average(source, after_update)

    @property
    def updates(self):
        """``{shadow: decay * shadow + (1 - decay) * source, ..., step: step + 1}``."""
        return {**self._updates, self.step: self._next_step}

    @property
    def variables(self):
        """The shadow Variables created by this average, and its step counter."""
        return [*self._created, self.step]

    def reset(self):
        """Back to the start: created shadows to their creation values, the step counter to 0.

        Shadows given as ``targets=`` belong to someone else (a target network) and are left unchanged.
        """
        for shadow in self._created:
            shadow.reset()
        self.step.update(np.int32(0))

    def __repr__(self):
        return (f"<ExponentialMovingAverage {self.scope!r}: decay {self.decay}, debias {self.debias}, "
                f"{len(self._shadows)} tracked>")


def _ema_step(shadow, source, decay):
    return (decay * shadow + (1.0 - decay) * source).astype(shadow.dtype)


def _debiased(shadow, step, decay):
    correction = 1.0 - jnp.power(jnp.asarray(decay, shadow.dtype), step)
    return jnp.where(step > 0, shadow / jnp.where(step > 0, correction, 1.0), shadow)


def polyak_update(targets, sources, tau):
    """Soft target updates ``{target: tau * source + (1 - tau) * target}`` (Polyak averaging, tau in [0, 1]).

    The stateless form of ``ExponentialMovingAverage(1 - tau, debias=False)``: no step counter, nothing to
    reset, and, like a hand-written update dict, not registered with the graph (``sg.get_updates()`` does not
    hold it): pass it to ``sg.function(..., updates=...)``. ``tau = 1`` copies the sources (a hard update); the
    usual soft value is 0.005.
    """
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real | np.number) or not 0.0 <= float(tau) <= 1.0:
        raise ValueError(f"polyak_update: tau must be a number in [0, 1], got {tau!r}; the usual value is "
                         "0.005")
    targets = [targets] if isinstance(targets, Tensor) else list(targets)
    sources = [sources] if isinstance(sources, Tensor) else list(sources)
    if len(targets) != len(sources):
        raise ValueError(f"polyak_update: got {len(targets)} targets but {len(sources)} sources; give one "
                         "source per target Variable, in order")
    updates = {}
    for index, (target, source) in enumerate(zip(targets, sources, strict=True)):
        if not isinstance(target, Variable):
            raise TypeError(f"polyak_update: targets[{index}] must be a Variable, got {describe(target)}")
        if not isinstance(source, Tensor) or source.shape != target.shape:
            raise ShapeError(f"polyak_update: sources[{index}] {describe(source)} does not match "
                             f"targets[{index}] {describe(target)}; pair each target with the source of the "
                             "same shape")
        updates[target] = apply(_ema_step, (target, source), {"decay": 1.0 - float(tau)},
                                name="polyak_update")
    return updates
