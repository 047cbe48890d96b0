"""The environments as the driver's loop sees them: a vector of ``n`` sub-environments, each running its own
episode. :class:`VectorEnvs` drives a gymnasium vector env; :class:`OneEnv` drives a single env as a vector
of one (as Stable-Baselines3's ``DummyVecEnv``), whose batch is its one item without a batch axis, so that
the agent's hooks receive one state, one transition, Python numbers where the env gives them, and the
per-step path allocates nothing beyond the env's own step.

Both offer the loop the same calls: ``start`` (the first reset), ``step(actions)`` (one step of every
sub-environment, counting each episode's return and length and cutting it at ``max_episode_steps``),
``shaped`` (a checked shaped reward), ``end_episode(i)``, ``finish_paths``, ``reset_ended`` (start new
episodes where episodes ended) and ``abandon`` (the end of the run)."""

import math

import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from symgraph.rl.envs import final_observations

__all__ = ["OneEnv", "VectorEnvs"]

_NOT_ENDED, _ENDED = (), (0,)


class OneEnv:
    """A single env as a vector of one (see the module docstring).

    Args:
        env: the env to step (with :class:`~symgraph.rl.driver.frames.SkipFrames` around it for an action
            repeat).
        max_episode_steps: an int or None.
        bad_reward: ``bad_reward(reward, episode, step, source, env_index)`` raises the run's error.
    """

    n_envs, batch, vector = 1, None, False

    def __init__(self, env, max_episode_steps, bad_reward):
        self.env, self._step = env, env.step
        self.max_len = max_episode_steps or math.inf
        self.bad_reward = bad_reward
        self.ep_return, self.ep_len, self.episode = 0.0, 0, 1
        self.valid = None  # every step is a transition

    def start(self, seed, resumed):
        """The first observation: ``env.reset(seed=seed)``, or an unseeded reset when resuming (the env's
        generators come from the checkpoint)."""
        return self.env.reset()[0] if resumed else self.env.reset(seed=seed)[0]

    def where(self, total_steps):
        """The current step, for messages."""
        return f"step {self.ep_len + 1} of training episode {self.episode}"

    def step(self, action):
        """One env step: ``(obs, next_state, reward, terminated, truncated, ended, transitions)``, where
        ``truncated`` includes the cut at ``max_episode_steps`` and ``ended`` is ``(0,)`` or ``()``."""
        next_state, reward, terminated, truncated, _ = self._step(action)
        if not math.isfinite(reward):
            self.bad_reward(reward, self.episode, self.ep_len + 1, "env", None)
        self.ep_len += 1
        self.ep_return += reward
        if not terminated and not truncated and self.ep_len >= self.max_len:
            truncated = True
        return next_state, next_state, reward, terminated, truncated, \
            _ENDED if terminated or truncated else _NOT_ENDED, 1

    def shaped(self, reward):
        """The ``rewarder``'s reward, checked: the run's error if it is not finite."""
        if not math.isfinite(reward):
            self.bad_reward(reward, self.episode, self.ep_len, "rewarder", None)
        return reward

    def finish_paths(self, finish_path, value, ended, next_state, terminated):
        """``finish_path`` of the ended episode: bootstrapped from ``value(next_state)`` unless it
        terminated."""
        finish_path(0.0 if terminated or value is None else float(np.asarray(value(next_state)).item()))

    def end_episode(self, i):
        """``(return, length, env_index)`` of the episode that ended, whose counters start over."""
        out = (self.ep_return, self.ep_len, None)
        self.ep_return, self.ep_len = 0.0, 0
        self.episode += 1
        return out

    def reset_ended(self, obs):
        """The first observation of the next episode."""
        return self.env.reset()[0]

    def running(self, obs):
        """The state of the running episodes to checkpoint: none (a single env is saved between episodes)."""
        return None

    def abandon(self, obs, finish_path, value, end_episode):
        """The run stops mid-episode: finish its path (bootstrapped) and end it."""
        if self.ep_len:
            if finish_path is not None:
                finish_path(0.0 if value is None else float(np.asarray(value(obs)).item()))
            if end_episode is not None:
                end_episode()


class VectorEnvs:
    """A gymnasium vector env (see the module docstring). A sub-environment whose episode is cut at
    ``max_episode_steps`` is reset alone where the env allows it (``SyncVectorEnv``/``AsyncVectorEnv``),
    else it continues as a new episode; an env that resets ended sub-environments in the *next* step
    (``AutoresetMode.NEXT_STEP``) without partial resets has that step's rows skipped (no transition).

    Args:
        env: the vector env.
        max_episode_steps: an int or None.
        bad_reward: as for :class:`OneEnv`.
        name: the env's name for messages.
        stores: whether the run stores transitions (a buffer), which skipped rows would corrupt.
    """

    vector = True

    def __init__(self, env, max_episode_steps, bad_reward, name, stores):
        self.env, self.n_envs = env, env.num_envs
        self.batch = self.n_envs
        self.max_len = max_episode_steps or math.inf
        self.bad_reward = bad_reward
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = AutoresetMode(mode) if not isinstance(mode, AutoresetMode) else mode
        self.partial_reset = isinstance(env.unwrapped, SyncVectorEnv | AsyncVectorEnv)
        self.same_step = mode == AutoresetMode.SAME_STEP
        self.skip_mode = not self.same_step and not self.partial_reset  # a step after an end is a reset
        if self.skip_mode and mode == AutoresetMode.DISABLED:
            raise ValueError(f"run: the vector env {name} does not reset sub-environments by itself "
                             f"(AutoresetMode.DISABLED) and cannot reset one alone; build it with "
                             f"make_env(..., n_envs=N) (same-step autoreset)")
        if self.skip_mode and stores:
            raise ValueError(f"run: the vector env {name} resets a finished sub-environment in the *next* "
                             f"step (AutoresetMode.NEXT_STEP), which leaves no transition for it in that step's "
                             f"buffer row; build it with make_env(..., n_envs=N) or gymnasium.make_vec(..., "
                             f"vector_kwargs={{'autoreset_mode': AutoresetMode.SAME_STEP}})")
        n = self.n_envs
        self.ep_return = np.zeros(n)
        self.ep_len = np.zeros(n, dtype=np.int64)
        self.episode_no = np.ones(n, dtype=np.int64)  # the number of each sub-environment's running episode
        self.skip_rows = np.zeros(n, dtype=bool)
        self.valid = None  # the rows of the last step that are transitions (None: all)
        self._cut = self._done = None

    def start(self, seed, resumed):
        """The first observations: ``env.reset(seed=seed)`` (sub-environment ``i`` gets ``seed + i``), or an
        unseeded reset when resuming."""
        return self.env.reset()[0] if resumed else self.env.reset(seed=seed)[0]

    def where(self, total_steps):
        """The current step, for messages."""
        return f"vector step {total_steps // self.n_envs + 1}"

    def step(self, actions):
        """One vector step: ``(obs, next_states, rewards, terminated, truncated, ended, transitions)``, where
        ``next_states`` are the true next observations (``obs`` holds the next episode's first where an env
        reset in the step), ``truncated`` includes the cuts at ``max_episode_steps``, ``ended`` lists the
        sub-environments whose episode ended and ``transitions`` counts the rows that are transitions."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        valid = ~self.skip_rows if self.skip_mode else None
        self.valid = valid
        n_valid = self.n_envs if valid is None else int(valid.sum())
        if not np.isfinite(rewards).all():
            i = int(np.flatnonzero(~np.isfinite(rewards))[0])
            self.bad_reward(rewards[i], int(self.episode_no[i]), int(self.ep_len[i]) + 1, "env", i)
        next_states = final_observations(obs, info) if self.same_step else obs
        if valid is None:
            self.ep_len += 1
            self.ep_return += rewards
        else:
            self.ep_len += valid
            self.ep_return += np.where(valid, rewards, 0.0)
        ended = terminated | truncated  # ended by the env
        cut = ~ended & (self.ep_len >= self.max_len)
        if valid is not None:
            ended &= valid
            cut &= valid
            self.skip_rows = ended
        done = ended | cut
        self._cut, self._done = cut, done
        return obs, next_states, rewards, terminated, truncated | cut, np.flatnonzero(done).tolist(), n_valid

    def shaped(self, rewards):
        """The ``rewarder``'s rewards as float64, checked: the run's error where one is not finite."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if not np.isfinite(rewards).all():
            i = int(np.flatnonzero(~np.isfinite(rewards))[0])
            self.bad_reward(rewards[i], int(self.episode_no[i]), int(self.ep_len[i]), "rewarder", i)
        return rewards

    def observe(self, observe, states, actions, rewards, next_states, terminated, truncated):
        """``observe`` the rows of the last step that are transitions."""
        valid = self.valid
        if valid.any():
            observe(states[valid], actions[valid], rewards[valid], next_states[valid], terminated[valid],
                    truncated[valid])

    def finish_paths(self, finish_path, value, ended, next_states, terminated):
        """``finish_path`` of the ended episodes, bootstrapped from ``value`` where they were truncated."""
        ended = np.asarray(ended)
        last = np.zeros(len(ended))
        boot = ~terminated[ended]
        if value is not None and boot.any():
            last[boot] = np.asarray(value(next_states[ended[boot]]), dtype=np.float64).reshape(-1)
        finish_path(last, env_index=ended)

    def end_episode(self, i):
        """``(return, length, env_index)`` of sub-environment ``i``'s episode that ended; its counters start
        over."""
        out = (self.ep_return[i], self.ep_len[i], int(i))
        self.ep_return[i], self.ep_len[i] = 0.0, 0
        self.episode_no[i] += 1
        return out

    def reset_ended(self, obs):
        """The observations after resetting, where the env allows it, the sub-environments whose episode was
        cut (and, for a next-step autoreset env, those that ended)."""
        mask = self._cut if self.same_step else (self._done if self.partial_reset else None)
        if mask is None or not mask.any() or not self.partial_reset:
            return obs
        new_obs, _ = self.env.reset(options={"reset_mask": mask})
        obs = np.array(obs, copy=True)
        obs[mask] = np.asarray(new_obs)[mask]
        return obs

    def running(self, obs):
        """The running episodes' state, for a checkpoint."""
        return {"obs": np.asarray(obs), "ep_len": self.ep_len, "episode_no": self.episode_no}

    def abandon(self, obs, finish_path, value, end_episode):
        """The run stops: finish the running episodes' paths (bootstrapped from ``obs``) and end them."""
        running = np.flatnonzero(self.ep_len > 0)
        if finish_path is not None and len(running):
            last = (np.zeros(len(running)) if value is None
                    else np.asarray(value(obs[running]), dtype=np.float64).reshape(-1))
            finish_path(last, env_index=running)
        if end_episode is not None:
            for _ in running:
                end_episode()
