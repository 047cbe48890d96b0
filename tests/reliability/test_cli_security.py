"""The command line runs no code named by a file: an env id read from a run's ``config.json`` or from a
checkpoint is a registered gymnasium id, never gymnasium's ``module:Env`` form, which imports the module."""

import json
import sys

import pytest

from symgraph.rl import checkpoint, envs
from symgraph.rl.cli import main

EVIL = """
import pathlib
pathlib.Path(__file__).with_name("marker").write_text("evil.py ran")
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny REINFORCE run."""
    logdir = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "reinforce", "CartPole-v1", "--steps", "50", "--set", "evaluations=0",
                 "eval_episodes=1", "--logdir", str(logdir), "--no-progress"]) == 0
    return logdir


@pytest.fixture
def shipped(trained, tmp_path, monkeypatch):
    """A run directory as an attacker would ship it: the run, plus an ``evil.py`` importable from it (as it
    is when the command runs there: ``python -m`` puts the working directory on ``sys.path``)."""
    run = tmp_path / "shipped"
    run.mkdir()
    for name in ("checkpoint.npz", "config.json", "progress.csv"):
        (run / name).write_bytes((trained / name).read_bytes())
    (run / "evil.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(run))
    monkeypatch.chdir(run)
    for name in ("evil", "this"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return run


def set_env(path, env_id):
    config = json.loads(path.read_text())
    config["env"] = env_id
    path.write_text(json.dumps(config))


def refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["evil:Foo-v0", "this:Foo-v0", "evil:CartPole-v1"])
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_an_env_id_from_config_json_imports_nothing(shipped, env_id, command, capsys):
    set_env(shipped / "config.json", env_id)
    if command == "resume":  # a run stopped before its end
        config = json.loads((shipped / "config.json").read_text())
        del config["result"]
        (shipped / "config.json").write_text(json.dumps(config))
    message = refused([command, str(shipped)], capsys)
    assert f"{env_id!r}" in message and "config.json" in message and "registered" in message
    assert not (shipped / "marker").exists()
    assert "evil" not in sys.modules and "this" not in sys.modules


def test_an_env_id_recorded_in_a_checkpoint_imports_nothing(shipped, capsys):
    (shipped / "config.json").unlink()
    meta, arrays = checkpoint.read(shipped / "checkpoint.npz")
    meta["learner"]["config"]["env"]["id"] = "evil:Foo-v0"
    checkpoint.write(shipped / "checkpoint.npz", meta, arrays)
    message = refused(["evaluate", str(shipped / "checkpoint.npz")], capsys)
    assert "'evil:Foo-v0'" in message and "checkpoint.npz" in message
    assert not (shipped / "marker").exists() and "evil" not in sys.modules


@pytest.mark.parametrize("env_id", ["evil:Foo-v0", "CartPole-v1:x", "NoSuchEnv-v0", 3, None])
def test_registered_env_id_accepts_registered_ids_only(env_id):
    with pytest.raises(ValueError, match=r"the env id .* of run/config.json is not a registered gymnasium id"):
        envs.registered_env_id(env_id, "run/config.json")
    assert envs.registered_env_id("phys2d/CartPole-v1", "x") == "phys2d/CartPole-v1"
