"""Actor and Critic templates: the networks every learner plugs in.

Subclass :class:`Actor` or :class:`Critic` and implement ``create_network``; the template builds it in its own
scope, turns its outputs into a policy distribution (actor) or values (critic), and gives learners what they
need: sampled and greedy actions, log-probabilities of stored actions, entropies, values, the trainable
``params``, the same network on other inputs (``apply``) and target copies with their own variables
(``copy``, ``pairs``, :func:`hard_updates`, :func:`polyak_updates`)::

    import symgraph as sg, symgraph.nn as nn
    from symgraph import rl

    class MyActor(rl.Actor):
        def create_network(self, states):              # logits for a Categorical actor
            return nn.mlp(states, (64, 64), out=2)

    states = sg.Placeholder((None, 4), "float32", name="states")
    actor = MyActor(states, "categorical")
    act = sg.function(states, outputs=actor.actions)   # int32 actions of shape (batch,)

What ``create_network`` returns depends on ``actions_distribution``:

======================  ==========================================================================
``None``                the action itself, ``(batch, *action_shape)`` (deterministic actor: DDPG, TD3).
``Categorical``         logits ``(batch, n_actions)`` (or ``(batch, k, n_actions)`` for k independent
                        choices).
``Normal``              ``(mean, covariance)``, the covariance diagonal: the variances, shaped like the
                        mean (the seed's contract: "first the mean and then the covariance"); or ``mean``
                        alone, ``(batch, *action_shape)``: a state-independent log-std Variable
                        ``log_std`` of shape ``action_shape`` is then created in the actor's scope,
                        initialised to ``log_std_init`` (PPO's usual Gaussian policy). A full
                        ``(batch, d, d)`` covariance is refused.
``"normal_log_std"``    the same Normal, with ``(mean, log_std)``: the second output is the log standard
                        deviation (the form the ready-made ``MLPActor`` and ``CNNActor`` use).
``TanhNormal``          ``(mean, log_std)`` or ``mean`` alone, for the pre-tanh Gaussian; ``log_std`` is
                        clipped to ``log_std_bounds`` (default ``(-20, 2)``, as in SAC's reference code).
                        Actions lie in ``(-1, 1)``.
======================  ==========================================================================

All non-batch axes of the output form one action: ``log_prob`` and ``entropy`` sum over them and return
one value per sample, shape ``(batch,)``.

Sharing and copies. ``apply(other_states)`` rebuilds the network's graph on other inputs with
:func:`symgraph.clone` (Theano's givens): the same nodes over the same Variables, whatever the subclass did
inside ``create_network`` (inline ``nn.dense`` calls included), so next-state values and the current-state
policy share parameters and gradients. ``copy(name)`` clones the graph once more with every variable of the
scope replaced by a new Variable, in a new scope, holding the current value: a target network built from the
same definition. Random nodes inside ``create_network`` (dropout, noise layers) keep their salt when cloned,
so within one compiled call a clone draws the same noise as its original.

Every network must create its variables inside ``create_network`` (layers constructed there, or before but
inside the scope): ``params`` are exactly the trainable variables of the scope, and a network that reads
trainable variables from elsewhere gets a warning naming them (they would be neither trained with it nor
copied into its targets).
"""

import contextlib
import warnings

import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph import probabilities as P
from symgraph.clone import clone
from symgraph.errors import DTypeError, ScopeError, ShapeError, describe, format_shape
from symgraph.graph import Scope, get_variables, in_scope
from symgraph.interpreter import topological_order
from symgraph.nn import initializers
from symgraph.nn.layers.base import compatible
from symgraph.nodes import Tensor, Variable, as_tensor

__all__ = ["Actor", "Critic", "hard_updates", "polyak_updates", "copy_state", "variable_pairs",
           "resolve_distribution", "DISTRIBUTIONS"]

#: Accepted ``actions_distribution`` names (case, ``_`` and ``-`` ignored) and the kind each selects.
DISTRIBUTIONS = {
    "categorical": "categorical",
    "normal": "normal",
    "diagnormal": "normal",
    "gaussian": "normal",
    "normallogstd": "normal",
    "gaussianlogstd": "normal",
    "tanhnormal": "tanh_normal",
    "deterministic": "deterministic",
}

_CLASSES = {P.Categorical: "categorical", P.Normal: "normal", P.DiagNormal: "normal",
            P.TanhNormal: "tanh_normal", P.Deterministic: "deterministic"}

#: SAC's log-std range (Haarnoja et al. 2018 reference code; Spinning Up's ``LOG_STD_MIN/MAX``).
TANH_NORMAL_LOG_STD_BOUNDS = (-20.0, 2.0)


def resolve_distribution(actions_distribution):
    """The kind (``"categorical"``, ``"normal"``, ``"tanh_normal"`` or ``"deterministic"``) selected by a
    distribution class of :mod:`symgraph.probabilities`, its name, or None (deterministic)."""
    if actions_distribution is None:
        return "deterministic"
    if isinstance(actions_distribution, str):
        key = actions_distribution.lower().replace("_", "").replace("-", "")
        if key in DISTRIBUTIONS:
            return DISTRIBUTIONS[key]
        raise ValueError(f"unknown actions_distribution {actions_distribution!r}; valid names: "
                         f"{sorted(DISTRIBUTIONS)}, or None for a deterministic actor")
    if isinstance(actions_distribution, type) and actions_distribution in _CLASSES:
        return _CLASSES[actions_distribution]
    names = ", ".join(sorted({c.__name__ for c in _CLASSES}))
    raise TypeError(f"actions_distribution must be None, one of the classes {names} of "
                    f"symgraph.probabilities, or its name; got {describe(actions_distribution)}")


def _scale_output(actions_distribution, kind, declared):
    """What a Gaussian actor's second output is: ``"covariance"`` (the variances, the seed's contract for
    Normal), ``"log_std"`` (TanhNormal, the ``"normal_log_std"`` name, or a class declaring it), or None."""
    if kind == "tanh_normal":
        return "log_std"
    if kind != "normal":
        return None
    if declared is not None:
        return declared
    if isinstance(actions_distribution, str) and actions_distribution.lower().replace("_", "").replace(
            "-", "").endswith("logstd"):
        return "log_std"
    return "covariance"


def _input(value, argument, owner, graph=None):
    """A graph node for an input of a network (arrays become constants of ``graph``)."""
    if isinstance(value, Tensor):
        if graph is not None and value.graph is not graph:
            raise ScopeError(f"{owner}: {argument} {describe(value)} belongs to graph {value.graph.name!r}, "
                             f"but the network was built in graph {graph.name!r}")
        if isinstance(value.aval, tuple):
            raise ShapeError(f"{owner}: {argument} must be a single tensor, got the multi-output node "
                             f"{value.name!r}")
        return value
    if graph is None:
        raise TypeError(f"{owner}: {argument} must be a symgraph tensor, e.g. sg.Placeholder((None, 4), "
                        f"'float32'); got {describe(value)}")
    return as_tensor(np.asarray(value), graph)


def _positive_int(value, argument, owner):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{owner}: {argument} must be a positive int or None, got {value!r}")
    return int(value)


def _same_batch(output, reference, what, owner):
    first, batch = output.shape[0], reference.shape[0]
    if first is not None and batch is not None and first != batch:
        raise ShapeError(f"{owner}: create_network returned {what} {describe(output)} whose first (batch) "
                         f"dimension is not that of the input {describe(reference)}")


class _Network:
    """What actors and critics share: a scope, its variables, ``apply``/``copy`` by cloning, target pairs.

    Subclasses set ``graph``, ``scope``, ``name``, ``_inputs`` (names of the input attributes) and ``_head``
    (the tuple of nodes everything else is derived from), and implement ``_finish()`` which rebuilds the
    derived attributes from ``_head``.
    """

    _inputs = ()

    def _build(self, name, call):
        """Open the scope ``name`` in the inputs' graph, call ``call()`` inside it, return its result."""
        with self.graph, Scope(name) as scope:
            self.scope = scope.path
            return call()

    def _in_scope(self):
        """A context building into this network's graph and scope (reopened), from anywhere."""
        return _reopened(self.graph, self.scope)

    @property
    def params(self):
        """The trainable variables of the network's scope, in creation order."""
        return get_variables(scope=self.scope, trainable=True, graph=self.graph)

    @property
    def variables(self):
        """Every variable of the network's scope (non-trainable ones such as running statistics too)."""
        return get_variables(scope=self.scope, graph=self.graph)

    def _warn_foreign_variables(self):
        stop = {getattr(self, a) for a in self._inputs if getattr(self, a) is not None}
        _, given = topological_order(list(self._head), is_given=lambda n: n.is_leaf or n in stop)
        foreign = [n.name for n in given if isinstance(n, Variable) and n.trainable
                   and not in_scope(n.name, self.scope)]
        if foreign:
            warnings.warn(f"{self}: the network reads trainable variables outside its scope {self.scope!r}: "
                          f"{foreign}. They are not in .params (not trained with it) and are shared, not "
                          "copied, by .copy(); create layers inside create_network to own them.",
                          stacklevel=4)

    def _derive(self, replace, **attributes):
        """A network of the same class whose head is cloned with ``replace``; ``attributes`` override."""
        derived = object.__new__(type(self))
        derived.__dict__.update(self.__dict__)
        derived.__dict__.update(attributes)
        with derived._in_scope():
            derived._head = tuple(clone(list(self._head), replace))
            derived._finish()
        return derived

    def _replacement(self, attribute, value):
        """``{old_input: new_input}`` for input ``attribute``, shapes checked (empty when value is None)."""
        old = getattr(self, attribute)
        if value is None:
            return {}, old
        if old is None:
            raise ValueError(f"{self}: it was built without {attribute}, so apply() cannot replace them")
        new = _input(value, attribute, str(self), self.graph)
        if not compatible(new.shape[1:], old.shape[1:]):
            raise ShapeError(f"{self}: apply() got {attribute} {describe(new)}, but the network was built on "
                             f"{describe(old)}; only the first (batch) dimension may differ")
        return ({old: new} if new is not old else {}), new

    def _apply(self, **inputs):
        replace, attributes = {}, {}
        for attribute, value in inputs.items():
            mapping, attributes[attribute] = self._replacement(attribute, value)
            replace.update(mapping)
        return self._derive(replace, **attributes)

    def copy(self, name=None, **inputs):
        """A second network with its own variables, initialised to this one's current values.

        Args:
            name: scope name of the copy, next to this network's scope (default ``"target_" + name``; made
                unique like any scope).
            states (and ``actions`` for a critic): other inputs for the copy (default: the same ones).

        The copy is this network's graph cloned with every variable of the scope replaced by a new Variable
        of the same relative name, shape, dtype and trainability, so it is built from the same definition
        whatever ``create_network`` did. Use :meth:`pairs` with :func:`hard_updates` / :func:`polyak_updates`
        to keep it in sync. The new variables are created from values, not initializers: after drawing fresh
        parameters with ``sg.initial_state`` (several seeds), copy them over with :func:`copy_state`.
        Attributes the subclass stored (e.g. layer objects) still refer to the original's layers.
        """
        base = self.scope.rsplit("/", 1)[-1]
        name = f"target_{base}" if name is None else name
        parent = self.scope.rsplit("/", 1)[0] if "/" in self.scope else None
        for attribute in inputs:
            if attribute not in self._inputs:
                raise TypeError(f"{self}.copy() got an unexpected argument {attribute!r}; inputs: "
                                f"{list(self._inputs)}")
        replace, attributes = {}, {}
        for attribute, value in inputs.items():  # checked before any variable is created
            extra, attributes[attribute] = self._replacement(attribute, value)
            replace.update(extra)
        with _reopened(self.graph, parent), Scope(name) as scope:
            mapping = {v: Variable(v.device_value, name=v.name[len(self.scope) + 1:], trainable=v.trainable)
                       for v in self.variables}
        mapping.update(replace)
        copied = self._derive(mapping, scope=scope.path, name=name, copied_from=self, **attributes)
        for attribute, value in list(copied.__dict__.items()):  # e.g. an actor's learned log_std
            if isinstance(value, Variable) and value in mapping:
                setattr(copied, attribute, mapping[value])
        return copied

    def pairs(self, target, trainable=None):
        """``[(source_variable, target_variable), ...]`` matching this network's variables with ``target``'s
        by their names relative to each scope (see :func:`variable_pairs`)."""
        return variable_pairs(self, target, trainable=trainable)

    def __repr__(self):
        return f"{type(self).__name__} {getattr(self, 'scope', getattr(self, 'name', '?'))!r}"


@contextlib.contextmanager
def _reopened(graph, path):
    """Build into ``graph`` and the existing scope ``path`` (none if ``path`` is None)."""
    with graph:
        if path is None:
            yield
        else:
            with Scope(path, reopen=True):
                yield


class Actor(_Network):
    """A policy network: subclass it and implement ``create_network(self, states)``.

    Args:
        states: the input tensor, usually ``sg.Placeholder((None, *state_shape))``.
        actions_distribution: None (deterministic), ``Categorical``, ``Normal`` (or ``DiagNormal``),
            ``TanhNormal`` or ``Deterministic`` from :mod:`symgraph.probabilities`, or one of their names
            (``"categorical"``, ``"normal"``, ``"tanh_normal"``...), or ``"normal_log_std"`` (a Normal whose
            network returns ``(mean, log_std)``). See the module doc for what ``create_network`` returns in
            each case.
        name: the scope of the actor's variables, made unique in the graph (a second ``"actor"`` is
            ``"actor_1"``: see ``scope``).
        n_actions: if given, the size the last axis of the network's (first) output must have: the number of
            discrete actions (Categorical) or of action components (the others).
        log_std_init: initial value of the learned state-independent log-std (Gaussian actors whose network
            returns the mean only).
        log_std_bounds: ``(low, high)`` to clip the log-std into, or None; ``"auto"`` is ``(-20, 2)`` for
            TanhNormal and None for Normal.

    ``create_network`` runs inside ``Actor.__init__``: a subclass with its own ``__init__`` sets what the
    network needs (sizes, options) before calling ``super().__init__(...)``.

    Attributes:
        states: the input states node.
        scope: the scope path of the actor's variables; ``name`` is the name asked for.
        kind: the distribution kind; ``n_actions`` the number of discrete actions (or None).
        distribution: the policy, a :mod:`symgraph.probabilities` distribution whose event covers every
            non-batch axis of the action (a ``Deterministic`` point mass for a deterministic actor).
        actions: sampled actions (int32 ``(batch,)`` for Categorical, float ``(batch, *action_shape)``
            otherwise), the same node at every access.
        mode: the greedy action: argmax (Categorical), mean (Normal), ``tanh(mean)`` = the median
            (TanhNormal), the output (deterministic).
        entropy: per-sample entropy ``(batch,)``, summed over action components. For TanhNormal, the exact
            entropy of the squashed distribution by quadrature (``TanhNormal.entropy``); SAC's one-sample
            estimate is ``-log_prob`` from :meth:`sample_and_log_prob`. 0 for a deterministic actor.
        log_std: the learned state-independent log-std Variable, or None.
        scale_output: for a Gaussian actor, what a second output of ``create_network`` is read as:
            ``"covariance"`` (variances) or ``"log_std"``; None for the others. A subclass may declare
            ``scale_output = "log_std"`` as a class attribute (the ready-made networks do).
        copied_from: the network this one was copied from (None for an original).
    """

    _inputs = ("states",)
    scale_output = None

    def __init__(self, states, actions_distribution=None, name="actor", *, n_actions=None, log_std_init=0.0,
                 log_std_bounds="auto"):
        owner = type(self).__name__
        self.states = _input(states, "states", owner)
        self.graph = self.states.graph
        self.name = name
        self.kind = resolve_distribution(actions_distribution)
        self.scale_output = _scale_output(actions_distribution, self.kind, type(self).scale_output)
        self.n_actions = _positive_int(n_actions, "n_actions", owner)
        self.log_std_init = float(log_std_init)
        self.log_std_bounds = _log_std_bounds(log_std_bounds, self.kind, owner)
        self.log_std = None
        self.copied_from = None
        self._head = self._build(name, lambda: self._make_head(self.create_network(self.states)))
        with self._in_scope():
            self._finish()
        self._warn_foreign_variables()

    def create_network(self, states):
        """Build the policy network on ``states`` and return its output (see the module doc)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement create_network(self, states), returning the action "
            "(deterministic), logits (Categorical), (mean, covariance) / mean (Normal), (mean, log_std) / mean "
            "(TanhNormal, 'normal_log_std'); or use a ready-made MLPActor / CNNActor")

    # -- outputs to distribution ---------------------------------------------------------------------
    def _make_head(self, outputs):
        owner = f"{type(self).__name__} {self.scope!r}"
        if outputs is None:
            raise TypeError(f"{owner}: create_network returned None; it must return its output tensor(s) "
                            "(did you forget `return`?)")
        parts = list(outputs) if isinstance(outputs, tuple | list) else [outputs]
        gaussian = self.kind in ("normal", "tanh_normal")
        allowed = (1, 2) if gaussian else (1,)
        if len(parts) not in allowed:
            expected = {"categorical": "one tensor of logits", "deterministic": "one tensor: the action"}.get(
                self.kind, f"mean, or a pair (mean, {self.scale_output})")
            raise TypeError(f"{owner}: a {self.kind} actor's create_network must return {expected}; got "
                            f"{type(outputs).__name__} of {len(parts)} items")
        first = parts[0]
        if not isinstance(first, Tensor):
            raise TypeError(f"{owner}: create_network must return symgraph tensors, got {describe(first)}")
        first = _input(first, "its output", owner, self.graph)
        what = "logits" if self.kind == "categorical" else "mean" if gaussian else "action"
        if first.ndim < 2:
            raise ShapeError(f"{owner}: create_network must return {what} of shape (batch, "
                             f"{'n_actions' if self.kind == 'categorical' else 'action_dim'}), got "
                             f"{describe(first)}; for a one-dimensional action use a last axis of size 1")
        _same_batch(first, self.states, what, owner)
        if self.n_actions is not None and first.shape[-1] != self.n_actions:
            raise ShapeError(f"{owner}: create_network returned {what} {describe(first)}, but n_actions="
                             f"{self.n_actions}: the last axis must have {self.n_actions} entries")
        if self.kind == "categorical" and not jnp.issubdtype(first.dtype, jnp.floating):
            raise DTypeError(f"{owner}: Categorical logits must be floating point, got {describe(first)}")
        if not gaussian:
            return (first,)
        if not jnp.issubdtype(first.dtype, jnp.floating):
            raise DTypeError(f"{owner}: the mean must be floating point, got {describe(first)}")
        if len(parts) == 1:
            event = first.shape[1:]
            if any(d is None for d in event):
                raise ShapeError(f"{owner}: a learned log-std needs the action shape known at build time, "
                                 f"got mean {describe(first)}")
            self.log_std = Variable(initializers.constant(self.log_std_init), name="log_std", shape=event,
                                    dtype=first.dtype)
            log_std = self.log_std
        else:
            what = self.scale_output
            log_std = parts[1]
            log_std = (_input(log_std, what, owner, self.graph) if isinstance(log_std, Tensor)
                       else as_tensor(np.asarray(log_std, first.dtype), self.graph))
            if what == "covariance" and log_std.ndim == first.ndim + 1 and first.shape[-1] not in (None, 1) \
                    and log_std.shape[-2:] == (first.shape[-1],) * 2:
                raise ShapeError(f"{owner}: create_network returned a full covariance {describe(log_std)}; a "
                                 f"Normal actor takes a diagonal one: return the variances, shaped like the mean "
                                 f"{describe(first)} (e.g. T.diagonal(cov, axis1=-2, axis2=-1)), or use "
                                 "probabilities.MultivariateNormal in your own learner")
            try:
                shape = jnp.broadcast_shapes(first.aval.shape, log_std.aval.shape)
            except Exception:  # ValueError, or JAX's error for symbolic dimensions that cannot be compared
                shape = None
            if shape is None or len(shape) != first.ndim or log_std.ndim > first.ndim:
                raise ShapeError(f"{owner}: {what} {describe(log_std)} must broadcast to the shape of the "
                                 f"mean {describe(first)}")
            if what == "covariance":  # variances: log sigma = log(sigma^2) / 2
                log_std = 0.5 * T.log(log_std)
        if self.log_std_bounds is not None:
            log_std = T.clip(log_std, *self.log_std_bounds)
        return first, log_std

    def _finish(self):
        head = self._head[0]
        event_ndims = head.ndim - (2 if self.kind == "categorical" else 1)
        if self.kind == "categorical":
            self.distribution = P.Categorical(logits=head, event_ndims=event_ndims)
        elif self.kind == "normal":
            self.distribution = P.Normal(head, log_std=self._head[1], event_ndims=event_ndims)
        elif self.kind == "tanh_normal":
            self.distribution = P.TanhNormal(head, log_std=self._head[1], event_ndims=event_ndims)
        else:
            self.distribution = P.Deterministic(head, event_ndims=event_ndims)
        self._cache = {}

    def _cached(self, key, build):
        if key not in self._cache:
            with self._in_scope():
                self._cache[key] = build()
        return self._cache[key]

    # -- what learners use ---------------------------------------------------------------------------
    @property
    def stochastic(self):
        """Whether the actor has a proper action distribution (not deterministic)."""
        return self.kind != "deterministic"

    @property
    def actions(self):
        """Sampled actions (the output itself for a deterministic actor)."""
        if not self.stochastic:
            return self._head[0]
        return self._cached("actions", self.distribution.sample)

    @property
    def mode(self):
        """The greedy action: argmax, mean, ``tanh(mean)`` (TanhNormal's median), or the output."""
        if not self.stochastic:
            return self._head[0]
        build = self.distribution.median if self.kind == "tanh_normal" else self.distribution.mode
        return self._cached("mode", build)

    @property
    def entropy(self):
        """Per-sample entropy ``(batch,)`` (see the class doc for TanhNormal; 0 when deterministic)."""
        return self._cached("entropy", self.distribution.entropy)

    def _checked_actions(self, actions, what):
        owner = f"{self}.{what}"
        if not self.stochastic:
            raise TypeError(f"{owner}: a deterministic actor has no action density; build it with "
                            "actions_distribution='categorical', 'normal' or 'tanh_normal'")
        actions = _input(actions, "actions", owner, self.graph)
        expected = tuple(self.distribution.batch_shape) + tuple(self.distribution.event_shape)
        if not compatible(actions.shape, expected):
            hint = ""
            if actions.ndim == len(expected) + 1 and actions.shape[-1] == 1:
                hint = "; squeeze the trailing axis of size 1"
            elif actions.ndim + 1 == len(expected) and expected[-1] == 1:
                hint = "; add a trailing axis of size 1"
            raise ShapeError(f"{owner}: expects actions of shape {format_shape(expected)} (batch + action "
                             f"shape), got {describe(actions)}{hint}")
        return actions

    def log_prob(self, actions):
        """Per-sample log-probability ``(batch,)`` of ``actions`` (summed over action components).

        ``actions``: a tensor (or array) of shape ``(batch,)`` of integer indices for a Categorical actor
        (``(batch, k)`` for k choices), ``(batch, *action_shape)`` for the others; the shapes are checked,
        so a ``(batch, 1)`` column of discrete actions is refused instead of broadcast.
        """
        actions = self._checked_actions(actions, "log_prob")
        with self._in_scope():
            return self.distribution.log_prob(actions)

    def sample_and_log_prob(self):
        """A fresh draw and its log-probability ``(actions, log_prob)``, differentiable in the parameters
        for Normal and TanhNormal (reparameterised). For TanhNormal the log-probability is computed from the
        pre-tanh sample, exact even where ``tanh`` rounds to +-1 (what SAC's losses need). Each call draws
        anew; :attr:`actions` stays one fixed node."""
        if not self.stochastic:
            raise TypeError(f"{self}.sample_and_log_prob: a deterministic actor has no action density; use "
                            ".actions")
        with self._in_scope():
            return self.distribution.sample_and_log_prob()

    def apply(self, states):
        """The same actor (same variables) on other ``states``: an actor of this class whose ``actions``,
        ``mode``, ``log_prob``... are computed from ``states``. Built by cloning the network's graph with
        ``states`` in place of the original input, so gradients reach the same Variables."""
        return self._apply(states=states)

    def __repr__(self):
        return f"{type(self).__name__} {getattr(self, 'scope', self.name)!r} ({self.kind})"


def _log_std_bounds(bounds, kind, owner):
    if isinstance(bounds, str):
        if bounds != "auto":
            raise ValueError(f"{owner}: log_std_bounds must be 'auto', None or (low, high), got {bounds!r}")
        return TANH_NORMAL_LOG_STD_BOUNDS if kind == "tanh_normal" else None
    if bounds is None:
        return None
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: log_std_bounds must be 'auto', None or (low, high), got "
                         f"{bounds!r}") from None
    if not low < high:
        raise ValueError(f"{owner}: log_std_bounds must have low < high, got {bounds!r}")
    return low, high


class Critic(_Network):
    """A value network: subclass it and implement ``create_network(self, states)`` (or
    ``create_network(self, states, actions)`` for a Q(s, a) critic).

    Three kinds, told apart by the arguments and the output:

    - ``V(s)``: no actions; the network returns ``(batch,)`` or ``(batch, 1)``.
    - discrete ``Q(s, .)``: no actions; the network returns ``(batch, n_actions)``, one value per action
      (with ``n_actions > 1``, or any ``n_actions`` given explicitly). DQN's head.
    - ``Q(s, a)``: ``actions`` given (continuous actions; how to combine them with the states is the
      subclass's choice, e.g. concatenation); the network returns ``(batch,)`` or ``(batch, 1)``.

    Args:
        states: the input tensor, usually ``sg.Placeholder((None, *state_shape))``.
        actions: the actions tensor for a Q(s, a) critic, else None.
        name: the scope of the critic's variables (made unique: see ``scope``).
        n_actions: for a discrete Q head, the number of actions (checked against the output).

    As for :class:`Actor`, ``create_network`` runs inside ``Critic.__init__``: set what it needs first.

    Attributes:
        states: the input states node; ``actions`` the input actions node of a Q(s, a) critic (or None).
        scope: the scope path of the critic's variables; ``name`` is the name asked for.
        discrete: whether the critic is a discrete Q head (one value per action, ``n_actions`` of them).
        copied_from: the critic this one was copied from (None for an original).
        values: ``(batch,)``: V(s), Q(s, a), or ``max_a Q(s, a)`` for a discrete head.
        q_values: ``(batch, n_actions)`` for a discrete head, ``(batch,)`` Q(s, a) for an action critic.
    """

    _inputs = ("states", "actions")

    def __init__(self, states, actions=None, name="critic", *, n_actions=None):
        owner = type(self).__name__
        self.states = _input(states, "states", owner)
        self.graph = self.states.graph
        self.actions = None if actions is None else _input(actions, "actions", owner, self.graph)
        self.name = name
        self.n_actions = _positive_int(n_actions, "n_actions", owner)
        if self.n_actions is not None and self.actions is not None:
            raise ValueError(f"{owner}: n_actions is for a discrete Q head (one value per action, no actions "
                             "input); a Q(s, a) critic takes actions= and returns one value per sample")
        self.copied_from = None

        def build():
            if self.actions is None:
                return self._make_head(self.create_network(self.states))
            return self._make_head(self.create_network(self.states, self.actions))

        self._head = self._build(name, build)
        with self._in_scope():
            self._finish()
        self._warn_foreign_variables()

    def create_network(self, states, actions=None):
        """Build the value network and return its output (see the class doc)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement create_network(self, states) returning V(s) of shape "
            "(batch,) or (batch, 1) or Q-values (batch, n_actions), or create_network(self, states, actions) "
            "returning Q(s, a); or use a ready-made MLPCritic / CNNCritic")

    def _make_head(self, output):
        owner = f"{type(self).__name__} {self.scope!r}"
        if output is None:
            raise TypeError(f"{owner}: create_network returned None; it must return its output tensor "
                            "(did you forget `return`?)")
        if not isinstance(output, Tensor):
            raise TypeError(f"{owner}: create_network must return one symgraph tensor, got "
                            f"{describe(output)}")
        output = _input(output, "its output", owner, self.graph)
        if not jnp.issubdtype(output.dtype, jnp.floating):
            raise DTypeError(f"{owner}: values must be floating point, got {describe(output)}")
        if output.ndim:
            _same_batch(output, self.states, "values", owner)
        last = output.shape[-1] if output.ndim else None
        if self.actions is None and self.n_actions is not None:
            if output.ndim != 2 or last != self.n_actions:
                raise ShapeError(f"{owner}: a discrete Q head with n_actions={self.n_actions} must return "
                                 f"(batch, {self.n_actions}), got {describe(output)}")
            self.discrete = True
            return (output,)
        if output.ndim == 2 and last is not None and last > 1 and self.actions is None:
            self.discrete, self.n_actions = True, last
            return (output,)
        if output.ndim == 1 or (output.ndim == 2 and last == 1):
            self.discrete = False
            return (output if output.ndim == 1 else output[:, 0],)
        expected = "(batch,) or (batch, 1)" if self.actions is not None else \
            "(batch,) or (batch, 1) for V(s), or (batch, n_actions) for a discrete Q head"
        raise ShapeError(f"{owner}: create_network must return {expected}, got {describe(output)}")

    def _finish(self):
        self._cache = {}

    @property
    def values(self):
        """``(batch,)``: V(s), Q(s, a), or ``max_a Q(s, a)`` for a discrete head."""
        if not self.discrete:
            return self._head[0]
        if "values" not in self._cache:
            with self._in_scope():
                self._cache["values"] = T.max(self._head[0], axis=-1)
        return self._cache["values"]

    @property
    def q_values(self):
        """``(batch, n_actions)`` for a discrete head, ``(batch,)`` Q(s, a) for an action critic."""
        if not self.discrete and self.actions is None:
            raise AttributeError(f"{self} is a state-value critic V(s): it has .values but no q_values; "
                                 "build it with actions= (Q(s, a)) or a discrete head (n_actions outputs)")
        return self._head[0]

    def _discrete_only(self, what):
        if not self.discrete:
            raise TypeError(f"{self}.{what} needs a discrete Q head (one output per action)")

    @property
    def greedy_actions(self):
        """``argmax_a Q(s, a)``, int32 ``(batch,)`` (discrete heads)."""
        self._discrete_only("greedy_actions")
        if "greedy" not in self._cache:
            with self._in_scope():
                self._cache["greedy"] = T.cast(T.argmax(self._head[0], axis=-1), "int32")
        return self._cache["greedy"]

    def q_value(self, actions):
        """``Q(s, a)`` ``(batch,)`` of integer ``actions`` ``(batch,)`` under a discrete head (float actions
        are cast to int32)."""
        self._discrete_only("q_value")
        actions = _input(actions, "actions", f"{self}.q_value", self.graph)
        expected = self._head[0].shape[:1]
        if not compatible(actions.shape, expected):
            hint = "; squeeze the trailing axis of size 1" if actions.shape[1:] == (1,) else ""
            raise ShapeError(f"{self}.q_value: expects actions of shape {format_shape(expected)}, got "
                             f"{describe(actions)}{hint}")
        with self._in_scope():
            if not jnp.issubdtype(actions.dtype, jnp.integer):
                actions = T.cast(actions, "int32")
            return T.take_along_axis(self._head[0], T.expand_dims(actions, -1), axis=-1)[:, 0]

    def apply(self, states=None, actions=None):
        """The same critic (same variables) on other ``states`` and/or ``actions`` (None keeps the original
        input): e.g. ``critic.apply(next_states).values`` or, for DDPG's actor loss,
        ``critic.apply(actions=actor.actions).values``. Built by cloning the network's graph."""
        return self._apply(states=states, actions=actions)

    def __repr__(self):
        kind = ("Q(s, .)" if getattr(self, "discrete", False) else "Q(s, a)" if self.actions is not None
                else "V(s)")
        return f"{type(self).__name__} {getattr(self, 'scope', self.name)!r} ({kind})"


# ----------------------------------------------------------------------------------------------------
# Target networks
# ----------------------------------------------------------------------------------------------------

def variable_pairs(source, target, trainable=None):
    """``[(source_variable, target_variable), ...]`` for two networks of the same structure (a network and
    its ``copy()``, or two instances of one class), matched by variable names relative to each scope.

    Args:
        source, target: Actor/Critic instances (or anything with ``scope`` and ``variables``).
        trainable: None for every variable (what target networks copy), True/False to filter.

    Raises a ValueError naming the variables that have no counterpart or another shape.
    """
    def relative(network):
        return {v.name[len(network.scope) + 1:]: v for v in network.variables
                if trainable is None or v.trainable == trainable}

    ours, theirs = relative(source), relative(target)
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or extra:
        raise ValueError(f"variable_pairs: {source} and {target} do not have the same variables: only in the "
                         f"source {missing}, only in the target {extra}")
    bad = [k for k in ours if ours[k].aval.shape != theirs[k].aval.shape or ours[k].dtype != theirs[k].dtype]
    if bad:
        raise ValueError(f"variable_pairs: variables {bad} differ in shape or dtype between {source} and "
                         f"{target}")
    return [(ours[k], theirs[k]) for k in ours]


def _pairs(pairs, owner):
    pairs = list(pairs)
    for pair in pairs:
        if (not isinstance(pair, tuple | list) or len(pair) != 2
                or not all(isinstance(v, Variable) for v in pair)):
            raise TypeError(f"{owner}: pairs must be (source Variable, target Variable) tuples, got {pair!r}")
    return pairs


def hard_updates(pairs):
    """``{target: source}`` for ``sg.function(..., updates=...)``: copy each source into its target."""
    return {target: source for source, target in _pairs(pairs, "hard_updates")}


def polyak_updates(pairs, tau):
    """``{target: (1 - tau) * target + tau * source}``: Polyak averaging of target networks (DDPG, TD3, SAC,
    with e.g. ``tau=0.005``); ``tau`` is a number in ``[0, 1]`` or a scalar node. ``tau=1`` is a hard copy."""
    if not isinstance(tau, Tensor) and not (isinstance(tau, int | float | np.number) and 0 <= tau <= 1):
        raise ValueError(f"polyak_updates: tau must be a number in [0, 1] or a scalar tensor, got {tau!r}")
    updates = {}
    for source, target in _pairs(pairs, "polyak_updates"):
        if not jnp.issubdtype(target.dtype, jnp.floating):  # counters and the like: copied
            updates[target] = source
        else:
            updates[target] = target + T.cast(tau, target.dtype) * (source - target)
    return updates


def copy_state(state, pairs):
    """A new state dict (``{variable name: value}``, as ``Function.state`` or ``sg.initial_state`` give) in
    which every target's entry holds its source's value. Pure, so it works under ``jax.jit`` and
    ``jax.vmap``: after ``sg.initial_state`` draws fresh parameters, make the targets equal their sources."""
    new = dict(state)
    for source, target in _pairs(pairs, "copy_state"):
        if source.name not in state:
            raise KeyError(f"copy_state: the state has no entry for the source variable {source.name!r}")
        new[target.name] = state[source.name]
    return new
