"""The numeric hyperparameters a learner holds as state, and the argument rules every learner shares.

A number written into a learner's graph or update as a Python float becomes a constant of the compiled
program, so every value compiles a program of its own: a sweep over 40 learning rates compiled 40 updates. The
hyperparameters users sweep (learning rates, discount, GAE's lambda, PPO's clip ranges, the loss coefficients,
Polyak's tau, SAC's fixed temperature) are instead held in float32 scalar Variables, non-trainable, named
``<learner scope>/hyperparameters/<argument>`` (the learning rates live in their optimizers, as
``.../hyperparams/learning_rate``): learners that differ only in these values lower to the same program and
share one executable (:class:`~symgraph.shared_jit.SharedJit`), and a compiled loop can give each seed its own
value (:func:`symgraph.rl.train`'s ``state_overrides``). ``learner.hyperparameter_variables()`` lists them by
constructor argument.
"""

import math
import numbers

import numpy as np

from symgraph.graph import Scope
from symgraph.nodes import Variable

__all__ = ["Hyperparameters", "held_variables", "grad_norm_limit", "finite", "check_seed"]

#: The largest float32: a hyperparameter held as float32 state must be below it.
FLOAT32_MAX = float(np.finfo(np.float32).max)


class Hyperparameters:
    """A learner's hyperparameters held as state: float32 scalar, non-trainable Variables in one scope
    ``hyperparameters`` of its graph (opened by the first :meth:`hold`, inside the learner's scope if any).

    Attributes:
        variables: ``{constructor argument: Variable}``.
    """

    def __init__(self):
        self.variables = {}
        self._path = None

    def hold(self, name, value):
        """The Variable ``.../hyperparameters/<name>`` holding ``value`` (call inside the learner's graph)."""
        with Scope(self._path, reopen=True) if self._path else Scope("hyperparameters") as scope:
            self._path = scope.path
            self.variables[name] = Variable(np.float32(value), name=name, trainable=False)
        return self.variables[name]


def held_variables(hyperparameters, learning_rates):
    """What a learner's ``hyperparameter_variables()`` returns, ``{constructor argument: [Variables]}``, from
    its held ``hyperparameters`` (``{argument: Variable}``) and the optimizers each learning-rate argument sets
    (``{argument: [optimizers]}``; an optimizer with a schedule holds no learning rate)."""
    held = {name: [variable] for name, variable in hyperparameters.items()}
    for name, optimizers in learning_rates.items():
        variables = [opt.lr_variable for opt in optimizers if opt.lr_variable is not None]
        if variables:
            held[name] = variables
    return held


def finite(owner, name, value, low=None, high=None, low_open=False, allow_none=False, alternative=None):
    """``value`` as a float, finite, representable in float32 and in ``[low, high]`` (``(low, high]`` with
    ``low_open``), or None when allowed; else a ValueError naming the argument, the accepted values (with
    ``alternative``, e.g. ``"'auto'"``, when the argument takes one) and the value received."""
    if value is None and allow_none:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
          and abs(value) <= FLOAT32_MAX and (low is None or (value > low if low_open else value >= low))
          and (high is None or value <= high))
    if not ok:
        if low is not None and high is not None:
            span = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        elif low is not None:
            span = f"{'>' if low_open else '>='} {low:g}"
        else:
            span = ""
        alternatives = [a for a in (alternative, "None" if allow_none else None) if a]
        accepted = f"a number {span}".rstrip() + "".join(f" or {a}" for a in alternatives)
        raise ValueError(f"{owner}: {name} must be {accepted} (finite, within float32), got {value!r}")
    return float(value)


def grad_norm_limit(owner, value):
    """The one rule of every learner's ``max_grad_norm``: None or 0 mean no clipping (returned as None), a
    positive number clips the gradients' global norm to it; anything else is a ValueError naming it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0 \
            or value > FLOAT32_MAX:
        raise ValueError(f"{owner}: max_grad_norm must be a finite number >= 0 within float32 (the largest "
                         f"global norm of the gradients; 0 or None: no clipping), got {value!r}")
    return float(value) or None


def check_seed(owner, seed):
    """``seed`` checked: None or an int in ``[0, 2**64)``, else a TypeError/ValueError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{owner}: seed must be an int in [0, 2**64) or None (a fresh seed), got "
                        f"{type(seed).__name__} {seed!r}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"{owner}: seed must be an int in [0, 2**64) or None (a fresh seed), got {seed}")
    return int(seed)
