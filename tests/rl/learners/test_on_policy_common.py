"""What the on-policy learners (REINFORCE, ActorCritic, PPO) share: acting and the stored fields, the
values and log-probabilities an update computes, continuous actions, seeding, save/load, the pure views,
networks built by the user, pixel observations, and the bad-input errors."""

import gymnasium
import jax
import numpy as np
import pytest
from gymnasium import spaces

import symgraph as sg
from symgraph.errors import ShapeError
from symgraph.rl import CNNActor, CNNCritic, MLPActor, MLPCritic, envs
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import PPO, REINFORCE, ActorCritic
from symgraph.rl.run import run
from tests.rl.learners.conftest import close, fill, make_rollout, params_of

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

# ---------------------------------------------------------------------------------------------------------
# The update's own values and log-probabilities


@pytest.mark.parametrize("cls", [PPO, ActorCritic, REINFORCE])
def test_an_update_computing_values_and_log_probs_equals_one_given_them(cls):
    """The update computes V(s_t) and log pi_old(a_t|s_t) of the rollout itself, with the parameters that
    collected it: the same update as from the values and log-probabilities stored step by step."""
    env = envs.make_env("CartPole-v1", n_envs=2)
    options = {"n_steps": 16} if cls is not REINFORCE else {"n_episodes": 1}
    if cls is PPO:
        options.update(batch_size=8, K_epochs=2)
    rng = np.random.default_rng(0)
    agents = [cls.from_env(env, seed=3, **options) for _ in range(2)]
    buffers = [Buffer(agents[0].rollout_size) for _ in range(2)]
    for t in range(16):
        states = rng.normal(size=(2, 4)).astype(np.float32)
        actions = rng.integers(0, 2, size=2).astype(np.int32)
        step = {"state": states, "action": actions, "reward": rng.normal(size=2), "next-state": states + 0.1,
                "terminal": np.array([t == 15, False]), "truncated": np.array([False, t == 15])}
        buffers[0].push(step)
        log_probs, stored_values = agents[1]._evaluate_fn(states, actions)[:2] if agents[1].critic is not None \
            else (agents[1]._evaluate_fn(states, actions)[0], None)
        extras = {"log-prob": log_probs} if stored_values is None else {"log-prob": log_probs, "V": stored_values}
        buffers[1].push({**step, **extras})
    for agent, buffer in zip(agents, buffers):
        buffer.finish_path(0.0)
        assert agent.update(buffer) is not None
    for network in ("actor", "critic"):
        if getattr(agents[0], network) is None:
            continue
        got, want = params_of(getattr(agents[0], network)), params_of(getattr(agents[1], network))
        for key in got:
            close(got[key], want[key], tol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Acting, seeding, saving, the pure views


def test_acting_runs_the_actor_alone_and_returns_no_field_the_update_recomputes():
    env = envs.make_env("CartPole-v1", n_envs=4)
    agent = PPO.from_env(env, batch_size=32, n_steps=8, seed=0)
    assert agent.n_envs == 4 and agent.rollout_size == 32 and agent.state_shape == (4,)
    obs, _ = env.reset(seed=0)
    actions, extras = agent.act_and_extras(obs)
    assert actions.shape == (4,) and actions.dtype == np.int32 and extras == {}
    values = agent.value(obs)
    assert values.shape == (4,)
    close(agent.value(obs[:3]), values[:3])                        # padded to a power of two inside
    one, one_extras = agent.act_and_extras(obs[0])
    assert np.ndim(one) == 0 and one_extras == {} and np.ndim(agent.value(obs[0])) == 0
    greedy = agent.act(obs, deterministic=True)
    np.testing.assert_array_equal(greedy, agent.act(obs, deterministic=True))
    with pytest.raises(ValueError, match="states must have shape"):
        agent.act(np.zeros((4, 5), np.float32))


def test_continuous_actions_are_mapped_onto_the_bounds_and_the_sample_is_stored():
    env = gymnasium.make("Pendulum-v1")
    agent = PPO.from_env(env, batch_size=16, n_steps=16, log_std_init=1.0, seed=0)
    assert agent.action_bounds is not None and agent.actions_shape == (1,)
    obs = np.tile(env.reset(seed=0)[0], (500, 1))
    actions, extras = agent.act_and_extras(obs)
    raw = extras["raw-action"]
    assert actions.shape == (500, 1) and np.all(np.abs(actions) <= 2.0) and np.abs(raw).max() > 1.0
    close(actions, 2.0 * np.clip(raw, -1, 1))                      # [-1, 1] -> [-2, 2]
    assert np.all(np.abs(agent.act(obs[:3], deterministic=True)) <= 2.0)
    tanh = PPO.from_env(env, batch_size=16, n_steps=16, actions_distribution="tanh_normal", seed=0)
    a, ex = tanh.act_and_extras(obs[:50])
    close(a, 2.0 * ex["raw-action"])


def test_same_seed_same_learner_and_save_load_roundtrip(tmp_path):
    env = gymnasium.make("CartPole-v1")
    a = PPO.from_env(env, batch_size=32, n_steps=32, K_epochs=2, seed=7)
    b = PPO.from_env(env, batch_size=32, n_steps=32, K_epochs=2, seed=7)
    for agent in (a, b):
        buffer = Buffer(agent.rollout_size)
        run(env, agent, buffer, update_every=agent.rollout_size, max_steps=96, max_episodes=None, eval_every=0,
            seed=0)
    for x, y in zip(a.actor.params + a.critic.params, b.actor.params + b.critic.params):
        np.testing.assert_array_equal(x.value, y.value)
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    path = a.save(tmp_path / "ppo.npz")
    c = PPO.from_env(env, batch_size=32, n_steps=32, K_epochs=2, seed=8)
    assert not np.array_equal(c.act(obs, deterministic=True), a.act(obs, deterministic=True)) or \
        not np.allclose(c.value(obs), a.value(obs))
    c.load(path)
    np.testing.assert_array_equal(c.act(obs, deterministic=True), a.act(obs, deterministic=True))
    close(c.value(obs), a.value(obs))
    assert int(c._updates_done.value) == 3


def test_the_pure_views_compose_under_jit_and_match_the_python_path(rng):
    env = envs.make_env("Pendulum-v1", n_envs=2)
    twins = [PPO.from_env(env, batch_size=8, n_steps=8, K_epochs=2, seed=3) for _ in range(2)]
    obs = rng.normal(size=(2, 3)).astype(np.float32)
    actions, extras, state = jax.jit(twins[0].act_pure)(twins[0].state, obs)
    assert actions.shape == (2, 1) and set(extras) == {"raw-action"}
    close(actions, 2.0 * np.clip(extras["raw-action"], -1, 1))
    data = make_rollout(rng, 8, 2, n_states=3)
    data["action"] = rng.uniform(-2, 2, (8, 2, 1)).astype(np.float32)
    buffer = Buffer(16)
    fill(buffer, data)
    batch = twins[1]._collect(buffer)
    metrics, state = jax.jit(twins[0].update_pure)(twins[0].state, batch)
    twins[0].set_state(state)
    twins[1].update(buffer)
    for x, y in zip(twins[0].actor.params + twins[0].critic.params, twins[1].actor.params + twins[1].critic.params):
        close(x.value, y.value, 1e-6)


def test_actor_and_critic_instances_built_by_the_user():
    states = sg.Placeholder((None, 4), "float32", name="states")
    actor = MLPActor(states, 2, "categorical", hidden=(16,))
    critic = MLPCritic(states, None, (16,))
    agent = PPO((4,), 2, 16, actor, critic, K_epochs=1, n_steps=16, seed=0)
    assert agent.actor is actor and agent.critic is critic
    env = gymnasium.make("CartPole-v1")
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=48,
                 max_episodes=None, eval_every=0, seed=0)
    assert len(result.losses) == 3


# ---------------------------------------------------------------------------------------------------------
# Pixel observations


class TinyImageEnv(gymnasium.Env):
    """36x36x2 uint8 frames (the smallest the Nature-DQN convolutions take); reward 1 for action 1."""

    observation_space = spaces.Box(0, 255, (36, 36, 2), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.integers(0, 256, (36, 36, 2), dtype=np.uint8), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.integers(0, 256, (36, 36, 2), dtype=np.uint8)
        return obs, float(action == 1), False, self.t >= 20, {}


def test_pixel_observations_build_cnn_networks_and_train():
    env = TinyImageEnv()
    agent = PPO.from_env(env, batch_size=32, n_steps=64, K_epochs=2, seed=0)
    assert isinstance(agent.actor, CNNActor) and isinstance(agent.critic, CNNCritic)
    assert agent.states.dtype == np.uint8 and not agent.actor.channels_first
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=192,
                 max_episodes=None, eval_every=0, seed=0)
    assert len(result.losses) == 3 and np.isfinite(result.losses[-1]["loss"])


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_a_discrete_env_given_a_gaussian_actor_is_an_error():
    env = gymnasium.make("CartPole-v1")
    with pytest.raises(ValueError, match="discrete actions .* but the actor is 'normal'"):
        PPO.from_env(env, actions_distribution="normal")
    with pytest.raises(ValueError, match="discrete actions .* but the actor given is 'normal'"):
        REINFORCE.from_env(env, actor=lambda s: MLPActor(s, 2, "normal"))
    with pytest.raises(ValueError, match="continuous actions .* categorical"):
        ActorCritic.from_env(gymnasium.make("Pendulum-v1"), actions_distribution="categorical")
    with pytest.raises(ShapeError, match="does not match the actor's 2 discrete actions"):
        PPO((4,), 3, 8, lambda s: MLPActor(s, 2, "categorical"), MLPCritic, n_steps=8)
    with pytest.raises(ShapeError, match=r"does not match the actor's actions of shape \(1,\)"):
        REINFORCE((3,), 2, 1, 10, lambda s: MLPActor(s, 1, "normal"))


def test_a_wrong_state_shape_is_an_error():
    agent = PPO((5,), 2, 8, lambda s: MLPActor(s, 2, "categorical"), MLPCritic, n_steps=8)
    with pytest.raises(ShapeError, match=r"returns observations of shape \(4,\).*state_shape \(5,\)"):
        run("CartPole-v1", agent, Buffer(8), max_steps=8, max_episodes=None, eval_every=0)
    states = sg.Placeholder((None, 4), "float32")
    with pytest.raises(ShapeError, match=r"built on states \(None, 4\), but state_shape is \(5,\)"):
        PPO((5,), 2, 8, MLPActor(states, 2, "categorical"), MLPCritic, n_steps=8)


def test_other_bad_arguments_are_errors():
    env = gymnasium.make("CartPole-v1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_epochs'"):
        PPO.from_env(env, n_epochs=10)
    with pytest.raises(TypeError, match="is deterministic"):
        PPO((4,), 2, 8, lambda s: MLPActor(s, 2), MLPCritic, n_steps=8)
    with pytest.raises(TypeError, match="must be a state-value critic"):
        PPO((4,), 2, 8, lambda s: MLPActor(s, 2, "categorical"), lambda s: MLPCritic(s, n_actions=2), n_steps=8)
    with pytest.raises(ValueError, match="anneal over total_steps"):
        PPO.from_env(env, anneal_lr=True)
    with pytest.raises(ValueError, match="either n_episodes and episode_length .* or n_steps"):
        ActorCritic.from_env(env, n_episodes=2, episode_length=100, n_steps=5)
    with pytest.raises(ValueError, match="gamma must be a number in"):
        REINFORCE.from_env(env, gamma=1.5)
    agent = PPO.from_env(env, batch_size=8, n_steps=16)
    with pytest.raises(ValueError, match=r"fewer than the 16 of one rollout; build it with Buffer\(agent"):
        agent.update(Buffer(8))
    buffer = Buffer(32, n_envs=2)
    with pytest.raises(ValueError, match="built for n_envs=1; pass n_envs=2"):
        agent.update(buffer)
