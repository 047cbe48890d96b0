"""QR-DQN, written against the learner contract alone: its loss against a brute-force oracle and the quantile
property it rests on, the contract (acting, schedule, storage), bad input, save/load, and seeded learning on
CartPole-v1 with rl-baselines3-zoo's tuned settings through ``rl.run``, ``rl.train`` (gymnax) and the CLI."""

import json
import subprocess
import sys

import gymnasium
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symgraph import rl
from symgraph.nn import schedules
from symgraph.rl.fused.envs import as_jax_env
from symgraph.rl.learners.qrdqn import QRDQN, quantile_fractions, quantile_huber_loss
from symgraph.rl.protocol import Schedule
from tests.rl.learners.conftest import eval_returns, stop_at, torch_like_mlp

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

#: rl-baselines3-zoo's qrdqn.yml entry for CartPole-v1 (5e4 steps): exploration over 16% of the run to 0.04,
#: the target copied every round of 128 gradient steps (its target_update_interval of 10 env steps is below
#: its train_freq of 256).
ZOO = dict(batch_size=64, lr=2.3e-3, n_quantiles=10, gradient_steps=128, target_update_period=128,
           update_every=256, update_after=1000, buffer_size=100_000, epsilon=schedules.linear(1.0, 0.04, 8000))


def small(**kwargs):
    return QRDQN.from_env("CartPole-v1", **{"batch_size": 8, "hidden": (16,), "n_quantiles": 5, "seed": 0, **kwargs})


# ---------------------------------------------------------------------------------------------------------
# The maths


def brute_force_loss(quantiles, targets, weights, kappa):
    """Eq. 10 of Dabney et al. (2018), one pair (i, j) at a time."""
    b, n = quantiles.shape
    taus = (2 * np.arange(n) + 1) / (2 * n)
    per = np.zeros(b)
    for k in range(b):
        for i in range(n):
            for target in targets[k]:
                u = target - quantiles[k, i]
                huber = 0.5 * u * u if abs(u) <= kappa else kappa * (abs(u) - 0.5 * kappa)
                per[k] += abs(taus[i] - (u < 0)) * huber / kappa / targets.shape[1]
    return np.mean(weights * per), per


@pytest.mark.parametrize("kappa", [1.0, 0.3])
def test_quantile_huber_loss_matches_the_paper_pair_by_pair(kappa):
    rng = np.random.default_rng(0)
    quantiles = rng.normal(size=(3, 4)).astype(np.float32)
    targets = (2 * rng.normal(size=(3, 5))).astype(np.float32)
    weights = rng.random(3).astype(np.float32)
    loss, per = quantile_huber_loss(jnp.asarray(quantiles), jnp.asarray(targets), jnp.asarray(weights), kappa)
    want_loss, want_per = brute_force_loss(quantiles, targets, weights, kappa)
    np.testing.assert_allclose(per, want_per, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)


def test_minimising_the_loss_finds_the_quantiles_of_the_targets():
    """The property QR-DQN rests on: with a small kappa, the minimiser of the loss over theta_i is the
    tau_i-quantile of the target distribution (here 2000 draws of an exponential, scipy-free oracle:
    numpy's empirical quantiles)."""
    targets = np.random.default_rng(1).exponential(2.0, size=(1, 2000)).astype(np.float32)
    grad = jax.jit(jax.grad(lambda q: quantile_huber_loss(q, targets, jnp.ones(1), 0.01)[0]))
    theta = jnp.zeros((1, 5))
    for _ in range(3000):
        theta = theta - 0.5 * grad(theta)
    want = np.quantile(targets[0], quantile_fractions(5))
    np.testing.assert_allclose(np.asarray(theta[0]), want, atol=0.05)


def test_q_values_are_the_mean_of_the_quantiles():
    agent = small()
    states = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    raw = agent.critic.apply(states=agent.batch["state"]).q_values.get({agent.batch["state"]: states})
    np.testing.assert_allclose(agent.q_values(states), raw.reshape(3, 2, 5).mean(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(agent.act(states, deterministic=True), raw.reshape(3, 2, 5).mean(-1).argmax(-1))


# ---------------------------------------------------------------------------------------------------------
# The contract


def test_follows_the_learner_contract():
    agent = small(update_every=4, update_after=32, buffer_size=500)
    actions, extras, state = agent.act_pure(agent.state, np.zeros((2, 4), np.float32))
    assert actions.shape == (2,) and actions.dtype == jnp.int32 and extras == {}
    assert set(state) == set(agent.state)
    assert agent.schedule == Schedule(update_every=4, update_after=32, gradient_steps=1)
    storage = agent.make_storage(1)
    assert storage.capacity == 500 and len(storage) == 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="needs a Discrete action space"):
        QRDQN.from_env("Pendulum-v1")
    with pytest.raises(ValueError, match="QR-DQN needs a Discrete action space"):
        QRDQN((3,), (1,), 32)
    with pytest.raises(ValueError, match="n_quantiles must be an int >= 1"):
        small(n_quantiles=0)
    with pytest.raises(ValueError, match="kappa must be"):
        small(kappa=0.0)
    with pytest.raises(ValueError, match="epsilon must be in"):
        small(epsilon=1.5)


def test_save_and_load_rebuild_the_learner(tmp_path):
    agent = small(update_every=4)
    rl.run("CartPole-v1", agent, max_steps=200, max_episodes=None, eval_every=0, seed=0)
    agent.save(tmp_path / "qrdqn.npz")
    loaded = rl.load(tmp_path / "qrdqn.npz")
    assert isinstance(loaded, QRDQN) and loaded.n_quantiles == 5
    states = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(states), agent.q_values(states))


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_learns_cartpole_through_run(seed):
    """rl-zoo's settings (PyTorch's default initialisation, as SB3's were tuned with): a greedy evaluation
    of 5 episodes reaches a mean of 475 within 5e4 steps."""
    env = gymnasium.make("CartPole-v1")
    agent = QRDQN.from_env(env, critic=torch_like_mlp((256, 256)), seed=seed, **ZOO)
    result = rl.run(env, agent, max_steps=50_000, max_episodes=None, eval_every=10, eval_max_episodes=5,
                    seed=seed, callbacks=stop_at(475))
    assert max(eval_returns(result)) >= 475, eval_returns(result)


@pytest.mark.learning
def test_learns_cartpole_through_train():
    """The same settings in the compiled loop on gymnax's CartPole-v1, two seeds in one program: the mean
    greedy return of 10 episodes after 5e4 steps is at least 475 for both."""
    env = as_jax_env(gymnax.make("CartPole-v1"))
    agent = QRDQN.from_env(env, hidden=(256, 256), seed=0, **ZOO)
    result = rl.train(env, agent, 49_920, seeds=2, eval_episodes=10, progress=False, write_seed=None)
    assert result.final_returns.min() >= 475, result.final_returns


def test_the_cli_trains_it(tmp_path):
    """`symgraph-rl train qrdqn CartPole-v1` with the zoo's registered settings (a short budget: the
    learning itself is proven above)."""
    process = subprocess.run([sys.executable, "-m", "symgraph.rl", "train", "qrdqn", "CartPole-v1", "--logdir",
                              str(tmp_path), "--set", "total_steps=2048", "--set", "update_after=512"],
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    config = json.loads(next(tmp_path.rglob("config.json")).read_text())
    assert config["algo"] == "qrdqn"
    assert config["learner"]["n_quantiles"] == 10
