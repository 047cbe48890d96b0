"""Update rules against hand computations, the acting protocol, schedules and argument errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from symgraph.rl.tabular import (
    SARSA,
    DynaQ,
    ExpectedSARSA,
    ExponentialDecay,
    LinearDecay,
    QLearning,
    TabularModel,
)


class Spaces:
    """The least an agent needs: two spaces."""

    def __init__(self, observation_space, action_space):
        self.observation_space = observation_space
        self.action_space = action_space


# --- SARSA(lambda) ------------------------------------------------------------------------------------------
# Chain with one action (so A' is forced), gamma = 0.9, lambda = 0.8, alpha = 0.5, Q0 = [0.5, 1.0, 0.0].
# Episode: (0, r=0, ->0), (0, r=1, ->1), (1, r=2, ->2 terminal). gamma * lambda = 0.72.
#
# accumulating traces
#   step 1: delta = 0 + 0.9*0.5 - 0.5 = -0.05;  z0 = 1;  Q0 = 0.5 + 0.5*(-0.05)*1 = 0.475;  z0 = 0.72
#   step 2: delta = 1 + 0.9*1.0 - 0.475 = 1.425;  z0 = 0.72 + 1 = 1.72;
#           Q0 = 0.475 + 0.5*1.425*1.72 = 1.7005;  z0 = 1.72*0.72 = 1.2384
#   step 3: delta = 2 - 1.0 = 1.0 (terminal);  z1 = 1;
#           Q0 = 1.7005 + 0.5*1.0*1.2384 = 2.3197;  Q1 = 1.0 + 0.5*1.0*1 = 1.5
# replacing traces: as above but z0 = 1 (not 1.72) at step 2
#   step 2: Q0 = 0.475 + 0.5*1.425*1 = 1.1875;  z0 = 0.72
#   step 3: Q0 = 1.1875 + 0.5*1.0*0.72 = 1.5475;  Q1 = 1.5
HAND = {"accumulating": [2.3197, 1.5, 0.0], "replacing": [1.5475, 1.5, 0.0]}
AFTER_STEP_2 = {"accumulating": (1.7005, 1.2384), "replacing": (1.1875, 0.72)}


@pytest.mark.parametrize("trace", ["accumulating", "replacing"])
def test_sarsa_lambda_matches_hand_computation(chain, trace):
    agent = SARSA(chain, epsilon=0.1, lmbda=0.8, gamma=0.9, lr=0.5, trace=trace, seed=0)
    agent.q_values[:, 0] = [0.5, 1.0, 0.0]
    assert agent.update(0, 0, 0.0, 0, False, False) == pytest.approx(-0.05, abs=1e-12)
    assert agent.q_values[0, 0] == pytest.approx(0.475, abs=1e-12)
    assert agent.traces[0, 0] == pytest.approx(0.72, abs=1e-12)
    assert agent.update(0, 0, 1.0, 1, False, False) == pytest.approx(1.425, abs=1e-12)
    q0, z0 = AFTER_STEP_2[trace]
    assert agent.q_values[0, 0] == pytest.approx(q0, abs=1e-12)
    assert agent.traces[0, 0] == pytest.approx(z0, abs=1e-12)
    assert agent.update(1, 0, 2.0, 2, True, False) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(agent.q_values[:, 0], HAND[trace], rtol=0, atol=1e-12)
    assert not agent.traces.any(), "traces must be reset when the episode ends"
    assert agent.episodes == 1 and agent.steps == 3


def test_sarsa_traces_reset_between_episodes(chain):
    agent = SARSA(chain, lmbda=0.8, gamma=0.9, lr=0.5)
    agent.update(0, 0, 0.0, 1, False, False)
    assert agent.traces[0, 0] == pytest.approx(0.72)
    agent.end_episode()  # an abandoned episode
    assert not agent.traces.any() and agent.episodes == 1
    agent.end_episode()  # nothing in progress: no-op
    assert agent.episodes == 1
    # next episode starts from clean traces: only the new pair is eligible
    agent.update(1, 0, 0.0, 1, False, False)
    assert agent.traces[0, 0] == 0.0 and agent.traces[1, 0] == pytest.approx(0.72)


def test_sarsa_lambda_zero_is_one_step_sarsa_and_uses_given_next_action(make_chain):
    env = make_chain(n_actions=2)
    agent = SARSA(env, epsilon=0.0, lmbda=0.0, gamma=0.9, lr=0.5)
    agent.q_values[1] = [3.0, 5.0]
    # Q(0,1) <- 0 + 0.5 * (1 + 0.9 * Q(1, 0) - 0) with the caller's next action 0 (not the greedy 1)
    agent.update(0, 1, 1.0, 1, False, False, next_action=0)
    assert agent.q_values[0, 1] == pytest.approx(0.5 * (1 + 0.9 * 3.0))
    assert not agent.traces.any()


def test_sarsa_takes_the_action_its_update_bootstrapped_from(make_chain):
    env = make_chain(n_actions=2)
    agent = SARSA(env, epsilon=0.5, lmbda=0.0, gamma=1.0, lr=1.0, seed=3)
    agent.q_values[1] = [10.0, 20.0]
    for _ in range(20):
        before = agent.q_values[1].copy()
        agent.q_values[0, 0] = 0.0
        agent.update(0, 0, 0.0, 1, False, False)
        chosen = agent.act(1)
        # with lr 1 and gamma 1, Q(0, 0) became Q(1, A') for the A' drawn in update
        assert agent.q_values[0, 0] == before[chosen]
    agent.update(0, 0, 0.0, 1, False, False)
    assert agent.act(0) in (0, 1)  # a pending action for another state is not used
    assert agent._pending is None


def test_sarsa_truncation_bootstraps_and_resets(chain):
    agent = SARSA(chain, lmbda=0.5, gamma=0.9, lr=0.5)
    agent.q_values[:, 0] = [0.0, 2.0, 0.0]
    delta = agent.update(0, 0, 1.0, 1, False, True)
    assert delta == pytest.approx(1.0 + 0.9 * 2.0)
    assert not agent.traces.any() and agent._pending is None and agent.episodes == 1


# --- Q-learning, expected SARSA -----------------------------------------------------------------------------
def test_q_learning_update_termination_and_truncation(make_chain):
    env = make_chain(n_actions=2)
    agent = QLearning(env, gamma=0.9, lr=0.5)
    agent.q_values[1] = [1.0, 4.0]
    # truncated (time limit): bootstrap from max_a Q(1, a) = 4
    assert agent.update(0, 0, 1.0, 1, False, True) == pytest.approx(1.0 + 0.9 * 4.0)
    assert agent.q_values[0, 0] == pytest.approx(0.5 * 4.6)
    # terminated: no bootstrap
    assert agent.update(0, 1, 1.0, 1, True, False) == pytest.approx(1.0)
    assert agent.q_values[0, 1] == pytest.approx(0.5)
    assert agent.episodes == 2


def test_expected_sarsa_uses_the_epsilon_greedy_expectation(make_chain):
    env = make_chain(n_actions=2)
    agent = ExpectedSARSA(env, epsilon=0.2, gamma=0.9, lr=0.5)
    agent.q_values[1] = [1.0, 4.0]
    # E_pi Q(1, .) = (1 - 0.2 + 0.1) * 4 + 0.1 * 1 = 3.7  ==  (1 - eps) max + eps mean = 3.2 + 0.5
    assert agent.update(0, 0, 1.0, 1, False, False) == pytest.approx(1.0 + 0.9 * 3.7)
    greedy = ExpectedSARSA(env, epsilon=0.0, gamma=0.9, lr=0.5)
    greedy.q_values[1] = [1.0, 4.0]
    assert greedy.update(0, 0, 1.0, 1, False, False) == pytest.approx(1.0 + 0.9 * 4.0)


def test_dyna_q_plans_from_its_model(chain):
    agent = DynaQ(chain, gamma=1.0, lr=0.5, planning_steps=50, seed=0)
    agent.update(1, 0, 1.0, 2, True, False)  # real: Q(1) = 0.5
    agent.update(0, 0, 0.0, 1, False, False)  # real, then 50 planning updates on both pairs
    assert len(agent.model) == 2
    assert agent.q_values[1, 0] == pytest.approx(1.0, abs=1e-6)
    assert agent.q_values[0, 0] == pytest.approx(1.0, abs=1e-3)
    plain = DynaQ(chain, gamma=1.0, lr=0.5, planning_steps=0)
    plain.update(1, 0, 1.0, 2, True, False)
    plain.update(0, 0, 0.0, 1, False, False)
    assert plain.q_values[0, 0] == pytest.approx(0.25)  # Q-learning alone


def test_tabular_model_learns_empirical_distribution():
    model = TabularModel(seed=0)
    for _ in range(3):
        model.add(0, 1, 1.0, 2, False)
    model.add(0, 1, 0.0, 3, True)
    assert model.probabilities(0, 1) == [(0.75, 2, 1.0, False), (0.25, 3, 0.0, True)]
    assert model.probabilities(5, 0) == []
    draws = [model.step(0, 1)[0] for _ in range(4000)]
    assert np.mean(np.array(draws) == 2) == pytest.approx(0.75, abs=0.03)
    assert model.sample()[:2] == (0, 1)
    with pytest.raises(ValueError, match="never seen action 0 in state 5"):
        model.step(5, 0)
    with pytest.raises(ValueError, match="TabularModel is empty"):
        TabularModel().sample()


# --- acting -------------------------------------------------------------------------------------------------
def test_act_one_state_and_arrays(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.0, seed=0)
    agent.q_values[:] = np.random.default_rng(0).random((16, 4))  # a unique maximum per row
    greedy = agent.greedy_policy()
    assert greedy.shape == (16,) and greedy.dtype.kind == "i"
    assert isinstance(agent.act(5), int) and agent.act(5) == greedy[5]
    assert agent.act(np.int64(5)) == greedy[5]
    states = np.array([[0, 1, 2], [13, 14, 15]])
    np.testing.assert_array_equal(agent.act(states), greedy[states])
    np.testing.assert_array_equal(agent.act(states, deterministic=True), greedy[states])
    np.testing.assert_array_equal(agent.values, agent.q_values.max(axis=1))


def test_epsilon_is_the_exploration_probability(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.3, seed=1)
    agent.q_values[7] = [0.0, 0.0, 1.0, 0.0]
    actions = np.array([agent.act(7) for _ in range(20000)])
    # greedy with probability 1 - eps + eps/4 = 0.775, each other action eps/4 = 0.075
    assert np.mean(actions == 2) == pytest.approx(0.775, abs=0.015)
    batch = agent.act(np.full(20000, 7))
    assert np.mean(batch == 2) == pytest.approx(0.775, abs=0.015)
    assert agent.act(7, deterministic=True) == 2


def test_greedy_ties_are_broken_at_random(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.0, seed=2)
    counts = np.bincount([agent.act(0) for _ in range(4000)], minlength=4)
    assert counts.min() > 850  # uniform over the 4 tied actions, not always action 0
    assert agent.act(0, deterministic=True) == 0


def test_seeded_agents_are_reproducible(frozen_lake):
    a, b = QLearning(frozen_lake, epsilon=0.5, seed=7), QLearning(frozen_lake, epsilon=0.5, seed=7)
    assert [a.act(3) for _ in range(50)] == [b.act(3) for _ in range(50)]


def test_discrete_start_offsets():
    env = Spaces(spaces.Discrete(3, start=10), spaces.Discrete(2, start=-1))
    agent = QLearning(env, epsilon=0.0, gamma=1.0, lr=1.0)
    agent.update(10, 0, 1.0, 11, True)  # action 0 is column 1
    assert agent.q_values[0, 1] == 1.0
    assert agent.act(10) == 0 and agent.greedy_policy()[0] == 0
    np.testing.assert_array_equal(agent.act(np.array([10, 10]), deterministic=True), [0, 0])
    with pytest.raises(IndexError, match=r"state 9 is outside the observation space \[10, 13\)"):
        agent.act(9)
    with pytest.raises(IndexError, match=r"states must lie in \[10, 13\)"):
        agent.act(np.array([10, 13]))


# --- schedules ----------------------------------------------------------------------------------------------
def test_epsilon_schedules_per_episode_and_per_step(chain):
    agent = QLearning(chain, epsilon=LinearDecay(1.0, 0.1, 10))
    assert agent.epsilon == 1.0
    for _ in range(5):
        agent.update(1, 0, 1.0, 2, True)
    assert agent.epsilon == pytest.approx(0.55)
    for _ in range(10):
        agent.update(1, 0, 1.0, 2, True)
    assert agent.epsilon == pytest.approx(0.1)
    per_step = QLearning(chain, epsilon=ExponentialDecay(1.0, 0.0, 0.5), epsilon_unit="step")
    per_step.update(0, 0, 0.0, 1, False)
    per_step.update(1, 0, 0.0, 1, False)
    assert per_step.epsilon == pytest.approx(0.25)
    assert QLearning(chain, epsilon=lambda t: 0.2).epsilon == 0.2


def test_schedule_errors(chain):
    with pytest.raises(ValueError, match="LinearDecay end must be a probability"):
        LinearDecay(1.0, 1.5, 10)
    with pytest.raises(ValueError, match="duration must be a positive"):
        LinearDecay(1.0, 0.1, 0)
    with pytest.raises(ValueError, match=r"rate must be in \(0, 1\]"):
        ExponentialDecay(rate=1.5)
    with pytest.raises(ValueError, match="returned 2.0 at episode 0"):
        QLearning(chain, epsilon=lambda t: 2.0)


# --- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA, DynaQ])
def test_continuous_observations_are_rejected(cls):
    env = gym.make("CartPole-v1")
    with pytest.raises(TypeError, match=r"need Discrete .* the observation space is Box\("):
        cls(env)


def test_continuous_actions_are_rejected():
    env = Spaces(spaces.Discrete(4), spaces.Box(-1.0, 1.0, (1,)))
    with pytest.raises(TypeError, match=r"need Discrete .* the action space is Box\("):
        QLearning(env)
    with pytest.raises(TypeError, match="has no observation_space attribute"):
        QLearning(object())


def test_argument_errors(chain):
    with pytest.raises(ValueError, match=r"epsilon \(the exploration probability\) must be in"):
        QLearning(chain, epsilon=1.5)
    with pytest.raises(ValueError, match="gamma must be in"):
        QLearning(chain, gamma=1.1)
    with pytest.raises(ValueError, match=r"lr \(the step size alpha\) must be in \(0, 1\]"):
        QLearning(chain, lr=0.0)
    with pytest.raises(ValueError, match=r"lmbda \(the trace decay lambda\) must be in"):
        SARSA(chain, lmbda=-0.1)
    with pytest.raises(ValueError, match="trace must be 'accumulating' or 'replacing'"):
        SARSA(chain, trace="dutch")
    with pytest.raises(ValueError, match="epsilon_unit must be"):
        QLearning(chain, epsilon_unit="minute")
    with pytest.raises(ValueError, match="planning_steps must be a non-negative integer"):
        DynaQ(chain, planning_steps=-1)
    with pytest.raises(TypeError, match="states must be integers"):
        QLearning(chain).act(np.array([0.5]))


def test_an_agent_missing_a_method_of_its_base_is_named():
    from symgraph.rl.tabular.agents import OneStepTD, TabularAgent

    env = Spaces(spaces.Discrete(2), spaces.Discrete(2))

    class NoUpdate(TabularAgent):
        pass

    class NoBootstrap(OneStepTD):
        pass

    with pytest.raises(NotImplementedError, match="NoUpdate must implement update"):
        NoUpdate(env).update(0, 0, 1.0, 1, False)
    with pytest.raises(NotImplementedError, match=r"NoBootstrap must implement _bootstrap\(next_state\)"):
        NoBootstrap(env).update(0, 0, 1.0, 1, False)
