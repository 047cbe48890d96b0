"""The machinery of :func:`symgraph.rl.run` and :func:`symgraph.rl.evaluate` (their public face is
:mod:`symgraph.rl.run`):

- ``config``: the run's parameters, checked once and gathered in a frozen ``RunConfig``; the update
  schedule left to the agent is read from its ``schedule``.
- ``lanes``: the environments as the loop sees them, a vector of sub-environments; a single env is a vector
  of one (``OneEnv``, as Stable-Baselines3's ``DummyVecEnv``) whose hooks get one state at a time.
- ``loop``: ``Driver``, the one interaction loop with the update schedule, the divergence check, episode
  bookkeeping and periodic evaluation.
- ``resume``: checkpoints of a run (write, read and check, restore).
- ``evaluate``: whole episodes of a policy, no learning.
- ``frames``: ``SkipFrames``, the action repeat as a gymnasium wrapper.
- ``setup``: the training and evaluation environments.
- ``result``: ``RunResult`` and ``TrainingDiverged``.
"""
