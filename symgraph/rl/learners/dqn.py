r"""DQN and its composable extensions, up to Rainbow.

Deep Q-learning (Mnih et al. 2015, "Human-level control through deep reinforcement learning") regresses
:math:`Q_\theta(s, a)` on a bootstrap target computed with a periodically updated target network
:math:`Q_{\bar\theta}`, from transitions replayed out of a buffer:

.. math::

    \delta = y - Q_\theta(s_t, a_t), \qquad
    y = G_t + \gamma_t\, Q_{\bar\theta}\big(s_{t+m}, a^*\big), \qquad
    L(\theta) = \frac{1}{B} \sum_i w_i\, \ell(\delta_i),

with :math:`\ell` the Huber loss (or :math:`\tfrac12\delta^2`), :math:`G_t` and :math:`\gamma_t` the
(n-step) return and discount of :mod:`symgraph.rl.learners.off_policy`, and :math:`w_i = 1` without
prioritised replay. Every extension is one independent switch, and all of them together make Rainbow
(Hessel et al. 2018, "Rainbow: Combining Improvements in Deep Reinforcement Learning"), minus the
distributed actors:

- ``double``: Double DQN (van Hasselt, Guez & Silver 2016), :math:`a^* = \arg\max_a Q_\theta(s_{t+m}, a)`
  (the online network selects, the target evaluates) instead of :math:`\arg\max_a Q_{\bar\theta}`.
- ``dueling``: the dueling head (Wang et al. 2016), :math:`Q(s, a) = V(s) + A(s, a) - \frac{1}{|A|}
  \sum_{a'} A(s, a')`: the network's last layer has ``n_actions + 1`` outputs (per atom), :math:`V` then
  :math:`A` (two linear heads on shared features, stacked), aggregated here.
- ``noisy``: NoisyNet exploration (Fortunato et al. 2018): the critic's dense layers are
  :class:`symgraph.nn.noisy.NoisyDense` (factorised Gaussian noise, redrawn at every act and every
  gradient step; the target network draws its own); greedy evaluation uses the noise-free means, and
  the default exploration rate is 0.
- ``n_step``: multi-step returns (Sutton 1988; Hessel et al. 2018).
- ``prioritized``: prioritised experience replay (Schaul et al. 2016): the buffer's importance weights
  :math:`w_i` scale the loss and the sampled transitions get priority :math:`|\delta_i|` (the cross-entropy
  for ``categorical``, as in Rainbow).
- ``categorical``: C51 (Bellemare, Dabney & Munos 2017): the network outputs a distribution over ``atoms``
  evenly spaced values :math:`z_j` in ``[v_min, v_max]`` for each action, :math:`Q(s, a) = \sum_j z_j
  p_j(s, a)`, and the loss is the cross-entropy :math:`-\sum_j m_j \log p_j(s_t, a_t)` to the target
  distribution :math:`m`, the projection of :math:`G_t + \gamma_t z` (weights :math:`p(s_{t+m}, a^*)`) onto
  the support (:func:`symgraph.rl.losses.categorical_projection`). With ``dueling`` the streams are
  combined on the logits (Hessel et al. 2018).
- target updates every ``target_update_period`` gradient steps, hard (``tau = 1``) or Polyak
  (:math:`\bar\theta \leftarrow \tau\theta + (1 - \tau)\bar\theta`); ε-greedy exploration with a constant
  or scheduled ε (counted in acting steps); gradient clipping by global norm (``max_grad_norm``).

Example (rl-baselines3-zoo's tuned CartPole-v1 settings)::

    from symgraph import rl
    from symgraph.nn import schedules

    env = rl.envs.make_env("CartPole-v1")
    agent = rl.DQN.from_env(env, batch_size=64, lr=2.3e-3, hidden=(256, 256), gradient_steps=128,
                            target_update_period=128, epsilon=schedules.linear(1.0, 0.04, 8000))
    rl.run(env, agent, rl.Buffer(100_000), update_every=256, update_after=1000, max_steps=50_000)

SB3's ``target_update_interval`` counts environment steps; here the period counts gradient steps, and a
periodic target update runs after the gradient step that completes each period (so with
``target_update_period == gradient_steps`` the target is the online network as it was at the start of each
``update`` call: what rl-zoo's CartPole setting, 10 environment steps between copies and 256 between
updates, amounts to).
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.function import function
from symgraph.nn import schedules
from symgraph.nn.noisy import NoisyDense, resample_noise, without_noise
from symgraph.nn.optimizers import Adam
from symgraph.nodes import Placeholder, Tensor, Variable, apply, item
from symgraph.rl import losses
from symgraph.rl.agents import hard_updates, polyak_updates
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.off_policy import OffPolicyLearner, discrete_from_env
from symgraph.rl.networks import MLPCritic

__all__ = ["DQN", "dueling_aggregation", "distributional_q_values"]


# ---------------------------------------------------------------------------------------------------------
# The maths of the heads and losses (pure JAX functions, applied as graph nodes)


def dueling_aggregation(value, advantages):
    r"""The dueling aggregation (Wang et al. 2016, eq. 9): :math:`Q = V + A - \operatorname{mean}_a A`.

    Args:
        value: :math:`V(s)`, shape ``(B, 1, ...)``.
        advantages: :math:`A(s, a)`, shape ``(B, n_actions, ...)`` (trailing axes, e.g. atoms, broadcast).

    Returns:
        ``(B, n_actions, ...)``.
    """
    return value + advantages - jnp.mean(advantages, axis=1, keepdims=True)


def _head_logits(out, n_actions, atoms, dueling):
    """The network's raw output ``(B, (n_actions + dueling) * atoms)`` as Q-values ``(B, n_actions)``
    (``atoms = 1``) or logits ``(B, n_actions, atoms)``."""
    out = out.reshape(out.shape[0], n_actions + dueling, atoms)
    if dueling:
        out = dueling_aggregation(out[:, :1], out[:, 1:])
    return out[..., 0] if atoms == 1 else out


def distributional_q_values(log_probs, support):
    r""":math:`Q(s, a) = \sum_j z_j p_j(s, a)` from log-probabilities ``(B, A, N)`` over ``support``
    ``(N,)``."""
    return jnp.sum(jnp.exp(log_probs) * support, axis=-1)


def _q_values(out, n_actions, support, dueling):
    if support is None:
        return _head_logits(out, n_actions, 1, dueling)
    logits = _head_logits(out, n_actions, len(support), dueling)
    return distributional_q_values(jax.nn.log_softmax(logits, axis=-1), jnp.asarray(support, out.dtype))


def _log_probs(out, n_actions, support, dueling):
    return jax.nn.log_softmax(_head_logits(out, n_actions, len(support), dueling), axis=-1)


def _q_loss(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector, weights, double, huber):
    """``(loss, td_errors)``: the (Double) Q-learning TD loss, importance-weighted."""
    q_sa = losses.batched_index(q_tm1, a_tm1)
    if double:
        target = losses.double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector)
    else:
        target = losses.q_learning_target(r_t, discount_t, q_t_value)
    loss = losses.td_loss(q_sa, target, "huber" if huber else "l2", 1.0, weights)
    return loss, jax.lax.stop_gradient(target) - q_sa


def _categorical_loss(log_p_tm1, a_tm1, r_t, discount_t, log_p_t, q_t_selector, weights, support):
    """``(loss, cross_entropies)``: C51's loss (Bellemare et al. 2017, Algorithm 1), importance-weighted;
    the next action is ``argmax q_t_selector`` (the target's or, for Double DQN, the online Q-values)."""
    a_t = jnp.argmax(q_t_selector, axis=-1)
    p_t = jnp.exp(jnp.take_along_axis(log_p_t, a_t[:, None, None], axis=1)[:, 0])
    target = jax.lax.stop_gradient(
        losses.categorical_projection(p_t, r_t, discount_t, jnp.asarray(support, p_t.dtype)))
    log_p_sa = jnp.take_along_axis(log_p_tm1, a_tm1[:, None, None], axis=1)[:, 0]
    cross_entropy = -jnp.sum(target * log_p_sa, axis=-1)
    return jnp.mean(weights * cross_entropy), cross_entropy


# ---------------------------------------------------------------------------------------------------------
# The learner


class DQN(OffPolicyLearner):
    """Deep Q-learning with independent switches for Double, Dueling, Noisy, n-step, prioritised and
    categorical (C51) DQN (see the module docstring for the maths and the papers).

    Args:
        state_shape: the shape of one observation.
        actions_shape: the number of discrete actions (an int; actions are ``0 .. n - 1``).
        batch_size: transitions per gradient step.
        critic: the Q-network factory, called as ``critic(states, n_actions=n_outputs, name="q")`` (plus
            ``dense=NoisyDense`` with ``noisy``) and returning a :class:`~symgraph.rl.Critic` with a discrete
            head of ``n_outputs = (n_actions + dueling) * (atoms if categorical else 1)`` outputs, e.g.
            ``rl.MLPCritic``, ``rl.CNNCritic`` or a ``functools.partial`` of them. None: an MLP with
            ``hidden`` ReLU layers (``rl.MLPCritic``).
        lr: Adam's learning rate (a number or a schedule of the gradient step).
        gamma: the discount factor.

    Keyword Args:
        double, dueling, noisy, n_step, prioritized, categorical: the switches (module docstring).
        atoms, v_min, v_max: C51's support, ``atoms`` values evenly spaced in ``[v_min, v_max]``.
        target_update_period: gradient steps between target-network updates.
        tau: the Polyak coefficient of those updates (1: a hard copy).
        epsilon: ε-greedy exploration rate: a number, or a schedule of the number of exploring actions
            taken so far (e.g. ``nn.schedules.linear(1.0, 0.05, 10_000)``, the default; 0 with ``noisy``).
        huber: the Huber loss (Mnih et al. 2015) rather than the squared error (ignored by ``categorical``).
        max_grad_norm: clip the gradients to this global norm (None or 0: no clipping).
        gradient_steps: gradient steps per :meth:`update` call (one compiled call).
        update_every, update_after, buffer_size: the schedule and the replay's capacity, as
            :class:`~symgraph.rl.learners.off_policy.OffPolicyLearner` (SB3's ``train_freq``,
            ``learning_starts``, ``buffer_size``).
        hidden: the hidden sizes of the default MLP critic.
        noisy_sigma0: NoisyNet's :math:`\\sigma_0` (0.5).
        state_dtype: the dtype of the observations (e.g. ``"uint8"`` for frames).
        seed: the learner's seed.

    ``act(states, deterministic=False)`` returns ε-greedy int32 actions (each exploring action advances
    the ε schedule); ``deterministic=True`` returns the greedy ones (noise-free with ``noisy``).
    ``update(buffer)`` returns ``{"loss", "q", "grad_norm"}`` (means over the gradient steps).
    """

    discrete = True

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, critic=None, lr=1e-3, gamma=0.99, *,
                 double=False, dueling=False, noisy=False, n_step=1, prioritized=False, categorical=False,
                 atoms=51, v_min=-10.0, v_max=10.0, target_update_period=1000, tau=1.0, epsilon=None,
                 huber=True, max_grad_norm=10.0, gradient_steps=1, update_every=1, update_after=1,
                 buffer_size=1_000_000, hidden=(64, 64), noisy_sigma0=0.5, state_dtype="float32", seed=None):
        owner = type(self).__name__
        if isinstance(actions_shape, bool) or not isinstance(actions_shape, numbers.Integral) \
                or actions_shape < 2:
            raise ValueError(f"{owner}: actions_shape must be the number of discrete actions, an int >= 2, "
                             f"got {actions_shape!r}; DQN needs a Discrete action space (use SAC, TD3 or "
                             f"DDPG for continuous actions)")
        super().__init__(state_shape, int(actions_shape), batch_size, gamma, gradient_steps=gradient_steps,
                         n_step=n_step, prioritized=prioritized, update_every=update_every,
                         update_after=update_after, buffer_size=buffer_size, seed=seed)
        self.n_actions = int(actions_shape)
        self.double, self.dueling, self.noisy = bool(double), bool(dueling), bool(noisy)
        self.categorical, self.huber = bool(categorical), bool(huber)
        if self.categorical:
            if isinstance(atoms, bool) or not isinstance(atoms, numbers.Integral) or atoms < 2:
                raise ValueError(f"{owner}: atoms must be an int >= 2 (C51 uses 51), got {atoms!r}")
        v_min = finite(owner, "v_min", v_min)
        v_max = finite(owner, "v_max", v_max)
        if not v_min < v_max:
            raise ValueError(f"{owner}: the categorical support needs v_min < v_max, got v_min={v_min!r}, "
                             f"v_max={v_max!r}; choose bounds around the returns, e.g. v_min=0, v_max=500 "
                             f"for CartPole")
        self.support = (tuple(float(z) for z in np.linspace(v_min, v_max, int(atoms), dtype=np.float32))
                        if self.categorical else None)
        if isinstance(target_update_period, bool) or not isinstance(target_update_period, numbers.Integral) \
                or target_update_period < 1:
            raise ValueError(f"{owner}: target_update_period must be an int >= 1 (gradient steps), got "
                             f"{target_update_period!r}")
        self.target_update_period = int(target_update_period)
        self.tau = finite(owner, "tau", tau, 0.0, 1.0, low_open=True)
        self.max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        noisy_sigma0 = finite(owner, "noisy_sigma0", noisy_sigma0, 0.0)
        if epsilon is None:
            epsilon = 0.0 if self.noisy else schedules.linear(1.0, 0.05, 10_000)

        with self.graph:
            batch = self._make_batch(state_dtype, (), "int32")
            outputs = (self.n_actions + self.dueling) * (len(self.support) if self.categorical else 1)
            make = critic if critic is not None else functools.partial(MLPCritic, hidden=tuple(hidden),
                                                                       activation="relu")
            extra = {"dense": functools.partial(NoisyDense, sigma0=noisy_sigma0)} if self.noisy else {}
            #: The online Q-network (raw outputs; see :meth:`q_values`).
            self.critic = make(batch["state"], n_actions=outputs, name="q", **extra)
            if not getattr(self.critic, "discrete", False) or self.critic.n_actions != outputs:
                raise ValueError(f"{owner}: critic must return a discrete head of {outputs} outputs "
                                 f"((n_actions + dueling) * atoms), got {self.critic}")
            #: The target network (its own Variables), on the next states.
            self.target = self.critic.copy(states=batch["next-state"])
            self._build_update(batch, lr)
            self._build_act(state_dtype, epsilon)
        self._compile()

    # -----------------------------------------------------------------------------------------------------
    # Graph

    def _q(self, out):
        """Q-values ``(B, n_actions)`` from a network's raw output."""
        return apply(_q_values, (out,), {"n_actions": self.n_actions, "support": self.support,
                                         "dueling": self.dueling}, name="q_values")

    def _log_p(self, out):
        return apply(_log_probs, (out,), {"n_actions": self.n_actions, "support": self.support,
                                          "dueling": self.dueling}, name="log_probs")

    def _build_update(self, batch, lr):
        online = self.critic.q_values
        online_next = self.critic.apply(states=batch["next-state"]).q_values
        target_next = self.target.q_values
        if self.noisy:  # the target network (and the selection on s_t+m) draw noise of their own
            online_next, target_next = resample_noise([online_next, target_next])
        selector = self._q(online_next) if self.double else self._q(target_next)
        common = (batch["action"], batch["reward"], batch["discount"])
        if self.categorical:
            node = apply(_categorical_loss, (self._log_p(online), *common, self._log_p(target_next), selector,
                                             batch["weight"]), {"support": self.support}, name="c51_loss")
        else:
            node = apply(_q_loss, (self._q(online), *common, self._q(target_next), selector, batch["weight"]),
                         {"double": self.double, "huber": self.huber}, name="q_loss")
        loss, errors = item(node, 0), item(node, 1)
        self.optimizer = Adam(loss, self._rate("optimizer", lr), params=self.critic.params,
                              max_grad_norm=self.max_grad_norm)
        outputs = {"loss": loss, "q": T.mean(T.max(self._q(online), axis=-1)),
                   "grad_norm": self.optimizer.grad_norm}
        if self.prioritized:
            outputs["priority"] = T.abs(errors)
        self._add_phase("train", ("state", "action", "reward", "discount", "next-state", "weight"), outputs,
                        self.optimizer.updates)
        pairs = self.critic.pairs(self.target)
        tau = self._polyak(self.tau)
        targets = hard_updates(pairs) if self.tau == 1.0 else polyak_updates(pairs, tau)
        self._add_phase("target_update", (), None, targets, period=self.target_update_period)

    def _build_act(self, state_dtype, epsilon):
        states = Placeholder((None, *self.state_shape), state_dtype, name="observations")
        q = self._q(self.critic.apply(states=states).q_values)
        greedy = T.cast(T.argmax(q, axis=-1), "int32")
        clean = T.cast(T.argmax(without_noise(q), axis=-1), "int32") if self.noisy else greedy
        #: int32 Variable counting the exploring actions taken (the ε schedule's step).
        self.act_steps = Variable(np.int32(0), name="act_steps", trainable=False)
        if isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool):
            if not 0 <= epsilon <= 1:
                raise ValueError(f"{type(self).__name__}: epsilon must be in [0, 1], got {epsilon!r}")
            eps = T.cast(float(epsilon), "float32") if epsilon else None
        elif callable(epsilon):
            eps = epsilon(self.act_steps)
            if not isinstance(eps, Tensor):
                raise TypeError(f"{type(self).__name__}: epsilon must be a number or a schedule of the step "
                                f"count (e.g. symgraph.nn.schedules.linear(1.0, 0.05, 10_000)) that maps a "
                                f"graph node to a node; {epsilon!r} returned {type(eps).__name__}")
        else:
            raise TypeError(f"{type(self).__name__}: epsilon must be a number or a schedule, got {epsilon!r}")
        actions = greedy
        if eps is not None:  # one uniform draw u per state: explore when u < eps, with action floor(n u / eps)
            u = T.random.uniform(shape=greedy)
            uniform = T.minimum(T.cast(T.floor(u / T.maximum(eps, 1e-12) * self.n_actions), "int32"),
                                self.n_actions - 1)
            actions = T.where(u < eps, uniform, greedy)
        #: The current exploration rate (a node; ``.get()`` evaluates it).
        self.epsilon = eps if eps is not None else T.cast(0.0, "float32")
        count = T.cast(T.sum(T.ones_like(greedy)), "int32")
        #: The compiled acting functions (ε-greedy, greedy, Q-values); their ``.pure`` views serve fused loops.
        self.act_function = self._function(states, actions, {self.act_steps: self.act_steps + count}, "act")
        self.greedy_function = self._function(states, clean, None, "greedy")
        self.q_function = self._function(states, q, None, "q_values")
        # The Python acting path draws the ε-greedy coin on the host: the compiled call then holds no random
        # op (half the time of ``act_function`` for a small network on a CPU). Same rule, another stream.
        self._policy_function = None if self.noisy else self._function(
            states, [greedy, self.epsilon], {self.act_steps: self.act_steps + count}, "policy")

    def _function(self, states, outputs, updates, name):
        return function(states, outputs=outputs, updates=updates, seed=self.function_seed(),
                        name=f"{type(self).__name__}/{name}")

    # -----------------------------------------------------------------------------------------------------
    # Acting

    def _act(self, states, deterministic):
        if deterministic:
            return self.greedy_function(states)
        if self._policy_function is None:  # NoisyNet: the noise is drawn in the compiled call
            return self.act_function(states)
        greedy, eps = self._policy_function(states)
        u = self.rng.random(len(greedy))
        explore = u < eps
        if not explore.any():
            return greedy
        uniform = np.minimum((u / max(float(eps), 1e-12) * self.n_actions).astype(np.int32), self.n_actions - 1)
        return np.where(explore, uniform, greedy)

    def q_values(self, states):
        """:math:`Q(s, \\cdot)` ``(batch, n_actions)`` of a batch of states (noisy with ``noisy``)."""
        batch, single = self.batched(states)
        q = self.q_function(batch)
        return q[0] if single else q

    # -----------------------------------------------------------------------------------------------------

    @classmethod
    @records_config
    def from_env(cls, env, batch_size=32, critic=None, **kwargs):
        """A DQN for ``env``'s spaces (an env or an id): ``state_shape``, the number of actions and the
        observation dtype come from the env; the default critic is an MLP, or the Nature-DQN CNN
        (``rl.CNNCritic``, channels first when the frames are stacked on the first axis) for image
        observations (rank 2 or 3). Other arguments as :class:`DQN`.

        Raises:
            ValueError: the env's actions are not discrete.
        """
        return discrete_from_env(cls, env, batch_size, critic, kwargs)
