"""Tests of symgraph.rl.envs: make_env on every kind of input, the legacy adapter, space descriptions and the
action/observation checks."""

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from symgraph.rl.envs import (
    LegacyEnv,
    ValidateActions,
    check_action,
    check_observation,
    final_observations,
    is_vector_env,
    make_env,
    space_info,
)


class FakeLegacyEnv:
    """A gym < 0.26 style env: reset() returns the observation only, step() a 4-tuple; seed() seeds it.

    The state counts steps; the episode ends by itself (terminal) when the action is 2, and by its internal
    time limit after ``limit`` steps, flagged the way gym's TimeLimit did.
    """

    def __init__(self, limit=5):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Discrete(3)
        self.limit = limit
        self.calls = {"reset": 0, "step": 0, "seed": []}
        self._rng = np.random.default_rng()

    def seed(self, seed):
        self.calls["seed"].append(seed)
        self._rng = np.random.default_rng(seed)

    def reset(self):
        self.calls["reset"] += 1
        self.t = 0
        return np.array([0.0, self._rng.random()], np.float32)

    def step(self, action):
        self.calls["step"] += 1
        self.t += 1
        obs = np.array([self.t, self._rng.random()], np.float32)
        if action == 2:
            return obs, 1.0, True, {}
        if self.t >= self.limit:
            return obs, 0.5, True, {"TimeLimit.truncated": True}
        return obs, 0.5, False, {"extra": self.t}


class gym_spaces:   # noqa: N801 - stands for the module gym.spaces
    class Box:
        """A duck-typed stand-in for gym's own Box class (not a gymnasium space)."""

        def __init__(self):
            self.low, self.high, self.shape, self.dtype = np.zeros(2), np.ones(2), (2,), np.float32


# ---------------------------------------------------------------------------------------------------------
# Legacy adapter


def test_legacy_env_adapter_maps_done_to_terminated_and_truncated():
    env = LegacyEnv(FakeLegacyEnv(limit=3))
    obs, info = env.reset(seed=4)
    assert obs.shape == (2,) and info == {} and env.legacy_env.calls["seed"] == [4]
    assert isinstance(env.action_space, spaces.Discrete)
    obs, r, terminated, truncated, info = env.step(0)
    assert (r, terminated, truncated, info) == (0.5, False, False, {"extra": 1})
    env.step(0)
    *_, terminated, truncated, info = env.step(0)   # the internal time limit
    assert (terminated, truncated) == (False, True) and "TimeLimit.truncated" not in info
    env.reset()
    *_, terminated, truncated, _ = env.step(2)       # a real termination
    assert (terminated, truncated) == (True, False)


def test_legacy_env_seeding_is_reproducible_through_make_env():
    a, b = make_env(FakeLegacyEnv(), seed=3), make_env(FakeLegacyEnv(), seed=3)
    assert isinstance(a.unwrapped, LegacyEnv)
    np.testing.assert_array_equal(a.reset()[0], b.reset()[0])
    np.testing.assert_array_equal(a.step(0)[0], b.step(0)[0])


def test_legacy_env_class_as_factory_makes_a_vector_env():
    env = make_env(FakeLegacyEnv, n_envs=2, seed=0, env_kwargs={"limit": 2})
    assert is_vector_env(env) and env.num_envs == 2
    obs, _ = env.reset()
    assert obs.shape == (2, 2)
    env.step(np.array([0, 0]))
    obs, _, terminated, truncated, info = env.step(np.array([0, 2]))
    np.testing.assert_array_equal(truncated, [True, False])
    np.testing.assert_array_equal(terminated, [False, True])
    np.testing.assert_array_equal(final_observations(obs, info)[:, 0], [2, 2])   # last obs of the episodes
    np.testing.assert_array_equal(obs[:, 0], [0, 0])                            # already reset
    env.close()


def test_legacy_gym_spaces_are_converted_and_bad_envs_rejected():
    fake = FakeLegacyEnv()
    fake.observation_space = gym_spaces.Box()
    env = LegacyEnv(fake)
    assert isinstance(env.observation_space, spaces.Box) and env.observation_space.shape == (2,)
    fake.observation_space = object()
    with pytest.raises(TypeError, match="cannot convert the observation_space"):
        LegacyEnv(fake)
    with pytest.raises(TypeError, match="has no reset"):
        LegacyEnv(object())

    class BadStep(FakeLegacyEnv):
        def step(self, action):
            return 1, 2, 3

    with pytest.raises(ValueError, match="returned tuple of 3 values; expected"):
        LegacyEnv(BadStep()).step(0)


# ---------------------------------------------------------------------------------------------------------
# make_env


def test_make_env_from_id_is_seeded_and_records_episodes():
    def episode(env):
        obs, _ = env.reset()
        observations, done, info = [obs], False, {}
        while not done:
            obs, _, terminated, truncated, info = env.step(1)
            observations.append(obs)
            done = terminated or truncated
        return np.array(observations), info

    (obs_a, info), (obs_b, _) = (episode(make_env("CartPole-v1", seed=0)),
                                 episode(make_env("CartPole-v1", seed=0)))
    np.testing.assert_array_equal(obs_a, obs_b)
    assert info["episode"]["l"] == len(obs_a) - 1
    assert not np.array_equal(obs_a[0], episode(make_env("CartPole-v1", seed=1))[0][0])
    assert _samples(0, 8) == _samples(0, 8) != _samples(1, 8)   # the action space is seeded too


def _samples(seed, n):
    env = make_env("CartPole-v1", seed=seed)
    return [env.action_space.sample() for _ in range(n)]


def test_make_env_time_limit_on_an_instance():
    env = make_env(gymnasium.make("Pendulum-v1"), max_episode_steps=7, seed=0)
    env.reset()
    flags = [env.step(np.zeros(1, np.float32))[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_make_env_wrappers():
    env = make_env("CartPole-v1", frame_stack=3, normalize_obs=True, normalize_reward=True, seed=0)
    obs, _ = env.reset()
    assert obs.shape == (3, 4) and space_info(env).obs_shape == (3, 4)
    pendulum = make_env("Pendulum-v1", rescale_actions=(-1.0, 1.0), seed=0)
    np.testing.assert_array_equal(pendulum.action_space.low, [-1.0])
    clipped = make_env("Pendulum-v1", clip_actions=True, seed=0)
    clipped.reset()
    clipped.step(np.array([10.0], np.float32))   # clipped, so accepted
    np.testing.assert_array_equal(space_info(clipped).action_high, [2.0])   # the bounds it clips to
    seen = []
    make_env("CartPole-v1", wrappers=[lambda e: seen.append(type(e).__name__) or e])
    assert seen == ["TimeLimit"]   # user wrappers come right around the base env


def test_make_env_vector_from_id():
    env = make_env("CartPole-v1", n_envs=3, seed=0)
    assert isinstance(env, VectorEnv) and env.num_envs == 3
    assert env.unwrapped.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = env.reset()
    assert obs.shape == (3, 4)
    info = space_info(env)
    assert info.n_envs == 3 and info.n_actions == 2 and info.obs_shape == (4,)
    for _ in range(200):   # every step is a real transition; ended episodes hand back their last obs
        obs, _, terminated, truncated, info = env.step(np.ones(3, dtype=np.int64))
        if np.any(terminated | truncated):
            nxt = final_observations(obs, info)
            ended = np.flatnonzero(terminated | truncated)
            assert np.all(np.abs(nxt[ended, 2]) > 0.2)   # the pole fell (about 12 degrees)
            assert "episode" in info
            break
    else:
        pytest.fail("no episode ended")
    env.close()


def test_make_env_accepts_a_vector_env():
    vec = gymnasium.make_vec("CartPole-v1", num_envs=2)
    env = make_env(vec, seed=0)
    assert env.num_envs == 2 and env.unwrapped is vec.unwrapped
    with pytest.raises(ValueError, match="vector env of 2 sub-environments but n_envs=3"):
        make_env(vec, n_envs=3)
    with pytest.raises(ValueError, match="wrap each sub-environment"):
        make_env(vec, max_episode_steps=10)


def test_make_env_errors():
    with pytest.raises(ValueError, match="cannot make 2 copies of an env instance"):
        make_env(gymnasium.make("CartPole-v1"), n_envs=2)
    with pytest.raises(ValueError, match="n_envs must be a positive int"):
        make_env("CartPole-v1", n_envs=0)
    with pytest.raises(ValueError, match="vectorization_mode must be 'sync' or 'async'"):
        make_env("CartPole-v1", n_envs=2, vectorization_mode="gpu")
    with pytest.raises(ValueError, match="validate must be True"):
        make_env("CartPole-v1", validate="first")
    with pytest.raises(TypeError, match="expected an env id"):
        make_env(42)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_envs": 10**30}, ValueError, r"n_envs must be a positive int \(at most 2\*\*31 - 1\), got 10{30}"),
    ({"seed": -1}, ValueError, r"seed must be None or an int >= 0 .*got -1; pass a seed >= 0"),
    ({"seed": 2.5}, TypeError, r"seed must be None or an int >= 0 .*got float 2.5"),
    ({"seed": True}, TypeError, r"seed must be None or an int >= 0"),
    ({"frame_stack": 10**30}, ValueError, r"frame_stack must be None or a positive int \(at most 2\*\*31 - 1"),
    ({"frame_stack": -1}, ValueError, r"frame_stack must be None or a positive int .*got -1"),
    ({"frame_stack": 1e20}, TypeError, r"frame_stack must be None or a positive int .*got float 1e\+20"),
    ({"frame_stack": 2**31 - 1}, ValueError, r"frame_stack=2147483647: cannot allocate .*lower frame_stack"),
    ({"validate": np.zeros((2, 2))}, ValueError, r"validate must be True .*got ndarray"),
    ({"validate": -1}, ValueError, r"validate must be True .*got -1"),
])
def test_make_env_names_the_argument_it_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_env("CartPole-v1", **kwargs)


def test_make_env_accepts_numpy_ints_and_no_stacking():
    env = make_env("CartPole-v1", seed=np.int64(3), n_envs=np.int64(1), frame_stack=0)
    assert env.reset()[0].shape == (4,) and make_env("CartPole-v1", seed=3).reset()[0].tolist() == \
        env.reset(seed=3)[0].tolist()
    assert make_env("CartPole-v1", frame_stack=np.int64(2)).reset()[0].shape == (2, 4)


@pytest.mark.parametrize("env_id, match", [
    ("", r"env_or_id '' is not the id of a registered gymnasium environment \(Malformed environment ID"),
    ("nope-v0", r"env_or_id 'nope-v0' is not the id of a registered gymnasium environment \(Environment `nope` "
                r"doesn't exist"),
    ("cartpole-v1", r"'cartpole-v1' .*; did you mean CartPole-v1, .*gymnasium.pprint_registry\(\)"),
    ("CartPole-v9", r"'CartPole-v9' .*version `v9`.*did you mean CartPole-v1"),
])
def test_make_env_names_an_unknown_env_id_and_close_ones(env_id, match):
    for n_envs, mode in ((1, "sync"), (2, "sync"), (2, "async")):  # async: refused before any process starts
        with pytest.raises(ValueError, match=match):
            make_env(env_id, n_envs=n_envs, vectorization_mode=mode)


def test_validation_covers_the_first_steps_only():
    env = make_env("Pendulum-v1", validate=2, seed=0)
    env.reset()
    env.step(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match=r"action \[5.\] is outside Box.*clip_actions=True"):
        env.step(np.array([5.0]))
    env.step(np.zeros(1, np.float32))
    env.step(np.array([5.0], np.float32))   # past the validated steps: Pendulum clips it itself
    always = make_env("CartPole-v1", validate=True)
    always.reset(seed=0)
    for t in range(150):   # past the default 100 validated steps
        _, _, terminated, truncated, _ = always.step(t % 2)
        if terminated or truncated:
            always.reset()
    with pytest.raises(ValueError, match="out of range for Discrete"):
        always.step(3)
    vec = make_env("CartPole-v1", n_envs=2)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="outside MultiDiscrete"):
        vec.step(np.array([0, 2]))
    assert not any(isinstance(w, ValidateActions) for w in _chain(make_env("CartPole-v1", validate=False)))


def _chain(env):
    while env is not None:
        yield env
        env = getattr(env, "env", None)


# ---------------------------------------------------------------------------------------------------------
# Spaces and checks


def test_space_info():
    cart = space_info(gymnasium.make("CartPole-v1"))
    assert (cart.obs_shape, cart.discrete, cart.n_actions, cart.action_shape) == ((4,), True, 2, ())
    assert cart.n_states is None and cart.action_low is None and cart.n_envs == 1
    pend = space_info(gymnasium.make("Pendulum-v1"))
    assert (pend.obs_shape, pend.discrete, pend.n_actions, pend.action_shape) == ((3,), False, None, (1,))
    np.testing.assert_array_equal(pend.action_low, [-2.0])
    np.testing.assert_array_equal(pend.action_high, [2.0])
    assert pend.obs_dtype == np.float32
    lake = space_info(gymnasium.make("FrozenLake-v1"))
    assert (lake.obs_shape, lake.n_states, lake.n_actions) == ((), 16, 4)


class _Spaces:
    def __init__(self, observation_space, action_space):
        self.observation_space, self.action_space = observation_space, action_space


def test_space_info_rejects_unsupported_spaces():
    box = spaces.Box(-1, 1, (2,))
    with pytest.raises(TypeError, match="observation space Dict.*FlattenObservation"):
        space_info(_Spaces(spaces.Dict({"a": box}), spaces.Discrete(2)))
    with pytest.raises(TypeError, match="action space MultiDiscrete.*take Discrete .* or Box"):
        space_info(_Spaces(box, spaces.MultiDiscrete([2, 3])))
    with pytest.raises(TypeError, match="has no observation_space"):
        space_info(object())


@pytest.mark.parametrize("space, action", [
    (spaces.Discrete(3), 2), (spaces.Discrete(3), np.int32(0)), (spaces.Discrete(2, start=1), 2),
    (spaces.Box(-1, 1, (2,)), np.array([0.5, -1.0])), (spaces.Box(-1, 1, (2,)), [1, 0]),
    (spaces.MultiDiscrete([2, 2]), np.array([1, 0])), (spaces.MultiBinary(3), np.array([0, 1, 1])),
])
def test_check_action_accepts_valid_actions(space, action):
    assert check_action(space, action) is action


@pytest.mark.parametrize("space, action, match", [
    (spaces.Discrete(3), 3, r"action 3 is out of range for Discrete\(3\): valid actions are 0\.\.2"),
    (spaces.Discrete(2, start=1), 0, r"valid actions are 1\.\.2"),
    (spaces.Discrete(3), np.array([0.1, 0.8, 0.1]), "not a one-hot vector or probabilities"),
    (spaces.Discrete(3), 1.0, r"\(float64\) is not valid .* int\(action\)"),
    (spaces.Box(-1, 1, (2,)), np.zeros(3), r"has shape \(3,\) but Box.* takes shape \(2,\)"),
    (spaces.Box(-1, 1, (2,)), np.zeros((1, 2)), r"action\[0\]"),
    (spaces.Box(-1, 1, (2,)), np.array([0.0, np.nan]), "not finite"),
    (spaces.Box(-1, 1, (2,)), np.array([0.0, 1.5]), r"entry \(1,\) is 1.5, bounds \[-1.0, 1.0\].*np.clip"),
    (spaces.MultiDiscrete([2, 2]), np.array([0, 2]), r"entry \(1,\) is 2, valid 0\.\.1"),
    (spaces.MultiBinary(2), np.array([0, 2]), "0/1 values"),
])
def test_check_action_errors(space, action, match):
    with pytest.raises(ValueError, match=match):
        check_action(space, action)


def test_check_observation():
    assert check_observation(np.zeros(4), (4,)) is not None
    check_observation(np.zeros((3, 4)), (4,), n_envs=3)
    check_observation(np.zeros((7, 4)), (None, 4))
    with pytest.raises(ValueError, match=r"observation of shape \(3,\) does not match the expected state "
                                         r"shape \(4,\).*space_info\(env\).obs_shape"):
        check_observation(np.zeros(3), (4,))
    with pytest.raises(ValueError, match=r"shape \(2, 4\) does not match .* \(3, 4\) \(a batch of 3"):
        check_observation(np.zeros((2, 4)), (4,), n_envs=3)


def test_final_observations_without_ended_episodes_returns_the_input():
    obs = np.zeros((2, 3))
    assert final_observations(obs, {}) is obs


def test_make_env_vector_continuous_with_wrappers():
    env = make_env("Pendulum-v1", n_envs=2, rescale_actions=(-1, 1), clip_actions=True, normalize_obs=True,
                   normalize_reward=True, seed=0)
    obs, _ = env.reset()
    assert obs.shape == (2, 3)
    info = space_info(env)
    np.testing.assert_array_equal(info.action_high, [1.0])   # the agent's range, which ClipAction enforces
    _, reward, *_ = env.step(np.full((2, 1), 3.0, np.float32))
    assert reward.shape == (2,)
    env.close()
