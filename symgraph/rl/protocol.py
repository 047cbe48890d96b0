"""The agent protocol: what :func:`symgraph.rl.run` calls on an agent, shared by learners and tabular agents.

Required (:class:`Agent`):

- ``act(states, deterministic=False) -> actions``: the actions to take. One state in, one action out (a
  single environment); a batch of states in (leading axis = sub-environments of a vector env), a batch of
  actions out. ``deterministic=True`` asks for the greedy/mean action (evaluation); ``False`` for the
  exploring one (training).
- An update hook, one of:

  - ``update(buffer) -> dict | None``: learn from the :class:`~symgraph.rl.buffer.Buffer` that ``run``
    fills; return a dict of metrics (e.g. ``{"loss": ..., "entropy": ...}``; numbers or scalar arrays), or
    ``None`` when nothing was learned (e.g. not enough data yet). ``run`` calls it on a schedule
    (``update_every``, ``update_after``, ``wait_end_path``).
  - ``observe(state, action, reward, next_state, terminated, truncated)``: learn from one transition as it
    happens, without a buffer (tabular agents). ``run`` calls it after every step, with the same batching as
    ``act`` (one transition, or a batch of one per sub-environment).

- ``end_episode()``: an episode ended (called once per finished episode, after the last step's
  ``observe``/``update``, and for an episode abandoned when the run stops). Optional: ``run`` skips it when
  the agent has none.

Optional hooks that ``run`` uses when present:

- ``act_and_extras(states) -> (actions, extras)``: ``act`` for training that also returns a dict of
  per-step fields to store in the buffer with the transition (e.g. ``{"V": v, "log-prob": logp}``, one
  entry per state), used instead of ``act(states)``.
- ``value(states) -> values``: :math:`V(s)`, to bootstrap a path cut by a time limit
  (``finish_path(last_val=value(next_state))``) or by the end of the run. A termination never bootstraps
  (``last_val=0``).
- ``state_shape``: the shape of one state (without a batch axis; ``None`` entries match any size); ``run``
  checks the environment's observations against it before the first step.
- ``needs_path_returns``: False tells ``run`` not to call ``buffer.finish_path`` at episode ends, for
  agents that do not read the ``"reward-to-go"``, ``"advantage"`` and ``"TD-error"`` fields it computes
  (every symgraph learner computes its own returns); absent or True, ``run`` calls it.

The learner contract's optional hooks, which let ``run(env, agent)`` need nothing else:

- ``schedule``: a :class:`Schedule`, when the agent updates. ``run`` reads ``update_every``,
  ``update_after`` and ``at_episode_end`` (its ``wait_end_path``) from it for each of those arguments its
  caller leaves at ``None``; without a schedule they default to 1, 1 and False. Values given to ``run``
  win.
- ``make_storage(n_envs) -> storage``: the storage the agent's ``update`` reads (a
  :class:`~symgraph.rl.buffer.Buffer` or another object with ``push(transition)``, and the
  ``finish_path``/``clear``/``mark_truncated`` that ``run`` calls when it needs them), for ``n_envs``
  sub-environments; ``run`` calls it once when given no buffer.

Paths still running at an update. ``run`` finishes a path (``buffer.finish_path``) when its episode ends. An
on-policy learner updating every N steps, whose rollout ends mid-episode, finishes the running paths itself
at the start of ``update``, with :func:`finish_running_paths` (bootstrapped from its ``value``), so that
every step of the rollout has its ``"advantage"`` and ``"reward-to-go"``; ``run`` does not do it, because
only the learner knows whether an update consumes the rollout (an update that returns ``None`` while it
waits for more data must leave the paths whole).

:func:`as_agent` turns anything that follows the protocol into what ``run`` drives; a per-step learner whose
``update`` takes a transition rather than a buffer (the tabular agents' ``update(state, action, reward,
next_state, terminated, truncated)``) is wrapped in :class:`StepAgent`, which maps it to ``observe``.
"""

import inspect
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Agent", "ObservingAgent", "Schedule", "StepAgent", "as_agent", "finish_running_paths"]


@dataclass(frozen=True)
class Schedule:
    """When a learner updates and on how much data: what ``run``, ``train``, the CLI and the zoo read from
    ``learner.schedule`` instead of re-deriving it.

    Attributes:
        update_every: transitions (all sub-environments together) between two ``update`` calls: an
            on-policy learner's rollout (``n_steps * n_envs``), an off-policy learner's train frequency
            (SB3's ``train_freq``).
        update_after: transitions collected before the first update (SB3's ``learning_starts``; an
            off-policy learner fills its replay with them).
        gradient_steps: gradient steps one update makes (informative: the learner makes them itself).
        at_episode_end: update only when an episode ends, once at least one update became due (the
            episodic learners: REINFORCE, episodic ActorCritic; ``run``'s ``wait_end_path``).
    """

    update_every: int
    update_after: int = 1
    gradient_steps: int = 1
    at_episode_end: bool = False

    def __post_init__(self):
        for name, minimum in (("update_every", 1), ("update_after", 0), ("gradient_steps", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                raise ValueError(f"Schedule: {name} must be an int >= {minimum}, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "at_episode_end", bool(self.at_episode_end))


@runtime_checkable
class Agent(Protocol):
    """A buffer-based learner as :func:`symgraph.rl.run` drives it (see the module docstring for the optional
    hooks ``act_and_extras``, ``value``, ``state_shape`` and ``observe``)."""

    def act(self, states, deterministic: bool = False) -> Any:
        """The action of one state, or the actions of a batch of states."""

    def update(self, buffer) -> Mapping[str, Any] | None:
        """Learn from the buffer; return a dict of metrics, or ``None``."""

    def end_episode(self) -> None:
        """An episode ended."""


@runtime_checkable
class ObservingAgent(Protocol):
    """A per-step learner as :func:`symgraph.rl.run` drives it: it learns in ``observe`` and needs no
    buffer."""

    def act(self, states, deterministic: bool = False) -> Any:
        """The action of one state, or the actions of a batch of states."""

    def observe(self, state, action, reward, next_state, terminated, truncated) -> None:
        """Learn from one transition (or a batch of one per sub-environment)."""

    def end_episode(self) -> None:
        """An episode ended."""


class StepAgent:
    """Adapter: a learner whose ``update(state, action, reward, next_state, terminated, truncated)`` learns
    from one transition (the tabular agents: ``QLearning``, ``SARSA``, ``ExpectedSARSA``, ``DynaQ``, and the
    planners) as a :func:`symgraph.rl.run` agent.

    ``observe`` calls the wrapped ``update`` (once per sub-environment for a batch from a vector env, in
    order), ``update(buffer)`` learns nothing and returns ``None``, and ``act``/``end_episode`` are passed
    through. Any other attribute (``q_values``, ``epsilon``...) is read from the wrapped agent.

    Args:
        agent: the per-step learner (kept as ``self.agent``).
    """

    def __init__(self, agent):
        if not callable(getattr(agent, "act", None)):
            raise TypeError(f"StepAgent: {type(agent).__name__} has no act(state, deterministic=False) method")
        self.agent = agent
        self._learn = agent.update

    def act(self, states, deterministic=False):
        """The wrapped agent's ``act``."""
        return self.agent.act(states, deterministic)

    def observe(self, state, action, reward, next_state, terminated, truncated):
        """One ``update(state, action, reward, next_state, terminated, truncated)`` of the wrapped agent per
        transition (a batch from a vector env is split into its sub-environments' transitions)."""
        if np.ndim(reward) == 0:
            self._learn(state, action, reward, next_state, terminated, truncated)
            return
        learn = self._learn
        for s, a, r, s2, term, trunc in zip(_items(state), _items(action), np.asarray(reward).tolist(),
                                            _items(next_state), np.asarray(terminated).tolist(),
                                            np.asarray(truncated).tolist()):
            learn(s, a, r, s2, term, trunc)

    def update(self, buffer):
        """Nothing to learn from a buffer: the wrapped agent learns in :meth:`observe`. Returns ``None``."""
        return None

    def end_episode(self):
        """The wrapped agent's ``end_episode`` (a no-op for a tabular agent whose last update ended it)."""
        end = getattr(self.agent, "end_episode", None)
        if end is not None:
            end()

    def __getattr__(self, name):
        if name == "agent":  # not set yet (during unpickling)
            raise AttributeError(name)
        return getattr(self.agent, name)

    def __repr__(self):
        return f"StepAgent({self.agent!r})"


def _items(batch):
    """The entries of a batch as Python scalars where they are scalars (tabular agents index tables with
    them), else as numpy arrays."""
    arr = np.asarray(batch)
    return arr.tolist() if arr.ndim == 1 else list(arr)


def _takes_a_transition(method):
    """Whether ``method`` (an ``update``) takes a transition (4 or more required positional arguments: state,
    action, reward, next_state, ...) rather than a buffer."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    required = [p for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) >= 4


def as_agent(agent):
    """The agent as :func:`symgraph.rl.run` drives it: ``agent`` itself if it has ``act`` and ``observe``
    or ``update(buffer)``, a :class:`StepAgent` around it if its ``update`` takes a transition.

    Raises:
        TypeError: the agent has no ``act``, or neither ``update`` nor ``observe``.
    """
    if isinstance(agent, StepAgent):
        return agent
    name = type(agent).__name__
    if not callable(getattr(agent, "act", None)):
        raise TypeError(f"run: the agent ({name}) has no act(states, deterministic=False) method; an agent "
                        f"needs act(), an update(buffer) or observe(...) hook and end_episode() (see "
                        f"symgraph.rl.protocol)")
    observe = getattr(agent, "observe", None)
    update = getattr(agent, "update", None)
    if callable(observe):
        return agent
    if callable(update):
        return StepAgent(agent) if _takes_a_transition(update) else agent
    raise TypeError(f"run: the agent ({name}) has neither update(buffer) (learn from the buffer) nor "
                    f"observe(state, action, reward, next_state, terminated, truncated) (learn per step); "
                    f"give it one of them (see symgraph.rl.protocol)")


def finish_running_paths(buffer, value):
    """Finish the path still running in each environment of ``buffer``, bootstrapped from ``value`` of the
    state its last stored step reached: ``buffer.finish_path(value(next_states))``.

    For on-policy learners whose rollouts end mid-episode (``run(..., update_every=N)`` with N shorter than
    the episodes): call it at the start of ``update(buffer)``, then read ``"advantage"`` and
    ``"reward-to-go"`` of every stored step. Paths that already ended (their episode finished) are left as
    they are (``finish_path`` skips environments with no running path).

    Args:
        buffer: a :class:`~symgraph.rl.buffer.Buffer` filled by :func:`symgraph.rl.run` (it stores
            ``"next-state"``).
        value: the learner's ``value(states)``: one state in, one value out; a batch in (a vector env), one
            value per state out.
    """
    if len(buffer) == 0:
        return
    next_states = np.asarray(buffer.rollout(["next-state"], length=1)["next-state"][0])  # (n_envs, *obs)
    states = next_states if buffer.n_envs > 1 else next_states[0]
    buffer.finish_path(np.asarray(value(states), dtype=np.float64).reshape(-1))
