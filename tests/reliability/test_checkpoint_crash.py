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
