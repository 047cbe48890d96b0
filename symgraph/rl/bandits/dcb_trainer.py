"""Training loop for the contextual agents (deep contextual bandits): pull, store, and learn every few pulls.

The result is the :class:`~symgraph.rl.bandits.BanditResult` of :class:`~symgraph.rl.bandits.MABTrainer`
(per-step expected regret and reward, their running sums and moving averages), so
:func:`~symgraph.rl.bandits.plot_regret` draws it as is.
"""

import logging
import math
import time

import numpy as np

from symgraph.rl.bandits._common import check_count
from symgraph.rl.bandits.trainer import BanditResult, _show_progress

__all__ = ["DCBTrainer"]

logger = logging.getLogger(__name__)


class DCBTrainer:
    """Runs a contextual agent on a bandit, recording expected regret and reward at every pull.

    Each step: ``action = agent.select_action(context)``; the expected regret ``bandit.regret(action)``
    (``q*(context) - q(context, action)``) is recorded; ``context, reward = bandit.step(action)``;
    ``agent.update_db(previous context, action, reward)``. Once ``update_after`` transitions are stored,
    every ``update_interval``-th one is followed by ``agent.update_params(action=None, batch_size=...,
    train_epochs=...)`` (every arm's model is updated).

    Args:
        agent: a contextual agent (``select_action``, ``update_db``, ``update_params``).
        bandit: a bandit (``reset``, ``regret``, ``step``).
        window: moving-average window of the result (pulls).
        progress: show a tqdm progress bar; None shows it only when stderr is a terminal; False never.
        log_every: log a summary line (``logging``, logger ``symgraph.rl.bandits.dcb_trainer``, level INFO)
            every this many pulls; None logs about ten times per run.

    Example:
        >>> from symgraph.rl.bandits import WheelBandit, LinearPosterior
        >>> bandit = WheelBandit(delta=0.5, seed=0)
        >>> trainer = DCBTrainer(LinearPosterior(bandit, seed=0), bandit, progress=False)
        >>> trainer.train(200, update_after=0).cumulative_regret.shape
        (200,)
    """

    def __init__(self, agent, bandit, window=100, progress=None, log_every=None):
        for name in ("select_action", "update_db", "update_params"):
            if not callable(getattr(agent, name, None)):
                raise TypeError(f"DCBTrainer needs an agent with select_action, update_db and update_params "
                                f"(the contextual agent protocol); {type(agent).__name__} has no {name}")
        for name in ("n_actions", "context_dim"):
            mine, theirs = getattr(agent, name, None), getattr(bandit, name, None)
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError(f"the agent has {name}={mine} but the bandit has {name}={theirs}; build the "
                                 f"agent for this bandit ({type(agent).__name__}(bandit, ...))")
        self.agent = agent
        self.bandit = bandit
        self.window = check_count(window, "window")
        self.progress = progress
        self.log_every = None if log_every is None else check_count(log_every, "log_every")

    def train(self, timesteps, update_interval=20, update_after=500, batch_size=64, train_epochs=20):
        """Pull ``timesteps`` times, the bandit reset first; returns a :class:`BanditResult`.

        Args:
            timesteps: number of pulls.
            update_interval: pulls between two ``update_params`` calls.
            update_after: transitions stored before the first ``update_params`` call.
            batch_size: minibatch size passed to ``update_params``.
            train_epochs: gradient steps per ``update_params`` call (passed on).
        """
        timesteps = check_count(timesteps, "timesteps")
        update_interval = check_count(update_interval, "update_interval")
        update_after = check_count(update_after, "update_after", minimum=0)
        batch_size = check_count(batch_size, "batch_size")
        train_epochs = check_count(train_epochs, "train_epochs")
        agent, bandit = self.agent, self.bandit
        select, store, learn = agent.select_action, agent.update_db, agent.update_params
        step, regret_of = bandit.step, bandit.regret
        regret = np.empty(timesteps)
        reward = np.empty(timesteps)
        actions = np.empty(timesteps, dtype=np.int64)
        chunk = self.log_every or max(1, math.ceil(timesteps / 10))
        names = dict(agent=type(agent).__name__, bandit=type(bandit).__name__)
        logger.info("training %s on %s for %d pulls (update every %d after %d, batch %d, %d epochs)",
                    names["agent"], names["bandit"], timesteps, update_interval, update_after, batch_size,
                    train_epochs)

        bar = None
        if _show_progress(self.progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=timesteps, desc=f"{names['agent']} on {names['bandit']}", unit="pull")
        updates, update_seconds = 0, 0.0
        start_time = time.perf_counter()
        context = bandit.reset()
        try:
            for start in range(0, timesteps, chunk):
                stop = min(start + chunk, timesteps)
                for t in range(start, stop):
                    action = select(context)
                    regret[t] = regret_of(action)
                    next_context, r = step(action)
                    store(context, action, r)
                    reward[t] = r
                    actions[t] = action
                    context = next_context
                    stored = t + 1
                    if stored >= update_after and stored % update_interval == 0:
                        tick = time.perf_counter()
                        learn(action=None, batch_size=batch_size, train_epochs=train_epochs)
                        update_seconds += time.perf_counter() - tick
                        updates += 1
                if bar is not None:
                    bar.update(stop - start)
                if logger.isEnabledFor(logging.INFO):
                    logger.info("pull %d/%d: cumulative regret %.4g, mean reward (last %d) %.4g, %d updates "
                                "(%.3g s)", stop, timesteps, float(regret[:stop].sum()), stop - start,
                                float(reward[start:stop].mean()), updates, update_seconds)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start_time
        logger.info("done in %.3g s (%.3g pulls/s; %d updates took %.3g s)", seconds,
                    timesteps / max(seconds, 1e-12), updates, update_seconds)
        return BanditResult.from_steps(regret, reward, actions, window=self.window, seconds=seconds, **names)
