"""Memory stays bounded while learners with programs of their own are built, used and dropped in a loop (the
process-wide executable cache keeps a bounded number of programs), and clearing every cache leaves live
learners working."""

import functools
import gc
import os

import numpy as np
import pytest

import symgraph as sg
from symgraph import rl, shared_jit

LOOPS = 10
BOUND = 2                      # programs the shared cache keeps during the loop
ALLOWED_GROWTH_MIB = 8.0       # each iteration compiles two programs of ~1.5 MiB: 15 MiB if none were freed


def _rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class _ScaledCritic(rl.MLPCritic):
    """An MLP critic whose Q-values are multiplied by a constant of the compiled programs (one program per
    scale, with the same shapes: nothing but the programs differs between the learners of the loop)."""

    scale = 1.0

    def create_network(self, states, actions=None):
        return super().create_network(states, actions) * self.scale


def _learner(scale):
    critic = type("ScaledCritic", (_ScaledCritic,), {"scale": scale})
    return rl.DQN.from_env("CartPole-v1", batch_size=8, critic=functools.partial(critic, hidden=(16,)), seed=0)


def _buffer():
    buffer = rl.Buffer(16, seed=0)
    for t in range(8):
        buffer.push({"state": np.full(4, t / 8, np.float32), "action": np.int32(t % 2), "reward": 1.0,
                     "next-state": np.full(4, (t + 1) / 8, np.float32), "terminal": False, "truncated": False})
    return buffer


def _use_once(scale):
    """Build a learner with programs of its own, act and update once, and drop it."""
    with sg.Graph("loop"):
        agent = _learner(scale)
        agent.act(np.zeros(4, np.float32))
        agent.update(_buffer())


@pytest.fixture
def small_cache():
    previous = sg.set_cache_size(BOUND)
    yield
    sg.set_cache_size(previous)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set size from /proc")
def test_rss_plateaus_while_learners_with_distinct_programs_come_and_go(small_cache):
    sizes = []
    for i in range(LOOPS):
        _use_once(1.0 + i / 64)
        gc.collect()
        sizes.append(_rss_mib())
    assert len(shared_jit._EXECUTABLES) <= BOUND
    growth = sizes[-1] - sizes[LOOPS // 2 - 1]
    assert growth < ALLOWED_GROWTH_MIB, f"RSS grew by {growth:.1f} MiB over the second half: {sizes}"


@pytest.mark.slow
def test_live_learners_work_the_same_after_clear_caches():
    states = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    first, second = _learner(1.0), _learner(1.0)
    q_before = first.q_values(states)
    metrics_before = first.update(_buffer())
    sg.clear_caches()
    assert not shared_jit._EXECUTABLES
    np.testing.assert_allclose(second.q_values(states), q_before, rtol=1e-6)      # compiled again
    np.testing.assert_allclose(second.update(_buffer())["loss"], metrics_before["loss"], rtol=1e-6)
    np.testing.assert_allclose(second.q_values(states), first.q_values(states), rtol=1e-6)
