"""The parameters of one :func:`symgraph.rl.run` call, checked in one place and gathered in one frozen
:class:`RunConfig`; the update schedule the caller leaves to the agent is read from its ``schedule``."""

import functools
import inspect
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from symgraph.rl.learners.base import Learner

__all__ = ["RunConfig", "make_config", "count"]


@dataclass(frozen=True)
class RunConfig:
    """The checked parameters of a run (see :func:`symgraph.rl.run` for each); ``update_every``,
    ``update_after`` and ``wait_end_path`` are resolved (given, else the agent's ``schedule``, else 1, 1,
    False), ``eval_every`` is 0 for no evaluation, ``callbacks`` a tuple, ``checkpoint_path`` a str."""

    max_episode_steps: int | None
    max_episodes: int | None
    max_steps: int | None
    update_every: int
    update_after: int
    wait_end_path: bool
    skip_frames: int
    reset_each_episode: bool
    eval_every: int
    eval_max_episode_steps: int
    eval_max_episodes: int
    seed: int | None
    rewarder: Any
    noise: Any
    action_processor: Any
    callbacks: tuple
    logger: Any
    progress: Any
    checkpoint_every: int | None
    checkpoint_path: str | None
    resume: bool


def count(name, value, minimum, meaning, allow_none=False, owner="run"):
    """``value`` as an int >= ``minimum`` (or None where allowed); a ValueError naming ``name`` otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        none = " or None" if allow_none else ""
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}{none} ({meaning}), got {value!r}")
    return int(value)


def _callable_or_none(name, value, signature):
    if value is not None and not callable(value):
        raise TypeError(f"run: {name} must be a callable {signature} or None, got {type(value).__name__} "
                        f"{value!r}")


def _callbacks(callbacks):
    if callbacks is None:
        return ()
    if callable(callbacks):
        return (callbacks,)
    if isinstance(callbacks, Iterable):
        out = tuple(callbacks)
        for cb in out:
            if not callable(cb):
                raise TypeError(f"run: every callback must be callable (called with a dict of the run's state "
                                f"after each episode), got {type(cb).__name__} {cb!r}")
        return out
    raise TypeError(f"run: callbacks must be a callable or a list of callables, got {type(callbacks).__name__}")


def _schedule(agent, update_every, update_after, wait_end_path):
    """The given values, else the agent's ``schedule`` (``update_every``, ``update_after``,
    ``at_episode_end``), else 1, 1, False."""
    schedule = getattr(agent, "schedule", None)
    if update_every is None:
        update_every = schedule.update_every if schedule is not None else 1
    if update_after is None:
        update_after = schedule.update_after if schedule is not None else 1
    if wait_end_path is None:
        wait_end_path = schedule.at_episode_end if schedule is not None else False
    return update_every, update_after, bool(wait_end_path)


def make_config(agent, *, rewarder, noise, action_processor, max_episode_steps, max_episodes, update_every,
                update_after, skip_frames, reset_each_episode, wait_end_path, eval_every, eval_max_episode_steps,
                eval_max_episodes, max_steps, seed, callbacks, logger, progress, checkpoint_every,
                checkpoint_path, resume):
    """Check :func:`symgraph.rl.run`'s arguments (``agent``: the caller's agent, for its ``schedule`` and
    whether it can be checkpointed) and gather them in a :class:`RunConfig`.

    Raises:
        ValueError, TypeError: an invalid argument (the message names it, the expected and the received
            value, and the fix).
    """
    update_every, update_after, wait_end_path = _schedule(agent, update_every, update_after, wait_end_path)
    max_episode_steps = count("max_episode_steps", max_episode_steps, 1, "the most steps of a training episode",
                              allow_none=True)
    max_episodes = count("max_episodes", max_episodes, 1, "the training episodes to run", allow_none=True)
    update_every = count("update_every", update_every, 1, "the env steps between updates")
    update_after = count("update_after", update_after, 0, "the env steps before the first update")
    skip_frames = count("skip_frames", skip_frames, 1, "the env frames each action is repeated for")
    eval_every = count("eval_every", eval_every, 0, "the training episodes between evaluations; 0: never",
                       allow_none=True) or 0
    eval_max_episode_steps = count("eval_max_episode_steps", eval_max_episode_steps, 1,
                                   "the most steps of an evaluation episode")
    eval_max_episodes = count("eval_max_episodes", eval_max_episodes, 1, "the episodes of each evaluation")
    max_steps = count("max_steps", max_steps, 1, "the most env steps of the run", allow_none=True)
    if max_episodes is None and max_steps is None:
        raise ValueError("run: max_episodes and max_steps are both None, so the run would never stop; "
                         "give at least one of them")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"run: seed must be an int or None, got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"run: seed must be an int >= 0 or None (it seeds env.reset(seed=...), which "
                         f"gymnasium requires to be >= 0), got {seed!r}; pass a seed >= 0")
    _callable_or_none("rewarder", rewarder, "(reward, state, action, next_state) -> reward")
    _callable_or_none("action_processor", action_processor, "(action) -> env action")
    _callable_or_none("noise", noise, "() -> a sample to add to the action")
    if logger is not None and not callable(getattr(logger, "write", None)):
        raise TypeError(f"run: logger must have a write(metrics: dict, step: int) method, got "
                        f"{type(logger).__name__}")
    callbacks = _callbacks(callbacks)
    checkpoint_every, checkpoint_path = _checkpointing(agent, noise, checkpoint_every, checkpoint_path, resume)
    return RunConfig(
        max_episode_steps=max_episode_steps, max_episodes=max_episodes, max_steps=max_steps,
        update_every=update_every, update_after=update_after, wait_end_path=wait_end_path, skip_frames=skip_frames,
        reset_each_episode=bool(reset_each_episode), eval_every=eval_every,
        eval_max_episode_steps=eval_max_episode_steps, eval_max_episodes=eval_max_episodes,
        seed=None if seed is None else int(seed), rewarder=rewarder, noise=noise, action_processor=action_processor,
        callbacks=callbacks, logger=logger, progress=progress, checkpoint_every=checkpoint_every,
        checkpoint_path=checkpoint_path, resume=bool(resume))


def _checkpointing(agent, noise, every, path, resume):
    """The checked ``checkpoint_every`` and ``checkpoint_path`` (a str or None)."""
    every = count("checkpoint_every", every, 1, "the env steps between checkpoints", allow_none=True)
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"run: checkpoint_path must be a path (str or os.PathLike), got {type(path).__name__} "
                        f"{path!r}")
    path = None if path is None else os.fspath(path)
    if path is None and (every is not None or resume):
        given = f"checkpoint_every={every}" if every is not None else "resume=True"
        raise ValueError(f"run: {given} needs checkpoint_path= (the checkpoint file to write/read), got "
                         f"checkpoint_path=None")
    if path is not None and every is None and not resume:
        raise ValueError(f"run: checkpoint_path={path!r} is given but neither checkpoint_every (write "
                         f"checkpoints every N steps) nor resume=True (continue from it): pass one of them, or "
                         f"no checkpoint_path")
    if path is None:
        return every, path
    if not isinstance(agent, Learner):
        raise TypeError(f"run: checkpoints need an agent that can be checkpointed (a symgraph.rl learner, "
                        f"with save/load of its whole state); {type(agent).__name__} has none: "
                        f"drop checkpoint_every/checkpoint_path/resume, or save the agent yourself")
    if noise is not None and (inspect.isfunction(noise) or inspect.ismethod(noise)
                              or isinstance(noise, functools.partial)):
        raise TypeError(f"run: checkpoints store the state of the noise process, but noise is a function "
                        f"({noise!r}) whose state cannot be saved; pass a noise object (e.g. "
                        f"symgraph.rl.GaussianNoise, OrnsteinUhlenbeckNoise, learner.make_noise(...))")
    return every, path
