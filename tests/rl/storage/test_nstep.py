"""The one n-step rule: closed forms on the host Buffer, and the host replay against the device replay
(symgraph.rl.fused.replay) on the same pushed data, with terminations, truncations, a wrapped ring and
several sub-environments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symgraph import rl
from symgraph.rl.fused import replay
from symgraph.rl.storage import nstep

G = 0.5
# One environment, rewards 1, 2, 4, 8, 16: a truncation after the third step, a termination after the fourth.
FLAGS = [(False, False), (False, False), (False, True), (True, False), (False, False)]


def closed_form_buffer(maxlen=8):
    buffer = rl.Buffer(maxlen)
    for t, (term, trunc) in enumerate(FLAGS):
        buffer.push({"reward": 2.0 ** t, "terminal": term, "truncated": trunc, "next-state": np.array([t + 1.0])})
    return buffer


def test_closed_form_on_the_host():
    out = closed_form_buffer().n_step_targets(np.arange(5), G, 3)
    np.testing.assert_allclose(out["reward"], [1 + G * 2 + G * G * 4, 2 + G * 4, 4, 8, 16])
    np.testing.assert_allclose(out["discount"], [G ** 3, G ** 2, G, 0.0, G])   # the last: the newest row
    np.testing.assert_array_equal(out["next-state"][:, 0], [3, 3, 3, 4, 5])
    one = closed_form_buffer().n_step_targets(np.arange(5), G, 1)
    np.testing.assert_allclose(one["reward"], [1, 2, 4, 8, 16])
    np.testing.assert_allclose(one["discount"], [G, G, G, 0.0, G])
    assert one["reward"].dtype == np.float32 and one["discount"].dtype == np.float32


def test_chain_stops_at_the_newest_row_of_a_wrapped_ring():
    """Rows 5, 6, 7 are stored in a ring of 3 (row 7 newest, physically before row 5): the chain from row 6
    stops after row 7, it does not wrap into the oldest row."""
    buffer = rl.Buffer(3)
    for t in range(8):
        buffer.push({"reward": float(t), "terminal": False, "truncated": False, "next-state": np.array([t + 1.0])})
    slots = {5: 2, 6: 0, 7: 1}                # step -> slot
    out = buffer.n_step_targets(np.array([slots[5], slots[6], slots[7]]), G, 3)
    np.testing.assert_allclose(out["reward"], [5 + G * 6 + G * G * 7, 6 + G * 7, 7])
    np.testing.assert_allclose(out["discount"], [G ** 3, G ** 2, G])
    np.testing.assert_array_equal(out["next-state"][:, 0], [8, 8, 8])


def test_chain_does_not_compare_states():
    """The rule follows rows, not states: a next row whose state differs from the next-state (no episode end)
    continues the chain (the removed state-comparison rule stopped there)."""
    buffer = rl.Buffer(8)
    for t in range(3):
        buffer.push({"state": np.array([100.0 * t]), "reward": 1.0, "terminal": False, "truncated": False,
                     "next-state": np.array([t + 1.0])})
    out = buffer.n_step_targets(np.array([0]), G, 3)
    np.testing.assert_allclose(out["reward"], [1 + G + G * G])


def stream(rows, n_envs, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        terminal = rng.random(n_envs) < 0.15
        out.append({"state": rng.normal(size=(n_envs, 2)).astype(np.float32),
                    "action": rng.integers(0, 2, n_envs).astype(np.int32),
                    "reward": rng.normal(size=n_envs).astype(np.float32),
                    "next-state": rng.normal(size=(n_envs, 2)).astype(np.float32),
                    "terminal": terminal, "truncated": ~terminal & (rng.random(n_envs) < 0.15)})
    return out


@pytest.mark.parametrize("n_step", [1, 2, 4])
@pytest.mark.parametrize("n_envs, rows, capacity", [(1, 30, 64), (1, 39, 16), (3, 25, 21)])
def test_host_equals_device(n_envs, rows, capacity, n_step):
    transitions = stream(rows, n_envs, seed=n_envs + rows)
    host = rl.Buffer(capacity, n_envs=n_envs)
    device = replay.init(capacity, transitions[0])
    for tr in transitions:
        host.push(tr)
        device = replay.add(device, tr)
    indices = np.arange(len(host))
    expected = host.n_step_targets(indices, 0.9, n_step)
    got = jax.jit(replay.n_step_targets, static_argnums=(2, 3))(device, jnp.asarray(indices), 0.9, n_step)
    np.testing.assert_allclose(np.asarray(got["reward"]), expected["reward"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got["discount"]), expected["discount"], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(got["next-state"]), expected["next-state"])
    if n_step > 1:
        assert len(np.unique(expected["discount"])) >= 3   # chains of several lengths and terminations


def test_needed_fields_and_errors():
    assert nstep.needed_fields(1) == ("reward", "next-state", "terminal")
    assert nstep.needed_fields(3)[-1] == "truncated"
    buffer = rl.Buffer(4)
    buffer.push({"reward": 1.0, "terminal": False, "next-state": np.zeros(1)})
    with pytest.raises(KeyError, match="unknown field 'truncated'"):
        buffer.n_step_targets([0], 0.9, 2)
    with pytest.raises(ValueError, match="n_step must be an int >= 1"):
        buffer.n_step_targets([0], 0.9, 0)
    with pytest.raises(ValueError, match=r"gamma must be a number in \[0, 1\]"):
        buffer.n_step_targets([0], 1.5, 1)
    with pytest.raises(IndexError, match=r"integer slots in 0..0"):
        buffer.n_step_targets([1], 0.9, 1)
