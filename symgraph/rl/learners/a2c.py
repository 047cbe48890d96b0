r"""Advantage actor-critic (A2C, the synchronous variant of A3C: Mnih, Badia, Mirza, Graves, Lillicrap,
Harley, Silver & Kavukcuoglu 2016, "Asynchronous Methods for Deep Reinforcement Learning"), with
GAE-:math:`\lambda` advantages (Schulman et al. 2016).

Per update, on a batch collected by the current policy (``n_steps`` steps of each environment, or
``n_episodes`` whole episodes), the :math:`\lambda`-returns :math:`G_t` and advantages
:math:`A_t = G_t - V(s_t)` are computed once with the critic (see :mod:`symgraph.rl.learners.on_policy`),
then one actor step and ``train_v_iters`` critic steps (Spinning Up's VPG/A2C schedule; with
``train_v_iters=1`` and ``lam=1`` it is SB3's A2C on separate networks):

.. math::

    L^{\pi} = -\operatorname{mean}\big(\log\pi(a_t|s_t)\, \hat A_t\big) - \beta\,\operatorname{mean}\,
    \mathcal{H}[\pi(\cdot|s_t)], \qquad
    L^{V} = \tfrac12 \operatorname{mean}\big((V(s_t) - G_t)^2\big),

:math:`\hat A_t` being :math:`A_t`, standardised over the batch if ``normalize_advantage``. The actor and
the critic have their own optimizer (Adam, or RMSProp with decay 0.99 and eps 1e-5 as SB3's A2C) and
global-norm clipping. The whole update, returns included, is one compiled call.

Two ways to batch:

- ``n_steps`` (keyword): n-step rollouts of every environment (A3C/SB3: ``n_steps=5`` with 8 or 16
  environments); paths cut by the end of the rollout bootstrap from the critic. ``n_episodes`` and
  ``episode_length`` are then None. Run with ``update_every=agent.rollout_size``.
- ``n_episodes`` / ``episode_length`` (the seed API): update once ``n_episodes`` episodes ended in the
  buffer (the unfinished tails of a vector env's episodes bootstrap from the critic, so every step is used).
  Run with ``wait_end_path=True``.

Example (episodic batches of 2 episodes; a greedy evaluation reaches 475 within 7k-16k env steps on 3
seeds, see ``bench/onpolicy.py``)::

    from symgraph import rl
    env = rl.envs.make_env("CartPole-v1")
    agent = rl.ActorCritic.from_env(env, n_episodes=2, lr=3e-3, lam=0.95, train_v_iters=10,
                                    normalize_advantage=True, seed=0)
    buffer = rl.Buffer(agent.rollout_size)
    rl.run(env, agent, buffer, wait_end_path=True, max_steps=100_000, max_episodes=None)

n-step A2C as SB3 (8 environments, ``n_steps=5``, RMSProp 7e-4, ``train_v_iters=1``) learns CartPole-v1 more
slowly and less steadily (a mean training return around 200 after 1e5 steps with seed 0, as SB3's A2C, which
rl-baselines3-zoo trains for 5e5 steps)::

    env = rl.envs.make_env("CartPole-v1", n_envs=8)
    agent = rl.ActorCritic.from_env(env, n_steps=5, lr=7e-4, optimizer="rmsprop", train_v_iters=1, seed=0)
    rl.run(env, agent, rl.Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=500_000,
           max_episodes=None)
"""

import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.function import function
from symgraph.graph import Scope
from symgraph.nodes import Placeholder, apply
from symgraph.rl import losses
from symgraph.rl.envs import episode_limit
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.on_policy import (
    OnPolicyLearner,
    env_from,
    make_optimizer,
    positive_int,
    rollout_size,
    scan,
)
from symgraph.rl.learners.reinforce import count_episode_ends, pad_rollout
from symgraph.rl.protocol import Schedule

__all__ = ["ActorCritic"]


def _value_loss(values, targets, weights):
    return losses.ppo_value_loss(values, targets, weights=weights)


class ActorCritic(OnPolicyLearner):
    r"""A2C with GAE (see the module docstring for the equations).

    Args:
        state_shape: shape of one observation.
        actions_shape: ``()`` or the number of actions (Categorical actor), or the shape of a continuous
            action (checked against the actor).
        n_episodes: finished episodes per update (episodic batches), or None with ``n_steps``.
        episode_length: the most steps of an episode (sizes the buffer: :attr:`rollout_size` is
            ``n_episodes * episode_length``), or None with ``n_steps``.
        actor: a stochastic :class:`~symgraph.rl.Actor` or a factory ``f(states) -> Actor``.
        critic: a V(s) :class:`~symgraph.rl.Critic` or a factory ``f(states) -> Critic``.
        lr: the actor's learning rate (number or schedule of its step count).
        gamma: the discount :math:`\gamma`.
        train_v_iters: critic gradient steps per update, each on the whole batch.

    Keyword Args:
        n_steps: steps per environment in each rollout (n-step mode), or None (episodic mode).
        lam: GAE's :math:`\lambda` (default 1: Monte-Carlo advantages within the rollout, as A3C/SB3).
        critic_lr: the critic's learning rate (default: ``lr``).
        entropy_beta: entropy bonus coefficient :math:`\beta` (default 0).
        normalize_advantage: standardise the advantages over each batch (default False, as SB3's A2C).
        max_grad_norm: global-norm gradient clipping of each network; None or 0: none (default 0.5, as SB3).
        optimizer: ``"adam"`` (default) or ``"rmsprop"``.
        n_envs, action_bounds, action_start, state_dtype, seed: see :class:`~symgraph.rl.learners.on_policy.
            OnPolicyLearner`.

    ``update(buffer)`` returns None until the batch is complete, then learns, clears the buffer and returns
    ``policy_loss``, ``value_loss`` (before the critic steps), ``entropy``, ``grad_norm`` (actor),
    ``explained_variance`` and ``mean_return`` (mean :math:`G_t`).
    """

    HYPERPARAMETERS = ("gamma", "lam", "entropy_beta")

    @records_config
    def __init__(self, state_shape, actions_shape, n_episodes, episode_length, actor, critic, lr=1e-3, gamma=0.99,
                 train_v_iters=10, *, n_steps=None, lam=1.0, critic_lr=None, entropy_beta=0.0,
                 normalize_advantage=False, max_grad_norm=0.5, optimizer="adam", n_envs=1, action_bounds=None,
                 action_start=0, state_dtype="float32", seed=None):
        owner = "ActorCritic"
        self.n_steps = positive_int(owner, "n_steps", n_steps, allow_none=True)
        if self.n_steps is None:
            self.n_episodes = positive_int(owner, "n_episodes", n_episodes)
            self.episode_length = positive_int(owner, "episode_length", episode_length)
            self.rollout_size = rollout_size(owner, ("n_episodes", n_episodes), ("episode_length", episode_length))
        else:
            if n_episodes is not None or episode_length is not None:
                raise ValueError(f"{owner}: give either n_episodes and episode_length (episodic batches) or "
                                 f"n_steps (n-step rollouts), not both; got n_episodes={n_episodes!r}, "
                                 f"episode_length={episode_length!r}, n_steps={n_steps!r}")
            self.n_episodes = self.episode_length = None
            self.rollout_size = rollout_size(owner, ("n_steps", self.n_steps), ("n_envs", n_envs))
        self.lr, self.critic_lr = lr, lr if critic_lr is None else critic_lr
        self._own_critic_lr = critic_lr is not None
        self.gamma = finite(owner, "gamma", gamma, 0.0, 1.0)
        self.train_v_iters = positive_int(owner, "train_v_iters", train_v_iters)
        self.lam = finite(owner, "lam", lam, 0.0, 1.0)
        self.entropy_beta = finite(owner, "entropy_beta", entropy_beta, 0.0)
        self.normalize_advantage = bool(normalize_advantage)
        self.max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        self.optimizer_name = optimizer
        super().__init__(state_shape, actions_shape, actor, critic, n_envs=n_envs, action_bounds=action_bounds,
                         action_start=action_start, state_dtype=state_dtype, seed=seed)
        if self.critic is None:
            raise TypeError(f"{owner}: a critic is required (a V(s) rl.Critic or a factory)")

    def _build_update(self):
        if self.critic is None:
            return
        with Scope("train"):
            states = Placeholder((None, *self.state_shape), self.states.dtype, name="states")
            actions = Placeholder((None, *self.action_shape), self._actions_in.dtype, name="actions")
            advantages, targets, weights = (Placeholder((None,), "float32", name=n)
                                            for n in ("advantages", "returns", "weights"))
            actor, critic = self.actor.apply(states), self.critic.apply(states)
            entropy = T.sum(weights * actor.entropy) / T.sum(weights)
            policy_loss = apply(losses.policy_gradient_loss, (actor.log_prob(actions), advantages, weights))
            loss = policy_loss - self._hyperparameters["entropy_beta"] * entropy
            self.actor_optimizer = make_optimizer("ActorCritic", "actor_optimizer", loss, self.actor.params,
                                                  self.lr, self.max_grad_norm, self.optimizer_name)
            value_loss = apply(_value_loss, (critic.values, targets, weights))
            self.critic_optimizer = make_optimizer("ActorCritic", "critic_optimizer", value_loss,
                                                   self.critic.params, self.critic_lr, self.max_grad_norm,
                                                   self.optimizer_name,
                                                   argument="critic_lr" if self._own_critic_lr else "lr")
            self._actor_fn = function(states, actions, advantages, weights,
                                      outputs=[policy_loss, entropy, self.actor_optimizer.grad_norm],
                                      updates=self.actor_optimizer.updates, seed=self.function_seed(),
                                      name="train_actor")
            self._critic_fn = function(states, targets, weights, outputs=value_loss,
                                       updates=self.critic_optimizer.updates, seed=self.function_seed(),
                                       name="train_critic")

    def _pure_functions(self):
        return super()._pure_functions() + [self._actor_fn, self._critic_fn]

    def _learning_rates(self):
        if self._own_critic_lr:
            return {"lr": [self.actor_optimizer], "critic_lr": [self.critic_optimizer]}
        return {"lr": [self.actor_optimizer, self.critic_optimizer]}

    @property
    def schedule(self):
        """n-step mode: an update every rollout of :attr:`rollout_size` transitions; episodic mode: an
        update at episode ends (it learns once ``n_episodes`` ended). Each update is one actor step and
        ``train_v_iters`` critic steps, ``gradient_steps=train_v_iters`` (a
        :class:`~symgraph.rl.protocol.Schedule`)."""
        if self.n_steps is not None:
            return Schedule(update_every=self.rollout_size, gradient_steps=self.train_v_iters)
        return Schedule(update_every=1, update_after=1, gradient_steps=self.train_v_iters, at_episode_end=True)

    def rollout_ready(self, buffer):
        """n-step mode: ``n_steps`` rows stored; episodic mode: ``n_episodes`` episodes ended."""
        if self.n_steps is not None:
            return buffer.n_envs is not None and len(buffer) >= self.rollout_size
        return len(buffer) > 0 and count_episode_ends(buffer) >= self.n_episodes

    def _collect(self, buffer):
        if self.n_steps is not None:
            data = self._read(buffer, length=self.n_steps)
            data["real"] = np.ones(self.n_steps, bool)
            return data
        return pad_rollout(self._read(buffer), -(-buffer.capacity // buffer.n_envs))

    def update_pure(self, state, batch):
        """One A2C update as a pure function: ``(metrics, new_state)``."""
        states, next_states, raw, _, values, state = self._flat_inputs(state, batch, need_log_probs=False)
        targets, state = self._lambda_returns(state, batch, next_states, values)
        mask = jnp.broadcast_to(batch["real"][:, None], targets.shape).astype(jnp.float32).reshape(-1)
        n_real = jnp.maximum(mask.sum(), 1.0)
        weights = mask * mask.shape[0] / n_real
        targets, values = targets.reshape(-1), values.reshape(-1)
        advantages = targets - values
        if self.normalize_advantage:
            mean = jnp.sum(mask * advantages) / n_real
            std = jnp.sqrt(jnp.sum(mask * (advantages - mean) ** 2) / n_real)
            advantages = (advantages - mean) / (std + 1e-8)
        out, state = self._actor_fn.pure(state, states, raw, advantages * mask, weights)
        metrics = dict(zip(("policy_loss", "entropy", "grad_norm"), out))

        def critic_step(state, _):
            loss, state = self._critic_fn.pure(state, states, targets, weights)
            return state, loss

        state, value_losses = scan(critic_step, state, None, length=self.train_v_iters, unroll=self._unroll)
        metrics["value_loss"] = value_losses[0]
        mean_target = jnp.sum(mask * targets) / n_real
        variance = jnp.sum(mask * (targets - mean_target) ** 2) / n_real
        residual = targets - values
        residual_var = jnp.sum(mask * (residual - jnp.sum(mask * residual) / n_real) ** 2) / n_real
        metrics["explained_variance"] = jnp.where(variance > 0, 1.0 - residual_var / variance, jnp.nan)
        metrics["mean_return"] = mean_target
        state[self._updates_done.name] = state[self._updates_done.name] + 1
        return metrics, state

    @classmethod
    @records_config
    def from_env(cls, env, *, n_steps=None, n_episodes=None, episode_length=None, actor=None, critic=None,
                 hidden=(64, 64), activation="tanh", actions_distribution=None, log_std_init=0.0, **kwargs):
        """An A2C learner for ``env``'s spaces (single or vector gymnasium env, or an env id; see
        :meth:`symgraph.rl.PPO.from_env` for the networks built). With neither ``n_steps`` nor
        ``n_episodes``, n-step mode with ``n_steps=5`` (A3C's and SB3's default); with ``n_episodes``,
        episodic mode, ``episode_length`` defaulting to the env's time limit (1000 if none). ``**kwargs``
        are the other constructor arguments."""
        with env_from(env) as env:
            info, options, actor, critic = cls._networks_from_env(env, actor, critic, hidden, activation,
                                                                  actions_distribution, log_std_init, True)
            limit = episode_limit(env)
        if n_episodes is None and episode_length is None:
            options["n_steps"] = 5 if n_steps is None else n_steps
        else:
            if n_steps is not None:
                options["n_steps"] = n_steps
            elif episode_length is None:
                episode_length = limit or 1000
        options.update(kwargs)
        return cls(info.obs_shape, info.action_shape, n_episodes, episode_length, actor, critic, **options)
