"""Multi-armed agents: regret on the classic 2-arm problem, Bayesian updates against closed forms, errors."""

from functools import partial

import numpy as np
import pytest
from scipy import integrate, stats

from symgraph.errors import ShapeError
from symgraph.rl.bandits import (
    UCB1,
    BayesianUCB,
    BayesianUCBMABAgent,
    BernoulliMAB,
    EpsGreedyMABAgent,
    EpsilonGreedy,
    GaussianMAB,
    GaussianThompsonSampling,
    GradientBandit,
    GradientMABAgent,
    MABTrainer,
    ThompsonSampling,
    ThompsonSamplingMABAgent,
    UCBMABAgent,
    compare_agents,
)

PROBS = [0.9, 0.8]  # the anchor problem: gap 0.1, 1e5 pulls


def two_arm(seed):
    return BernoulliMAB(reward_probs=PROBS, seed=seed)


@pytest.fixture(scope="module")
def anchor_runs():
    """Thompson sampling and UCB1, 1e5 pulls, 5 seeds (references: about 14 and 173)."""
    return compare_agents({"thompson": ThompsonSampling, "ucb1": UCB1}, two_arm, 100_000, seeds=5)


@pytest.mark.slow
@pytest.mark.learning
def test_thompson_regret_on_anchor_problem(anchor_runs):
    summary = anchor_runs["thompson"]
    assert summary.cumulative_regret.shape == (5, 100_000)
    assert summary.final_mean <= 20.0, summary.final
    # logarithmic regret: almost all of it comes early
    late = np.mean([r.regret[50_000:].sum() for r in summary.results])
    early = np.mean([r.regret[:50_000].sum() for r in summary.results])
    assert late < 0.25 * early


@pytest.mark.learning
def test_ucb1_regret_on_anchor_problem(anchor_runs):
    summary = anchor_runs["ucb1"]
    assert summary.final_mean <= 200.0, summary.final
    # ... but UCB1 still explores: more regret than Thompson sampling, and far below uniform (5000)
    assert summary.final_mean > anchor_runs["thompson"].final_mean
    assert summary.final_mean > 50.0


@pytest.mark.learning
def test_epsilon_greedy_regret_grows_linearly():
    summary = compare_agents({"eps": partial(EpsilonGreedy, epsilon=0.1)}, two_arm, 100_000, seeds=3)["eps"]
    first = np.array([r.regret[:50_000].sum() for r in summary.results])
    second = np.array([r.regret[50_000:].sum() for r in summary.results])
    # random pulls (probability 0.1) pick the worse arm half the time: 0.1 * 0.5 * 0.1 = 0.005 per pull
    assert np.all(second / first > 0.85) and np.all(second / first < 1.15), (first, second)
    assert second.mean() / 50_000 == pytest.approx(0.005, rel=0.1)


@pytest.mark.learning
def test_gradient_bandit_improves_over_uniform():
    for seed in range(3):
        bandit = two_arm(seed)
        agent = GradientBandit(bandit, alpha=0.1, seed=seed)
        result = MABTrainer(agent, bandit, progress=False).train(20_000)
        uniform = 0.05 * 20_000  # uniform pulls lose 0.1 half the time
        assert result.cumulative_regret[-1] < 0.2 * uniform
        assert agent.probabilities[0, 0] > 0.9


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_agents_keep_one_set_of_statistics_per_bandit(seed):
    probs = [[0.8, 0.2, 0.3], [0.1, 0.2, 0.9]]
    bandit = BernoulliMAB(reward_probs=probs, seed=seed)
    agent = ThompsonSampling(bandit, seed=seed)
    result = MABTrainer(agent, bandit, progress=False).train(5000)
    assert result.regret[-1000:].mean() < 0.05
    counts = agent.counts
    assert counts[0].argmax() == 0 and counts[1].argmax() == 2


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_gaussian_thompson_learns_gaussian_bandits(seed):
    bandit = GaussianMAB(bandits=10, arms=5, seed=seed)
    agent = GaussianThompsonSampling(bandit, seed=seed)
    result = MABTrainer(agent, bandit, progress=False).train(20_000)
    uniform = np.mean(bandit.reward_means.max(axis=1)[:, None] - bandit.reward_means)
    assert result.regret[-5000:].mean() < 0.05 * uniform


# -- Bayesian updates against closed forms -----------------------------------------------------------------
def test_beta_posterior_parameters():
    bandit = BernoulliMAB(reward_probs=[0.5, 0.5, 0.5])
    agent = ThompsonSampling(bandit, alpha=2.0, beta=3.0, seed=0)
    pulls = [(0, 1), (0, 0), (0, 1), (0, 1), (2, 0), (2, 0)]
    for action, reward in pulls:
        agent.update_params(0, action, float(reward))
    # Beta(alpha0 + successes, beta0 + failures)
    np.testing.assert_array_equal(agent.alpha, [[5.0, 2.0, 2.0]])
    np.testing.assert_array_equal(agent.beta, [[4.0, 3.0, 5.0]])
    np.testing.assert_array_equal(agent.counts, [[4, 0, 2]])
    np.testing.assert_allclose(agent.quality[0], [stats.beta(5, 4).mean(), stats.beta(2, 3).mean(),
                                                  stats.beta(2, 5).mean()])


def test_fractional_rewards_become_bernoulli_draws():
    agent = ThompsonSampling(BernoulliMAB(reward_probs=[0.5, 0.5]), seed=0)
    n = 10_000
    for _ in range(n):
        agent.update_params(0, 1, 0.3)
    assert agent.alpha[0, 1] + agent.beta[0, 1] == 2.0 + n
    assert stats.binomtest(int(agent.alpha[0, 1] - 1), n, 0.3).pvalue > 1e-3


def test_thompson_samples_from_the_posterior():
    agent = ThompsonSampling(BernoulliMAB(reward_probs=[0.5, 0.5]), seed=1)
    for action, reward in [(0, 1), (0, 1), (0, 0), (1, 1), (1, 0), (1, 0), (1, 1)]:
        agent.update_params(0, action, float(reward))
    # P(theta_0 > theta_1) for theta_0 ~ Beta(3, 2), theta_1 ~ Beta(3, 3)
    p0 = integrate.quad(lambda x: stats.beta(3, 2).pdf(x) * stats.beta(3, 3).cdf(x), 0, 1)[0]
    n = 20_000
    picks = sum(agent.select_action(0) == 0 for _ in range(n))
    assert stats.binomtest(picks, n, p0).pvalue > 1e-3, (picks / n, p0)


def test_gaussian_posterior_mean_and_variance():
    bandit = GaussianMAB(reward_means=[0.0, 0.0], reward_std=2.0)
    agent = GaussianThompsonSampling(bandit, prior_mean=1.0, prior_std=3.0, seed=0)
    rewards = [0.5, -1.0, 2.5, 4.0]
    for r in rewards:
        agent.update_params(0, 1, r)
    # closed form: precision 1/s0^2 + n/sigma^2, mean (m0/s0^2 + sum r / sigma^2) / precision
    precision = 1 / 9 + 4 / 4
    mean = (1.0 / 9 + sum(rewards) / 4) / precision
    assert agent.posterior_mean[0, 1] == pytest.approx(mean)
    assert agent.posterior_std[0, 1] == pytest.approx(precision**-0.5)
    assert agent.posterior_mean[0, 0] == 1.0 and agent.posterior_std[0, 0] == 3.0
    # the same posterior by brute force on a grid: prior times likelihood, normalised
    grid = np.linspace(-20, 20, 400_001)
    log_post = stats.norm(1.0, 3.0).logpdf(grid) + sum(stats.norm(grid, 2.0).logpdf(r) for r in rewards)
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    grid_mean = np.sum(weights * grid)
    assert grid_mean == pytest.approx(mean, abs=1e-6)
    assert np.sum(weights * (grid - grid_mean) ** 2) == pytest.approx(1 / precision, rel=1e-5)


def test_gaussian_thompson_samples_from_the_posterior():
    bandit = GaussianMAB(reward_means=[0.0, 0.0], reward_std=1.0)
    agent = GaussianThompsonSampling(bandit, seed=2)
    for r in [0.4, 0.1]:
        agent.update_params(0, 0, r)
    agent.update_params(0, 1, 0.2)
    m, s = agent.posterior_mean[0], agent.posterior_std[0]
    p0 = stats.norm.cdf((m[0] - m[1]) / np.hypot(s[0], s[1]))
    n = 20_000
    picks = sum(agent.select_action(0) == 0 for _ in range(n))
    assert stats.binomtest(picks, n, p0).pvalue > 1e-3


def test_noise_std_defaults_to_the_bandits():
    bandit = GaussianMAB(reward_means=[0.0, 1.0], reward_std=[0.5, 2.0])
    agent = GaussianThompsonSampling(bandit, prior_std=1.0)
    agent.update_params(0, 0, 1.0)
    agent.update_params(0, 1, 1.0)
    np.testing.assert_allclose(agent.posterior_std[0], [(1 + 4) ** -0.5, (1 + 0.25) ** -0.5])


def test_bayes_ucb_index_is_the_beta_quantile():
    agent = BayesianUCB(BernoulliMAB(reward_probs=[0.5, 0.5, 0.5]), alpha=1.0, beta=1.0)
    for action, reward in [(0, 1), (0, 0), (1, 1), (1, 1), (1, 0), (2, 0)]:
        agent.update_params(0, action, float(reward))
    t = 7  # the next round
    expected = stats.beta.ppf(1 - 1 / t, [2, 3, 1], [2, 2, 2])
    np.testing.assert_allclose(agent.upper_bounds(0), expected, rtol=1e-10)
    assert agent.select_action(0) == int(np.argmax(expected))
    tuned = BayesianUCB(BernoulliMAB(reward_probs=[0.5, 0.5]), c=2.0, horizon=1000)
    assert tuned.quantile_level(10) == pytest.approx(1 - 1 / (10 * np.log(1000) ** 2))
    assert BayesianUCB(BernoulliMAB(reward_probs=[0.5, 0.5])).quantile_level(1) == 0.0


def test_ucb1_pulls_each_arm_once_then_maximises_the_bound():
    agent = UCB1(BernoulliMAB(reward_probs=[0.5, 0.5, 0.5]), confidence=0.5)
    for arm, reward in zip(range(3), [0.0, 1.0, 0.0], strict=True):
        assert agent.select_action(0) == arm
        agent.update_params(0, arm, reward)
    for arm, reward in [(0, 1.0), (0, 1.0), (2, 1.0)]:
        agent.update_params(0, arm, reward)
    q = np.array([2 / 3, 1.0, 1 / 2])
    n = np.array([3, 1, 2])
    index = q + 0.5 * np.sqrt(2 * np.log(6) / n)
    np.testing.assert_allclose(agent.quality[0], q)
    np.testing.assert_allclose(agent.upper_bounds(0), index)
    assert agent.select_action(0) == int(np.argmax(index))


def test_ucb1_bonus_is_sqrt_of_2_log_t_over_n():
    # arm 0: 12/16, arm 1: 1/4, t = 20; the gap 0.5 is below the bonus difference with 2 ln t (0.61) but
    # above it with ln t alone (0.43), so only the right bonus picks arm 1
    agent = UCB1(BernoulliMAB(reward_probs=[0.5, 0.5]))
    for arm, successes, pulls in [(0, 12, 16), (1, 1, 4)]:
        for i in range(pulls):
            agent.update_params(0, arm, float(i < successes))
    bonus = np.sqrt(2 * np.log(20) / np.array([16, 4]))
    np.testing.assert_allclose(agent.upper_bounds(0), [0.75, 0.25] + bonus)
    assert agent.select_action(0) == 1
    assert UCB1(BernoulliMAB(reward_probs=[0.5, 0.5])).upper_bounds(0).tolist() == [np.inf, np.inf]


def test_gradient_bandit_update_matches_sutton_barto():
    agent = GradientBandit(BernoulliMAB(reward_probs=[0.5, 0.5]), alpha=0.5)
    # R_1 is its own baseline, so the first update changes nothing
    agent.update_params(0, 0, 1.0)
    np.testing.assert_array_equal(agent.preferences, [[0.0, 0.0]])
    # baseline 1, pi = (1/2, 1/2): H_a += alpha (R - baseline)(1[a = A] - pi_a)
    agent.update_params(0, 1, 0.0)
    np.testing.assert_allclose(agent.preferences, [[0.25, -0.25]])
    pi = np.exp([0.25, -0.25]) / np.exp([0.25, -0.25]).sum()
    agent.update_params(0, 0, 1.0)  # baseline: mean of (1, 0)
    expected = np.array([0.25, -0.25]) + 0.5 * (1.0 - 0.5) * (np.array([1.0, 0.0]) - pi)
    np.testing.assert_allclose(agent.preferences[0], expected)
    np.testing.assert_allclose(agent.probabilities[0], np.exp(expected) / np.exp(expected).sum())

    plain = GradientBandit(BernoulliMAB(reward_probs=[0.5, 0.5]), alpha=0.5, baseline=False)
    plain.update_params(0, 0, 1.0)
    np.testing.assert_allclose(plain.preferences, [[0.25, -0.25]])


def test_gradient_bandit_samples_its_softmax_policy():
    agent = GradientBandit(BernoulliMAB(reward_probs=[0.5, 0.5, 0.5]), alpha=1.0, seed=3)
    agent._h[0] = [0.5, -0.3, 0.1]
    pi = agent.probabilities[0]
    counts = np.bincount([agent.select_action(0) for _ in range(20_000)], minlength=3)
    assert stats.chisquare(counts, 20_000 * pi).pvalue > 1e-3


def test_epsilon_greedy_explores_with_probability_epsilon():
    bandit = BernoulliMAB(reward_probs=[0.5, 0.5, 0.5, 0.5])
    greedy = EpsilonGreedy(bandit, epsilon=0.0, seed=0)
    greedy.update_params(0, 2, 1.0)
    assert all(greedy.select_action(0) == 2 for _ in range(100))
    agent = EpsilonGreedy(bandit, epsilon=0.3, seed=0)
    agent.update_params(0, 2, 1.0)
    n = 20_000
    off = sum(agent.select_action(0) != 2 for _ in range(n))
    assert stats.binomtest(off, n, 0.3 * 3 / 4).pvalue > 1e-3
    np.testing.assert_allclose(agent.quality, [[0, 0, 1, 0]])


def test_one_hot_and_int_contexts_are_the_same_bandit():
    bandit = BernoulliMAB(reward_probs=[[0.1, 0.9], [0.9, 0.1], [0.5, 0.5]], seed=0)
    agent = EpsilonGreedy(bandit, epsilon=0.0)
    agent.update_params(np.array([0, 1, 0], dtype=np.float32), 0, 1.0)
    agent.update_params(np.int64(0), 1, 1.0)
    agent.update_params(0, 1, 1.0)
    np.testing.assert_array_equal(agent.counts, [[0, 2], [1, 0], [0, 0]])


def test_same_seed_same_actions():
    def actions(seed):
        bandit = two_arm(seed)
        return MABTrainer(ThompsonSampling(bandit, seed=seed), bandit, progress=False).train(500).actions

    np.testing.assert_array_equal(actions(3), actions(3))
    assert not np.array_equal(actions(3), actions(4))


def test_genrl_names_are_aliases():
    assert EpsGreedyMABAgent is EpsilonGreedy
    assert UCBMABAgent is UCB1
    assert BayesianUCBMABAgent is BayesianUCB
    assert ThompsonSamplingMABAgent is ThompsonSampling
    assert GradientMABAgent is GradientBandit


# -- errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [ThompsonSampling, UCB1, EpsilonGreedy, GradientBandit, BayesianUCB,
                                  GaussianThompsonSampling])
def test_context_of_wrong_dimension(make):
    agent = make(BernoulliMAB(bandits=3, arms=2, reward_probs=np.full((3, 2), 0.5)))
    with pytest.raises(ShapeError, match=r"context of shape \(4,\); expected \(3,\), a one-hot vector"):
        agent.select_action(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"got context 3; expected a bandit index in 0..2"):
        agent.update_params(3, 0, 1.0)


def test_update_with_action_out_of_range():
    agent = UCB1(BernoulliMAB(reward_probs=[0.5, 0.5]))
    with pytest.raises(ValueError, match=r"action 2 is out of range for UCB1: valid actions are 0 to 1"):
        agent.update_params(0, 2, 1.0)
    with pytest.raises(ValueError, match=r"action -1 is out of range"):
        agent.update_params(0, -1, 1.0)


def test_beta_agents_reject_rewards_outside_unit_interval():
    agent = ThompsonSampling(BernoulliMAB(reward_probs=[0.5, 0.5]))
    with pytest.raises(ValueError, match=r"models rewards in \[0, 1\].*got reward 5.0.*GaussianThompson"):
        agent.update_params(0, 0, 5.0)


def test_bad_agent_parameters():
    bandit = BernoulliMAB(reward_probs=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"epsilon must lie in \[0, 1\], got 1.5"):
        EpsilonGreedy(bandit, epsilon=1.5)
    with pytest.raises(ValueError, match="confidence must be >= 0"):
        UCB1(bandit, confidence=-1.0)
    with pytest.raises(ValueError, match="the Beta prior needs alpha > 0 and beta > 0"):
        ThompsonSampling(bandit, alpha=0.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        GradientBandit(bandit, alpha=0.0)
    with pytest.raises(ValueError, match="noise_std must be > 0"):
        GaussianThompsonSampling(bandit, noise_std=0.0)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        BayesianUCB(bandit, horizon=0)
    with pytest.raises(TypeError, match="needs a bandit with an 'arms' or 'n_actions' attribute"):
        UCB1(object())
