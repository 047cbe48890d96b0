"""Crash consistency of saves: a writer killed at any point leaves the previous checkpoint whole, and its
temporary file is removed by the next save or by :func:`symgraph.io.remove_stale_temporaries` at start."""

import os
import subprocess

import numpy as np
import pytest

from symgraph import io


def _temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith(".tmp-"))


def _dead_pid():
    """A pid that belongs to no process (a child that has exited and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _temporary(folder, target, pid, host=None):
    """A file named as :func:`symgraph.io.atomic_write` names the temporary of ``target`` written by ``pid``."""
    name = f"{io.temporary_prefix(pid, host)}abcd_123-{target}"
    (folder / name).write_bytes(b"x" * 100)
    return name


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "checkpoint.npz"
    dead = _temporary(tmp_path, "checkpoint.npz", _dead_pid())
    live = _temporary(tmp_path, "checkpoint.npz", os.getppid())              # a live process's write
    other_target = _temporary(tmp_path, "other.npz", _dead_pid())            # another file's temporary
    other_host = _temporary(tmp_path, "checkpoint.npz", _dead_pid(), host="another-machine")
    (tmp_path / ".tmp-unrelated").write_bytes(b"")
    removed = io.remove_stale_temporaries(target)
    assert removed == [str(tmp_path / dead)]
    assert _temporaries(tmp_path) == sorted([live, other_target, other_host, ".tmp-unrelated"])
    assert io.remove_stale_temporaries(tmp_path / "missing-folder" / "x.npz") == []


def test_this_process_s_finished_temporaries_are_stale_its_running_one_is_not(tmp_path):
    target = tmp_path / "checkpoint.npz"
    finished = _temporary(tmp_path, "checkpoint.npz", os.getpid())
    seen = []

    def write(stream):
        seen.append(_temporaries(tmp_path))
        assert io.remove_stale_temporaries(target) == []  # the write in progress is not stale
        stream.write(b"data")

    io.atomic_write(target, write)
    assert finished not in seen[0] and len(seen[0]) == 1  # the save removed the stale one before writing
    assert _temporaries(tmp_path) == [] and target.read_bytes() == b"data"


def test_a_save_removes_the_temporaries_a_killed_writer_left(tmp_path):
    target = tmp_path / "checkpoint.npz"
    left = _temporary(tmp_path, "checkpoint.npz", _dead_pid())
    np.save(tmp_path / "unrelated.npy", np.zeros(2))
    io.atomic_write(target, lambda stream: stream.write(b"new"))
    assert left not in _temporaries(tmp_path) and _temporaries(tmp_path) == []


@pytest.mark.parametrize("pid", [0, 2**70])
def test_names_no_writer_can_have_are_left_alone(tmp_path, pid):
    name = f"{io.temporary_prefix(pid)}abcd_123-checkpoint.npz"  # no process has this pid: not atomic_write's
    (tmp_path / name).write_bytes(b"")
    assert io.remove_stale_temporaries(tmp_path / "checkpoint.npz") == []
    assert _temporaries(tmp_path) == [name]


# A process that saves a learner's checkpoint, then forks writers that save it again and again, each killed
# with SIGKILL after a seeded random delay (mostly in the middle of a save: a save is most of the loop). The
# writers write the arrays learner.save writes (taken before forking, so that they run no JAX). After each
# kill it prints the temporaries beside the checkpoint.
_KILLER = """
import json, os, signal, sys, time, warnings
import numpy as np
from symgraph import rl
from symgraph.rl import checkpoint

path, reference, seed, kills = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
learner = rl.DQN.from_env("CartPole-v1", hidden=(256, 256), seed=0)  # a 1 MB file: a save takes milliseconds
learner.save(reference)
learner.save(path)
meta, arrays = checkpoint.learner_entries(learner)
arrays = {name: np.asarray(value) for name, value in arrays.items()}
warnings.simplefilter("ignore")  # os.fork's warning about JAX's threads: the writers use none
for delay in np.random.default_rng(seed).uniform(0.002, 0.05, kills):
    pid = os.fork()
    if pid == 0:
        while True:
            checkpoint.write(path, {"learner": meta}, arrays)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    print(json.dumps(sorted(n for n in os.listdir(os.path.dirname(path)) if n.startswith(".tmp-"))), flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_saves_keeps_the_last_checkpoint_and_leaves_no_temporary(tmp_path):
    import json
    import sys

    from symgraph import rl
    from symgraph.rl import checkpoint

    path, reference = tmp_path / "checkpoint.npz", tmp_path / "reference" / "checkpoint.npz"
    done = subprocess.run([sys.executable, "-c", _KILLER, str(path), str(reference), "7", "5"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    after_kills = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(after_kills) == 5
    assert any(after_kills), "no kill landed in the middle of a save: the test did not exercise a crash"
    assert all(len(left) <= 1 for left in after_kills), after_kills  # each save removed the killed one's
    _, saved = checkpoint.read(path)
    _, expected = checkpoint.read(reference)
    assert saved.keys() == expected.keys()
    for name in saved:
        np.testing.assert_array_equal(saved[name], expected[name], err_msg=name)
    learner = rl.load(path)
    learner.save(path)
    assert _temporaries(tmp_path) == []
