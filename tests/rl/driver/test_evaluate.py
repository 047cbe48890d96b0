"""``rl.evaluate``: whole episodes of a policy (returns, lengths), its seeds, limits, action repeat, rendering
and success scoring, and the errors it names; the ``SkipFrames`` wrapper."""

import math

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from symgraph import rl
from symgraph.rl.driver.frames import SkipFrames
from symgraph.rl.run import Evaluation
from tests.rl.test_run import LineEnv, RecordingAgent


class PicturedLineEnv(LineEnv):
    """A LineEnv that renders its step count as a 1x1 image."""

    render_mode = "rgb_array"

    def render(self):
        return np.full((1, 1, 3), self.t, np.uint8)


def test_returns_and_lengths_of_whole_episodes():
    agent = RecordingAgent(action=1)
    scores = rl.evaluate(agent, LineEnv(length=4), episodes=3)
    assert isinstance(scores, Evaluation)
    np.testing.assert_array_equal(scores.returns, [10.0] * 3)
    np.testing.assert_array_equal(scores.lengths, [4] * 3)
    assert scores.mean == 10.0 and scores.std == 0.0 and scores.successes is None and scores.frames == []
    assert all(deterministic for _, deterministic in agent.acts) and len(agent.acts) == 12
    rl.evaluate(agent, LineEnv(length=4), episodes=1, deterministic=False)
    assert agent.acts[-1][1] is False


def test_the_step_limit_and_a_policy_function():
    scores = rl.evaluate(lambda state: 0, LineEnv(length=None), episodes=2, max_episode_steps=3)
    np.testing.assert_array_equal(scores.returns, [6.0, 6.0])
    np.testing.assert_array_equal(scores.lengths, [3, 3])


def test_seeds_the_first_reset_or_each_one():
    env = LineEnv()
    rl.evaluate(lambda state: 0, env, episodes=3, seed=5)
    assert env.seeds == [5, None, None]
    env = LineEnv()
    rl.evaluate(lambda state: 0, env, episodes=3, seed=[7, 8, 9])
    assert env.seeds == [7, 8, 9]
    env = LineEnv()
    rl.evaluate(lambda state: 0, env, episodes=2)
    assert env.seeds == [None, None]


def test_skip_frames_repeats_each_action_and_sums_the_rewards():
    env = LineEnv(length=5)
    scores = rl.evaluate(lambda state: 2, env, episodes=1, skip_frames=2)
    assert scores.returns.tolist() == [15.0] and scores.lengths.tolist() == [3] and env.steps == 5
    scores = rl.evaluate(lambda state: 2, LineEnv(length=5), episodes=1, skip_frames=2, action_processor=lambda a: 1)
    assert scores.lengths.tolist() == [3]


def test_success_and_rendered_frames():
    scores = rl.evaluate(lambda state: 0, PicturedLineEnv(length=3), episodes=2, render=True,
                         success=lambda total, last, terminated, info: terminated and last == 3.0)
    assert scores.successes.tolist() == [True, True]
    assert [int(frame[0, 0, 0]) for frame in scores.frames] == [0, 1, 2, 3] * 2


def test_an_env_made_from_an_id_is_closed_and_an_env_given_is_not():
    scores = rl.evaluate(lambda state: 0, "CartPole-v1", episodes=2, seed=[0, 1])
    assert scores.returns.shape == (2,) and (scores.lengths >= 1).all()
    env = LineEnv(length=2)
    rl.evaluate(lambda state: 0, env, episodes=1)
    env.step(0)  # still usable


@pytest.mark.parametrize("kwargs, error, match", [
    ({"episodes": 0}, ValueError, r"evaluate: episodes must be an int >= 1"),
    ({"max_episode_steps": 0}, ValueError, r"evaluate: max_episode_steps must be an int >= 1 or None"),
    ({"skip_frames": 0}, ValueError, r"evaluate: skip_frames must be an int >= 1"),
    ({"seed": -1}, ValueError, r"evaluate: seed must be >= 0"),
    ({"seed": [1, 2]}, TypeError, r"a sequence of 10 ints"),
    ({"seed": 1.5}, TypeError, r"evaluate: seed must be None, an int"),
    ({"render": True}, ValueError, r"render=True but the env LineEnv has no render_mode"),
    ({"success": 3}, TypeError, r"evaluate: success must be a callable"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rl.evaluate(lambda state: 0, LineEnv(), **kwargs)


def test_errors_name_the_episode_the_step_and_the_env():
    with pytest.raises(ValueError, match=r"invalid action at step 1 of evaluation episode 1 of LineEnv: action 7"):
        rl.evaluate(lambda state: 7, LineEnv(), episodes=1)
    with pytest.raises(ValueError, match=r"after action_processor"):
        rl.evaluate(lambda state: 0, LineEnv(), episodes=1, action_processor=lambda a: 9)
    with pytest.raises(ValueError, match=r"env LineEnv returned reward nan at step 3 of evaluation episode 2"):
        rl.evaluate(lambda state: 0, LineEnv(nan_at=(2, 3)), episodes=3)
    agent = RecordingAgent()
    agent.state_shape = (3,)
    with pytest.raises(ValueError, match=r"observations of shape \(2,\), but the agent has state_shape \(3,\)"):
        rl.evaluate(agent, LineEnv(), episodes=1)
    with pytest.raises(TypeError, match=r"env must be a single env .* got the vector env"):
        rl.evaluate(lambda state: 0, SyncVectorEnv([LineEnv], autoreset_mode=AutoresetMode.SAME_STEP))
    with pytest.raises(TypeError, match=r"agent must have act\(state, deterministic\) or be a function"):
        rl.evaluate(object(), LineEnv())


def test_skip_frames_wrapper():
    env = SkipFrames(LineEnv(length=5), 3)
    env.reset()
    obs, reward, terminated, truncated, _ = env.step(0)
    assert reward == 6.0 and obs[0] == 3 and not terminated and env.frames == 3
    obs, reward, terminated, truncated, _ = env.step(0)
    assert reward == 9.0 and terminated and env.frames == 5  # stopped at the end of the episode
    env = SkipFrames(LineEnv(nan_at=(1, 1)), 2)
    env.reset()
    assert math.isnan(env.step(0)[1])
    with pytest.raises(ValueError, match=r"SkipFrames: skip must be an int >= 1"):
        SkipFrames(LineEnv(), 0)
