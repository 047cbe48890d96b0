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


@pytest.mark.slow
def test_executables_are_not_shared_across_devices():
    """Programs placed on another device (an argument committed to it, or JAX's default device) get their own
    executable: the lowered text does not name the device (two forced CPU devices, in a subprocess)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PLACED], env=env, capture_output=True, text=True, timeout=300,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[[0], [1], [1], [1], [0]]"


# ---------------------------------------------------------------------------------------------------------
# The bound of the process-wide cache and clearing it


@pytest.fixture
def bounded(monkeypatch):
    """An empty process-wide cache whose bound the test may change (restored after it)."""
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})
    previous = shared_jit.set_cache_size(shared_jit.DEFAULT_CACHE_SIZE)
    yield
    shared_jit.set_cache_size(previous)


def _adder(k):
    return lambda x: x + np.float32(k)  # k is a constant of the lowered program: one program per k


def _executable(fn):
    return next(iter(fn._by_signature.values()))


def test_the_cache_keeps_the_most_recently_used_programs_up_to_its_bound(bounded):
    assert shared_jit.set_cache_size(3) == shared_jit.DEFAULT_CACHE_SIZE
    x = np.zeros(2, np.float32)
    first = [SharedJit(_adder(k)) for k in range(5)]
    for k, fn in enumerate(first):
        assert float(fn(x)[0]) == k
    cached = [_executable(first[k]) for k in (2, 3, 4)]            # 5 programs, the last 3 kept
    assert list(shared_jit._EXECUTABLES.values()) == cached
    again = SharedJit(_adder(2))
    again(x)                                                        # found: now the most recently used
    assert _executable(again) is _executable(first[2])
    fresh = SharedJit(_adder(5))
    assert float(fresh(x)[0]) == 5.0                                # evicts the least recently used: 3
    assert list(shared_jit._EXECUTABLES.values()) == [_executable(first[4]), _executable(first[2]),
                                                      _executable(fresh)]
    evicted = SharedJit(_adder(0))
    assert float(evicted(x)[0]) == 0.0                              # compiled again
    assert _executable(evicted) is not _executable(first[0])
    assert float(first[0](x)[0]) == 0.0                             # a live function keeps its own


def test_a_bound_of_zero_shares_nothing_and_live_functions_keep_their_executables(bounded):
    shared_jit.set_cache_size(0)
    x = np.ones(2, np.float32)
    one, two = SharedJit(_adder(1)), SharedJit(_adder(1))
    assert float(one(x)[0]) == 2.0 and float(two(x)[0]) == 2.0
    assert not shared_jit._EXECUTABLES and _executable(one) is not _executable(two)
    assert one.cache_size() == 1 and float(one(x)[0]) == 2.0


def test_lowering_the_bound_evicts_at_once(bounded):
    for k in range(4):
        SharedJit(_adder(k))(np.zeros(1, np.float32))
    shared_jit.set_cache_size(1)
    assert len(shared_jit._EXECUTABLES) == 1


@pytest.mark.parametrize("size", [-1, 1.5, True, "8", None])
def test_cache_size_must_be_a_non_negative_int(size):
    with pytest.raises((TypeError, ValueError), match=rf"set_cache_size: size must be a non-negative int .*, "
                                                      rf"got {size!r}"):
        shared_jit.set_cache_size(size)


@pytest.mark.parametrize("value, expected", [(None, shared_jit.DEFAULT_CACHE_SIZE), ("8", 8), ("0", 0)])
def test_the_environment_sets_the_initial_bound(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SYMGRAPH_CACHE_SIZE", raising=False)
    else:
        monkeypatch.setenv("SYMGRAPH_CACHE_SIZE", value)
    assert shared_jit.size_from_environment() == expected


@pytest.mark.parametrize("value", ["-2", "many", "1e3"])
def test_a_malformed_environment_bound_is_refused(monkeypatch, value):
    monkeypatch.setenv("SYMGRAPH_CACHE_SIZE", value)
    with pytest.raises(ValueError, match=rf"SYMGRAPH_CACHE_SIZE must be a non-negative int .*, got {value!r}"):
        shared_jit.size_from_environment()


def test_clear_caches_empties_the_cache_and_live_functions_compile_again(bounded):
    import symgraph as sg

    x = np.ones(3, np.float32)
    fn = SharedJit(scaled_sum)
    state = {"w": jnp.float32(2.0)}
    assert float(fn(state, {"a": x})["total"]) == 6.0
    old = _executable(fn)
    sg.clear_caches()
    assert not shared_jit._EXECUTABLES and fn.cache_size() == 0 and fn._last is None
    assert float(fn(state, {"a": x})["total"]) == 6.0
    assert _executable(fn) is not old and len(shared_jit._EXECUTABLES) == 1
