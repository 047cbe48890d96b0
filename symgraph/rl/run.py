"""``run(env, agent, buffer, ...)``: the generic training loop that drives any agent of the protocol in
:mod:`symgraph.rl.protocol` on any environment :func:`symgraph.rl.envs.make_env` accepts, with periodic
evaluation of the deterministic policy.

One *step* below is one decision of the agent: one ``act``, one transition stored, one ``observe``. With
``skip_frames=k`` a step repeats the action for up to ``k`` environment frames (``env.step`` calls); with a
vector environment of ``n`` sub-environments a vector step counts as ``n`` steps (``n`` transitions). Step
counters (``update_every``, ``update_after``, ``max_steps``, ``total_steps``) count these transitions.

Per step, ``run``:

1. asks the agent for an action (``act_and_extras(state)`` if it has it, else ``act(state)``), adds
   ``noise()`` (clipped to the bounds of a ``Box`` action space) and maps it through ``action_processor``;
2. steps the environment (``skip_frames`` times, rewards summed, stopping at the end of the episode);
3. shapes the reward with ``rewarder`` and pushes ``{"state", "action", "reward", "next-state", "terminal",
   "truncated", **extras}`` to the buffer (``"terminal"`` is the environment's ``terminated`` only;
   ``"truncated"`` marks time limits, the env's or ``max_episode_steps``), and calls ``observe`` for
   per-step agents;
4. at the end of an episode calls ``buffer.finish_path(last_val)`` with ``last_val = 0`` after a
   termination and ``value(next_state)`` after a truncation (bootstrap), then the scheduled updates, then
   ``end_episode()``, the logger, the callbacks and the evaluation. An agent whose
   ``needs_path_returns`` is False (every symgraph learner: they compute their returns from the stored
   rewards themselves) gets no ``finish_path`` calls, so its buffer holds no ``"reward-to-go"``,
   ``"advantage"`` or ``"TD-error"``.

After every update that returns metrics, ``run`` checks that no loss metric became NaN or infinite, and
raises :class:`TrainingDiverged` if one did (see ``run``'s docstring). With
``checkpoint_every``/``checkpoint_path`` it writes checkpoints (:mod:`symgraph.rl.checkpoint`) from which
``resume=True`` continues a run exactly as if it had not been interrupted.
"""

import copy
import functools
import inspect
import math
import numbers
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from symgraph.errors import SaveLoadError, ShapeError, SymgraphError, format_shape
from symgraph.io import remove_stale_temporaries
from symgraph.rl import checkpoint
from symgraph.rl.envs import check_action, check_observation, final_observations, make_env
from symgraph.rl.learners.base import Learner
from symgraph.rl.progress import progress_bar, progress_enabled
from symgraph.rl.protocol import StepAgent, as_agent

__all__ = ["run", "RunResult", "TrainingDiverged"]

#: Actions checked against the action space on the first steps of training (and of evaluation).
CHECKED_STEPS = 100

#: The evaluation env's first reset is seeded with ``seed + EVAL_SEED_OFFSET``.
EVAL_SEED_OFFSET = 1_000_000

_STORED_FIELDS = ("state", "action", "reward", "next-state", "terminal", "truncated")

#: The settings a resumed run must share with the run that wrote the checkpoint.
_RESUME_SETTINGS = ("env", "n_envs", "seed", "max_episode_steps", "update_every", "update_after", "skip_frames",
                    "wait_end_path", "reset_each_episode", "eval_every", "eval_max_episode_steps",
                    "eval_max_episodes")


class TrainingDiverged(SymgraphError, FloatingPointError):
    """Training diverged: after an update, a loss metric is not finite (see :func:`run`).

    Attributes:
        step: the env steps (transitions) taken when the update ran.
        update: the number of the update (counting the updates that returned metrics, from 1).
        terms: ``{metric name: value}`` of the loss metrics that are not finite.
        checkpoint_path: the run's checkpoint file, or None.
        checkpoint_step: the step at which that file was last written (None: never written by this run).
    """

    def __init__(self, message, step, update, terms, checkpoint_path, checkpoint_step):
        super().__init__(message)
        self.step, self.update, self.terms = step, update, terms
        self.checkpoint_path, self.checkpoint_step = checkpoint_path, checkpoint_step


@jax.jit
def _state_broken(state):
    """Whether a learner's state (a dict of arrays) holds a NaN or an infinity (one compiled reduction)."""
    floats = [v for v in jax.tree.leaves(state) if jnp.issubdtype(v.dtype, jnp.inexact)]
    return jnp.any(jnp.stack([~jnp.all(jnp.isfinite(v)) for v in floats])) if floats else jnp.bool_(False)


@dataclass
class RunResult:
    """What :func:`run` returns.

    Attributes:
        episode_returns: the undiscounted return of each finished training episode, with the environment's
            own rewards (before ``rewarder``), in the order they ended.
        episode_lengths: the number of steps (agent decisions) of each of those episodes.
        episode_steps: ``total_steps`` when each of those episodes ended (an x-axis for learning curves).
        losses: the dict of metrics returned by each ``update`` call that returned one, values converted to
            Python floats (scalars) or numpy arrays.
        update_steps: ``total_steps`` at each entry of ``losses``.
        eval_returns: one ``(total_steps, mean return)`` pair per evaluation.
        total_steps: the steps (transitions) taken.
        total_frames: the ``env.step`` calls of training (``total_steps`` times ``skip_frames`` at most).
        wall_time: the seconds ``run`` took.
        stop_reason: ``"max_episodes"``, ``"max_steps"`` or ``"callback"``.
    """

    episode_returns: list = field(default_factory=list)
    episode_lengths: list = field(default_factory=list)
    episode_steps: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    update_steps: list = field(default_factory=list)
    eval_returns: list = field(default_factory=list)
    total_steps: int = 0
    total_frames: int = 0
    wall_time: float = 0.0
    stop_reason: str = ""

    @property
    def episodes(self):
        """The number of finished training episodes."""
        return len(self.episode_returns)


# ---------------------------------------------------------------------------------------------------------
# Argument checks


def _count(name, value, minimum, meaning, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        none = " or None" if allow_none else ""
        raise ValueError(f"run: {name} must be an int >= {minimum}{none} ({meaning}), got {value!r}")
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


def _env_name(env):
    """A short name for messages: the env id if it has one, else its class."""
    spec = getattr(env, "spec", None)
    if spec is None and isinstance(getattr(env, "unwrapped", None), SyncVectorEnv):
        spec = getattr(env.unwrapped.envs[0], "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return spec.id
    return type(getattr(env, "unwrapped", env)).__name__


def _make_eval_env(given, env):
    """A separate single-env instance for evaluation, made from ``given`` (what the caller passed as ``env``)
    or from ``env`` (the training env): the same id, spec or (failing those) a deep copy."""
    if isinstance(given, str) or (callable(given) and not hasattr(given, "step")):
        return make_env(given, record_stats=False, validate=0)  # an id or a factory: a new instance
    base = env
    if isinstance(env, VectorEnv):
        subs = getattr(env.unwrapped, "envs", None)
        if subs:
            base = subs[0]
        else:
            spec = getattr(env, "spec", None)
            if spec is not None and getattr(spec, "id", None):
                kwargs = {k: v for k, v in spec.kwargs.items()
                          if k not in ("num_envs", "vectorization_mode", "vector_kwargs", "wrappers")}
                return gymnasium.make(spec.id, **kwargs)
            raise ValueError(f"run: cannot make a single evaluation env from the vector env {_env_name(env)} "
                             f"(no id or sub-environments to copy); pass eval_env=... or eval_every=0")
    spec = getattr(base, "spec", None)
    if spec is not None:
        try:
            return gymnasium.make(spec)
        except Exception:  # a wrapper that cannot be recreated from the spec: copy the env instead
            pass
    try:
        return copy.deepcopy(base)
    except Exception as exc:
        raise ValueError(f"run: cannot make a separate evaluation env from {_env_name(env)} (no id or spec to "
                         f"make it from, and it cannot be deep-copied: {exc}); pass eval_env=... (another "
                         f"instance) or eval_every=0 (no evaluation)") from exc


def _metrics_to_python(metrics):
    out = {}
    for key, value in metrics.items():
        arr = np.asarray(value)
        out[key] = arr.item() if arr.size == 1 and arr.dtype.kind in "biuf" else arr
    return out


def _means(metric_dicts):
    """The mean of each scalar metric over some update results, for the logger."""
    sums, counts = {}, {}
    for metrics in metric_dicts:
        for key, value in metrics.items():
            arr = np.asarray(value)
            if arr.size == 1 and arr.dtype.kind in "biuf":
                sums[key] = sums.get(key, 0.0) + float(arr.reshape(()))
                counts[key] = counts.get(key, 0) + 1
    return {f"update/{k}": sums[k] / counts[k] for k in sums}


# ---------------------------------------------------------------------------------------------------------
# The driver


def run(env, agent, buffer, rewarder=None, noise=None, action_processor=None, max_episode_steps=10000,
        max_episodes=1000, update_every=1, update_after=1, skip_frames=1, reset_each_episode=False,
        wait_end_path=False, eval_every=10, eval_max_episode_steps=10000, eval_max_episodes=10, *,
        max_steps=None, seed=None, callbacks=(), logger=None, progress=False, eval_env=None,
        checkpoint_every=None, checkpoint_path=None, resume=False):
    """Train ``agent`` on ``env``, storing transitions in ``buffer``, with periodic deterministic evaluation.

    The agent follows :mod:`symgraph.rl.protocol`: ``act(states, deterministic=False)``, an
    ``update(buffer)`` hook returning a dict of metrics or ``None`` (or ``observe(...)`` for per-step
    learners), and ``end_episode()``; optional ``act_and_extras``, ``value`` and ``state_shape``. A tabular
    agent (whose ``update`` takes one transition) is adapted automatically
    (:class:`~symgraph.rl.protocol.StepAgent`). Nothing is printed.

    Args:
        env: an env id (``"CartPole-v1"``), a gymnasium env, a gymnasium vector env, a legacy gym-style env
            or a factory (see :func:`~symgraph.rl.envs.make_env`; build vector envs with
            ``make_env(id, n_envs=N)``). Envs made here from an id or a factory are closed at the end.
        agent: the learner (see above).
        buffer: a :class:`~symgraph.rl.buffer.Buffer` receiving every transition, passed to
            ``agent.update``; ``None`` for agents that learn in ``observe`` (tabular agents).
        rewarder: reward shaping, ``rewarder(reward, state, action, next_state) -> reward``, applied to each
            step's reward (summed over the skipped frames; batches for a vector env) before it is stored and
            observed. ``episode_returns`` keep the environment's rewards.
        noise: exploration noise: a callable returning a sample to add to the agent's action (e.g.
            :class:`~symgraph.rl.noise.GaussianNoise`, :class:`~symgraph.rl.noise.OrnsteinUhlenbeckNoise`),
            with an optional ``reset()``, called at the start of every episode (with a vector env: at the
            start and after every step in which an episode ended). Without ``action_processor`` the noisy
            action is clipped to the bounds of the env's ``Box`` action space (noise on discrete actions is
            an error); with one, the processor maps it into the space. The noisy action is the one stored.
        action_processor: ``action_processor(action) -> env_action``, mapping the agent's (noisy) action to
            what ``env.step`` takes (e.g. rescaling, a lookup table). The buffer stores the agent's action.
        max_episode_steps: cut training episodes after this many steps (a truncation: stored
            ``truncated=True`` and bootstrapped); ``None``: only the env's own limits. In a vector env a
            sub-environment that cannot be reset alone continues from where it is as a new episode.
        max_episodes: stop after this many finished training episodes (``None``: no limit; a vector env may
            finish a few more in its last step).
        update_every: call ``agent.update(buffer)`` after every step ``t`` (counting transitions from 1)
            that is a multiple of ``update_every``...
        update_after: ...and at least ``update_after`` (e.g. fill a replay buffer with ``update_after``
            transitions first). A vector step covering several such multiples makes that many updates, so
            the ratio of updates to transitions does not depend on the number of sub-environments.
        skip_frames: action repeat: each action is applied for ``skip_frames`` env frames (``env.step``
            calls), the rewards summed, stopping early when the episode ends; one transition is stored.
            Single envs only (wrap each sub-environment of a vector env instead).
        reset_each_episode: clear the buffer at the start of each episode (single envs only).
        wait_end_path: make updates only at the end of episodes: at each episode end, one
            ``agent.update(buffer)`` if at least one became due (by ``update_every``/``update_after``) since
            the last one.
        eval_every: evaluate every ``eval_every`` finished training episodes; ``0`` or ``None``: never.
            Evaluation runs ``act(state, deterministic=True)`` (no noise, no shaping, no learning; the
            ``action_processor`` and ``skip_frames`` apply) on a separate env instance: ``eval_env``, or one
            made from the same id/spec (or a deep copy made before training), seeded with
            ``seed + EVAL_SEED_OFFSET`` on its first reset.
        eval_max_episode_steps: cut evaluation episodes after this many steps.
        eval_max_episodes: the episodes of each evaluation (their mean return is recorded).

    Keyword Args:
        max_steps: stop after this many steps (transitions); ``None``: no limit. An episode running then is
            abandoned (its path is finished with a bootstrap and ``end_episode()`` is called).
        seed: an int >= 0 or None; seeds the env's first reset (``env.reset(seed=seed)``; sub-environment
            ``i`` of a vector env gets ``seed + i``), its action space and the evaluation env's first reset.
            The agent, buffer and noise have seeds of their own.
        callbacks: a callable or a list of callables, each called after every finished training episode with
            a dict of the run's state: ``episode`` (finished episodes), ``episode_return``,
            ``episode_length``, ``env_index``, ``total_steps``, ``result`` (the :class:`RunResult` so far),
            ``agent``, ``buffer`` and ``env``. Returning ``False`` stops the run after that step.
        logger: an object with ``write(metrics: dict, step: int)``, written once per finished episode
            (``episode/return``, ``episode/length`` and the mean of each scalar update metric since the
            last write as ``update/<name>``) and once per evaluation (``eval/return``, ``eval/length``),
            with ``step = total_steps``.
        progress: a progress bar (:func:`symgraph.rl.progress.progress_bar`, updated once per episode):
            ``True`` shows it, ``None`` only on a terminal outside CI, ``False`` (default) never.
        eval_env: the evaluation env (a single env, or an id).
        checkpoint_every: write a checkpoint to ``checkpoint_path`` every ``checkpoint_every`` steps
            (transitions), at the first episode end at or after each multiple (with a single env; a vector env
            has episodes running at any time, so there at the first vector step at or after each multiple).
            ``None``: no checkpoints. The file (one ``.npz``, written atomically: a crash while writing
            leaves the previous one whole) holds the agent's checkpoint (``agent.save``: variables,
            random state, config; ``symgraph.rl.load(checkpoint_path)`` rebuilds the learner from it) and
            the run's own state: the step, episode and update/evaluation counters, the results so far, the
            buffer's contents and random generator, the noise process's state (``noise`` must then be an
            object, e.g. :class:`~symgraph.rl.noise.GaussianNoise`, not a function), and the environments'
            state between episodes (their random generators, their action spaces' and the running
            statistics of their wrappers, see :func:`symgraph.rl.checkpoint.env_state`). Needs an agent
            that can be checkpointed (a ``symgraph.rl`` learner).
        checkpoint_path: the checkpoint file (written, and read by ``resume``), kept as given (no suffix
            added).
        resume: continue the run saved in ``checkpoint_path``: build the env, agent, buffer and noise the
            same way as for the run that wrote it (fresh objects, as after a crash) and call ``run`` with
            the same arguments (``max_steps``/``max_episodes`` may be raised); ``run`` loads the agent,
            buffer, noise, environments and counters from the file and continues. With a single env the
            result (returns, evaluations, losses, the agent's parameters) is identical to the uninterrupted
            run's, given stateless ``rewarder``/``action_processor``/callbacks and an env that keeps nothing
            else across episodes. With a vector env the episodes running at the checkpoint are abandoned
            (finished as truncated, bootstrapped) and every sub-environment starts a new one, so the result
            differs from an uninterrupted run's (a vector env's mid-episode state cannot be saved
            generally). A missing file is an error, as loading a missing model is in Stable-Baselines3 and
            the zoo (pass ``resume=False`` to start afresh).

    Returns:
        A :class:`RunResult`.

    Divergence. After each update that returns metrics, ``run`` reads its loss metrics (the metrics whose
    name contains ``"loss"``, scalars) to the host, which waits once for the update to finish (one sync per
    update; the next ``act`` would wait for it anyway). If one is infinite, or NaN while the learner's
    ``state`` (parameters, optimizer state) holds a non-finite value (checked in one compiled reduction, only
    then; an agent without ``state``: NaN at all), it raises :class:`TrainingDiverged`, naming the step, the
    update and the loss terms, and the last checkpoint (written before the divergence, and left untouched).
    A NaN metric with a finite state is a term that the update did not compute (e.g. TD3's delayed actor
    loss in an update without an actor step).

    Raises:
        TrainingDiverged: a loss became NaN or infinite (see above); a ``FloatingPointError``.
        FileNotFoundError: ``resume=True`` and no file at ``checkpoint_path``.
        SaveLoadError: ``resume=True`` with a checkpoint of another agent class, architecture or env.
        ValueError: invalid arguments; an observation whose shape is not the agent's ``state_shape`` (the
            message names both and the env); an action outside the action space (checked on the first
            ``CHECKED_STEPS`` steps); a NaN or infinite reward (the message names the episode and step).
        TypeError: an agent without ``act`` or without an update hook, a non-callable ``rewarder``...
    """
    start = time.perf_counter()
    driver = _Driver(env, agent, buffer, rewarder, noise, action_processor, max_episode_steps, max_episodes,
                     update_every, update_after, skip_frames, reset_each_episode, wait_end_path, eval_every,
                     eval_max_episode_steps, eval_max_episodes, max_steps, seed, callbacks, logger, progress,
                     eval_env, checkpoint_every, checkpoint_path, resume)
    try:
        driver.run()
    finally:
        driver.close()
    result = driver.result
    result.losses = [_metrics_to_python(m) for m in result.losses]
    result.wall_time = time.perf_counter() - start + driver.elapsed_before
    return result


class _Driver:
    """The state of one :func:`run` call (configuration, counters, result) and its loops."""

    def __init__(self, env, agent, buffer, rewarder, noise, action_processor, max_episode_steps, max_episodes,
                 update_every, update_after, skip_frames, reset_each_episode, wait_end_path, eval_every,
                 eval_max_episode_steps, eval_max_episodes, max_steps, seed, callbacks, logger, progress,
                 eval_env, checkpoint_every, checkpoint_path, resume):
        self.max_episode_steps = _count("max_episode_steps", max_episode_steps, 1,
                                        "the most steps of a training episode", allow_none=True)
        self.max_episodes = _count("max_episodes", max_episodes, 1, "the training episodes to run",
                                   allow_none=True)
        self.update_every = _count("update_every", update_every, 1, "the env steps between updates")
        self.update_after = _count("update_after", update_after, 0, "the env steps before the first update")
        self.skip_frames = _count("skip_frames", skip_frames, 1, "the env frames each action is repeated for")
        self.eval_every = _count("eval_every", eval_every, 0, "the training episodes between evaluations; 0: "
                                 "never", allow_none=True) or 0
        self.eval_max_episode_steps = _count("eval_max_episode_steps", eval_max_episode_steps, 1,
                                             "the most steps of an evaluation episode")
        self.eval_max_episodes = _count("eval_max_episodes", eval_max_episodes, 1,
                                        "the episodes of each evaluation")
        self.max_steps = _count("max_steps", max_steps, 1, "the most env steps of the run", allow_none=True)
        if self.max_episodes is None and self.max_steps is None:
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
        self.callbacks = _callbacks(callbacks)
        self.logger = logger
        self.rewarder, self.noise, self.processor = rewarder, noise, action_processor
        self.reset_each_episode, self.wait_end_path = bool(reset_each_episode), bool(wait_end_path)
        self.seed = None if seed is None else int(seed)
        self.progress = progress

        # The agent and its optional hooks.
        self.user_agent = agent
        self.agent = as_agent(agent)
        self.act = self.agent.act
        self.act_and_extras = getattr(self.agent, "act_and_extras", None)
        self.value = getattr(self.agent, "value", None)
        self.observe = getattr(self.agent, "observe", None)
        self.end_episode = getattr(self.agent, "end_episode", None)
        self.buffer = buffer
        if buffer is not None and not callable(getattr(buffer, "push", None)):
            raise TypeError(f"run: buffer must be a symgraph.rl.Buffer (or None for agents that learn in "
                            f"observe()), got {type(buffer).__name__}")
        if buffer is None and self.observe is None:
            raise ValueError(f"run: buffer is None but the agent ({type(agent).__name__}) learns from a buffer "
                             f"(update(buffer)); pass a Buffer, e.g. Buffer(100_000)")
        self.update = None
        if buffer is not None and not isinstance(self.agent, StepAgent):
            update = getattr(self.agent, "update", None)
            self.update = update if callable(update) else None
        #: the buffer's finish_path, or None where the agent does not read what it computes
        self.finish_path = (buffer.finish_path if buffer is not None
                            and getattr(self.agent, "needs_path_returns", True) else None)

        self.state_shape = getattr(self.agent, "state_shape", None)
        self.result = RunResult()
        self.checks_left = CHECKED_STEPS
        self.eval_checks_left = CHECKED_STEPS
        self.eval_seeded = False
        self.next_update = -(-max(self.update_after, 1) // self.update_every) * self.update_every
        self.pending_update = False
        self.logged_losses = 0
        self.stop_reason = ""
        self.bar = None
        self.started = time.perf_counter()
        self.elapsed_before = 0.0
        self._checkpoint_setup(checkpoint_every, checkpoint_path, resume)

        # The environments (those made here are closed by close(), also when a check below fails).
        self.owned = []
        try:
            self._setup_envs(env, eval_env, noise, action_processor)
            self.restored = self._read_checkpoint() if self.resume else None
        except BaseException:
            self.close()
            raise

    def _setup_envs(self, env, eval_env, noise, action_processor):
        self.env = make_env(env, record_stats=False, validate=0)
        if isinstance(env, str) or (callable(env) and not hasattr(env, "step")):
            self.owned.append(self.env)
        self.vector = isinstance(self.env, VectorEnv)
        self.n_envs = self.env.num_envs if self.vector else 1
        self.name = _env_name(self.env)
        if self.vector and self.skip_frames > 1:
            raise ValueError(f"run: skip_frames={self.skip_frames} with a vector env ({self.name}): repeating an "
                             f"action across sub-environments that reset at different times mixes episodes; "
                             f"apply frame skipping inside each sub-environment (e.g. make_env(..., n_envs=N, "
                             f"wrappers=[...]) with gymnasium's AtariPreprocessing(frame_skip=...))")
        if self.vector and self.reset_each_episode:
            raise ValueError(f"run: reset_each_episode=True with a vector env ({self.name}) would clear the "
                             f"running episodes of every sub-environment whenever one starts a new episode; "
                             f"clear the buffer in the agent's update instead")
        self.action_space = self.env.single_action_space if self.vector else self.env.action_space
        self.low = self.high = None
        if noise is not None and action_processor is None:
            if not isinstance(self.action_space, spaces.Box):
                raise ValueError(f"run: noise is added to continuous actions, but the action space of "
                                 f"{self.name} is {self.action_space}; explore discrete actions in the agent "
                                 f"(e.g. epsilon-greedy), or give an action_processor that maps the noisy "
                                 f"action to an env action")
            self.low, self.high = self.action_space.low, self.action_space.high
        self.noise_reset = getattr(noise, "reset", None) if noise is not None else None

        self.eval_env = None
        if eval_env is not None:
            self.eval_env = make_env(eval_env, record_stats=False, validate=0)
            if isinstance(eval_env, str) or (callable(eval_env) and not hasattr(eval_env, "step")):
                self.owned.append(self.eval_env)
            if isinstance(self.eval_env, VectorEnv):
                raise TypeError("run: eval_env must be a single env (evaluation runs whole episodes one at a "
                                "time), got a vector env")
        elif self.eval_every and (self.max_episodes is None or self.max_episodes >= self.eval_every):
            self.eval_env = _make_eval_env(env, self.env)
            self.owned.append(self.eval_env)

    # -----------------------------------------------------------------------------------------------------

    def close(self):
        if self.bar is not None:
            self.bar.close()
        for env in self.owned:
            try:
                env.close()
            except Exception:  # closing must not hide the error that ended the run
                pass

    def run(self):
        if self.seed is not None:
            self.env.action_space.seed(self.seed)
            if self.vector:
                self.env.single_action_space.seed(self.seed)
        if self.restored is not None:
            self._restore(*self.restored)
        if progress_enabled(self.progress):
            by_episode = self.max_episodes is not None
            total = self.max_episodes if by_episode else self.max_steps
            done = self.result.episodes if by_episode else self.result.total_steps
            self.bar = progress_bar(total, enabled=True, desc="run", unit="episode" if by_episode else "step",
                                    initial=done)
        if self.restored is not None and self._stop():
            self.result.stop_reason = self.stop_reason  # the checkpoint already reached the stopping point
            return
        if self.vector:
            self._run_vector()
        else:
            self._run_single()
        self.result.stop_reason = self.stop_reason

    def _check_obs(self, obs, env, n_envs=None):
        if self.state_shape is None:
            return
        try:
            check_observation(obs, tuple(self.state_shape), n_envs)
        except ShapeError as exc:
            batch = f" (a batch of {n_envs})" if n_envs is not None else ""
            raise ShapeError(f"run: the env {_env_name(env)} returns observations of shape "
                             f"{format_shape(np.shape(obs))}{batch}, but the agent "
                             f"({type(self.user_agent).__name__}) has state_shape "
                             f"{format_shape(tuple(self.state_shape))}: {exc}") from None

    def _check_action(self, space, env_action, where):
        try:
            check_action(space, env_action)
        except ValueError as exc:
            hint = (" (after action_processor: check what it returns)" if self.processor is not None else "")
            raise ValueError(f"run: invalid action at {where} of {self.name}{hint}: {exc}") from None

    def _nan_reward(self, reward, episode, step, source, env_index=None):
        where = f" of sub-environment {env_index}" if env_index is not None else ""
        culprit = ("the rewarder returned" if source == "rewarder" else f"the env {self.name} returned")
        raise ValueError(f"run: {culprit} reward {reward} at step {step} of training episode {episode}{where} "
                         f"(total step {self.result.total_steps}); rewards must be finite: check the "
                         f"{'reward shaping' if source == 'rewarder' else 'environment'}")

    # -----------------------------------------------------------------------------------------------------
    # Updates

    def _updates(self, n):
        """``n`` calls of ``agent.update(buffer)``, recording the metrics they return."""
        update, losses, steps = self.update, self.result.losses, self.result.update_steps
        for _ in range(n):
            metrics = update(self.buffer)
            if metrics is not None:
                if not isinstance(metrics, Mapping):
                    raise TypeError(f"run: {type(self.user_agent).__name__}.update(buffer) returned "
                                    f"{type(metrics).__name__}; it must return a dict of metrics (e.g. "
                                    f"{{'loss': loss}}) or None")
                losses.append(metrics)
                steps.append(self.result.total_steps)
                self._check_finite(metrics)

    def _check_finite(self, metrics):
        """Raise :class:`TrainingDiverged` if the update that returned ``metrics`` diverged (see ``run``)."""
        values = {k: np.asarray(v) for k, v in metrics.items() if "loss" in k}  # the first read waits: one sync
        bad = {k: float(v.reshape(-1)[~np.isfinite(v.reshape(-1))][0]) for k, v in values.items()
               if not np.all(np.isfinite(v))}
        if not bad:
            return
        agent = self.user_agent
        if all(np.isnan(v) for v in bad.values()) and isinstance(getattr(type(agent), "state", None), property) \
                and not bool(_state_broken(agent.state)):
            return  # NaN terms the update did not compute, e.g. TD3's delayed actor loss (the state is finite)
        step, update = self.result.total_steps, len(self.result.losses)
        described = ", ".join(f"{k} is {v}" for k, v in bad.items())
        if self.checkpoint_path is None:
            saved = ("no checkpoint was kept (pass checkpoint_every= and checkpoint_path= to run to keep the "
                     "last good state)")
        elif self.checkpoint_step is None:
            saved = f"no checkpoint was written to {self.checkpoint_path} by this run yet"
        else:
            saved = (f"the last good checkpoint, of step {self.checkpoint_step}, is {self.checkpoint_path}, "
                     f"untouched (resume from it with resume=True)")
        raise TrainingDiverged(f"run: training diverged: {described} at step {step} (update {update}) of "
                               f"{type(self.user_agent).__name__} on {self.name}; {saved}. Lower the learning "
                               f"rate, clip the gradients (max_grad_norm) or check the rewards and observations "
                               f"for extreme values", step, update, bad, self.checkpoint_path,
                               self.checkpoint_step)

    def _due(self, total_steps):
        """The updates that became due by the step counter reaching ``total_steps``."""
        n = (total_steps - self.next_update) // self.update_every + 1
        self.next_update += n * self.update_every
        return n

    # -----------------------------------------------------------------------------------------------------
    # Checkpoints

    def _checkpoint_setup(self, every, path, resume):
        self.checkpoint_every = _count("checkpoint_every", every, 1, "the env steps between checkpoints",
                                       allow_none=True)
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(f"run: checkpoint_path must be a path (str or os.PathLike), got {type(path).__name__} "
                            f"{path!r}")
        self.checkpoint_path = None if path is None else os.fspath(path)
        self.resume = bool(resume)
        self.checkpoint_step = None
        if self.checkpoint_path is None and (self.checkpoint_every is not None or self.resume):
            given = f"checkpoint_every={every}" if self.checkpoint_every is not None else "resume=True"
            raise ValueError(f"run: {given} needs checkpoint_path= (the checkpoint file to write/read), got "
                             f"checkpoint_path=None")
        if self.checkpoint_path is not None and self.checkpoint_every is None and not self.resume:
            raise ValueError(f"run: checkpoint_path={self.checkpoint_path!r} is given but neither "
                             f"checkpoint_every (write checkpoints every N steps) nor resume=True (continue from "
                             f"it): pass one of them, or no checkpoint_path")
        self.next_checkpoint = self.checkpoint_every
        if self.checkpoint_path is None:
            return
        if not isinstance(self.user_agent, Learner):
            raise TypeError(f"run: checkpoints need an agent that can be checkpointed (a symgraph.rl learner, "
                            f"with save/load of its whole state); {type(self.user_agent).__name__} has none: "
                            f"drop checkpoint_every/checkpoint_path/resume, or save the agent yourself")
        noise = self.noise
        if noise is not None and (inspect.isfunction(noise) or inspect.ismethod(noise)
                                  or isinstance(noise, functools.partial)):
            raise TypeError(f"run: checkpoints store the state of the noise process, but noise is a function "
                            f"({noise!r}) whose state cannot be saved; pass a noise object (e.g. "
                            f"symgraph.rl.GaussianNoise, OrnsteinUhlenbeckNoise, learner.make_noise(...))")
        remove_stale_temporaries(self.checkpoint_path)  # those of a run killed while saving

    def _settings(self):
        return {"env": self.name, "n_envs": self.n_envs, "seed": self.seed,
                "max_episode_steps": self.max_episode_steps, "update_every": self.update_every,
                "update_after": self.update_after, "skip_frames": self.skip_frames,
                "wait_end_path": self.wait_end_path, "reset_each_episode": self.reset_each_episode,
                "eval_every": self.eval_every, "eval_max_episode_steps": self.eval_max_episode_steps,
                "eval_max_episodes": self.eval_max_episodes}

    def _read_checkpoint(self):
        """The checkpoint to resume from, checked against this run's agent and settings."""
        if not os.path.isfile(self.checkpoint_path):
            raise FileNotFoundError(f"run: resume=True but there is no checkpoint at {self.checkpoint_path!r}; "
                                    f"pass resume=False to start a new run, or the path of an existing checkpoint")
        meta, arrays = checkpoint.read(self.checkpoint_path, "run(resume=True)")
        if "run" not in meta:
            raise SaveLoadError(f"run: {self.checkpoint_path} is a learner checkpoint (learner.save), not a run "
                                f"checkpoint; load it with learner.load(path) and start a new run (resume=False)")
        owner = "run(resume=True)"
        with checkpoint.reading(owner, self.checkpoint_path):
            learner = checkpoint.learner_meta(meta, self.checkpoint_path, owner)
            agent = type(self.user_agent)
            if (learner["module"], learner["class"]) != (agent.__module__, agent.__qualname__):
                raise SaveLoadError(f"run: {self.checkpoint_path} is a checkpoint of a {learner['class']} learner, "
                                    f"but the agent is a {agent.__name__}; resume with the same kind of agent")
        checkpoint.check_settings(self.user_agent, learner, self.checkpoint_path, owner, hint=(
            "build the agent with the checkpoint's settings to resume (symgraph.rl.load(path) rebuilds it from "
            "the file); a deliberate change starts a new run from learner.load(path, allow_changes=...)"))
        stored, current = meta["run"]["settings"], self._settings()
        differ = [f"{k}={current[k]!r} here, {stored[k]!r} in the checkpoint" for k in _RESUME_SETTINGS
                  if stored[k] != current[k]]
        if differ:
            raise ValueError(f"run: resume=True with other settings than the run that wrote "
                             f"{self.checkpoint_path}: {'; '.join(differ)}; pass the same arguments (max_steps "
                             f"and max_episodes may change)")
        return meta, arrays

    def _write_checkpoint(self, running=None):
        """Write the agent's and the run's state to ``checkpoint_path`` (``running``: a vector env's
        per-sub-environment episode state)."""
        meta, arrays = checkpoint.learner_entries(self.user_agent)
        result, store = self.result, {}
        state = {
            "settings": self._settings(),
            "counters": {"checks_left": self.checks_left, "eval_checks_left": self.eval_checks_left,
                         "eval_seeded": self.eval_seeded, "next_update": self.next_update,
                         "pending_update": self.pending_update, "logged_losses": self.logged_losses,
                         "elapsed": self.elapsed_before + time.perf_counter() - self.started},
            "result": checkpoint.pack({
                "episode_returns": result.episode_returns, "episode_lengths": result.episode_lengths,
                "episode_steps": result.episode_steps, "update_steps": result.update_steps,
                "losses": [_metrics_to_python(m) for m in result.losses], "eval_returns": result.eval_returns,
                "total_steps": result.total_steps, "total_frames": result.total_frames}, store),
            "buffer": checkpoint.object_state(self.buffer, store),
            "noise": None if self.noise is None else checkpoint.object_state(self.noise, store),
            "env": checkpoint.env_state(self.env, store),
            "eval_env": None if self.eval_env is None else checkpoint.env_state(self.eval_env, store),
            "running": None if running is None else checkpoint.pack(running, store),
        }
        checkpoint.write(self.checkpoint_path, {"learner": meta, "run": state}, {**arrays, **store})
        self.checkpoint_step = result.total_steps
        every = self.checkpoint_every
        self.next_checkpoint = (result.total_steps // every + 1) * every

    def _restore(self, meta, arrays):
        """Load the agent and the run's state from a checkpoint (after the action spaces were seeded)."""
        checkpoint.restore_learner(self.user_agent, meta["learner"], arrays, self.checkpoint_path)
        state = meta["run"]
        counters = state["counters"]
        self.checks_left, self.eval_checks_left = counters["checks_left"], counters["eval_checks_left"]
        self.eval_seeded, self.next_update = counters["eval_seeded"], counters["next_update"]
        self.pending_update, self.logged_losses = counters["pending_update"], counters["logged_losses"]
        self.elapsed_before = counters["elapsed"]
        for name, value in checkpoint.unpack(state["result"], arrays).items():
            setattr(self.result, name, value)
        checkpoint.restore_object_state(self.buffer, state["buffer"], arrays)
        if (state["noise"] is None) != (self.noise is None):
            raise ValueError(f"run: the checkpoint was written by a run {'without' if self.noise is None else 'with'}"
                             f" noise, this one has {'some' if self.noise is not None else 'none'}; resume with the "
                             f"same noise")
        if self.noise is not None:
            checkpoint.restore_object_state(self.noise, state["noise"], arrays)
        checkpoint.restore_env_state(self.env, state["env"], arrays)
        if (state["eval_env"] is None) != (self.eval_env is None):
            raise ValueError("run: the checkpoint's run had an evaluation env and this one has none (or the "
                             "reverse); resume with the same eval_every/eval_env")
        if self.eval_env is not None:
            checkpoint.restore_env_state(self.eval_env, state["eval_env"], arrays)
        self.running = None if state["running"] is None else checkpoint.unpack(state["running"], arrays)
        if self.checkpoint_every is not None:
            self.next_checkpoint = (self.result.total_steps // self.checkpoint_every + 1) * self.checkpoint_every
        self.checkpoint_step = self.result.total_steps

    def _abandon_running(self, running):
        """Resuming a vector env: end the episodes that were running at the checkpoint, since every
        sub-environment starts a new one (their last transitions marked truncated, their paths finished with a
        bootstrap from the stored observations, ``end_episode()`` called); returns the episode numbers."""
        running_envs = np.flatnonzero(running["ep_len"] > 0)
        if self.buffer is not None and len(running_envs):
            _mark_truncated(self.buffer, running_envs)
        if self.finish_path is not None and len(running_envs):
            last = (np.zeros(len(running_envs)) if self.value is None
                    else np.asarray(self.value(running["obs"][running_envs]), dtype=np.float64).reshape(-1))
            self.finish_path(last, env_index=running_envs)
        if self.end_episode is not None:
            for _ in running_envs:
                self.end_episode()
        episode_no = np.array(running["episode_no"], dtype=np.int64)
        episode_no[running_envs] += 1
        return episode_no

    # -----------------------------------------------------------------------------------------------------
    # Episode ends, logging, callbacks, evaluation

    def _episode_finished(self, episode_return, length, env_index):
        """Record one finished training episode and run the logger and callbacks; returns False to stop."""
        result = self.result
        result.episode_returns.append(float(episode_return))
        result.episode_lengths.append(int(length))
        result.episode_steps.append(result.total_steps)
        if self.end_episode is not None:
            self.end_episode()
        if self.logger is not None:
            metrics = {"episode/return": float(episode_return), "episode/length": int(length)}
            metrics.update(_means(result.losses[self.logged_losses:]))
            self.logged_losses = len(result.losses)
            self.logger.write(metrics, result.total_steps)
        if self.bar is not None:
            self.bar.update(1 if self.max_episodes is not None else length)
        keep_going = True
        if self.callbacks:
            state = {"episode": result.episodes, "episode_return": float(episode_return),
                     "episode_length": int(length), "env_index": env_index, "total_steps": result.total_steps,
                     "result": result, "agent": self.user_agent, "buffer": self.buffer, "env": self.env}
            for callback in self.callbacks:
                if callback(state) is False:
                    keep_going = False
        if not keep_going:
            self.stop_reason = "callback"
        return keep_going

    def _maybe_evaluate(self, episodes_before):
        every = self.eval_every
        if every and self.eval_env is not None and _crossed(episodes_before, self.result.episodes, every):
            self._evaluate()

    def _evaluate(self):
        env = self.eval_env
        act, processor, skip = self.act, self.processor, self.skip_frames
        limit = self.eval_max_episode_steps
        space = env.action_space
        returns, lengths = [], []
        for i in range(self.eval_max_episodes):
            if not self.eval_seeded and self.seed is not None:
                obs, _ = env.reset(seed=self.seed + EVAL_SEED_OFFSET)
            else:
                obs, _ = env.reset()
            if not self.eval_seeded:
                self._check_obs(obs, env)
                self.eval_seeded = True
            total, steps = 0.0, 0
            done = False
            while not done and steps < limit:
                action = act(obs, deterministic=True)
                if not isinstance(action, int | float | np.ndarray | np.generic):
                    action = np.asarray(action)
                env_action = action if processor is None else processor(action)
                if self.eval_checks_left:
                    self.eval_checks_left -= 1
                    self._check_action(space, env_action, f"evaluation step {steps + 1} of episode {i + 1}")
                for _ in range(skip):
                    obs, reward, terminated, truncated, _ = env.step(env_action)
                    if not math.isfinite(reward):
                        raise ValueError(f"run: the evaluation env {_env_name(env)} returned reward {reward} "
                                         f"at step {steps + 1} of evaluation episode {i + 1}; rewards must be "
                                         f"finite")
                    total += reward
                    done = terminated or truncated
                    if done:
                        break
                steps += 1
            returns.append(float(total))
            lengths.append(steps)
        mean = float(np.mean(returns))
        step = self.result.total_steps
        self.result.eval_returns.append((step, mean))
        if self.logger is not None:
            self.logger.write({"eval/return": mean, "eval/length": float(np.mean(lengths))}, step)
        return mean

    def _stop(self):
        """Whether the run has reached max_episodes or max_steps (sets the stop reason)."""
        if self.stop_reason:
            return True
        if self.max_episodes is not None and self.result.episodes >= self.max_episodes:
            self.stop_reason = "max_episodes"
        elif self.max_steps is not None and self.result.total_steps >= self.max_steps:
            self.stop_reason = "max_steps"
        return bool(self.stop_reason)

    # -----------------------------------------------------------------------------------------------------
    # One environment

    def _run_single(self):
        env, buffer, result, finish_path = self.env, self.buffer, self.result, self.finish_path
        act, act_and_extras, observe, value = self.act, self.act_and_extras, self.observe, self.value
        rewarder, noise, processor = self.rewarder, self.noise, self.processor
        low, high, noise_reset = self.low, self.high, self.noise_reset
        skip, max_len, update = self.skip_frames, self.max_episode_steps or math.inf, self.update
        max_steps = self.max_steps or math.inf
        wait, space = self.wait_end_path, self.action_space
        step_fn = env.step

        obs, _ = env.reset() if self.restored is not None else env.reset(seed=self.seed)
        self._check_obs(obs, env)
        next_state = obs
        first = True
        while True:
            # ---- a new episode
            if self.reset_each_episode and buffer is not None:
                buffer.clear()
            if noise_reset is not None:
                noise_reset()
            episode = result.episodes + 1
            state = obs
            ep_return, ep_len = 0.0, 0
            terminated = truncated = False
            while True:
                # ---- one step
                if act_and_extras is not None:
                    action, extras = act_and_extras(state)
                    if first:
                        self._check_extras(extras)
                else:
                    action, extras = act(state), None
                if not isinstance(action, int | float | np.ndarray | np.generic):
                    action = np.asarray(action)
                if noise is not None:
                    action = action + noise()
                    if low is not None:
                        action = np.clip(action, low, high)
                env_action = action if processor is None else processor(action)
                if self.checks_left:
                    self.checks_left -= 1
                    self._check_action(space, env_action, f"step {ep_len + 1} of training episode {episode}")
                if skip == 1:
                    next_state, reward, terminated, truncated, _ = step_fn(env_action)
                    result.total_frames += 1
                    if not math.isfinite(reward):
                        self._nan_reward(reward, episode, ep_len + 1, "env")
                else:
                    reward = 0.0
                    for _ in range(skip):
                        next_state, r, terminated, truncated, _ = step_fn(env_action)
                        result.total_frames += 1
                        if not math.isfinite(r):
                            self._nan_reward(r, episode, ep_len + 1, "env")
                        reward += r
                        if terminated or truncated:
                            break
                ep_len += 1
                result.total_steps += 1
                ep_return += reward
                if rewarder is not None:
                    reward = rewarder(reward, state, action, next_state)
                    if not math.isfinite(reward):
                        self._nan_reward(reward, episode, ep_len, "rewarder")
                if not terminated and not truncated and ep_len >= max_len:
                    truncated = True
                done = terminated or truncated
                if buffer is not None:
                    transition = {"state": state, "action": action, "reward": reward, "next-state": next_state,
                                  "terminal": terminated, "truncated": truncated}
                    if extras:
                        transition.update(extras)
                    buffer.push(transition)
                if done and finish_path is not None:
                    finish_path(0.0 if terminated or value is None else float(np.asarray(value(next_state)).item()))
                if observe is not None:
                    observe(state, action, reward, next_state, terminated, truncated)
                first = False
                if update is not None and result.total_steps >= self.next_update:
                    n = self._due(result.total_steps)
                    if wait:
                        self.pending_update = True
                    else:
                        self._updates(n)
                if done or result.total_steps >= max_steps:
                    break
                state = next_state
            if not done:  # stopped by max_steps mid-episode: abandon it
                self.stop_reason = "max_steps"
                if finish_path is not None:
                    finish_path(0.0 if value is None else float(np.asarray(value(next_state)).item()))
                if self.end_episode is not None:
                    self.end_episode()
                return
            # ---- the episode ended
            if wait and self.pending_update:
                self.pending_update = False
                self._updates(1)
            before = result.episodes
            keep_going = self._episode_finished(ep_return, ep_len, None)
            self._maybe_evaluate(before)
            if not keep_going or self._stop():
                return
            if self.next_checkpoint is not None and result.total_steps >= self.next_checkpoint:
                self._write_checkpoint()
            obs, _ = env.reset()

    def _check_extras(self, extras):
        if not isinstance(extras, Mapping):
            raise TypeError(f"run: {type(self.user_agent).__name__}.act_and_extras(states) must return "
                            f"(actions, dict of fields to store), got {type(extras).__name__} as the second "
                            f"value")
        clash = [k for k in extras if k in _STORED_FIELDS]
        if clash:
            raise ValueError(f"run: act_and_extras returned the field {clash[0]!r}, which run stores itself "
                             f"({list(_STORED_FIELDS)}); name it otherwise")

    # -----------------------------------------------------------------------------------------------------
    # Vector environments

    def _run_vector(self):
        env, buffer, result, n, finish_path = self.env, self.buffer, self.result, self.n_envs, self.finish_path
        act, act_and_extras, observe, value = self.act, self.act_and_extras, self.observe, self.value
        rewarder, noise, processor = self.rewarder, self.noise, self.processor
        low, high, noise_reset = self.low, self.high, self.noise_reset
        max_len, update = self.max_episode_steps or math.inf, self.update
        max_steps = self.max_steps or math.inf
        wait, space = self.wait_end_path, env.action_space

        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = AutoresetMode(mode) if not isinstance(mode, AutoresetMode) else mode
        partial_reset = isinstance(env.unwrapped, SyncVectorEnv | AsyncVectorEnv)
        same_step = mode == AutoresetMode.SAME_STEP
        skip_mode = not same_step and not partial_reset  # the step after an episode end is a reset: skip it
        if skip_mode and mode == AutoresetMode.DISABLED:
            raise ValueError(f"run: the vector env {self.name} does not reset sub-environments by itself "
                             f"(AutoresetMode.DISABLED) and cannot reset one alone; build it with "
                             f"make_env(..., n_envs=N) (same-step autoreset)")
        if skip_mode and buffer is not None:
            raise ValueError(f"run: the vector env {self.name} resets a finished sub-environment in the *next* "
                             f"step (AutoresetMode.NEXT_STEP), which leaves no transition for it in that step's "
                             f"buffer row; build it with make_env(..., n_envs=N) or gymnasium.make_vec(..., "
                             f"vector_kwargs={{'autoreset_mode': AutoresetMode.SAME_STEP}})")

        ep_return = np.zeros(n)
        ep_len = np.zeros(n, dtype=np.int64)
        episode_no = np.ones(n, dtype=np.int64)  # the number of each sub-environment's running episode
        if self.restored is not None:
            episode_no = self._abandon_running(self.running)
            obs, _ = env.reset()
        else:
            obs, _ = env.reset(seed=self.seed)
        self._check_obs(obs, env, n)
        if noise_reset is not None:
            noise_reset()
        skip_rows = np.zeros(n, dtype=bool)
        first = True
        while True:
            states = obs
            if act_and_extras is not None:
                actions, extras = act_and_extras(states)
                if first:
                    self._check_extras(extras)
            else:
                actions, extras = act(states), None
            actions = np.asarray(actions)
            if noise is not None:
                actions = actions + noise()
                if low is not None:
                    actions = np.clip(actions, low, high)
            env_actions = actions if processor is None else processor(actions)
            if self.checks_left:
                self.checks_left -= 1
                self._check_action(space, env_actions, f"vector step {result.total_steps // n + 1}")
            obs, rewards, terminated, truncated, info = env.step(env_actions)
            rewards = np.asarray(rewards, dtype=np.float64)
            terminated = np.asarray(terminated, dtype=bool)
            truncated = np.asarray(truncated, dtype=bool)
            valid = ~skip_rows if skip_mode else None
            n_valid = n if valid is None else int(valid.sum())
            result.total_frames += n_valid
            if not np.isfinite(rewards).all():
                i = int(np.flatnonzero(~np.isfinite(rewards))[0])
                self._nan_reward(rewards[i], int(episode_no[i]), int(ep_len[i]) + 1, "env", i)
            next_states = final_observations(obs, info) if same_step else obs
            if valid is None:
                ep_len += 1
                ep_return += rewards
            else:
                ep_len += valid
                ep_return += np.where(valid, rewards, 0.0)
            result.total_steps += n_valid
            if rewarder is not None:
                rewards = np.asarray(rewarder(rewards, states, actions, next_states), dtype=np.float64)
                if not np.isfinite(rewards).all():
                    i = int(np.flatnonzero(~np.isfinite(rewards))[0])
                    self._nan_reward(rewards[i], int(episode_no[i]), int(ep_len[i]), "rewarder", i)
            ended = terminated | truncated  # ended by the env
            cut = ~ended & (ep_len >= max_len)
            if valid is not None:
                ended &= valid
                cut &= valid
            stored_truncated = truncated | cut
            done = ended | cut
            if buffer is not None:
                transition = {"state": states, "action": actions, "reward": rewards, "next-state": next_states,
                              "terminal": terminated, "truncated": stored_truncated}
                if extras:
                    transition.update(extras)
                buffer.push(transition)
            if observe is not None:
                if valid is None or valid.all():
                    observe(states, actions, rewards, next_states, terminated, stored_truncated)
                elif valid.any():
                    observe(states[valid], actions[valid], rewards[valid], next_states[valid],
                            terminated[valid], stored_truncated[valid])
            first = False
            finished = np.flatnonzero(done)
            if len(finished):
                if finish_path is not None:
                    last = np.zeros(len(finished))
                    boot = ~terminated[finished]
                    if value is not None and boot.any():
                        last[boot] = np.asarray(value(next_states[finished[boot]]), dtype=np.float64).reshape(-1)
                    finish_path(last, env_index=finished)
                # Sub-environments to reset here: cut ones (the env did not end them) and, when the env
                # resets in the next step, the ended ones (turned into a same-step reset).
                reset_mask = cut.copy() if same_step else (done.copy() if partial_reset else None)
                if reset_mask is not None and reset_mask.any() and partial_reset:
                    new_obs, _ = env.reset(options={"reset_mask": reset_mask})
                    obs = np.array(obs, copy=True)
                    obs[reset_mask] = np.asarray(new_obs)[reset_mask]
                if skip_mode:
                    skip_rows = ended.copy()
            elif skip_mode:
                skip_rows[:] = False
            if update is not None and result.total_steps >= self.next_update:
                k = self._due(result.total_steps)
                if wait:
                    self.pending_update = True
                else:
                    self._updates(k)
            if len(finished):
                if wait and self.pending_update:
                    self.pending_update = False
                    self._updates(1)
                before = result.episodes
                keep_going = True
                for i in finished:
                    keep_going &= self._episode_finished(ep_return[i], ep_len[i], int(i))
                    episode_no[i] += 1
                ep_return[finished] = 0.0
                ep_len[finished] = 0
                self._maybe_evaluate(before)
                if not keep_going:
                    break
                if noise_reset is not None:
                    noise_reset()
            if self._stop() or result.total_steps >= max_steps:
                break
            if self.next_checkpoint is not None and result.total_steps >= self.next_checkpoint:
                self._write_checkpoint({"obs": np.asarray(obs), "ep_len": ep_len, "episode_no": episode_no})
        if not self.stop_reason:
            self.stop_reason = "max_steps"
        # Episodes still running are abandoned: finish their paths (bootstrapped) and end them.
        running = np.flatnonzero(ep_len > 0)
        if finish_path is not None and len(running):
            last = (np.zeros(len(running)) if value is None
                    else np.asarray(value(obs[running]), dtype=np.float64).reshape(-1))
            finish_path(last, env_index=running)
        if self.end_episode is not None:
            for _ in running:
                self.end_episode()


def _mark_truncated(buffer, env_index):
    """Mark the newest stored transition of sub-environments ``env_index`` as truncated (their episode is
    abandoned: on resuming a vector env, the next transition of that sub-environment starts a new one)."""
    if len(buffer) and "truncated" in buffer:
        row = (buffer._next_row - 1) % buffer._rows
        buffer._data["truncated"][row, env_index] = True


def _crossed(before, after, every):
    """Whether a multiple of ``every`` lies in ``(before, after]``."""
    return after // every > before // every
