"""The learner contract as ``run`` reads it: ``run(env, agent)`` with no buffer takes the agent's
``make_storage(n_envs)``, and the update arguments left at None take the agent's ``schedule``; values given
to ``run`` keep their meaning. A single env is driven as a vector of one whose hooks get one state."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from symgraph import rl
from symgraph.rl.buffer import Buffer
from symgraph.rl.protocol import Schedule
from symgraph.rl.run import run
from tests.rl.test_run import LineEnv, RecordingAgent


class ContractAgent(RecordingAgent):
    """A buffer agent with the contract's hooks: a schedule and the storage it makes."""

    def __init__(self, schedule=None):
        super().__init__()
        if schedule is not None:
            self.schedule = schedule
        self.made = []
        self.buffers = []

    def make_storage(self, n_envs):
        self.made.append(n_envs)
        return Buffer(1000, n_envs=n_envs)

    def update(self, buffer):
        self.buffers.append(buffer)
        return super().update(buffer)


def _two_envs(length=5):
    return SyncVectorEnv([lambda: LineEnv(length=length), lambda: LineEnv(length=length)],
                         autoreset_mode=AutoresetMode.SAME_STEP)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_run_without_a_buffer_uses_the_agents_storage_and_schedule(n_envs):
    agent = ContractAgent(Schedule(update_every=4, update_after=8))
    env = LineEnv(length=5) if n_envs == 1 else _two_envs()
    result = run(env, agent, max_steps=20, max_episodes=None, eval_every=0)
    assert agent.made == [n_envs]
    assert result.update_steps == [8, 12, 16, 20]
    assert {id(b) for b in agent.buffers} == {id(agent.buffers[0])} and agent.buffers[0].n_envs == n_envs
    assert len(agent.buffers[0]) == 20  # every transition


def test_values_given_to_run_win_over_the_schedule():
    agent = ContractAgent(Schedule(update_every=4, update_after=8))
    result = run(LineEnv(length=5), agent, max_steps=12, max_episodes=None, eval_every=0, update_every=2,
                 update_after=2)
    assert result.update_steps == [2, 4, 6, 8, 10, 12]
    given = Buffer(50)
    agent = ContractAgent(Schedule(update_every=4))
    run(LineEnv(length=5), agent, given, max_steps=8, max_episodes=None, eval_every=0)
    assert agent.made == [] and agent.buffers[0] is given


def test_a_schedule_at_episode_end_waits_for_the_end_of_episodes():
    agent = ContractAgent(Schedule(update_every=3, at_episode_end=True))
    result = run(LineEnv(length=5), agent, max_episodes=3, eval_every=0)
    assert result.update_steps == [5, 10, 15]  # one update per episode end, each with one due
    agent = ContractAgent(Schedule(update_every=3, at_episode_end=True))
    result = run(LineEnv(length=5), agent, max_episodes=3, eval_every=0, wait_end_path=False)
    assert result.update_steps == [3, 6, 9, 12, 15]


def test_an_agent_without_a_schedule_updates_every_step():
    agent = ContractAgent()
    result = run(LineEnv(length=3), agent, max_episodes=2, eval_every=0)
    assert agent.made == [1] and result.update_steps == [1, 2, 3, 4, 5, 6]


def test_no_buffer_and_no_storage_of_its_own_is_refused():
    with pytest.raises(ValueError, match=r"buffer is None .*has no make_storage\(n_envs\); pass a Buffer"):
        run(LineEnv(), RecordingAgent(), max_episodes=1, eval_every=0)


def test_a_single_env_is_a_vector_of_one_whose_hooks_get_one_state():
    agent = ContractAgent()
    run(LineEnv(length=3), agent, max_episodes=2, eval_every=0)
    assert all(states.shape == (2,) for states, _ in agent.acts)
    buffer = agent.buffers[0]
    np.testing.assert_array_equal(buffer["reward"][:3].reshape(-1), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(buffer["terminal"][:3].reshape(-1), [False, False, True])


def test_a_single_env_runs_as_a_vector_env_of_one_does():
    """The same episodes, steps, updates and stored transitions (with a batch axis of one in the vector
    env's hooks), episodes cut by max_episode_steps included."""
    single, vector = ContractAgent(Schedule(update_every=3)), ContractAgent(Schedule(update_every=3))
    one = SyncVectorEnv([lambda: LineEnv(length=6)], autoreset_mode=AutoresetMode.SAME_STEP)
    a = run(LineEnv(length=6), single, max_steps=20, max_episodes=None, eval_every=0, max_episode_steps=4)
    b = run(one, vector, max_steps=20, max_episodes=None, eval_every=0, max_episode_steps=4)
    assert (a.episode_returns, a.episode_lengths, a.update_steps) == (b.episode_returns, b.episode_lengths,
                                                                      b.update_steps)
    assert a.episode_lengths == [4] * 5 and a.total_frames == b.total_frames == 20
    for field in ("state", "reward", "next-state", "terminal", "truncated"):
        np.testing.assert_array_equal(single.buffers[0][field], vector.buffers[0][field])
    assert [s.shape for s, _ in vector.acts][:1] == [(1, 2)] and [s.shape for s, _ in single.acts][:1] == [(2,)]


def test_a_learner_runs_with_no_buffer_and_no_schedule_arguments():
    """``rl.run(env, learner)``: PPO's rollout storage and schedule come from the learner itself."""
    env = rl.envs.make_env("CartPole-v1")
    agent = rl.PPO.from_env(env, n_steps=64, batch_size=32, K_epochs=1, hidden=(8,), seed=0)
    result = rl.run(env, agent, max_steps=200, max_episodes=None, eval_every=0, seed=0)
    every = agent.schedule.update_every
    assert every == 64 and result.update_steps == [64, 128, 192]
    assert all(np.isfinite(m["loss"]) for m in result.losses)
