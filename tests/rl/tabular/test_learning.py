"""Seeded learning tests on gymnasium's toy-text environments."""

import gymnasium as gym
import numpy as np
import pytest

from symgraph.rl.tabular import SARSA, DynaQ, ExpectedSARSA, LinearDecay, QLearning, Trainer

START, GOAL = 36, 47                        # CliffWalking: bottom-left, bottom-right
CLIFF_EDGE = set(range(25, 35))             # the row just above the cliff, columns 1..10
OPTIMAL_PATH = [36, 24, *range(25, 36), 47]  # up, 11 x right, down: 13 steps, return -13


def episodes_to(trainer, success):
    """First evaluated episode whose greedy policy reached ``success`` (None if never)."""
    return next((e["episode"] for e in trainer.evaluations if e["success_rate"] >= success), None)


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_q_learning_frozen_lake_reaches_070_and_dyna_q_needs_fewer_real_episodes(frozen_lake, seed):
    q = QLearning(frozen_lake, epsilon=LinearDecay(1.0, 0.01, 2000), gamma=0.99, lr=0.1, seed=seed)
    q_trainer = Trainer(q, frozen_lake, n_episodes=3000, evaluate_frequency=25, evaluation="exact", seed=seed,
                        progress=False)
    q_trainer.train()
    q_episodes = episodes_to(q_trainer, 0.70)
    assert q_episodes is not None and q_episodes <= 3000
    assert q_trainer.evaluations[-1]["success_rate"] >= 0.70  # and it stays there
    assert q_trainer.evaluate(2000)["success_rate"] >= 0.66  # simulated: 0.70 minus 4 standard errors

    dyna = DynaQ(frozen_lake, epsilon=LinearDecay(1.0, 0.01, 2000), gamma=0.99, lr=0.1, planning_steps=10,
                 seed=seed)
    dyna_trainer = Trainer(dyna, frozen_lake, n_episodes=3000, evaluate_frequency=25, evaluation="exact",
                           target_success=0.70, seed=seed, progress=False)
    dyna_trainer.train()
    dyna_episodes = episodes_to(dyna_trainer, 0.70)
    assert dyna_episodes is not None
    assert len(dyna_trainer.episode_rewards) == dyna_episodes  # stopped at the target
    assert dyna_episodes < q_episodes / 2, (dyna_episodes, q_episodes)


@pytest.mark.learning
@pytest.mark.parametrize("seed", [1, 2])
def test_q_learning_in_dyna_mode_is_dyna_q(frozen_lake, seed):
    agent = QLearning(frozen_lake, epsilon=LinearDecay(1.0, 0.01, 2000), seed=seed)
    trainer = Trainer(agent, frozen_lake, mode="dyna", planning_steps=10, n_episodes=1500,
                      evaluate_frequency=25, evaluation="exact", target_success=0.70, seed=seed, progress=False)
    trainer.train()
    assert episodes_to(trainer, 0.70) is not None and episodes_to(trainer, 0.70) <= 600


def greedy_path(agent, env):
    transitions = env.unwrapped.P
    policy = agent.greedy_policy()
    state, path = START, [START]
    for _ in range(60):
        _, state, _, terminated = transitions[state][int(policy[state])][0]
        path.append(int(state))
        if terminated:
            break
    return path


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lmbda", [0.0, 0.9])
def test_cliff_walking_sarsa_safe_path_q_learning_cliff_edge(lmbda, seed):
    """S&B example 6.6: with epsilon 0.1, SARSA learns the longer path away from the cliff, Q-learning the
    optimal path along its edge (and so falls more often while exploring)."""
    env = gym.make("CliffWalking-v1")
    sarsa = SARSA(env, epsilon=0.1, lmbda=lmbda, gamma=0.99, lr=0.1, seed=seed)
    sarsa_returns = Trainer(sarsa, env, n_episodes=500, seed=seed, progress=False).train()
    q = QLearning(env, epsilon=0.1, gamma=0.99, lr=0.1, seed=seed)
    q_returns = Trainer(q, env, n_episodes=500, seed=seed, progress=False).train()

    assert greedy_path(q, env) == OPTIMAL_PATH
    path = greedy_path(sarsa, env)
    assert path[-1] == GOAL and len(path) - 1 > 13
    assert len(CLIFF_EDGE.intersection(path)) <= 1, path
    assert min(state // 12 for state in path) <= 1  # it climbs at least one row away from the edge
    # online, while exploring, SARSA falls off far less often (S&B figure 6.4: returns about -25 vs -50)
    sarsa_falls, q_falls = np.mean(sarsa_returns[-200:] <= -100), np.mean(q_returns[-200:] <= -100)
    assert sarsa_falls < q_falls / 2, (sarsa_falls, q_falls)
    assert sarsa_returns[-200:].mean() > q_returns[-200:].mean() + 10


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_expected_sarsa_cliff_walking_safe_path(seed):
    env = gym.make("CliffWalking-v1")
    agent = ExpectedSARSA(env, epsilon=0.1, gamma=1.0, lr=0.5, seed=seed)
    Trainer(agent, env, n_episodes=300, seed=seed, progress=False).train()
    path = greedy_path(agent, env)
    assert path[-1] == GOAL and len(CLIFF_EDGE.intersection(path)) <= 1


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_q_learning_taxi_mean_return_above_7(seed):
    env = gym.make("Taxi-v4")
    agent = QLearning(env, epsilon=0.1, gamma=0.99, lr=0.5, seed=seed)
    trainer = Trainer(agent, env, n_episodes=2000, seed=seed, progress=False)
    trainer.train()
    assert trainer.evaluate(exact=True)["mean_return"] >= 7.0  # optimum about 7.9
    result = trainer.evaluate(500)
    assert result["mean_return"] >= 7.0 and result["success_rate"] == 1.0


def test_training_is_reproducible(frozen_lake):
    runs = []
    for _ in range(2):
        agent = SARSA(frozen_lake, epsilon=0.2, seed=3)
        runs.append((Trainer(agent, frozen_lake, n_episodes=200, seed=3, progress=False).train(),
                     agent.q_values.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
