"""A run's checkpoints: writing the agent's and the run's state (:func:`write`), reading a checkpoint to
resume from and checking it against the run (:func:`read`), and restoring the run from it
(:func:`restore`). The file format is :mod:`symgraph.rl.checkpoint`'s."""

import os
import time

import numpy as np

from symgraph.errors import SaveLoadError
from symgraph.rl import checkpoint

__all__ = ["settings", "read", "write", "restore", "abandon_running"]

#: The settings a resumed run must share with the run that wrote the checkpoint.
RESUME_SETTINGS = ("env", "n_envs", "seed", "max_episode_steps", "update_every", "update_after", "skip_frames",
                   "wait_end_path", "reset_each_episode", "eval_every", "eval_max_episode_steps",
                   "eval_max_episodes")


def settings(driver):
    """The run's settings that a resumed run must share (:data:`RESUME_SETTINGS`)."""
    config = driver.config
    return {"env": driver.name, "n_envs": driver.n_envs, "seed": config.seed,
            "max_episode_steps": config.max_episode_steps, "update_every": config.update_every,
            "update_after": config.update_after, "skip_frames": config.skip_frames,
            "wait_end_path": config.wait_end_path, "reset_each_episode": config.reset_each_episode,
            "eval_every": config.eval_every, "eval_max_episode_steps": config.eval_max_episode_steps,
            "eval_max_episodes": config.eval_max_episodes}


def read(driver):
    """The checkpoint to resume from, ``(meta, arrays)``, checked against the driver's agent and settings."""
    path = driver.config.checkpoint_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"run: resume=True but there is no checkpoint at {path!r}; pass resume=False to "
                                f"start a new run, or the path of an existing checkpoint")
    meta, arrays = checkpoint.read(path, "run(resume=True)")
    if "run" not in meta:
        raise SaveLoadError(f"run: {path} is a learner checkpoint (learner.save), not a run checkpoint; load it "
                            f"with learner.load(path) and start a new run (resume=False)")
    owner = "run(resume=True)"
    with checkpoint.reading(owner, path):
        learner = checkpoint.learner_meta(meta, path, owner)
        agent = type(driver.user_agent)
        if (learner["module"], learner["class"]) != (agent.__module__, agent.__qualname__):
            raise SaveLoadError(f"run: {path} is a checkpoint of a {learner['class']} learner, but the agent is "
                                f"a {agent.__name__}; resume with the same kind of agent")
    checkpoint.check_settings(driver.user_agent, learner, path, owner, hint=(
        "build the agent with the checkpoint's settings to resume (symgraph.rl.load(path) rebuilds it from "
        "the file); a deliberate change starts a new run from learner.load(path, allow_changes=...)"))
    stored, current = meta["run"]["settings"], settings(driver)
    differ = [f"{k}={current[k]!r} here, {stored[k]!r} in the checkpoint" for k in RESUME_SETTINGS
              if stored[k] != current[k]]
    if differ:
        raise ValueError(f"run: resume=True with other settings than the run that wrote {path}: "
                         f"{'; '.join(differ)}; pass the same arguments (max_steps and max_episodes may change)")
    return meta, arrays


def write(driver, running=None):
    """Write the agent's and the run's state to the checkpoint file (``running``: a vector env's
    per-sub-environment episode state)."""
    meta, arrays = checkpoint.learner_entries(driver.user_agent)
    result, store = driver.result, {}
    state = {
        "settings": settings(driver),
        "counters": {"checks_left": driver.checks_left, "eval_seeded": driver.eval_seeded,
                     "next_update": driver.next_update, "pending_update": driver.pending_update,
                     "logged_losses": driver.logged_losses,
                     "elapsed": driver.elapsed_before + time.perf_counter() - driver.started},
        "result": checkpoint.pack({
            "episode_returns": result.episode_returns, "episode_lengths": result.episode_lengths,
            "episode_steps": result.episode_steps, "update_steps": result.update_steps,
            "losses": [metrics_to_python(m) for m in result.losses], "eval_returns": result.eval_returns,
            "total_steps": result.total_steps, "total_frames": result.total_frames}, store),
        "buffer": checkpoint.object_state(driver.buffer, store),
        "noise": None if driver.config.noise is None else checkpoint.object_state(driver.config.noise, store),
        "env": checkpoint.env_state(driver.env, store),
        "eval_env": None if driver.eval_env is None else checkpoint.env_state(driver.eval_env, store),
        "running": None if running is None else checkpoint.pack(running, store),
    }
    checkpoint.write(driver.config.checkpoint_path, {"learner": meta, "run": state}, {**arrays, **store})
    driver.checkpoint_step = result.total_steps
    every = driver.config.checkpoint_every
    driver.next_checkpoint = (result.total_steps // every + 1) * every


def restore(driver, meta, arrays):
    """Load the agent and the run's state from a checkpoint into ``driver`` (after the action spaces were
    seeded); returns the running episodes' state of a vector env (None for a single env)."""
    path, noise = driver.config.checkpoint_path, driver.config.noise
    checkpoint.restore_learner(driver.user_agent, meta["learner"], arrays, path)
    state = meta["run"]
    counters = state["counters"]
    driver.checks_left, driver.eval_seeded = counters["checks_left"], counters["eval_seeded"]
    driver.next_update, driver.pending_update = counters["next_update"], counters["pending_update"]
    driver.logged_losses, driver.elapsed_before = counters["logged_losses"], counters["elapsed"]
    for name, value in checkpoint.unpack(state["result"], arrays).items():
        setattr(driver.result, name, value)
    checkpoint.restore_object_state(driver.buffer, state["buffer"], arrays)
    if (state["noise"] is None) != (noise is None):
        raise ValueError(f"run: the checkpoint was written by a run {'without' if noise is None else 'with'} "
                         f"noise, this one has {'some' if noise is not None else 'none'}; resume with the same "
                         f"noise")
    if noise is not None:
        checkpoint.restore_object_state(noise, state["noise"], arrays)
    checkpoint.restore_env_state(driver.env, state["env"], arrays)
    if (state["eval_env"] is None) != (driver.eval_env is None):
        raise ValueError("run: the checkpoint's run had an evaluation env and this one has none (or the "
                         "reverse); resume with the same eval_every/eval_env")
    if driver.eval_env is not None:
        checkpoint.restore_env_state(driver.eval_env, state["eval_env"], arrays)
    every = driver.config.checkpoint_every
    if every is not None:
        driver.next_checkpoint = (driver.result.total_steps // every + 1) * every
    driver.checkpoint_step = driver.result.total_steps
    return None if state["running"] is None else checkpoint.unpack(state["running"], arrays)


def abandon_running(driver, running):
    """Resuming a vector env: end the episodes that were running at the checkpoint, since every
    sub-environment starts a new one (their last transitions marked truncated, their paths finished with a
    bootstrap from the stored observations, ``end_episode()`` called); returns the episode numbers."""
    running_envs = np.flatnonzero(running["ep_len"] > 0)
    if driver.buffer is not None and len(running_envs):
        driver.buffer.mark_truncated(running_envs)
    if driver.finish_path is not None and len(running_envs):
        last = (np.zeros(len(running_envs)) if driver.value is None
                else np.asarray(driver.value(running["obs"][running_envs]), dtype=np.float64).reshape(-1))
        driver.finish_path(last, env_index=running_envs)
    if driver.end_episode is not None:
        for _ in running_envs:
            driver.end_episode()
    episode_no = np.array(running["episode_no"], dtype=np.int64)
    episode_no[running_envs] += 1
    return episode_no


def metrics_to_python(metrics):
    """An update's metrics with Python floats for scalars and numpy arrays for the rest."""
    out = {}
    for key, value in metrics.items():
        arr = np.asarray(value)
        out[key] = arr.item() if arr.size == 1 and arr.dtype.kind in "biuf" else arr
    return out
