r"""What the rollout-based (on-policy) learners share: their networks, acting, the rollout they read from the
buffer, returns and advantages, and the one compiled update call.

:class:`~symgraph.rl.learners.reinforce.REINFORCE`, :class:`~symgraph.rl.learners.a2c.ActorCritic` and
:class:`~symgraph.rl.learners.ppo.PPO` subclass :class:`OnPolicyLearner`, which

- builds the actor (and critic) in the learner's graph: ``actor``/``critic`` are ready networks
  (:class:`~symgraph.rl.Actor`/:class:`~symgraph.rl.Critic` instances, built on one states placeholder) or
  factories called with the learner's states placeholder, e.g. ``lambda s: rl.MLPActor(s, 2, "categorical")``
  (an ``Actor`` subclass whose ``__init__`` takes only ``states`` works as a factory too);
- compiles acting into one call per (vector) environment step that runs the actor alone: ``act_and_extras``
  returns the actions, with ``{"raw-action": a}`` where the environment's action differs from the policy's
  sample (see below) and no other field. The update needs :math:`V(s_t)` and
  :math:`\log\pi_{old}(a_t|s_t)` of the parameters that collected the rollout; those parameters do not change
  during a rollout, so the update computes both for the whole rollout in one batched pass before its first
  gradient step (the same values as computing them step by step, at a fraction of the cost: an acting call
  that also ran the critic took several times longer on a CPU). A batch that holds ``"V"`` and
  ``"log-prob"`` fields (pushed by one's own loop) is used as given;
- reads the rollout from the :class:`~symgraph.rl.Buffer` (time-major ``(T, n_envs, ...)``), computes the
  returns and advantages itself, on device, inside the update (the buffer's own ``"advantage"`` and
  ``"reward-to-go"`` fields, made with the buffer's ``gamma``/``lam``, are not used), runs every gradient step
  of the update in **one** compiled call, writes the new parameters back once, and clears the buffer.

Returns and advantages. With :math:`d_t` the termination flag, :math:`c_t` the truncation flag (a time
limit) and :math:`s'_t` the stored next state (the true last observation of an episode, also after a
vector env's automatic reset), the :math:`\lambda`-return is

.. math::

    G_t = r_t + \gamma (1 - d_t)\,\big[(1 - \lambda_t) V(s'_t) + \lambda_t G_{t+1}\big],
    \qquad \lambda_t = \lambda (1 - c_t), \qquad G_{T-1} = r_{T-1} + \gamma (1 - d_{T-1}) V(s'_{T-1}),

and the advantage :math:`A_t = G_t - V(s_t)` is GAE(:math:`\gamma, \lambda`) (Schulman et al. 2016, eq.
16): a termination stops the return, a truncation or the end of the rollout bootstraps from the value of the
state reached, and neither leaks into the next episode of the same sub-environment.

Continuous actions. An actor samples in its own units; with ``action_bounds=(low, high)`` (what
``from_env`` sets for a bounded ``Box``) the action passed to the environment is the sample mapped affinely
onto the bounds, :math:`a_{env} = low + (a + 1)(high - low)/2`, after clipping ``a`` to ``[-1, 1]`` for a
Gaussian (a TanhNormal sample already lies in ``(-1, 1)``). ``act`` returns environment actions; the sample
itself is stored as ``"raw-action"`` by ``act_and_extras``, and log-probabilities are always of the sample,
so clipping biases nothing. Without ``action_bounds`` the sample is the action.

For a compiled training loop (``jax.lax.scan`` around acting and updating), :attr:`OnPolicyLearner.state`
is the learner's state as a dict, :meth:`OnPolicyLearner.update_pure` the update as a pure function of it
and of a rollout, and :meth:`OnPolicyLearner.set_state` writes a state back.
"""

import contextlib
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax

import symgraph.tensor as T
from symgraph import nn
from symgraph.errors import ShapeError, format_shape
from symgraph.function import function
from symgraph.graph import Scope
from symgraph.nodes import Placeholder, Variable, apply
from symgraph.rl import returns
from symgraph.rl.agents import Actor, Critic, resolve_distribution
from symgraph.rl.buffer import Buffer
from symgraph.rl.envs import make_env, space_info
from symgraph.rl.fused.envs import as_jax_env, is_jax_env
from symgraph.rl.learners.base import Learner
from symgraph.rl.learners.hyperparameters import Hyperparameters, check_seed, finite, held_variables
from symgraph.rl.networks import CNNActor, CNNCritic, MLPActor, MLPCritic
from symgraph.shared_jit import SharedJit

__all__ = ["OnPolicyLearner", "ROLLOUT_FIELDS"]

#: The buffer fields an update reads (``"raw-action"``, ``"V"`` and ``"log-prob"`` when stored).
ROLLOUT_FIELDS = ("state", "action", "reward", "next-state", "terminal", "truncated", "raw-action", "V",
                  "log-prob")
_REQUIRED = ("state", "action", "reward", "next-state", "terminal")


def positive_int(owner, name, value, allow_none=False):
    """``value`` as an int >= 1 (or None when allowed), else a ValueError naming the argument."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int{' or None' if allow_none else ''}, got "
                         f"{value!r}")
    return int(value)


#: The largest rollout a learner takes: its transitions are indexed by int32 inside the compiled update.
MAX_ROLLOUT = 2**31 - 1


def rollout_size(owner, first, second):
    """The number of transitions of a rollout of ``first[1] x second[1]`` (two ``(argument name, value)``
    pairs, e.g. ``("n_steps", 32), ("n_envs", 8)``), each a positive int; a product beyond
    :data:`MAX_ROLLOUT` is a ValueError naming both arguments."""
    (name_a, a), (name_b, b) = first, second
    size = positive_int(owner, name_a, a) * positive_int(owner, name_b, b)
    if size > MAX_ROLLOUT:
        raise ValueError(f"{owner}: a rollout of {name_a} x {name_b} = {a} x {b} = {size} transitions is beyond "
                         f"the {MAX_ROLLOUT} a compiled update indexes (int32); lower {name_a} or {name_b}")
    return size


def bucket(n):
    """``n`` rounded up to a power of two (at least 8): padded batches compile for few shapes."""
    return max(8, 1 << (int(n) - 1).bit_length())


def scan(body, init, xs=None, length=None, unroll=False):
    """``jax.lax.scan(body, init, xs, length)``, or the same loop written out in Python when ``unroll``
    (``lax.scan(..., unroll=True)`` still leaves a while loop around the body, which is what makes XLA's CPU
    convolutions slow)."""
    if not unroll:
        return jax.lax.scan(body, init, xs, length=length)
    n = length if xs is None else jax.tree_util.tree_leaves(xs)[0].shape[0]
    carry, outs = init, []
    for i in range(n):
        carry, out = body(carry, None if xs is None else jax.tree_util.tree_map(lambda x, i=i: x[i], xs))
        outs.append(out)
    return carry, jax.tree_util.tree_map(lambda *ys: jnp.stack(ys), *outs)


def _standardize(x, weights):
    """``(x - mean) / (std + 1e-8)`` with weighted statistics (``weights`` sum to the number of samples)."""
    n = T.sum(weights)
    mean = T.sum(weights * x) / n
    std = T.sqrt(T.sum(weights * (x - mean) ** 2) / n)
    return (x - mean) / (std + 1e-8)


class OnPolicyLearner(Learner):
    """Base of the rollout-based learners (see the module docstring).

    Args:
        state_shape, actions_shape: as :class:`~symgraph.rl.learners.base.Learner`; for a Categorical actor
            ``actions_shape`` is ``()`` or the number of actions, for a Gaussian one the shape of an action
            (an int ``d`` meaning ``(d,)``). Both are checked against the networks.
        actor: an :class:`~symgraph.rl.Actor` with a stochastic policy, or a factory ``f(states) -> Actor``.
        critic: a V(s) :class:`~symgraph.rl.Critic`, a factory ``f(states) -> Critic``, or None (no critic).

    Keyword Args:
        n_envs: the number of sub-environments pushed per buffer row (a vector env's ``num_envs``).
        action_bounds: ``(low, high)`` of a continuous action space to map the policy's samples onto (see
            the module docstring), or None.
        action_start: the first action of a ``Discrete(n, start)`` space (added to the sampled index).
        state_dtype: dtype of the states placeholder (``"float32"``; ``"uint8"`` for raw pixels).
        seed: the learner's seed.
    """

    #: The constructor arguments held as state Variables (see
    #: :mod:`~symgraph.rl.learners.hyperparameters`; the learning rates are in the optimizers), read from the
    #: attributes of the same name (None: not held).
    HYPERPARAMETERS = ()

    def __init__(self, state_shape, actions_shape, actor, critic, *, n_envs=1, action_bounds=None,
                 action_start=0, state_dtype="float32", seed=None):
        owner = type(self).__name__
        super().__init__(state_shape, actions_shape, check_seed(owner, seed))
        self.n_envs = positive_int(owner, "n_envs", n_envs)
        self.action_start = int(action_start)
        self._build_networks(actor, critic, state_dtype)
        self._check_actions_shape()
        self._set_bounds(action_bounds)
        with self.graph, Scope(owner.lower()) as scope:
            self.scope = scope.path
            held = Hyperparameters()
            for name in self.HYPERPARAMETERS:
                if getattr(self, name) is not None:
                    held.hold(name, getattr(self, name))
            self._hyperparameters = held.variables
            self._build_acting()
            self._key = Variable(np.asarray(jax.random.PRNGKey(self.function_seed() % 2**32)), name="update_key",
                                 trainable=False)
            self._updates_done = Variable(np.int32(0), name="updates", trainable=False)
            self._build_update()
        self._update_jit = SharedJit(self.update_pure)
        self._state_variables = None
        # XLA's CPU backend runs convolutions inside a loop (a while loop: scan) about 20x slower than in
        # straight-line code, so with image states the update's loops are unrolled there (see ``scan``).
        self._unroll = jax.default_backend() == "cpu" and len(self.state_shape) >= 2

    # ---------------------------------------------------------------------------------------------------
    # Networks

    def _build_networks(self, actor, critic, state_dtype):
        owner = type(self).__name__
        if isinstance(actor, Actor):
            self.graph = actor.graph
            self.states = actor.states
            shape = tuple(actor.states.shape[1:])
            if shape != self.state_shape:
                raise ShapeError(f"{owner}: the actor was built on states {format_shape(actor.states.shape)}, "
                                 f"but state_shape is {format_shape(self.state_shape)}; build it on "
                                 f"sg.Placeholder((None, *state_shape)) or fix state_shape")
            self.actor = actor
        elif callable(actor):
            with self.graph:
                self.states = Placeholder((None, *self.state_shape), state_dtype, name="states")
                self.actor = actor(self.states)
            if not isinstance(self.actor, Actor):
                raise TypeError(f"{owner}: the actor factory returned {type(self.actor).__name__}; it must "
                                f"return an rl.Actor built on the states it is given")
        else:
            raise TypeError(f"{owner}: actor must be an rl.Actor or a factory states -> Actor (e.g. lambda s: "
                            f"rl.MLPActor(s, n_actions, 'categorical')), got {type(actor).__name__}")
        if not self.actor.stochastic:
            raise TypeError(f"{owner}: {self.actor} is deterministic; an on-policy learner needs a stochastic "
                            f"policy: build it with actions_distribution='categorical', 'normal' or "
                            f"'tanh_normal'")
        if critic is None:
            self.critic = None
            return
        if isinstance(critic, Critic):
            if critic.graph is not self.graph:
                raise ValueError(f"{owner}: the critic and the actor belong to different graphs "
                                 f"({critic.graph.name!r}, {self.graph.name!r}); build both in one graph, or "
                                 f"pass factories")
            self.critic = critic if critic.states is self.states else critic.apply(self.states)
        elif callable(critic):
            with self.graph:
                self.critic = critic(self.states)
            if not isinstance(self.critic, Critic):
                raise TypeError(f"{owner}: the critic factory returned {type(self.critic).__name__}; it must "
                                f"return an rl.Critic built on the states it is given")
        else:
            raise TypeError(f"{owner}: critic must be an rl.Critic or a factory states -> Critic (e.g. lambda "
                            f"s: rl.MLPCritic(s)), got {type(critic).__name__}")
        if self.critic.discrete or self.critic.actions is not None:
            raise TypeError(f"{owner}: {self.critic} must be a state-value critic V(s) returning (batch,) or "
                            f"(batch, 1), without actions")

    def _check_actions_shape(self):
        owner = type(self).__name__
        given = self.actions_shape
        self.discrete = self.actor.kind == "categorical"
        if self.discrete:
            head = self.actor.distribution.logits
            n = head.shape[-1]
            if head.ndim != 2:
                raise ShapeError(f"{owner}: a Categorical actor must return logits (batch, n_actions), got "
                                 f"{format_shape(head.shape)}")
            if not (given == () or given == n or (isinstance(given, tuple | list) and tuple(given) == ())):
                raise ShapeError(f"{owner}: actions_shape={given!r} does not match the actor's {n} discrete "
                                 f"actions; pass () or {n}")
            self.n_actions, self.action_shape = int(n), ()
        else:
            event = tuple(self.actor.mode.shape[1:])
            shape = (int(given),) if isinstance(given, numbers.Integral) else tuple(given)
            if shape != event:
                raise ShapeError(f"{owner}: actions_shape={given!r} does not match the actor's actions of "
                                 f"shape {format_shape(event)}")
            self.n_actions, self.action_shape = None, event
        self.actions_shape = self.action_shape

    def _set_bounds(self, action_bounds):
        owner = type(self).__name__
        self.action_bounds = None
        if action_bounds is None:
            return
        if self.discrete:
            raise ValueError(f"{owner}: action_bounds is for continuous actions, but the actor is categorical")
        try:
            low, high = action_bounds
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: action_bounds must be (low, high), got {action_bounds!r}") from None
        low = np.broadcast_to(np.asarray(low, np.float32), self.action_shape).copy()
        high = np.broadcast_to(np.asarray(high, np.float32), self.action_shape).copy()
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
            raise ValueError(f"{owner}: action_bounds must be finite with low < high, got {action_bounds!r}")
        self.action_bounds = (low, high)

    # ---------------------------------------------------------------------------------------------------
    # Acting

    @property
    def _maps_actions(self):
        """Whether environment actions differ from the policy's samples (bounds, or a Discrete start)."""
        return self.action_bounds is not None or (self.discrete and self.action_start != 0)

    def _to_env(self, raw):
        """The environment action of a policy sample (a node)."""
        if self.discrete:
            return raw + self.action_start if self.action_start else raw
        if self.action_bounds is None:
            return raw
        low, high = self.action_bounds
        if self.actor.kind == "normal":
            raw = T.clip(raw, -1.0, 1.0)
        return low + (raw + 1.0) * (0.5 * (high - low))

    def _from_env(self, action):
        """The policy sample of a stored environment action (JAX; used when no "raw-action" was stored)."""
        if self.discrete:
            return action - self.action_start
        if self.action_bounds is None:
            return action
        low, high = self.action_bounds
        raw = (action - low) / (0.5 * (high - low)) - 1.0
        return jnp.clip(raw, -1 + 1e-6, 1 - 1e-6) if self.actor.kind == "tanh_normal" else raw

    def _build_acting(self):
        actor = self.actor
        raw = actor.actions
        outputs = [self._to_env(raw), raw] if self._maps_actions else [self._to_env(raw)]
        self._act_fn = function(self.states, outputs=outputs, seed=self.function_seed(), name="act")
        self._mode_fn = function(self.states, outputs=self._to_env(actor.mode), name="act_greedy")
        self._value_fn = (None if self.critic is None else
                          function(self.states, outputs=self.critic.values, name="value"))
        self._actions_in = Placeholder((None, *self.action_shape), "int32" if self.discrete else "float32",
                                       name="actions")
        outputs = [actor.log_prob(self._actions_in)]
        if self.critic is not None:
            outputs.append(self.critic.values)
        self._evaluate_fn = function(self.states, self._actions_in, outputs=outputs, name="evaluate")

    def _act(self, states, deterministic):
        if deterministic:
            return self._mode_fn(states)
        return self._act_fn(states)[0]

    def act_and_extras(self, states):
        """Actions for ``states`` (a batch or one state) and the fields to store with them: ``{"raw-action":
        the policy's sample}`` when the environment's action is mapped from it, else ``{}`` (values and
        log-probabilities are computed by the update, see the module docstring). One compiled call."""
        batch, single = self.batched(states)
        out = self._act_fn(batch)
        extras = {"raw-action": out[1]} if self._maps_actions else {}
        if single:
            return out[0][0], {k: v[0] for k, v in extras.items()}
        return out[0], extras

    def value(self, states):
        """:math:`V(s)` of a batch of states (or of one state), e.g. to bootstrap a truncated path. Batches
        are padded to a power of two, so varying sizes compile a few times only."""
        if self._value_fn is None:
            raise AttributeError(f"{type(self).__name__} has no critic, so no value()")
        batch, single = self.batched(states)
        n = len(batch)
        size = bucket(n)
        if size != n:
            batch = np.concatenate([batch, np.zeros((size - n, *batch.shape[1:]), batch.dtype)])
        values = self._value_fn(batch)[:n]
        return values[0] if single else values

    # ---------------------------------------------------------------------------------------------------
    # Updating

    def _build_update(self):
        """Build the train-step functions (subclasses)."""
        raise NotImplementedError

    def _pure_functions(self):
        """The compiled functions whose ``.pure`` :meth:`act_pure` and :meth:`update_pure` call."""
        return [f for f in (self._act_fn, self._value_fn, self._evaluate_fn) if f is not None]

    def act_pure(self, state, states):
        """Acting as a pure function of the learner's :attr:`state` (its sampling key included), for compiled
        loops: ``(actions, extras, new_state)`` for a batch of ``states``, ``actions`` and ``extras`` as
        :meth:`act_and_extras` gives them."""
        out, state = self._act_fn.pure(state, states)
        return out[0], {"raw-action": out[1]} if self._maps_actions else {}, state

    def greedy_pure(self, state, states):
        """The greedy (mode) environment actions for a batch of ``states`` as a pure function of
        :attr:`state`: ``(actions, state)``, as ``act(states, deterministic=True)``."""
        return self._mode_fn.pure(state, states)

    @property
    def state(self):
        """The learner's state read and written by :meth:`update_pure`: ``{name: array}`` of the networks'
        and optimizers' variables, the update's PRNG key and counters, and the compiled functions' keys."""
        if self._state_variables is None:
            names, keys = {}, {}
            for fn in self._pure_functions():
                for name in fn.state:
                    if name == fn.key_name:
                        keys[name] = fn
                    else:
                        names[name] = self.graph.variables[name]
            for variable in (self._key, self._updates_done, *self._hyperparameters.values()):
                names[variable.name] = variable
            self._state_variables, self._state_keys = names, keys
        state = {name: v.device_value for name, v in self._state_variables.items()}
        state.update({name: fn.state[name] for name, fn in self._state_keys.items()})
        return state

    def set_state(self, state):
        """Write a state (as :attr:`state` and :meth:`update_pure` give) back into the variables (each value
        checked against its variable's shape and dtype)."""
        if self._state_variables is None:
            self.state  # noqa: B018 (builds the name tables)
        for name, variable in self._state_variables.items():
            variable.update(state[name])
        for name, fn in self._state_keys.items():
            fn._key = state[name]

    def _write_state(self, state):
        """``set_state`` for the output of the compiled update, whose shapes and dtypes are the variables'
        own: written without the checks, as compiled functions write their updates."""
        for name, variable in self._state_variables.items():
            variable._value = state[name]
        for name, fn in self._state_keys.items():
            fn._key = state[name]

    def rollout_ready(self, buffer):
        """Whether ``buffer`` holds what one update needs (subclasses)."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------------------
    # The contract: schedule (subclasses) and storage

    def make_storage(self, n_envs):
        """The storage one update reads, for ``n_envs`` sub-environments (which must be the learner's
        ``n_envs``: a buffer row holds one step of each): a :class:`~symgraph.rl.buffer.Buffer` of
        :attr:`rollout_size` transitions.

        Raises:
            ValueError: ``n_envs`` is not a positive int, or not the learner's.
        """
        owner = f"{type(self).__name__}.make_storage"
        n_envs = positive_int(owner, "n_envs", n_envs)
        if n_envs != self.n_envs:
            raise ValueError(f"{owner}: n_envs={n_envs} sub-environments, but the learner was built for "
                             f"n_envs={self.n_envs}; build the learner for the env (from_env reads n_envs from "
                             f"it) or pass n_envs={self.n_envs}")
        return Buffer(self.rollout_size)

    def hyperparameter_variables(self):
        """``{constructor argument: [Variables holding its value]}``: the numeric hyperparameters held as
        state (:mod:`~symgraph.rl.learners.hyperparameters`), the numeric learning rates included (a schedule
        is not state). Their state entries are what ``rl.train(..., state_overrides=...)`` overrides per
        seed."""
        return held_variables(self._hyperparameters, self._learning_rates())

    def _learning_rates(self):
        """``{constructor argument: [optimizers whose learning rate it sets]}`` (subclasses)."""
        raise NotImplementedError

    def _hyperparameter(self, state, name):
        """The value of the hyperparameter ``name`` in ``state`` (a float32 scalar)."""
        return state[self._hyperparameters[name].name]

    def _check_buffer(self, buffer):
        owner = type(self).__name__
        if not callable(getattr(buffer, "rollout", None)):
            raise TypeError(f"{owner}.update: expected a symgraph.rl.Buffer, got {type(buffer).__name__}")
        if buffer.n_envs is not None and buffer.n_envs != self.n_envs:
            raise ValueError(f"{owner}.update: the buffer holds {buffer.n_envs} environments per row but the "
                             f"learner was built for n_envs={self.n_envs}; pass n_envs={buffer.n_envs} (from_env "
                             f"does it from the env)")
        if buffer.capacity < self.rollout_size:
            raise ValueError(f"{owner}.update: the buffer holds at most {buffer.capacity} transitions, fewer "
                             f"than the {self.rollout_size} of one rollout; build it with "
                             f"Buffer(agent.rollout_size), as agent.make_storage(n_envs) does")

    def _read(self, buffer, length=None):
        """The rollout as numpy arrays, time-major ``(T, n_envs, ...)``, float32 rewards and bool flags."""
        present = [k for k in ROLLOUT_FIELDS if k in buffer]
        missing = [k for k in _REQUIRED if k not in present]
        if missing:
            raise KeyError(f"{type(self).__name__}.update: the buffer has no {missing[0]!r} field; push "
                           f"{{'state', 'action', 'reward', 'next-state', 'terminal', 'truncated'}} and the "
                           f"extras of act_and_extras at every step (rl.run does)")
        data = buffer.rollout(present, length=length)
        data["reward"] = data["reward"].astype(np.float32, copy=False)
        data["terminal"] = data["terminal"].astype(bool, copy=False)
        data["truncated"] = (data["truncated"].astype(bool, copy=False) if "truncated" in data
                             else np.zeros_like(data["terminal"]))
        for key in ("V", "log-prob"):
            if key in data:
                data[key] = data[key].astype(np.float32, copy=False)
        return data

    def update(self, buffer):
        """Learn from the rollout in ``buffer`` once it holds a whole one (else return None), in one
        compiled call; then clear the buffer. Returns a dict of metrics (JAX scalars, averaged over the
        update's gradient steps)."""
        self._check_buffer(buffer)
        if not self.rollout_ready(buffer):
            return None
        batch = self._collect(buffer)
        metrics, state = self._update_jit(self.state, batch)
        self._write_state(state)
        buffer.clear()
        return metrics

    def _collect(self, buffer):
        """The batch handed to :meth:`update_pure` (subclasses)."""
        raise NotImplementedError

    def update_pure(self, state, batch):
        """``(metrics, new_state)``: the whole update as a pure, jittable function of the learner's
        :attr:`state` and a rollout ``batch``: a dict of time-major arrays ``(T, n_envs, ...)``, the buffer's
        ``"state"``, ``"action"``, ``"reward"``, ``"next-state"``, ``"terminal"`` and ``"truncated"``, with
        ``"raw-action"``, ``"V"`` and ``"log-prob"`` where stored (else recomputed with the current
        networks), and for episodic batches (REINFORCE, ActorCritic without ``n_steps``) ``"real"``, a
        ``(T,)`` boolean marking the stored rows of a padded rollout (subclasses)."""
        raise NotImplementedError

    # helpers of update_pure -------------------------------------------------------------------------------

    def _flat_inputs(self, state, batch, need_log_probs=True):
        """Flattened states, next states and policy actions, the stored (or recomputed) log-probs and values
        ``(T, E)`` (None when not needed or without a critic), and the state."""
        rewards = batch["reward"]
        t, e = rewards.shape
        n = t * e

        def flat(x):
            return x.reshape((n, *x.shape[2:]))

        states, next_states = flat(batch["state"]), flat(batch["next-state"])
        raw = flat(batch["raw-action"]) if "raw-action" in batch else self._from_env(flat(batch["action"]))
        raw = raw.astype(jnp.int32 if self.discrete else jnp.float32)
        log_probs = batch.get("log-prob") if need_log_probs else 0.0
        values = batch.get("V")
        if log_probs is None or (values is None and self.critic is not None):
            out, state = self._evaluate_fn.pure(state, states, raw)
            log_probs = out[0].reshape(t, e) if log_probs is None else log_probs
            if self.critic is not None and values is None:
                values = out[1].reshape(t, e)
        return states, next_states, raw, log_probs, values, state

    def _lambda_returns(self, state, batch, next_states, values):
        """:math:`G_t` (the module docstring's lambda-return) ``(T, E)``, bootstrapped with the critic, with
        the ``gamma`` and ``lam`` held in ``state``."""
        rewards = batch["reward"]
        next_values, state = self._value_fn.pure(state, next_states)
        next_values = next_values.reshape(rewards.shape)
        discounts = self._hyperparameter(state, "gamma") * (1.0 - batch["terminal"].astype(jnp.float32))
        lams = self._hyperparameter(state, "lam") * (1.0 - batch["truncated"].astype(jnp.float32))
        return returns.lambda_returns(rewards, discounts, jax.lax.stop_gradient(next_values), lams), state

    def _key_split(self, state):
        key, sub = jax.random.split(state[self._key.name])
        state = dict(state)
        state[self._key.name] = key
        return sub, state

    # ---------------------------------------------------------------------------------------------------
    # Building from an environment

    @classmethod
    def _networks_from_env(cls, env, actor, critic, hidden, activation, actions_distribution, log_std_init,
                           needs_critic):
        """``(space info, learner keyword arguments, actor factory, critic factory)`` for ``env``'s spaces."""
        owner = f"{cls.__name__}.from_env"
        log_std_init = finite(owner, "log_std_init", log_std_init)
        env = as_jax_env(env) if is_jax_env(env) else env
        info = space_info(env)
        if info.n_states is not None or len(info.obs_shape) == 0:
            raise TypeError(f"{owner}: the env has Discrete observations (state indices); wrap it so that it "
                            f"returns vectors (e.g. a one-hot ObservationWrapper), or use a tabular agent")
        image = np.dtype(info.obs_dtype) == np.uint8 and len(info.obs_shape) in (2, 3)
        channels_first = (image and len(info.obs_shape) == 3
                          and info.obs_shape[0] < min(info.obs_shape[1], info.obs_shape[2]))
        kind = resolve_distribution(("categorical" if info.discrete else "normal") if actions_distribution is None
                                    else actions_distribution)
        env_name = getattr(getattr(env, "spec", None), "id", None) or type(getattr(env, "unwrapped", env)).__name__
        space = env.single_action_space if info.n_envs > 1 or hasattr(env, "single_action_space") else \
            env.action_space
        if info.discrete and kind != "categorical":
            raise ValueError(f"{owner}: {env_name} has discrete actions ({space}) but the actor is {kind!r}; "
                             f"discrete actions need actions_distribution='categorical'")
        if not info.discrete and kind == "categorical":
            raise ValueError(f"{owner}: {env_name} has continuous actions ({space}) but the actor is "
                             f"categorical; use actions_distribution='normal' or 'tanh_normal'")
        if kind == "deterministic":
            raise ValueError(f"{owner}: an on-policy learner needs a stochastic actor, got "
                             f"actions_distribution={actions_distribution!r}")
        n = info.n_actions if info.discrete else int(np.prod(info.action_shape))
        if not info.discrete and len(info.action_shape) != 1:
            raise TypeError(f"{owner}: {env_name} has actions of shape {info.action_shape}; the ready-made "
                            f"networks handle vector actions (d,) only: flatten the action space, or pass "
                            f"your own actor=")
        if actor is not None:
            given = actor

            def actor(states):
                built = given(states)
                if isinstance(built, Actor) and (built.kind == "categorical") != info.discrete:
                    what = "discrete" if info.discrete else "continuous"
                    raise ValueError(f"{owner}: {env_name} has {what} actions ({space}) but the actor given is "
                                     f"{built.kind!r}; discrete actions need a categorical actor, continuous "
                                     f"ones a normal or tanh_normal one")
                return built
        else:
            if image:
                def actor(states):
                    return CNNActor(states, n, kind, channels_first=channels_first, log_std_init=log_std_init)
            else:
                def actor(states):
                    return MLPActor(states, n, kind, hidden, activation, log_std_init=log_std_init)
        if critic is None and needs_critic:
            if image:
                def critic(states):
                    return CNNCritic(states, channels_first=channels_first)
            else:
                def critic(states):
                    return MLPCritic(states, None, hidden, activation)
        kwargs = {"n_envs": info.n_envs, "state_dtype": "uint8" if image else "float32"}
        if info.discrete:
            kwargs["action_start"] = info.action_start
        elif np.all(np.isfinite(info.action_low)) and np.all(np.isfinite(info.action_high)):
            kwargs["action_bounds"] = (info.action_low, info.action_high)
        return info, kwargs, actor, critic


@contextlib.contextmanager
def env_from(env):
    """``env`` itself, or for an env id (a string, as the off-policy learners' ``from_env`` take) the env made
    from it with :func:`symgraph.rl.envs.make_env`, closed on exit (``from_env`` reads its spaces and time
    limit; it never steps it)."""
    if not isinstance(env, str):
        yield env
        return
    made = make_env(env, record_stats=False, validate=0)
    try:
        yield made
    finally:
        made.close()


def _scale_by_scaled_lr(lr, scale):
    """``u <- -lr * scale(count) * u``, with its own step count in the state. The same arithmetic as optax's
    ``scale_by_learning_rate`` with the schedule ``lambda count: lr * scale(count)`` (one multiply per
    parameter), where ``optax.inject_hyperparams`` followed by ``optax.scale_by_schedule`` made PPO's update
    8-15% slower on the CPU. ``lr`` is the value :class:`~symgraph.nn.optimizers.Optimizer` reads from its
    learning-rate Variable."""

    def init(params):
        del params
        return optax.ScaleByScheduleState(jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        del params
        step = -lr * scale(state.count)
        updates = jax.tree_util.tree_map(lambda u: (step * u).astype(u.dtype), updates)
        return updates, optax.ScaleByScheduleState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def make_optimizer(owner, name, loss, params, lr, max_grad_norm, optimizer="adam", lr_scale=None,
                   argument="lr"):
    """Adam (eps 1e-5, as SB3's and PureJaxRL's PPO) or RMSProp (decay 0.99, eps 1e-5, as SB3's A2C).

    A numeric ``lr`` is held in a float32 Variable of the optimizer (the learner's state entry whose name ends
    in ``hyperparams/learning_rate``, see :class:`~symgraph.nn.optimizers.Optimizer`), not compiled into the
    update, so that learners differing in their learning rate share one compiled update and a compiled loop
    can give each seed its own (:func:`symgraph.rl.train`'s ``state_overrides``); a schedule is evaluated from
    the step count. ``lr_scale`` (Adam only): a function of the step count multiplying the numeric ``lr``,
    e.g. PPO's linear annealing, which keeps ``lr`` itself a state entry (see :func:`_scale_by_scaled_lr`).
    The optimizer's ``.lr`` node is the learning rate of the next update, read from the state. ``argument``
    names the constructor argument in errors (``"critic_lr"``...)."""
    if optimizer not in ("adam", "rmsprop"):
        raise ValueError(f"{owner}: optimizer must be 'adam' or 'rmsprop', got {optimizer!r}")
    if callable(lr):
        if optimizer == "adam":
            return nn.optimizers.Adam(loss, lr=lr, eps=1e-5, params=params, max_grad_norm=max_grad_norm, name=name)
        return nn.optimizers.RMSProp(loss, lr=lr, decay=0.99, eps=1e-5, params=params,
                                     max_grad_norm=max_grad_norm, name=name)
    lr = finite(owner, argument, lr, 0.0)
    if lr_scale is not None:
        if optimizer != "adam":
            raise ValueError(f"{owner}: a scaled learning rate (lr_scale) is implemented for Adam only, got "
                             f"optimizer={optimizer!r}")

        def transform(rate):
            return optax.chain(optax.scale_by_adam(eps=1e-5), _scale_by_scaled_lr(rate, lr_scale))
        numbers = {}
    elif optimizer == "adam":
        transform, numbers = optax.adam, {"b1": 0.9, "b2": 0.999, "eps": 1e-5, "eps_root": 0.0}
    else:
        transform, numbers = optax.rmsprop, {"decay": 0.99, "eps": 1e-5, "initial_scale": 0.0}
    # the optimizer's own numbers are state too, as when optax.inject_hyperparams held them: the program then
    # computes with them exactly as it did (the trained parameters are the same)
    result = nn.optimizers.Optimizer(transform, loss, params, lr=lr, max_grad_norm=max_grad_norm, name=name,
                                     hyperparams=numbers)
    if lr_scale is not None:
        result.lr = result.lr_variable * apply(lr_scale, (result.step,), name="lr_scale")
    return result
