"""Tests of symgraph.rl.run: each parameter's effect on tiny fake environments with counted calls, the
agent protocol and its tabular adapter, vector environments, the bad-input errors, and one real learning run
(tabular Q-learning on FrozenLake)."""

import math

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from symgraph.errors import ShapeError
from symgraph.rl import returns
from symgraph.rl.buffer import Buffer
from symgraph.rl.protocol import Agent, ObservingAgent, StepAgent, as_agent, finish_running_paths
from symgraph.rl.run import EVAL_SEED_OFFSET, RunResult, run
from symgraph.rl.tabular import LinearDecay, QLearning, Trainer

# ---------------------------------------------------------------------------------------------------------
# Fakes


class LineEnv(gymnasium.Env):
    """Observation ``[t, marker]`` (``t``: steps taken in the episode); the reward of the ``t``-th step is
    ``t`` (so sums over repeated frames are recognisable). The episode ends after ``length`` steps: a
    termination, or a truncation with ``truncate=True``; ``length=None``: never. ``nan_at=(episode, t)``
    returns a NaN reward there. Counts resets, steps, the actions received and the reset seeds."""

    def __init__(self, length=5, truncate=False, marker=0.0, continuous=False, nan_at=None, noisy=False):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(3)
        self.length, self.truncate, self.marker, self.nan_at, self.noisy = length, truncate, marker, nan_at, noisy
        self.resets, self.steps, self.actions, self.seeds = 0, 0, [], []
        self.t = 0

    def _obs(self):
        jitter = self.np_random.random() if self.noisy else 0.0
        return np.array([self.t + jitter, self.marker], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        self.seeds.append(seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.steps += 1
        self.actions.append(np.array(action).copy())
        self.t += 1
        reward = float(self.t)
        if self.nan_at == (self.resets, self.t):
            reward = math.nan
        end = self.length is not None and self.t >= self.length
        return self._obs(), reward, end and not self.truncate, end and self.truncate, {}


class RecordingAgent:
    """A buffer agent that acts with a fixed action and records every call."""

    state_shape = (2,)

    def __init__(self, action=0):
        self.action = action
        self.acts = []         # (states, deterministic)
        self.updates = []      # len(buffer) at each update
        self.ends = 0

    def act(self, states, deterministic=False):
        states = np.asarray(states)
        self.acts.append((states.copy(), deterministic))
        if states.ndim == 2:
            return np.full(len(states), self.action)
        return self.action

    def update(self, buffer):
        self.updates.append(len(buffer))
        return {"loss": float(len(self.updates))}

    def end_episode(self):
        self.ends += 1


class ValueAgent(RecordingAgent):
    """Stores ``V = v`` with each step (act_and_extras) and bootstraps with ``value(s) = boot``."""

    def __init__(self, v=0.5, boot=2.0, finish=False):
        super().__init__()
        self.v, self.boot, self.finish = v, boot, finish
        self.value_calls = []
        self.nan_advantages_at_update = []

    def act_and_extras(self, states):
        action = self.act(states)
        v = np.full(np.shape(action), self.v) if np.ndim(action) else self.v
        return action, {"V": v}

    def value(self, states):
        self.value_calls.append(np.asarray(states).copy())
        return np.full(np.shape(states)[:-1], self.boot)

    def update(self, buffer):
        if self.finish:
            finish_running_paths(buffer, self.value)
        advantages = buffer["advantage"] if "advantage" in buffer else np.array([np.nan])  # none finished yet
        self.nan_advantages_at_update.append(bool(np.isnan(advantages).any()))
        return super().update(buffer)


class CountingNoise:
    def __init__(self, value=0.5):
        self.value, self.calls, self.resets = value, 0, 0

    def __call__(self):
        self.calls += 1
        return np.array([self.value])

    def reset(self):
        self.resets += 1


def _run(env, agent, buffer=None, **kwargs):
    kwargs.setdefault("eval_every", 0)
    return run(env, agent, Buffer(1000) if buffer is None else buffer, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Each parameter


def test_basic_accounting_and_stored_fields():
    env, agent, buffer = LineEnv(length=4), RecordingAgent(action=2), Buffer(100)
    result = run(env, agent, buffer, max_episodes=3, eval_every=0)
    assert isinstance(result, RunResult)
    assert result.episode_returns == [10.0] * 3 and result.episode_lengths == [4] * 3
    assert result.episode_steps == [4, 8, 12] and result.total_steps == result.total_frames == 12
    assert env.resets == 3 and env.steps == 12 and agent.ends == 3
    assert result.stop_reason == "max_episodes" and result.wall_time > 0
    np.testing.assert_array_equal(buffer["state"][:4, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(buffer["next-state"][:4, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(buffer["action"], [2] * 12)
    np.testing.assert_array_equal(buffer["terminal"][:4], [False, False, False, True])
    assert not buffer["truncated"].any()
    assert all(d is False for _, d in agent.acts)
    assert len(result.losses) == 12 and result.update_steps == list(range(1, 13))


def test_skip_frames_repeats_the_action_and_sums_rewards():
    env, agent, buffer = LineEnv(length=7), RecordingAgent(action=1), Buffer(100)
    result = run(env, agent, buffer, skip_frames=3, max_episodes=2, eval_every=0)
    # 7 frames per episode: actions of 3, 3 and 1 frames (stopping at the end of the episode).
    assert env.steps == 14 and len(agent.acts) == 6
    np.testing.assert_array_equal(buffer["reward"], [6, 15, 7] * 2)
    np.testing.assert_array_equal(buffer["next-state"][:3, 0], [3, 6, 7])
    assert result.episode_lengths == [3, 3] and result.episode_returns == [28.0, 28.0]
    assert result.total_steps == 6 and result.total_frames == 14


@pytest.mark.parametrize("every, after, expected", [
    (1, 1, list(range(1, 21))),
    (3, 7, [9, 12, 15, 18]),
    (5, 0, [5, 10, 15, 20]),
    (4, 10, [12, 16, 20]),
])
def test_update_every_and_update_after(every, after, expected):
    agent = RecordingAgent()
    result = _run(LineEnv(length=5), agent, update_every=every, update_after=after, max_episodes=4)
    assert result.update_steps == expected
    assert agent.updates == expected  # len(buffer) at each update: every step pushed before it
    assert [m["loss"] for m in result.losses] == [float(i) for i in range(1, len(expected) + 1)]


@pytest.mark.parametrize("every, episodes, expected", [(1, 4, [5, 10, 15, 20]), (7, 5, [10, 15, 25])])
def test_wait_end_path_updates_only_at_episode_ends(every, episodes, expected):
    agent = ValueAgent()
    result = _run(LineEnv(length=5), agent, Buffer(1000, gamma=0.9), update_every=every, wait_end_path=True,
                  max_episodes=episodes)
    assert result.update_steps == expected
    assert not any(agent.nan_advantages_at_update)  # the path was finished before the update


@pytest.mark.parametrize("reset, expected", [(True, [5, 5, 5]), (False, [5, 10, 15])])
def test_reset_each_episode_clears_the_buffer(reset, expected):
    agent = RecordingAgent()
    _run(LineEnv(length=5), agent, reset_each_episode=reset, wait_end_path=True, max_episodes=3)
    assert agent.updates == expected


def test_noise_added_clipped_and_reset_per_episode():
    env, noise, buffer = LineEnv(length=4, continuous=True), CountingNoise(0.5), Buffer(100)
    result = run(env, RecordingAgent(action=np.array([0.9])), buffer, noise=noise, max_episodes=3, eval_every=0)
    assert noise.resets == 3 and noise.calls == result.total_steps == 12
    np.testing.assert_allclose(buffer["action"], 1.0)     # 0.9 + 0.5 clipped to the Box bound
    np.testing.assert_allclose(np.concatenate(env.actions), 1.0)


def test_noise_with_action_processor_is_not_clipped_and_stored_before_processing():
    env, buffer = LineEnv(length=3, continuous=True), Buffer(100)
    seen = []

    def processor(action):
        seen.append(np.array(action))
        return np.clip(action / 2, -1, 1).astype(np.float32)

    run(env, RecordingAgent(action=np.array([0.9])), buffer, noise=CountingNoise(0.5),
        action_processor=processor, max_episodes=1, eval_every=0)
    np.testing.assert_allclose(buffer["action"], 1.4)
    np.testing.assert_allclose(np.concatenate(seen), 1.4)
    np.testing.assert_allclose(np.concatenate(env.actions), 0.7)


def test_action_processor_maps_agent_actions_to_env_actions():
    env, buffer = LineEnv(length=3), Buffer(100)
    run(env, RecordingAgent(action=7), buffer, action_processor=lambda a: a - 6, max_episodes=2, eval_every=0)
    assert [int(a) for a in env.actions] == [1] * 6
    np.testing.assert_array_equal(buffer["action"], [7] * 6)


def test_rewarder_shapes_stored_rewards_but_not_episode_returns():
    calls = []

    def rewarder(reward, state, action, next_state):
        calls.append((reward, state[0], action, next_state[0]))
        return 10 * reward + state[0]

    buffer = Buffer(100)
    result = run(LineEnv(length=3), RecordingAgent(action=1), buffer, rewarder=rewarder, max_episodes=2,
                 eval_every=0)
    assert calls[:3] == [(1.0, 0.0, 1, 1.0), (2.0, 1.0, 1, 2.0), (3.0, 2.0, 1, 3.0)]
    np.testing.assert_array_equal(buffer["reward"], [10, 21, 32] * 2)
    assert result.episode_returns == [6.0, 6.0]


def test_evaluation_is_deterministic_on_the_other_env():
    train_env, eval_env, agent = LineEnv(length=5, marker=0), LineEnv(length=10, marker=1), RecordingAgent()
    result = run(train_env, agent, Buffer(100), max_episodes=4, eval_every=2, eval_max_episodes=3,
                 eval_max_episode_steps=4, eval_env=eval_env, seed=7)
    assert eval_env.resets == 6 and eval_env.steps == 24      # 2 evaluations x 3 episodes x 4 steps (cut)
    assert train_env.resets == 4 and train_env.steps == 20    # evaluation never touched the training env
    assert result.eval_returns == [(10, 10.0), (20, 10.0)]    # 1 + 2 + 3 + 4 per evaluation episode
    for states, deterministic in agent.acts:
        assert deterministic == (states[1] == 1)
    assert sum(d for _, d in agent.acts) == 24
    assert eval_env.seeds == [7 + EVAL_SEED_OFFSET] + [None] * 5 and train_env.seeds[0] == 7
    assert len(agent.updates) == 20 and agent.ends == 4       # evaluation neither learns nor ends episodes


def test_evaluation_env_is_a_separate_copy_when_not_given():
    train_env = LineEnv(length=3)
    result = run(train_env, RecordingAgent(), Buffer(100), max_episodes=4, eval_every=2, eval_max_episodes=2)
    assert len(result.eval_returns) == 2
    assert train_env.resets == 4 and train_env.steps == 12


def test_evaluation_env_made_from_the_id():
    agent = RecordingAgent(action=1)
    agent.state_shape = (4,)
    result = run("CartPole-v1", agent, Buffer(1000), max_episodes=2, eval_every=1, eval_max_episodes=2, seed=0)
    assert len(result.eval_returns) == 2 and all(r > 0 for _, r in result.eval_returns)


def _gae_reference(rewards, values, last, terminal_last, gamma, lam):
    values = list(values) + [0.0 if terminal_last else last]
    adv, out = 0.0, []
    for t in reversed(range(len(rewards))):
        discount = 0.0 if (terminal_last and t == len(rewards) - 1) else gamma
        delta = rewards[t] + discount * values[t + 1] - values[t]
        adv = delta + discount * lam * adv
        out.append(adv)
    return out[::-1]


@pytest.mark.parametrize("truncate", [False, True])
def test_truncation_bootstraps_from_value_and_termination_does_not(truncate):
    agent, buffer = ValueAgent(v=0.5, boot=2.0), Buffer(100, gamma=0.9, lam=0.8)
    run(LineEnv(length=3, truncate=truncate), agent, buffer, max_episodes=1, eval_every=0)
    expected = _gae_reference([1, 2, 3], [0.5] * 3, 2.0, not truncate, 0.9, 0.8)
    np.testing.assert_allclose(buffer["advantage"], expected, rtol=1e-6)
    np.testing.assert_array_equal(buffer["terminal"], [False, False, not truncate])
    np.testing.assert_array_equal(buffer["truncated"], [False, False, truncate])
    if truncate:
        assert len(agent.value_calls) == 1 and agent.value_calls[0][0] == 3   # V of the final state
    else:
        assert agent.value_calls == []
    # The same numbers as the library's own GAE.
    if truncate:
        ref = returns.gae(np.array([1.0, 2, 3]), np.array([0.5, 0.5, 0.5, 2.0]), np.full(3, 0.9), 0.8)
        np.testing.assert_allclose(buffer["advantage"], ref, rtol=1e-6)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_an_agent_that_needs_no_path_returns_gets_no_finish_path(n_envs):
    agent = ValueAgent(boot=2.0)
    agent.needs_path_returns = False
    env = LineEnv(length=3, truncate=True) if n_envs == 1 else SyncVectorEnv(
        [lambda: LineEnv(length=3, truncate=True)] * n_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    buffer = Buffer(100)
    result = run(env, agent, buffer, max_steps=7 * n_envs, max_episodes=None, eval_every=0)
    assert result.episodes >= 2 and len(buffer) == 7 * n_envs
    assert not {"reward-to-go", "advantage", "TD-error"} & set(buffer.fields)
    assert agent.value_calls == []  # no bootstrap values asked for either


def test_max_episode_steps_truncates_and_bootstraps():
    env, agent, buffer = LineEnv(length=None), ValueAgent(boot=1.0), Buffer(100, gamma=0.5, lam=1.0)
    result = run(env, agent, buffer, max_episode_steps=4, max_episodes=2, eval_every=0)
    assert result.episode_lengths == [4, 4] and env.resets == 2
    np.testing.assert_array_equal(buffer["truncated"], [False, False, False, True] * 2)
    assert not buffer["terminal"].any()
    assert [s[0] for s in agent.value_calls[-2:]] == [4, 4]
    # reward-to-go of the last step: r + gamma * V(s_T) = 4 + 0.5 * 1
    assert buffer["reward-to-go"][3] == pytest.approx(4.5)


@pytest.mark.parametrize("vector", [False, True])
def test_learner_finishes_running_paths_with_the_helper(vector):
    env = _three_envs(lengths=(10, 10, 10)) if vector else LineEnv(length=10)
    agent = ValueAgent()   # run leaves running paths alone: the updates see unfinished steps
    _run(env, agent, update_every=4 * (3 if vector else 1), max_steps=60 if vector else 20, max_episodes=None)
    assert agent.nan_advantages_at_update == [True, True, True, True, False]  # only step 20 ends a path
    agent, buffer = ValueAgent(finish=True, boot=2.0), Buffer(100, gamma=0.9, lam=0.8)
    run(env, agent, buffer, update_every=4 * (3 if vector else 1), max_steps=60 if vector else 20,
        max_episodes=None, eval_every=0)
    assert len(agent.nan_advantages_at_update) == 5 and not any(agent.nan_advantages_at_update)
    # The first rollout (steps 1-4) was cut and bootstrapped from value(s_4) = 2.
    expected = _gae_reference([1, 2, 3, 4], [0.5] * 4, 2.0, False, 0.9, 0.8)
    column = buffer.rollout(["advantage"])["advantage"][:4, 0]
    np.testing.assert_allclose(column, expected, rtol=1e-6)


def test_callbacks_see_the_state_and_can_stop():
    seen = []

    def watch(state):
        seen.append(state)

    def stop_at_3(state):
        return state["episode"] < 3

    agent = RecordingAgent()
    result = _run(LineEnv(length=2), agent, callbacks=[watch, stop_at_3], max_episodes=10)
    assert result.episodes == 3 and result.stop_reason == "callback"
    assert [s["episode"] for s in seen] == [1, 2, 3]
    assert seen[-1]["total_steps"] == 6 and seen[-1]["agent"] is agent and seen[-1]["result"] is result
    assert {"episode_return", "episode_length", "env_index", "buffer", "env"} <= set(seen[0])


def test_max_steps_stops_mid_episode_and_abandons_it():
    agent, buffer = ValueAgent(), Buffer(100)
    result = run(LineEnv(length=5), agent, buffer, max_steps=12, max_episodes=None, eval_every=0)
    assert result.total_steps == 12 and result.episodes == 2 and result.stop_reason == "max_steps"
    assert agent.ends == 3                                   # two finished, one abandoned
    assert not np.isnan(buffer["reward-to-go"]).any()        # the abandoned path was finished too


def test_logger_gets_one_write_per_episode_and_evaluation():
    class Logger:
        def __init__(self):
            self.writes = []

        def write(self, metrics, step):
            self.writes.append((dict(metrics), step))

    logger = Logger()
    run(LineEnv(length=5), RecordingAgent(), Buffer(100), max_episodes=4, eval_every=2, eval_max_episodes=1,
        logger=logger)
    episode_writes = [w for w in logger.writes if "episode/return" in w[0]]
    eval_writes = [w for w in logger.writes if "eval/return" in w[0]]
    assert len(logger.writes) == 6 and len(episode_writes) == 4 and len(eval_writes) == 2
    assert [s for _, s in episode_writes] == [5, 10, 15, 20]
    assert episode_writes[0][0] == {"episode/return": 15.0, "episode/length": 5, "update/loss": 3.0}
    assert episode_writes[1][0]["update/loss"] == 8.0        # mean of losses 6..10


@pytest.mark.parametrize("progress", [False, None])
def test_prints_nothing(capsys, progress):
    run(LineEnv(length=3), RecordingAgent(), Buffer(100), max_episodes=3, eval_every=1, eval_max_episodes=1,
        progress=progress)   # None: a progress bar only on a terminal, which the captured output is not
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_a_progress_bar_asked_for_is_shown(capsys):
    run(LineEnv(length=3), RecordingAgent(), Buffer(100), max_episodes=3, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "3/3" in err and "episode" in err


def test_seed_makes_runs_reproducible():
    def once(seed):
        env = LineEnv(length=3, noisy=True)
        buffer = Buffer(100)
        run(env, RecordingAgent(), buffer, max_episodes=3, eval_every=0, seed=seed)
        return buffer["state"][:, 0].copy()

    np.testing.assert_array_equal(once(3), once(3))
    assert not np.array_equal(once(3), once(4))


def test_legacy_env_through_run():
    class Legacy:
        observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        action_space = spaces.Discrete(2)

        def reset(self):
            self.t = 0
            return np.zeros(2, np.float32)

        def step(self, action):
            self.t += 1
            return np.array([self.t, 0], np.float32), 1.0, self.t >= 4, {}

    result = _run(Legacy(), RecordingAgent(), max_episodes=2)
    assert result.episode_lengths == [4, 4]


# ---------------------------------------------------------------------------------------------------------
# Vector environments


def _three_envs(mode=AutoresetMode.SAME_STEP, lengths=(2, 3, 5)):
    return SyncVectorEnv([lambda n=n: LineEnv(length=n) for n in lengths], autoreset_mode=mode)


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
def test_vector_env_per_env_accounting(mode):
    env, agent = _three_envs(mode), RecordingAgent(action=1)
    buffer = Buffer(300, gamma=1.0, lam=1.0)
    ends = []
    result = run(env, agent, buffer, max_steps=90, max_episodes=None, eval_every=0,
                 callbacks=lambda s: ends.append((s["env_index"], s["episode_length"], s["episode_return"])))
    assert result.total_steps == 90 and len(agent.acts) == 30
    # 30 steps each: 15 episodes of 2 steps, 10 of 3, 6 of 5.
    for i, (length, count) in enumerate([(2, 15), (3, 10), (5, 6)]):
        mine = [e for e in ends if e[0] == i]
        assert len(mine) == count and all(e[1] == length and e[2] == length * (length + 1) / 2 for e in mine)
    assert result.episodes == 31 and agent.ends == 31
    rollout = buffer.rollout()
    assert rollout["state"].shape == (30, 3, 2)
    for i, length in enumerate((2, 3, 5)):
        t = np.arange(30) % length + 1
        np.testing.assert_array_equal(rollout["state"][:, i, 0], t - 1)
        np.testing.assert_array_equal(rollout["next-state"][:, i, 0], t)   # final obs, not the reset one
        np.testing.assert_array_equal(rollout["terminal"][:, i], t == length)
        np.testing.assert_allclose(rollout["reward-to-go"][:, i], (t + length) * (length - t + 1) / 2)


def test_vector_update_count_follows_transitions():
    agent = RecordingAgent()
    result = run(_three_envs(), agent, Buffer(100), update_every=2, max_steps=12, max_episodes=None,
                 eval_every=0)
    assert result.update_steps == [3, 6, 6, 9, 12, 12]


def test_vector_truncation_cut_by_max_episode_steps():
    env = _three_envs(lengths=(2, 50, 50))
    agent, buffer = ValueAgent(boot=3.0), Buffer(300, gamma=0.5, lam=1.0)
    result = run(env, agent, buffer, max_episode_steps=4, max_steps=24, max_episodes=None, eval_every=0)
    rollout = buffer.rollout()
    np.testing.assert_array_equal(rollout["truncated"][:, 1], [False, False, False, True] * 2)
    np.testing.assert_array_equal(rollout["state"][:, 1, 0], [0, 1, 2, 3] * 2)   # reset after the cut
    assert sorted(result.episode_lengths) == [2, 2, 2, 2, 4, 4, 4, 4]
    assert rollout["reward-to-go"][3, 1] == pytest.approx(4 + 0.5 * 3.0)


class NextStepVectorEnv(VectorEnv):
    """A vector env of LineEnvs that is not a Sync/AsyncVectorEnv, with gymnasium's default next-step
    autoreset: the step after an episode end only resets that sub-environment (reward 0, action ignored)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, lengths=(2, 3)):
        self.envs = [LineEnv(length=n) for n in lengths]
        self.num_envs = len(lengths)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, bool)

    def reset(self, *, seed=None, options=None):
        self._autoreset[:] = False
        return np.stack([e.reset()[0] for e in self.envs]), {}

    def step(self, actions):
        out = []
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            if self._autoreset[i]:
                out.append((env.reset()[0], 0.0, False, False))
            else:
                obs, r, term, trunc, _ = env.step(action)
                out.append((obs, r, term, trunc))
        obs, rew, term, trunc = (np.array(x) for x in zip(*out))
        self._autoreset = term | trunc
        return obs, rew, term, trunc, {}


def test_vector_next_step_autoreset_skips_the_reset_step():
    seen = []

    class Observer(RecordingAgent):
        def observe(self, state, action, reward, next_state, terminated, truncated):
            seen.append((np.array(state)[:, 0].copy(), np.array(next_state)[:, 0].copy(), np.array(reward)))

    agent = Observer()
    result = run(NextStepVectorEnv(), agent, None, max_steps=10, max_episodes=None, eval_every=0)
    # Vector steps 3 and 6 reset sub-environment 0, step 4 sub-environment 1: 11 transitions in 7 steps.
    assert sorted(result.episode_lengths) == [2, 2, 3, 3] and result.total_steps == 11
    for states, next_states, rewards in seen:
        np.testing.assert_array_equal(next_states, states + 1)      # never the reset "transition"
        np.testing.assert_array_equal(rewards, next_states)
    with pytest.raises(ValueError, match=r"resets a finished sub-environment in the \*next\* step"):
        run(NextStepVectorEnv(), RecordingAgent(), Buffer(100), max_steps=10, eval_every=0)


def test_vector_env_with_tabular_adapter_and_made_env():
    from symgraph.rl.envs import make_env

    env = make_env("FrozenLake-v1", n_envs=3, seed=0)
    agent = QLearning(env.unwrapped.envs[0], epsilon=0.5, seed=0)
    result = run(env, agent, None, max_steps=300, max_episodes=None, eval_every=5, eval_max_episodes=2)
    assert result.total_steps == 300 and agent.steps == 300 and result.episodes > 5
    assert len(result.eval_returns) == result.episodes // 5   # on a single FrozenLake made from the spec


def test_vector_actions_are_checked():
    with pytest.raises(ValueError, match=r"invalid action at vector step 1 of SyncVectorEnv.*entry \(0,\) is 5"):
        _run(_three_envs(), RecordingAgent(action=5), max_episodes=1)


def test_actions_are_checked_on_the_first_steps_only():
    class LateMistake(RecordingAgent):
        def act(self, states, deterministic=False):
            return 0 if len(self.acts) < 150 else 5   # LineEnv itself accepts anything

    agent = LateMistake()
    result = _run(LineEnv(length=10), agent, max_episodes=20)
    assert result.total_steps == 200


# ---------------------------------------------------------------------------------------------------------
# The protocol and the tabular adapter


def test_protocol_and_adapter():
    env = gymnasium.make("FrozenLake-v1")
    q = QLearning(env, seed=0)
    adapted = as_agent(q)
    assert isinstance(adapted, StepAgent) and isinstance(adapted, ObservingAgent)
    assert isinstance(RecordingAgent(), Agent) and as_agent(RecordingAgent()).__class__ is RecordingAgent
    adapted.observe(0, 2, 1.0, 4, False, False)
    assert q.steps == 1 and adapted.q_values[0, 2] == pytest.approx(0.1)
    adapted.observe(np.array([0, 1]), np.array([1, 1]), np.array([0.0, 1.0]), np.array([4, 2]),
                    np.array([False, True]), np.array([False, False]))
    assert q.steps == 3 and adapted.update(Buffer(10)) is None
    with pytest.raises(TypeError, match="has no act"):
        as_agent(object())

    class NoHook:
        def act(self, states, deterministic=False):
            return 0

    with pytest.raises(TypeError, match="neither update"):
        as_agent(NoHook())


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.slow
def test_tabular_q_learning_improves_on_frozenlake(seed):
    env = gymnasium.make("FrozenLake-v1")
    agent = QLearning(env, epsilon=LinearDecay(1.0, 0.01, 2000), gamma=0.99, lr=0.1, seed=seed)
    result = run(env, agent, None, max_episodes=3000, eval_every=100, eval_max_episodes=100, seed=seed)
    evals = [r for _, r in result.eval_returns]
    assert len(evals) == 30
    assert evals[0] < 0.3 and np.mean(evals[-5:]) > 0.6       # the greedy success rate (optimum ~0.74)
    assert np.mean(result.episode_returns[-500:]) > np.mean(result.episode_returns[:500]) + 0.3
    assert agent.episodes == 3000 and agent.steps == result.total_steps


def test_tabular_agent_through_run_matches_its_own_trainer():
    runs = []
    for use_run in (True, False):
        env = gymnasium.make("FrozenLake-v1")
        agent = QLearning(env, epsilon=LinearDecay(1.0, 0.01, 200), seed=5)
        if use_run:
            returns_ = run(env, agent, None, max_episodes=300, eval_every=0, seed=5).episode_returns
        else:
            returns_ = list(Trainer(agent, env, n_episodes=300, seed=5, progress=False).train())
        runs.append((returns_, agent.q_values.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_observation_shape_mismatch_names_both_shapes_and_the_env():
    agent = RecordingAgent()
    agent.state_shape = (3,)
    with pytest.raises(ShapeError, match=r"env LineEnv returns observations of shape \(2,\).*state_shape \(3,\)"):
        _run(LineEnv(), agent, max_episodes=1)
    with pytest.raises(ShapeError, match=r"CartPole-v1 returns observations of shape \(4,\)"):
        _run("CartPole-v1", agent, max_episodes=1)


@pytest.mark.parametrize("continuous, action, match", [
    (False, 5, r"invalid action at step 1 of training episode 1 of LineEnv: action 5 is out of range"),
    (False, np.array([0.2, 0.8]), r"not a one-hot vector"),
    (True, np.array([2.0]), r"outside Box"),
])
def test_actions_outside_the_space(continuous, action, match):
    with pytest.raises(ValueError, match=match):
        _run(LineEnv(continuous=continuous), RecordingAgent(action=action), max_episodes=1)


def test_invalid_action_after_the_processor_says_so():
    with pytest.raises(ValueError, match=r"after action_processor"):
        _run(LineEnv(), RecordingAgent(), action_processor=lambda a: 9, max_episodes=1)


def test_nan_reward_names_the_episode_and_step():
    with pytest.raises(ValueError, match=r"env LineEnv returned reward nan at step 3 of training episode 2"):
        _run(LineEnv(nan_at=(2, 3)), RecordingAgent(), max_episodes=5)
    with pytest.raises(ValueError, match=r"rewarder returned reward nan at step 1 of training episode 1"):
        _run(LineEnv(), RecordingAgent(), rewarder=lambda r, s, a, s2: math.nan, max_episodes=5)
    with pytest.raises(ValueError, match=r"reward nan at step 2 of training episode 1 of sub-environment 1"):
        env = SyncVectorEnv([lambda: LineEnv(), lambda: LineEnv(nan_at=(1, 2))],
                            autoreset_mode=AutoresetMode.SAME_STEP)
        _run(env, RecordingAgent(), max_episodes=5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"update_every": 0}, ValueError, r"update_every must be an int >= 1"),
    ({"update_every": -1}, ValueError, r"update_every must be an int >= 1"),
    ({"update_every": 1.5}, ValueError, r"update_every must be an int"),
    ({"update_after": -1}, ValueError, r"update_after must be an int >= 0"),
    ({"skip_frames": 0}, ValueError, r"skip_frames must be an int >= 1"),
    ({"max_episodes": 0}, ValueError, r"max_episodes must be an int >= 1"),
    ({"max_episode_steps": 0}, ValueError, r"max_episode_steps must be an int >= 1"),
    ({"eval_every": -1}, ValueError, r"eval_every must be an int >= 0"),
    ({"eval_max_episodes": 0}, ValueError, r"eval_max_episodes must be an int >= 1"),
    ({"eval_max_episode_steps": 0}, ValueError, r"eval_max_episode_steps must be an int >= 1"),
    ({"max_steps": 0}, ValueError, r"max_steps must be an int >= 1"),
    ({"max_episodes": None}, ValueError, r"max_episodes and max_steps are both None"),
    ({"seed": 1.5}, TypeError, r"seed must be an int"),
    ({"seed": -1}, ValueError, r"seed must be an int >= 0 or None .*got -1; pass a seed >= 0"),
    ({"rewarder": 3}, TypeError, r"rewarder must be a callable"),
    ({"action_processor": "x"}, TypeError, r"action_processor must be a callable"),
    ({"logger": object()}, TypeError, r"logger must have a write"),
    ({"callbacks": [1]}, TypeError, r"every callback must be callable"),
    ({"noise": CountingNoise()}, ValueError, r"noise is added to continuous actions"),
    ({"eval_env": _three_envs(), "eval_every": 1}, TypeError, r"eval_env must be a single env"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _run(LineEnv(), RecordingAgent(), **kwargs)


def test_invalid_agent_and_buffer_combinations():
    with pytest.raises(ValueError, match=r"buffer is None but the agent \(RecordingAgent\) learns from a buffer"):
        run(LineEnv(), RecordingAgent(), None, eval_every=0)
    with pytest.raises(TypeError, match=r"has no act"):
        _run(LineEnv(), object())

    class BadUpdate(RecordingAgent):
        def update(self, buffer):
            return 1.0

    with pytest.raises(TypeError, match=r"BadUpdate.update\(buffer\) returned float"):
        _run(LineEnv(), BadUpdate(), max_episodes=1)

    class ClashingExtras(RecordingAgent):
        def act_and_extras(self, states):
            return self.act(states), {"reward": 1.0}

    with pytest.raises(ValueError, match=r"act_and_extras returned the field 'reward'"):
        _run(LineEnv(), ClashingExtras(), max_episodes=1)


def test_vector_env_rejects_skip_frames_and_reset_each_episode():
    with pytest.raises(ValueError, match=r"skip_frames=2 with a vector env"):
        _run(_three_envs(), RecordingAgent(), skip_frames=2, max_episodes=1)
    with pytest.raises(ValueError, match=r"reset_each_episode=True with a vector env"):
        _run(_three_envs(), RecordingAgent(), reset_each_episode=True, max_episodes=1)
