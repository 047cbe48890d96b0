r"""The fused iteration of the on-policy learners (:class:`~symgraph.rl.PPO`, :class:`~symgraph.rl.ActorCritic`,
:class:`~symgraph.rl.REINFORCE`): a rollout and an update as one pure function, for
:func:`symgraph.rl.fused.train`.

One iteration (as PureJaxRL's ``_update_step``, with no second implementation of any algorithm):

1. **rollout**: ``jax.lax.scan`` over ``T`` steps of the learner's :meth:`act_pure` on the ``num_envs``
   observations and :meth:`JaxEnv.step <symgraph.rl.fused.envs.JaxEnv.step>`, collecting the buffer's fields,
   time-major ``(T, num_envs, ...)``: ``"state"``, ``"action"``, ``"reward"``, ``"next-state"`` (the true next
   observation, the pre-reset one where an episode ended), ``"terminal"`` (the env's ``terminated``),
   ``"truncated"``, and the acting extras (``"raw-action"`` where the env action is mapped from the sample);
2. **update**: the learner's own :meth:`update_pure` on that batch, so returns, advantages, epochs and
   minibatches are exactly those of ``learner.update(buffer)`` on the same transitions: in particular a
   truncated transition bootstraps from :math:`V(s'_t)` of its stored next state and a terminated one from
   0 (see :mod:`symgraph.rl.learners.on_policy`).

Rollout length ``T`` (:func:`rollout_length`, read from the learner's ``schedule``): ``n_steps`` for PPO and
n-step ActorCritic; for the episodic learners (REINFORCE, ActorCritic with ``n_episodes``)
``rollout_size // num_envs`` steps (``n_episodes * episode_length`` steps in
all), of which, as in the Python path, REINFORCE learns from the episodes that end inside the rollout (a
reward-to-go needs the episode's end; a rollout where none ends leaves the learner as it was, as
``learner.update`` waits for an episode to end) and ActorCritic bootstraps the unfinished tails from its critic.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from symgraph import rng
from symgraph.rl.fused.program import EpisodeTally, Program, episode_metrics
from symgraph.rl.learners.reinforce import REINFORCE

__all__ = ["build", "make_rollout", "rollout_keys", "rollout_length", "OnPolicyCarry"]


class OnPolicyCarry(NamedTuple):
    """The loop carry of one seed: the learner state, the current observations, the env state and the key
    of the env steps."""

    learner: dict
    obs: jax.Array
    env_state: object
    key: jax.Array


def rollout_length(learner):
    """Steps per env copy in one rollout, from the learner's :attr:`schedule`: its ``update_every``
    transitions (PPO, n-step ActorCritic: ``n_steps``); for a learner that updates at episode ends
    (REINFORCE, episodic ActorCritic) the steps its storage holds, ``rollout_size // n_envs``."""
    schedule = learner.schedule
    size = learner.rollout_size if schedule.at_episode_end else schedule.update_every
    return max(1, size // learner.n_envs)


def _check(learner, env, total_steps):
    owner = type(learner).__name__
    if env.num_envs != learner.n_envs:
        raise ValueError(f"train: {owner} was built for n_envs={learner.n_envs} env copies but num_envs="
                         f"{env.num_envs}; build the learner with n_envs={env.num_envs} (e.g. "
                         f"{owner}.from_env(env, n_envs={env.num_envs}, ...)) or pass num_envs={learner.n_envs}")
    obs_shape = tuple(env.single_observation_space.shape)
    if obs_shape != tuple(learner.state_shape):
        raise ValueError(f"train: {env.name} returns observations of shape {obs_shape} but {owner} was built for "
                         f"state_shape={tuple(learner.state_shape)}; build it with {owner}.from_env(env, ...)")
    discrete = type(env.single_action_space).__name__ == "Discrete"
    if discrete != learner.discrete:
        what = "discrete" if discrete else "continuous"
        raise ValueError(f"train: {env.name} has {what} actions but {owner}'s policy is "
                         f"{'categorical' if learner.discrete else learner.actor.kind}; build it with "
                         f"{owner}.from_env(env, ...)")
    steps = rollout_length(learner) * env.num_envs
    if total_steps % steps:
        low = max(steps, total_steps // steps * steps)
        raise ValueError(f"train: total_steps={total_steps} is not a multiple of the {steps} env steps of one "
                         f"{owner} iteration (a rollout of {rollout_length(learner)} steps x {env.num_envs} envs); "
                         f"pass total_steps={low} or {low + steps}")
    planned = getattr(learner, "total_steps", None)
    if (getattr(learner, "anneal_lr", False) or getattr(learner, "anneal_clip", False)) and planned != total_steps:
        raise ValueError(f"train: {owner} anneals over total_steps={planned} (its constructor's) but train runs "
                         f"total_steps={total_steps}; build the learner with total_steps={total_steps}")
    return steps


def rollout_keys(key, length, num_envs):
    """``(next key, keys)``: the env-step keys of one rollout, ``(length, num_envs, 2)``, split at once."""
    key, sub = jax.random.split(key)
    return key, jax.random.split(sub, (length, num_envs))


def make_rollout(learner, env):
    """``rollout(carry) -> (carry, batch, stats)``: one rollout of :func:`rollout_length` steps from an
    :class:`OnPolicyCarry`, with ``batch`` the time-major dict :meth:`update_pure` takes (with ``"real"``, every
    row stored) and ``stats`` the ``(tally, env_state)`` arguments of
    :func:`~symgraph.rl.fused.program.episode_metrics`. Pure; the fused iteration is this rollout and
    ``learner.update_pure(carry.learner, batch)``."""
    length = rollout_length(learner)

    def step(carry, step_keys):
        state, obs, env_state, tally = carry
        actions, extras, state = learner.act_pure(state, obs)
        next_obs, env_state, reward, terminated, truncated, final_obs = env.step(step_keys, env_state, actions)
        transition = {"state": obs, "action": actions, "reward": reward, "next-state": final_obs,
                      "terminal": terminated, "truncated": truncated, **extras}
        return (state, next_obs, env_state, tally.add(terminated | truncated, env_state)), transition

    acting_names = tuple(learner._act_fn.state)

    def rollout(carry):
        key, keys = rollout_keys(carry.key, length, env.num_envs)
        # acting reads the networks and writes its sampling key: only those entries go through the loop
        acting = {name: carry.learner[name] for name in acting_names}
        (acting, obs, env_state, tally), batch = jax.lax.scan(
            step, (acting, carry.obs, carry.env_state, EpisodeTally.zeros(env.num_envs)), keys)
        batch["real"] = jnp.ones(length, bool)
        return OnPolicyCarry({**carry.learner, **acting}, obs, env_state, key), batch, (tally, env_state)

    return rollout


def build(learner, env, total_steps):
    """The :class:`~symgraph.rl.fused.program.Program` of an on-policy learner on ``env`` (a
    :class:`~symgraph.rl.fused.envs.JaxEnv` of ``learner.n_envs`` copies) for ``total_steps`` env steps."""
    steps = _check(learner, env, total_steps)
    rollout = make_rollout(learner, env)
    needs_episode_end = isinstance(learner, REINFORCE)

    def init(state, key):
        obs, env_state = env.reset(rng.fold_name(key, "fused/reset"))
        return OnPolicyCarry(state, obs, env_state, rng.fold_name(key, "fused/env"))

    def iteration(carry):
        carry, batch, stats = rollout(carry)
        update, state = learner.update_pure(carry.learner, batch)
        if needs_episode_end:
            # as learner.update(buffer), which waits for an episode to end: no return, no update
            ended = jnp.any(batch["terminal"] | batch["truncated"])
            state = jax.tree_util.tree_map(lambda new, old: jnp.where(ended, new, old), state, carry.learner)
        metrics = episode_metrics(*stats)
        metrics.update({f"update/{name}": jnp.asarray(value, jnp.float32) for name, value in update.items()})
        return carry._replace(learner=state), metrics

    def greedy(state, obs):
        actions, _ = learner.greedy_pure(state, obs)
        return actions

    return Program(init=init, iteration=iteration, learner_state=lambda carry: carry.learner, greedy=greedy,
                   num_iterations=total_steps // steps, steps_per_iteration=steps)
