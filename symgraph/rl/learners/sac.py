r"""SAC: soft actor-critic, maximum-entropy off-policy learning with a squashed Gaussian policy.

Soft Actor-Critic (Haarnoja, Zhou, Abbeel & Levine 2018, "Soft Actor-Critic: Off-Policy Maximum Entropy
Deep Reinforcement Learning with a Stochastic Actor"; and Haarnoja et al. 2018, "Soft Actor-Critic
Algorithms and Applications", for the twin critics and the learned temperature) maximises
:math:`\mathbb E[\sum_t \gamma^t (r_t + \alpha \mathcal H(\pi(\cdot \mid s_t)))]`. The policy is a
TanhNormal, :math:`a = \tanh(u)`, :math:`u \sim \mathcal N(\mu_\theta(s), \sigma_\theta(s)^2)`
(:class:`symgraph.probabilities.TanhNormal`, reparameterised, log-probability exact near the bounds).
With twin critics :math:`Q_{\phi_{1,2}}` and their Polyak-averaged targets :math:`Q_{\bar\phi_{1,2}}`:

.. math::

    y &= G_t + \gamma_t \big(\min_i Q_{\bar\phi_i}(s_{t+m}, a') - \alpha \log \pi_\theta(a' \mid s_{t+m})\big),
        \quad a' \sim \pi_\theta(\cdot \mid s_{t+m}), \\
    L(\phi) &= \tfrac12 \textstyle\sum_i \operatorname{mean}\big[w\, (Q_{\phi_i}(s_t, a_t) - y)^2\big], \\
    J(\theta) &= \operatorname{mean}\big[\alpha \log \pi_\theta(\tilde a \mid s_t)
        - \min_i Q_{\phi_i}(s_t, \tilde a)\big], \quad \tilde a \sim \pi_\theta(\cdot \mid s_t), \\
    J(\alpha) &= -\operatorname{mean}\big[\log\alpha\, (\log \pi_\theta(\tilde a \mid s_t)
        + \bar{\mathcal H})\big] \quad (\alpha = \text{"auto"}),

with target entropy :math:`\bar{\mathcal H} = -\dim(\mathcal A)` by default, and after every step (or every
``target_update_period`` steps) :math:`\bar\phi \leftarrow \tau\phi + (1 - \tau)\bar\phi`. Each gradient step
makes the critic step, then the policy and temperature steps (which see the new critics; the temperature of
both is the one before this step's update), then the target update, in that order, as SB3 does.

``act`` samples the policy (deterministic: :math:`\tanh\mu_\theta(s)`, the median), rescaled from
``[-1, 1]`` to the env's bounds inside the learner (see
:class:`~symgraph.rl.learners.off_policy.ContinuousActions`).

Example (rl-baselines3-zoo's Pendulum-v1 settings: lr 1e-3, the rest SB3's defaults)::

    agent = rl.SAC.from_env(env, lr=1e-3, random_steps=100)
    rl.run(env, agent, rl.Buffer(1_000_000), update_after=100, max_steps=20_000)
"""

import functools
import math

import numpy as np

import symgraph.tensor as T
from symgraph.nn.optimizers import Adam, check_lr
from symgraph.nodes import Placeholder, Variable
from symgraph.rl.learners.base import records_config
from symgraph.rl.learners.hyperparameters import finite, grad_norm_limit
from symgraph.rl.learners.off_policy import ContinuousActions, OffPolicyLearner, _count, env_spaces, soft_updates
from symgraph.rl.networks import MLPActor, MLPCritic

__all__ = ["SAC"]


class SAC(ContinuousActions, OffPolicyLearner):
    """Soft actor-critic with twin critics, a TanhNormal policy and a fixed or learned temperature (see the
    module docstring for the maths and the papers).

    Args:
        state_shape: the shape of one observation.
        actions_shape: the shape of one (continuous) action (an int ``n`` means ``(n,)``).
        batch_size: transitions per gradient step.
        actor: the policy factory, called as ``actor(states, n_actions=action_dim,
            actions_distribution="tanh_normal", name="actor")`` (e.g. ``rl.MLPActor``, whose TanhNormal
            head outputs a state-dependent log-std clipped to ``[-20, 2]``). None: an MLP of ``hidden``
            ReLU layers.
        critic: the Q(s, a) factory, called as ``critic(states, actions, name=...)``. None: an MLP of
            ``hidden`` ReLU layers.
        lr: the learning rate of every optimizer (Adam), unless ``actor_lr``/``critic_lr``/``alpha_lr``.
        gamma: the discount factor.
        tau: the Polyak coefficient of the target updates.

    Keyword Args:
        alpha: the temperature :math:`\\alpha`: a number > 0 (fixed), or ``"auto"`` (learned, starting at
            ``alpha_init``).
        target_entropy: :math:`\\bar{\\mathcal H}` for ``alpha="auto"``: a number, or ``"auto"`` for
            ``-action_dim``.
        alpha_init: the initial temperature when learned (1.0, as SB3).
        actor_lr, critic_lr, alpha_lr: separate learning rates (numbers or schedules).
        n_critics: the number of critics (2: twin critics; the minimum is used).
        target_update_period: gradient steps between target updates.
        action_low, action_high, random_steps, gradient_steps, n_step, prioritized, update_every, update_after,
        buffer_size, hidden, max_grad_norm, state_dtype, seed: as :class:`~symgraph.rl.learners.td3.TD3`.

    ``update(buffer)`` returns ``{"critic_loss", "q", "actor_loss", "alpha", "entropy"}`` (``entropy``: the
    one-sample estimate :math:`-\\log\\pi`; ``alpha_loss`` too when learned).
    """

    @records_config
    def __init__(self, state_shape, actions_shape, batch_size, actor=None, critic=None, lr=3e-4, gamma=0.99,
                 tau=0.005, *, alpha="auto", target_entropy="auto", alpha_init=1.0, actor_lr=None, critic_lr=None,
                 alpha_lr=None, n_critics=2, target_update_period=1, action_low=-1.0, action_high=1.0,
                 random_steps=0, gradient_steps=1, n_step=1, prioritized=False, update_every=1, update_after=1,
                 buffer_size=1_000_000, hidden=(256, 256), max_grad_norm=None, state_dtype="float32", seed=None):
        owner = type(self).__name__
        super().__init__(state_shape, actions_shape, batch_size, gamma, gradient_steps=gradient_steps,
                         n_step=n_step, prioritized=prioritized, update_every=update_every,
                         update_after=update_after, buffer_size=buffer_size, seed=seed)
        self._continuous_setup(actions_shape, action_low, action_high, random_steps)
        self.tau = finite(owner, "tau", tau, 0.0, 1.0, low_open=True)
        self.learn_alpha = isinstance(alpha, str)
        if not self.learn_alpha or alpha != "auto":
            alpha = finite(owner, "alpha", alpha, 0.0, low_open=True, alternative="'auto' (learned)")
        alpha_init = finite(owner, "alpha_init", alpha_init, 0.0, low_open=True)
        if target_entropy == "auto":
            target_entropy = -float(self.action_dim)
        self.target_entropy = finite(owner, "target_entropy", target_entropy, alternative="'auto' (-action_dim)")
        n_critics = _count(owner, "n_critics", n_critics)
        target_update_period = _count(owner, "target_update_period", target_update_period)
        max_grad_norm = grad_norm_limit(owner, max_grad_norm)
        actor_lr = self._rate("actor_optimizer", lr, actor_lr, "actor_lr")
        critic_lr = self._rate("critic_optimizer", lr, critic_lr, "critic_lr")
        if self.learn_alpha:
            alpha_lr = self._rate("alpha_optimizer", lr, alpha_lr, "alpha_lr")
        elif alpha_lr is not None:
            check_lr(owner, alpha_lr, "alpha_lr")
        make_actor = actor or functools.partial(MLPActor, hidden=tuple(hidden), activation="relu")
        make_critic = critic or functools.partial(MLPCritic, hidden=tuple(hidden), activation="relu")

        with self.graph:
            batch = self._make_batch(state_dtype, self.action_shape, "float32")
            states, next_states = batch["state"], batch["next-state"]
            #: The TanhNormal policy (actions in [-1, 1]).
            self.actor = make_actor(states, n_actions=self.action_dim, actions_distribution="tanh_normal",
                                    name="actor")
            #: log(alpha): a trainable Variable when learned, else the log of the fixed ``alpha``, which is held
            #: in the state Variable ``hyperparameters/alpha``.
            if self.learn_alpha:
                self.log_alpha = Variable(np.float32(math.log(alpha_init)), name="log_alpha")
                alpha_value = T.stop_gradient(T.exp(self.log_alpha))
            else:
                alpha_value = self._hold("alpha", alpha)
                self.log_alpha = T.log(alpha_value)
            self.critics = [make_critic(states, self._normalised(batch["action"]), name=f"q{i + 1}")
                            for i in range(int(n_critics))]

            # Critic phase.
            next_actions, next_log_prob = self.actor.apply(next_states).sample_and_log_prob()
            next_actions = T.reshape(next_actions, (-1, self.action_dim))
            self.target_critics = [c.copy(states=next_states, actions=next_actions) for c in self.critics]
            next_q = self.target_critics[0].values
            for target in self.target_critics[1:]:
                next_q = T.minimum(next_q, target.values)
            y = T.stop_gradient(batch["reward"] + batch["discount"] * (next_q - alpha_value * next_log_prob))
            errors = [c.values - y for c in self.critics]
            critic_loss = 0.5 * sum(T.mean(batch["weight"] * T.square(e)) for e in errors)
            self.critic_optimizer = Adam(critic_loss, critic_lr, params=[p for c in self.critics for p in c.params],
                                         max_grad_norm=max_grad_norm, name="critic_adam")
            outputs = {"critic_loss": critic_loss, "q": T.mean(self.critics[0].values)}
            if self.prioritized:
                outputs["priority"] = T.abs(errors[0])
            self._add_phase("critic", ("state", "action", "reward", "discount", "next-state", "weight"), outputs,
                            self.critic_optimizer.updates)

            # Policy (and temperature) phase, on the critics just updated.
            actions, log_prob = self.actor.sample_and_log_prob()
            actions = T.reshape(actions, (-1, self.action_dim))
            policy_q = self.critics[0].apply(actions=actions).values
            for c in self.critics[1:]:
                policy_q = T.minimum(policy_q, c.apply(actions=actions).values)
            actor_loss = T.mean(alpha_value * log_prob - policy_q)
            self.actor_optimizer = Adam(actor_loss, actor_lr, params=self.actor.params,
                                        max_grad_norm=max_grad_norm, name="actor_adam")
            updates = dict(self.actor_optimizer.updates)
            outputs = {"actor_loss": actor_loss, "alpha": alpha_value, "entropy": -T.mean(log_prob)}
            if self.learn_alpha:
                alpha_loss = -T.mean(self.log_alpha * T.stop_gradient(log_prob + self.target_entropy))
                self.alpha_optimizer = Adam(alpha_loss, alpha_lr, params=[self.log_alpha], name="alpha_adam")
                updates.update(self.alpha_optimizer.updates)
                outputs["alpha_loss"] = alpha_loss
            self._add_phase("actor", ("state",), outputs, updates)

            # Target phase.
            targets = {}
            tau = self._polyak(self.tau)
            for c, t in zip(self.critics, self.target_critics):
                targets.update(soft_updates(c.pairs(t), tau))
            self._add_phase("target_update", (), None, targets, period=int(target_update_period))

            observations = Placeholder((None, *self.state_shape), state_dtype, name="observations")
            policy = self.actor.apply(observations)
            self._build_act(observations, T.reshape(policy.actions, (-1, self.action_dim)),
                            T.reshape(policy.mode, (-1, self.action_dim)))
        self._compile()

    @property
    def alpha(self):
        """The current temperature :math:`\\alpha` (a float)."""
        if self.learn_alpha:
            return float(np.exp(self.log_alpha.value))
        return float(self._hyperparameters["alpha"].value)

    @classmethod
    @records_config
    def from_env(cls, env, batch_size=256, actor=None, critic=None, **kwargs):
        """A SAC learner for ``env``'s spaces (an env or an id); other arguments as :class:`SAC`.

        Raises:
            ValueError: the env's actions are not continuous (``Box``).
        """
        info = env_spaces(f"{cls.__name__}.from_env", env, discrete=False)
        return cls(info.obs_shape, info.action_shape, batch_size, actor, critic, action_low=info.action_low,
                   action_high=info.action_high, state_dtype=info.obs_dtype, **kwargs)
