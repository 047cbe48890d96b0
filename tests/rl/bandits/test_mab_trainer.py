"""MABTrainer, its result, the multi-seed comparison and the regret plot."""

import logging

import numpy as np
import pytest

from symgraph.rl.bandits import (
    UCB1,
    BanditResult,
    BernoulliMAB,
    EpsilonGreedy,
    MABTrainer,
    RegretSummary,
    ThompsonSampling,
    WheelBandit,
    compare_agents,
    moving_average,
    plot_regret,
)


class Oracle:
    """Pulls the best arm by looking at the bandit: its expected regret is exactly 0."""

    def __init__(self, bandit):
        self.bandit = bandit

    def select_action(self, context):
        return self.bandit.optimal_action()

    def update_params(self, context, action, reward):
        pass


class Fixed:
    def __init__(self, arm):
        self.arm = arm

    def select_action(self, context):
        return self.arm

    def update_params(self, context, action, reward):
        pass


class WheelRule:
    """The optimal policy of the wheel bandit, from the context alone."""

    def __init__(self, delta):
        self.delta = delta

    def select_action(self, context):
        x1, x2 = float(context[0]), float(context[1])
        return WheelBandit.quadrant_arm(x1, x2) if np.hypot(x1, x2) >= self.delta else 0

    def update_params(self, context, action, reward):
        pass


def test_regret_is_expected_regret_and_fields_are_not_swapped():
    bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
    result = MABTrainer(Oracle(bandit), bandit, progress=False).train(5000)
    np.testing.assert_array_equal(result.regret, 0.0)  # a sampled regret would not be 0
    np.testing.assert_array_equal(result.cumulative_regret, 0.0)
    assert set(np.unique(result.reward)) == {0.0, 1.0}
    assert result.cumulative_reward[-1] == pytest.approx(0.9 * 5000, rel=0.03)
    np.testing.assert_array_equal(result.actions, 0)

    fixed = MABTrainer(Fixed(1), BernoulliMAB(reward_probs=[0.9, 0.8], seed=0), progress=False).train(1000)
    np.testing.assert_allclose(fixed.regret, 0.1)
    np.testing.assert_allclose(fixed.cumulative_regret, 0.1 * np.arange(1, 1001))
    assert fixed.cumulative_reward[-1] == pytest.approx(800, rel=0.1)


def test_result_fields_and_key_access():
    bandit = BernoulliMAB(reward_probs=[0.7, 0.5, 0.2], seed=1)
    result = MABTrainer(EpsilonGreedy(bandit, epsilon=0.2, seed=1), bandit, window=50,
                        progress=False).train(777)
    assert isinstance(result, BanditResult) and result.timesteps == 777
    np.testing.assert_allclose(result.cumulative_regret, np.cumsum(result.regret))
    np.testing.assert_allclose(result.cumulative_reward, np.cumsum(result.reward))
    naive = [result.regret[max(0, t - 49):t + 1].mean() for t in range(777)]
    np.testing.assert_allclose(result.regret_moving_average, naive)
    naive = [result.reward[max(0, t - 49):t + 1].mean() for t in range(777)]
    np.testing.assert_allclose(result.reward_moving_average, naive)
    for key in result:
        assert result[key] is getattr(result, key)
        assert len(result[key]) == 777
    assert set(result.keys()) == {"regret", "cumulative_regret", "regret_moving_average", "reward",
                                  "cumulative_reward", "reward_moving_average", "actions"}
    assert dict(result)["reward"] is result.reward
    assert result["agent"] == "EpsilonGreedy" and result["bandit"] == "BernoulliMAB"
    assert result.seconds > 0
    np.testing.assert_allclose(result.regret, np.array([0.0, 0.2, 0.5])[result.actions])
    with pytest.raises(KeyError, match="'regrets' is not a field of BanditResult; fields: regret, "):
        result["regrets"]
    assert "cumulative_regret=" in repr(result)


def test_moving_average():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(moving_average([1, 2, 3], 10), [1, 1.5, 2])
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        moving_average([1.0], 0)


def test_trainer_runs_any_bandit_and_agent_pair():
    bandit = WheelBandit(delta=0.5, seed=0)
    result = MABTrainer(WheelRule(0.5), bandit, progress=False).train(3000)
    np.testing.assert_allclose(result.regret, 0.0, atol=1e-5)
    assert result.cumulative_reward[-1] > 3000 * 1.2


def test_logging_and_no_prints(caplog, capsys):
    bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
    with caplog.at_level(logging.INFO, logger="symgraph.rl.bandits"):
        MABTrainer(UCB1(bandit), bandit, progress=False, log_every=250).train(1000)
    messages = [r.getMessage() for r in caplog.records if r.name == "symgraph.rl.bandits.trainer"]
    assert messages[0] == "training UCB1 on BernoulliMAB for 1000 pulls"
    progress = [m for m in messages if m.startswith("pull ")]
    assert len(progress) == 4 and progress[-1].startswith("pull 1000/1000: cumulative regret")
    assert messages[-1].startswith("done in")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_can_be_turned_off(capsys):
    bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
    MABTrainer(UCB1(bandit), bandit, progress=True).train(2000)
    assert "2000/2000" in capsys.readouterr().err
    MABTrainer(UCB1(bandit), bandit, progress=False).train(2000)
    assert capsys.readouterr().err == ""
    # the default shows a bar only when stderr is a terminal (not under pytest's capture)
    MABTrainer(UCB1(bandit), bandit).train(2000)
    assert capsys.readouterr().err == ""


def test_compare_agents_mean_and_spread():
    seen = []

    def make_bandit(seed):
        seen.append(seed.entropy)
        return BernoulliMAB(arms=4, seed=seed)  # random arm probabilities, fixed by the seed

    summaries = compare_agents({"ts": ThompsonSampling, "ucb": UCB1}, make_bandit, 400, seeds=[3, 4, 5])
    assert list(summaries) == ["ts", "ucb"]
    assert seen[:3] == seen[3:] == [3, 4, 5]  # every agent meets the same bandits
    for name, summary in summaries.items():
        assert isinstance(summary, RegretSummary) and summary.name == name and summary.seeds == (3, 4, 5)
        curves = np.stack([r.cumulative_regret for r in summary.results])
        np.testing.assert_array_equal(summary.cumulative_regret, curves)
        np.testing.assert_allclose(summary.mean, curves.mean(axis=0))
        np.testing.assert_allclose(summary.std, curves.std(axis=0, ddof=1))
        np.testing.assert_allclose(summary.final, curves[:, -1])
        assert summary.final_mean == pytest.approx(curves[:, -1].mean())
        assert summary.final_std == pytest.approx(curves[:, -1].std(ddof=1))
        assert summary.final_sem == pytest.approx(summary.final_std / np.sqrt(3))
    again = compare_agents({"ts": ThompsonSampling}, make_bandit, 400, seeds=[3, 4, 5])
    np.testing.assert_array_equal(again["ts"].cumulative_regret, summaries["ts"].cumulative_regret)
    single = compare_agents({"ts": ThompsonSampling}, make_bandit, 10, seeds=1)["ts"]
    assert single.seeds == (0,) and single.final_std == 0.0
    np.testing.assert_array_equal(single.std, 0.0)


def test_plot_regret(tmp_path):
    def make(seed):
        return BernoulliMAB(reward_probs=[0.9, 0.8], seed=seed)

    summaries = compare_agents({"Thompson": ThompsonSampling, "UCB1": UCB1}, make, 300, seeds=2)
    path = tmp_path / "regret.png"
    fig = plot_regret(summaries, path)
    assert path.stat().st_size > 1000
    ax = fig.axes[0]
    assert ax.get_xlabel() == "pulls (time steps)"
    assert ax.get_ylabel() == "cumulative expected regret (reward units)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Thompson (mean ± 1 std, 2 seeds)", "UCB1 (mean ± 1 std, 2 seeds)"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), summaries["Thompson"].mean)
    assert len(ax.collections) == 2  # the spread bands

    result = summaries["UCB1"].results[0]
    fig = plot_regret([result], tmp_path / "one.svg", log_x=True)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["UCB1"]
    assert fig.axes[0].get_xscale() == "log"
    assert (tmp_path / "one.svg").exists()
    fig = plot_regret({"mine": result})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["mine"]
    with pytest.raises(TypeError, match="plot_regret takes BanditResult or RegretSummary objects"):
        plot_regret([np.zeros(3)])


def test_trainer_errors():
    bandit = BernoulliMAB(reward_probs=[0.9, 0.8], seed=0)
    with pytest.raises(ValueError, match="timesteps must be an integer >= 1, got 0"):
        MABTrainer(UCB1(bandit), bandit).train(0)
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        MABTrainer(UCB1(bandit), bandit, window=0)
    with pytest.raises(ValueError, match="seeds must name at least one seed"):
        compare_agents({"ucb": UCB1}, lambda seed: bandit, 10, seeds=[])
