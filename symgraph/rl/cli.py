"""The command line, ``symgraph-rl`` (also ``python -m symgraph.rl``): train, resume, evaluate, plot, bandits, list.

- ``train ALGO ENV``: trains with the tuned settings of :mod:`symgraph.rl.zoo` (or the learner's defaults,
  with a note, for a pair without an entry), through :func:`symgraph.rl.run` (tabular agents: the
  :class:`~symgraph.rl.tabular.Trainer`), and leaves in the log directory ``progress.csv`` (one row per
  episode and per evaluation, :class:`~symgraph.rl.logging.Logger`), ``learning_curve.png``,
  ``checkpoint.npz`` (``learner.save``) and ``config.json`` (the settings used and the result).
- ``resume LOGDIR``: continues an interrupted ``train`` from its checkpoints.
- ``evaluate CHECKPOINT``: loads a checkpoint and reports the mean and standard deviation of its greedy
  return.
- ``plot LOGDIR...``: learning curves (mean and 95% bootstrap interval over seeds) as a PNG.
- ``bandit --agent A --bandit B``: a bandit run, its regret curve and summary.
- ``list``: the algorithms, the environments and the tuned pairs.

What the commands say goes through the ``logging`` logger ``symgraph.rl.cli``, which :func:`main` sends to
standard output; progress bars go to standard error (only on a terminal, outside CI, and not with
``--no-progress``). Bad arguments, and files that cannot be used (a log directory in use, a damaged checkpoint or
``config.json``, an env id in a file that is not registered), exit with status 2 and a one-line argparse-style
message naming the argument or file, the valid choices or range; a failure while training (e.g. a diverging
loss) exits with status 1.
"""

import argparse
import contextlib
import csv
import difflib
import fcntl
import inspect
import io
import json
import logging
import math
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
from gymnasium import spaces

import symgraph
from symgraph.errors import SaveLoadError
from symgraph.io import atomic_write, remove_stale_temporaries
from symgraph.rl import bandits, checkpoint, envs, plotting, zoo
from symgraph.rl.driver.evaluate import evaluate
from symgraph.rl.driver.loop import EVAL_SEED_OFFSET
from symgraph.rl.logging import CSV_NAME, Logger
from symgraph.rl.progress import progress_bar, progress_enabled

__all__ = ["main", "build_parser", "parse_setting", "evaluate_policy"]

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
CHECKPOINT_NAME = "checkpoint.npz"
CURVE_NAME = "learning_curve.png"
#: The lock file that marks a log directory as in use by a run (removed when the run ends).
LOCK_NAME = ".symgraph-rl.lock"
#: The largest int a setting, budget or seed may take: compiled programs hold ints in 32 bits.
INT_MAX = 2**31 - 1
#: Checkpoints written per training run (``run``'s ``checkpoint_every`` is the budget over this).
CHECKPOINTS_PER_RUN = 10

_BANDITS = {
    "bernoulli": lambda seed: bandits.BernoulliMAB(arms=10, seed=seed),
    "gaussian": lambda seed: bandits.GaussianMAB(bandits=1, arms=10, seed=seed),
    "wheel": lambda seed: bandits.WheelBandit(delta=0.5, seed=seed),
}
_BANDIT_HELP = {"bernoulli": "10 Bernoulli arms, probabilities drawn uniformly",
                "gaussian": "10 Gaussian arms, means drawn from N(0, 1), noise 1",
                "wheel": "the wheel bandit (Riquelme et al. 2018), delta 0.5"}
_MAB_AGENTS = {
    "epsilon-greedy": (bandits.EpsilonGreedy, ("bernoulli", "gaussian")),
    "ucb1": (bandits.UCB1, ("bernoulli", "gaussian")),
    "bayesian-ucb": (bandits.BayesianUCB, ("bernoulli",)),
    "thompson": (bandits.ThompsonSampling, ("bernoulli",)),
    "gaussian-thompson": (bandits.GaussianThompsonSampling, ("bernoulli", "gaussian")),
    "gradient": (bandits.GradientBandit, ("bernoulli", "gaussian")),
}
_CONTEXTUAL_AGENTS = {
    "linear-posterior": bandits.LinearPosterior, "neural-linear": bandits.NeuralLinearPosterior,
    "neural-greedy": bandits.NeuralGreedy, "bootstrap": bandits.Bootstrap,
    "noise-sampling": bandits.NeuralNoiseSampling, "variational": bandits.Variational, "uniform": bandits.Uniform,
}
_BANDIT_AGENTS = {**{k: v for k, (v, _) in _MAB_AGENTS.items()}, **_CONTEXTUAL_AGENTS}


class UsageError(Exception):
    """A bad command-line argument: :func:`main` reports it as argparse does (status 2)."""


# ---------------------------------------------------------------------------------------------------------
# --set key=value


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and not any(c in text.lower() for c in ".en") else value


def _guess(text):
    """A value of unknown type: None, a bool, a number, a tuple (commas) or the string itself."""
    lowered = text.strip().lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text or (text.strip()[:1] and text.strip()[0] in "(["):
        return _tuple(text)
    number = _number(text)
    return text if number is None else number


def _tuple(text):
    inner = text.strip().strip("()[]")
    items = [item.strip() for item in inner.split(",") if item.strip()]
    return tuple(_guess(item) for item in items)


def parse_setting(key, text, default):
    """The value of ``--set key=text`` for a setting whose default is ``default``: parsed as a bool
    (``true/false/yes/no/on/off/1/0``), an int (``1e5`` is 100000), a float, a tuple (``64,64`` or
    ``(64, 64)``) or a string (a number when it reads as one: ``alpha=0.1`` of a setting whose default is
    ``"auto"``) after the default's type; ``none`` is None for any setting. A default of None (or none)
    guesses the type from the text.

    Raises:
        UsageError: the text does not read as the setting's type (the message names the key, the type,
            the default and the text).
    """
    if text.strip().lower() == "none":
        return None
    kind = type(default)
    what = {bool: "true or false", int: "an int", float: "a number", tuple: "a tuple such as 64,64"}.get(kind)

    def bad():
        return UsageError(f"--set {key}={text}: {key} takes {what} (its default is {default!r}), got {text!r}")

    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in _TRUE + _FALSE:
            raise bad()
        return lowered in _TRUE
    if kind is int:
        number = _number(text)
        if number is None or not math.isfinite(number) or float(number) != int(float(number)):
            raise bad()
        value = int(float(number))
    elif kind is float:
        number = _number(text)
        if number is None:
            raise bad()
        value = float(number)
    elif kind is tuple:
        value = _tuple(text)
    elif kind is str:
        number = _number(text)
        value = text if number is None else number
    else:
        value = _guess(text)
    _check_number(key, text, value)
    return value


def _numbers(value):
    """The numbers in ``value`` (itself, or the items of a tuple, nested ones too)."""
    if isinstance(value, tuple):
        return [n for item in value for n in _numbers(item)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _check_number(key, text, value):
    """Refuse a NaN, an infinity or an int beyond 32 bits in the value of ``--set key=text``."""
    numbers = _numbers(value)
    if any(isinstance(n, float) and not math.isfinite(n) for n in numbers):
        what = "finite numbers" if isinstance(value, tuple) else "a finite number"
        raise UsageError(f"--set {key}={text}: {key} takes {what} (NaN and infinities are no setting), got {text!r}")
    if any(isinstance(n, int) and abs(n) > INT_MAX for n in numbers):
        raise UsageError(f"--set {key}={text}: {key} must be at most {INT_MAX:,} in magnitude (the ints of a "
                         f"compiled program have 32 bits), got {text!r}")


def _apply_settings(pairs, algo, learner, run):
    """Apply ``--set key=value`` pairs to the learner kwargs and run settings; returns the overrides."""
    parameters = zoo.learner_parameters(algo)
    run_keys = zoo.run_defaults(algo)
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected key=value (e.g. --set lr=3e-4 hidden=64,64)")
        if key in run_keys:
            run[key] = overrides[key] = parse_setting(key, text, run_keys[key])
        elif key in parameters:
            default = parameters[key]
            if default is None or default is inspect.Parameter.empty:
                default = learner.get(key)  # the type of the entry's value, if it gives one
            learner[key] = overrides[key] = parse_setting(key, text, default)
        else:
            close = difflib.get_close_matches(key, [*parameters, *run_keys], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"--set: unknown key {key!r} for {algo}{hint}; valid keys: learner "
                             f"{', '.join(sorted(parameters))}; run {', '.join(sorted(run_keys))}")
    _check_run(run)
    return overrides


_RUN_MINIMUM = {"n_envs": 1, "total_steps": 1, "buffer_size": 1, "update_every": 1, "update_after": 0,
                "n_episodes": 1, "evaluations": 0, "eval_episodes": 1}


def _check_run(run):
    for key, minimum in _RUN_MINIMUM.items():
        value = run.get(key, minimum)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= INT_MAX:
            raise UsageError(f"--set {key}: must be an int from {minimum} to {INT_MAX:,}, got {value!r}")
    if run.get("noise", None) not in (None, "gaussian", "ou"):
        raise UsageError(f"--set noise: must be gaussian, ou or none, got {run['noise']!r}")
    for key, low, high in (("noise_sigma", 0, np.inf), ("exploration_initial", 0, 1), ("exploration_final", 0, 1),
                           ("exploration_fraction", 0, 1)):
        value = run.get(key, low)
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            raise UsageError(f"--set {key}: must be a number in [{low}, {high}], got {value!r}")


def _check_rollout(algo, learner, run):
    """Refuse an on-policy rollout (``n_steps x n_envs`` transitions) longer than the step budget: no update
    would ever happen."""
    if zoo.family(algo) != "on-policy":
        return
    n_steps = learner.get("n_steps", zoo.learner_parameters(algo).get("n_steps"))
    if not isinstance(n_steps, int) or isinstance(n_steps, bool):  # episodic, or a value the learner refuses
        return
    n_envs, budget = run["n_envs"], run["total_steps"]
    if n_steps * n_envs > budget:
        raise UsageError(f"a rollout of n_steps x n_envs = {n_steps:,} x {n_envs:,} transitions is longer than "
                         f"the budget of {budget:,} steps, so no update would happen; lower n_steps or n_envs "
                         f"(--set n_steps=N) or raise the budget (--steps N)")


# ---------------------------------------------------------------------------------------------------------
# Environments


def _check_env(algo, env_id):
    """Make ``env_id`` once (a clear error if it is unknown or needs a missing extra) and check that
    ``algo`` suits its spaces (an error listing the algorithms that do)."""
    if env_id not in gymnasium.registry:
        tuned = sorted({e for _, e in zoo.entries()})
        close = envs.close_env_ids(env_id)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown env {env_id!r}{hint}; envs with tuned settings: {', '.join(tuned)}; any "
                         f"other gymnasium id works with the learner's defaults (see 'symgraph-rl list')")
    try:
        env = gymnasium.make(env_id)
    except gymnasium.error.DependencyNotInstalled as exc:
        raise UsageError(f"env {env_id!r} needs a package that is not installed: {exc}") from None
    observation, action = env.observation_space, env.action_space
    env.close()
    problem = _mismatch(algo, observation, action)
    if problem:
        fits = [a for a in zoo.ALGORITHMS if _mismatch(a, observation, action) is None]
        raise UsageError(f"{problem}; {env_id} has observations {observation} and actions {action}; "
                         f"algorithms for {env_id}: {', '.join(fits) or 'none'}")


def _mismatch(algo, observation, action):
    """Why ``algo`` cannot learn with these spaces, or None."""
    if zoo.family(algo) == "tabular":
        if not (isinstance(observation, spaces.Discrete) and isinstance(action, spaces.Discrete)):
            return "tabular agents need Discrete observations and actions"
    elif isinstance(observation, spaces.Discrete):
        return f"{algo} needs vector observations, not state indices (use a tabular agent)"
    elif zoo.family(algo) == "off-policy" and zoo.learner_class(algo).discrete \
            and not isinstance(action, spaces.Discrete):
        return f"{algo} needs Discrete actions"
    elif zoo.family(algo) == "off-policy" and not zoo.learner_class(algo).discrete \
            and not isinstance(action, spaces.Box):
        return f"{algo} needs continuous (Box) actions"
    elif not isinstance(action, spaces.Discrete | spaces.Box):
        return f"{algo} needs Discrete or Box actions"
    return None


def evaluate_policy(act, env, episodes, seed):
    """Returns of ``episodes`` greedy episodes of ``act(observation) -> action`` on ``env``, the ``i``-th
    reset with ``seed + i`` (a numpy array of floats): :func:`symgraph.rl.evaluate` with one seed per
    episode. Evaluation episodes are seeded from ``seed + EVAL_SEED_OFFSET``, as ``rl.run``'s own."""
    return evaluate(act, env, episodes, seed=[seed + i for i in range(episodes)]).returns


# ---------------------------------------------------------------------------------------------------------
# Files


def _write_json(path, data):
    text = json.dumps(data, indent=2, default=_json_default) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode()))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _one_line(text):
    """``text`` on one line (its line breaks and the spaces around them made one space)."""
    return re.sub(r"\s*\n\s*", " ", str(text)).strip()


def _dir_name(text):
    """``text`` as one safe path component: each run of characters other than letters, digits, ``.``, ``_``
    and ``-`` (the ``/`` of a namespaced env id such as ``phys2d/CartPole-v1``, a ``:``...) becomes ``-``."""
    return re.sub(r"[^\w.-]+", "-", text)


class _Claim:
    """A log directory held by this process for a run: its lock file :data:`LOCK_NAME`, locked with
    ``flock`` (the lock goes with the process, even a killed one). :meth:`release` removes the lock file,
    then the directories the claim created if the run left them empty."""

    def __init__(self, path, handle, created=()):
        self.path, self.handle, self.created = path, handle, list(created)

    def release(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path / LOCK_NAME)
        os.close(self.handle)
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):  # not empty: the run wrote there
                folder.rmdir()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def _lock(path, fresh):
    """A handle of ``path``'s lock file locked by this process, or None when another process holds it (or,
    ``fresh``: when it exists at all, since two runs that find an empty directory at once both create it and
    only one succeeds)."""
    try:
        handle = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | (os.O_EXCL if fresh else 0), 0o644)
    except FileExistsError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return None
    os.ftruncate(handle, 0)
    os.write(handle, f"{os.getpid()}\n".encode())
    return handle


def _holder(path):
    """The process id in ``path``'s lock file when a process holds it, else None."""
    try:
        handle = os.open(path / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(handle, 32).decode(errors="replace").strip() or "?"
    finally:
        os.close(handle)
    return None


def _in_use(what, path):
    holder = _holder(path)
    if holder is None:
        return None
    return UsageError(f"{what} is in use by another symgraph-rl run (process {holder}); wait for it to end, or "
                      f"choose another directory")


def _make_dirs(path):
    """Create ``path`` and its missing parents; returns those this call created, parents first."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # made by another process meanwhile
            continue
        created.append(folder)
    return created


def _try_claim(path, explicit):
    """A claim of ``path`` when it is absent or an empty directory; else None (a default name: the caller
    tries the next one) or an error (a ``--logdir`` the user named)."""
    what = f"--logdir {path}" if explicit else f"the log directory {path}"
    try:
        created = _make_dirs(path)
        taken = path not in created and (not path.is_dir() or any(path.iterdir()))
        handle = None if taken else _lock(path, fresh=True)
    except OSError as exc:
        raise UsageError(f"{what}: cannot create it ({exc.strerror or exc}); choose a directory that can be "
                         f"written") from None
    if handle is not None:
        return _Claim(path, handle, created)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()
    if not explicit:
        return None
    busy = _in_use(what, path)
    if busy is not None:
        raise busy
    if not path.is_dir():
        raise UsageError(f"{what} is a file, not a directory; choose another directory")
    raise UsageError(f"{what} exists and is not empty; choose another directory (or remove it)")


def _claim_new(path, explicit):
    """Claim a fresh log directory for ``train``: ``path`` when it is absent or empty; otherwise an error (a
    ``--logdir`` the user named) or the first free ``path-1``, ``path-2``... (a default one). Claiming is
    atomic (a lock file created with ``O_EXCL`` in the directory), so of two runs started at once on one
    directory exactly one gets it; a directory that holds files is never reused."""
    n = 0
    while (claim := _try_claim(path if n == 0 else path.with_name(f"{path.name}-{n}"), explicit)) is None:
        n += 1
    return claim


def _claim_existing(logdir):
    """Claim the log directory of a run to ``resume`` (a lock file left by a killed run is taken over); an
    error when another process holds it."""
    try:
        handle = _lock(logdir, fresh=False)
    except OSError as exc:
        raise UsageError(f"cannot resume in {logdir}: cannot write there ({exc.strerror or exc})") from None
    if handle is None:
        raise _in_use(str(logdir), logdir) or UsageError(f"{logdir} is in use by another symgraph-rl run")
    return _Claim(logdir, handle)


def _image_path(option, path):
    """``path`` as the file the plot is written to (with ``.png`` added when it has no suffix, as matplotlib
    does), its folder created; an error naming ``option`` when that fails."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(f"{path.name}.png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write it ({exc.strerror or exc})") from None
    return path


def _fresh_file(path):
    path = Path(path)
    n = 1
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


# ---------------------------------------------------------------------------------------------------------
# train


class _TrainLog:
    """``run``'s logger for the command line: every write goes to the CSV log (and TensorBoard), and each
    evaluation writes one table to the command's output with the evaluation, the training episodes since
    the last one (their count and mean return) and the latest mean of each update metric.

    The files are opened at the first write, so a run that fails before it logs anything (a resumed run
    whose checkpoint does not fit) leaves its log as it was."""

    def __init__(self, logdir, tensorboard, after_step=None):
        self.logdir, self.tensorboard, self.after_step = logdir, tensorboard, after_step
        self.files = None
        self.table = Logger(formats=("stdout",), stream=log)
        self.returns, self.updates = [], {}

    @property
    def started(self):
        """Whether anything was logged (the log files are open)."""
        return self.files is not None

    def write(self, metrics, step):
        if self.files is None:
            self.files = Logger(self.logdir, formats=("csv", "tensorboard") if self.tensorboard else ("csv",),
                                append=self.after_step is not None, after_step=self.after_step)
        self.files.write(metrics, step)
        if "episode/return" in metrics:
            self.returns.append(metrics["episode/return"])
            self.updates.update({k: v for k, v in metrics.items() if k.startswith("update/")})
        if "eval/return" in metrics:
            row = dict(metrics)
            if self.returns:
                row.update({"train/episodes": len(self.returns), "train/mean_return": float(np.mean(self.returns))})
            row.update(self.updates)
            self.table.write(row, step)
            self.returns = []

    def close(self):
        if self.files is not None:
            self.files.close()
        self.table.close()


def _start(logdir, config):
    """Create the log directory and write ``config.json`` (once the learner is built: bad settings leave
    nothing behind)."""
    logdir.mkdir(parents=True, exist_ok=True)
    _write_json(logdir / CONFIG_NAME, config)


class _Evaluations:
    """``run``'s callback that evaluates the greedy policy each time the step count passes a multiple of
    ``every`` (on the ``episodes`` episodes seeded ``seed``, ``seed + 1``... each time, so that evaluations
    differ by the policy only) and logs ``eval/return`` and ``eval/std``."""

    def __init__(self, env_id, every, episodes, seed, logger, last=None):
        self.env = gymnasium.make(env_id)
        self.every, self.episodes, self.seed, self.logger = every, episodes, seed, logger
        # last: the step of the last evaluation in the log of a resumed run (the schedule goes on from it)
        self.next = every if last is None or not every else (last // every + 1) * every

    def evaluate(self, agent, step):
        returns = evaluate_policy(lambda s: agent.act(s, deterministic=True), self.env, self.episodes, self.seed)
        self.logger.write({"eval/return": float(returns.mean()), "eval/std": float(returns.std())}, step)
        return returns

    def __call__(self, state):
        step = state["total_steps"]
        if self.every and step >= self.next:
            self.evaluate(state["agent"], step)
            self.next = (step // self.every + 1) * self.every

    def close(self):
        self.env.close()


def _plural(n, noun):
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _result(steps, episodes, seconds, returns):
    return {"total_steps": int(steps), "episodes": int(episodes), "seconds": round(seconds, 2),
            "final_eval": {"mean": float(returns.mean()), "std": float(returns.std()), "episodes": len(returns)}}


def _train_deep(algo, env_id, learner_kwargs, run_settings, seed, logdir, config, progress, tensorboard,
                resume_from=None):
    """One seed of a deep-RL learner through ``rl.run``; returns the result dict of ``config.json``. With
    ``resume_from`` (:func:`_resume_point`), continues the run of the checkpoint in ``logdir``, its log from
    the checkpoint's step on."""
    from symgraph.rl.run import run

    n_envs, total = run_settings["n_envs"], run_settings["total_steps"]
    env = envs.make_env(env_id, n_envs=n_envs)
    try:
        agent = zoo.make_learner(algo, env, learner_kwargs, run_settings, seed)
    except (ValueError, TypeError) as exc:
        env.close()
        raise UsageError(f"the settings were rejected: {exc}") from None
    path = logdir / CHECKPOINT_NAME
    resume = resume_from is not None
    after_step, last_eval = resume_from if resume else (None, None)
    if not resume:
        _start(logdir, config)
    # the learner contract: the learner says when it updates and what storage it needs
    buffer = agent.make_storage(n_envs)
    schedule = agent.schedule
    options = {"update_every": schedule.update_every, "update_after": schedule.update_after,
               "wait_end_path": schedule.at_episode_end, "noise": None}
    if run_settings.get("noise"):
        options["noise"] = agent.make_noise(run_settings["noise_sigma"], run_settings["noise"])
    logger = _TrainLog(logdir, tensorboard, after_step)
    count = run_settings["evaluations"]
    evaluations = _Evaluations(env_id, max(1, total // count) if count else 0, run_settings["eval_episodes"],
                               seed + EVAL_SEED_OFFSET, logger, last_eval)
    start = time.perf_counter()
    try:
        try:
            result = run(env, agent, buffer, max_steps=total, max_episodes=None, eval_every=0, seed=seed,
                         logger=logger, progress=progress, callbacks=evaluations, checkpoint_path=path,
                         checkpoint_every=max(1, total // CHECKPOINTS_PER_RUN), resume=resume, **options)
        except (SaveLoadError, ValueError) as exc:  # run's checks of the checkpoint against the settings
            if _buffer_too_large(exc, buffer, logger) and zoo.family(algo) != "on-policy":
                if not resume:  # nothing was logged: leave no log directory behind
                    (logdir / CONFIG_NAME).unlink(missing_ok=True)
                raise UsageError(f"--set buffer_size: a replay buffer of {run_settings['buffer_size']:,} "
                                 f"transitions cannot be allocated ({_one_line(exc)}); lower buffer_size (--set "
                                 f"buffer_size=N){'' if resume else '; nothing was written'}") from None
            if not resume or logger.started:
                raise
            raise UsageError(f"cannot resume seed {seed} from {path}: {_one_line(exc)}; nothing was "
                             f"changed") from None
        seconds = result.wall_time if resume else time.perf_counter() - start  # resumed: both runs
        agent.save(path)
        returns = evaluations.evaluate(agent, result.total_steps)  # the final evaluation
    finally:
        logger.close()
        evaluations.close()
        env.close()
    return _result(result.total_steps, result.episodes, seconds, returns)


def _buffer_too_large(exc, buffer, logger):
    """Whether ``exc`` is the buffer's refusal to allocate its storage at its first push (before anything
    was logged)."""
    return (isinstance(exc, ValueError) and not logger.started and len(buffer) == 0
            and str(exc).startswith("Buffer.push: cannot allocate"))


def _train_tabular(algo, env_id, learner_kwargs, run_settings, seed, logdir, config, progress, tensorboard):
    """One seed of a tabular agent through the tabular Trainer, run in chunks of ``n_episodes / evaluations``
    episodes (each ended by the Trainer's evaluation) and logged after each; returns the result dict of
    ``config.json``."""
    from symgraph.rl.tabular import Trainer

    env = gymnasium.make(env_id)
    try:
        agent = zoo.make_learner(algo, env, learner_kwargs, run_settings, seed)
    except (ValueError, TypeError) as exc:
        env.close()
        raise UsageError(f"the settings were rejected: {exc}") from None
    _start(logdir, config)
    total, count = run_settings["n_episodes"], run_settings["evaluations"]
    every = max(1, total // count) if count else 0
    trainer = Trainer(agent, env, n_episodes=0, evaluate_frequency=every,
                      evaluate_episodes=run_settings["eval_episodes"], seed=seed, progress=False)
    logger = _TrainLog(logdir, tensorboard)
    steps, done = 0, 0
    start = time.perf_counter()
    try:
        with progress_bar(total, enabled=progress, desc=f"{algo} on {env_id}", unit="episode") as bar:
            while done < total:
                trainer.n_episodes = min(every or total, total - done)
                trainer.train()
                for episode in range(done, done + trainer.n_episodes):
                    steps += trainer.episode_lengths[episode]
                    logger.write({"episode/return": trainer.episode_rewards[episode],
                                  "episode/length": trainer.episode_lengths[episode]}, steps)
                done += trainer.n_episodes
                bar.update(trainer.n_episodes)
                evaluation = trainer.evaluations[-1] if trainer.evaluations else None
                if evaluation is not None and evaluation["episode"] == done:
                    logger.write({"eval/return": evaluation["mean_return"], "eval/std": evaluation["std_return"],
                                  "eval/success_rate": evaluation["success_rate"]}, steps)
                    bar.set_return(evaluation["mean_return"])
        seconds = time.perf_counter() - start
        agent.save(logdir / CHECKPOINT_NAME)
        returns = evaluate_policy(lambda s: agent.act(s, deterministic=True), env, run_settings["eval_episodes"],
                                  seed + EVAL_SEED_OFFSET)
        logger.write({"eval/return": float(returns.mean()), "eval/std": float(returns.std())}, steps)
    finally:
        logger.close()
        env.close()
    return _result(steps, done, seconds, returns)


def _train(args):
    algo, env_id = args.algo, args.env
    family = zoo.family(algo)
    _check_env(algo, env_id)
    learner_kwargs, run_settings, entry = zoo.settings(algo, env_id)
    overrides = _apply_settings(args.set or [], algo, learner_kwargs, run_settings)
    if args.steps is not None:
        if family == "tabular":
            raise UsageError(f"--steps: {algo} trains by episodes; give --episodes N instead")
        run_settings["total_steps"] = args.steps
    if args.episodes is not None:
        if family != "tabular":
            raise UsageError(f"--episodes: {algo} trains by environment steps; give --steps N instead")
        run_settings["n_episodes"] = args.episodes
    _check_rollout(algo, learner_kwargs, run_settings)
    seeds = list(range(args.seed, args.seed + args.seeds))
    name = f"{algo}-{env_id}-seed{args.seed}" if len(seeds) == 1 else f"{algo}-{env_id}-seeds{seeds[0]}-{seeds[-1]}"
    progress = False if args.no_progress else progress_enabled(None)
    config = {"algo": algo, "env": env_id, "family": family, "learner": learner_kwargs, "run": run_settings,
              "tuned": entry is not None, "source": entry.source if entry else "the learner's defaults",
              "notes": list(entry.notes) if entry else [], "overrides": overrides,
              "command": args.command_line, "tensorboard": args.tensorboard, "seeds": seeds,
              "symgraph": symgraph.__version__, "checkpoint": CHECKPOINT_NAME}
    with _claim_new(Path(args.logdir or Path("runs") / _dir_name(name)), explicit=args.logdir is not None) as claim:
        _announce(config, claim.path)
        return _train_seeds(config, seeds, claim.path, progress, args.tensorboard)


def _announce(config, logdir):
    """Say where the settings of a new run come from, and what it trains where."""
    algo, env_id, run_settings, seeds = config["algo"], config["env"], config["run"], config["seeds"]
    if not config["tuned"]:
        log.info("note: no tuned settings for %s on %s; training with the learner's defaults (tuned pairs: "
                 "'symgraph-rl list')", algo, env_id)
    else:
        log.info("tuned settings for %s on %s from %s", algo, env_id, config["source"])
        for note in config["notes"]:
            log.info("  note: %s", note)
    budget = (f"{run_settings['n_episodes']:,} episodes" if config["family"] == "tabular"
              else f"{run_settings['total_steps']:,} steps")
    log.info("training %s on %s for %s, seed%s %s, logs in %s", algo, env_id, budget, "s" if len(seeds) > 1 else "",
             ", ".join(map(str, seeds)), logdir)


def _read_config(seed_dir):
    """The ``config.json`` in ``seed_dir`` as a dict ({} if there is none); an error naming the file when it
    cannot be read or is not a JSON object."""
    path = seed_dir / CONFIG_NAME
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise UsageError(f"{path} is not a valid {CONFIG_NAME} ({_one_line(exc)}); it was damaged (or not written "
                         f"by 'symgraph-rl train'): restore it, or train again") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path} is not a valid {CONFIG_NAME}: it holds a JSON {type(config).__name__}, not an "
                         f"object of settings")
    return config


_CONFIG_TYPES = {"algo": str, "env": str, "learner": dict, "run": dict, "seed": int}


def _check_config(config, path, keys):
    """Check the entries ``keys`` of the ``config.json`` at ``path`` that a command reads: present, of their
    type, a known algorithm and a registered env id (an id read from a file may not name a module to
    import, see :func:`symgraph.rl.envs.registered_env_id`)."""
    for key in keys:
        if key not in config:
            raise UsageError(f"{path} lacks {key!r}: it was not written by 'symgraph-rl train' or was edited; "
                             f"restore it, or train again")
        kind = _CONFIG_TYPES[key]
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise UsageError(f"{path}: {key!r} must be a JSON {kind.__name__}, got {config[key]!r:.80}")
    if config["algo"] not in zoo.ALGORITHMS:
        raise UsageError(f"{path}: unknown algorithm {config['algo']!r:.80}; known: {', '.join(zoo.ALGORITHMS)}")
    try:
        envs.registered_env_id(config["env"], path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _logged(csv_path):
    """``(rows, evaluation steps)`` of a seed's ``progress.csv``: its number of rows and the steps of those
    with an evaluation (``(0, [])`` without a log), less a last line cut short by a killed writer (continuing
    the log drops it); an error naming the file when it cannot be read."""
    if not csv_path.is_file():
        return 0, []
    try:
        text = csv_path.read_text(encoding="utf-8")
        lines = csv.reader(io.StringIO(text[:text.rfind("\n") + 1], newline=""))
        header, *rows = [row for row in lines if row] or [[]]
        steps = [int(float(row[0])) for row in rows]
    except (OSError, ValueError, OverflowError, csv.Error) as exc:
        raise UsageError(f"{csv_path} cannot be read as a log ({_one_line(exc)}); nothing was changed; restore "
                         f"it, or move it away to train its seed again") from None
    column = header.index("eval/return") if "eval/return" in header else len(header)
    return len(rows), [step for step, row in zip(steps, rows) if row[column:column + 1] not in ([], [""], ["nan"])]


def _resume_point(seed, path, csv_path):
    """``(step of the run checkpoint at path, step of the last evaluation logged up to it, or None)``: where
    seed ``seed``'s log and evaluations continue; None when the seed has not started (no checkpoint and no
    logged row), so it starts afresh. A seed that cannot be continued without losing its log is an error:
    rows logged but no checkpoint, a checkpoint that cannot be read, the final learner of a run without its
    result."""
    rows, evals = _logged(csv_path)
    if not path.is_file():
        if rows:
            raise UsageError(f"cannot resume seed {seed}: {csv_path} holds {_plural(rows, 'row')} but there is "
                             f"no checkpoint to continue them from ({path} is missing: the run stopped before its "
                             f"first checkpoint); nothing was changed. To train seed {seed} again from the start, "
                             f"move {csv_path} away")
        return None
    try:
        meta, arrays = checkpoint.read(path, "symgraph-rl resume")
        step = int(checkpoint.unpack(meta["run"]["result"], arrays)["total_steps"]) if "run" in meta else None
    except (SaveLoadError, zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot resume seed {seed}: {path} cannot be read ({_one_line(exc)}); nothing was "
                         f"changed. Restore it from a copy, or move it and {csv_path} away to train seed {seed} "
                         f"again") from None
    if step is None:
        raise UsageError(f"cannot resume seed {seed}: {path} holds the learner saved at the end of its run, whose "
                         f"result was not recorded (it stopped during its final evaluation); evaluate it with "
                         f"'symgraph-rl evaluate {path}', or train again")
    evals = [e for e in evals if e <= step]
    return step, max(evals) if evals else None


def _remove_temporaries(seed, seed_dir):
    """Remove what killed saves left beside a seed's files (see :func:`symgraph.io.remove_stale_temporaries`),
    and say so."""
    removed = [p for name in (CHECKPOINT_NAME, CONFIG_NAME, CSV_NAME)
               for p in remove_stale_temporaries(seed_dir / name)]
    if removed:
        log.info("seed %d: removed %s left by a save that was killed: %s", seed,
                 _plural(len(removed), "temporary file"), ", ".join(removed))


def _train_seeds(config, seeds, logdir, progress, tensorboard, resuming=False):
    """Train each seed (in ``logdir``, or ``logdir/seedN`` for several), write each seed's ``config.json`` with
    its result and the learning curve of all; returns the exit status. ``resuming``: a seed whose
    ``config.json`` holds a result is not trained again, one with a run checkpoint continues from it, and the
    others start afresh."""
    algo, env_id, family = config["algo"], config["env"], config["family"]
    train_one = _train_tabular if family == "tabular" else _train_deep
    results, dirs = [], []
    for seed in seeds:
        seed_dir = logdir if len(seeds) == 1 else logdir / f"seed{seed}"
        _remove_temporaries(seed, seed_dir)
        result = _read_config(seed_dir).get("result") if resuming else None
        try:
            if result is not None:
                log.info("seed %d had finished: not trained again", seed)
            else:
                point = _resume_point(seed, seed_dir / CHECKPOINT_NAME, seed_dir / CSV_NAME) if resuming else None
                extra = {"resume_from": point} if point is not None else {}
                if resuming:
                    log.info("seed %d: %s", seed, "continuing from its checkpoint" if extra else "starting afresh "
                             "(no checkpoint of its run yet)")
                result = train_one(algo, env_id, config["learner"], config["run"], seed, seed_dir,
                                   {**config, "seed": seed}, progress, tensorboard, **extra)
        except FloatingPointError as exc:  # rl.run's TrainingDiverged: its message names the step and checkpoint
            log.error("training stopped (seed %d): %s", seed, exc)
            return 1
        _write_json(seed_dir / CONFIG_NAME, {**config, "seed": seed, "result": result})
        final = result["final_eval"]
        log.info("seed %d: %s steps, %s episodes in %.1f s; final greedy evaluation %.2f +- %.2f (%s)", seed,
                 f"{result['total_steps']:,}", f"{result['episodes']:,}", result["seconds"], final["mean"],
                 final["std"], _plural(final["episodes"], "episode"))
        results.append(result)
        dirs.append(seed_dir)
    curve = logdir / CURVE_NAME
    label = f"{algo} on {env_id}"
    try:
        plotting.learning_curves({label: [str(d / CSV_NAME) for d in dirs]}, path=curve,
                                 title=f"{label}, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}")
    except ValueError as exc:  # e.g. a budget too small to finish an episode
        log.warning("no learning curve: %s", exc)
        curve = "none"
    means = [r["final_eval"]["mean"] for r in results]
    log.info("done. logs: %s; learning curve: %s; checkpoint%s: %s; settings: %s", logdir / CSV_NAME
             if len(seeds) == 1 else logdir / "seed*" / CSV_NAME, curve, "s" if len(seeds) > 1 else "",
             ", ".join(str(d / CHECKPOINT_NAME) for d in dirs), ", ".join(str(d / CONFIG_NAME) for d in dirs))
    if len(seeds) > 1:
        log.info("final greedy evaluation over %d seeds: %.2f +- %.2f (mean +- std of the seeds' means)",
                 len(seeds), float(np.mean(means)), float(np.std(means)))
    else:
        log.info("final greedy evaluation: %.2f +- %.2f", results[0]["final_eval"]["mean"],
                 results[0]["final_eval"]["std"])
    log.info("evaluate again with: symgraph-rl evaluate %s", dirs[0] / CHECKPOINT_NAME)
    return 0


# ---------------------------------------------------------------------------------------------------------
# resume


def _resume(args):
    logdir = Path(args.logdir)
    if (logdir / CONFIG_NAME).is_file():
        path = logdir / CONFIG_NAME
    else:
        path = next(iter(sorted(logdir.glob(f"seed*/{CONFIG_NAME}"))), None)
    if path is None:
        raise UsageError(f"{logdir} holds no {CONFIG_NAME} (nor seed*/{CONFIG_NAME}): pass the log directory of an "
                         f"interrupted 'symgraph-rl train'")
    config = {k: v for k, v in _read_config(path.parent).items() if k not in ("seed", "result")}
    _check_config(config, path, ("algo", "env", "learner", "run"))
    seeds = config.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(map(_is_seed, seeds)):
        raise UsageError(f"{path} does not list the run's seeds (written by an older symgraph, or edited); train "
                         f"again with: {config.get('command', 'symgraph-rl train ...')}")
    config["family"] = zoo.family(config["algo"])
    if config["family"] == "tabular":
        raise UsageError(f"{config['algo']} trains without checkpoints (tabular runs are short); train again "
                         f"with: {config.get('command', 'symgraph-rl train ...')}")
    missing = [key for key in zoo.run_defaults(config["algo"]) if key not in config["run"]]
    if missing:
        raise UsageError(f"{path}: its run settings lack {', '.join(missing)}; restore it, or train again")
    try:
        _check_run(config["run"])
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None
    progress = False if args.no_progress else progress_enabled(None)
    with _claim_existing(logdir):
        log.info("resuming %s on %s (%s steps, seed%s %s) in %s", config["algo"], config["env"],
                 f"{config['run']['total_steps']:,}", "s" if len(seeds) > 1 else "", ", ".join(map(str, seeds)),
                 logdir)
        return _train_seeds(config, seeds, logdir, progress, config.get("tensorboard") is True, resuming=True)


# ---------------------------------------------------------------------------------------------------------
# evaluate


def _load(path):
    """``(act, env id, config)`` of the checkpoint at ``path``: the greedy policy, the env to run it in and
    the ``config.json`` beside it (or None). The env id, read from a file, must be a registered one."""
    config = _read_config(path.parent) or None
    if config is not None:
        tabular = config.get("algo") in zoo.ALGORITHMS and zoo.family(config["algo"]) == "tabular"
        _check_config(config, path.parent / CONFIG_NAME, ("algo", "env", "learner", "run", "seed") if tabular
                      else ("algo", "env"))
        env_id = config["env"]
    else:
        tabular = False
        env_id = _recorded_env(path)
    if tabular:
        env = gymnasium.make(env_id)
        agent = zoo.make_learner(config["algo"], env, config["learner"], config["run"], config["seed"])
        env.close()
        agent.load(path)
    else:
        agent = checkpoint.load(path)
    return (lambda s: agent.act(s, deterministic=True)), env_id, config


def _recorded_env(path):
    """The registered env id that the checkpoint at ``path`` records."""
    learner = checkpoint.read(path)[0].get("learner")
    config = learner.get("config") if isinstance(learner, dict) else None
    env = config.get("env") if isinstance(config, dict) else None
    if not isinstance(env, dict) or env.get("id") is None:
        raise UsageError(f"{path} does not record its environment's id; it cannot be evaluated here")
    try:
        return envs.registered_env_id(env["id"], path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _is_seed(value):
    return type(value) is int and 0 <= value <= INT_MAX


def _evaluate(args):
    path = Path(args.checkpoint)
    if path.is_dir():
        if not (path / CHECKPOINT_NAME).is_file():
            found = sorted(str(p) for p in path.glob(f"*/{CHECKPOINT_NAME}"))
            raise UsageError(f"{path} holds no {CHECKPOINT_NAME}" + (f"; one per seed: {', '.join(found)}"
                                                                    if found else ""))
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}; pass the checkpoint.npz (or the log directory) that "
                         f"'symgraph-rl train' wrote")
    try:
        act, env_id, config = _load(path)
    except (SaveLoadError, OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot load {path}: {_one_line(exc)}") from None
    seed = args.seed
    if seed is None:  # the seeds of the training's final evaluation: the same number for the same episodes
        seed = (config["seed"] if config and _is_seed(config.get("seed")) else 0) + EVAL_SEED_OFFSET
    env = None
    try:
        env = gymnasium.make(env_id, render_mode="human" if args.render else None)
        returns = evaluate_policy(act, env, args.episodes, seed)
    except gymnasium.error.DependencyNotInstalled as exc:  # rendering's pygame
        raise UsageError(f"--render: {exc}") from None
    finally:
        if env is not None:
            env.close()
    what = f"{config['algo']} on {env_id}" if config else env_id
    log.info("%s (%s): greedy return %.2f +- %.2f over %d episodes (min %.2f, max %.2f)", what, path,
             returns.mean(), returns.std(), len(returns), returns.min(), returns.max())
    return 0


# ---------------------------------------------------------------------------------------------------------
# plot


def _plot(args):
    runs = {}
    for logdir in args.logdirs:
        path = Path(logdir)
        if not path.exists():
            raise UsageError(f"{path} does not exist; pass log directories written by 'symgraph-rl train'")
        if path.is_dir() and not (path / CSV_NAME).is_file() and not list(path.glob(f"*/{CSV_NAME}")):
            raise UsageError(f"{path} holds no {CSV_NAME} (nor seed directories with one)")
        label = path.name if path.is_dir() else path.parent.name
        runs[label if label not in runs else str(path)] = str(path)
    if args.out is not None:
        out = _image_path("--out", args.out)
    elif len(args.logdirs) == 1 and Path(args.logdirs[0]).is_dir():
        out = Path(args.logdirs[0]) / CURVE_NAME
    else:
        out = Path("learning_curves.png")
    try:
        plotting.learning_curves(runs, x=args.x, y=args.y, path=out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot write it ({exc.strerror or exc})") from None
    log.info("learning curves of %s (%s against %s): %s", ", ".join(runs), args.y, args.x, out)
    return 0


# ---------------------------------------------------------------------------------------------------------
# bandit


def _bandit(args):
    agent_name, bandit_name = args.agent, args.bandit
    if agent_name in _MAB_AGENTS:
        cls, fitting = _MAB_AGENTS[agent_name]
        if bandit_name not in fitting:
            raise UsageError(f"--agent {agent_name} does not suit --bandit {bandit_name}; its bandits: "
                             f"{', '.join(fitting)}")
    else:
        cls = _CONTEXTUAL_AGENTS[agent_name]
        if bandit_name != "wheel":
            raise UsageError(f"--agent {agent_name} is a contextual agent; use --bandit wheel (multi-armed "
                             f"agents: {', '.join(_MAB_AGENTS)})")
    out = _image_path("--out", args.out) if args.out else _fresh_file(
        Path("runs") / f"bandit-{agent_name}-{bandit_name}-seed{args.seed}.png")
    bandit_seed, agent_seed = np.random.SeedSequence(args.seed).spawn(2)
    bandit = _BANDITS[bandit_name](bandit_seed)
    agent = cls(bandit, seed=agent_seed)
    progress = False if args.no_progress else progress_enabled(None)
    log.info("%s on the %s bandit (%s) for %s pulls, seed %d", agent_name, bandit_name, _BANDIT_HELP[bandit_name],
             f"{args.timesteps:,}", args.seed)
    if agent_name in _MAB_AGENTS:
        result = bandits.MABTrainer(agent, bandit, progress=progress).train(args.timesteps)
    else:
        result = bandits.DCBTrainer(agent, bandit, progress=progress).train(args.timesteps)
    try:
        plotting.regret_curves({agent_name: result}, path=out, log_x=True,
                               title=f"{agent_name} on the {bandit_name} bandit, seed {args.seed}")
    except (OSError, ValueError) as exc:  # ValueError: a suffix matplotlib has no format for
        raise UsageError(f"--out {out}: cannot write it ({getattr(exc, 'strerror', None) or exc})") from None
    log.info("cumulative expected regret %.4g after %s pulls (%.4g per pull); mean reward %.4g; %.2f s",
             result.cumulative_regret[-1], f"{result.timesteps:,}", result.cumulative_regret[-1] / result.timesteps,
             result.reward.mean(), result.seconds)
    log.info("regret curve: %s", out)
    return 0


# ---------------------------------------------------------------------------------------------------------
# list


def _list(args):
    log.info("algorithms:")
    for algo, cls in zoo.ALGORITHMS.items():
        log.info("  %-15s %-10s %s", algo, zoo.FAMILIES[algo], f"{cls.__module__.rsplit('.', 1)[0]}.{cls.__name__}")
    tuned = zoo.entries()
    by_env = {}
    for algo, env_id in tuned:
        by_env.setdefault(env_id, []).append(algo)
    log.info("environments with tuned settings (any other gymnasium id trains with the learner's defaults):")
    for env_id, algos in by_env.items():
        log.info("  %-26s %s", env_id, ", ".join(algos))
    if not any(env_id == "LunarLander-v3" for _, env_id in tuned):
        log.info("  %-26s (needs Box2D: pip install \"gymnasium[box2d]\")", "LunarLander-v3")
    log.info("tuned settings:")
    for (algo, env_id), entry in tuned.items():
        run = entry.run
        budget = f"{run['n_episodes']:,} episodes" if "n_episodes" in run else f"{run['total_steps']:,} steps"
        log.info("  %-15s %-26s %-16s %s", algo, env_id, budget, entry.source)
    log.info("bandits: %s", "; ".join(f"{k} ({v})" for k, v in _BANDIT_HELP.items()))
    log.info("bandit agents: multi-armed %s; contextual (wheel) %s", ", ".join(_MAB_AGENTS),
             ", ".join(_CONTEXTUAL_AGENTS))
    return 0


# ---------------------------------------------------------------------------------------------------------
# The parser and main


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value > INT_MAX:
        raise argparse.ArgumentTypeError(f"expected a positive integer of at most {INT_MAX:,}, got {text!r}")
    return int(value)


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not _is_seed(value):
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 and at most {INT_MAX:,}, got {text!r}")
    return value


def build_parser():
    """The ``argparse`` parser of ``symgraph-rl`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="symgraph-rl", description="Train, evaluate and plot "
                                     "reinforcement-learning agents of symgraph.rl.")
    parser.add_argument("--version", action="version", version=f"symgraph {symgraph.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train an agent with tuned settings",
        description="Train ALGO on ENV with the tuned settings of symgraph.rl.zoo (or the learner's defaults when "
                    "the pair has none); logs, a learning curve, a checkpoint and config.json go to the log "
                    "directory.")
    train.add_argument("algo", metavar="ALGO", choices=list(zoo.ALGORITHMS),
                       help=f"one of {', '.join(zoo.ALGORITHMS)}")
    train.add_argument("env", metavar="ENV", help="a gymnasium id, e.g. CartPole-v1 ('list' shows the tuned ones)")
    train.add_argument("--steps", type=_positive, metavar="N", help="environment steps (default: the tuned budget)")
    train.add_argument("--episodes", type=_positive, metavar="N",
                       help="episodes, for tabular agents (default: the tuned budget)")
    train.add_argument("--seed", type=_seed, default=0, metavar="S", help="the first seed (default 0)")
    train.add_argument("--seeds", type=_positive, default=1, metavar="K",
                       help="train seeds S..S+K-1 one after another and plot their mean and 95%% interval "
                            "(default 1)")
    train.add_argument("--logdir", metavar="DIR",
                       help="where to write (default runs/ALGO-ENV-seedS; never overwritten)")
    train.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                       help="override a learner argument or run setting, e.g. --set lr=3e-4 hidden=64,64")
    train.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train, parser=train)

    resume = commands.add_parser(
        "resume", help="continue an interrupted training run",
        description="Continue the interrupted 'symgraph-rl train' run whose log directory is LOGDIR: each seed "
                    "continues from its last checkpoint (10 per run) with the settings of its config.json, its "
                    "log continuing from that step; finished seeds are kept, seeds not started yet start.")
    resume.add_argument("logdir", metavar="LOGDIR", help="the log directory of the run (as 'train' printed it)")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    resume.set_defaults(handler=_resume, parser=resume)

    evaluate = commands.add_parser(
        "evaluate", help="evaluate a checkpoint's greedy policy",
        description="Load a checkpoint written by 'train' and report the mean and standard deviation of its "
                    "greedy return.")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT",
                          help="a checkpoint.npz, or the log directory holding it")
    evaluate.add_argument("--episodes", type=_positive, default=10, metavar="N",
                          help="evaluation episodes (default 10)")
    evaluate.add_argument("--render", action="store_true",
                          help="show the episodes in a window (render_mode 'human': needs a display)")
    evaluate.add_argument("--seed", type=_seed, metavar="S",
                          help="episode i is reset with S + i (default: the seeds of the training's final "
                               "evaluation, so that as many episodes give its result)")
    evaluate.set_defaults(handler=_evaluate, parser=evaluate)

    plot = commands.add_parser(
        "plot", help="plot learning curves from log directories",
        description="Plot the learning curves of log directories written by 'train' (a directory of seed "
                    "directories is one curve: mean and 95%% bootstrap interval).")
    plot.add_argument("logdirs", metavar="LOGDIR", nargs="+", help="log directories (or progress.csv files)")
    plot.add_argument("--out", metavar="FILE",
                      help="the PNG to write (default LOGDIR/learning_curve.png for one directory, else "
                           "learning_curves.png)")
    plot.add_argument("--x", choices=("steps", "seconds"), default="steps", help="the x axis (default steps)")
    plot.add_argument("--y", default="episode/return", metavar="METRIC",
                      help="the metric (default episode/return; also eval/return)")
    plot.set_defaults(handler=_plot, parser=plot)

    bandit = commands.add_parser(
        "bandit", help="run a bandit agent and plot its regret",
        description="Run a multi-armed or contextual bandit agent, plot its cumulative expected regret and "
                    "summarise it.")
    bandit.add_argument("--agent", required=True, choices=list(_BANDIT_AGENTS), metavar="AGENT",
                        help=f"one of {', '.join(_BANDIT_AGENTS)}")
    bandit.add_argument("--bandit", required=True, choices=list(_BANDITS), metavar="BANDIT",
                        help=f"one of {', '.join(_BANDITS)}")
    bandit.add_argument("--timesteps", type=_positive, default=5000, metavar="N", help="pulls (default 5000)")
    bandit.add_argument("--seed", type=_seed, default=0, metavar="S", help="seed (default 0)")
    bandit.add_argument("--out", metavar="FILE", help="the PNG to write (default runs/bandit-AGENT-BANDIT-seedS.png)")
    bandit.add_argument("--no-progress", action="store_true", help="no progress bar")
    bandit.set_defaults(handler=_bandit, parser=bandit)

    listing = commands.add_parser(
        "list", help="list algorithms, environments and tuned settings",
        description="List the algorithms, the environments with tuned settings and the tuned (algorithm, "
                    "environment) pairs.")
    listing.set_defaults(handler=_list, parser=listing)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status (0 success, 1 a
    failed run, 2 bad arguments or unusable files, reported on one line: argparse exits with it)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = " ".join(["symgraph-rl", *argv])
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        return args.handler(args)
    except UsageError as exc:
        args.parser.error(_one_line(exc))
    finally:
        log.removeHandler(handler)
        log.setLevel(previous[0])
        log.propagate = previous[1]
