"""Training loop for the contextual agents (deep contextual bandits): pull, store, and learn every few pulls.

The result is the :class:`~symgraph.rl.bandits.BanditResult` of :class:`~symgraph.rl.bandits.MABTrainer`
(per-step expected regret and reward, their running sums and moving averages), so
:func:`~symgraph.rl.bandits.plot_regret` draws it as is.
"""

import logging
import time

from symgraph.rl.bandits._common import check_count
from symgraph.rl.bandits.trainer import pull_loop

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
        progress: a progress bar (:func:`symgraph.rl.progress.progress_bar`): ``True`` shows it, ``None``
            only on a terminal outside CI, ``False`` never.
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
        logger.info("training %s on %s for %d pulls (update every %d after %d, batch %d, %d epochs)",
                    type(self.agent).__name__, type(self.bandit).__name__, timesteps, update_interval,
                    update_after, batch_size, train_epochs)
        learn = self.agent.update_params
        counts = {"updates": 0, "seconds": 0.0}

        def train_when_due(t):
            stored = t + 1
            if stored >= update_after and stored % update_interval == 0:
                tick = time.perf_counter()
                learn(action=None, batch_size=batch_size, train_epochs=train_epochs)
                counts["seconds"] += time.perf_counter() - tick
                counts["updates"] += 1

        def status():
            return f", {counts['updates']} updates ({counts['seconds']:.3g} s)"

        return pull_loop(self, timesteps, self.agent.update_db, train_when_due, status, log=logger)
