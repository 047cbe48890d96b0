"""The command line's exit-code contract: a bad argument is exit status 2 with a one-line message, never a
traceback; whatever ``--set KEY=VALUE`` holds, the command either starts training or exits 2."""

import importlib
import pathlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgraph.rl.cli import main


def exits_2(argv, capsys):
    """Run ``main(argv)``: exit status 2, a one-line error (returned) and no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith("symgraph-rl ") and len(message) < 600, err
    return message


@pytest.mark.parametrize("argv, expected", [
    (["--set", "total_steps=inf"], r"--set total_steps=inf: total_steps takes an int .*got 'inf'"),
    (["--set", "total_steps=nan"], r"--set total_steps=nan: total_steps takes an int .*got 'nan'"),
    (["--set", "lr=nan"], r"--set lr=nan: lr takes a finite number .*got 'nan'"),
    (["--set", "gamma=-inf"], r"--set gamma=-inf: gamma takes a finite number .*got '-inf'"),
    (["--set", "hidden=64,nan"], r"--set hidden=64,nan: hidden takes finite numbers"),
    (["--set", "total_steps=1e20"], r"--set total_steps=1e20: total_steps must be at most 2,147,483,647"),
    (["--set", "n_steps=1e9"], r"n_steps x n_envs = 1,000,000,000 x 8 transitions .* budget of 100,000 steps"),
    (["--steps", "1e20"], r"argument --steps: expected a positive integer of at most 2,147,483,647, got '1e20'"),
    (["--seed", "1e20"], r"argument --seed: expected an integer >= 0"),
    (["--seed", str(2 ** 40)], r"argument --seed: expected an integer >= 0 and at most 2,147,483,647"),
    (["--set", "K_epochs=0"], r"the settings were rejected: PPO: K_epochs must be a positive int"),
])
def test_bad_numbers_exit_2_naming_the_setting(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    message = exits_2(["train", "ppo", "CartPole-v1", *argv], capsys)
    assert re.search(expected, message), message
    assert not (tmp_path / "runs").exists()


def test_an_unwritable_logdir_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("a file, not a directory")
    message = exits_2(["train", "q-learning", "FrozenLake-v1", "--episodes", "2", "--logdir",
                       str(tmp_path / "file" / "sub")], capsys)
    assert f"--logdir {tmp_path / 'file' / 'sub'}: cannot create it" in message
    message = exits_2(["train", "q-learning", "FrozenLake-v1", "--episodes", "2", "--logdir", "/proc/run"], capsys)
    assert "--logdir /proc/run: cannot create it" in message


def test_bandit_out_exits_2_when_unwritable_and_names_the_file_it_wrote(tmp_path, capsys):
    (tmp_path / "file").write_text("a file, not a directory")
    for out in (tmp_path / "file" / "sub.png", pathlib.Path("/proc/regret.png")):
        message = exits_2(["bandit", "--agent", "ucb1", "--bandit", "bernoulli", "--timesteps", "50", "--out",
                           str(out), "--no-progress"], capsys)
        assert f"--out {out}: cannot write it" in message
    assert main(["bandit", "--agent", "ucb1", "--bandit", "bernoulli", "--timesteps", "50", "--out",
                 str(tmp_path / "curve"), "--no-progress"]) == 0
    assert (tmp_path / "curve.png").is_file() and not (tmp_path / "curve").exists()
    assert f"regret curve: {tmp_path / 'curve.png'}" in capsys.readouterr().out


class _Started(Exception):
    """Raised in place of training: the arguments were accepted and the learner built."""


VALUES = st.sampled_from(["0", "-1", "-3.5", "nan", "-nan", "inf", "-inf", "1e20", "-1e20", "1e9", "2.5", "abc", "",
                          "none", "true", "1,2", "nan,1", "(", "1e400", "0x10"])
KEYS = {"ppo": ["total_steps", "n_envs", "evaluations", "eval_episodes", "lr", "K_epochs", "n_steps", "batch_size",
                "gamma", "eps_clip", "hidden", "max_grad_norm", "lam"],
        "dqn": ["total_steps", "buffer_size", "update_every", "update_after", "exploration_fraction", "lr",
                "gamma", "batch_size", "target_update_period", "gradient_steps", "n_step", "tau", "hidden"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(algo=st.sampled_from(["ppo", "dqn"]), pairs=st.lists(st.tuples(st.integers(0, 12), VALUES), min_size=1,
                                                             max_size=2))
def test_any_set_value_starts_training_or_exits_2(algo, pairs, tmp_path_factory, monkeypatch, capsys):
    """Up to the start of training (the learner built, ``rl.run`` not called): exit 2 with one line, or a
    run that starts."""
    run_module = importlib.import_module("symgraph.rl.run")  # the module, which symgraph.rl.run (the function) hides

    def started(*args, **kwargs):
        raise _Started

    monkeypatch.setattr(run_module, "run", started)
    sets = [f"{KEYS[algo][i]}={value}" for i, value in pairs]
    logdir = tmp_path_factory.mktemp("set") / "run"
    argv = ["train", algo, "CartPole-v1", "--steps", "4096", "--set", *sets, "--logdir", str(logdir), "--no-progress"]
    try:
        main(argv)
    except _Started:
        return
    except SystemExit as exit_:
        assert exit_.code == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()[-1]) < 600, err
        assert not logdir.exists()
        return
    pytest.fail(f"{argv} neither started nor exited 2")
