r"""QR-DQN: distributional Q-learning by quantile regression.

Dabney, Rowland, Bellemare & Munos 2018, "Distributional Reinforcement Learning with Quantile Regression"
(AAAI). The Q-network outputs, for every action, ``N`` quantiles :math:`\theta_i(s, a)` of the return's
distribution at the fixed fractions :math:`\hat\tau_i = \frac{2i - 1}{2N}`, :math:`i = 1..N`; the Q-value is
their mean, :math:`Q(s, a) = \frac1N \sum_i \theta_i(s, a)`, which acting maximises (ε-greedy). From a
replayed transition (with the (n-step) return :math:`G_t` and discount :math:`\gamma_t` of
:mod:`symgraph.rl.learners.off_policy`) the target quantiles come from the target network
:math:`\bar\theta` at the greedy next action,

.. math::

    a^* = \arg\max_a \frac1N \sum_j \bar\theta_j(s_{t+m}, a), \qquad
    \mathcal{T}\theta_j = G_t + \gamma_t\, \bar\theta_j(s_{t+m}, a^*),

and the loss is the quantile Huber loss (the paper's eq. 10), for the pairwise errors
:math:`u_{ij} = \mathcal{T}\theta_j - \theta_i(s_t, a_t)`,

.. math::

    L(\theta) = \frac1B \sum_b w_b \sum_{i=1}^N \frac1N \sum_{j=1}^N \rho^\kappa_{\hat\tau_i}(u_{ij}),
    \qquad \rho^\kappa_\tau(u) = \big|\tau - \mathbb{1}\{u < 0\}\big|\, \frac{\mathcal{L}_\kappa(u)}{\kappa},
    \qquad \mathcal{L}_\kappa(u) = \begin{cases} \tfrac12 u^2 & |u| \le \kappa \\
    \kappa(|u| - \tfrac12\kappa) & \text{otherwise,} \end{cases}

with importance weights :math:`w_b` (ones without prioritised replay). Target updates every
``target_update_period`` gradient steps, hard or Polyak, as :class:`~symgraph.rl.DQN`.

This learner is written against the learner contract alone (:mod:`symgraph.rl.protocol`): the
off-policy base gives it replay sampling, n-step returns, several gradient steps in one compiled call, the
schedule and the storage; ``rl.run``, ``rl.train``, the CLI and the zoo drive it without knowing it.

Example (rl-baselines3-zoo's tuned CartPole-v1 settings: 500 within 5e4 steps)::

    from symgraph import rl
    from symgraph.nn import schedules

    env = rl.envs.make_env("CartPole-v1")
    agent = rl.QRDQN.from_env(env, batch_size=64, lr=2.3e-3, n_quantiles=10, hidden=(256, 256),
                              gradient_steps=128, target_update_period=128, update_every=256,
                              update_after=1000, buffer_size=100_000,
                              epsilon=schedules.linear(1.0, 0.04, 8000))
    rl.run(env, agent, max_steps=50_000, max_episodes=None)
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.function import function
from symgraph.nn import schedules
from symgraph.nn.optimizers import Adam
from symgraph.nodes import Placeholder, Tensor, Variable, apply, item
from symgraph.rl.agents import hard_updates, polyak_updates
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.off_policy import OffPolicyLearner, discrete_from_env
from symgraph.rl.networks import MLPCritic

__all__ = ["QRDQN", "quantile_fractions", "quantile_huber_loss"]


def quantile_fractions(n):
    r"""The quantile midpoints :math:`\hat\tau_i = \frac{2i - 1}{2n}`, :math:`i = 1..n` (float32, ``(n,)``)."""
    return (2 * np.arange(n, dtype=np.float32) + 1) / (2 * n)


def quantile_huber_loss(quantiles, targets, weights, kappa=1.0):
    r"""``(loss, per_transition)``: the quantile Huber loss of QR-DQN (Dabney et al. 2018, eq. 10; see the
    module docstring), :math:`\sum_i \frac1N \sum_j \rho^\kappa_{\hat\tau_i}(\mathcal{T}\theta_j - \theta_i)`
    per transition and its ``weights``-weighted mean over the batch.

    Args:
        quantiles: :math:`\theta_i(s_t, a_t)`, ``(B, N)``, at the fractions :func:`quantile_fractions`.
        targets: :math:`\mathcal{T}\theta_j`, ``(B, N')`` (gradients do not flow through them).
        weights: ``(B,)`` importance weights.
        kappa: the Huber threshold :math:`\kappa > 0`.
    """
    taus = jnp.asarray(quantile_fractions(quantiles.shape[-1]), quantiles.dtype)
    u = jax.lax.stop_gradient(targets)[:, None, :] - quantiles[:, :, None]           # (B, N, N')
    abs_u = jnp.abs(u)
    huber = jnp.where(abs_u <= kappa, 0.5 * u ** 2, kappa * (abs_u - 0.5 * kappa))
    rho = jnp.abs(taus[None, :, None] - (u < 0).astype(u.dtype)) * huber / kappa
    per_transition = jnp.sum(jnp.mean(rho, axis=2), axis=1)
    return jnp.mean(weights * per_transition), per_transition


def _quantiles(out, n_actions, n_quantiles):
    """A network's raw output ``(B, n_actions * n_quantiles)`` as quantiles ``(B, n_actions, n_quantiles)``."""
    return out.reshape(out.shape[0], n_actions, n_quantiles)


def _loss(out, a_tm1, r_t, discount_t, target_out, weights, n_actions, n_quantiles, kappa):
    """``(loss, per_transition, q)``: the loss of the module docstring from the online network's output on
    :math:`s_t` and the target network's on :math:`s_{t+m}`; ``q`` is the mean greedy Q-value."""
    theta = _quantiles(out, n_actions, n_quantiles)
    theta_sa = jnp.take_along_axis(theta, a_tm1[:, None, None], axis=1)[:, 0]          # (B, N)
    target = _quantiles(target_out, n_actions, n_quantiles)
    a_star = jnp.argmax(jnp.mean(target, axis=-1), axis=-1)
    target_sa = jnp.take_along_axis(target, a_star[:, None, None], axis=1)[:, 0]       # (B, N)
    targets = r_t[:, None] + discount_t[:, None] * target_sa
    loss, per_transition = quantile_huber_loss(theta_sa, targets, weights, kappa)
    return loss, per_transition, jnp.mean(jnp.max(jnp.mean(theta, axis=-1), axis=-1))


def _q_values(out, n_actions, n_quantiles):
    """:math:`Q(s, a)`, the mean of the quantiles, ``(B, n_actions)``."""
    return jnp.mean(_quantiles(out, n_actions, n_quantiles), axis=-1)


class QRDQN(OffPolicyLearner):
    """Quantile-regression DQN (see the module docstring for the maths and the paper).

    Args:
        state_shape: the shape of one observation.
        actions_shape: the number of discrete actions (an int; actions are ``0 .. n - 1``).
        batch_size: transitions per gradient step.
        critic: the quantile-network factory, called as ``critic(states, n_actions=n_actions * n_quantiles,
            name="q")`` and returning a discrete-head :class:`~symgraph.rl.Critic` (``rl.MLPCritic``,
            ``rl.CNNCritic`` or a ``functools.partial`` of them); None: an MLP with ``hidden`` ReLU layers.
        lr: Adam's learning rate (a number or a schedule of the gradient step).
        gamma: the discount factor.

    Keyword Args:
        n_quantiles: the number ``N`` of quantiles per action (the paper uses 200; the zoo's CartPole 10).
        kappa: the Huber threshold of the loss (1 in the paper).
        target_update_period: gradient steps between target-network updates; ``tau``: their Polyak
            coefficient (1: a hard copy).
        epsilon: ε-greedy exploration rate: a number or a schedule of the exploring actions taken (default
            ``nn.schedules.linear(1.0, 0.05, 10_000)``).
        max_grad_norm: clip the gradients to this global norm (None or 0: no clipping, the default as in
            SB3's QR-DQN).
        adam_eps: Adam's epsilon; None: ``0.01 / batch_size``, the paper's choice.
        gradient_steps, n_step, prioritized: as :class:`~symgraph.rl.DQN`.
        hidden: the hidden sizes of the default MLP.
        update_every, update_after, buffer_size: the learner's :attr:`schedule` and storage, as every
            off-policy learner's (:class:`~symgraph.rl.learners.off_policy.OffPolicyLearner`).
        state_dtype: the dtype of the observations (e.g. ``"uint8"`` for frames).
        seed: the learner's seed.

    ``act(states, deterministic=False)`` returns ε-greedy int32 actions; ``deterministic=True`` the greedy
    ones. ``update(buffer)`` returns ``{"loss", "q", "grad_norm"}`` (means over the gradient steps).
    """

    discrete = True

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, critic=None, lr=1e-3, gamma=0.99, *,
                 n_quantiles=200, kappa=1.0, target_update_period=1000, tau=1.0, epsilon=None,
                 max_grad_norm=None, adam_eps=None, gradient_steps=1, n_step=1, prioritized=False,
                 hidden=(64, 64), update_every=1, update_after=1, buffer_size=1_000_000, state_dtype="float32",
                 seed=None):
        owner = type(self).__name__
        if isinstance(actions_shape, bool) or not isinstance(actions_shape, numbers.Integral) \
                or actions_shape < 2:
            raise ValueError(f"{owner}: actions_shape must be the number of discrete actions, an int >= 2, "
                             f"got {actions_shape!r}; QR-DQN needs a Discrete action space")
        super().__init__(state_shape, int(actions_shape), batch_size, gamma, gradient_steps=gradient_steps,
                         n_step=n_step, prioritized=prioritized, update_every=update_every,
                         update_after=update_after, buffer_size=buffer_size, seed=seed)
        self.n_actions = int(actions_shape)
        if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, numbers.Integral) or n_quantiles < 1:
            raise ValueError(f"{owner}: n_quantiles must be an int >= 1 (the paper uses 200), got "
                             f"{n_quantiles!r}")
        self.n_quantiles = int(n_quantiles)
        self.kappa = finite(owner, "kappa", kappa, 0.0, low_open=True)
        if isinstance(target_update_period, bool) or not isinstance(target_update_period, numbers.Integral) \
                or target_update_period < 1:
            raise ValueError(f"{owner}: target_update_period must be an int >= 1 (gradient steps), got "
                             f"{target_update_period!r}")
        self.target_update_period = int(target_update_period)
        self.tau = finite(owner, "tau", tau, 0.0, 1.0, low_open=True)
        self.max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        self.adam_eps = 0.01 / self.batch_size if adam_eps is None else finite(owner, "adam_eps", adam_eps, 0.0)
        if epsilon is None:
            epsilon = schedules.linear(1.0, 0.05, 10_000)
        params = {"n_actions": self.n_actions, "n_quantiles": self.n_quantiles}

        with self.graph:
            batch = self._make_batch(state_dtype, (), "int32")
            make = critic if critic is not None else functools.partial(MLPCritic, hidden=tuple(hidden),
                                                                       activation="relu")
            outputs = self.n_actions * self.n_quantiles
            #: The online quantile network (raw outputs ``(B, n_actions * n_quantiles)``).
            self.critic = make(batch["state"], n_actions=outputs, name="q")
            if not getattr(self.critic, "discrete", False) or self.critic.n_actions != outputs:
                raise ValueError(f"{owner}: critic must return a discrete head of {outputs} outputs "
                                 f"(n_actions * n_quantiles), got {self.critic}")
            #: The target network (its own Variables), on the next states.
            self.target = self.critic.copy(states=batch["next-state"])

            # The update: the quantile Huber loss, then (periodically) the target update.
            node = apply(_loss, (self.critic.q_values, batch["action"], batch["reward"], batch["discount"],
                                 self.target.q_values, batch["weight"]), {**params, "kappa": self.kappa},
                         name="quantile_loss")
            loss, per_transition, q = item(node, 0), item(node, 1), item(node, 2)
            self.optimizer = Adam(loss, self._rate("optimizer", lr), eps=self.adam_eps, params=self.critic.params,
                                  max_grad_norm=self.max_grad_norm)
            metrics = {"loss": loss, "q": q, "grad_norm": self.optimizer.grad_norm}
            if self.prioritized:
                metrics["priority"] = per_transition
            self._add_phase("train", ("state", "action", "reward", "discount", "next-state", "weight"), metrics,
                            self.optimizer.updates)
            pairs = self.critic.pairs(self.target)
            targets = hard_updates(pairs) if self.tau == 1.0 else polyak_updates(pairs, self._polyak(self.tau))
            self._add_phase("target_update", (), None, targets, period=self.target_update_period)

            # Acting: ε-greedy on the mean of the quantiles.
            states = Placeholder((None, *self.state_shape), state_dtype, name="observations")
            q_values = apply(_q_values, (self.critic.apply(states=states).q_values,), params, name="q_values")
            greedy = T.cast(T.argmax(q_values, axis=-1), "int32")
            #: int32 Variable counting the exploring actions taken (the ε schedule's step).
            self.act_steps = Variable(np.int32(0), name="act_steps", trainable=False)
            eps = self._epsilon(epsilon)
            u = T.random.uniform(shape=greedy)  # one draw per state: explore when u < eps, with floor(n u / eps)
            uniform = T.minimum(T.cast(T.floor(u / T.maximum(eps, 1e-12) * self.n_actions), "int32"),
                                self.n_actions - 1)
            count = T.cast(T.sum(T.ones_like(greedy)), "int32")
            #: The compiled acting functions (ε-greedy, greedy, Q-values); ``act_pure`` is the first's ``.pure``.
            self.act_function = self._function(states, T.where(u < eps, uniform, greedy),
                                               {self.act_steps: self.act_steps + count}, "act")
            self.greedy_function = self._function(states, greedy, None, "greedy")
            self.q_function = self._function(states, q_values, None, "q_values")
            #: The current exploration rate (a node; ``.get()`` evaluates it).
            self.epsilon = eps
        self._compile()

    def _epsilon(self, epsilon):
        """ε as a float32 node: a constant, or the schedule applied to :attr:`act_steps`."""
        owner = type(self).__name__
        if isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool):
            if not 0 <= epsilon <= 1:
                raise ValueError(f"{owner}: epsilon must be in [0, 1], got {epsilon!r}")
            return T.cast(float(epsilon), "float32")
        if callable(epsilon):
            eps = epsilon(self.act_steps)
            if not isinstance(eps, Tensor):
                raise TypeError(f"{owner}: epsilon must be a number or a schedule of the step count (e.g. "
                                f"symgraph.nn.schedules.linear(1.0, 0.05, 10_000)) that maps a graph node to a "
                                f"node; {epsilon!r} returned {type(eps).__name__}")
            return T.cast(eps, "float32")
        raise TypeError(f"{owner}: epsilon must be a number in [0, 1] or a schedule, got {epsilon!r}")

    def _function(self, states, outputs, updates, name):
        return function(states, outputs=outputs, updates=updates, seed=self.function_seed(),
                        name=f"{type(self).__name__}/{name}")

    def _act(self, states, deterministic):
        return (self.greedy_function if deterministic else self.act_function)(states)

    def q_values(self, states):
        """:math:`Q(s, \\cdot)`, the mean of the quantiles, ``(batch, n_actions)`` (one state: ``(n_actions,)``)."""
        batch, single = self.batched(states)
        q = self.q_function(batch)
        return q[0] if single else q

    @classmethod
    @records_config
    def from_env(cls, env, batch_size=32, critic=None, **kwargs):
        """A QR-DQN for ``env``'s spaces (an env or an id): ``state_shape``, the number of actions and the
        observation dtype come from the env; the default network is an MLP, or the Nature-DQN CNN
        (``rl.CNNCritic``) for image observations. Other arguments as :class:`QRDQN`."""
        return discrete_from_env(cls, env, batch_size, critic, kwargs)
