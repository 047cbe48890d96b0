r"""What the off-policy learners (DQN, DDPG, TD3, SAC) share: their schedule and storage (the learner
contract of :mod:`symgraph.rl.protocol`), replay sampling, n-step returns, several gradient steps in one
compiled call, and periodic target updates.

The contract. A learner carries its own timing, :attr:`OffPolicyLearner.schedule`: ``update_every``
environment steps between two updates (SB3's ``train_freq``), ``update_after`` steps collected before the
first (SB3's ``learning_starts``) and ``gradient_steps`` per update; and its own storage,
:meth:`OffPolicyLearner.make_storage`, a replay of ``buffer_size`` transitions. ``rl.run``, ``rl.train``, the
CLI and the zoo read them.

A learner builds its update as a short list of *phases*, each one compiled graph function
(``symgraph.function``) over a minibatch of transitions, run one after the other at every gradient step
(:meth:`OffPolicyLearner._gradient_step`): e.g. DQN's train step, then (every ``target_update_period``
steps) its target update. Phases read and write the learner's Variables, so a later phase sees the
parameters an earlier one just wrote (TD3's actor follows the freshly updated critic, as in the reference
implementations). A learner whose gradient step is more than phases in a row writes its own
``_gradient_step`` (TD3's delayed policy update, in :mod:`~symgraph.rl.learners.td3`).

One ``update(buffer)`` call makes ``gradient_steps`` gradient steps in **one** compiled call:

1. on the host, draw ``gradient_steps * batch_size`` transitions from the :class:`~symgraph.rl.buffer.Buffer`
   in one go (uniformly with the learner's own generator, or ``gradient_steps`` prioritised draws of
   ``batch_size`` from the buffer's sum tree), compute their (n-step) returns and discounts, and reshape them
   to ``(gradient_steps, batch_size, ...)``;
2. ``jax.lax.scan`` the phases' ``.pure`` views over those minibatches inside one ``jax.jit``
   (:meth:`OffPolicyLearner.update_pure`), the state (parameters, optimizer moments, target networks,
   counters, random keys) carried from step to step;
3. write the new state back into the Variables, and the new priorities (``|delta|``) into the buffer.

Why a host replay rather than an on-device one: the transitions are collected on the host by ``rl.run``
(Python environments), stored in the shared ``Buffer`` (which also serves priorities, n-step chains and
vector environments), and drawing the minibatches on the host costs far less than the gradient steps they
feed (measured on a 2-core CPU: about 0.3 ms to draw 128 minibatches of 64 CartPole transitions, against
60 to 130 ms for the 128 gradient steps of a [256, 256] Q-network; 0.03 to 0.07 ms for one SAC minibatch of
256, against 0.4 ms for its gradient step with tiny networks). The compiled update is a pure
function of ``(state, batch)``, so a loop with an on-device replay (JAX environments, :mod:`symgraph.rl.fused`)
scans the same :meth:`OffPolicyLearner.update_pure` without a second implementation of any algorithm:
:attr:`OffPolicyLearner.state` is the learner's state as a dict (acting included), :meth:`OffPolicyLearner.act_pure`
acting as a pure function of it, and :meth:`OffPolicyLearner.set_state` writes a state back.

Transitions. ``run`` pushes ``"state"``, ``"action"``, ``"reward"``, ``"next-state"``, ``"terminal"`` and
``"truncated"``. A minibatch fed to the phases holds ``"state"``, ``"action"``, ``"reward"`` (the n-step
return), ``"discount"``, ``"next-state"`` (the state to bootstrap from) and ``"weight"`` (importance weights;
ones without prioritised replay). With ``n_step = n`` (Sutton 1988; Mnih et al. 2016; Hessel et al. 2018)
the chain from a sampled step :math:`t` follows the same environment's next steps until ``n`` steps, a
termination, a truncation or the newest stored step, whichever comes first (:math:`m \le n` steps):

.. math::

    G_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k}, \qquad
    \text{discount}_t = \gamma^m (1 - \text{terminal}_{t+m-1}), \qquad
    \text{bootstrap from } s_{t+m},

so the target is :math:`G_t + \text{discount}_t \, V(s_{t+m})`: a termination stops the bootstrap, a time
limit (truncation) bootstraps from the state reached. ``n = 1`` is the one-step target
:math:`r_t + \gamma (1 - \text{terminal}_t) V(s_{t+1})`. This is the replays' one n-step rule
(:mod:`symgraph.rl.storage.nstep`, where the newest stored step is found from the ring's write position),
shared by the host replay and the device replay of :mod:`symgraph.rl.fused`.
"""

import functools
import numbers
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.function import function
from symgraph.nn.optimizers import check_lr
from symgraph.nodes import Placeholder, Variable
from symgraph.rl.buffer import Buffer
from symgraph.rl.envs import make_env, space_info
from symgraph.rl.fused.envs import as_jax_env, is_jax_env
from symgraph.rl.learners.base import Learner
from symgraph.rl.learners.hyperparameters import Hyperparameters, check_seed, finite, held_variables
from symgraph.rl.networks import CNNCritic
from symgraph.rl.noise import GaussianNoise, OrnsteinUhlenbeckNoise
from symgraph.rl.protocol import Schedule
from symgraph.rl.storage import replay as replay_storage
from symgraph.shared_jit import SharedJit

__all__ = ["OffPolicyLearner", "ContinuousActions", "BATCH_FIELDS", "env_spaces", "discrete_from_env",
           "soft_updates"]

#: The fields of a minibatch, in the order of the placeholders of :attr:`OffPolicyLearner.batch`.
BATCH_FIELDS = ("state", "action", "reward", "discount", "next-state", "weight")


#: The largest count of the schedule and storage arguments: the compiled loops count steps in int32.
MAX_COUNT = 2**31 - 1


@dataclass(frozen=True)
class _Phase:
    function: object     # the compiled graph function
    fields: tuple        # the minibatch fields it takes, in order
    period: int          # it runs at gradient steps t with (t + 1) % period == 0
    updated: tuple       # the Variables it writes


def _count(owner, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _schedule_count(owner, name, value, minimum, meaning):
    """``value`` as an int in ``[minimum, MAX_COUNT]``, else a ValueError naming the argument, what it
    means, the value received and the fix."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not minimum <= value <= MAX_COUNT:
        raise ValueError(f"{owner}: {name} ({meaning}) must be an int from {minimum} to {MAX_COUNT}, got "
                         f"{value!r}; pass e.g. {name}={max(minimum, 1)}")
    return int(value)


class OffPolicyLearner(Learner):
    """Base of the replay-based learners (see the module docstring).

    Args:
        state_shape, actions_shape, seed: as :class:`~symgraph.rl.learners.base.Learner`.
        batch_size: transitions per gradient step.
        gamma: the discount factor :math:`\\gamma`.
        gradient_steps: gradient steps per :meth:`update` call, all in one compiled call.
        n_step: the length ``n`` of the multi-step returns (1: one-step targets).
        prioritized: learn from a prioritised buffer (``Buffer(..., priority_sampling=True)``, e.g. from
            :meth:`make_buffer`): its importance weights scale the loss and the new ``|delta|`` become the
            priorities of the sampled transitions (Schaul et al. 2016).
        update_every: environment steps (all sub-environments together) between two updates (SB3's
            ``train_freq``).
        update_after: environment steps collected before the first update (SB3's ``learning_starts``).
        buffer_size: the replay's capacity in transitions (:meth:`make_storage`).

    Subclasses create their networks in :attr:`graph` on the placeholders of :attr:`batch` (after
    :meth:`_make_batch`), register phases with :meth:`_add_phase` and call :meth:`_compile`.
    """

    #: Whether the learner acts with discrete actions ``0 .. n_actions - 1`` (a class trait that ``rl.train``
    #: and the command line read: DQN and QR-DQN), rather than continuous ones (DDPG, TD3, SAC).
    discrete = False

    def __init__(self, state_shape, actions_shape, batch_size, gamma, *, gradient_steps=1, n_step=1,
                 prioritized=False, update_every=1, update_after=1, buffer_size=1_000_000, seed=None):
        owner = type(self).__name__
        super().__init__(state_shape, actions_shape, check_seed(owner, seed))
        self.batch_size = _count(owner, "batch_size", batch_size)
        self.gamma = finite(owner, "gamma", gamma, 0.0, 1.0)
        self.gradient_steps = _count(owner, "gradient_steps", gradient_steps)
        self.update_every = _schedule_count(owner, "update_every", update_every, 1,
                                            "environment steps between two updates")
        self.update_after = _schedule_count(owner, "update_after", update_after, 0,
                                            "environment steps collected before the first update")
        self.buffer_size = _schedule_count(owner, "buffer_size", buffer_size, 1,
                                           "the replay's capacity in transitions")
        if isinstance(n_step, bool) or not isinstance(n_step, numbers.Integral) or n_step < 1:
            raise ValueError(f"{owner}: n_step must be an int >= 1 (the number of rewards summed before "
                             f"bootstrapping; 1 is the one-step target), got {n_step!r}")
        self.n_step = int(n_step)
        self.prioritized = bool(prioritized)
        self._phases = []
        self._compiled = None
        with self.graph:
            #: int32 Variable counting the gradient steps made (drives the periodic phases).
            self.gradient_step = Variable(np.int32(0), name="gradient_step", trainable=False)
            # gamma's state entry is what a compiled loop with an on-device replay discounts with (the host
            # replay computes the discounts of its minibatches from ``self.gamma``)
            self._held = Hyperparameters()
            self._held.hold("gamma", self.gamma)
            self._hyperparameters = self._held.variables
        self._rate_arguments = {}

    def _hold(self, name, value):
        """``value`` held in the state Variable ``hyperparameters/<name>`` (call inside ``self.graph``)."""
        return self._held.hold(name, value)

    def _polyak(self, tau):
        """The coefficient of :func:`soft_updates` for ``tau``: 1.0 (hard copies, no Variable), else ``tau``
        held in the state Variable ``hyperparameters/tau``."""
        return 1.0 if tau == 1.0 else self._hold("tau", tau)

    def hyperparameter_variables(self):
        """``{constructor argument: [Variables holding its value]}``: ``gamma`` (read by the compiled loop of
        :func:`symgraph.rl.train`; the host replay discounts with ``self.gamma``), the numeric learning rates
        of the optimizers, ``tau`` (below 1) and SAC's fixed ``alpha``. Their state entries are what
        ``rl.train(..., state_overrides=...)`` overrides per seed."""
        return held_variables(self._hyperparameters, self._learning_rates())

    def _rate(self, optimizer, lr, own=None, argument="lr"):
        """The learning rate of the optimizer attribute ``optimizer``: ``own`` (the argument ``argument``, e.g.
        ``critic_lr``) when given, else ``lr``; checked, and recorded for :meth:`hyperparameter_variables`."""
        self._rate_arguments[optimizer] = "lr" if own is None else argument
        return check_lr(type(self).__name__, lr) if own is None else check_lr(type(self).__name__, own, argument)

    def _learning_rates(self):
        """``{constructor argument: [optimizers whose learning rate it sets]}``."""
        groups = {}
        for optimizer, argument in self._rate_arguments.items():
            groups.setdefault(argument, []).append(getattr(self, optimizer))
        return groups

    # -----------------------------------------------------------------------------------------------------
    # Building (subclasses)

    def _make_batch(self, state_dtype, action_shape, action_dtype):
        """The minibatch placeholders :attr:`batch` ``{field: Placeholder}`` (call inside ``self.graph``)."""
        state = (None, *self.state_shape)
        self.batch = {
            "state": Placeholder(state, state_dtype, name="states"),
            "action": Placeholder((None, *action_shape), action_dtype, name="actions"),
            "reward": Placeholder((None,), "float32", name="rewards"),
            "discount": Placeholder((None,), "float32", name="discounts"),
            "next-state": Placeholder(state, state_dtype, name="next_states"),
            "weight": Placeholder((None,), "float32", name="weights"),
        }
        return self.batch

    def _add_phase(self, name, fields, outputs, updates, period=1):
        """Compile one phase: the graph function of minibatch ``fields`` with ``outputs`` (a dict of scalar
        metrics, plus ``"priority"`` ``(batch,)`` for prioritised replay) and ``updates``; it runs at every
        gradient step ``t`` (counted from 0) with ``(t + 1) % period == 0``. A periodic phase (``period >
        1``, e.g. a target update) has no outputs: every metric is computed at every step."""
        fields = tuple(fields)
        if period > 1 and outputs:
            raise ValueError(f"{type(self).__name__}: the periodic phase {name!r} has outputs {sorted(outputs)}; "
                             f"a phase that skips steps computes no metric (write the step in the learner's "
                             f"_gradient_step, as TD3 does for its delayed policy update)")
        fn = function(*[self.batch[f] for f in fields], outputs=dict(outputs) if outputs else None,
                      updates=updates, seed=self.function_seed(), name=f"{type(self).__name__}/{name}")
        self._phases.append(_Phase(fn, fields, int(period), tuple(updates)))
        return fn

    def _compile(self, carried=()):
        """Gather the state the phases (and the acting functions) read and write, and jit :meth:`update_pure`.
        ``carried``: Variables the update writes besides the phases' (e.g. TD3's last actor loss)."""
        names, keys = {}, {}
        for phase in self._phases:
            for name in phase.function.state:
                if name == phase.function.key_name:
                    keys[name] = phase.function.state[name]
                else:
                    names[name] = None
        names[self.gradient_step.name] = None
        names.update({v.name: None for v in carried})
        names.update({v.name: None for v in self._hyperparameters.values()})
        variables = self.graph.variables
        self._state_variables = [variables[n] for n in names]
        written = {v for phase in self._phases for v in phase.updated} | {self.gradient_step, *carried}
        self._written = [v for v in self._state_variables if v in written]
        self._keys = keys
        self._acting = [self.act_function, self.greedy_function]
        acting = {n for fn in self._acting for n in fn.state if n != fn.key_name and n not in names}
        self._acting_variables = [variables[n] for n in sorted(acting)]
        self._compiled = SharedJit(self.update_pure)  # identical learners (seeds) compile it once

    # -----------------------------------------------------------------------------------------------------
    # The pure views (for compiled loops)

    def _update_state(self):
        """The part of :attr:`state` that :meth:`update_pure` reads and writes."""
        state = {v.name: v.device_value for v in self._state_variables}
        state.update(self._keys)
        return state

    @property
    def state(self):
        """The learner's state: ``{name: array}`` of everything :meth:`update_pure` reads and writes
        (parameters, optimizer state, target networks, counters, the phases' random keys) and what acting
        reads and writes (the exploring-action counter ``act_steps``, the acting functions' keys)."""
        state = self._update_state()
        state.update({v.name: v.device_value for v in self._acting_variables})
        for fn in self._acting:
            state.update(fn.state)
        return state

    def set_state(self, state):
        """Write a state (as :attr:`state`, :meth:`update_pure` and :meth:`act_pure` give) back into the
        Variables and random keys; each value is checked against its Variable's shape and dtype."""
        missing = [name for name in self.state if name not in state]
        if missing:
            raise KeyError(f"{type(self).__name__}.set_state: the state lacks {missing}; start from "
                           f"learner.state and pass what update_pure/act_pure return")
        for variable in self._state_variables + self._acting_variables:
            variable.update(state[variable.name])
        for name in self._keys:
            self._keys[name] = state[name]
        for fn in self._acting:
            if fn.key_name is not None:
                fn._key = state[fn.key_name]

    def _write_state(self, state):
        """:meth:`set_state` for the output of the compiled update, whose values have the Variables' own
        shapes and dtypes: only the written entries, without the checks (as compiled functions write)."""
        for variable in self._written:
            variable._value = state[variable.name]
        for name in self._keys:
            self._keys[name] = state[name]

    def act_pure(self, state, states):
        """``(actions, extras, new_state)``: exploring actions (in the env's units; :meth:`act` with
        ``deterministic=False``, including the exploration the learner does itself) for a batch of
        ``states``, as a pure function of :attr:`state`: jit-, vmap- and scan-able. ``extras`` is ``{}``: an
        off-policy learner stores nothing but the transition (the contract's form, shared with the on-policy
        learners, whose extras are fields stored with each step)."""
        actions, state = self.act_function.pure(state, states)
        return actions, {}, state

    def greedy_pure(self, state, states):
        """``(actions, new_state)``: the deterministic actions of :meth:`act` with ``deterministic=True`` for
        a batch of ``states``, as a pure function of :attr:`state`."""
        return self.greedy_function.pure(state, states)

    def update_pure(self, state, batch):
        """``(metrics, new_state)``: one gradient step (:meth:`_gradient_step`) per leading entry of
        ``batch`` (a dict of :data:`BATCH_FIELDS` arrays of shape ``(steps, batch_size, ...)``, as
        :meth:`sample_batches` gives), with ``jax.lax.scan``. Pure: jit-, vmap- and scan-able; writes nothing
        back; ``state`` may hold more entries than the update uses (they are passed through).

        ``metrics`` maps each metric to its mean over the steps (:meth:`_summarize`), and ``"priority"``
        (if any) to the ``(steps, batch_size)`` new priorities.
        """
        counter = self.gradient_step.name

        def step(state, minibatch):
            outputs, state = self._gradient_step(state, minibatch)
            state = dict(state)
            state[counter] = state[counter] + 1
            return state, outputs

        state, outputs = jax.lax.scan(step, state, batch)
        return self._summarize(outputs, state), state

    def _gradient_step(self, state, minibatch):
        """``(outputs, new_state)``: gradient step ``t = state[gradient_step]`` (counted from 0): every phase
        in order, a periodic one only when ``(t + 1) % period == 0``; ``outputs`` are the phases' metrics.
        A subclass whose step is more than phases in a row overrides it (TD3)."""
        t = state[self.gradient_step.name]
        outputs = {}
        for phase in self._phases:
            if phase.period == 1:
                out, state = self._run_phase(phase, state, minibatch)
                outputs.update(out or {})
            else:  # only the entries the phase reads or writes go through the conditional
                sub = {name: state[name] for name in phase.function.state}
                sub = jax.lax.cond((t + 1) % phase.period == 0,
                                   lambda st, phase=phase: self._run_phase(phase, st, minibatch)[1],
                                   lambda st: st, sub)
                state = {**state, **sub}
        return outputs, state

    @staticmethod
    def _run_phase(phase, state, minibatch):
        """``(outputs, new_state)`` of one phase on its fields of ``minibatch``."""
        return phase.function.pure(state, *[minibatch[f] for f in phase.fields])

    def _summarize(self, outputs, state):
        """The metrics of an update from its steps' ``outputs`` (each of leading axis ``steps``) and the state
        after them: the mean of each over the steps, ``"priority"`` as it is."""
        del state
        return {k: (v if k == "priority" else jnp.mean(v)) for k, v in outputs.items()}

    # -----------------------------------------------------------------------------------------------------
    # The contract: schedule and storage

    @property
    def schedule(self):
        """When this learner updates, as ``rl.run``, ``rl.train``, the CLI and the zoo read it: a
        :class:`~symgraph.rl.protocol.Schedule` of ``update_every`` environment steps between two updates,
        ``update_after`` steps before the first, and ``gradient_steps`` per update."""
        return Schedule(update_every=self.update_every, update_after=self.update_after,
                        gradient_steps=self.gradient_steps)

    def make_storage(self, n_envs):
        """The replay this learner learns from, for ``n_envs`` sub-environments: :meth:`make_buffer` of
        ``buffer_size`` transitions (prioritised when ``prioritized``), seeded with the learner's seed.

        Raises:
            ValueError: ``n_envs`` is not a positive int.
        """
        _schedule_count(f"{type(self).__name__}.make_storage", "n_envs", n_envs, 1,
                        "the sub-environments pushing transitions")
        return self.make_buffer(self.buffer_size)

    # -----------------------------------------------------------------------------------------------------
    # Replay

    def make_buffer(self, maxlen, alpha=0.6, beta=0.4, *, seed=None):
        """A :class:`~symgraph.rl.buffer.Buffer` of ``maxlen`` transitions that suits this learner:
        prioritised (with exponents ``alpha`` and ``beta``, a number or a schedule of the number of draws,
        e.g. ``nn.schedules.linear(0.4, 1.0, n)``) when ``prioritized``, uniform otherwise."""
        return Buffer(maxlen, priority_sampling=self.prioritized, gamma=self.gamma, alpha=alpha, beta=beta,
                      seed=self.seed if seed is None else seed)

    def sample_batches(self, buffer):
        """``(batches, indices)``: ``gradient_steps`` minibatches of ``batch_size`` transitions drawn from
        ``buffer``, as a dict of :data:`BATCH_FIELDS` arrays of shape ``(gradient_steps, batch_size, ...)``,
        and the sampled slots (for the priorities), or ``(None, None)`` while the buffer holds fewer than
        ``batch_size`` transitions (:func:`symgraph.rl.storage.replay.sample_batches`, whose n-step targets
        follow the replays' one rule, :mod:`symgraph.rl.storage.nstep`)."""
        fields = {f: (tuple(self.batch[f].shape[1:]), self.batch[f].dtype) for f in BATCH_FIELDS}
        return replay_storage.sample_batches(buffer, self.rng, self.batch_size, self.gradient_steps, self.n_step,
                                             self.gamma, fields, prioritized=self.prioritized,
                                             owner=f"{type(self).__name__}.update")

    # -----------------------------------------------------------------------------------------------------
    # The agent protocol

    def update(self, buffer):
        """``gradient_steps`` gradient steps on transitions from ``buffer`` in one compiled call; returns
        the metrics of :meth:`update_pure` (the mean of each over the steps), or None while the buffer holds
        fewer than ``batch_size``."""
        batches, indices = self.sample_batches(buffer)
        if batches is None:
            return None
        metrics, state = self._compiled(self._update_state(), batches)
        self._write_state(state)
        priorities = metrics.pop("priority", None)
        if self.prioritized and priorities is not None:
            buffer.update_priorities(indices, np.asarray(priorities).reshape(-1))
        return metrics


# ---------------------------------------------------------------------------------------------------------
# Continuous actions (DDPG, TD3, SAC)


def env_spaces(owner, env, discrete):
    """``space_info`` of ``env`` (an env, an id, or a gymnax env or ``(env, params)`` pair), checked to have
    discrete (DQN) or continuous (``Box``: DDPG, TD3, SAC) actions."""
    if is_jax_env(env):
        env = as_jax_env(env)
    made = make_env(env, record_stats=False, validate=0) if isinstance(env, str) else env
    try:
        info = space_info(made)
        space = made.single_action_space if info.n_envs > 1 else made.action_space
    finally:
        if made is not env:
            made.close()
    if info.discrete != discrete:
        if discrete:
            raise ValueError(f"{owner}: DQN needs a Discrete action space, but the env's is {space}; use SAC, "
                             f"TD3 or DDPG for continuous actions")
        raise ValueError(f"{owner}: needs a continuous (Box) action space, but the env's is {space}; use DQN "
                         f"for discrete actions")
    return info


def discrete_from_env(cls, env, batch_size, critic, kwargs):
    """``cls`` (DQN, QR-DQN) built for ``env``'s spaces: ``state_shape``, the number of actions and the
    observation dtype from the env; the default critic is ``cls``'s own (an MLP), or the Nature-DQN CNN
    (``rl.CNNCritic``, channels first when the frames are stacked on the first axis) for image observations
    (rank 2 or 3)."""
    info = env_spaces(f"{cls.__name__}.from_env", env, discrete=True)
    if info.action_start != 0:
        raise ValueError(f"{cls.__name__}.from_env: the env's actions start at {info.action_start}; "
                         f"{cls.__name__} acts with 0 .. n - 1 (wrap the env to shift them)")
    if critic is None and len(info.obs_shape) in (2, 3):
        first = len(info.obs_shape) == 3 and info.obs_shape[0] < info.obs_shape[-1]
        critic = functools.partial(CNNCritic, channels_first=first)
    return cls(info.obs_shape, info.n_actions, batch_size, critic, state_dtype=info.obs_dtype, **kwargs)


class ContinuousActions:
    """Mixin of DDPG, TD3 and SAC: the policy acts in ``[-1, 1]`` (a tanh output), the env in
    ``[action_low, action_high]``.

    Where the rescaling happens: :meth:`act` returns actions in the env's bounds, ``low + (a + 1) (high -
    low) / 2`` for a policy output ``a``; the buffer stores those (after ``run`` added its ``noise`` and
    clipped to the bounds), and the update maps the stored actions back with ``2 (a - low) / (high - low) -
    1`` before the critics see them. So ``run(..., noise=...)`` draws noise in the env's units:
    :meth:`make_noise` scales a standard deviation given in the policy's ``[-1, 1]`` units (SB3's
    convention, where rl-zoo's ``sigma = 0.1`` lives) to them.

    For the first ``random_steps`` exploring actions, :meth:`act` draws actions uniformly in the bounds
    (SB3's ``learning_starts`` warm-up), then follows the policy.
    """

    def _continuous_setup(self, actions_shape, action_low, action_high, random_steps):
        owner = type(self).__name__
        if isinstance(actions_shape, numbers.Integral) and not isinstance(actions_shape, bool):
            actions_shape = (int(actions_shape),)
        try:
            shape = tuple(int(d) for d in actions_shape)
        except TypeError:
            raise ValueError(f"{owner}: actions_shape must be the shape of one continuous action (a tuple, or "
                             f"an int for a vector), got {actions_shape!r}") from None
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"{owner}: actions_shape must be a non-empty shape of positive sizes (e.g. (1,) for "
                             f"Pendulum), got {actions_shape!r}")
        low = np.broadcast_to(np.asarray(action_low, np.float32), shape).copy()
        high = np.broadcast_to(np.asarray(action_high, np.float32), shape).copy()
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
            raise ValueError(f"{owner}: action_low and action_high must be finite with low < high (the policy's "
                             f"[-1, 1] is rescaled to them), got {action_low!r} and {action_high!r}; wrap an "
                             f"unbounded action space with gymnasium.wrappers.RescaleAction or ClipAction")
        self.action_shape, self.action_dim = shape, int(np.prod(shape))
        self.action_low, self.action_high = low, high
        self.random_steps = _count(owner, "random_steps", random_steps, minimum=0)
        self._center = ((high + low) / 2).reshape(-1)
        self._half = ((high - low) / 2).reshape(-1)

    def _normalised(self, actions):
        """Stored env actions ``(B, *action_shape)`` as policy actions ``(B, action_dim)`` in ``[-1, 1]``."""
        return (T.reshape(actions, (-1, self.action_dim)) - self._center) / self._half

    def _build_act(self, states, explore, greedy):
        """The act functions: ``explore``/``greedy`` are ``(B, action_dim)`` policy actions on ``states``
        (the same node for a deterministic policy)."""
        #: int32 Variable counting the exploring actions taken.
        self.act_steps = Variable(np.int32(0), name="act_steps", trainable=False)
        policy = explore
        if self.random_steps:
            uniform = T.random.uniform(shape=explore, low=-1.0, high=1.0)
            explore = T.where(self.act_steps < self.random_steps, uniform, explore)
        count = T.cast(T.sum(T.ones_like(policy[:, 0], "int32")), "int32")

        def env_units(a):
            return T.reshape(a * self._half + self._center, (-1, *self.action_shape))

        name = type(self).__name__
        #: The compiled acting functions (exploring, greedy); their ``.pure`` views serve fused loops.
        self.act_function = function(states, outputs=env_units(explore),
                                     updates={self.act_steps: self.act_steps + count}, seed=self.function_seed(),
                                     name=f"{name}/act")
        self.greedy_function = function(states, outputs=env_units(greedy), seed=self.function_seed(),
                                        name=f"{name}/greedy")
        # A deterministic policy's Python acting path draws the warm-up actions on the host, so that its
        # compiled call holds no random op (half the time of ``act_function`` on a CPU). Same rule.
        self._policy_function = None if policy is not greedy else function(
            states, outputs=[env_units(policy), self.act_steps], updates={self.act_steps: self.act_steps + count},
            seed=self.function_seed(), name=f"{name}/policy")

    def _act(self, states, deterministic):
        if deterministic:
            return self.greedy_function(states)
        if self._policy_function is None:  # a stochastic policy samples in the compiled call
            return self.act_function(states)
        actions, t = self._policy_function(states)
        if t < self.random_steps:
            actions = self.rng.uniform(self.action_low, self.action_high, actions.shape).astype(np.float32)
        return actions

    def make_noise(self, sigma, process="gaussian", *, theta=0.15, dt=1e-2, seed=None):
        """Exploration noise for ``run(..., noise=...)`` with standard deviation ``sigma`` in the policy's
        ``[-1, 1]`` units (rescaled to the env's action units): ``"gaussian"`` (TD3) or ``"ou"``
        (Ornstein-Uhlenbeck, DDPG)."""
        scale = sigma * self._half.reshape(self.action_shape)
        seed = self.seed + 1 if seed is None else seed
        if process == "gaussian":
            return GaussianNoise(scale, self.action_shape, seed=seed)
        if process == "ou":
            return OrnsteinUhlenbeckNoise(np.zeros(self.action_shape), scale, theta=theta, dt=dt, seed=seed)
        raise ValueError(f"{type(self).__name__}.make_noise: process must be 'gaussian' or 'ou', got {process!r}")


def soft_updates(pairs, tau, new_values=None):
    """``{target: target + tau * (source - target)}`` for ``(source, target)`` Variable pairs (Polyak
    averaging; ``tau`` a number or a scalar node, e.g. the Variable holding it; the number 1 copies), where
    ``new_values`` (e.g. an optimizer's ``updates``) may give the source's value after this call's step
    instead of the Variable's current one."""
    new_values = new_values or {}
    hard = isinstance(tau, numbers.Real) and tau == 1.0
    updates = {}
    for source, target in pairs:
        value = new_values.get(source, source)
        if hard or not jnp.issubdtype(target.dtype, jnp.floating):
            updates[target] = value
        else:
            updates[target] = target + T.cast(tau, target.dtype) * (value - target)
    return updates
