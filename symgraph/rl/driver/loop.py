"""The driver of one :func:`symgraph.rl.run` call: :class:`Driver` holds the run's state (agent hooks,
counters, result) and its one interaction loop, which steps a single env and a vector env alike through
:mod:`symgraph.rl.driver.lanes` (a single env is a vector of one), with the update schedule, the divergence
check, episode bookkeeping, periodic evaluation and checkpoints."""

import math
import time
from collections.abc import Mapping

import numpy as np
from gymnasium.vector import VectorEnv

from symgraph.errors import ShapeError, format_shape
from symgraph.io import remove_stale_temporaries
from symgraph.rl.driver import resume
from symgraph.rl.driver.evaluate import CHECKED_STEPS, env_name, evaluate
from symgraph.rl.driver.frames import SkipFrames
from symgraph.rl.driver.result import RunResult, TrainingDiverged
from symgraph.rl.driver.setup import check_env_options, evaluation_env, made_here, noise_bounds, training_env
from symgraph.rl.envs import check_action, check_observation, make_env
from symgraph.rl.progress import progress_bar, progress_enabled
from symgraph.rl.protocol import StepAgent, as_agent

__all__ = ["Driver", "EVAL_SEED_OFFSET"]

#: The evaluation env's first reset is seeded with ``seed + EVAL_SEED_OFFSET``.
EVAL_SEED_OFFSET = 1_000_000

_STORED_FIELDS = ("state", "action", "reward", "next-state", "terminal", "truncated")


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


class Driver:
    """The state of one :func:`symgraph.rl.run` call and its loop.

    Args:
        config: the run's :class:`~symgraph.rl.driver.config.RunConfig`.
        env, agent, buffer, eval_env: as given to ``run``. ``buffer`` None: the agent's
            ``make_storage(n_envs)`` where it has one (an agent learning in ``observe`` needs none).
    """

    def __init__(self, config, env, agent, buffer, eval_env):
        self.config = config
        self.user_agent = agent
        self.agent = as_agent(agent)
        self.act = self.agent.act
        self.act_and_extras = getattr(self.agent, "act_and_extras", None)
        self.value = getattr(self.agent, "value", None)
        self.observe = getattr(self.agent, "observe", None)
        self.end_episode = getattr(self.agent, "end_episode", None)
        if buffer is not None and not callable(getattr(buffer, "push", None)):
            raise TypeError(f"run: buffer must be a symgraph.rl.Buffer (or None for agents that learn in "
                            f"observe() or make their storage with make_storage(n_envs)), got "
                            f"{type(buffer).__name__}")
        make_storage = getattr(self.agent, "make_storage", None)
        if buffer is None and self.observe is None and not callable(make_storage):
            raise ValueError(f"run: buffer is None but the agent ({type(agent).__name__}) learns from a buffer "
                             f"(update(buffer)) and has no make_storage(n_envs); pass a Buffer, e.g. "
                             f"Buffer(100_000)")
        self.result = RunResult()
        self.checks_left = CHECKED_STEPS
        self.eval_seeded = False
        every = config.update_every
        self.next_update = -(-max(config.update_after, 1) // every) * every
        self.pending_update = False
        self.logged_losses = 0
        self.stop_reason = ""
        self.bar = None
        self.started = time.perf_counter()
        self.elapsed_before = 0.0
        self.checkpoint_step = None
        self.next_checkpoint = config.checkpoint_every
        if config.checkpoint_path is not None:
            remove_stale_temporaries(config.checkpoint_path)  # those of a run killed while saving

        self.owned = []  # the envs made here, closed by close(), also when a check below fails
        try:
            self.env = make_env(env, record_stats=False, validate=0)
            if made_here(env):
                self.owned.append(self.env)
            self.vector = isinstance(self.env, VectorEnv)
            self.n_envs = self.env.num_envs if self.vector else 1
            self.name = env_name(self.env)
            check_env_options(self.env, config, self.name)
            if buffer is None and self.observe is None:
                buffer = make_storage(self.n_envs)
            self.buffer = buffer
            self.update = None
            if buffer is not None and not isinstance(self.agent, StepAgent):
                update = getattr(self.agent, "update", None)
                self.update = update if callable(update) else None
            #: the buffer's finish_path, or None where the agent does not read what it computes
            self.finish_path = (buffer.finish_path if buffer is not None
                                and getattr(self.agent, "needs_path_returns", True) else None)
            self.action_space = self.env.single_action_space if self.vector else self.env.action_space
            self.low, self.high = noise_bounds(self.action_space, config, self.name)
            self.lanes = training_env(self.env, config, self._bad_reward, buffer is not None)
            self.eval_env = evaluation_env(eval_env, env, self.env, config, self.owned)
            self.restored = resume.read(self) if config.resume else None
        except BaseException:
            self.close()
            raise

    def close(self):
        """Close the progress bar and the envs made here."""
        if self.bar is not None:
            self.bar.close()
        for env in self.owned:
            try:
                env.close()
            except Exception:  # closing must not hide the error that ended the run
                pass

    def run(self):
        """Seed, restore a checkpoint when resuming, and run the loop to a stop."""
        config, result = self.config, self.result
        if config.seed is not None:
            self.env.action_space.seed(config.seed)
            if self.vector:
                self.env.single_action_space.seed(config.seed)
        running = resume.restore(self, *self.restored) if self.restored is not None else None
        if progress_enabled(config.progress):
            by_episode = config.max_episodes is not None
            self.bar = progress_bar(config.max_episodes if by_episode else config.max_steps, enabled=True,
                                    desc="run", unit="episode" if by_episode else "step",
                                    initial=result.episodes if by_episode else result.total_steps)
        if self.restored is not None and self._stop():
            result.stop_reason = self.stop_reason  # the checkpoint already reached the stopping point
            return
        self._loop(running)
        result.stop_reason = self.stop_reason

    # -----------------------------------------------------------------------------------------------------
    # The loop

    def _loop(self, running):
        config, lanes, buffer, result = self.config, self.lanes, self.buffer, self.result
        act, act_and_extras, observe, value = self.act, self.act_and_extras, self.observe, self.value
        finish_path, update, wait = self.finish_path, self.update, config.wait_end_path
        rewarder, noise, processor = config.rewarder, config.noise, config.action_processor
        low, high = self.low, self.high
        max_steps = config.max_steps or math.inf
        step, shaped, vector = lanes.step, lanes.shaped, lanes.vector
        skipper = lanes.env if isinstance(lanes.env, SkipFrames) else None
        self.frames_before = result.total_frames

        resumed = self.restored is not None
        if resumed and running is not None:  # a vector env: the episodes running at the checkpoint end
            lanes.episode_no = resume.abandon_running(self, running)
        elif resumed:
            lanes.episode = result.episodes + 1
        obs = lanes.start(config.seed, resumed)
        self._check_obs(obs)
        self._episode_start()
        first = True
        while True:
            states = obs
            if act_and_extras is not None:
                actions, extras = act_and_extras(states)
                if first:
                    self._check_extras(extras)
            else:
                actions, extras = act(states), None
            if not isinstance(actions, int | float | np.ndarray | np.generic):
                actions = np.asarray(actions)
            if noise is not None:
                actions = actions + noise()
                if low is not None:
                    actions = np.clip(actions, low, high)
            env_actions = actions if processor is None else processor(actions)
            if self.checks_left:
                self.checks_left -= 1
                self._check_action(env_actions, lanes.where(result.total_steps))
            obs, next_states, rewards, terminated, truncated, ended, n = step(env_actions)
            result.total_frames += n
            result.total_steps += n
            if rewarder is not None:
                rewards = shaped(rewarder(rewards, states, actions, next_states))
            if buffer is not None:
                transition = {"state": states, "action": actions, "reward": rewards, "next-state": next_states,
                              "terminal": terminated, "truncated": truncated}
                if extras:
                    transition.update(extras)
                buffer.push(transition)
            if observe is not None:
                if lanes.valid is None:
                    observe(states, actions, rewards, next_states, terminated, truncated)
                else:
                    lanes.observe(observe, states, actions, rewards, next_states, terminated, truncated)
            first = False
            if ended and finish_path is not None:
                lanes.finish_paths(finish_path, value, ended, next_states, terminated)
            if update is not None and result.total_steps >= self.next_update:
                due = self._due(result.total_steps)
                if wait:
                    self.pending_update = True
                else:
                    self._updates(due)
            if ended and not self._episodes_ended(ended, skipper):
                break
            if result.total_steps >= max_steps:
                break
            if self.next_checkpoint is not None and result.total_steps >= self.next_checkpoint \
                    and (ended or vector):  # a single env is saved between episodes
                self._sync_frames(skipper)
                resume.write(self, lanes.running(obs))
            if ended:
                obs = lanes.reset_ended(obs)
                self._episode_start()
        if not self.stop_reason:
            self.stop_reason = "max_steps"
        self._sync_frames(skipper)
        lanes.abandon(obs, finish_path, value, self.end_episode)  # the episodes still running

    def _episode_start(self):
        """A new episode starts (at the first step, and after a step in which episodes ended)."""
        if self.config.reset_each_episode and self.buffer is not None:
            self.buffer.clear()
        if self.config.noise is not None:
            reset = getattr(self.config.noise, "reset", None)
            if reset is not None:
                reset()

    def _sync_frames(self, skipper):
        """``total_frames`` from the frame-skip wrapper's count (each step counted one frame until here)."""
        if skipper is not None:
            self.result.total_frames = self.frames_before + skipper.frames

    def _episodes_ended(self, ended, skipper):
        """Record the episodes that ended (``ended``: their sub-environments), make a pending end-of-episode
        update, evaluate when due; returns whether the run goes on."""
        if self.pending_update:
            self.pending_update = False
            self._updates(1)
        self._sync_frames(skipper)
        before = self.result.episodes
        keep_going = True
        for i in ended:
            keep_going &= self._episode_finished(*self.lanes.end_episode(i))
        every = self.config.eval_every
        if every and self.eval_env is not None and self.result.episodes // every > before // every:
            self._evaluate()
        return keep_going and not self._stop()

    def _stop(self):
        """Whether the run has reached max_episodes or max_steps (sets the stop reason)."""
        if self.stop_reason:
            return True
        config, result = self.config, self.result
        if config.max_episodes is not None and result.episodes >= config.max_episodes:
            self.stop_reason = "max_episodes"
        elif config.max_steps is not None and result.total_steps >= config.max_steps:
            self.stop_reason = "max_steps"
        return bool(self.stop_reason)

    # -----------------------------------------------------------------------------------------------------
    # Checks

    def _check_obs(self, obs):
        state_shape = getattr(self.agent, "state_shape", None)
        if state_shape is None:
            return
        n_envs = self.lanes.batch
        try:
            check_observation(obs, tuple(state_shape), n_envs)
        except ShapeError as exc:
            batch = f" (a batch of {n_envs})" if n_envs is not None else ""
            raise ShapeError(f"run: the env {self.name} returns observations of shape "
                             f"{format_shape(np.shape(obs))}{batch}, but the agent "
                             f"({type(self.user_agent).__name__}) has state_shape "
                             f"{format_shape(tuple(state_shape))}: {exc}") from None

    def _check_action(self, env_action, where):
        try:
            check_action(self.env.action_space, env_action)
        except ValueError as exc:
            hint = " (after action_processor: check what it returns)" if self.config.action_processor else ""
            raise ValueError(f"run: invalid action at {where} of {self.name}{hint}: {exc}") from None

    def _check_extras(self, extras):
        if not isinstance(extras, Mapping):
            raise TypeError(f"run: {type(self.user_agent).__name__}.act_and_extras(states) must return "
                            f"(actions, dict of fields to store), got {type(extras).__name__} as the second "
                            f"value")
        clash = [k for k in extras if k in _STORED_FIELDS]
        if clash:
            raise ValueError(f"run: act_and_extras returned the field {clash[0]!r}, which run stores itself "
                             f"({list(_STORED_FIELDS)}); name it otherwise")

    def _bad_reward(self, reward, episode, step, source, env_index=None):
        where = f" of sub-environment {env_index}" if env_index is not None else ""
        culprit = "the rewarder returned" if source == "rewarder" else f"the env {self.name} returned"
        raise ValueError(f"run: {culprit} reward {reward} at step {step} of training episode {episode}{where} "
                         f"(total step {self.result.total_steps}); rewards must be finite: check the "
                         f"{'reward shaping' if source == 'rewarder' else 'environment'}")

    # -----------------------------------------------------------------------------------------------------
    # Updates

    def _due(self, total_steps):
        """The updates that became due by the step counter reaching ``total_steps``."""
        every = self.config.update_every
        n = (total_steps - self.next_update) // every + 1
        self.next_update += n * every
        return n

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
        step, update = self.result.total_steps, len(self.result.losses)
        described = ", ".join(f"{k} is {v}" for k, v in bad.items())
        path = self.config.checkpoint_path
        if path is None:
            saved = ("no checkpoint was kept (pass checkpoint_every= and checkpoint_path= to run to keep the "
                     "last good state)")
        elif self.checkpoint_step is None:
            saved = f"no checkpoint was written to {path} by this run yet"
        else:
            saved = (f"the last good checkpoint, of step {self.checkpoint_step}, is {path}, untouched (resume "
                     f"from it with resume=True)")
        raise TrainingDiverged(f"run: training diverged: {described} at step {step} (update {update}) of "
                               f"{type(agent).__name__} on {self.name}; {saved}. Lower the learning rate, clip "
                               f"the gradients (max_grad_norm) or check the rewards and observations for "
                               f"extreme values", step, update, bad, path, self.checkpoint_step)

    # -----------------------------------------------------------------------------------------------------
    # Episode ends, logging, callbacks, evaluation

    def _episode_finished(self, episode_return, length, env_index):
        """Record one finished training episode and run the logger and callbacks; returns False to stop."""
        result, config = self.result, self.config
        result.episode_returns.append(float(episode_return))
        result.episode_lengths.append(int(length))
        result.episode_steps.append(result.total_steps)
        if self.end_episode is not None:
            self.end_episode()
        if config.logger is not None:
            metrics = {"episode/return": float(episode_return), "episode/length": int(length)}
            metrics.update(_means(result.losses[self.logged_losses:]))
            self.logged_losses = len(result.losses)
            config.logger.write(metrics, result.total_steps)
        if self.bar is not None:
            self.bar.update(1 if config.max_episodes is not None else length)
        keep_going = True
        if config.callbacks:
            state = {"episode": result.episodes, "episode_return": float(episode_return),
                     "episode_length": int(length), "env_index": env_index, "total_steps": result.total_steps,
                     "result": result, "agent": self.user_agent, "buffer": self.buffer, "env": self.env}
            for callback in config.callbacks:
                if callback(state) is False:
                    keep_going = False
        if not keep_going:
            self.stop_reason = "callback"
        return keep_going

    def _evaluate(self):
        """One evaluation (:func:`~symgraph.rl.driver.evaluate.evaluate`) of the deterministic policy on the
        evaluation env, its first reset seeded with ``seed + EVAL_SEED_OFFSET``; records the mean return."""
        config, seed = self.config, None
        if not self.eval_seeded:
            self.eval_seeded = True
            seed = None if config.seed is None else config.seed + EVAL_SEED_OFFSET
        scores = evaluate(self.agent, self.eval_env, config.eval_max_episodes,
                          max_episode_steps=config.eval_max_episode_steps, seed=seed,
                          action_processor=config.action_processor, skip_frames=config.skip_frames)
        step = self.result.total_steps
        self.result.eval_returns.append((step, scores.mean))
        if config.logger is not None:
            config.logger.write({"eval/return": scores.mean, "eval/length": float(np.mean(scores.lengths))}, step)
