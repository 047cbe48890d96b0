"""Buffer.sample's Batch: dict-like by field name, unpacking into arrays in the documented order."""

import jax
import numpy as np
import pytest

from symgraph import rl
from symgraph.rl.storage.batch import Batch, ordered


def filled(priority_sampling=False, extra=False):
    buffer = rl.Buffer(50, priority_sampling, seed=0)
    for t in range(20):
        step = {"V": float(-t)} if extra else {}   # pushed first: still listed after the five
        step.update({"terminal": t % 7 == 6, "next-state": np.full(3, t + 1.0), "reward": float(t),
                     "action": t % 2, "state": np.full(3, float(t))})
        buffer.push(step)
    return buffer


def test_unpacks_into_arrays_in_symjax_order():
    s, a, r, s2, t = filled().sample(8)
    assert s.shape == (8, 3) and s2.shape == (8, 3) and a.shape == r.shape == t.shape == (8,)
    np.testing.assert_array_equal(s2, s + 1)
    np.testing.assert_array_equal(r, s[:, 0])
    np.testing.assert_array_equal(a, s[:, 0] % 2)
    np.testing.assert_array_equal(t, s[:, 0] % 7 == 6)


def test_other_fields_then_indices_and_weights_come_last():
    batch = filled(priority_sampling=True, extra=True).sample(4)
    assert list(batch.keys()) == ["state", "action", "reward", "next-state", "terminal", "V", "indices", "weights"]
    arrays = list(batch)
    assert len(arrays) == 8 and arrays[-1] is batch["weights"] and arrays[-2] is batch["indices"]
    np.testing.assert_array_equal(batch["V"], -batch["state"][:, 0])


def test_dict_protocol():
    batch = filled().sample(5, keys=["reward", "state"])
    assert list(batch.keys()) == ["reward", "state"]          # the order of keys=
    assert "state" in batch and "action" not in batch and len(batch) == 2
    as_dict = dict(batch)
    assert list(as_dict) == ["reward", "state"] and as_dict["state"] is batch["state"]
    assert {**batch}.keys() == as_dict.keys()
    assert [k for k in batch.keys()] == ["reward", "state"]
    assert [k for k, _ in batch.items()] == ["reward", "state"]
    assert [v is batch[k] for k, v in zip(batch.keys(), batch.values(), strict=True)] == [True, True]
    assert batch.get("missing") is None
    with pytest.raises(KeyError):
        batch["missing"]
    batch["discount"] = np.ones(5)
    assert list(batch.keys())[-1] == "discount"
    assert "Batch({'reward': (5,)" in repr(batch)


def test_a_batch_is_a_pytree():
    batch = filled().sample(4)
    doubled = jax.tree.map(lambda x: x * 2, batch)
    assert isinstance(doubled, Batch) and list(doubled.keys()) == list(batch.keys())
    np.testing.assert_array_equal(doubled["reward"], batch["reward"] * 2)
    assert float(jax.jit(lambda b: b["reward"].sum())(batch)) == pytest.approx(batch["reward"].sum())


def test_slots_read_back_and_order_rule():
    buffer = filled()
    batch = buffer.sample(np.array([0, 3]))
    assert isinstance(batch, Batch)
    np.testing.assert_array_equal(batch["reward"], [0.0, 3.0])
    assert ordered(("V", "reward", "x", "state")) == ["state", "reward", "V", "x"]
