"""Learning and regret curves: bootstrap intervals against brute force, inputs of every kind, PNG output."""

import doctest
import itertools
import os
import subprocess
import sys
import textwrap

import matplotlib.image as mpimg
import numpy as np
import pytest

import symgraph.rl.plotting as plotting
from symgraph.rl.logging import CSV_NAME, Logger
from symgraph.rl.plotting import N_RESAMPLES, bootstrap_ci, learning_curves, read_csv_log, regret_curves
from symgraph.rl.run import RunResult

# ---------------------------------------------------------------------------------------------------------
# Bootstrap


def test_bootstrap_matches_a_loop_over_resamples():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(6, 4))
    mean, low, high = bootstrap_ci(samples, confidence=0.9, n_resamples=500, seed=3)
    # Brute force, following the documented procedure one resample at a time.
    draws = np.random.default_rng(3).integers(0, 6, size=(500, 6))
    means = np.array([[np.mean([samples[i, j] for i in row]) for j in range(4)] for row in draws])
    assert np.allclose(mean, samples.mean(axis=0))
    assert np.allclose(low, np.quantile(means, 0.05, axis=0))
    assert np.allclose(high, np.quantile(means, 0.95, axis=0))
    assert np.all(low <= mean) and np.all(mean <= high)
    again = bootstrap_ci(samples, confidence=0.9, n_resamples=500, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (mean, low, high)))  # fixed seed: reproducible


def test_bootstrap_converges_to_the_exact_bootstrap_distribution():
    values = np.array([0.0, 1.0, 2.0, 5.0, 13.0])
    n = len(values)
    # Exact: all n**n equally likely resamples, enumerated.
    exact = np.sort([values[list(idx)].mean() for idx in itertools.product(range(n), repeat=n)])
    cdf = np.arange(1, len(exact) + 1) / len(exact)
    q_low = exact[np.searchsorted(cdf, 0.025)]
    q_high = exact[np.searchsorted(cdf, 0.975)]
    _, low, high = bootstrap_ci(values, n_resamples=40_000, seed=0)
    assert abs(low - q_low) < 0.25 and abs(high - q_high) < 0.25, (low, q_low, high, q_high)
    assert N_RESAMPLES == 1000


def test_bootstrap_edge_cases_and_errors():
    mean, low, high = bootstrap_ci([[1.0, 2.0]])
    assert np.array_equal(mean, [1.0, 2.0]) and np.array_equal(low, mean) and np.array_equal(high, mean)
    mean, low, high = bootstrap_ci([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]], n_resamples=200)
    assert np.isfinite(low[0]) and np.isnan(mean[1])
    with pytest.raises(ValueError, match="at least one seed"):
        bootstrap_ci(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="n_resamples must be an int >= 1"):
        bootstrap_ci([1.0, 2.0], n_resamples=0)


# ---------------------------------------------------------------------------------------------------------
# Learning curves


def _seeds():
    return [
        {"episode_returns": [10.0, 20.0, 40.0, 80.0], "episode_steps": [10, 30, 70, 150]},
        {"episode_returns": [12.0, 30.0, 50.0], "episode_steps": [12, 42, 92]},
        {"episode_returns": [8.0, 16.0, 30.0, 60.0, 90.0], "episode_steps": [8, 24, 54, 114, 204]},
    ]


def test_learning_curve_mean_and_band_against_brute_force():
    seeds = _seeds()
    fig = learning_curves({"PPO": seeds}, smooth=None, points=50, n_resamples=300, seed=5)
    ax = fig.axes[0]
    (line,) = ax.lines
    grid = np.linspace(12, 92, 50)  # the x range all three seeds cover
    curves = np.array([np.interp(grid, s["episode_steps"], s["episode_returns"]) for s in seeds])
    assert np.allclose(line.get_xdata(), grid)
    assert np.allclose(line.get_ydata(), curves.mean(axis=0))
    _, low, high = bootstrap_ci(curves, n_resamples=300, seed=5)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].min(), low.min()) and np.isclose(band[:, 1].max(), high.max())
    assert line.get_label() == "PPO (mean and 95% bootstrap CI, 3 seeds)"
    assert ax.get_xlabel() == "environment steps" and ax.get_ylabel() == "episode return"
    assert ax.get_title() == "Learning curves" and ax.get_legend() is not None


def test_smoothing_is_a_trailing_mean_per_seed():
    run = {"episode_returns": [0.0, 10.0, 20.0, 30.0], "episode_steps": [1, 2, 3, 4]}
    (line,) = learning_curves(run, smooth=2).axes[0].lines
    assert np.allclose(line.get_ydata(), [0.0, 5.0, 15.0, 25.0])
    assert "moving average, 2 episodes" in learning_curves(run, smooth=2).axes[0].get_ylabel()


def test_results_of_run_and_other_objects():
    a = RunResult(episode_returns=[1.0, 2.0, 3.0], episode_steps=[5, 10, 15], eval_returns=[(10, 2.5), (15, 3.5)])
    b = RunResult(episode_returns=[2.0, 3.0, 4.0], episode_steps=[5, 10, 15], eval_returns=[(10, 3.5), (15, 4.5)])

    class Tabular:  # the tabular Trainer's fields: returns and lengths
        episode_rewards = [0.0, 1.0]
        episode_lengths = [3, 4]

    fig = learning_curves([[a, b], Tabular()], smooth=None, points=3, band="std")
    first, second = fig.axes[0].lines
    assert first.get_label() == "run 1 (mean ± 1 std, 2 seeds)" and np.allclose(first.get_ydata(), [1.5, 2.5, 3.5])
    assert second.get_label() == "run 2" and np.allclose(second.get_xdata(), [3, 7])
    (line,) = learning_curves({"A2C": [a, b]}, y="eval/return", points=2).axes[0].lines
    assert np.allclose(line.get_xdata(), [10, 15]) and np.allclose(line.get_ydata(), [3.0, 4.0])
    timed = {"returns": [1.0, 2.0], "episode_seconds": [0.5, 1.5]}
    (line,) = learning_curves(timed, x="seconds").axes[0].lines
    assert np.allclose(line.get_xdata(), [0.5, 1.5])
    assert learning_curves(timed, x="seconds").axes[0].get_xlabel() == "wall-clock time (s)"


def _write_logs(root, n_seeds=3, episodes=30):
    """Seed logs as ``run`` writes them: episode rows and, every 10 episodes, an evaluation row."""
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        step = 0
        with Logger(root / f"seed{seed}", formats="csv") as logger:
            for episode in range(1, episodes + 1):
                length = int(rng.integers(10, 30))
                step += length
                logger.write({"episode/return": float(length + episode), "episode/length": length}, step)
                if episode % 10 == 0:
                    logger.write({"eval/return": float(2 * episode)}, step)


def test_csv_logs_to_png(tmp_path):
    _write_logs(tmp_path / "ppo")
    out = tmp_path / "plots" / "curve.png"
    fig = learning_curves(tmp_path / "ppo", path=out, title="PPO on CartPole-v1")
    assert out.exists() and out.stat().st_size > 10_000
    image = mpimg.imread(out)
    assert image.shape[:2] == (450, 700)  # figsize (7, 4.5) inches at 100 dpi
    assert image[..., :3].std() > 0.05  # not a blank canvas
    ax = fig.axes[0]
    (line,) = ax.lines
    assert line.get_label() == "ppo (mean and 95% bootstrap CI, 3 seeds)" and ax.get_title() == "PPO on CartPole-v1"
    logs = [read_csv_log(tmp_path / "ppo" / f"seed{i}") for i in range(3)]
    assert all(np.isnan(log["episode/return"]).sum() == 3 for log in logs)  # evaluation rows
    ends = [log["step"][~np.isnan(log["episode/return"])][[0, -1]] for log in logs]
    assert np.isclose(line.get_xdata()[0], max(e[0] for e in ends))
    assert np.isclose(line.get_xdata()[-1], min(e[1] for e in ends))
    assert np.all(np.isfinite(line.get_ydata()))  # empty cells of evaluation rows skipped


def test_csv_logs_seconds_eval_and_several_dirs(tmp_path):
    _write_logs(tmp_path / "ppo", n_seeds=2)
    _write_logs(tmp_path / "dqn", n_seeds=1)
    fig = learning_curves([tmp_path / "ppo", str(tmp_path / "dqn" / "seed0" / CSV_NAME)], x="seconds")
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["ppo (mean and 95% bootstrap CI, 2 seeds)", "seed0"]
    (line,) = learning_curves(tmp_path / "ppo", y="eval/return", points=20).axes[0].lines  # not smoothed
    logs = [read_csv_log(tmp_path / "ppo" / f"seed{i}") for i in range(2)]
    evals = [(log["step"][~np.isnan(log["eval/return"])], log["eval/return"][~np.isnan(log["eval/return"])])
             for log in logs]
    assert all(np.array_equal(ys, [20.0, 40.0, 60.0]) for _, ys in evals)
    grid = np.linspace(max(xs[0] for xs, _ in evals), min(xs[-1] for xs, _ in evals), 20)
    assert np.allclose(line.get_ydata(), np.mean([np.interp(grid, xs, ys) for xs, ys in evals], axis=0))


def test_learning_curve_errors(tmp_path):
    with pytest.raises(ValueError, match="x must be one of 'steps', 'seconds', got 'episodes'"):
        learning_curves(_seeds()[0], x="episodes")
    with pytest.raises(ValueError, match="band must be one of"):
        learning_curves(_seeds()[0], band="sem")
    with pytest.raises(ValueError, match="no per-episode times"):
        learning_curves(RunResult(episode_returns=[1.0], episode_steps=[1]), x="seconds")
    with pytest.raises(ValueError, match="no per-episode values for y='episode/return'"):
        learning_curves({"x": {"losses": [1.0]}})
    with pytest.raises(ValueError, match="no per-episode step counts"):
        learning_curves({"returns": [1.0, 2.0]})
    with pytest.raises(ValueError, match="no finished episodes"):
        learning_curves(RunResult())
    with pytest.raises(ValueError, match="do not overlap"):
        learning_curves({"A": [{"returns": [1.0, 2.0], "steps": [1, 2]}, {"returns": [1.0, 2.0], "steps": [5, 6]}]})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"no {CSV_NAME} under"):
        learning_curves(tmp_path / "empty")
    _write_logs(tmp_path / "ppo", n_seeds=1, episodes=2)
    with pytest.raises(ValueError, match=r"has no column 'update/loss'; its metrics are \['episode/return'"):
        learning_curves(tmp_path / "ppo", y="update/loss")
    with pytest.raises(TypeError, match="runs must be a run, a path"):
        learning_curves(42)


@pytest.mark.slow
def test_plots_are_headless_and_leave_pyplot_alone(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from symgraph.rl.plotting import learning_curves, regret_curves
        import numpy as np
        learning_curves({{"a": {{"returns": [1.0, 2.0], "steps": [1, 2]}}}}, path={str(tmp_path / "l.png")!r})
        regret_curves(np.ones((2, 10)).cumsum(axis=1), path={str(tmp_path / "r.png")!r})
        assert "matplotlib.pyplot" not in sys.modules
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert (tmp_path / "l.png").stat().st_size > 5_000 and (tmp_path / "r.png").stat().st_size > 5_000


# ---------------------------------------------------------------------------------------------------------
# Regret curves


def test_regret_curves_from_arrays(tmp_path):
    rng = np.random.default_rng(0)
    ucb = np.cumsum(rng.random((4, 2000)), axis=1)
    greedy = np.cumsum(rng.random((1, 1500)), axis=1)
    out = tmp_path / "regret.png"
    fig = regret_curves({"UCB1": ucb, "greedy": [greedy[0]]}, path=out, points=100, log_x=True,
                        n_resamples=200)
    ax = fig.axes[0]
    first, second = ax.lines
    index = np.unique(np.round(np.geomspace(1, 2000, 100) - 1).astype(int))
    assert np.array_equal(first.get_xdata(), index + 1)
    assert np.allclose(first.get_ydata(), ucb[:, index].mean(axis=0))
    _, low, high = bootstrap_ci(ucb[:, index], n_resamples=200)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].min(), low.min()) and np.isclose(band[:, 1].max(), high.max())
    assert first.get_label() == "UCB1 (mean and 95% bootstrap CI, 4 seeds)" and second.get_label() == "greedy"
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "cumulative expected regret (reward units)"
    assert mpimg.imread(out).shape[:2] == (450, 700)


def test_regret_curves_from_bandit_results():
    from symgraph.rl.bandits import UCB1, BernoulliMAB, EpsilonGreedy, compare_agents

    summaries = compare_agents({"UCB1": UCB1, "eps-greedy": EpsilonGreedy},
                               lambda seed: BernoulliMAB(reward_probs=[0.7, 0.5, 0.2], seed=seed), 300, seeds=3)
    fig = regret_curves(summaries, band="std")
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["UCB1 (mean ± 1 std, 3 seeds)",
                                                    "eps-greedy (mean ± 1 std, 3 seeds)"]
    assert np.allclose(lines[0].get_ydata(), summaries["UCB1"].mean)
    results = list(summaries["UCB1"].results)  # BanditResult objects: a list is one curve each
    fig = regret_curves(results[:2], points=10)
    assert [line.get_label() for line in fig.axes[0].lines] == ["UCB1", "UCB1 (2)"]
    (line,) = regret_curves({"mixed": results}, band=None).axes[0].lines
    assert np.allclose(line.get_ydata(), summaries["UCB1"].mean)
    per_step = {"regret": np.ones(5)}
    assert np.allclose(regret_curves(per_step).axes[0].lines[0].get_ydata(), [1, 2, 3, 4, 5])


def test_regret_curve_errors():
    with pytest.raises(TypeError, match="a list is read as a list of seeds"):
        regret_curves({"a": [1.0, 2.0]})
    with pytest.raises(TypeError, match="expected cumulative regret"):
        regret_curves({"a": object()})
    with pytest.raises(ValueError, match=r"must have shape \(steps,\) or \(seeds, steps\)"):
        regret_curves({"a": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="points must be an int >= 2"):
        regret_curves(np.ones(3), points=1)


def test_docstring_examples():
    failures, tried = doctest.testmod(plotting)
    assert tried > 0 and failures == 0
