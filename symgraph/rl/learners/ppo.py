r"""Proximal Policy Optimization with the clipped surrogate objective (Schulman, Wolski, Dhariwal, Radford &
Klimov 2017, "Proximal Policy Optimization Algorithms"), with GAE-:math:`\lambda` advantages (Schulman,
Moritz, Levine, Jordan & Abbeel 2016), as in OpenAI Baselines' PPO2, Stable-Baselines3 and CleanRL.

Per update, on a rollout of ``n_steps`` steps of ``n_envs`` environments collected by the current policy
(whose log-probabilities :math:`\log\pi_{old}(a_t|s_t)` and values :math:`V_{old}(s_t)` are computed for the
whole rollout before the first gradient step: no copy of the old actor is kept), the advantages :math:`A_t`
and the :math:`\lambda`-returns :math:`G_t = A_t + V_{old}(s_t)` are computed once (see
:mod:`symgraph.rl.learners.on_policy`), then for ``K_epochs`` epochs, on each minibatch of ``batch_size``
transitions of a fresh random permutation, one Adam step (eps 1e-5) on

.. math::

    \rho_t &= \exp\big(\log\pi(a_t|s_t) - \log\pi_{old}(a_t|s_t)\big), \qquad
    \hat A_t = (A_t - \mu_A) / (\sigma_A + 10^{-8}) \text{ (per minibatch, if normalize\_advantage)}, \\
    L^{CLIP} &= -\operatorname{mean}\big(\min(\rho_t \hat A_t,\ \operatorname{clip}(\rho_t, 1-\epsilon,
        1+\epsilon)\, \hat A_t)\big) \qquad \text{(eq. 7)}, \\
    L^{V} &= \tfrac12 \operatorname{mean}\big((V(s_t) - G_t)^2\big) \quad \text{or, with clip\_vf}=
        \epsilon_V: \tfrac12\operatorname{mean}\max\big((V - G)^2, (V_{old} + \operatorname{clip}(V -
        V_{old}, -\epsilon_V, \epsilon_V) - G)^2\big), \\
    L &= L^{CLIP} + c_V L^V - \beta\, \operatorname{mean}\, \mathcal{H}[\pi(\cdot|s_t)] \qquad \text{(eq. 9)},

over the actor's and the critic's parameters together, the gradient rescaled to a global norm of at most
``max_grad_norm``. The learning rate and :math:`\epsilon` may be annealed linearly to 0 over ``total_steps``
environment steps (rl-baselines3-zoo's ``lin_`` schedules: constant within an update, at
:math:`1 - \text{steps so far} / \text{total\_steps}` of their initial value).

Speed: acting is one compiled call per (vector) env step; the whole update, returns, advantages and all
``K_epochs x (n_steps * n_envs // batch_size)`` gradient steps, is one compiled call (``jax.lax.scan`` over
the train step's ``.pure``, minibatch indices drawn on device from a key kept in the learner's state).

Example (rl-baselines3-zoo's tuned CartPole-v1 settings, eval return 500 within 1e5 steps)::

    from symgraph import rl
    env = rl.envs.make_env("CartPole-v1", n_envs=8)
    agent = rl.PPO.from_env(env, batch_size=256, n_steps=32, K_epochs=20, lr=1e-3, gamma=0.98, lam=0.8,
                            entropy_beta=0.0, anneal_lr=True, anneal_clip=True, total_steps=100_000, seed=0)
    buffer = rl.Buffer(agent.rollout_size)
    rl.run(env, agent, buffer, update_every=agent.rollout_size, max_steps=100_000, max_episodes=None)
"""

import jax
import jax.numpy as jnp

import symgraph.tensor as T
from symgraph.function import function
from symgraph.graph import Scope
from symgraph.nodes import Placeholder, apply
from symgraph.rl import losses
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.on_policy import (
    OnPolicyLearner,
    _standardize,
    env_from,
    make_optimizer,
    positive_int,
    rollout_size,
    scan,
)
from symgraph.rl.protocol import Schedule

__all__ = ["PPO"]

METRICS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")


class PPO(OnPolicyLearner):
    r"""PPO-Clip (see the module docstring for the equations).

    Args:
        state_shape: shape of one observation.
        actions_shape: ``()`` or the number of actions (Categorical actor), or the shape of a continuous
            action (checked against the actor).
        batch_size: the minibatch size (transitions per gradient step); at most the rollout size
            ``n_steps * n_envs``. Each epoch makes ``n_steps * n_envs // batch_size`` steps on a fresh
            permutation (what does not fill a last minibatch is left out of that epoch); when
            ``batch_size`` is the rollout size, each epoch is one step on the whole rollout.
        actor: a stochastic :class:`~symgraph.rl.Actor` or a factory ``f(states) -> Actor``.
        critic: a V(s) :class:`~symgraph.rl.Critic` or a factory ``f(states) -> Critic``.
        lr: Adam's learning rate: a number, or a schedule of the gradient-step count (e.g.
            ``symgraph.nn.schedules.linear``).
        K_epochs: passes over each rollout.
        eps_clip: the clip range :math:`\epsilon` of the surrogate.
        gamma: the discount :math:`\gamma`.
        entropy_beta: the entropy bonus coefficient :math:`\beta`.

    Keyword Args:
        n_steps: steps per environment in each rollout (SB3's default 2048).
        n_envs: sub-environments per buffer row (``from_env`` takes it from the env).
        lam: GAE's :math:`\lambda` (1: Monte-Carlo advantages, 0: one-step TD errors).
        vf_coef: the value-loss coefficient :math:`c_V` (the value loss has the factor 1/2 of CleanRL and
            PureJaxRL; ``vf_coef=1`` matches SB3's ``vf_coef=0.5`` with its plain mean squared error).
        clip_vf: clip range :math:`\epsilon_V` of the value loss around the stored values (PPO2,
            PureJaxRL), or None for the plain squared error (SB3's default).
        max_grad_norm: global-norm gradient clipping; None or 0: none.
        normalize_advantage: standardise the advantages within each minibatch.
        anneal_lr, anneal_clip: anneal the learning rate / :math:`\epsilon` linearly to 0 over
            ``total_steps`` environment steps (needs ``total_steps`` and a numeric ``lr``).
        total_steps: the environment steps training is planned for (for the annealing).
        action_bounds, action_start, state_dtype: see :class:`~symgraph.rl.learners.on_policy.
            OnPolicyLearner`.
        seed: the learner's seed (parameters, sampling, minibatch order).

    Attributes:
        rollout_size: transitions per update, ``n_steps * n_envs`` (the :attr:`schedule`'s ``update_every``
            and the capacity of :meth:`make_storage`'s buffer).
        n_minibatches: gradient steps per epoch.

    ``update(buffer)`` returns ``None`` until the buffer holds ``n_steps`` rows, then learns from the last
    ``n_steps`` rows, clears the buffer and returns the means over the update of ``loss``, ``policy_loss``,
    ``value_loss``, ``entropy``, ``approx_kl`` (k3 estimator), ``clip_fraction``, ``grad_norm``, and
    ``explained_variance`` of the returns by the values, ``lr`` and ``clip``.
    """

    HYPERPARAMETERS = ("eps_clip", "gamma", "entropy_beta", "lam", "vf_coef", "clip_vf")

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, actor, critic, lr=1e-3, K_epochs=80, eps_clip=0.2,
                 gamma=0.99, entropy_beta=0.01, *, n_steps=2048, n_envs=1, lam=0.95, vf_coef=0.5, clip_vf=None,
                 max_grad_norm=0.5, normalize_advantage=True, anneal_lr=False, anneal_clip=False,
                 total_steps=None, action_bounds=None, action_start=0, state_dtype="float32", seed=None):
        owner = "PPO"
        self.batch_size = positive_int(owner, "batch_size", batch_size)
        self.K_epochs = positive_int(owner, "K_epochs", K_epochs)
        self.eps_clip = finite(owner, "eps_clip", eps_clip, 0.0)
        self.gamma = finite(owner, "gamma", gamma, 0.0, 1.0)
        self.entropy_beta = finite(owner, "entropy_beta", entropy_beta, 0.0)
        self.n_steps = positive_int(owner, "n_steps", n_steps)
        self.lam = finite(owner, "lam", lam, 0.0, 1.0)
        self.vf_coef = finite(owner, "vf_coef", vf_coef, 0.0)
        self.clip_vf = finite(owner, "clip_vf", clip_vf, 0.0, allow_none=True)
        self.max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        self.normalize_advantage = bool(normalize_advantage)
        self.anneal_lr, self.anneal_clip = bool(anneal_lr), bool(anneal_clip)
        self.total_steps = positive_int(owner, "total_steps", total_steps, allow_none=True)
        if (self.anneal_lr or self.anneal_clip) and self.total_steps is None:
            raise ValueError(f"{owner}: anneal_lr/anneal_clip anneal over total_steps environment steps; pass "
                             f"total_steps=... (e.g. the max_steps of run)")
        if self.anneal_lr and callable(lr):
            raise ValueError(f"{owner}: anneal_lr=True builds the schedule from a numeric lr; got the schedule "
                             f"{lr!r} (pass anneal_lr=False to use it as is)")
        self.lr = lr
        self.rollout_size = rollout_size(owner, ("n_steps", self.n_steps), ("n_envs", n_envs))
        if self.batch_size > self.rollout_size:
            raise ValueError(f"{owner}: batch_size={self.batch_size} is larger than the rollout of n_steps x "
                             f"n_envs = {self.n_steps} x {n_envs} = {self.rollout_size} transitions; lower "
                             f"batch_size or raise n_steps")
        self.n_minibatches = self.rollout_size // self.batch_size
        super().__init__(state_shape, actions_shape, actor, critic, n_envs=n_envs, action_bounds=action_bounds,
                         action_start=action_start, state_dtype=state_dtype, seed=seed)
        if self.critic is None:
            raise TypeError(f"{owner}: a critic is required (a V(s) rl.Critic or a factory)")

    # ---------------------------------------------------------------------------------------------------

    def _progress_left(self, updates_done):
        """``1 - steps so far / total_steps`` at the update after ``updates_done`` (SB3's progress)."""
        steps = (updates_done + 1) * self.rollout_size
        return jnp.maximum(0.0, 1.0 - steps / self.total_steps)

    def _lr_scale(self):
        """``count -> factor``: the annealing factor of the learning rate at gradient step ``count`` (None
        without ``anneal_lr``)."""
        if not self.anneal_lr:
            return None
        per_update = self.K_epochs * self.n_minibatches
        return lambda count: self._progress_left(count // per_update).astype(jnp.float32)

    def _build_update(self):
        if self.critic is None:
            return
        b = self.batch_size
        with Scope("train"):
            states = Placeholder((b, *self.state_shape), self.states.dtype, name="states")
            actions = Placeholder((b, *self.action_shape), self._actions_in.dtype, name="actions")
            old_log_probs, advantages, targets, old_values = (
                Placeholder((b,), "float32", name=n) for n in ("old_log_probs", "advantages", "returns",
                                                               "old_values"))
            clip = Placeholder((), "float32", name="clip")
            actor, critic = self.actor.apply(states), self.critic.apply(states)
            log_probs = actor.log_prob(actions)
            entropy = T.mean(actor.entropy)
            values = critic.values
            adv = _standardize(advantages, T.ones_like(advantages)) if self.normalize_advantage else advantages
            policy_loss = apply(losses.clipped_surrogate_loss, (log_probs, old_log_probs, adv, clip))
            held = self._hyperparameters
            if self.clip_vf is None:
                value_loss = apply(losses.ppo_value_loss, (values, targets))
            else:
                value_loss = apply(losses.ppo_value_loss, (values, targets, old_values, held["clip_vf"]))
            loss = policy_loss + held["vf_coef"] * value_loss - held["entropy_beta"] * entropy
            self.optimizer = make_optimizer("PPO", "adam", loss, self.actor.params + self.critic.params, self.lr,
                                            self.max_grad_norm, lr_scale=self._lr_scale())
            log_ratio = log_probs - old_log_probs
            ratio = T.exp(log_ratio)
            approx_kl = T.mean((ratio - 1.0) - log_ratio)
            clip_fraction = T.mean(T.cast(abs(ratio - 1.0) > clip, "float32"))
            self._train_fn = function(
                states, actions, old_log_probs, advantages, targets, old_values, clip,
                outputs=[loss, policy_loss, value_loss, entropy, approx_kl, clip_fraction, self.optimizer.grad_norm],
                updates=self.optimizer.updates, seed=self.function_seed(), name="train",
                on_unused_input="ignore")
            self._lr_fn = function(outputs=self.optimizer.lr, name="lr")

    def _pure_functions(self):
        return super()._pure_functions() + [self._train_fn, self._lr_fn]

    def _learning_rates(self):
        return {"lr": [self.optimizer]}

    def rollout_ready(self, buffer):
        """Whether ``buffer`` holds ``n_steps`` rows."""
        return buffer.n_envs is not None and len(buffer) >= self.rollout_size

    @property
    def schedule(self):
        """An update every rollout, :attr:`rollout_size` transitions, of ``K_epochs * n_minibatches``
        gradient steps (a :class:`~symgraph.rl.protocol.Schedule`)."""
        return Schedule(update_every=self.rollout_size, gradient_steps=self.K_epochs * self.n_minibatches)

    def _collect(self, buffer):
        return self._read(buffer, length=self.n_steps)

    def update_pure(self, state, batch):
        """The whole PPO update as a pure function: ``(metrics, new_state)`` from the learner's ``state``
        (see :attr:`state`) and a rollout ``batch`` (time-major arrays of the buffer's fields)."""
        states, next_states, raw, old_log_probs, old_values, state = self._flat_inputs(state, batch)
        targets, state = self._lambda_returns(state, batch, next_states, old_values)
        advantages = (targets - old_values).reshape(-1)
        targets, old_values, old_log_probs = targets.reshape(-1), old_values.reshape(-1), old_log_probs.reshape(-1)
        n, b = advantages.shape[0], self.batch_size
        if n < b:
            raise ValueError(f"PPO.update: the rollout holds {n} transitions, fewer than batch_size={b}")
        n_minibatches = n // b
        done = state[self._updates_done.name]
        clip = self._hyperparameter(state, "eps_clip")
        if self.anneal_clip:
            clip = clip * self._progress_left(done).astype(jnp.float32)
        lr, _ = self._lr_fn.pure(state)

        whole = n_minibatches * b == n == b  # one minibatch is the whole rollout: its order changes no mean

        def minibatch(state, index):
            inputs = [states, raw, old_log_probs, advantages, targets, old_values]
            if not whole:
                inputs = [x[index] for x in inputs]
            out, state = self._train_fn.pure(state, *inputs, clip)
            return state, jnp.stack(out)

        def epoch(state, _):
            if whole:  # no permutation to draw (it costs as much as a gradient step of a small network)
                state, out = minibatch(state, None)
                return state, out[None]
            key, state = self._key_split(state)
            order = jax.random.permutation(key, n)[: n_minibatches * b].reshape(n_minibatches, b)
            return scan(minibatch, state, order, unroll=self._unroll)

        state, outs = scan(epoch, state, None, length=self.K_epochs, unroll=self._unroll)
        metrics = dict(zip(METRICS, jnp.mean(outs, axis=(0, 1))))
        variance = jnp.var(targets)
        metrics["explained_variance"] = jnp.where(variance > 0, 1.0 - jnp.var(targets - old_values) / variance,
                                                  jnp.nan)
        metrics["lr"], metrics["clip"] = lr, clip
        state[self._updates_done.name] = done + 1
        return metrics, state

    @classmethod
    @records_config
    def from_env(cls, env, *, batch_size=64, actor=None, critic=None, hidden=(64, 64), activation="tanh",
                 actions_distribution=None, log_std_init=0.0, **kwargs):
        """A PPO learner for ``env``'s spaces (a single or vector gymnasium env, a gymnax env, or an env id).

        Builds an MLP actor and critic (``hidden`` layers of ``activation``; Nature-DQN CNNs for uint8
        image observations, channels first when the first axis is the smallest, e.g. stacked frames), a
        Categorical policy for ``Discrete`` actions and a Gaussian (``"normal"``, state-independent log-std
        ``log_std_init``) or ``"tanh_normal"`` one for ``Box`` actions, whose samples are mapped onto the
        action bounds (see :mod:`~symgraph.rl.learners.on_policy`). ``n_envs``, ``state_dtype``,
        ``action_bounds`` and ``action_start`` come from the env.

        Args:
            env: the environment (its spaces are read; it is not stepped), or an env id (made, read, closed).
            batch_size: as the constructor (default 64, SB3's).
            actor, critic: factories ``f(states) -> Actor/Critic`` replacing the ready-made networks.
            hidden, activation: the MLPs' hidden layers.
            actions_distribution: None (Categorical for discrete actions, Normal for continuous ones), or a
                name/class; a distribution that does not fit the action space raises a ValueError.
            log_std_init: initial log-std of a Gaussian policy (in units of half the action range).
            **kwargs: the other constructor arguments (``lr``, ``K_epochs``, ``n_steps``, ``seed``...).
        """
        with env_from(env) as env:
            info, options, actor, critic = cls._networks_from_env(env, actor, critic, hidden, activation,
                                                                  actions_distribution, log_std_init, True)
        options.update(kwargs)
        return cls(info.obs_shape, info.action_shape, batch_size, actor, critic, **options)
