"""The off-policy learners' host minibatches (symgraph.rl.storage.replay.sample_batches): n-step targets by the
replays' one rule, and n_step = 1 targets bit for bit the one-step closed form."""

import numpy as np

from symgraph import rl
from symgraph.rl.learners.dqn import DQN
from tests.rl.storage.test_nstep import stream


def test_learner_minibatches_use_the_rule():
    """An off-policy learner's n-step minibatch holds the targets of Buffer.n_step_targets for its slots."""
    transitions = stream(40, 2)
    host = rl.Buffer(50, n_envs=2)
    for tr in transitions:
        host.push(tr)
    agent = DQN((2,), 2, 16, hidden=(4,), gamma=0.9, n_step=3, gradient_steps=4, seed=0)
    batches, indices = agent.sample_batches(host)
    expected = host.n_step_targets(indices, 0.9, 3)
    for field in ("reward", "discount", "next-state"):
        np.testing.assert_array_equal(batches[field].reshape(expected[field].shape), expected[field])


def test_one_step_minibatches_are_the_one_step_targets():
    """n_step = 1: reward r_t, discount gamma (1 - terminal_t), next state s_{t+1}, bit for bit."""
    host = rl.Buffer(64)
    for tr in stream(50, 1):
        host.push({k: v[0] for k, v in tr.items()})
    agent = DQN((2,), 2, 16, hidden=(4,), gamma=0.97, gradient_steps=3, seed=0)
    batches, indices = agent.sample_batches(host)
    items = host.get(indices)
    np.testing.assert_array_equal(batches["reward"].reshape(-1), items["reward"])
    np.testing.assert_array_equal(batches["discount"].reshape(-1),
                                  (0.97 * (1.0 - items["terminal"])).astype(np.float32))
    np.testing.assert_array_equal(batches["next-state"].reshape(-1, 2), items["next-state"])
