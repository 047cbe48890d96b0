"""Value/policy iteration against the published FrozenLake figures, and exact policy evaluation."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from symgraph.rl.tabular import PolicyIteration, TabularMDP, Trainer, ValueIteration, evaluate_policy

# gymnasium FrozenLake-v1 4x4, slippery, 100-step limit: the optimal policy of value iteration at gamma 0.99
# reaches the goal with probability 0.7402; with gamma <= 0.95 the greedy policy is riskier (0.7298).
OPTIMAL_SUCCESS = {0.99: 0.7402, 0.95: 0.7298}


def success_within(mdp, policy, horizon=100):
    values = evaluate_policy(mdp, policy, gamma=1.0, horizon=horizon, reward="success")
    return values @ mdp.initial_distribution


@pytest.mark.parametrize("gamma", [0.99, 0.95])
def test_value_iteration_frozen_lake_success_exact(frozen_lake, gamma):
    vi = ValueIteration(frozen_lake, gamma=gamma, tol=1e-10).solve()
    assert vi.converged and vi.iterations > 10
    assert success_within(vi.mdp, vi.greedy_policy()) == pytest.approx(OPTIMAL_SUCCESS[gamma], abs=1e-4)


def test_value_iteration_frozen_lake_success_simulated(frozen_lake):
    vi = ValueIteration(frozen_lake)
    trainer = Trainer(vi, frozen_lake, mode="plan", seed=0, progress=False)
    result = trainer.evaluate(4000)
    # binomial standard error sqrt(0.74 * 0.26 / 4000) = 0.0069: a 3.5 sigma band
    assert result["success_rate"] == pytest.approx(0.7402, abs=0.025)
    assert result["mean_return"] == result["success_rate"]
    exact = trainer.evaluate(exact=True)
    assert exact["success_rate"] == pytest.approx(0.7402, abs=1e-4)
    assert exact["mean_return"] == pytest.approx(exact["success_rate"])


def test_value_iteration_values_satisfy_bellman_optimality(frozen_lake):
    vi = ValueIteration(frozen_lake, gamma=0.99, tol=1e-12)
    q = vi.mdp.q_from_values(vi.values, 0.99)
    np.testing.assert_allclose(q, vi.q_values, atol=1e-9)
    np.testing.assert_allclose(q.max(axis=1), vi.values, atol=1e-9)
    # the greedy policy's exact discounted value equals the optimal value
    v_pi = evaluate_policy(vi.mdp, vi.greedy_policy(), gamma=0.99)
    np.testing.assert_allclose(v_pi, vi.values, atol=1e-8)
    assert vi.values[0] == pytest.approx(0.5420, abs=1e-4)


@pytest.mark.parametrize("evaluation", ["exact", "iterative"])
def test_policy_iteration_agrees_with_value_iteration(frozen_lake, evaluation):
    vi = ValueIteration(frozen_lake, gamma=0.99, tol=1e-12)
    pi = PolicyIteration(frozen_lake, gamma=0.99, evaluation=evaluation, tol=1e-10).solve()
    assert pi.converged and 2 <= pi.iterations < 20
    np.testing.assert_array_equal(pi.greedy_policy(), vi.greedy_policy())
    np.testing.assert_allclose(pi.values, vi.values, atol=1e-6)


def test_planners_on_cliff_walking_and_taxi():
    cliff = gym.make("CliffWalking-v1")
    vi = ValueIteration(cliff, gamma=1.0)
    assert vi.values[36] == pytest.approx(-13.0)  # the 13-step path along the cliff edge
    assert PolicyIteration(cliff, gamma=0.999).values[36] == pytest.approx(-13.0, abs=0.1)
    taxi = gym.make("Taxi-v4")
    vi = ValueIteration(taxi, gamma=0.99)
    undiscounted = evaluate_policy(vi.mdp, vi.greedy_policy(), 1.0, horizon=200) @ vi.mdp.initial_distribution
    assert undiscounted == pytest.approx(7.9, abs=0.15)


def test_planner_acting_protocol(frozen_lake):
    vi = ValueIteration(frozen_lake)
    policy = vi.greedy_policy()
    assert vi.act(14) == policy[14] and isinstance(vi.act(14), int)
    np.testing.assert_array_equal(vi.act(np.arange(16)), policy)
    assert vi.update(0, 0, 0.0, 1, False) is None
    vi.end_episode()


def test_evaluate_policy_exact_matches_iteration_and_accepts_stochastic_policies(frozen_lake):
    mdp = TabularMDP.from_env(frozen_lake)
    uniform = np.full((16, 4), 0.25)
    exact = evaluate_policy(mdp, uniform, gamma=0.9)
    long = evaluate_policy(mdp, uniform, gamma=0.9, horizon=2000)
    np.testing.assert_allclose(exact, long, atol=1e-12)
    one_hot = np.eye(4)[np.arange(16) % 4]
    deterministic = evaluate_policy(mdp, np.arange(16) % 4, 0.9)
    np.testing.assert_allclose(evaluate_policy(mdp, one_hot, 0.9), deterministic)


def test_evaluate_policy_errors(frozen_lake):
    cliff = TabularMDP.from_env(gym.make("CliffWalking-v1"))
    always_up = np.zeros(48, dtype=int)  # ends pressed against the top wall, never terminating
    with pytest.raises(ValueError, match="singular, because the policy never terminates"):
        evaluate_policy(cliff, always_up, gamma=1.0)
    assert evaluate_policy(cliff, always_up, gamma=1.0, horizon=10)[36] == -10.0
    assert evaluate_policy(cliff, always_up, gamma=0.5)[0] == pytest.approx(-2.0)
    mdp = TabularMDP.from_env(frozen_lake)
    always_left = np.zeros(16, dtype=int)
    with pytest.raises(ValueError, match=r"one action per state: shape \(16,\)"):
        evaluate_policy(mdp, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"policy actions must lie in \[0, 4\)"):
        evaluate_policy(mdp, np.full(16, 4))
    with pytest.raises(ValueError, match="rows must be probability distributions"):
        evaluate_policy(mdp, np.full((16, 4), 0.5))
    with pytest.raises(ValueError, match="reward must be 'reward' or 'success'"):
        evaluate_policy(mdp, always_left, reward="cost")


def test_planner_errors():
    with pytest.raises(ValueError, match=r"exposes no transition model: planners need env.unwrapped.P"):
        ValueIteration(_NoModel())
    with pytest.raises(TypeError, match=r"the observation space is Box\("):
        ValueIteration(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="evaluation must be 'exact' or 'iterative'"):
        PolicyIteration(gym.make("FrozenLake-v1"), evaluation="guess")
    bad = {0: {0: [(0.5, 0, 0.0, False)]}}
    with pytest.raises(ValueError, match="state 0, action 0 sum to 0.5, not 1"):
        TabularMDP.from_transitions(bad, 1, 1)
    with pytest.warns(RuntimeWarning, match="value iteration did not converge in 3 sweeps"):
        ValueIteration(gym.make("FrozenLake-v1"), max_iterations=3).solve()
    with pytest.raises(ValueError, match="tol must be positive"):
        ValueIteration(gym.make("FrozenLake-v1"), tol=0.0)


class _NoModel:
    observation_space = spaces.Discrete(4)
    action_space = spaces.Discrete(2)


def test_a_planner_without_solve_is_named(frozen_lake):
    from symgraph.rl.tabular.planning import _Planner

    class NoSolve(_Planner):
        pass

    with pytest.raises(NotImplementedError, match="NoSolve must implement solve"):
        NoSolve(frozen_lake, gamma=0.9, tol=1e-6, max_iterations=10).act(0)
