"""Saving and loading tabular agents: a loaded agent acts and learns exactly as the saved one; wrong files and
agents of other settings are refused without changing anything."""

import numpy as np
import pytest

from symgraph import SaveLoadError
from symgraph.rl.tabular import SARSA, DynaQ, ExpectedSARSA, LinearDecay, QLearning, Trainer

AGENTS = {
    "qlearning": lambda env, seed: QLearning(env, epsilon=LinearDecay(1.0, 0.05, 100), seed=seed),
    "sarsa": lambda env, seed: SARSA(env, epsilon=0.2, lmbda=0.8, seed=seed),
    "expected_sarsa": lambda env, seed: ExpectedSARSA(env, epsilon=LinearDecay(1.0, 0.05, 100), seed=seed),
    "dynaq": lambda env, seed: DynaQ(env, epsilon=0.2, planning_steps=5, seed=seed),
}


def train(agent, env, episodes, seed):
    trainer = Trainer(agent, env, n_episodes=episodes, seed=seed, progress=False)
    trainer.train()
    return trainer.episode_rewards


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_a_loaded_agent_goes_on_exactly_as_the_saved_one(name, frozen_lake, tmp_path):
    make = AGENTS[name]
    agent = make(frozen_lake, 1)
    train(agent, frozen_lake, 60, seed=0)
    path = tmp_path / "agent.npz"
    assert agent.save(path) == path and path.is_file()
    loaded = make(frozen_lake, 99).load(path)  # another seed: the file's generator replaces it
    np.testing.assert_array_equal(loaded.q_values, agent.q_values)
    assert (loaded.episodes, loaded.steps, loaded.epsilon) == (agent.episodes, agent.steps, agent.epsilon)
    if name == "dynaq":
        assert len(loaded.model) == len(agent.model) > 0
    # both go on learning: the same episodes, the same tables (exploration, ties and planning draws included)
    assert train(loaded, frozen_lake, 40, seed=5) == train(agent, frozen_lake, 40, seed=5)
    np.testing.assert_array_equal(loaded.q_values, agent.q_values)


def test_sarsa_keeps_the_action_drawn_for_the_next_step(chain, tmp_path):
    agent = SARSA(chain, epsilon=0.5, lmbda=0.5, seed=0)
    state, _ = chain.reset()
    agent.update(state, agent.act(state), 0.0, 1, False)  # draws A' for state 1
    path = agent.save(tmp_path / "sarsa.npz")
    loaded = SARSA(chain, epsilon=0.5, lmbda=0.5, seed=3).load(path)
    np.testing.assert_array_equal(loaded.traces, agent.traces)
    assert loaded.act(1) == agent.act(1)


def test_other_settings_are_refused_and_nothing_changes(frozen_lake, tmp_path):
    agent = QLearning(frozen_lake, epsilon=0.1, gamma=0.9, seed=0)
    train(agent, frozen_lake, 20, seed=0)
    path = agent.save(tmp_path / "q.npz")
    other = QLearning(frozen_lake, epsilon=0.1, gamma=0.99, seed=0)
    before = other.q_values.copy()
    with pytest.raises(SaveLoadError, match=r"gamma: 0.9 in the file, 0.99 here"):
        other.load(path)
    np.testing.assert_array_equal(other.q_values, before)
    with pytest.raises(SaveLoadError, match="epsilon_schedule"):
        QLearning(frozen_lake, epsilon=LinearDecay(1.0, 0.1, 10), gamma=0.9).load(path)
    with pytest.raises(SaveLoadError, match="holds a QLearning agent, not a SARSA"):
        SARSA(frozen_lake, gamma=0.9).load(path)


def test_files_that_are_not_tabular_agents_are_refused(frozen_lake, tmp_path):
    agent = QLearning(frozen_lake)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        agent.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", q=np.zeros(3))
    with pytest.raises(SaveLoadError, match="not a symgraph.rl checkpoint"):
        agent.load(tmp_path / "plain.npz")


def test_a_deep_learner_refuses_a_tabular_file_and_the_other_way_round(frozen_lake, tmp_path):
    from symgraph.rl import envs, load
    from symgraph.rl.learners import REINFORCE

    path = QLearning(frozen_lake).save(tmp_path / "q.npz")
    with pytest.raises(SaveLoadError, match="holds a tabular agent"):
        load(path)
    learner = REINFORCE.from_env(envs.make_env("CartPole-v1"), seed=0)
    with pytest.raises(SaveLoadError, match="holds a tabular agent"):
        learner.load(path)
    deep = learner.save(tmp_path / "deep.npz")
    with pytest.raises(SaveLoadError, match="holds a deep learner"):
        QLearning(frozen_lake).load(deep)
