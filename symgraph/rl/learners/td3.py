r"""TD3 and DDPG: deterministic policy gradients with replayed transitions and target networks.

DDPG (Lillicrap et al. 2016, "Continuous control with deep reinforcement learning") learns a critic
:math:`Q_\phi(s, a)` by regression on a target computed with slowly tracking target networks
:math:`\mu_{\bar\theta}, Q_{\bar\phi}`, and a deterministic policy :math:`\mu_\theta` by ascending the
critic (Silver et al. 2014):

.. math::

    y = G_t + \gamma_t\, Q_{\bar\phi}\big(s_{t+m}, \mu_{\bar\theta}(s_{t+m})\big), \qquad
    L(\phi) = \operatorname{mean}\big[w\, (Q_\phi(s_t, a_t) - y)^2\big], \qquad
    J(\theta) = -\operatorname{mean}\, Q_\phi\big(s_t, \mu_\theta(s_t)\big),

and after each policy step :math:`\bar\phi \leftarrow \tau \phi + (1 - \tau)\bar\phi`, :math:`\bar\theta
\leftarrow \tau\theta + (1 - \tau)\bar\theta`.

TD3 (Fujimoto, van Hoof & Meger 2018, "Addressing Function Approximation Error in Actor-Critic Methods")
adds three fixes, each a knob of :class:`TD3`:

- clipped double Q-learning (``n_critics=2``): twin critics, both regressed on the smaller target,
  :math:`y = G_t + \gamma_t \min_{i} Q_{\bar\phi_i}(s_{t+m}, \tilde a)`, and :math:`L = \sum_i L(\phi_i)`;
  the policy ascends :math:`Q_{\phi_1}`;
- target policy smoothing (``target_noise``, ``noise_clip``): :math:`\tilde a = \operatorname{clip}\big(
  \mu_{\bar\theta}(s_{t+m}) + \operatorname{clip}(\epsilon, -c, c), -1, 1\big)`, :math:`\epsilon \sim
  \mathcal N(0, \sigma^2)` (in the policy's ``[-1, 1]`` units);
- delayed policy updates (``policy_delay``): the policy and the targets are updated every ``d``-th critic
  step (as in SB3, at steps ``d, 2d, ...``), right after the critic step, on the same minibatch
  (:meth:`TD3._gradient_step`). The ``actor_loss`` an update reports is the mean of :math:`J(\theta)` over
  its policy steps; an update that made none reports the last policy step's (held in the learner's state;
  0 before the first), so the metric is always a number.

So DDPG is TD3 with one critic, no delay and no smoothing: :class:`DDPG` is that configuration, with the
seed API's defaults. Exploration noise is added by ``run(..., noise=learner.make_noise(0.1))`` (Gaussian, as
TD3; ``process="ou"`` for DDPG's Ornstein-Uhlenbeck). Actions are rescaled between the policy's ``[-1, 1]``
and the env's bounds inside the learner (see :class:`~symgraph.rl.learners.off_policy.ContinuousActions`).

Example (rl-baselines3-zoo's tuned Pendulum-v1 settings)::

    agent = rl.TD3.from_env(env, gamma=0.98, lr=1e-3, hidden=(400, 300), random_steps=10_000)
    rl.run(env, agent, rl.Buffer(200_000), noise=agent.make_noise(0.1), update_after=10_000,
           max_steps=20_000)
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

import symgraph.tensor as T
from symgraph.nn.optimizers import Adam
from symgraph.nodes import Placeholder, Variable
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.off_policy import ContinuousActions, OffPolicyLearner, env_spaces, soft_updates
from symgraph.rl.networks import MLPActor, MLPCritic

__all__ = ["TD3", "DDPG"]


class TD3(ContinuousActions, OffPolicyLearner):
    """Twin Delayed DDPG (see the module docstring for the maths and the papers).

    Args:
        state_shape: the shape of one observation.
        actions_shape: the shape of one (continuous) action, e.g. ``(1,)`` (an int ``n`` means ``(n,)``).
        batch_size: transitions per gradient step.
        actor: the policy factory, called as ``actor(states, n_actions=action_dim, actions_distribution=None,
            name="actor")`` and returning a deterministic :class:`~symgraph.rl.Actor` with outputs in
            ``[-1, 1]`` (e.g. ``rl.MLPActor``, whose deterministic head is a tanh). None: an MLP of
            ``hidden`` ReLU layers.
        critic: the Q(s, a) factory, called as ``critic(states, actions, name=...)`` (e.g.
            ``rl.MLPCritic``). None: an MLP of ``hidden`` ReLU layers on the concatenated state and action.
        lr: the learning rate of both networks (Adam), unless ``actor_lr``/``critic_lr`` are given.
        gamma: the discount factor.
        tau: the Polyak coefficient of the target updates.

    Keyword Args:
        policy_delay: critic steps per policy (and target) step.
        target_noise, noise_clip: the target policy smoothing's :math:`\\sigma` and :math:`c` (0: none).
        n_critics: 2 (clipped double Q-learning) or 1.
        actor_lr, critic_lr: separate learning rates (numbers or schedules of the optimizer's step).
        action_low, action_high: the env's action bounds (from ``from_env``).
        random_steps: act uniformly at random for this many exploring actions first.
        gradient_steps: gradient steps per :meth:`update` call (one compiled call).
        n_step, prioritized, update_every, update_after, buffer_size: as
            :class:`~symgraph.rl.learners.off_policy.OffPolicyLearner`.
        hidden: hidden sizes of the default networks.
        max_grad_norm: clip each network's gradients to this global norm (None or 0: no clipping).
        state_dtype, seed: the observations' dtype and the learner's seed.

    ``update(buffer)`` returns ``{"critic_loss", "q", "actor_loss"}`` (``actor_loss`` averaged over the
    policy steps of the call; a call that made none reports the last policy step's, see the module
    docstring).
    """

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, actor=None, critic=None, lr=1e-3, gamma=0.99,
                 tau=0.005, *, policy_delay=2, target_noise=0.2, noise_clip=0.5, n_critics=2, actor_lr=None,
                 critic_lr=None, action_low=-1.0, action_high=1.0, random_steps=0, gradient_steps=1, n_step=1,
                 prioritized=False, update_every=1, update_after=1, buffer_size=1_000_000, hidden=(256, 256),
                 max_grad_norm=None, state_dtype="float32", seed=None):
        owner = type(self).__name__
        super().__init__(state_shape, actions_shape, batch_size, gamma, gradient_steps=gradient_steps,
                         n_step=n_step, prioritized=prioritized, update_every=update_every,
                         update_after=update_after, buffer_size=buffer_size, seed=seed)
        self._continuous_setup(actions_shape, action_low, action_high, random_steps)
        self.tau = finite(owner, "tau", tau, 0.0, 1.0, low_open=True)
        if isinstance(policy_delay, bool) or not isinstance(policy_delay, numbers.Integral) or policy_delay < 1:
            raise ValueError(f"{owner}: policy_delay must be an int >= 1, got {policy_delay!r}")
        self.policy_delay = int(policy_delay)
        self.target_noise = finite(owner, "target_noise", target_noise, 0.0)
        self.noise_clip = finite(owner, "noise_clip", noise_clip, 0.0)
        max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        if n_critics not in (1, 2):
            raise ValueError(f"{owner}: n_critics must be 1 (DDPG) or 2 (clipped double Q-learning), got "
                             f"{n_critics!r}")
        self.n_critics = n_critics
        actor_lr = self._rate("actor_optimizer", lr, actor_lr, "actor_lr")
        critic_lr = self._rate("critic_optimizer", lr, critic_lr, "critic_lr")
        make_actor = actor or functools.partial(MLPActor, hidden=tuple(hidden), activation="relu")
        make_critic = critic or functools.partial(MLPCritic, hidden=tuple(hidden), activation="relu")

        with self.graph:
            batch = self._make_batch(state_dtype, self.action_shape, "float32")
            states, next_states = batch["state"], batch["next-state"]
            #: The policy :math:`\mu_\theta` (outputs in [-1, 1]) and its target.
            self.actor = make_actor(states, n_actions=self.action_dim, actions_distribution=None, name="actor")
            self.target_actor = self.actor.copy(states=next_states)
            #: The critics :math:`Q_{\phi_i}(s, a)` (on the stored, normalised actions) and their targets.
            self.critics = [make_critic(states, self._normalised(batch["action"]), name=f"q{i + 1}")
                            for i in range(self.n_critics)]
            next_actions = T.reshape(self.target_actor.actions, (-1, self.action_dim))
            if self.target_noise > 0:
                noise = T.random.normal(shape=next_actions, std=self.target_noise)
                noise = T.clip(noise, -self.noise_clip, self.noise_clip)
                next_actions = T.clip(next_actions + noise, -1.0, 1.0)
            self.target_critics = [c.copy(states=next_states, actions=next_actions) for c in self.critics]

            # Critic phase: every gradient step.
            next_q = self.target_critics[0].values
            for target in self.target_critics[1:]:
                next_q = T.minimum(next_q, target.values)
            y = T.stop_gradient(batch["reward"] + batch["discount"] * next_q)
            errors = [c.values - y for c in self.critics]
            critic_loss = sum(T.mean(batch["weight"] * T.square(e)) for e in errors)
            critic_params = [p for c in self.critics for p in c.params]
            self.critic_optimizer = Adam(critic_loss, critic_lr, params=critic_params,
                                         max_grad_norm=max_grad_norm, name="critic_adam")
            outputs = {"critic_loss": critic_loss, "q": T.mean(self.critics[0].values)}
            if self.prioritized:
                outputs["priority"] = T.abs(errors[0])
            self._add_phase("critic", ("state", "action", "reward", "discount", "next-state", "weight"), outputs,
                            self.critic_optimizer.updates)

            # Policy phase: every policy_delay-th step, after the critic step (it sees the new critic): see
            # _gradient_step.
            policy_q = self.critics[0].apply(actions=T.reshape(self.actor.actions, (-1, self.action_dim)))
            actor_loss = -T.mean(policy_q.values)
            self.actor_optimizer = Adam(actor_loss, actor_lr, params=self.actor.params,
                                        max_grad_norm=max_grad_norm, name="actor_adam")
            updates = dict(self.actor_optimizer.updates)
            tau = self._polyak(self.tau)
            updates.update(soft_updates(self.actor.pairs(self.target_actor), tau, self.actor_optimizer.updates))
            for c, t in zip(self.critics, self.target_critics):
                updates.update(soft_updates(c.pairs(t), tau))
            self._add_phase("actor", ("state",), {"actor_loss": actor_loss}, updates)
            #: float32 Variable: the actor loss of the last policy step (0 before the first).
            self.last_actor_loss = Variable(np.float32(0.0), name="last_actor_loss", trainable=False)

            observations = Placeholder((None, *self.state_shape), state_dtype, name="observations")
            policy = T.reshape(self.actor.apply(observations).actions, (-1, self.action_dim))
            self._build_act(observations, policy, policy)
        self._compile(carried=(self.last_actor_loss,))

    def _gradient_step(self, state, minibatch):
        """One critic step, then, at every ``policy_delay``-th step (``(t + 1) % policy_delay == 0``), the
        policy step and the target updates on the same minibatch; ``outputs`` hold the critic's metrics,
        ``"actor_loss"`` (this step's, or the last policy step's) and ``"policy_step"`` (whether it made one)."""
        critic, actor = self._phases
        held = self.last_actor_loss.name
        outputs, state = self._run_phase(critic, state, minibatch)

        def policy_step(sub):
            out, sub = self._run_phase(actor, sub, minibatch)
            return {**sub, held: out["actor_loss"]}

        if self.policy_delay == 1:
            state, due = policy_step(state), jnp.bool_(True)
        else:  # only the entries the policy step reads or writes go through the conditional
            due = (state[self.gradient_step.name] + 1) % self.policy_delay == 0
            sub = {name: state[name] for name in (*actor.function.state, held)}
            state = {**state, **jax.lax.cond(due, policy_step, lambda st: st, sub)}
        outputs.update(actor_loss=state[held], policy_step=due)
        return outputs, state

    def _summarize(self, outputs, state):
        """The means of the critic's metrics over the steps, and ``actor_loss``: its mean over the policy
        steps, or the last policy step's where the update made none."""
        outputs = dict(outputs)
        stepped, losses = outputs.pop("policy_step"), outputs.pop("actor_loss")
        metrics = super()._summarize(outputs, state)
        count = jnp.sum(stepped)
        mean = jnp.sum(jnp.where(stepped, losses, 0.0)) / jnp.maximum(count, 1)
        metrics["actor_loss"] = jnp.where(count > 0, mean, state[self.last_actor_loss.name])
        return metrics

    @classmethod
    @records_config
    def from_env(cls, env, batch_size=256, actor=None, critic=None, **kwargs):
        """A learner for ``env``'s spaces (an env or an id): the state shape and dtype, the action shape and
        bounds come from the env. Other arguments as the class.

        Raises:
            ValueError: the env's actions are not continuous (``Box``).
        """
        info = env_spaces(f"{cls.__name__}.from_env", env, discrete=False)
        return cls(info.obs_shape, info.action_shape, batch_size, actor, critic, action_low=info.action_low,
                   action_high=info.action_high, state_dtype=info.obs_dtype, **kwargs)


class DDPG(TD3):
    """DDPG (Lillicrap et al. 2016): :class:`TD3` with one critic, no policy delay and no target policy
    smoothing (see the module docstring). The seed API's signature and defaults (``lr=0.001, gamma=0.99,
    tau=0.01``); the other keyword arguments as :class:`TD3`. Explore with ``run(...,
    noise=learner.make_noise(0.1))`` (or ``make_noise(0.2, "ou")``).
    """

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, actor=None, critic=None, lr=0.001, gamma=0.99,
                 tau=0.01, *, actor_lr=None, critic_lr=None, action_low=-1.0, action_high=1.0, random_steps=0,
                 gradient_steps=1, n_step=1, prioritized=False, update_every=1, update_after=1,
                 buffer_size=1_000_000, hidden=(256, 256), max_grad_norm=None, state_dtype="float32", seed=None):
        super().__init__(state_shape, actions_shape, batch_size, actor, critic, lr, gamma, tau, policy_delay=1,
                         target_noise=0.0, noise_clip=0.0, n_critics=1, actor_lr=actor_lr, critic_lr=critic_lr,
                         action_low=action_low, action_high=action_high, random_steps=random_steps,
                         gradient_steps=gradient_steps, n_step=n_step, prioritized=prioritized,
                         update_every=update_every, update_after=update_after, buffer_size=buffer_size,
                         hidden=hidden, max_grad_norm=max_grad_norm, state_dtype=state_dtype, seed=seed)

