"""What every learner shares: an isolated graph, seeding, the ``act`` batch convention, saving and loading.

A learner builds its placeholders, networks and compiled functions inside its own ``symgraph.Graph`` (so two
learners in one program never mix variables), seeded from ``seed``: variables made from initializers draw
from the graph seed, compiled functions get seeds derived from it, and host-side randomness (minibatch
order, exploration) uses ``self.rng``, a numpy Generator from the same seed.

``act`` follows the agent protocol of ``symgraph.rl.run``: a batch of states in, a batch of actions out; a
single state (shape ``state_shape``) in, a single action out.
"""

import numpy as np

from symgraph import io, rng
from symgraph.errors import format_shape
from symgraph.graph import Graph


class Learner:
    """Base of the learners (see the module docstring). Subclasses implement ``_act(states, deterministic)``
    on a batch of states and ``update(buffer)``.

    Args:
        state_shape: shape of one observation.
        actions_shape: shape of one action (``()`` for a discrete action), or the number of discrete actions
            where a learner documents it so.
        seed: integer seed (None: a fresh one, recorded in ``self.seed``).
    """

    def __init__(self, state_shape, actions_shape, seed=None):
        self.state_shape = ((int(state_shape),) if isinstance(state_shape, int | np.integer)
                            else tuple(int(d) for d in state_shape))
        self.actions_shape = actions_shape
        self.seed = rng.fresh_seed() if seed is None else int(seed)
        self.graph = Graph(type(self).__name__, seed=self.seed)
        self.rng = np.random.default_rng(self.seed)
        self._function_seeds = np.random.SeedSequence(self.seed)

    def function_seed(self):
        """A new seed for one of this learner's compiled functions (deterministic given ``seed``)."""
        return int(self._function_seeds.spawn(1)[0].generate_state(2, np.uint32).astype(np.uint64) @
                   np.array([2**32, 1], np.uint64))

    def batched(self, states):
        """``(states as a batch, whether a single state was given)``; a wrong shape is a clear error."""
        states = np.asarray(states)
        n = len(self.state_shape)
        if states.shape[states.ndim - n:] != self.state_shape or states.ndim not in (n, n + 1):
            raise ValueError(f"{type(self).__name__}.act: states must have shape {format_shape(self.state_shape)} "
                             f"(one state) or (batch, *{format_shape(self.state_shape)}), got "
                             f"{format_shape(states.shape)}; check the env's observation space against "
                             "state_shape")
        single = states.ndim == n
        return (states[None] if single else states), single

    def act(self, states, deterministic=False):
        """Actions for ``states`` (a batch, or one state); ``deterministic`` takes the greedy/mean action."""
        batch, single = self.batched(states)
        actions = self._act(batch, deterministic)
        return actions[0] if single else actions

    def _act(self, states, deterministic):
        raise NotImplementedError(f"{type(self).__name__} must implement _act(states, deterministic)")

    def update(self, buffer):
        """Learn from ``buffer``; returns a dict of metrics (or None when nothing was learned)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(buffer)")

    def end_episode(self):
        """Called by ``run`` at the end of each episode (no-op unless a learner needs it)."""

    def save(self, path):
        """Save every variable of the learner (networks, optimizer state, counters) to ``path`` (.npz)."""
        return io.save_variables(path, graph=self.graph)

    def load(self, path):
        """Load variables saved by ``save`` into this learner (same architecture); nothing half-loaded."""
        io.load_variables(path, graph=self.graph)
        return self
