"""The wheel bandit (Riquelme et al. 2018, section 5.4): contexts, means by region, noise, regret."""

import numpy as np
import pytest
from scipy import stats

from symgraph.rl.bandits import WheelBandit


def collect(bandit, n, action=0):
    contexts, means, rewards = [], [], []
    context = bandit.reset()
    for _ in range(n):
        contexts.append(np.array(context, dtype=np.float64))
        means.append(bandit.expected_rewards())
        context, reward = bandit.step(action)
        rewards.append(reward)
    return np.array(contexts), np.array(means), np.array(rewards)


def test_contexts_are_uniform_on_the_unit_disk():
    bandit = WheelBandit(delta=0.5, seed=0)
    contexts, _, _ = collect(bandit, 20_000)
    assert contexts.shape == (20_000, 2)
    radius = np.hypot(*contexts.T)
    assert radius.max() <= 1.0 + 1e-6
    # uniform on the disk: P(r <= x) = x^2, angles uniform
    assert stats.kstest(radius**2, "uniform").pvalue > 1e-3
    angle = np.arctan2(contexts[:, 1], contexts[:, 0])
    assert stats.kstest((angle + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3


@pytest.mark.parametrize("delta", [0.5, 0.9])
def test_expected_rewards_by_region(delta):
    bandit = WheelBandit(delta=delta, seed=1)
    contexts, means, _ = collect(bandit, 5000)
    x1, x2 = contexts.T
    outside = np.hypot(x1, x2) >= delta
    quadrant_arm = np.where(x1 > 0, np.where(x2 > 0, 1, 2), np.where(x2 > 0, 3, 4))
    expected = np.tile([1.2, 1.0, 1.0, 1.0, 1.0], (len(contexts), 1))
    expected[outside, quadrant_arm[outside]] = 50.0
    np.testing.assert_allclose(means, expected, atol=1e-5)
    # the fraction of contexts outside the radius is 1 - delta^2
    assert stats.binomtest(int(outside.sum()), len(outside), 1 - delta**2).pvalue > 1e-3
    assert set(quadrant_arm[outside]) == {1, 2, 3, 4}


def test_optimal_action_and_regret():
    bandit = WheelBandit(delta=0.5, seed=2)
    bandit.reset()
    inside = outside = 0
    for _ in range(500):
        means = bandit.expected_rewards()
        best = int(np.argmax(means))
        assert bandit.optimal_action() == best
        for a in range(5):
            assert bandit.regret(a) == pytest.approx(means.max() - means[a])
        if best == 0:
            inside += 1
            assert bandit.regret(1) == pytest.approx(0.2)
        else:
            outside += 1
            assert bandit.regret(0) == pytest.approx(48.8)
            other = 1 if best != 1 else 2
            assert bandit.regret(other) == pytest.approx(49.0)
        bandit.step(best)
    assert inside > 50 and outside > 50


def test_rewards_are_means_plus_small_noise():
    bandit = WheelBandit(delta=0.5, seed=3)
    for action in (0, 2):
        _, means, rewards = collect(bandit, 4000, action=action)
        noise = rewards - means[:, action]
        assert abs(noise.mean()) < 4 * 0.01 / np.sqrt(len(noise))
        assert noise.std() == pytest.approx(0.01, rel=0.05)


def test_seeded():
    a, b = WheelBandit(0.7, seed=5), WheelBandit(0.7, seed=5)
    np.testing.assert_array_equal(a.reset(), b.reset())
    (context_a, reward_a), (context_b, reward_b) = a.step(1), b.step(1)
    np.testing.assert_array_equal(context_a, context_b)
    assert reward_a == reward_b
    c = WheelBandit(0.7, seed=6)
    assert not np.array_equal(c.reset(), WheelBandit(0.7, seed=5).reset())
    assert a.context_dim == 2 and a.n_actions == 5


def test_errors():
    with pytest.raises(ValueError, match=r"delta must lie in \[0, 1\].*got 1.5"):
        WheelBandit(delta=1.5)
    bandit = WheelBandit(0.5, seed=0)
    with pytest.raises(ValueError, match="action 5 is out of range for WheelBandit: valid actions are 0 to"):
        bandit.step(5)
    with pytest.raises(ValueError, match="action -1 is out of range for WheelBandit"):
        bandit.regret(-1)
