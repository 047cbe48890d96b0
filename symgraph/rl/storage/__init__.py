"""Storage of transitions for the learners, one concept per module:

- :mod:`~symgraph.rl.storage.ring`: the time-major ring of named fields, ``(rows, n_envs, *item)``, slots
  ``row * n_envs + env``;
- :mod:`~symgraph.rl.storage.schema`: the fields, item shapes and dtypes a first push fixes;
- :mod:`~symgraph.rl.storage.rollout`: time-major reads for on-policy learners;
- :mod:`~symgraph.rl.storage.replay`: uniform and prioritised sampling (over
  :mod:`~symgraph.rl.storage.sum_tree`) and the off-policy learners' minibatches;
- :mod:`~symgraph.rl.storage.nstep`: the one n-step rule, shared by the host replay and the device replay
  (:mod:`symgraph.rl.fused.replay`);
- :mod:`~symgraph.rl.storage.paths`: path returns (reward-to-go, GAE, TD errors) for agents that want them;
- :mod:`~symgraph.rl.storage.batch`: the :class:`~symgraph.rl.storage.batch.Batch` a sample returns.

:class:`symgraph.rl.Buffer` (:mod:`symgraph.rl.buffer`) is the user class built from them; import the pieces
from their modules. Every storage gives and takes its state with ``state_dict()`` / ``load_state_dict(state)``
(``{name: array or JSON-able value}``), which checkpoints store.
"""

__all__ = []
