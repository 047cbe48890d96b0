"""Tests of symgraph.rl.noise: Gaussian moments, Ornstein-Uhlenbeck stationary variance and mean reversion
(closed forms), reset and seeding."""

import numpy as np
import pytest

from symgraph.rl.noise import GaussianNoise, OrnsteinUhlenbeckNoise


def test_gaussian_moments_shape_and_seed():
    noise = GaussianNoise(0.3, (2000, 2), mu=0.1, seed=0)
    samples = np.stack([noise() for _ in range(20)])
    assert samples.shape == (20, 2000, 2)
    assert samples.mean() == pytest.approx(0.1, abs=0.005)
    assert samples.std() == pytest.approx(0.3, rel=0.01)
    np.testing.assert_array_equal(GaussianNoise(1.0, 3, seed=5)(), GaussianNoise(1.0, 3, seed=5)())
    per_dim = GaussianNoise(np.array([0.1, 1.0]), seed=0)   # shape from sigma
    draws = np.stack([per_dim() for _ in range(20000)])
    np.testing.assert_allclose(draws.std(axis=0), [0.1, 1.0], rtol=0.03)
    first = noise()
    noise.reset()   # stateless: reset changes nothing about the distribution and does not reseed
    assert not np.array_equal(noise(), first)


def test_ou_stationary_variance_matches_sigma2_over_2theta():
    sigma, theta, dt = 0.3, 0.15, 1e-2
    noise = OrnsteinUhlenbeckNoise(0.0, sigma, theta, dt, shape=(10000,), seed=0)
    burn_in = int(6 / (theta * dt))          # 6 correlation times: the start is forgotten (e^-12)
    for _ in range(burn_in):
        noise()
    samples = np.stack([noise() for _ in range(200)])   # 10000 independent chains at 200 close times
    expected = sigma ** 2 / (2 * theta)
    exact_discrete = sigma ** 2 / (theta * (2 - theta * dt))
    assert exact_discrete == pytest.approx(expected, rel=1e-3)
    assert samples.var() == pytest.approx(exact_discrete, rel=0.05)
    assert samples.mean() == pytest.approx(0.0, abs=0.05)


def test_ou_variance_does_not_depend_on_dt():
    """The sqrt(dt) scaling: with another dt the stationary variance stays sigma^2 / (2 theta)."""
    for dt in (0.05, 0.2):
        noise = OrnsteinUhlenbeckNoise(1.0, 0.5, theta=1.0, dt=dt, shape=(20000,), seed=1)
        for _ in range(int(8 / dt)):
            noise()
        x = np.stack([noise() for _ in range(20)])
        assert x.var() == pytest.approx(0.5 ** 2 / (2 - dt), rel=0.05)
        assert x.mean() == pytest.approx(1.0, abs=0.02)


def test_ou_mean_reversion():
    theta, dt = 0.5, 0.1
    quiet = OrnsteinUhlenbeckNoise(1.0, 0.0, theta, dt, x0=5.0, seed=0)   # sigma = 0: deterministic
    path = np.array([quiet() for _ in range(50)])
    np.testing.assert_allclose(path, 1.0 + 4.0 * (1 - theta * dt) ** np.arange(1, 51))
    noisy = OrnsteinUhlenbeckNoise(1.0, 0.4, theta, dt, x0=5.0, shape=(4000,), seed=0)
    means = np.array([noisy().mean() for _ in range(50)])
    np.testing.assert_allclose(means, 1.0 + 4.0 * (1 - theta * dt) ** np.arange(1, 51), atol=0.03)


def test_ou_reset_seed_and_shapes():
    noise = OrnsteinUhlenbeckNoise(np.zeros(2), 0.2, x0=np.array([1.0, -1.0]), seed=3)
    assert noise.shape == (2,)
    first = [noise() for _ in range(3)]
    noise.reset()
    np.testing.assert_array_equal(noise.x, [1.0, -1.0])
    again = OrnsteinUhlenbeckNoise(np.zeros(2), 0.2, x0=np.array([1.0, -1.0]), seed=3)
    np.testing.assert_array_equal(np.stack(first), np.stack([again() for _ in range(3)]))
    sample = noise()
    sample += 100   # a copy: does not move the process
    assert np.all(np.abs(noise.x) < 10)
    noise.end_episode()   # SymJAX's name
    np.testing.assert_array_equal(noise.x, [1.0, -1.0])
    assert OrnsteinUhlenbeckNoise(0.0, 0.1, shape=(3, 2))().shape == (3, 2)


@pytest.mark.parametrize("make, match", [
    (lambda: OrnsteinUhlenbeckNoise(0.0, -0.1), "sigma must be >= 0"),
    (lambda: OrnsteinUhlenbeckNoise(0.0, 0.1, dt=0.0), "dt must be > 0"),
    (lambda: OrnsteinUhlenbeckNoise(0.0, 0.1, theta=np.nan), "theta must be >= 0"),
    (lambda: OrnsteinUhlenbeckNoise(np.zeros(3), 0.1, shape=(2,)), r"mu \(3,\).*do not broadcast to shape"),
    (lambda: GaussianNoise(np.ones(2), shape=(3,)), "do not broadcast"),
    (lambda: GaussianNoise(-1.0), "sigma must be >= 0"),
])
def test_noise_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
