"""Training loop for bandit agents, its result, a multi-seed comparison and a regret plot."""

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from symgraph.rl.bandits._common import check_count
from symgraph.rl.progress import progress_bar

__all__ = ["BanditResult", "MABTrainer", "RegretSummary", "compare_agents", "moving_average", "plot_regret"]

logger = logging.getLogger(__name__)


def moving_average(values, window):
    """Trailing mean over the last ``window`` entries (fewer at the start).

    ``out[t] = mean(values[max(0, t - window + 1):t + 1])``.
    """
    values = np.asarray(values, dtype=np.float64)
    window = check_count(window, "window")
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(1, len(values) + 1)
    start = np.maximum(t - window, 0)
    return (cumsum[t] - cumsum[start]) / (t - start)


_ARRAYS = ("regret", "cumulative_regret", "regret_moving_average", "reward", "cumulative_reward",
           "reward_moving_average", "actions")


@dataclass(frozen=True, eq=False)
class BanditResult(Mapping):
    """Per-step record of a bandit run; fields read as attributes or keys (``result.regret``,
    ``result["regret"]``). Iterating or ``keys()`` lists the per-step arrays.

    Attributes:
        regret: expected regret of each pull, ``q*(context) - q(context, action)``.
        cumulative_regret: running sum of ``regret``.
        regret_moving_average: trailing mean of ``regret`` over ``window`` pulls.
        reward: sampled reward of each pull.
        cumulative_reward: running sum of ``reward``.
        reward_moving_average: trailing mean of ``reward`` over ``window`` pulls.
        actions: the arm pulled at each step.
        window: moving-average window.
        seconds: wall-clock time of the loop.
        agent: the agent's class name.
        bandit: the bandit's class name.
    """

    __hash__ = object.__hash__  # identity, not Mapping's value comparison of arrays
    __eq__ = object.__eq__

    regret: np.ndarray
    cumulative_regret: np.ndarray
    regret_moving_average: np.ndarray
    reward: np.ndarray
    cumulative_reward: np.ndarray
    reward_moving_average: np.ndarray
    actions: np.ndarray
    window: int = 100
    seconds: float = 0.0
    agent: str = ""
    bandit: str = ""

    @classmethod
    def from_steps(cls, regret, reward, actions, window=100, **info):
        """Build a result (running sums and moving averages included) from per-step arrays."""
        regret = np.asarray(regret, dtype=np.float64)
        reward = np.asarray(reward, dtype=np.float64)
        return cls(regret=regret, cumulative_regret=np.cumsum(regret),
                   regret_moving_average=moving_average(regret, window), reward=reward,
                   cumulative_reward=np.cumsum(reward), reward_moving_average=moving_average(reward, window),
                   actions=np.asarray(actions, dtype=np.int64), window=window, **info)

    @property
    def timesteps(self):
        """int: number of pulls recorded."""
        return len(self.regret)

    def __getitem__(self, key):
        if key in _ARRAYS or key in ("window", "seconds", "agent", "bandit"):
            return getattr(self, key)
        names = ", ".join(f.name for f in fields(self))
        raise KeyError(f"{key!r} is not a field of BanditResult; fields: {names}")

    def __iter__(self):
        return iter(_ARRAYS)

    def __len__(self):
        return len(_ARRAYS)

    def __repr__(self):
        return (f"BanditResult(agent={self.agent!r}, bandit={self.bandit!r}, timesteps={self.timesteps}, "
                f"cumulative_regret={self.cumulative_regret[-1] if self.timesteps else 0.0:.4g}, "
                f"cumulative_reward={self.cumulative_reward[-1] if self.timesteps else 0.0:.4g})")


class MABTrainer:
    """Runs an agent on a bandit and records expected regret and reward at every pull.

    Works with any pair following the bandit protocol: ``bandit.reset()``, ``bandit.regret(action)``,
    ``bandit.step(action) -> (context, reward)``, ``agent.select_action(context)``,
    ``agent.update_params(context, action, reward)``.

    Args:
        agent: the agent.
        bandit: the bandit.
        window: moving-average window of the result (pulls).
        progress: a progress bar (:func:`symgraph.rl.progress.progress_bar`): ``True`` shows it, ``None``
            only on a terminal outside CI, ``False`` never.
        log_every: log a summary line (``logging``, logger ``symgraph.rl.bandits.trainer``, level INFO)
            every this many pulls; None logs about ten times per run.

    Example:
        >>> from symgraph.rl.bandits import BernoulliMAB, ThompsonSampling
        >>> bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
        >>> result = MABTrainer(ThompsonSampling(bandit, seed=0), bandit, progress=False).train(1000)
        >>> result.cumulative_regret.shape
        (1000,)
    """

    def __init__(self, agent, bandit, window=100, progress=None, log_every=None):
        self.agent = agent
        self.bandit = bandit
        self.window = check_count(window, "window")
        self.progress = progress
        self.log_every = None if log_every is None else check_count(log_every, "log_every")

    def train(self, timesteps):
        """Pull ``timesteps`` times, the bandit reset first; returns a :class:`BanditResult`."""
        timesteps = check_count(timesteps, "timesteps")
        logger.info("training %s on %s for %d pulls", type(self.agent).__name__, type(self.bandit).__name__,
                    timesteps)
        return pull_loop(self, timesteps, self.agent.update_params)


def pull_loop(trainer, timesteps, record, after_pull=None, status=None, log=logger):
    """The pull loop of :class:`MABTrainer` and ``DCBTrainer``: select, score the expected regret, step,
    ``record(context, action, reward)``, then ``after_pull(t)`` if given (periodic training). Logs about
    ``trainer.log_every`` pulls to ``log`` (``status()`` adds to each line), drives the progress bar, and returns the
    :class:`BanditResult`."""
    agent, bandit = trainer.agent, trainer.bandit
    select, step, regret_of = agent.select_action, bandit.step, bandit.regret
    regret = np.empty(timesteps)
    reward = np.empty(timesteps)
    actions = np.empty(timesteps, dtype=np.int64)
    chunk = trainer.log_every or max(1, math.ceil(timesteps / 10))
    names = dict(agent=type(agent).__name__, bandit=type(bandit).__name__)
    bar = progress_bar(timesteps, enabled=trainer.progress, desc=f"{names['agent']} on {names['bandit']}",
                       unit="pull")
    start_time = time.perf_counter()
    context = bandit.reset()
    try:
        for start in range(0, timesteps, chunk):
            stop = min(start + chunk, timesteps)
            for t in range(start, stop):
                action = select(context)
                regret[t] = regret_of(action)
                next_context, r = step(action)
                record(context, action, r)
                reward[t] = r
                actions[t] = action
                context = next_context
                if after_pull is not None:
                    after_pull(t)
            bar.update(stop - start)
            if log.isEnabledFor(logging.INFO):
                log.info("pull %d/%d: cumulative regret %.4g, mean reward (last %d) %.4g%s", stop, timesteps,
                            float(regret[:stop].sum()), stop - start, float(reward[start:stop].mean()),
                            status() if status is not None else "")
    finally:
        bar.close()
    seconds = time.perf_counter() - start_time
    log.info("done in %.3g s (%.3g pulls/s%s)", seconds, timesteps / max(seconds, 1e-12),
                status() if status is not None else "")
    return BanditResult.from_steps(regret, reward, actions, window=trainer.window, seconds=seconds, **names)


@dataclass(frozen=True, eq=False)
class RegretSummary:
    """Cumulative expected regret of one agent over several seeds.

    Attributes:
        name: the agent's label.
        seeds: the seeds run.
        cumulative_regret: ``(seeds, timesteps)`` per-seed curves.
        mean: ``(timesteps,)`` mean over seeds.
        std: ``(timesteps,)`` standard deviation over seeds (ddof=1; 0 for a single seed).
        final: ``(seeds,)`` cumulative regret at the last step.
        results: the per-seed :class:`BanditResult`.
    """

    name: str
    seeds: tuple
    cumulative_regret: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    final: np.ndarray
    results: tuple = field(repr=False, default=())

    @property
    def final_mean(self):
        """float: mean over seeds of the final cumulative regret."""
        return float(self.final.mean())

    @property
    def final_std(self):
        """float: standard deviation (ddof=1) over seeds of the final cumulative regret."""
        return float(self.final.std(ddof=1)) if len(self.final) > 1 else 0.0

    @property
    def final_sem(self):
        """float: standard error of ``final_mean``."""
        return self.final_std / math.sqrt(len(self.final))


def _make_agent(factory, bandit, seed):
    return factory(bandit, seed=seed)


def compare_agents(agents, bandit, timesteps, seeds=5, window=100, progress=False):
    """Run several agents on fresh bandits over several seeds; cumulative-regret mean and spread per agent.

    Args:
        agents: mapping ``name -> factory``; ``factory(bandit, seed=...)`` returns an agent (an agent class
            such as ``ThompsonSampling`` works, or ``functools.partial(UCB1, confidence=0.5)``).
        bandit: ``bandit(seed) -> bandit``, called once per agent and seed, so every agent meets the same
            bandits (for example ``lambda seed: BernoulliMAB(reward_probs=[0.9, 0.8], seed=seed)``).
            For run seed ``s``, the bandit and the agent get the two children of
            ``numpy.random.SeedSequence(s).spawn(2)`` (independent streams); pass them on as ``seed=``.
        timesteps: pulls per run.
        seeds: number of seeds (0, 1, ...) or a sequence of int seeds.
        window: moving-average window of the per-seed results.
        progress: progress bar per run (see :class:`MABTrainer`).

    Returns:
        dict: ``name -> RegretSummary``, in the order of ``agents``.
    """
    if isinstance(seeds, int):
        seeds = tuple(range(check_count(seeds, "seeds")))
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    summaries = {}
    for name, factory in agents.items():
        results = []
        for seed in seeds:
            env_seed, agent_seed = np.random.SeedSequence(seed).spawn(2)
            env = bandit(env_seed)
            agent = _make_agent(factory, env, agent_seed)
            results.append(MABTrainer(agent, env, window=window, progress=progress).train(timesteps))
        curves = np.stack([r.cumulative_regret for r in results])
        std = curves.std(axis=0, ddof=1) if len(seeds) > 1 else np.zeros(curves.shape[1])
        summaries[name] = RegretSummary(name=str(name), seeds=seeds, cumulative_regret=curves,
                                        mean=curves.mean(axis=0), std=std, final=curves[:, -1].copy(),
                                        results=tuple(results))
        summary = summaries[name]
        logger.info("%s: final cumulative regret %.4g +- %.3g (std over %d seeds)", name, summary.final_mean,
                    summary.final_std, len(seeds))
    return summaries


def _curves(results):
    """(label, mean curve, std curve or None) for each thing ``plot_regret`` accepts."""
    if isinstance(results, (BanditResult, RegretSummary)):
        results = [results]
    items = results.items() if isinstance(results, Mapping) and not isinstance(results, BanditResult) else \
        [(None, r) for r in results]
    out = []
    for i, (label, r) in enumerate(items):
        if isinstance(r, RegretSummary):
            out.append((label or r.name, r.mean, r.std if len(r.seeds) > 1 else None, len(r.seeds)))
        elif isinstance(r, BanditResult):
            out.append((label or r.agent or f"run {i}", r.cumulative_regret, None, 1))
        else:
            raise TypeError(f"plot_regret takes BanditResult or RegretSummary objects (or a list or dict of "
                            f"them), got {type(r).__name__}")
    return out


def plot_regret(results, path=None, title="Cumulative expected regret", log_x=False):
    """Plot cumulative expected regret against pulls with matplotlib.

    Args:
        results: a :class:`BanditResult`, a :class:`RegretSummary`, or a list or ``{label: ...}`` dict of
            them (the output of :func:`compare_agents` works as is). Summaries are drawn as the mean over
            seeds with a band of one standard deviation.
        path: file to save the figure to (format from the suffix), or None.
        title: axes title.
        log_x: logarithmic pull axis (regret of a good agent grows like log t).

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    from matplotlib.figure import Figure

    curves = _curves(results)
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for label, mean, std, n in curves:
        t = np.arange(1, len(mean) + 1)
        text = label if n == 1 else f"{label} (mean ± 1 std, {n} seeds)"
        (line,) = ax.plot(t, mean, label=text)
        if std is not None:
            ax.fill_between(t, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("pulls (time steps)")
    ax.set_ylabel("cumulative expected regret (reward units)")
    if log_x:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    if path is not None:
        fig.savefig(path)
    return fig
