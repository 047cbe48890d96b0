"""The ``symgraph-rl`` command line: every command run as a user runs it (``python -m symgraph.rl`` in a
subprocess, tiny budgets), its files read back, its numbers checked against the library, and every bad
argument's message and exit status."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from symgraph.rl import DQN, bandits
from symgraph.rl.cli import UsageError, main, parse_setting
from symgraph.rl.plotting import read_csv_log

PNG = b"\x89PNG\r\n\x1a\n"
PPO_ARGS = ["--steps", "1024", "--set", "n_steps=16", "batch_size=64", "K_epochs=2", "evaluations=4", "eval_episodes=3"]


def cli(*args, cwd):
    """``python -m symgraph.rl ARGS`` in ``cwd``; the CompletedProcess (text output)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "symgraph.rl", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


def ok(process):
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny training runs shared by the tests: PPO with two seeds, DQN with TensorBoard files, and
    tabular Q-learning."""
    root = tmp_path_factory.mktemp("cli")
    out = {"root": root}
    out["ppo"] = (ok(cli("train", "ppo", "CartPole-v1", *PPO_ARGS, "--seeds", "2", "--logdir", root / "ppo",
                         "--no-progress", cwd=root)), root / "ppo")
    out["dqn"] = (ok(cli("train", "dqn", "CartPole-v1", "--steps", "600", "--set", "update_after=200",
                         "update_every=100", "gradient_steps=4", "evaluations=3", "eval_episodes=3", "--tensorboard",
                         "--logdir", root / "dqn", cwd=root)), root / "dqn")
    out["q"] = (ok(cli("train", "q-learning", "FrozenLake-v1", "--episodes", "200", "--set", "evaluations=4",
                       "eval_episodes=20", "--logdir", root / "q", cwd=root)), root / "q")
    return out


def _config(path):
    return json.loads((path / "config.json").read_text())


# ---------------------------------------------------------------------------------------------------------
# train


@pytest.mark.slow
def test_train_leaves_logs_curves_checkpoints_and_configs(runs):
    stdout, logdir = runs["ppo"]
    assert (logdir / "learning_curve.png").read_bytes().startswith(PNG)  # mean and band over the two seeds
    for seed in (0, 1):
        seed_dir = logdir / f"seed{seed}"
        config = _config(seed_dir)
        assert (config["algo"], config["env"], config["seed"], config["tuned"]) == ("ppo", "CartPole-v1", seed, True)
        assert config["learner"]["K_epochs"] == 2 and config["learner"]["gamma"] == 0.98  # the override, the tuned
        assert config["overrides"] == {"n_steps": 16, "batch_size": 64, "K_epochs": 2, "evaluations": 4,
                                       "eval_episodes": 3}
        assert config["run"]["total_steps"] == 1024 and config["result"]["total_steps"] == 1024
        log = read_csv_log(seed_dir)
        episodes = ~np.isnan(log["episode/return"])
        assert episodes.sum() == config["result"]["episodes"]
        assert np.all(np.diff(log["step"]) >= 0) and log["step"][-1] <= 1024
        # a CartPole episode's return is its length
        assert np.array_equal(log["episode/return"][episodes], log["episode/length"][episodes])
        assert (~np.isnan(log["eval/return"])).sum() >= 1 and "update/loss" in log
        assert (seed_dir / "checkpoint.npz").is_file()
        assert f"seed {seed}: 1,024 steps" in stdout
    assert "| eval/return" in stdout  # the table of each evaluation
    assert f"learning curve: {logdir / 'learning_curve.png'}" in stdout
    assert "final greedy evaluation over 2 seeds" in stdout
    assert stdout.rstrip().endswith(f"symgraph-rl evaluate {logdir / 'seed0' / 'checkpoint.npz'}")


def test_train_dqn_writes_tensorboard_events_and_tabular_trains_by_episodes(runs):
    stdout, logdir = runs["dqn"]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(logdir))
    assert _config(logdir)["run"]["update_after"] == 200 and "update/loss" in read_csv_log(logdir)
    stdout, logdir = runs["q"]
    config = _config(logdir)
    assert config["result"]["episodes"] == 200 and config["family"] == "tabular"
    log = read_csv_log(logdir)
    assert (~np.isnan(log["episode/return"])).sum() == 200
    assert (~np.isnan(log["eval/success_rate"])).sum() == 200 // 50
    assert log["step"][-1] == config["result"]["total_steps"] == np.nansum(log["episode/length"])
    assert (logdir / "learning_curve.png").read_bytes().startswith(PNG)


@pytest.mark.slow
@pytest.mark.parametrize("name, path", [("ppo", "seed1"), ("dqn", ""), ("q", "checkpoint.npz")])
def test_evaluate_reproduces_the_final_evaluation_of_training(runs, name, path):
    logdir = runs[name][1]
    config = _config(logdir / path if path.startswith("seed") else logdir)
    final = config["result"]["final_eval"]
    stdout = ok(cli("evaluate", logdir / path, "--episodes", final["episodes"], cwd=runs["root"]))
    assert f"greedy return {final['mean']:.2f} +- {final['std']:.2f} over {final['episodes']} episodes" in stdout


@pytest.mark.slow
def test_plot_learning_curves_of_log_directories(runs):
    out = runs["root"] / "curves" / "both.png"
    stdout = ok(cli("plot", runs["ppo"][1], runs["dqn"][1], "--out", out, cwd=runs["root"]))
    assert out.read_bytes().startswith(PNG)
    assert f"learning curves of ppo, dqn (episode/return against steps): {out}" in stdout
    # against wall-clock time: one seed each (the seeds of one run need not overlap in time: a later seed
    # reuses the compiled programs of the first and starts its episodes sooner)
    out = runs["root"] / "curves" / "seconds.png"
    stdout = ok(cli("plot", runs["ppo"][1] / "seed1", runs["dqn"][1], "--out", out, "--x", "seconds",
                    cwd=runs["root"]))
    assert out.read_bytes().startswith(PNG)
    assert f"learning curves of seed1, dqn (episode/return against seconds): {out}" in stdout


def test_plot_in_process_evaluations_and_errors(runs, capsys):
    logdir = runs["q"][1]
    (logdir / "learning_curve.png").unlink()
    assert main(["plot", str(logdir), "--y", "eval/success_rate"]) == 0  # default: beside the log
    assert (logdir / "learning_curve.png").read_bytes().startswith(PNG)
    assert "(eval/success_rate against steps)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["plot", str(logdir), "--y", "eval/bogus"])
    assert exit_.value.code == 2 and "has no column 'eval/bogus'" in capsys.readouterr().err
    empty = runs["root"] / "no_logs"
    empty.mkdir(exist_ok=True)
    with pytest.raises(SystemExit) as exit_:
        main(["plot", str(empty)])
    assert exit_.value.code == 2 and "holds no progress.csv" in capsys.readouterr().err


@pytest.mark.slow
def test_bandit_regret_matches_the_trainer(tmp_path):
    stdout = ok(cli("bandit", "--agent", "thompson", "--bandit", "bernoulli", "--timesteps", 500, "--seed", 3,
                    "--no-progress", cwd=tmp_path))
    bandit_seed, agent_seed = np.random.SeedSequence(3).spawn(2)
    bandit = bandits.BernoulliMAB(arms=10, seed=bandit_seed)
    result = bandits.MABTrainer(bandits.ThompsonSampling(bandit, seed=agent_seed), bandit, progress=False).train(500)
    assert f"cumulative expected regret {result.cumulative_regret[-1]:.4g} after 500 pulls" in stdout
    assert (tmp_path / "runs" / "bandit-thompson-bernoulli-seed3.png").read_bytes().startswith(PNG)


@pytest.mark.slow
def test_list_names_algorithms_envs_and_tuned_pairs(tmp_path):
    stdout = ok(cli("list", cwd=tmp_path))
    for algo in ("ppo", "a2c", "reinforce", "dqn", "ddpg", "td3", "sac", "q-learning", "sarsa", "expected-sarsa",
                 "dyna-q"):
        assert re.search(rf"^  {algo} ", stdout, re.M), algo
    assert re.search(r"^  ppo +CartPole-v1 +100,000 steps +rl-baselines3-zoo, hyperparams/ppo.yml", stdout, re.M)
    assert re.search(r"^  q-learning +FrozenLake-v1 +3,000 episodes", stdout, re.M)
    assert "LunarLander-v3" in stdout


@pytest.mark.slow
def test_a_diverging_run_exits_with_status_1(tmp_path):
    process = cli("train", "ppo", "CartPole-v1", "--steps", "512", "--set", "lr=1e38", "anneal_lr=false", "n_steps=16",
                  "batch_size=64", "K_epochs=2", "evaluations=0", "--logdir", tmp_path / "run", cwd=tmp_path)
    assert process.returncode == 1, process.stdout + process.stderr
    assert re.search(r"training stopped \(seed 0\): .*loss is nan.* at step \d+", process.stdout)
    assert "result" not in _config(tmp_path / "run") and not (tmp_path / "run" / "learning_curve.png").exists()


@pytest.mark.slow
def test_bad_arguments_exit_with_status_2_from_the_shell(tmp_path):
    process = cli("train", "ppo", "CartPole-v1", "--set", "lrr=1", cwd=tmp_path)
    assert process.returncode == 2
    assert "symgraph-rl train: error: --set: unknown key 'lrr' for ppo (did you mean lr?)" in process.stderr
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------------------
# In-process: argument errors, settings, directories


BAD = [
    ([], "the following arguments are required: COMMAND"),
    (["train", "trpo", "CartPole-v1"], r"argument ALGO: invalid choice: 'trpo' \(choose from 'ppo', 'a2c'"),
    (["train", "ppo", "CartPol-v1"], r"unknown env 'CartPol-v1' \(did you mean CartPole-v1.*envs with tuned settings"),
    (["train", "dqn", "Pendulum-v1"], "dqn needs Discrete actions; Pendulum-v1 has .*algorithms for Pendulum-v1: ppo, "
                                      "a2c, reinforce, ddpg, td3, sac"),
    (["train", "q-learning", "CartPole-v1"], "tabular agents need Discrete observations and actions"),
    (["train", "ppo", "FrozenLake-v1"], r"ppo needs vector observations.*algorithms for FrozenLake-v1: q-learning"),
    (["train", "ppo", "CartPole-v1", "--set", "lrr=1"], r"unknown key 'lrr' for ppo \(did you mean lr\?\); valid keys: "
                                                         "learner K_epochs, .*; run eval_episodes, evaluations"),
    (["train", "ppo", "CartPole-v1", "--set", "lr"], r"--set 'lr': expected key=value"),
    (["train", "ppo", "CartPole-v1", "--set", "K_epochs=0.5"], r"K_epochs takes an int \(its default is 80\), got"),
    (["train", "ppo", "CartPole-v1", "--set", "anneal_lr=maybe"], "anneal_lr takes true or false"),
    (["train", "ppo", "CartPole-v1", "--set", "n_envs=0"], "--set n_envs: must be an int from 1 to 2,147,483,647, "
                                                         "got 0"),
    (["train", "td3", "Pendulum-v1", "--set", "noise=pink"], "noise: must be gaussian, ou or none, got 'pink'"),
    (["train", "dqn", "CartPole-v1", "--set", "exploration_final=2"], r"exploration_final: must be a number in "
                                                                      r"\[0, 1\], got 2.0"),
    (["train", "td3", "Pendulum-v1", "--set", "noise_sigma=none"], r"noise_sigma: must be a number in \[0, inf\], "
                                                                   "got None"),
    (["train", "ppo", "CartPole-v1", "--set", "K_epochs=0"], "the settings were rejected: PPO: K_epochs must be a "
                                                            "positive int"),
    (["train", "q-learning", "FrozenLake-v1", "--steps", "10"], "q-learning trains by episodes; give --episodes"),
    (["train", "ppo", "CartPole-v1", "--episodes", "10"], "ppo trains by environment steps; give --steps"),
    (["train", "ppo", "CartPole-v1", "--steps", "0"], "argument --steps: expected a positive integer, got '0'"),
    (["train", "ppo", "CartPole-v1", "--seed", "-1"], "argument --seed: expected an integer >= 0"),
    (["bandit", "--agent", "thompson", "--bandit", "gaussian"], "thompson does not suit --bandit gaussian; its "
                                                                "bandits: bernoulli"),
    (["bandit", "--agent", "linear-posterior", "--bandit", "bernoulli"], "contextual agent; use --bandit wheel"),
    (["bandit", "--agent", "nope", "--bandit", "wheel"], r"argument --agent: invalid choice: 'nope' \(choose from"),
    (["evaluate", "missing.npz"], "no checkpoint at missing.npz"),
    (["plot", "missing"], "missing does not exist"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_arguments_are_argparse_errors(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()  # nothing written


@pytest.mark.slow
def test_log_directories_are_never_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the default directory gets a numbered suffix
        assert main(["train", "q-learning", "FrozenLake-v1", "--episodes", "3", "--set", "evaluations=0",
                     "--no-progress"]) == 0
    assert (tmp_path / "runs" / "q-learning-FrozenLake-v1-seed0" / "config.json").is_file()
    assert (tmp_path / "runs" / "q-learning-FrozenLake-v1-seed0-1" / "config.json").is_file()
    with pytest.raises(SystemExit) as exit_:  # a directory the user named: an error
        main(["train", "q-learning", "FrozenLake-v1", "--episodes", "3", "--logdir", "runs/q-learning-FrozenLake-v1-"
              "seed0"])
    assert exit_.value.code == 2 and "exists and is not empty" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "sarsa", "FrozenLake8x8-v1", "--episodes", "2", "--logdir", str(empty)]) == 0
    stdout = capsys.readouterr().out
    assert "note: no tuned settings for sarsa on FrozenLake8x8-v1" in stdout and (empty / "checkpoint.npz").is_file()
    assert main(["train", "q-learning", "Taxi-v4", "--episodes", "2", "--seeds", "2", "--logdir", "two"]) == 0
    with pytest.raises(SystemExit) as exit_:  # a log directory of seeds is not one checkpoint
        main(["evaluate", "two"])
    assert exit_.value.code == 2
    assert "one per seed: two/seed0/checkpoint.npz, two/seed1/checkpoint.npz" in capsys.readouterr().err


def test_render_without_pygame_says_what_to_install(runs, capsys):
    try:
        import pygame  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pygame is installed: --render would open a window")
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(runs["q"][1]), "--render", "--episodes", "1"])
    assert exit_.value.code == 2
    assert 'pygame is not installed, run `pip install "gymnasium' in capsys.readouterr().err


def test_evaluate_refuses_what_is_not_a_checkpoint(runs, tmp_path, capsys):
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, x=np.zeros(3))
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(bogus)])
    assert exit_.value.code == 2 and "is an .npz file but not a symgraph.rl checkpoint" in capsys.readouterr().err
    table = tmp_path / "table"
    table.mkdir()
    (table / "config.json").write_text((runs["q"][1] / "config.json").read_text())
    np.savez(table / "checkpoint.npz", x=np.zeros(3))
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(table)])
    assert exit_.value.code == 2 and "is an .npz file but not a symgraph.rl checkpoint" in capsys.readouterr().err


def test_evaluate_a_checkpoint_without_config_takes_the_env_it_records(runs, tmp_path, capsys):
    alone = tmp_path / "alone.npz"
    alone.write_bytes((runs["ppo"][1] / "seed0" / "checkpoint.npz").read_bytes())
    assert main(["evaluate", str(alone), "--episodes", "2"]) == 0
    assert f"CartPole-v1 ({alone}): greedy return" in capsys.readouterr().out
    built = tmp_path / "built.npz"
    DQN((4,), 2, 8, hidden=(8,), seed=0).save(built)  # built from shapes: no environment recorded
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(built)])
    assert exit_.value.code == 2 and "does not record its environment's id" in capsys.readouterr().err


def test_a_budget_without_a_finished_episode_has_no_curve(tmp_path, capsys):
    assert main(["train", "reinforce", "CartPole-v1", "--steps", "5", "--set", "evaluations=0", "eval_episodes=1",
                 "--logdir", str(tmp_path / "short"), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "no learning curve: " in stdout and "has no column 'episode/return'" in stdout
    assert "learning curve: none" in stdout and "1 episodes" not in stdout
    assert _config(tmp_path / "short")["result"]["episodes"] == 0
    assert not (tmp_path / "short" / "learning_curve.png").exists()


def test_contextual_bandit_in_process(tmp_path, capsys):
    out = tmp_path / "wheel.png"
    assert main(["bandit", "--agent", "linear-posterior", "--bandit", "wheel", "--timesteps", "300", "--out",
                 str(out), "--no-progress"]) == 0
    assert out.read_bytes().startswith(PNG) and "after 300 pulls" in capsys.readouterr().out


@pytest.mark.parametrize("text, default, expected", [
    ("true", False, True), ("Off", True, False), ("1e5", 10, 100_000), ("7", 0.5, 7.0), ("3e-4", 1e-3, 3e-4),
    ("64,64", (32,), (64, 64)), ("(400, 300)", (64, 64), (400, 300)), ("()", (64,), ()), ("relu", "tanh", "relu"),
    ("0.1", "auto", 0.1), ("none", 0.5, None), ("None", 80, None), ("0.5", None, 0.5), ("adam", None, "adam"),
    ("3", None, 3), ("true", None, True), ("1,2.5", None, (1, 2.5)),
])
def test_parse_setting_follows_the_default_type(text, default, expected):
    value = parse_setting("key", text, default)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, default", [("x", 3), ("2.5", 3), ("maybe", True), ("fast", 0.1)])
def test_parse_setting_errors_name_key_type_and_default(text, default):
    with pytest.raises(UsageError, match=rf"--set key={re.escape(text)}: key takes .* \(its default is "
                                         rf"{re.escape(repr(default))}\), got '{re.escape(text)}'"):
        parse_setting("key", text, default)


def test_console_script_is_declared():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert any(s.name == "symgraph-rl" and s.value == "symgraph.rl.cli:main" for s in scripts)


# ---------------------------------------------------------------------------------------------------------
# resume

DQN_ARGS = ["dqn", "CartPole-v1", "--steps", "600", "--set", "update_after=200", "update_every=100", "gradient_steps=4",
            "evaluations=3", "eval_episodes=3", "--no-progress"]


def interrupted(monkeypatch, argv, at_step, seed=None):
    """``main(argv)`` stopped as by Ctrl-C once a run of ``seed`` (any, by default) passes ``at_step``."""
    from symgraph.rl import cli as cli_module

    evaluate = cli_module._Evaluations.__call__

    def stop(self, state):
        if state["total_steps"] >= at_step and (seed is None or self.seed == seed + cli_module.EVAL_SEED_OFFSET):
            raise KeyboardInterrupt
        return evaluate(self, state)

    with monkeypatch.context() as patch:
        patch.setattr(cli_module._Evaluations, "__call__", stop)
        with pytest.raises(KeyboardInterrupt):
            main([str(a) for a in argv])


@pytest.mark.slow
def test_a_resumed_single_env_run_ends_as_the_uninterrupted_one(runs, monkeypatch, tmp_path):
    """DQN on one env: resumed from its last checkpoint, the log and the result equal those of the run that
    was not interrupted (the rows logged after the checkpoint are dropped and logged again)."""
    interrupted(monkeypatch, ["train", *DQN_ARGS, "--logdir", tmp_path / "cut"], at_step=450)
    assert "result" not in _config(tmp_path / "cut")
    assert main(["resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    assert main(["train", *DQN_ARGS, "--logdir", str(tmp_path / "whole")]) == 0
    whole, resumed = _config(tmp_path / "whole")["result"], _config(tmp_path / "cut")["result"]
    assert {k: v for k, v in resumed.items() if k != "seconds"} == {k: v for k, v in whole.items() if k != "seconds"}
    expected, got = read_csv_log(tmp_path / "whole"), read_csv_log(tmp_path / "cut")
    assert sorted(got) == sorted(expected)
    for column in expected:
        if column != "seconds":
            np.testing.assert_array_equal(got[column], expected[column], err_msg=column)
    assert np.all(np.diff(got["seconds"]) >= 0)  # the clock continues across the interruption


@pytest.mark.slow
def test_resume_keeps_finished_seeds_and_continues_the_interrupted_one(monkeypatch, tmp_path, capsys):
    logdir = tmp_path / "ppo"
    interrupted(monkeypatch, ["train", "ppo", "CartPole-v1", *PPO_ARGS, "--seeds", "2", "--logdir", logdir,
                              "--no-progress"], at_step=700, seed=1)
    finished = _config(logdir / "seed0")["result"]
    assert "result" not in _config(logdir / "seed1")
    capsys.readouterr()
    assert main(["resume", str(logdir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "seed 0 had finished: not trained again" in out and "seed 1: continuing from its checkpoint" in out
    assert _config(logdir / "seed0")["result"] == finished
    resumed = _config(logdir / "seed1")["result"]
    log = read_csv_log(logdir / "seed1")
    assert resumed["total_steps"] == 1024 and np.all(np.diff(log["step"]) >= 0)
    assert (logdir / "learning_curve.png").read_bytes().startswith(PNG)


def test_resume_refuses_what_it_cannot_continue(runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(tmp_path)])
    assert exit_.value.code == 2 and "holds no config.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(runs["q"][1])])
    assert exit_.value.code == 2
    assert "q-learning trains without checkpoints" in capsys.readouterr().err
