"""Explicit storage state: Buffer.state_dict / load_state_dict round trips (the restored buffer continues
exactly as the original), their checks, mark_truncated, and the checkpoint layout that uses them."""

import json
from pathlib import Path

import numpy as np
import pytest

from symgraph import rl
from symgraph.errors import SaveLoadError, ShapeError
from symgraph.rl import checkpoint
from symgraph.rl.storage.ring import Ring


def pushed(buffer, steps, n_envs=1, start=0):
    rng = np.random.default_rng(start)
    shape = (n_envs,) if n_envs > 1 else ()
    for t in range(start, start + steps):
        buffer.push({"state": rng.normal(size=shape + (2,)).astype(np.float32), "reward": np.full(shape, float(t)),
                     "terminal": np.zeros(shape, bool), "truncated": np.zeros(shape, bool), "V": np.ones(shape)})
    return buffer


def same(a, b):
    assert a.fields == b.fields and len(a) == len(b) and a.n_envs == b.n_envs
    for field in a.fields:
        np.testing.assert_array_equal(a[field], b[field])


@pytest.mark.parametrize("priority_sampling, n_envs, steps", [(False, 1, 7), (True, 1, 30), (True, 3, 11),
                                                              (False, 2, 0)])
def test_round_trip_continues_identically(priority_sampling, n_envs, steps):
    original = pushed(rl.Buffer(20, priority_sampling, n_envs=n_envs, seed=3), steps, n_envs)
    if steps:
        original.finish_path(0.5)
        if priority_sampling:
            original.update_priorities(np.arange(4), np.array([3.0, 0.1, 2.0, 0.5]))
        original.sample(4)
    restored = rl.Buffer(20, priority_sampling, n_envs=n_envs, seed=99)
    restored.load_state_dict(original.state_dict())
    same(original, restored)
    pushed(original, 5, n_envs, start=100)
    pushed(restored, 5, n_envs, start=100)
    same(original, restored)
    x, y = original.sample(6), restored.sample(6)
    assert list(x.keys()) == list(y.keys())
    for key in x.keys():
        np.testing.assert_array_equal(x[key], y[key])


def test_state_is_plain_arrays_and_json_values():
    state = pushed(rl.Buffer(10, True, seed=0), 4).state_dict()
    for name, value in state.items():
        assert isinstance(value, np.ndarray | int | float | bool | str | list | dict | type(None)), name
    assert state["ring/data/state"].shape == (10, 1, 2) and state["priorities/priorities"].shape == (10,)


def test_beta_float_is_restored_and_a_schedule_kept():
    source = rl.Buffer(10, beta=0.7)
    target = rl.Buffer(10, beta=lambda t: 0.5)
    target.load_state_dict(source.state_dict())
    assert target.beta == 0.7
    scheduled = rl.Buffer(10, beta=lambda t: 0.25)
    scheduled.load_state_dict(rl.Buffer(10, beta=lambda t: 0.9).state_dict())
    assert scheduled.beta == 0.25


def test_load_checks_every_entry_and_changes_nothing_on_error():
    state = pushed(rl.Buffer(10, seed=0), 4).state_dict()
    target = pushed(rl.Buffer(10, seed=1), 2, start=50)
    before = target["reward"].copy()

    def broken(**changes):
        bad = dict(state)
        bad.update(changes)
        return bad

    cases = [
        ({k: v for k, v in state.items() if k != "ring/data/reward"}, KeyError, "no entry 'data/reward'"),
        ({k: v for k, v in state.items() if k != "rng"}, KeyError, "no entry 'rng'"),
        (broken(**{"ring/data/state": np.zeros((10, 1, 3), np.float32)}), ShapeError, r"expected \(10, 1, 2\)"),
        (broken(**{"ring/data/state": np.zeros((10, 1, 2), np.float64)}), TypeError, "is float64, expected float32"),
        (broken(maxlen=11), ValueError, r"saved from Buffer\(maxlen=11"),
        (broken(path_len=np.zeros(3, np.int64)), ValueError, "'path_len' must be an int array of shape"),
        (broken(rng={"bit_generator": "PCG64"}), ValueError, "'rng' is not the state"),
        (broken(**{"ring/next_row": 10}), ValueError, "ring position is inconsistent"),
    ]
    for bad, error, match in cases:
        with pytest.raises(error, match=match):
            target.load_state_dict(bad)
    np.testing.assert_array_equal(target["reward"], before)
    with pytest.raises(TypeError, match="expected the dict"):
        target.load_state_dict([1, 2])
    with pytest.raises(ValueError, match="priority_sampling=True"):
        rl.Buffer(10, True).load_state_dict(state)


def test_ring_state_round_trip():
    ring = Ring(4, 2, {"x": ((3,), np.float32)})
    ring.data["x"][1] = 7.0
    ring.advance()
    ring.advance()
    copy = Ring.from_state_dict(ring.state_dict(), "test")
    assert (copy.next_row, copy.rows_stored, copy.steps) == (2, 2, 2)
    np.testing.assert_array_equal(copy.data["x"], ring.data["x"])
    assert copy.data["x"] is not ring.data["x"]


def test_mark_truncated_marks_the_newest_step_of_given_envs():
    buffer = pushed(rl.Buffer(6, n_envs=3), 4, n_envs=3)
    buffer.mark_truncated([0, 2])
    rows = buffer.rollout(["truncated"])["truncated"]
    np.testing.assert_array_equal(rows[-1], [True, False, True])
    assert not rows[:-1].any()
    buffer.mark_truncated()
    assert buffer.rollout(["truncated"])["truncated"][-1].all()
    with pytest.raises(ValueError, match=r"env_index must be None, an int or distinct ints in 0..2"):
        buffer.mark_truncated(3)
    rl.Buffer(4).mark_truncated(0)                      # empty: nothing to mark
    no_field = rl.Buffer(4)
    no_field.push({"reward": 1.0})
    no_field.mark_truncated(0)
    assert no_field.fields == ("reward",)


def test_checkpoint_stores_the_state_dict():
    buffer = pushed(rl.Buffer(10, True, seed=0), 6)
    arrays = {}
    tree = checkpoint.object_state(buffer, arrays)
    assert set(tree) == {"state_dict"}
    restored = rl.Buffer(10, True, seed=5)
    checkpoint.restore_object_state(restored, tree, arrays)
    same(buffer, restored)


def test_checkpoint_refuses_an_attribute_layout_it_cannot_map():
    old = {"maxlen": 10, "_data": {"dict": {}}}          # not a version-1 Buffer (no write position)
    with pytest.raises(SaveLoadError, match=r"checkpoint version 1.*resume=False"):
        checkpoint.restore_object_state(rl.Buffer(10), old, {})
    assert checkpoint.VERSION == 2


def test_a_version_1_buffer_is_read():
    """``data/buffer_v1.npz``: the buffer of a real version-1 run checkpoint (a prioritised DQN replay of 48
    items, 2 CartPole sub-environments, n_step=2, written by symgraph at checkpoint version 1), reduced to the
    buffer's attribute tree and the arrays it names, with what the version-1 code read back from it: every
    stored field, the priorities, and one prioritised sample drawn right after the restore. The version-2
    reader maps the attributes to the state dict and continues identically."""
    stored = np.load(Path(__file__).parent / "data" / "buffer_v1.npz", allow_pickle=False)
    tree = json.loads(str(stored["tree"]))
    arrays = {k: stored[k] for k in stored.files if k.startswith("run/")}
    buffer = rl.Buffer(48, True, alpha=0.5, beta=0.7)
    checkpoint.restore_object_state(buffer, tree, arrays)
    expected = {k[len("expected/"):]: stored[k] for k in stored.files if k.startswith("expected/")}
    assert buffer.fields == ("state", "action", "reward", "next-state", "terminal", "truncated")
    for field in buffer.fields:
        np.testing.assert_array_equal(buffer[field], expected[field])
    np.testing.assert_array_equal(buffer.priorities, expected["priorities"])
    batch = buffer.sample(8)
    for key in batch.keys():
        np.testing.assert_array_equal(batch[key], expected["sample/" + key])
    tree["_data"] = 5
    with pytest.raises(SaveLoadError, match="version 1 layout.* is malformed"):
        checkpoint.restore_object_state(rl.Buffer(48, True), tree, arrays)
