r"""REINFORCE: the Monte-Carlo likelihood-ratio policy gradient (Williams 1992, "Simple Statistical
Gradient-Following Algorithms for Connectionist Reinforcement Learning"), with reward-to-go returns.

Per update, on ``n_episodes`` whole episodes collected by the current policy, one gradient step on

.. math::

    G_t = \sum_{k=t}^{T_{ep}-1} \gamma^{k-t} r_k \quad \text{(reward-to-go, within the episode)}, \qquad
    L = -\operatorname{mean}_t\big(\log\pi(a_t|s_t)\, \hat G_t\big) - \beta\, \operatorname{mean}_t
        \mathcal{H}[\pi(\cdot|s_t)],

whose gradient is an unbiased estimate of :math:`-\nabla_\theta J` (the policy-gradient theorem; the
reward-to-go drops the rewards before :math:`t`, which do not depend on :math:`a_t`). :math:`\hat G_t` is
:math:`G_t` standardised over the batch (``normalize_advantage``, the default: a constant baseline, the mean
return, and a per-batch step size), or :math:`G_t` minus its batch mean (``baseline="mean"``), or
:math:`G_t` itself. An episode cut by a time limit simply ends its sum (there is no critic to bootstrap from).

Episodes of a vector env end at different times: an update learns from the episodes that ended in the
buffer; the unfinished tail of each sub-environment's current episode has no return yet and is left out
(those few steps are dropped with the buffer).

Example (a greedy evaluation reaches 475 within 6k-24k env steps on 3 seeds, see ``bench/onpolicy.py``)::

    from symgraph import rl
    env = rl.envs.make_env("CartPole-v1")
    agent = rl.REINFORCE.from_env(env, n_episodes=4, lr=1e-2, seed=0)
    buffer = rl.Buffer(agent.rollout_size)
    rl.run(env, agent, buffer, wait_end_path=True, max_steps=100_000, max_episodes=None)
"""

import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.function import function
from symgraph.graph import Scope
from symgraph.nodes import Placeholder, apply
from symgraph.rl import losses, returns
from symgraph.rl.envs import episode_limit
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.on_policy import (
    OnPolicyLearner,
    env_from,
    make_optimizer,
    positive_int,
    rollout_size,
)
from symgraph.rl.protocol import Schedule

__all__ = ["REINFORCE"]


def count_episode_ends(buffer):
    """The number of episodes that ended among the stored transitions (terminations and truncations)."""
    ends = np.count_nonzero(buffer["terminal"])
    if "truncated" in buffer:
        ends += np.count_nonzero(buffer["truncated"] & ~buffer["terminal"].astype(bool))
    return int(ends)


def pad_rollout(data, rows):
    """The rollout front-padded in time to ``rows`` rows (the buffer's capacity, so the update compiles
    once), with ``"real"`` ``(rows,)`` marking the stored rows. Padding rows are zeros; they precede the
    stored ones, so no return of a stored step depends on them."""
    t = data["reward"].shape[0]
    data["real"] = np.arange(rows) >= rows - t
    if rows != t:
        for key, value in data.items():
            if key != "real":
                data[key] = np.concatenate([np.zeros((rows - t, *value.shape[1:]), value.dtype), value])
    return data


class REINFORCE(OnPolicyLearner):
    r"""REINFORCE with reward-to-go (see the module docstring for the equations).

    Args:
        state_shape: shape of one observation.
        actions_shape: ``()`` or the number of actions (Categorical actor), or the shape of a continuous
            action (checked against the actor).
        n_episodes: finished episodes per update.
        episode_length: the most steps of an episode (the environment's time limit); the buffer must hold
            ``n_episodes * episode_length`` transitions (:attr:`rollout_size`).
        actor: a stochastic :class:`~symgraph.rl.Actor` or a factory ``f(states) -> Actor``.
        lr: the learning rate (a number or a schedule of the update count).
        gamma: the discount :math:`\gamma`.

    Keyword Args:
        normalize_advantage: standardise the returns over each batch (default True).
        baseline: ``"mean"`` subtracts the batch-mean return (used when ``normalize_advantage`` is False),
            or None.
        entropy_beta: entropy bonus coefficient :math:`\beta` (default 0).
        max_grad_norm: global-norm gradient clipping; None or 0 (default None): none.
        optimizer: ``"adam"`` (default) or ``"rmsprop"``.
        n_envs, action_bounds, action_start, state_dtype, seed: see :class:`~symgraph.rl.learners.on_policy.
            OnPolicyLearner`.

    ``update(buffer)`` returns None until ``n_episodes`` episodes have ended in the buffer (call it at the end
    of episodes: ``run(..., wait_end_path=True)``), then makes one gradient step, clears the buffer and
    returns ``policy_loss``, ``entropy``, ``grad_norm``, ``mean_return`` (the mean :math:`G_0`-style
    reward-to-go of the batch's steps) and ``episodes``.
    """

    #: No critic, so no ``value(states)`` hook: ``run`` then ends truncated paths without a bootstrap.
    value = None

    HYPERPARAMETERS = ("gamma", "entropy_beta")

    @records_config
    def __init__(self, state_shape, actions_shape, n_episodes, episode_length, actor, lr=1e-3, gamma=0.99, *,
                 normalize_advantage=True, baseline=None, entropy_beta=0.0, max_grad_norm=None, optimizer="adam",
                 n_envs=1, action_bounds=None, action_start=0, state_dtype="float32", seed=None):
        owner = "REINFORCE"
        self.n_episodes = positive_int(owner, "n_episodes", n_episodes)
        self.episode_length = positive_int(owner, "episode_length", episode_length)
        self.lr = lr
        self.gamma = finite(owner, "gamma", gamma, 0.0, 1.0)
        self.normalize_advantage = bool(normalize_advantage)
        if baseline not in (None, "mean"):
            raise ValueError(f"{owner}: baseline must be None or 'mean', got {baseline!r}")
        self.baseline = baseline
        self.entropy_beta = finite(owner, "entropy_beta", entropy_beta, 0.0)
        self.max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        self.optimizer_name = optimizer
        self.rollout_size = rollout_size(owner, ("n_episodes", n_episodes), ("episode_length", episode_length))
        super().__init__(state_shape, actions_shape, actor, None, n_envs=n_envs, action_bounds=action_bounds,
                         action_start=action_start, state_dtype=state_dtype, seed=seed)

    def _build_update(self):
        with Scope("train"):
            states = Placeholder((None, *self.state_shape), self.states.dtype, name="states")
            actions = Placeholder((None, *self.action_shape), self._actions_in.dtype, name="actions")
            advantages = Placeholder((None,), "float32", name="advantages")
            weights = Placeholder((None,), "float32", name="weights")
            actor = self.actor.apply(states)
            entropy = T.sum(weights * actor.entropy) / T.sum(weights)
            policy_loss = apply(losses.policy_gradient_loss, (actor.log_prob(actions), advantages, weights))
            loss = policy_loss - self._hyperparameters["entropy_beta"] * entropy
            self.optimizer = make_optimizer("REINFORCE", "optimizer", loss, self.actor.params, self.lr,
                                            self.max_grad_norm, self.optimizer_name)
            self._train_fn = function(states, actions, advantages, weights,
                                      outputs=[policy_loss, entropy, self.optimizer.grad_norm],
                                      updates=self.optimizer.updates, seed=self.function_seed(), name="train")

    def _pure_functions(self):
        return super()._pure_functions() + [self._train_fn]

    def _learning_rates(self):
        return {"lr": [self.optimizer]}

    @property
    def schedule(self):
        """An update at episode ends (it learns once ``n_episodes`` ended), of one gradient step (a
        :class:`~symgraph.rl.protocol.Schedule`)."""
        return Schedule(update_every=1, update_after=1, at_episode_end=True)

    def rollout_ready(self, buffer):
        """Whether ``n_episodes`` episodes have ended in ``buffer``."""
        return len(buffer) > 0 and count_episode_ends(buffer) >= self.n_episodes

    def _collect(self, buffer):
        return pad_rollout(self._read(buffer), -(-buffer.capacity // buffer.n_envs))

    def update_pure(self, state, batch):
        """One REINFORCE step as a pure function: ``(metrics, new_state)``."""
        states, _, raw, _, _, state = self._flat_inputs(state, batch, need_log_probs=False)
        rewards = batch["reward"]
        ends = batch["terminal"] | batch["truncated"]
        discounts = self._hyperparameter(state, "gamma") * (1.0 - ends.astype(jnp.float32))
        targets = returns.discounted_returns(rewards, discounts, 0.0)
        # steps whose episode ended in the rollout (a reverse running "any end since") and are stored
        ended = jnp.flip(jnp.cumsum(jnp.flip(ends.astype(jnp.int32), 0), 0), 0) > 0
        mask = (ended & batch["real"][:, None]).astype(jnp.float32).reshape(-1)
        weights = mask * mask.shape[0] / jnp.maximum(mask.sum(), 1.0)
        g = targets.reshape(-1)
        mean = jnp.sum(mask * g) / jnp.maximum(mask.sum(), 1.0)
        if self.normalize_advantage:
            std = jnp.sqrt(jnp.sum(mask * (g - mean) ** 2) / jnp.maximum(mask.sum(), 1.0))
            advantages = (g - mean) / (std + 1e-8)
        elif self.baseline == "mean":
            advantages = g - mean
        else:
            advantages = g
        out, state = self._train_fn.pure(state, states, raw, advantages * mask, weights)
        metrics = dict(zip(("policy_loss", "entropy", "grad_norm"), out))
        metrics["mean_return"] = mean
        metrics["episodes"] = jnp.sum(ends & batch["real"][:, None])
        state[self._updates_done.name] = state[self._updates_done.name] + 1
        return metrics, state

    @classmethod
    @records_config
    def from_env(cls, env, *, n_episodes=4, episode_length=None, actor=None, hidden=(64, 64), activation="tanh",
                 actions_distribution=None, log_std_init=0.0, **kwargs):
        """A REINFORCE learner for ``env``'s spaces (single or vector gymnasium env, or an env id; see
        :meth:`symgraph.rl.PPO.from_env` for the networks built). ``episode_length`` defaults to the env's
        registered time limit (1000 if it has none); ``**kwargs`` are the other constructor arguments."""
        with env_from(env) as env:
            info, options, actor, _ = cls._networks_from_env(env, actor, None, hidden, activation,
                                                             actions_distribution, log_std_init, False)
            if episode_length is None:
                episode_length = episode_limit(env) or 1000
        options.update(kwargs)
        return cls(info.obs_shape, info.action_shape, n_episodes, episode_length, actor, **options)

