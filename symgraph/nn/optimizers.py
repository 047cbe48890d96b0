"""Optimizers: optax gradient transformations whose state lives in graph Variables.

An optimizer turns a scalar loss (or a list of gradient nodes) into the ``{variable: new_value}`` updates a
compiled function applies::

    opt = Adam(loss, lr=1e-3)                       # params: every trainable Variable the loss reads
    train = sg.function(x, y, outputs=[loss, opt.grad_norm, opt.lr], updates=opt.updates)

The updates are also registered with the graph, as layers' are, so SymJAX's pattern trains as well:
``Adam(loss, lr)`` then ``sg.function(x, y, outputs=loss, updates=sg.get_updates())``. Listing both
(``updates=[opt.updates, sg.get_updates()]``) applies each once; two optimizers over one parameter make
``get_updates()`` raise rather than pick one (pass the ``updates`` of the one you mean).

Frozen Variables (``trainable=False``) are never trained by accident: ``params=None`` leaves them out, and a
frozen Variable listed in ``params=`` is refused unless ``allow_frozen=True`` says it is meant.

The maths is optax's: one node runs ``transform.update(grads, state, params)`` and ``optax.apply_updates``
inside the compiled program, so any ``optax.GradientTransformation`` works through ``Optimizer``. The optax
state pytree is held in non-trainable Variables, one per leaf, inside a scope named after the optimizer
(``adam/0/mu/w``, ``adam/0/nu/w``, ``adam/0/count``...), plus an int32 ``step`` counter; they are read and
written like any other state, so ``save_variables``/``load_variables``/``reset_variables``, ``Function.state``
and the ``.pure`` view (``jax.lax.scan``/``jax.vmap``) carry them. The parameters are handed to optax as a
dict ``{variable name: value}``, so optax masks may be written over variable names.

Learning rates are numbers or schedules (``symgraph.nn.schedules`` or any callable of the step count):
optax evaluates a schedule at its own step count, which lives in the state and advances by one per update.
A numeric learning rate is held in a float32 Variable of the optimizer (``<scope>/hyperparams/learning_rate``)
rather than compiled into the program as a constant, so that optimizers differing only in their learning rate
compile one program (a learning-rate sweep compiles once), and a compiled loop can give each seed its own
value through the state.
"""

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax

from symgraph.errors import DTypeError, ShapeError, describe
from symgraph.gradients import gradients
from symgraph.graph import Scope
from symgraph.interpreter import topological_order
from symgraph.nn.schedules import Schedule
from symgraph.nodes import Tensor, Variable, apply, constant, item
from symgraph.shared_jit import SharedJit

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSProp", "check_lr"]


class Optimizer:
    """Any optax transform applied to graph Variables, its state kept in Variables.

    Each applied update computes, with ``g`` the gradients, ``s`` the optax state and ``p`` the parameters::

        g <- g * min(1, max_grad_norm / ||g||)          (only with max_grad_norm; optax.clip_by_global_norm)
        u, s <- transform.update(g, s, p)
        p <- p + u                                      (optax.apply_updates)
        step <- step + 1

    Args:
        transform: an ``optax.GradientTransformation`` (e.g. ``optax.lion(1e-4)``), or a function of the
            learning rate returning one (e.g. ``lambda lr: optax.lion(lr)``): then a numeric ``lr`` is held in
            the Variable :attr:`lr_variable` and the transform is built from its value inside the program (a
            schedule ``lr`` is passed to the function as is).
        loss_or_grads: a scalar float loss node, or a list of gradient nodes (then ``params`` is required
            and ``grads[i]`` is the gradient of ``params[i]``).
        params: the Variables to optimize; None means every trainable Variable the loss depends on.
        lr: the learning rate (number or schedule): the argument of a ``transform`` given as a function;
            for a ``transform`` given built, the rate it was built with, used only for the ``.lr`` logging
            node. None leaves ``.lr`` None. The subclasses fill it in.
        max_grad_norm: if given (> 0), gradients are rescaled to this global norm at most before
            ``transform`` (``optax.clip_by_global_norm`` chained in front).
        name: name of the scope of the state Variables (made unique: ``optimizer``, ``optimizer_1``...).
        hyperparams: more numbers of a ``transform`` given as a function, passed to it as keyword arguments
            and held, as the learning rate, in float32 Variables (``<scope>/hyperparams/<name>``), so that
            the program reads them as values rather than constants (e.g. ``{"b1": 0.9}``).
        allow_frozen: train Variables created with ``trainable=False`` that ``params`` lists (by default
            such a Variable is refused, naming it: a frozen Variable is trained only when asked twice).

    Attributes:
        updates: ``{variable: new_value}`` for the parameters, every state Variable and the step counter;
            pass it to ``sg.function(..., updates=...)``. The same nodes are registered with the graph
            (``sg.get_updates()``).
        params, grads: the parameter Variables and their gradient nodes (before clipping).
        loss: the loss node (None if gradients were given).
        grad_norm: node of the global norm of the gradients, before clipping.
        lr: node of the learning rate applied by the next update (None for a generic transform without lr).
        lr_variable: the float32 Variable holding a numeric learning rate of a ``transform`` given as a
            function (its state entry ends in ``hyperparams/learning_rate``), else None.
        hyperparams: ``{name: Variable}`` of the numbers held as state for a ``transform`` given as a
            function: ``"learning_rate"`` and the ``hyperparams`` argument's.
        step: int32 Variable counting the applied updates.
        state_variables: the Variables holding the optax state (not including ``step``).
        scope: the scope path of the state Variables.
        transform: the optax transform applied (with the clipping in front, if any; built with the initial
            learning rate when the transform was given as a function of it).
    """

    default_name = "optimizer"

    def __init__(self, transform, loss_or_grads, params=None, *, lr=None, max_grad_norm=None, name=None,
                 hyperparams=None, allow_frozen=False):
        owner = type(self).__name__
        factory = None
        if not (hasattr(transform, "init") and hasattr(transform, "update")):
            if not callable(transform):
                raise TypeError(f"{owner}: transform must be an optax.GradientTransformation (e.g. "
                                f"optax.adam(1e-3)) or a function of the learning rate returning one, got "
                                f"{type(transform).__name__} {transform!r}")
            if lr is None:
                raise TypeError(f"{owner}: a transform given as a function of the learning rate needs lr=; "
                                f"pass e.g. lr=1e-3, or an optax.GradientTransformation")
            factory = transform
        if lr is not None:
            lr = check_lr(owner, lr)
        extras = {k: _real(owner, k, v) for k, v in (hyperparams or {}).items()}
        if extras and factory is None:
            raise TypeError(f"{owner}: hyperparams= are keyword arguments of a transform given as a function of "
                            f"the learning rate; pass transform=lambda lr, **hyperparams: ...")
        if factory is not None and callable(lr):  # a schedule: the transform evaluates it from its count
            transform, factory = factory(lr, **extras), None
        if max_grad_norm is not None:
            max_grad_norm = _real(owner, "max_grad_norm", max_grad_norm, low=0.0, low_open=True,
                                  hint="; pass e.g. max_grad_norm=0.5, or None to not clip")
            factory = factory and _clipped(factory, max_grad_norm)
            transform = transform if factory else optax.chain(optax.clip_by_global_norm(max_grad_norm), transform)
        self.loss, self.params, self.grads = _resolve(owner, loss_or_grads, params, allow_frozen)
        self._factory = factory
        self.transform = factory(lr, **extras) if factory else transform
        self.max_grad_norm = max_grad_norm
        self.grad_norm = apply(_global_norm, self.grads, name="grad_norm")
        names = tuple(p.name for p in self.params)

        with Scope(name or self.default_name) as scope:
            self.scope = scope.path
            self.lr_variable, self.hyperparams = None, {}
            if factory is not None:
                with Scope("hyperparams"):
                    self.hyperparams = {key: Variable(np.float32(value), name=key, trainable=False)
                                        for key, value in {"learning_rate": lr, **extras}.items()}
                self.lr_variable = self.hyperparams["learning_rate"]
            state = self._initial_state()
            flat, self._treedef = jax.tree_util.tree_flatten_with_path(state)
            self.state_variables = [Variable(jnp.asarray(leaf), name=_path_name(path), trainable=False)
                                    for path, leaf in flat]
            self.step = Variable(np.int32(0), name="step", trainable=False)
            self.lr = self.lr_variable if factory else None if lr is None else _lr_node(lr, self.step)

        n = len(self.params)
        node = apply(_optax_update, (*self.grads, *self.params, *self.state_variables, *self.hyperparams.values()),
                     {"transform": None if factory else transform, "factory": factory, "treedef": self._treedef,
                      "names": names, "hyperparams": tuple(self.hyperparams)},
                     name=f"{self.scope.rsplit('/', 1)[-1]}_update")
        self.updates = {p: item(node, i) for i, p in enumerate(self.params)}
        self.updates.update({v: item(node, n + j) for j, v in enumerate(self.state_variables)})
        self.updates[self.step] = self.step + 1
        self.step.graph.add_updates(self.updates, owner=self)

    def _param_values(self):
        return {p.name: p.device_value for p in self.params}

    def _initial_state(self):
        """``transform.init`` of the current parameter values, as one compiled program shared by identical
        optimizers of the process (run eagerly, it would compile one ``zeros_like`` per parameter shape); a
        learning rate held in a Variable is an argument of that program, not a constant of it."""
        if self._factory is None:
            return SharedJit(self.transform.init)(self._param_values())
        values = {key: v.device_value for key, v in self.hyperparams.items()}
        return SharedJit(functools.partial(_factory_init, self._factory))(self._param_values(), values)

    @property
    def variables(self):
        """Every Variable of the optimizer's own state: the hyperparameters held as state (if any), the optax
        state leaves and the step counter."""
        return [*self.hyperparams.values(), *self.state_variables, self.step]

    def reset(self):
        """Start over: the state becomes that of a fresh optimizer over the current parameter values.

        The optax state is re-initialised with ``transform.init`` (moments to zero, counts to zero...) and
        the step counter goes back to 0, so the next update equals the first update of a new optimizer.
        """
        leaves = jax.tree_util.tree_leaves(self._initial_state())
        for variable, leaf in zip(self.state_variables, leaves, strict=True):
            variable.update(leaf)
        self.step.update(np.int32(0))

    def __repr__(self):
        return (f"<{type(self).__name__} {self.scope!r}: {len(self.params)} parameters "
                f"{[p.name for p in self.params]}, {len(self.state_variables)} state variables>")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum (``optax.sgd``).

    Plain: ``p <- p - lr_t * g``. With momentum ``mu`` (heavy ball; Polyak 1964, as in Sutskever et al.
    2013): ``v <- mu * v + g``; ``p <- p - lr_t * v``; Nesterov: ``p <- p - lr_t * (mu * v + g)``.

    Args:
        loss_or_grads, params, max_grad_norm, name, allow_frozen: as for ``Optimizer``.
        lr: learning rate, a number >= 0 or a schedule of the step count.
        momentum: in ``[0, 1)``; 0 disables it.
        nesterov: Nesterov momentum (needs ``momentum > 0``).
    """

    default_name = "sgd"

    def __init__(self, loss_or_grads, lr, momentum=0.0, nesterov=False, *, params=None, max_grad_norm=None,
                 name=None, allow_frozen=False):
        lr = check_lr("SGD", lr)
        momentum = _real("SGD", "momentum", momentum, low=0.0, high=1.0, hint="; 0 disables momentum")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs momentum > 0, got momentum=0; pass e.g. momentum=0.9, "
                             "or nesterov=False")
        super().__init__(functools.partial(optax.sgd, momentum=momentum or None, nesterov=bool(nesterov)),
                         loss_or_grads, params, lr=lr, max_grad_norm=max_grad_norm, name=name,
                         allow_frozen=allow_frozen)


class Adam(Optimizer):
    """Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015), via ``optax.adam``.

    With ``t`` the update number (1, 2, ...)::

        m <- b1 * m + (1 - b1) * g                  v <- b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)                     v_hat = v / (1 - b2**t)
        p <- p - lr_t * m_hat / (sqrt(v_hat + eps_root) + eps)

    Args:
        loss_or_grads, params, max_grad_norm, name, allow_frozen: as for ``Optimizer``.
        lr: learning rate, a number >= 0 or a schedule of the step count.
        b1, b2: decay rates of the first and second moment estimates, in ``[0, 1)``.
        eps, eps_root: >= 0, added outside / inside the square root.
    """

    default_name = "adam"

    def __init__(self, loss_or_grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, *, params=None,
                 max_grad_norm=None, name=None, allow_frozen=False):
        owner = type(self).__name__
        lr, b1, b2, eps, eps_root = _adam_arguments(owner, lr, b1, b2, eps, eps_root)
        super().__init__(functools.partial(optax.adam, b1=b1, b2=b2, eps=eps, eps_root=eps_root), loss_or_grads,
                         params, lr=lr, max_grad_norm=max_grad_norm, name=name, allow_frozen=allow_frozen)


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019), via ``optax.adamw``.

    As ``Adam``, with the decay applied to the parameters outside the adaptive scaling::

        p <- p - lr_t * (m_hat / (sqrt(v_hat + eps_root) + eps) + weight_decay * p)

    Args:
        loss_or_grads, lr, b1, b2, eps, eps_root, params, max_grad_norm, name, allow_frozen: as for ``Adam``.
        weight_decay: decay strength, >= 0.
        mask: optional optax mask (a pytree of booleans, or a callable of the params dict ``{variable name:
            value}``) selecting the parameters that decay, e.g. ``lambda p: {k: v.ndim > 1 for k, v in
            p.items()}`` to spare biases and norms.
    """

    default_name = "adamw"

    def __init__(self, loss_or_grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, weight_decay=1e-4,
                 mask=None, *, params=None, max_grad_norm=None, name=None, allow_frozen=False):
        lr, b1, b2, eps, eps_root = _adam_arguments("AdamW", lr, b1, b2, eps, eps_root)
        weight_decay = _real("AdamW", "weight_decay", weight_decay, low=0.0, hint="; 0 gives Adam")
        super().__init__(functools.partial(optax.adamw, b1=b1, b2=b2, eps=eps, eps_root=eps_root,
                                           weight_decay=weight_decay, mask=mask),
                         loss_or_grads, params, lr=lr, max_grad_norm=max_grad_norm, name=name,
                         allow_frozen=allow_frozen)


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning", Coursera 2012),
    via ``optax.rmsprop``.

    ::

        v <- decay * v + (1 - decay) * g**2                     (v starts at 0)
        centered: m <- decay * m + (1 - decay) * g;  v_c = v - m**2   (Graves 2013), else v_c = v
        d = g / sqrt(v_c + eps)
        p <- p - lr_t * d,   or with momentum: a <- momentum * a + d;  p <- p - lr_t * a

    Args:
        loss_or_grads, params, max_grad_norm, name, allow_frozen: as for ``Optimizer``.
        lr: learning rate, a number >= 0 or a schedule of the step count.
        decay: decay rate of the squared-gradient average, in ``[0, 1)``.
        eps: >= 0, added inside the square root (optax's convention).
        centered: normalise by the estimated variance instead of the second moment.
        momentum: in ``[0, 1)``; 0 disables it.
    """

    default_name = "rmsprop"

    def __init__(self, loss_or_grads, lr, decay=0.9, eps=1e-8, centered=False, momentum=0.0, *, params=None,
                 max_grad_norm=None, name=None, allow_frozen=False):
        lr = check_lr("RMSProp", lr)
        decay = _real("RMSProp", "decay", decay, low=0.0, high=1.0, hint="; typical values are 0.9 to 0.99")
        eps = _real("RMSProp", "eps", eps, low=0.0, hint="; typical values are 1e-8 to 1e-5")
        momentum = _real("RMSProp", "momentum", momentum, low=0.0, high=1.0, hint="; 0 disables momentum")
        super().__init__(functools.partial(optax.rmsprop, decay=decay, eps=eps, centered=bool(centered),
                                           momentum=momentum or None),
                         loss_or_grads, params, lr=lr, max_grad_norm=max_grad_norm, name=name,
                         allow_frozen=allow_frozen)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_lr(owner, lr, argument="lr"):
    """``lr`` as a float >= 0 (at most float32's largest, as it is held in a float32 Variable), or the
    schedule itself after checking it takes no negative value; errors name ``owner`` and ``argument``.

    A schedule is a ``symgraph.nn.schedules.Schedule`` (its key values are checked) or any callable of the
    step count returning a scalar (checked at step 0).
    """
    fix = (f"; pass a number >= 0 such as {argument}=1e-3, or a schedule of the step count such as "
           f"symgraph.nn.schedules.linear(1e-3, 0.0, steps=10000)")
    if isinstance(lr, Tensor):
        raise TypeError(f"{owner}: {argument} must be a number or a schedule, got the graph node "
                        f"{describe(lr)}; a symbolic learning rate is not supported{fix}")
    if callable(lr):
        if isinstance(lr, Schedule):
            values = lr.values
        else:
            try:
                values = (float(np.asarray(lr(0))),)
            except Exception as error:  # any failure of a user callable: report it with the argument
                raise TypeError(f"{owner}: {argument} schedule {lr!r} could not be evaluated at step 0 "
                                f"({type(error).__name__}: {error}); it must map an int step to a scalar"
                                ) from error
        bad = [v for v in values if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise ValueError(f"{owner}: {argument} schedule {lr!r} takes the value {bad[0]!r}; a learning "
                             f"rate must stay finite and >= 0{fix}")
        return lr
    is_scalar = isinstance(lr, numbers.Real) or (isinstance(lr, np.ndarray | np.generic | jax.Array)
                                                 and np.ndim(lr) == 0)
    if isinstance(lr, bool) or not is_scalar or not np.issubdtype(np.asarray(lr).dtype, np.number):
        raise TypeError(f"{owner}: unknown {argument} {lr!r} ({type(lr).__name__}): expected a number or a "
                        f"schedule{fix}")
    lr = _real(owner, argument, lr, low=0.0, hint=fix)
    if lr > _FLOAT32_MAX:
        raise ValueError(f"{owner}: {argument} must be at most {_FLOAT32_MAX:.4g} (it is held in a float32 "
                         f"Variable), got {lr!r}{fix}")
    return lr


def _real(owner, argument, value, low=None, high=None, low_open=False, hint=""):
    """``value`` as a float in ``[low, high)`` (``(low, high)`` if ``low_open``), else a clear error."""
    is_scalar = isinstance(value, numbers.Real) or (isinstance(value, np.generic | jax.Array)
                                                    and np.ndim(value) == 0)
    if isinstance(value, bool) or not is_scalar:
        raise TypeError(f"{owner}: {argument} must be a real number, got {type(value).__name__} {value!r}"
                        f"{hint}")
    value = float(value)
    ok = math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or value < high)
    if not ok:
        lower = "" if low is None else ("(" if low_open else "[") + f"{low}"
        upper = "inf)" if high is None else f"{high})"
        raise ValueError(f"{owner}: {argument} must lie in {lower}, {upper}, got {value!r}{hint}")
    return value


def _adam_arguments(owner, lr, b1, b2, eps, eps_root):
    return (check_lr(owner, lr),
            _real(owner, "b1", b1, low=0.0, high=1.0, hint="; the usual value is 0.9"),
            _real(owner, "b2", b2, low=0.0, high=1.0, hint="; the usual value is 0.999"),
            _real(owner, "eps", eps, low=0.0, hint="; the usual value is 1e-8"),
            _real(owner, "eps_root", eps_root, low=0.0, hint="; the usual value is 0"))


def _resolve(owner, loss_or_grads, params, allow_frozen=False):
    """``(loss, params, grads)`` from a loss node or a gradients list, each checked with a clear message."""
    if isinstance(loss_or_grads, Tensor):
        loss = loss_or_grads
        if isinstance(loss.aval, tuple) or loss.ndim != 0:
            shape = "several outputs" if isinstance(loss.aval, tuple) else f"shape {loss.shape}"
            raise ShapeError(f"{owner}: loss_or_grads must be a scalar loss (shape ()), got {loss.name!r} "
                             f"with {shape}; reduce it first (T.mean or T.sum), or pass a list of gradient "
                             "nodes with params=")
        if not jnp.issubdtype(loss.dtype, jnp.floating):
            raise DTypeError(f"{owner}: loss_or_grads must be a float loss, got {describe(loss)}; cast it "
                             "with T.cast(loss, 'float32') if it is meant to be differentiable")
        if params is None:
            params = _trainable_variables(owner, loss)
        else:
            params = _check_params(owner, params, allow_frozen)
        return loss, params, gradients(loss, params)
    if isinstance(loss_or_grads, list | tuple):
        grads = list(loss_or_grads)
        if params is None:
            raise ValueError(f"{owner}: params is required when loss_or_grads is a list of gradients (got "
                             f"{len(grads)} gradients and params=None); pass params=[...] in the order of "
                             "the gradients")
        params = _check_params(owner, params, allow_frozen)
        if len(grads) != len(params):
            raise ValueError(f"{owner}: loss_or_grads holds {len(grads)} gradients but params holds "
                             f"{len(params)} Variables {[p.name for p in params]}; give one gradient per "
                             "parameter, in the same order")
        for index, (grad, param) in enumerate(zip(grads, params, strict=True)):
            if not isinstance(grad, Tensor):
                raise TypeError(f"{owner}: loss_or_grads[{index}] must be a gradient node, got "
                                f"{describe(grad)}; build it with sg.gradients(loss, params)")
            if isinstance(grad.aval, tuple) or grad.shape != param.shape:
                got = "several outputs" if isinstance(grad.aval, tuple) else f"shape {grad.shape}"
                raise ShapeError(f"{owner}: loss_or_grads[{index}] ({grad.name!r}) has {got} but "
                                 f"params[{index}] ({param.name!r}) has shape {param.shape}; the gradients "
                                 "must be listed in the order of params")
            if not jnp.issubdtype(grad.dtype, jnp.floating):
                raise DTypeError(f"{owner}: loss_or_grads[{index}] must be a float gradient, got "
                                 f"{describe(grad)}")
        return None, params, grads
    raise TypeError(f"{owner}: loss_or_grads must be a scalar loss node or a list of gradient nodes, got "
                    f"{describe(loss_or_grads)}")


def _trainable_variables(owner, loss):
    _, leaves = topological_order([loss])
    variables = [leaf for leaf in leaves if isinstance(leaf, Variable)]
    trainable = [v for v in variables if v.trainable and jnp.issubdtype(v.dtype, jnp.floating)]
    if not trainable:
        read = [v.name for v in variables]
        raise ValueError(f"{owner}: the loss {loss.name!r} depends on no trainable float Variable (it reads "
                         f"the Variables {read}); create the parameters with trainable=True, or pass "
                         "params=[...] explicitly")
    return trainable


def _check_params(owner, params, allow_frozen=False):
    params = [params] if isinstance(params, Tensor) else params
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{owner}: params must be a list of Variables, got {describe(params)}") from None
    if not params:
        raise ValueError(f"{owner}: params is empty; pass the Variables to optimize, or params=None for all "
                         "the trainable Variables the loss depends on")
    for index, param in enumerate(params):
        if not isinstance(param, Variable):
            raise TypeError(f"{owner}: params[{index}] must be a Variable, got {describe(param)}; only "
                            "Variables hold state an optimizer can update")
        if not jnp.issubdtype(param.dtype, jnp.floating):
            raise DTypeError(f"{owner}: params[{index}] must be a float Variable, got {describe(param)}")
    frozen = [p.name for p in params if not p.trainable]
    if frozen and not allow_frozen:
        raise ValueError(f"{owner}: params lists Variables created with trainable=False: {frozen}; a frozen "
                         "Variable is not trained unless asked: pass allow_frozen=True to train it anyway, or "
                         "leave it out of params")
    if len(set(params)) != len(params):
        raise ValueError(f"{owner}: params lists a Variable twice ({[p.name for p in params]}); list each "
                         "once")
    return params


def _path_name(path):
    """``0/mu/actor/w`` from an optax state path (sequence index / field / params dict key)."""
    parts = []
    for entry in path:
        for attribute in ("name", "key", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts) or "state"


def _global_norm(*grads):
    return jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads))


def _clipped(factory, max_grad_norm):
    """``(lr, **hyperparams) -> transform`` with the global-norm clipping chained in front of ``factory``'s."""
    return lambda lr, **hyperparams: optax.chain(optax.clip_by_global_norm(max_grad_norm),
                                                 factory(lr, **hyperparams))


def _factory_init(factory, params, hyperparams):
    return factory(hyperparams["learning_rate"], **{k: v for k, v in hyperparams.items() if k != "learning_rate"}
                   ).init(params)


def _optax_update(*values, transform, factory, treedef, names, hyperparams):
    """New parameter values and new flat state leaves, from gradients, parameters and state leaves (and, last,
    the values of ``hyperparams``, the learning rate first, for a transform built by ``factory`` from them)."""
    n = len(names)
    if factory is not None:
        held = dict(zip(hyperparams, values[len(values) - len(hyperparams):], strict=True))
        values = values[:len(values) - len(hyperparams)]
        transform = factory(held.pop("learning_rate"), **held)
    grads = dict(zip(names, values[:n], strict=True))
    params = dict(zip(names, values[n:2 * n], strict=True))
    old_leaves = values[2 * n:]
    state = jax.tree_util.tree_unflatten(treedef, old_leaves)
    updates, new_state = transform.update(grads, state, params)
    new_params = optax.apply_updates(params, updates)
    new_leaves = jax.tree_util.tree_leaves(new_state)
    if len(new_leaves) != len(old_leaves):
        raise ValueError(f"the optax transform returned a state with {len(new_leaves)} leaves after init "
                         f"gave {len(old_leaves)}; its state structure must stay fixed")
    return (tuple(new_params[k].astype(params[k].dtype) for k in names)
            + tuple(jnp.asarray(new).astype(old.dtype)
                    for new, old in zip(new_leaves, old_leaves, strict=True)))


def _call_schedule(step, schedule):
    return jnp.asarray(schedule(step), jnp.float32)


def _lr_node(lr, step):
    if isinstance(lr, Schedule):
        return lr(step)
    if callable(lr):
        return apply(_call_schedule, (step,), {"schedule": lr}, name="lr")
    return constant(np.float32(lr), name="lr")
