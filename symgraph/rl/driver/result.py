"""What :func:`symgraph.rl.run` returns (:class:`RunResult`) and raises when training diverges
(:class:`TrainingDiverged`); both are exported by :mod:`symgraph.rl.run`."""

from dataclasses import dataclass, field

from symgraph.errors import SymgraphError

__all__ = ["RunResult", "TrainingDiverged"]


class TrainingDiverged(SymgraphError, FloatingPointError):
    """Training diverged: after an update, a loss metric is not finite (see :func:`symgraph.rl.run`).

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


@dataclass
class RunResult:
    """What :func:`symgraph.rl.run` returns.

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
