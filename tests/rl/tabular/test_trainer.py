"""Trainer: modes, evaluation, plotting, logging, progress bar, argument errors."""

import logging

import gymnasium as gym
import numpy as np
import pytest

from symgraph.rl.tabular import (
    SARSA,
    DynaQ,
    ExpectedSARSA,
    PolicyIteration,
    QLearning,
    TabularModel,
    Trainer,
    ValueIteration,
)


def test_train_returns_episode_rewards_and_records_history(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.5, seed=0)
    trainer = Trainer(agent, frozen_lake, n_episodes=60, evaluate_frequency=20, evaluate_episodes=10, seed=0,
                      progress=False)
    rewards = trainer.train()
    assert rewards.shape == (60,) and set(np.unique(rewards)) <= {0.0, 1.0}
    assert trainer.episode_rewards == rewards.tolist()
    assert sum(trainer.episode_lengths) == trainer.total_steps == agent.steps
    assert agent.episodes == 60
    assert [e["episode"] for e in trainer.evaluations] == [20, 40, 60]
    assert all(e["episodes"] == 10 and 0.0 <= e["success_rate"] <= 1.0 for e in trainer.evaluations)
    more = trainer.train()  # continues: 60 more episodes
    assert more.shape == (60,) and len(trainer.episode_rewards) == 120


def test_start_steps_act_at_random(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.0, seed=0)
    agent.q_values[:, 0] = 1.0  # LEFT strictly greedy everywhere
    acted = []
    act = agent.act
    agent.act = lambda state, deterministic=False: acted.append(state) or act(state, deterministic)
    trainer = Trainer(agent, frozen_lake, n_episodes=30, start_steps=150, seed=0, progress=False)
    trainer.train()
    # the agent is only asked for actions once the 150 random warm-up steps are over
    assert trainer.total_steps > 150 and len(acted) == trainer.total_steps - 150
    assert agent.steps == trainer.total_steps  # but it learned from every step


def test_sarsa_random_warm_up_passes_the_taken_action(frozen_lake):
    agent = SARSA(frozen_lake, lmbda=0.0, seed=0)
    calls = []
    update = agent.update

    def spy(state, action, reward, next_state, terminated, truncated, next_action=None):
        calls.append((next_action, terminated or truncated))
        return update(state, action, reward, next_state, terminated, truncated, next_action=next_action)

    agent.update = spy
    Trainer(agent, frozen_lake, n_episodes=5, start_steps=10**6, seed=0, progress=False).train()
    # during random warm-up the bootstrap uses the random action actually taken next (none after the end)
    assert len(calls) > 5 and all((a is None) == done for a, done in calls)


def test_max_episode_steps_truncates(chain):
    env = gym.make("CliffWalking-v1")
    agent = QLearning(env, epsilon=1.0, seed=0)
    trainer = Trainer(agent, env, n_episodes=5, max_episode_steps=7, seed=0, progress=False)
    trainer.train()
    assert max(trainer.episode_lengths) <= 7 and agent.episodes == 5


def test_plan_mode_learns_only_from_the_model(frozen_lake):
    agent = QLearning(frozen_lake, epsilon=0.5, seed=0)
    model = TabularModel()
    trainer = Trainer(agent, frozen_lake, mode="plan", planning_steps=5, model=model, n_episodes=50, seed=0,
                      progress=False)
    trainer.train()
    assert agent.steps == 0 and agent.episodes == 50  # no real updates, but episodes still end
    assert len(model) > 10 and trainer.model is model
    assert np.abs(agent.q_values).sum() > 0  # yet it learned (from simulated transitions)


def test_plan_mode_with_a_planner_solves_and_acts(frozen_lake):
    trainer = Trainer(PolicyIteration(frozen_lake), frozen_lake, mode="plan", n_episodes=300, seed=0,
                      progress=False)
    rewards = trainer.train()
    assert trainer.agent.converged and rewards.mean() == pytest.approx(0.74, abs=0.08)


def test_expected_sarsa_in_dyna_mode(frozen_lake):
    agent = ExpectedSARSA(frozen_lake, epsilon=0.3, seed=0)
    trainer = Trainer(agent, frozen_lake, mode="dyna", n_episodes=300, seed=0, progress=False)
    trainer.train()
    assert agent.steps == trainer.total_steps and len(trainer.model) > 10
    assert sum(trainer.episode_rewards) > 0 and agent.q_values.max() > 0


def test_evaluate_custom_success(frozen_lake):
    trainer = Trainer(ValueIteration(frozen_lake), frozen_lake, mode="plan", seed=0, progress=False)
    always = trainer.evaluate(20, success=lambda ret, last, terminated, info: True)
    assert always["success_rate"] == 1.0 and always["episodes"] == 20


def test_plot_writes_a_labelled_figure(frozen_lake, tmp_path):
    agent = QLearning(frozen_lake, epsilon=0.5, seed=0)
    trainer = Trainer(agent, frozen_lake, n_episodes=40, evaluate_frequency=10, evaluation="exact", seed=0,
                      progress=False)
    with pytest.raises(ValueError, match=r"nothing to plot: call train\(\) first"):
        trainer.plot()
    trainer.train()
    path = tmp_path / "curve.png"
    fig = trainer.plot(path, window=10)
    assert path.stat().st_size > 1000
    ax = fig.axes[0]
    assert ax.get_xlabel() == "episode" and ax.get_ylabel() == "return"
    assert "QLearning on FrozenLake-v1" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "success rate"


def test_logging_not_printing_and_progress_off_when_not_a_terminal(frozen_lake, caplog, capsys):
    agent = QLearning(frozen_lake, seed=0)
    trainer = Trainer(agent, frozen_lake, n_episodes=20, evaluate_frequency=10, evaluate_episodes=5, seed=0)
    with caplog.at_level(logging.INFO, logger="symgraph.rl.tabular.trainer"):
        trainer.train()
    assert [r.getMessage().startswith("episode ") for r in caplog.records] == [True, True]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # the default bar stays silent off a terminal
    Trainer(agent, frozen_lake, n_episodes=20, seed=0, progress=True).train()  # asked for: shown anyway
    captured = capsys.readouterr()
    assert captured.out == "" and "20/20" in captured.err


def test_trainer_errors(frozen_lake, chain):
    agent = QLearning(frozen_lake)
    with pytest.raises(ValueError, match="mode must be one of"):
        Trainer(agent, frozen_lake, mode="imitate")
    with pytest.raises(ValueError, match="SARSA.* cannot use"):
        Trainer(SARSA(frozen_lake), frozen_lake, mode="dyna")
    with pytest.raises(ValueError, match="DynaQ already plans inside its update"):
        Trainer(DynaQ(frozen_lake), frozen_lake, mode="dyna")
    with pytest.raises(ValueError, match="ValueIteration solves the known model"):
        Trainer(ValueIteration(frozen_lake), frozen_lake, mode="dyna")
    with pytest.raises(ValueError, match="agent's table is 3 states x 1 actions"):
        Trainer(QLearning(chain), frozen_lake)
    with pytest.raises(ValueError, match="n_episodes must be a non-negative integer"):
        Trainer(agent, frozen_lake, n_episodes=-1)
    with pytest.raises(ValueError, match="evaluation must be 'episodes' or 'exact'"):
        Trainer(agent, frozen_lake, evaluation="vibes")
    with pytest.raises(TypeError, match="needs a tabular agent or planner"):
        Trainer(object(), frozen_lake)
    with pytest.raises(ValueError, match="episodes must be at least 1"):
        Trainer(agent, frozen_lake).evaluate(0)


def test_exact_evaluation_needs_an_initial_distribution(chain):
    del chain.initial_state_distrib
    trainer = Trainer(QLearning(chain), chain, progress=False)
    with pytest.raises(ValueError, match="needs the initial state distribution"):
        trainer.evaluate(exact=True)
