"""Multi-armed bandit environments: rewards, expected regret, contexts, seeding, errors."""

import numpy as np
import pytest
from scipy import stats

from symgraph.rl.bandits import BernoulliMAB, GaussianMAB
from symgraph.rl.bandits._common import RandomStream, check_action, make_rng


def test_bernoulli_pays_one_with_probability_p():
    # GenRL's Bernoulli bandit paid 1 with probability 1 - p; here arm 0 (p = 0.9) must pay ~90% of the time
    bandit = BernoulliMAB(reward_probs=[0.9, 0.1], seed=0)
    bandit.reset()
    n = 20_000
    for arm, p in enumerate([0.9, 0.1]):
        rewards = [bandit.step(arm)[1] for _ in range(n)]
        assert set(rewards) <= {0.0, 1.0}
        wins = int(sum(rewards))
        assert stats.binomtest(wins, n, p).pvalue > 1e-3, (arm, wins / n)


def test_bernoulli_regret_is_expected_not_sampled():
    bandit = BernoulliMAB(reward_probs=[0.9, 0.8, 0.5], seed=1)
    bandit.reset()
    for _ in range(50):
        assert bandit.regret(0) == 0.0
        assert bandit.regret(1) == pytest.approx(0.1)
        assert bandit.regret(2) == pytest.approx(0.4)
        bandit.step(2)
    assert bandit.optimal_action() == 0
    np.testing.assert_allclose(bandit.expected_rewards(), [0.9, 0.8, 0.5])


def test_shape_of_reward_probs_sets_sizes():
    bandit = BernoulliMAB(reward_probs=[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    assert (bandit.bandits, bandit.arms, bandit.n_actions, bandit.context_dim) == (3, 2, 2, 3)
    default = BernoulliMAB(seed=0)
    assert default.reward_probs.shape == (1, 5)
    assert np.all((default.reward_probs >= 0) & (default.reward_probs < 1))
    assert not default.reward_probs.flags.writeable


def test_several_bandits_context_says_which_is_active():
    probs = np.array([[0.9, 0.1], [0.2, 0.7], [0.5, 0.6]])
    tensor = BernoulliMAB(reward_probs=probs, context_type="tensor", seed=3)
    integer = BernoulliMAB(reward_probs=probs, context_type="int", seed=3)
    c_t, c_i = tensor.reset(), integer.reset()
    seen = np.zeros(3)
    for _ in range(3000):
        assert c_t.shape == (3,) and c_t.dtype == np.float32 and c_t.sum() == 1.0
        b = int(np.argmax(c_t))
        assert b == c_i == tensor.active_bandit
        seen[b] += 1
        for a in range(2):
            assert tensor.regret(a) == pytest.approx(probs[b].max() - probs[b, a])
        assert tensor.optimal_action() == int(probs[b].argmax())
        c_t, _ = tensor.step(0)
        c_i, _ = integer.step(0)
    # the active bandit is drawn uniformly
    assert stats.chisquare(seen).pvalue > 1e-3
    with pytest.raises(ValueError, match="read-only"):
        c_t[0] = 5.0


def test_gaussian_rewards_have_the_given_moments():
    means = [[0.0, 1.0, -2.0]]
    bandit = GaussianMAB(reward_means=means, reward_std=[0.5, 1.0, 2.0], seed=0)
    assert (bandit.bandits, bandit.arms) == (1, 3)
    bandit.reset()
    n = 20_000
    for arm, (mean, std) in enumerate(zip(means[0], [0.5, 1.0, 2.0], strict=True)):
        rewards = np.array([bandit.step(arm)[1] for _ in range(n)])
        assert abs(rewards.mean() - mean) < 4 * std / np.sqrt(n)
        assert rewards.std() == pytest.approx(std, rel=0.03)
        assert bandit.regret(arm) == pytest.approx(1.0 - mean)


def test_gaussian_default_means_are_standard_normal():
    bandit = GaussianMAB(bandits=200, arms=5, seed=0)
    values = bandit.reward_means.ravel()
    assert stats.kstest(values, "norm").pvalue > 1e-3
    assert bandit.reward_std.shape == (200, 5)


def test_same_seed_same_run_and_independent_streams():
    def run(seed):
        bandit = BernoulliMAB(bandits=2, arms=3, seed=seed)
        bandit.reset()
        return [bandit.step(i % 3) for i in range(200)]

    def as_tuple(steps):
        return [(np.argmax(c), r) for c, r in steps]

    assert as_tuple(run(7)) == as_tuple(run(7))
    assert as_tuple(run(7)) != as_tuple(run(8))
    # the same int seed gives a bandit and an agent different streams
    assert make_rng(0, "BernoulliMAB").random() != make_rng(0, "ThompsonSampling").random()
    generator = np.random.default_rng(0)
    assert make_rng(generator, "x") is generator


def test_random_stream_matches_direct_draws():
    stream = RandomStream(np.random.default_rng(5), "uniform", block=7)
    np.testing.assert_array_equal([stream() for _ in range(30)], np.random.default_rng(5).random(35)[:30])
    normal = RandomStream(np.random.default_rng(5), "normal", block=4)
    np.testing.assert_array_equal([normal() for _ in range(9)],
                                  np.random.default_rng(5).standard_normal(12)[:9])


@pytest.mark.parametrize("action", [5, -1, 17])
def test_action_out_of_range(action):
    bandit = BernoulliMAB(arms=5, seed=0)
    message = rf"action {action} is out of range for BernoulliMAB: valid actions are 0 to 4"
    with pytest.raises(ValueError, match=message):
        bandit.step(action)
    with pytest.raises(ValueError, match=rf"action {action} is out of range"):
        bandit.regret(action)


def test_action_not_an_integer():
    bandit = GaussianMAB(bandits=1, arms=3, seed=0)
    with pytest.raises(ValueError, match=r"action must be an integer in 0..2 for GaussianMAB, got float 1.5"):
        bandit.step(1.5)
    assert check_action(np.int64(2), 3, "x") == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="context_type must be 'tensor'"):
        BernoulliMAB(context_type="onehot")
    with pytest.raises(ValueError, match=r"reward_probs must lie in \[0, 1\]"):
        BernoulliMAB(reward_probs=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"reward_probs has shape \(2,\).*contradicts bandits=1, arms=3"):
        BernoulliMAB(arms=3, reward_probs=[0.5, 0.4])
    with pytest.raises(ValueError, match=r"reward_probs must have shape \(arms,\) or \(bandits, arms\)"):
        BernoulliMAB(reward_probs=np.ones((2, 2, 2)) / 2)
    with pytest.raises(ValueError, match="arms must be an integer >= 1, got 0"):
        BernoulliMAB(arms=0)
    with pytest.raises(ValueError, match="reward_std must be finite and >= 0"):
        GaussianMAB(reward_means=[0.0, 1.0], reward_std=-1.0)
    with pytest.raises(ValueError, match=r"reward_std must be a scalar or broadcast to \(bandits, arms\)"):
        GaussianMAB(reward_means=[0.0, 1.0], reward_std=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="seed must be non-negative"):
        BernoulliMAB(seed=-1)
    with pytest.raises(TypeError, match="seed must be None, a non-negative int"):
        BernoulliMAB(seed="zero")
