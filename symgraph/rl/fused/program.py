"""What a fused algorithm hands to :func:`symgraph.rl.fused.train` (:class:`Program`, its pure functions for
one seed) and the episode bookkeeping its iterations share (:class:`EpisodeTally`, :func:`episode_metrics`).

Kept apart from :mod:`symgraph.rl.fused.loop` so that the algorithms (``fused/on_policy.py``,
``fused/off_policy.py``) and the loop that drives them import it without importing each other.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Program", "EpisodeTally", "episode_metrics"]


@dataclass(frozen=True)
class Program:
    """A fused algorithm's pure functions for one seed (see the module docstring for the contract)."""

    init: Callable
    iteration: Callable
    learner_state: Callable
    greedy: Callable
    num_iterations: int
    steps_per_iteration: int



class EpisodeTally(NamedTuple):
    """Per-copy running sums over the episodes that ended during one iteration, carried through its env-step
    loop (every field has a leading ``num_envs`` axis).

    The sums are elementwise, so on a GPU they join the env step's own elementwise kernel, and are reduced
    over the copies once per iteration by :func:`episode_metrics` (stacking per-step ``done``/return/length
    arrays for a reduction after the loop, or reducing at every step, costs kernels at every env step).

    Attributes:
        count: the number of episodes of each copy that ended.
        return_sum, length_sum: the sums of their (undiscounted) returns and of their lengths.
    """

    count: jax.Array
    return_sum: jax.Array
    length_sum: jax.Array

    @classmethod
    def zeros(cls, num_envs):
        """No episode ended yet in any of ``num_envs`` copies."""
        zeros = jnp.zeros(num_envs, jnp.float32)
        return cls(zeros, zeros, zeros)

    def add(self, done, env_state):
        """The tally after an env step: ``done`` ``(num_envs,)`` bool, ``terminated | truncated``, and the
        :class:`~symgraph.rl.fused.envs.EnvState` after that step (whose ``last_return``/``last_length``
        are the ended episodes' where ``done``)."""
        return EpisodeTally(self.count + done,
                            self.return_sum + jnp.where(done, env_state.last_return, 0.0),
                            self.length_sum + jnp.where(done, env_state.last_length, 0))


def episode_metrics(tally, env_state):
    """Episode statistics of one iteration for the ``metrics`` of an iteration.

    Args:
        tally: the iteration's :class:`EpisodeTally`.
        env_state: the :class:`~symgraph.rl.fused.envs.EnvState` at the end of the iteration.

    Returns:
        ``{"episode/return", "episode/length", "episode/count"}``: the mean return and length of the episodes
        that ended during the iteration, and their number. An iteration where none ended reports the mean
        over the copies of their last ended episode (0 before any ended), so the curve never has holes.
    """
    count = jnp.sum(tally.count)
    safe = jnp.maximum(count, 1.0)

    def mean(sums, last):
        return jnp.where(count > 0, jnp.sum(sums) / safe, jnp.mean(last.astype(jnp.float32)))

    return {"episode/return": mean(tally.return_sum, env_state.last_return),
            "episode/length": mean(tally.length_sum, env_state.last_length), "episode/count": count}
