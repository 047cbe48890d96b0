import gymnasium as gym
import pytest
from gymnasium import spaces


class Chain(gym.Env):
    """A 3-state chain 0 -> 1 -> 2 (terminal) with one action; reward 1 on reaching 2."""

    def __init__(self, n_actions=1):
        self.observation_space = spaces.Discrete(3)
        self.action_space = spaces.Discrete(n_actions)
        self.P = {s: {a: [(1.0, min(s + 1, 2), float(s == 1), s >= 1)] for a in range(n_actions)}
                  for s in range(3)}
        self.initial_state_distrib = [1.0, 0.0, 0.0]
        self._s = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._s = 0
        return 0, {}

    def step(self, action):
        self._s = min(self._s + 1, 2)
        return self._s, float(self._s == 2), self._s == 2, False, {}


@pytest.fixture
def chain():
    return Chain()


@pytest.fixture
def make_chain():
    return Chain


@pytest.fixture(scope="module")
def frozen_lake():
    return gym.make("FrozenLake-v1")
