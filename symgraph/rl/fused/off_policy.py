r"""The fused loop of the off-policy learners (:class:`~symgraph.rl.DQN` with every switch, QR-DQN,
:class:`~symgraph.rl.DDPG`, :class:`~symgraph.rl.TD3`, :class:`~symgraph.rl.SAC`): acting, env steps, an
on-device replay buffer and updates as one pure function, for :func:`symgraph.rl.fused.train`.

One iteration takes ``update_every`` env steps (all copies together) and then the updates that became due,
with the same schedule as :func:`symgraph.rl.run` (``update_every``, ``update_after``: the learner's
:attr:`~symgraph.rl.learners.off_policy.OffPolicyLearner.schedule`, unless the options give them):

1. **acting**, ``jax.lax.scan`` over vector steps: the learner's own :meth:`act_pure` (DQN's ε-greedy
   with its schedule, or its NoisyNet; SAC's policy sample; TD3/DDPG's deterministic policy plus Gaussian
   noise of standard deviation ``noise``, given in the policy's ``[-1, 1]`` units and clipped to the
   action bounds, as :meth:`~symgraph.rl.learners.off_policy.ContinuousActions.make_noise` does for
   ``run``), with uniformly random actions instead while fewer than ``update_after`` steps were taken
   (SB3's ``learning_starts``); then :meth:`JaxEnv.step <symgraph.rl.fused.envs.JaxEnv.step>` and
   :func:`replay.add <symgraph.rl.fused.replay.add>` of ``{"state", "action", "reward", "next-state"
   (the pre-reset observation where an episode ended), "terminal", "truncated"}``;
2. **updates**: after every ``update_every``-th step ``t`` with ``t >= update_after`` (and at least
   ``batch_size`` stored transitions), one update as ``learner.update(buffer)`` makes it: ``gradient_steps``
   minibatches drawn from the replay (uniformly, or by priority with importance weights for
   ``prioritized``), their n-step returns and discounts (:func:`replay.n_step_targets
   <symgraph.rl.fused.replay.n_step_targets>`, the host path's semantics: a termination stops the
   bootstrap, a truncation bootstraps), the learner's own :meth:`update_pure` over them, and the new
   ``|delta|`` as priorities.

The updates of an iteration run in a ``jax.lax.fori_loop`` whose trip count is the number due: under
``jax.vmap`` over seeds every seed has the same count, so the warm-up iterations run no update at all
(a ``jax.lax.cond`` would run both branches once vmapped).

The replay options (the keyword arguments of :func:`build`, given to :func:`~symgraph.rl.fused.train` as its
``options`` dict) are those of the Python path's ``rl.run`` and :class:`~symgraph.rl.buffer.Buffer`:
``buffer_size`` (the Buffer's ``maxlen``), ``update_every``, ``update_after`` (both default to the learner's
schedule), ``noise``, and the prioritised replay's ``alpha`` and ``beta``. For example, rl-baselines3-zoo's
CartPole-v1 DQN, two seeds in one program::

    env = gymnax.make("CartPole-v1")
    agent = rl.DQN.from_env(env, batch_size=64, lr=2.3e-3, hidden=(256, 256), gradient_steps=128,
                            target_update_period=128, epsilon=schedules.linear(1.0, 0.04, 8000),
                            update_every=256, update_after=1000)
    result = rl.train(env, agent, 49_920, seeds=2, options={"buffer_size": 100_000})

Speed: on a 2-core CPU (shared, load about 3) one seed of that DQN ran at 3.6k env steps/s against 3.4k
for ``rl.run`` on gymnasium's CartPole (the 128 gradient steps per 256 env steps dominate either way), and 4
seeds vmapped at 8.3k steps/s in all; SAC with [64, 64] networks on Pendulum-v1 at 1.7k steps/s against 0.74k
(1 seed) and 2.1k (4 seeds), plus 5 to 10 s of compilation per program.
"""

import dataclasses
import functools
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from symgraph import rng
from symgraph.rl.fused import replay
from symgraph.rl.fused.program import EpisodeTally, Program, episode_metrics
from symgraph.rl.learners.off_policy import OffPolicyLearner
from symgraph.rl.learners.td3 import TD3

__all__ = ["build", "sample_batch", "replay_update", "OffPolicyCarry", "DEFAULT_NOISE"]

#: TD3/DDPG's exploration noise (standard deviation in the policy's ``[-1, 1]`` units) when ``noise`` is None:
#: rl-baselines3-zoo's ``normal`` noise of ``sigma = 0.1``.
DEFAULT_NOISE = 0.1


class OffPolicyCarry(NamedTuple):
    """The loop carry of one seed.

    Attributes:
        learner: the learner state (:attr:`~symgraph.rl.learners.off_policy.OffPolicyLearner.state`).
        replay: the :class:`~symgraph.rl.fused.replay.ReplayBuffer`.
        obs: the current observations ``(num_envs, *obs_shape)``.
        env_state: the :class:`~symgraph.rl.fused.envs.EnvState`.
        key: the key of the env steps, exploration and sampling.
        steps: the env steps taken (int32, all copies together).
        draws: the minibatches drawn so far (int32; the step of a ``beta`` schedule).
    """

    learner: dict
    replay: replay.ReplayBuffer
    obs: jax.Array
    env_state: object
    key: jax.Array
    steps: jax.Array
    draws: jax.Array


def _count(name, value, minimum, meaning):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"train: {name} must be an int >= {minimum} ({meaning}), got {value!r}")
    return int(value)


def _check_env(learner, env):
    owner = type(learner).__name__
    obs_shape = tuple(env.single_observation_space.shape)
    if obs_shape != tuple(learner.state_shape):
        raise ValueError(f"train: {env.name} returns observations of shape {obs_shape} but {owner} was built for "
                         f"state_shape={tuple(learner.state_shape)}; build it with {owner}.from_env(env, ...)")
    space = env.single_action_space
    discrete = type(space).__name__ == "Discrete"
    if learner.discrete:
        if not discrete or int(space.n) != learner.n_actions:
            raise ValueError(f"train: {owner} acts with {learner.n_actions} discrete actions but {env.name}'s "
                             f"action space is {space}; build it with {owner}.from_env(env, ...)")
        return
    if discrete or tuple(space.shape) != tuple(learner.action_shape):
        raise ValueError(f"train: {owner} acts with continuous actions of shape {tuple(learner.action_shape)} but "
                         f"{env.name}'s action space is {space}; build it with {owner}.from_env(env, ...)")
    low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
    if not (np.allclose(low, learner.action_low) and np.allclose(high, learner.action_high)):
        raise ValueError(f"train: {owner} maps its policy onto the action bounds [{learner.action_low}, "
                         f"{learner.action_high}] but {env.name}'s are [{low}, {high}]; build it with "
                         f"{owner}.from_env(env, ...)")


def _iteration_shape(update_every, num_envs, total_steps, owner):
    """``(vector steps per iteration, env steps per iteration)``."""
    if update_every % num_envs == 0:
        vector_steps = update_every // num_envs
    elif num_envs % update_every == 0:
        vector_steps = 1
    else:
        raise ValueError(f"train: update_every={update_every} must be a multiple or a divisor of num_envs="
                         f"{num_envs} (one vector step adds num_envs transitions); pass e.g. update_every="
                         f"{max(num_envs, update_every // num_envs * num_envs)}")
    steps = vector_steps * num_envs
    if total_steps % steps:
        low = max(steps, total_steps // steps * steps)
        raise ValueError(f"train: total_steps={total_steps} is not a multiple of the {steps} env steps of one "
                         f"{owner} iteration (max(update_every, num_envs)); pass total_steps={low} or "
                         f"{low + steps}")
    return vector_steps, steps


def _replay_options(learner, alpha, beta):
    """``(alpha, beta)`` of a prioritised replay; an error if they are given without ``prioritized``."""
    owner = type(learner).__name__
    if not learner.prioritized:
        given = [name for name, value in (("alpha", alpha), ("beta", beta)) if value is not None]
        if given:
            raise ValueError(f"train: {given[0]} is an option of prioritised replay, but {owner} was built with "
                             f"prioritized=False; build it with prioritized=True or leave {given[0]} out")
        return 0.6, None
    alpha = 0.6 if alpha is None else alpha
    beta = 0.4 if beta is None else beta
    if not callable(beta) and (isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0):
        raise ValueError(f"train: beta must be a number >= 0 or a schedule of the minibatches drawn (e.g. "
                         f"symgraph.nn.schedules.linear(0.4, 1.0, n)), got {beta!r}")
    return alpha, beta


def _noise(learner, noise):
    owner = type(learner).__name__
    if not isinstance(learner, TD3):
        if noise is not None:
            how = "epsilon-greedy or NoisyNet" if learner.discrete else "its stochastic policy"
            raise ValueError(f"train: noise is the Gaussian exploration noise of a deterministic policy (TD3, "
                             f"DDPG); {owner} explores by itself ({how}): leave noise out")
        return 0.0
    noise = DEFAULT_NOISE if noise is None else noise
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"train: noise must be a number >= 0 (the standard deviation of TD3/DDPG's Gaussian "
                         f"exploration noise in the policy's [-1, 1] units, e.g. 0.1), got {noise!r}")
    return float(noise)


def sample_batch(learner, buffer, key, *, draws=0, beta=None, gamma=None):
    """``(batch, indices)``: the ``gradient_steps`` minibatches of one update drawn from an on-device
    replay, as :meth:`~symgraph.rl.learners.off_policy.OffPolicyLearner.sample_batches` draws them from the
    host Buffer: a dict of :data:`~symgraph.rl.learners.off_policy.BATCH_FIELDS` arrays of shape
    ``(gradient_steps, batch_size, ...)`` (n-step returns and discounts included) and the sampled slots
    ``(gradient_steps, batch_size)``.

    Args:
        learner: the off-policy learner (its ``gradient_steps``, ``batch_size``, ``gamma``, ``n_step``).
        buffer: a :class:`~symgraph.rl.fused.replay.ReplayBuffer` with the fields :func:`build` stores.
        key: a PRNG key.
        draws: the minibatches drawn before (the step of a ``beta`` schedule; an int or an int array).
        beta: a prioritised buffer's importance-sampling exponent: a number or a schedule of ``draws``.
        gamma: the discount (a number or a scalar array, e.g. the learner state's ``hyperparameters/gamma``
            entry); None: ``learner.gamma``.
    """
    steps, size = learner.gradient_steps, learner.batch_size

    def one(key, draw):
        value = 0.0 if beta is None else (beta(draw) if callable(beta) else beta)
        drawn = replay.sample(buffer, key, size, beta=value, fields=("state", "action"))
        targets = replay.n_step_targets(buffer, drawn["indices"], learner.gamma if gamma is None else gamma,
                                        learner.n_step)
        return {"state": drawn["state"], "action": drawn["action"], "reward": targets["reward"],
                "discount": targets["discount"], "next-state": targets["next-state"],
                "weight": drawn["weights"]}, drawn["indices"]

    return jax.vmap(one)(jax.random.split(key, steps), draws + jnp.arange(steps))


def replay_update(learner, state, buffer, key, *, draws=0, beta=None):
    r"""``(metrics, new_state, new_buffer)``: one ``learner.update(buffer)`` on an on-device replay, as a pure
    function: :func:`sample_batch`, the learner's own
    :meth:`~symgraph.rl.learners.off_policy.OffPolicyLearner.update_pure`, and for a prioritised learner the
    new priorities :math:`|\delta|` of the sampled transitions
    (:func:`~symgraph.rl.fused.replay.update_priorities`). ``metrics`` are the update's, ``"priority"`` left
    out. The discount is the one held in ``state`` (so that ``rl.train``'s ``state_overrides`` can give each
    seed its own)."""
    gamma = state[learner.hyperparameter_variables()["gamma"][0].name]
    batch, indices = sample_batch(learner, buffer, key, draws=draws, beta=beta, gamma=gamma)
    metrics, state = learner.update_pure(state, batch)
    priorities = metrics.pop("priority", None)
    if learner.prioritized:
        buffer = replay.update_priorities(buffer, indices.reshape(-1), priorities.reshape(-1))
    return metrics, state, buffer


def build(learner, env, total_steps, *, buffer_size=None, update_every=None, update_after=None, noise=None,
          alpha=None, beta=None):
    """The :class:`~symgraph.rl.fused.program.Program` of an off-policy learner on ``env`` (a
    :class:`~symgraph.rl.fused.envs.JaxEnv`) for ``total_steps`` env steps (see the module docstring).

    Args:
        learner: a :class:`~symgraph.rl.DQN`, :class:`~symgraph.rl.DDPG`, :class:`~symgraph.rl.TD3` or
            :class:`~symgraph.rl.SAC` built for ``env``'s spaces.
        env: the :class:`~symgraph.rl.fused.envs.JaxEnv` (``env.num_envs`` copies).
        total_steps: env steps per seed, all copies together: a multiple of ``max(update_every, num_envs)``.

    Keyword Args:
        buffer_size: the replay's capacity in transitions (None: ``total_steps``, everything is kept).
        update_every: env steps between updates (``rl.run``'s): a multiple or a divisor of ``num_envs``
            (None: the learner's ``schedule.update_every``).
        update_after: env steps of uniformly random actions before the first update (None: the learner's
            ``schedule.update_after``).
        noise: TD3/DDPG only: the standard deviation of the Gaussian exploration noise, in the policy's
            ``[-1, 1]`` units (None: :data:`DEFAULT_NOISE`).
        alpha, beta: prioritised replay only (``prioritized=True``): the priority exponent (0.6) and the
            importance-sampling exponent (0.4), a number or a schedule of the number of minibatches drawn,
            as the host :class:`~symgraph.rl.buffer.Buffer`'s.

    Raises:
        TypeError: ``learner`` is not an off-policy learner.
        ValueError: a learner that does not fit ``env``, a bad option, an option its learner does not use,
            or ``total_steps`` not a multiple of an iteration.
    """
    if not isinstance(learner, OffPolicyLearner):
        raise TypeError(f"train: expected an off-policy learner (DQN, QRDQN, DDPG, TD3, SAC), got "
                        f"{type(learner).__name__}")
    owner = type(learner).__name__
    _check_env(learner, env)
    total_steps = _count("total_steps", total_steps, 1, "env steps per seed")
    schedule = learner.schedule
    update_every = _count("update_every", schedule.update_every if update_every is None else update_every, 1,
                          "env steps between updates")
    update_after = _count("update_after", schedule.update_after if update_after is None else update_after, 0,
                          "env steps of random actions before the first update")
    capacity = total_steps if buffer_size is None else _count("buffer_size", buffer_size, 1,
                                                              "the replay's capacity in transitions")
    alpha, beta = _replay_options(learner, alpha, beta)
    sigma = _noise(learner, noise)
    vector_steps, steps = _iteration_shape(update_every, env.num_envs, total_steps, owner)
    n_envs, batch_size, gradient_steps = env.num_envs, learner.batch_size, learner.gradient_steps
    first_update = -(-max(update_after, 1) // update_every) * update_every
    discrete = learner.discrete
    if discrete:
        action_shape, action_dtype = (), jnp.int32
    else:
        action_shape, action_dtype = tuple(learner.action_shape), jnp.float32
        low, high = jnp.asarray(learner.action_low), jnp.asarray(learner.action_high)
        half = (high - low) / 2
    example = {"state": jnp.zeros((n_envs, *learner.state_shape), env.single_observation_space.dtype),
               "action": jnp.zeros((n_envs, *action_shape), action_dtype),
               "reward": jnp.zeros(n_envs, jnp.float32),
               "next-state": jnp.zeros((n_envs, *learner.state_shape), env.single_observation_space.dtype),
               "terminal": jnp.zeros(n_envs, bool), "truncated": jnp.zeros(n_envs, bool)}
    new_replay = functools.partial(replay.init, capacity, example, prioritized=learner.prioritized, alpha=alpha)
    metric_names = list(jax.eval_shape(
        lambda state, key: replay_update(learner, state, new_replay(), key, beta=beta)[0], learner.state,
        jnp.zeros(2, jnp.uint32)))

    acting_names = tuple(learner.act_function.state)

    def explore(state, obs, steps, key):
        actions, _, state = learner.act_pure(state, obs)
        noise_key, random_key = jax.random.split(key)
        if discrete:
            uniform = jax.random.randint(random_key, (n_envs,), 0, learner.n_actions, jnp.int32)
        else:
            if sigma:
                actions = jnp.clip(actions + sigma * half * jax.random.normal(noise_key, actions.shape), low, high)
            uniform = jax.random.uniform(random_key, actions.shape, jnp.float32, low, high)
        return jnp.where(steps < update_after, uniform, actions).astype(action_dtype), state

    def env_step(loop, _):
        carry, tally = loop
        key, act_key, step_key = jax.random.split(carry.key, 3)
        actions, state = explore(carry.learner, carry.obs, carry.steps, act_key)
        obs, env_state, reward, terminated, truncated, final_obs = env.step(step_key, carry.env_state, actions)
        buffer = replay.add(carry.replay, {"state": carry.obs, "action": actions, "reward": reward,
                                           "next-state": final_obs, "terminal": terminated, "truncated": truncated})
        carry = carry._replace(learner=state, replay=buffer, obs=obs, env_state=env_state, key=key,
                               steps=carry.steps + n_envs)
        return (carry, tally.add(terminated | truncated, env_state)), None

    def update(buffer, key, draws, state):
        metrics, state, buffer = replay_update(learner, state, buffer, key, draws=draws, beta=beta)
        return {name: jnp.asarray(metrics[name], jnp.float32) for name in metric_names}, state, buffer

    def due(before, after, size):
        """The updates due between ``before`` and ``after`` env steps (``rl.run``'s schedule)."""
        last = after // update_every
        skipped = jnp.maximum(before // update_every, first_update // update_every - 1)
        return jnp.where(size >= batch_size, jnp.maximum(last - skipped, 0), 0)

    def init(state, key):
        obs, env_state = env.reset(rng.fold_name(key, "fused/reset"))
        return OffPolicyCarry(state, new_replay(), obs, env_state, rng.fold_name(key, "fused/env"), jnp.int32(0),
                              jnp.int32(0))

    def iteration(carry):
        before = carry.steps
        # Acting reads and writes a few entries of the learner state: only those go through the env loop.
        acting = carry._replace(learner={name: carry.learner[name] for name in acting_names})
        (acting, tally), _ = jax.lax.scan(env_step, (acting, EpisodeTally.zeros(n_envs)), None, length=vector_steps)
        carry = acting._replace(learner={**carry.learner, **acting.learner})
        key, update_key = jax.random.split(carry.key)
        stored = carry.replay

        def body(i, loop):
            # Only the priorities change: the transitions stay out of the loop's carry (which vmap selects).
            state, priorities, max_priority, draws, sums = loop
            buffer = dataclasses.replace(stored, priorities=priorities, max_priority=max_priority)
            metrics, state, buffer = update(buffer, jax.random.fold_in(update_key, i), draws, state)
            sums = {name: sums[name] + metrics[name] for name in metric_names}
            return state, buffer.priorities, buffer.max_priority, draws + gradient_steps, sums

        n = due(before, carry.steps, stored.size)
        zeros = {name: jnp.float32(0.0) for name in metric_names}
        state, priorities, max_priority, draws, sums = jax.lax.fori_loop(
            0, n, body, (carry.learner, stored.priorities, stored.max_priority, carry.draws, zeros))
        buffer = dataclasses.replace(stored, priorities=priorities, max_priority=max_priority)
        metrics = episode_metrics(tally, carry.env_state)
        metrics.update({f"update/{name}": jnp.where(n > 0, sums[name] / jnp.maximum(n, 1), jnp.nan)
                        for name in metric_names})
        return carry._replace(learner=state, replay=buffer, key=key, draws=draws), metrics

    def greedy(state, obs):
        actions, _ = learner.greedy_pure(state, obs)
        return actions

    return Program(init=init, iteration=iteration, learner_state=lambda carry: carry.learner, greedy=greedy,
                   num_iterations=total_steps // steps, steps_per_iteration=steps)

