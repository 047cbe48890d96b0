"""The command line never loses or garbles a run: two trains on one log directory, a ``kill -9`` during
training, and a resume of a run whose files are damaged."""

import csv
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from symgraph.io import temporary_prefix
from symgraph.rl import cli as cli_module
from symgraph.rl.cli import main

DQN = ["train", "dqn", "CartPole-v1", "--set", "update_after=100", "update_every=20", "gradient_steps=2",
       "hidden=32,32", "buffer_size=5000", "evaluations=4", "eval_episodes=2", "--no-progress"]


def spawn(*args, cwd):
    """``python -m symgraph.rl ARGS`` started in ``cwd`` (not waited for)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "symgraph.rl", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rows(path):
    """The rows of a CSV log as lists of cells, after checking that each has the header's field count and
    that the steps never go backwards."""
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    assert header[:2] == ["step", "seconds"]
    assert all(len(row) == len(header) for row in body), "a row with another field count than the header"
    steps = [int(row[0]) for row in body]
    assert steps == sorted(steps), "steps go backwards"
    return header, body


@pytest.mark.slow
def test_two_trains_on_one_logdir_one_runs_the_other_exits_2(tmp_path):
    runs = [spawn(*DQN, "--steps", "600", "--logdir", "shared", cwd=tmp_path) for _ in range(2)]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 2], outcomes
    _, out, err = next(o for o in outcomes if o[0] == 2)
    assert "Traceback" not in err and len(err.strip().splitlines()[-1]) < 300, err
    assert re.search(r"error: --logdir shared (is in use by another symgraph-rl run|exists and is not empty)",
                     err), err
    assert "training dqn" not in out  # it stopped before starting
    config = json.loads((tmp_path / "shared" / "config.json").read_text())
    assert config["result"]["total_steps"] == 600
    header, body = rows(tmp_path / "shared" / "progress.csv")
    assert sum(row[header.index("episode/return")] != "" for row in body) == config["result"]["episodes"]
    assert sorted(os.listdir(tmp_path / "shared")) == ["checkpoint.npz", "config.json", "learning_curve.png",
                                                      "progress.csv"]


@pytest.mark.slow
def test_a_train_killed_at_a_random_point_resumes_without_losing_a_row(tmp_path):
    """``kill -9`` at a random point after the first checkpoint (seeded): the log parses, the resumed run
    keeps every row logged up to the checkpoint, logs again those after it, and ends as an uninterrupted
    run does; no temporary file is left."""
    logdir = tmp_path / "run"
    process = spawn(*DQN, "--steps", "8000", "--logdir", logdir, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not (logdir / "checkpoint.npz").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(random.Random(7).uniform(0.0, 1.0))
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it was killed: make it longer"
    process.communicate()
    assert "result" not in json.loads((logdir / "config.json").read_text())
    header, before = rows(logdir / "progress.csv") if _whole_lines(logdir / "progress.csv") else _cut(logdir)
    assert main(["resume", str(logdir), "--no-progress"]) == 0
    result = json.loads((logdir / "config.json").read_text())["result"]
    assert result["total_steps"] == 8000
    after_header, after = rows(logdir / "progress.csv")
    assert after_header[:len(header)] == header
    seconds = header.index("seconds")
    for old, new in zip(before, after):  # rows up to the kill: those up to the checkpoint kept, the rest
        assert old[:seconds] + old[seconds + 1:] == new[:seconds] + new[seconds + 1:len(old)]  # logged again
    assert len(after) > len(before)
    assert not [name for name in os.listdir(logdir) if name.startswith(".tmp-") or name.endswith(".lock")]


def _whole_lines(path):
    return path.read_bytes().endswith(b"\n")


def _cut(logdir):
    """The header and rows of a log whose last line was cut short by the kill (that line left out)."""
    text = (logdir / "progress.csv").read_text()
    copy = logdir.parent / "whole.csv"
    copy.write_text(text[:text.rindex("\n") + 1])
    return rows(copy)


# ---------------------------------------------------------------------------------------------------------
# resume of a damaged run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A DQN run stopped (as by Ctrl-C) after its checkpoint of step 1000 (of 2000)."""
    logdir = tmp_path_factory.mktemp("stopped") / "run"
    evaluate = cli_module._Evaluations.__call__

    def stop(self, state):
        if state["total_steps"] >= 1100:
            raise KeyboardInterrupt
        return evaluate(self, state)

    cli_module._Evaluations.__call__ = stop
    try:
        with pytest.raises(KeyboardInterrupt):
            main([*DQN, "--steps", "2000", "--logdir", str(logdir)])
    finally:
        cli_module._Evaluations.__call__ = evaluate
    return logdir


@pytest.fixture
def run(stopped, tmp_path):
    """A copy of the stopped run, to damage."""
    return shutil.copytree(stopped, tmp_path / "run")


def resume_fails(run, capsys):
    """``resume`` of ``run``: exit 2 with a one-line message (returned), nothing of the run changed."""
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(run), "--no-progress"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("damage", ["missing", "zeroed", "truncated", "not a zip"])
def test_resume_refuses_a_damaged_checkpoint_and_keeps_the_log(run, damage, capsys):
    path = run / "checkpoint.npz"
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes({"zeroed": bytes(len(data)), "truncated": data[:len(data) // 2],
                          "not a zip": b"step,seconds\n"}[damage])
    message = resume_fails(run, capsys)
    assert str(path) in message
    if damage == "missing":
        assert "no checkpoint to continue them from" in message
    else:
        assert "cannot be read" in message


def test_resume_refuses_a_corrupt_config(run, capsys):
    path = run / "config.json"
    path.write_text(path.read_text()[:40])
    message = resume_fails(run, capsys)
    assert f"{path} is not a valid config.json" in message
    path.write_text(json.dumps({"algo": "dqn"}))
    assert "lacks 'env'" in resume_fails(run, capsys)


def test_resume_drops_a_half_written_last_line_and_says_so(run, caplog):
    path = run / "progress.csv"
    with open(path, "a") as f:
        f.write("10")  # a row of step 10xx cut short by a killed writer
    with caplog.at_level(logging.WARNING, logger="symgraph.rl.logging"):
        assert main(["resume", str(run), "--no-progress"]) == 0
    assert any("dropped its last line, '10'" in r.getMessage() for r in caplog.records), caplog.text
    _, body = rows(path)
    assert json.loads((run / "config.json").read_text())["result"]["total_steps"] == 2000


def test_resume_removes_stale_temporaries_of_a_killed_save_at_start(run, monkeypatch):
    stale = run / f"{temporary_prefix(pid=2 ** 22 + 1)}abcdefgh-checkpoint.npz"  # a pid no process has
    stale.write_bytes(b"half a checkpoint")

    def stop(self, state):  # before the resumed run writes a checkpoint (which would clean it too)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module._Evaluations, "__call__", stop)
    with pytest.raises(KeyboardInterrupt):
        main(["resume", str(run), "--no-progress"])
    assert not stale.exists()


def test_resume_of_a_run_in_use_exits_2(run, capsys):
    with cli_module._claim_existing(run):
        message = resume_fails(run, capsys)
    assert "is in use by another symgraph-rl run" in message


def test_namespaced_env_ids_make_one_log_directory(tmp_path, monkeypatch):
    made = []

    def train_seeds(config, seeds, logdir, *args, **kwargs):
        made.append(logdir)
        assert logdir.is_dir()
        return 0

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_module, "_train_seeds", train_seeds)
    assert main(["train", "reinforce", "phys2d/CartPole-v1", "--no-progress"]) == 0
    assert made == [cli_module.Path("runs/reinforce-phys2d-CartPole-v1-seed0")]
