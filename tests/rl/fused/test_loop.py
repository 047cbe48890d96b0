"""Tests of ``rl.train``, the compiled training driver: the result, the write-back into the learner, per-seed
initial states, reproducible and independent seeds, a learning rate vmapped across seeds, logging at
intervals through host callbacks, sharding seeds across two (forced CPU) devices, and the errors."""

import importlib
import json
import os
import subprocess
import sys
import textwrap
import types

import gymnasium
import gymnax
import jax
import numpy as np
import pytest

from symgraph import rl
from symgraph.rl.logging import Logger
from symgraph.rl.tabular import QLearning

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

train_module = importlib.import_module("symgraph.rl.fused.loop")
program = importlib.import_module("symgraph.rl.fused.program")

ITERATIONS = 6
STEPS = ITERATIONS * 2 * 8  # 2 envs x 8 steps per iteration


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


def make_learner(env, **kwargs):
    return rl.ActorCritic.from_env(env, n_envs=2, n_steps=8, lr=3e-3, train_v_iters=2, hidden=(16,), seed=5,
                                   **kwargs)


@pytest.fixture(scope="module")
def runs(cartpole):
    """Two runs of seeds (5, 6), one of seed 6 alone, and the learner after the first run."""
    learner = make_learner(cartpole)
    created = learner.state
    first = rl.train(cartpole, learner, STEPS, seeds=2, progress=False, eval_episodes=3)
    written = learner.state
    again = rl.train(cartpole, make_learner(cartpole), STEPS, seeds=[5, 6], progress=False, eval_episodes=3)
    alone = rl.train(cartpole, make_learner(cartpole), STEPS, seeds=[6], progress=False, eval_episodes=3)
    return {"learner": learner, "created": created, "written": written, "first": first, "again": again,
            "alone": alone}


def test_result_shapes_and_write_back(runs):
    result, learner = runs["first"], runs["learner"]
    assert result.seeds == (5, 6) and result.devices == 1
    np.testing.assert_array_equal(result.steps, np.arange(1, ITERATIONS + 1) * 16)
    assert result.total_steps == STEPS and result.steps_per_second > 0 and result.compile_seconds > 0
    assert result.episode_returns.shape == (2, ITERATIONS)
    assert {"episode/return", "episode/length", "episode/count", "update/policy_loss",
            "update/value_loss"} <= set(result.metrics)
    assert all(v.shape == (2, ITERATIONS) for v in result.metrics.values())
    assert result.final_returns.shape == (2,) and np.all(result.final_returns >= 8)
    written = runs["written"]
    for name, value in result.state(0).items():
        np.testing.assert_array_equal(written[name], value, err_msg=name)
    assert learner.act(np.zeros(4, np.float32), deterministic=True) in (0, 1)


def test_episode_statistics_count_the_finished_episodes(runs):
    """Each iteration's mean episode length times the episodes that ended is at most the steps taken; every
    CartPole episode is at least 8 steps long."""
    metrics = runs["first"].metrics
    counts, lengths = metrics["episode/count"], metrics["episode/length"]
    assert counts.sum() > 0
    assert np.all(lengths[counts > 0] >= 8)
    returns = metrics["episode/return"]
    np.testing.assert_array_equal(returns[counts > 0], lengths[counts > 0])  # CartPole pays 1 per step


def test_episode_tally_matches_the_mean_over_the_ended_episodes():
    """The running tally of an iteration gives numpy's mean return and length of the episodes ended in it, and
    the mean over the copies of their last ended episode when none ended."""
    rng = np.random.default_rng(0)
    steps, copies = 7, 3
    done = rng.random((steps, copies)) < 0.3
    last_return = rng.normal(size=(steps, copies)).astype(np.float32)
    last_length = rng.integers(1, 50, size=(steps, copies)).astype(np.int32)

    def metrics_of(done):
        tally = program.EpisodeTally.zeros(copies)
        for t in range(steps):
            tally = tally.add(done[t], types.SimpleNamespace(last_return=last_return[t], last_length=last_length[t]))
        final = types.SimpleNamespace(last_return=last_return[-1], last_length=last_length[-1])
        return {name: float(value) for name, value in program.episode_metrics(tally, final).items()}

    metrics = metrics_of(done)
    assert metrics["episode/count"] == done.sum() > 0
    np.testing.assert_allclose(metrics["episode/return"], last_return[done].mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["episode/length"], last_length[done].mean(), rtol=1e-6)
    none = metrics_of(np.zeros_like(done))
    assert none["episode/count"] == 0
    np.testing.assert_allclose(none["episode/return"], last_return[-1].mean(), rtol=1e-6)
    np.testing.assert_allclose(none["episode/length"], last_length[-1].mean(), rtol=1e-6)


def test_the_learners_own_seed_starts_from_its_creation_values(runs):
    learner = runs["learner"]
    state = train_module.seed_state(learner, rl_key(learner.seed))
    created = runs["created"]
    for name in ("actor/hidden_0/W", "critic/value/W", "actor/logits/b"):
        np.testing.assert_array_equal(state[name], created[name])
    other = train_module.seed_state(learner, rl_key(learner.seed + 1))
    assert not np.allclose(other["actor/hidden_0/W"], created["actor/hidden_0/W"])
    assert not np.array_equal(other["act/rng"], state["act/rng"])


def rl_key(seed):
    from symgraph.rng import key_from_seed

    return key_from_seed(seed)


def test_seeds_are_reproducible_and_independent(runs):
    first, again, alone = runs["first"], runs["again"], runs["alone"]
    for name, value in first.metrics.items():
        np.testing.assert_array_equal(value, again.metrics[name], err_msg=name)
        np.testing.assert_allclose(value[1], alone.metrics[name][0], rtol=1e-5, atol=1e-5, err_msg=name)
    assert not np.allclose(first.states["actor/hidden_0/W"][0], first.states["actor/hidden_0/W"][1])
    np.testing.assert_allclose(first.final_returns[1], alone.final_returns[0], rtol=1e-5)


def test_learning_rate_vmapped_through_state_overrides(cartpole, runs):
    """A numeric lr is a state entry: overriding it per seed gives seed 5 the learner's own lr (the same
    run as without override) and seed 6 a learning rate of 0 (its networks stay at their initial values)."""
    learner = make_learner(cartpole)
    names = [n for n in learner.state if n.endswith("hyperparams/learning_rate")]
    assert len(names) == 2  # the actor's and the critic's optimizers
    overrides = {name: np.array([3e-3, 0.0], np.float32) for name in names}
    result = rl.train(cartpole, learner, STEPS, seeds=[5, 6], progress=False, eval_episodes=3,
                      state_overrides=overrides, write_seed=None)
    first = runs["first"]
    for name in ("actor/hidden_0/W", "critic/value/W"):
        np.testing.assert_allclose(result.states[name][0], first.states[name][0], rtol=1e-5, atol=1e-6)
    frozen = train_module.seed_state(learner, rl_key(6))
    for name in ("actor/hidden_0/W", "actor/logits/W", "critic/value/W"):
        np.testing.assert_array_equal(result.states[name][1], frozen[name])
    np.testing.assert_array_equal(learner.state["actor/hidden_0/W"], runs["created"]["actor/hidden_0/W"])


def test_annealed_learning_rate_vmapped_through_state_overrides(cartpole):
    """PPO's anneal_lr scales the lr state entry: a per-seed lr is annealed linearly to 0 from each seed's own
    value (the logged lr shows it), and a seed given 0 keeps its initial networks."""
    learner = rl.PPO.from_env(cartpole, n_envs=2, n_steps=16, batch_size=16, K_epochs=2, hidden=(16,), lr=1e-3,
                              anneal_lr=True, total_steps=320, seed=3)
    names = [n for n in learner.state if n.endswith("hyperparams/learning_rate")]
    assert len(names) == 1
    result = rl.train(cartpole, learner, 320, seeds=[3, 4], progress=False, eval_episodes=0, write_seed=None,
                      state_overrides={names[0]: np.array([2e-3, 0.0], np.float32)})
    left = 1.0 - np.arange(1, 11) * 32 / 320  # the annealing factor at each of the 10 updates
    np.testing.assert_allclose(result.metrics["update/lr"], np.stack([2e-3 * left, 0.0 * left]), rtol=1e-5,
                               atol=1e-9)
    initial = train_module.seed_state(learner, rl_key(4))
    np.testing.assert_array_equal(result.states["actor/hidden_0/W"][1], initial["actor/hidden_0/W"])
    assert not np.allclose(result.states["actor/hidden_0/W"][0], train_module.seed_state(
        learner, rl_key(3))["actor/hidden_0/W"])


def test_logger_and_progress_bar_receive_reports_at_intervals(cartpole, tmp_path, capsys):
    learner = make_learner(cartpole)
    with Logger(tmp_path, formats=("csv",)) as logger:
        rl.train(cartpole, learner, STEPS, seeds=2, log_every=32, logger=logger, progress=True, eval_episodes=0)
        path = logger.csv_path
    lines = open(path).read().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["step", "seconds"] and "episode/return" in header and "update/value_loss" in header
    assert [int(line.split(",")[0]) for line in lines[1:]] == [32, 64, 96]
    err = capsys.readouterr().err
    assert "ActorCritic on CartPole-v1 (2 seeds)" in err and "96/96" in err


SHARDED = textwrap.dedent("""
    import io, json
    import gymnax, jax, numpy as np
    from symgraph import rl
    from symgraph.rl.logging import Logger
    env = gymnax.make("CartPole-v1")
    learner = rl.ActorCritic.from_env(env, n_envs=2, n_steps=8, lr=3e-3, train_v_iters=2, hidden=(16,), seed=5)
    stream = io.StringIO()
    with Logger(stream=stream) as logger:
        result = rl.train(env, learner, {steps}, seeds=2, progress=False, eval_episodes=3, logger=logger,
                          log_every={steps})
    print(json.dumps({{"devices": result.devices, "device_count": jax.device_count(),
                      "returns": result.metrics["episode/return"].tolist(),
                      "final": result.final_returns.tolist(), "reports": stream.getvalue().count("| step")}}))
""")


def test_seeds_are_sharded_across_devices(runs):
    """Two forced CPU devices: the two seeds run one per device (JAX's sharding over the seed axis), with the
    same numbers as on one device, and one report per interval (not one per device)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED.format(steps=STEPS)], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["device_count"] == 2 and data["devices"] == 2 and data["reports"] == 1
    first = runs["first"]
    np.testing.assert_allclose(data["returns"], first.metrics["episode/return"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data["final"], first.final_returns, rtol=1e-5)


def test_errors(cartpole):
    learner = make_learner(cartpole)
    with pytest.raises(TypeError, match=r"env must be a JAX-native \(gymnax\) environment.*rl.run"):
        rl.train(gymnasium.make("CartPole-v1"), learner, STEPS)
    with pytest.raises(ValueError, match="seeds must be >= 1.*got 0"):
        rl.train(cartpole, learner, STEPS, seeds=0)
    with pytest.raises(ValueError, match="seeds lists a seed twice"):
        rl.train(cartpole, learner, STEPS, seeds=[1, 1])
    with pytest.raises(ValueError, match="total_steps must be a positive int, got -5"):
        rl.train(cartpole, learner, -5)
    with pytest.raises(ValueError, match="total_steps=100 is not a multiple of the 16 env steps.*pass "
                                         "total_steps=96 or 112"):
        rl.train(cartpole, learner, 100)
    with pytest.raises(ValueError, match="built for n_envs=2 env copies but num_envs=3"):
        rl.train(cartpole, learner, STEPS, num_envs=3)
    with pytest.raises(ValueError, match="eval_episodes must be an int >= 0"):
        rl.train(cartpole, learner, STEPS, eval_episodes=-1)
    with pytest.raises(ValueError, match="log_every must be a positive int, got 0"):
        rl.train(cartpole, learner, STEPS, log_every=0, progress=False)
    with pytest.raises(ValueError, match=r"write_seed must be an index in \[0, 2\)"):
        rl.train(cartpole, learner, STEPS, seeds=2, write_seed=2)
    with pytest.raises(KeyError, match="state_overrides names 'lr'.*learner.state.keys"):
        rl.train(cartpole, learner, STEPS, state_overrides={"lr": [1.0]})
    name = next(n for n in learner.state if n.endswith("learning_rate"))
    with pytest.raises(ValueError, match=r"must have shape \(2,\) \(one value of shape \(\) per seed, 2 seeds\)"):
        rl.train(cartpole, learner, STEPS, seeds=2, state_overrides={name: [1.0]})
    with pytest.raises(ValueError, match="options has 'buffer_size', which fused ActorCritic training does not "
                                         "use; it takes none"):
        rl.train(cartpole, learner, STEPS, options={"buffer_size": 10})
    with pytest.raises(TypeError, match="learner must be a symgraph.rl learner.*got QLearning"):
        rl.train(cartpole, QLearning(gymnasium.make("FrozenLake-v1")), STEPS)
    pendulum = gymnax.make("Pendulum-v1")
    with pytest.raises(ValueError, match=r"returns observations of shape \(3,\) but ActorCritic was built for "
                                         r"state_shape=\(4,\)"):
        rl.train(pendulum, learner, STEPS)
    annealed = rl.PPO.from_env(cartpole, n_envs=2, n_steps=8, batch_size=8, hidden=(16,), anneal_lr=True,
                               total_steps=160, seed=0)
    with pytest.raises(ValueError, match="anneals over total_steps=160.*but train runs total_steps=96"):
        rl.train(cartpole, annealed, STEPS)


def test_programs_compile_with_the_cpu_options_on_cpus_only():
    assert train_module._compiler_options(jax.devices("cpu")) == train_module.CPU_COMPILER_OPTIONS
    accelerator = types.SimpleNamespace(platform="gpu")
    assert train_module._compiler_options([accelerator]) is None
    assert train_module._compiler_options([jax.devices("cpu")[0], accelerator]) is None
