"""``evaluate(agent, env, episodes)``: the returns of whole episodes of an agent's policy, with no learning,
no noise and no reward shaping. :func:`symgraph.rl.run`'s periodic evaluation, the tabular
:class:`~symgraph.rl.tabular.Trainer` and the command line score policies with it."""

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from gymnasium.vector import SyncVectorEnv, VectorEnv

from symgraph.errors import ShapeError, format_shape
from symgraph.rl.driver.config import count
from symgraph.rl.driver.frames import SkipFrames
from symgraph.rl.envs import check_action, check_observation, make_env

__all__ = ["evaluate", "Evaluation", "CHECKED_STEPS", "env_name"]

#: Actions checked against the action space on the first steps (of training, and of each evaluation).
CHECKED_STEPS = 100


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        returns: the undiscounted return of each episode (float64, in the order they ran).
        lengths: the steps (agent decisions) of each episode (int64).
        successes: with ``success=``, whether each episode succeeded (bool); else None.
        frames: with ``render=True`` and an env whose ``render_mode`` returns images (``"rgb_array"``...),
            the ``env.render()`` of every reset and step, in order; else empty.
    """

    returns: np.ndarray
    lengths: np.ndarray
    successes: np.ndarray | None = None
    frames: list = field(default_factory=list)

    @property
    def mean(self):
        """The mean return."""
        return float(np.mean(self.returns))

    @property
    def std(self):
        """The standard deviation of the returns."""
        return float(np.std(self.returns))


def env_name(env):
    """A short name of ``env`` for messages: its id if it has one, else its class."""
    spec = getattr(env, "spec", None)
    if spec is None and isinstance(getattr(env, "unwrapped", None), SyncVectorEnv):
        spec = getattr(env.unwrapped.envs[0], "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return spec.id
    return type(getattr(env, "unwrapped", env)).__name__


def _seeds(seed, episodes):
    """One reset seed (or None) per episode: ``seed`` on the first reset only, or ``seed[i]`` on the i-th."""
    if seed is None:
        return [None] * episodes
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"evaluate: seed must be >= 0 (gymnasium's reset seeds are), got {seed!r}")
        return [int(seed)] + [None] * (episodes - 1)
    if isinstance(seed, Sequence | np.ndarray) and len(seed) == episodes:
        return [_seeds(s, 1)[0] for s in seed]
    raise TypeError(f"evaluate: seed must be None, an int >= 0 (seeds the first reset) or a sequence of "
                    f"{episodes} ints (one per episode), got {seed!r}")


def evaluate(agent, env, episodes=10, deterministic=True, render=False, *, max_episode_steps=None, seed=None,
             action_processor=None, skip_frames=1, success=None):
    """Run ``episodes`` whole episodes of ``agent``'s policy on ``env`` and return their returns and lengths.

    No learning, no exploration noise and no reward shaping: each step takes
    ``agent.act(state, deterministic=deterministic)`` (through ``action_processor`` if given), for
    ``skip_frames`` env frames (:class:`~symgraph.rl.driver.frames.SkipFrames`), until the episode
    terminates, is truncated by the env, or reaches ``max_episode_steps``.

    Args:
        agent: an agent of :mod:`symgraph.rl.protocol` (its ``act(state, deterministic)``; its
            ``state_shape``, when it has one, is checked against the first observation), or a function
            ``state -> action`` (a policy, called as it is).
        env: a single env, an env id or a factory (see :func:`~symgraph.rl.envs.make_env`); an env made here
            from an id or a factory is closed at the end.
        episodes: the episodes to run (an int >= 1).
        deterministic: ask the agent for its greedy/mean action (``False``: its exploring one).
        render: show or record the episodes. An env made here from an id is made with
            ``render_mode="human"`` (a window: needs a display); a given env must have been made with a
            ``render_mode``: ``"human"`` draws itself, other modes (``"rgb_array"``...) are rendered after
            every reset and step into :attr:`Evaluation.frames`.

    Keyword Args:
        max_episode_steps: cut episodes after this many steps; None: only the env's own limits.
        seed: None (the env's generator as it is), an int >= 0 (the first reset is seeded with it, later
            episodes continue the env's generator) or a sequence of ``episodes`` ints (episode ``i`` resets
            with ``seed[i]``, e.g. ``[s + i for i in range(episodes)]``).
        action_processor: ``action_processor(action) -> env_action``, as in :func:`symgraph.rl.run`.
        skip_frames: the env frames each action is repeated for (rewards summed), as in ``run``.
        success: ``success(episode_return, last_reward, terminated, info) -> bool``, scoring each episode
            into :attr:`Evaluation.successes`.

    Returns:
        An :class:`Evaluation` (``.returns``, ``.lengths``, ``.mean``...).

    Raises:
        ValueError: an invalid argument; an action outside the action space (checked on the first
            ``CHECKED_STEPS`` steps), a NaN or infinite reward, an observation whose shape is not the
            agent's ``state_shape``.
        TypeError: a vector env, an agent without ``act`` that is not a function.
    """
    episodes = count("episodes", episodes, 1, "the episodes to run", owner="evaluate")
    max_episode_steps = count("max_episode_steps", max_episode_steps, 1, "the most steps of an episode",
                              allow_none=True, owner="evaluate")
    skip_frames = count("skip_frames", skip_frames, 1, "the env frames each action is repeated for",
                        owner="evaluate")
    seeds = _seeds(seed, episodes)
    act = getattr(agent, "act", None)
    if not callable(act):
        if not callable(agent):
            raise TypeError(f"evaluate: agent must have act(state, deterministic) or be a function state -> "
                            f"action, got {type(agent).__name__}")
        policy = agent
    else:
        def policy(state):
            return act(state, deterministic=deterministic)
    for name, value in (("action_processor", action_processor), ("success", success)):
        if value is not None and not callable(value):
            raise TypeError(f"evaluate: {name} must be a callable or None, got {type(value).__name__}")
    made = isinstance(env, str) or (callable(env) and not hasattr(env, "step"))
    kwargs = {"render_mode": "human"} if render and isinstance(env, str) else None
    env = make_env(env, record_stats=False, validate=0, env_kwargs=kwargs)
    try:
        return _episodes(env, policy, getattr(agent, "state_shape", None), seeds, max_episode_steps,
                         action_processor, skip_frames, success, render)
    finally:
        if made:
            env.close()


def _episodes(env, policy, state_shape, seeds, limit, processor, skip, success, render):
    if isinstance(env, VectorEnv):
        raise TypeError(f"evaluate: env must be a single env (evaluation runs whole episodes one at a time), "
                        f"got the vector env {env_name(env)}")
    mode = getattr(env, "render_mode", None)
    if render and mode is None:
        raise ValueError(f"evaluate: render=True but the env {env_name(env)} has no render_mode; make it with "
                         f"render_mode='human' (a window) or 'rgb_array' (frames returned)")
    draw = env.render if render and mode != "human" else None
    stepped = SkipFrames(env, skip) if skip > 1 else env
    space, name = env.action_space, env_name(env)
    returns, lengths, successes, frames = [], [], [], []
    checks_left = CHECKED_STEPS
    limit = math.inf if limit is None else limit
    for i, episode_seed in enumerate(seeds):
        obs, info = env.reset(seed=episode_seed) if episode_seed is not None else env.reset()
        if i == 0 and state_shape is not None:
            _check_observation(obs, state_shape, name)
        if draw is not None:
            frames.append(draw())
        total, steps, reward, terminated, done = 0.0, 0, 0.0, False, False
        while not done and steps < limit:
            action = policy(obs)
            if not isinstance(action, int | float | np.ndarray | np.generic):
                action = np.asarray(action)
            env_action = action if processor is None else processor(action)
            if checks_left:
                checks_left -= 1
                _check_action(space, env_action, f"step {steps + 1} of evaluation episode {i + 1} of {name}",
                              processor)
            obs, reward, terminated, truncated, info = stepped.step(env_action)
            if not math.isfinite(reward):
                raise ValueError(f"evaluate: the env {name} returned reward {reward} at step {steps + 1} of "
                                 f"evaluation episode {i + 1}; rewards must be finite: check the environment")
            if draw is not None:
                frames.append(draw())
            total += reward
            steps += 1
            done = terminated or truncated
        returns.append(float(total))
        lengths.append(steps)
        if success is not None:
            successes.append(bool(success(total, reward, terminated, info)))
    return Evaluation(np.asarray(returns, dtype=np.float64), np.asarray(lengths, dtype=np.int64),
                      None if success is None else np.asarray(successes, dtype=bool), frames)


def _check_observation(obs, state_shape, name):
    try:
        check_observation(obs, tuple(state_shape))
    except ShapeError as exc:
        raise ShapeError(f"evaluate: the env {name} returns observations of shape {format_shape(np.shape(obs))}, "
                         f"but the agent has state_shape {format_shape(tuple(state_shape))}: {exc}") from None


def _check_action(space, env_action, where, processor):
    try:
        check_action(space, env_action)
    except ValueError as exc:
        hint = " (after action_processor: check what it returns)" if processor is not None else ""
        raise ValueError(f"evaluate: invalid action at {where}{hint}: {exc}") from None
