"""SharedJit: one executable per identical program in the process, never confused between signatures."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symgraph import shared_jit
from symgraph.shared_jit import SharedJit


def scaled_sum(state, batch):
    return {"total": state["w"] * sum(jnp.sum(v) for v in batch.values())}


def test_identical_programs_share_one_executable(monkeypatch):
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})
    first, second = SharedJit(scaled_sum), SharedJit(scaled_sum)
    state, batch = {"w": jnp.float32(2.0)}, {"a": np.ones(3, np.float32)}
    assert float(first(state, batch)["total"]) == 6.0
    assert float(second(state, batch)["total"]) == 6.0
    assert len(shared_jit._EXECUTABLES) == 1
    assert first._by_signature[next(iter(first._by_signature))] is second._by_signature[
        next(iter(second._by_signature))]


def test_a_new_signature_is_looked_up_not_run_on_the_previous_executable(monkeypatch):
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})
    fn = SharedJit(scaled_sum)
    state = {"w": jnp.float32(1.0)}
    assert float(fn(state, {"a": np.ones(3, np.float32)})["total"]) == 3.0
    assert float(fn(state, {"a": np.ones(5, np.float32)})["total"]) == 5.0               # another shape
    # another tree structure whose extra entry the program may ignore: its own executable
    assert float(fn(state, {"a": np.ones(5, np.float32), "b": np.ones(2, np.float32)})["total"]) == 7.0
    assert float(fn(state, {"a": np.ones(3, np.float32)})["total"]) == 3.0
    assert fn.cache_size() == 3 and len(shared_jit._EXECUTABLES) == 3


def test_programs_differing_only_in_an_unused_input_are_not_confused(monkeypatch):
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})

    def first_only(state, batch):
        return state["w"] * jnp.sum(batch["a"])

    fn, other = SharedJit(first_only), SharedJit(first_only)
    state = {"w": jnp.float32(1.0)}
    assert float(fn(state, {"a": np.ones(2, np.float32)})) == 2.0
    assert float(other(state, {"a": np.ones(2, np.float32), "unused": np.ones(2, np.float32)})) == 2.0
    assert len(shared_jit._EXECUTABLES) == 2


def test_programs_differing_only_in_their_result_structure_are_not_confused(monkeypatch):
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})
    # the same lowered text (an empty node has no leaf to name in it), another result tree
    one, two = SharedJit(lambda x: (x + 1, ())), SharedJit(lambda x: (x + 1, (), ()))
    x = np.ones(2, np.float32)
    assert len(one(x)) == 2 and len(two(x)) == 3
    assert len(shared_jit._EXECUTABLES) == 2


def test_disable_jit_runs_the_function_op_by_op():
    seen = []

    def spy(x):
        seen.append(type(x).__name__)
        return x + 1

    fn = SharedJit(spy)
    with jax.disable_jit():
        assert float(fn(np.float32(1.0))) == 2.0
    assert seen == ["float32"]  # a concrete value, not a tracer: nothing was traced or compiled
    assert fn.cache_size() == 0


def test_errors_of_the_program_still_surface():
    fn = SharedJit(lambda x: x @ x)
    with pytest.raises(TypeError):
        fn(np.ones((2, 3), np.float32))


PLACED = """
import jax, numpy as np
from symgraph.shared_jit import SharedJit

double = lambda x: 2 * x
first, second, third = SharedJit(double), SharedJit(double), SharedJit(double)
x = np.ones(3, np.float32)
devices = []
devices.append(first(x).devices())
devices.append(second(jax.device_put(x, jax.devices()[1])).devices())  # committed to the second device
with jax.default_device(jax.devices()[1]):
    devices.append(third(x).devices())
    devices.append(first(x).devices())  # the first function again, now on the default device
devices.append(first(x).devices())
print([sorted(d.id for d in found) for found in devices])
"""


def test_executables_are_not_shared_across_devices():
    """Programs placed on another device (an argument committed to it, or JAX's default device) get their own
    executable: the lowered text does not name the device (two forced CPU devices, in a subprocess)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PLACED], env=env, capture_output=True, text=True, timeout=300,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[[0], [1], [1], [1], [0]]"
