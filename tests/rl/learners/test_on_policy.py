"""Tests of the on-policy learners (REINFORCE, ActorCritic, PPO): each update against a plain JAX + optax
oracle on a fixed rollout, acting and the stored fields, seeding, save/load, the one-compiled-call update,
pixel observations, the bad-input errors, and one seeded learning run each (CartPole-v1, Pendulum-v1)."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gymnasium import spaces

import symgraph as sg
from symgraph.errors import ShapeError
from symgraph.rl import CNNActor, CNNCritic, MLPActor, MLPCritic, envs
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import PPO, REINFORCE, ActorCritic
from symgraph.rl.run import run

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

# ---------------------------------------------------------------------------------------------------------
# Helpers


def linear_actor(states):
    return MLPActor(states, 3, "categorical", hidden=(), head_init="glorot_uniform")


def linear_critic(states):
    return MLPCritic(states, None, hidden=(), head_init="glorot_uniform")


def params_of(network):
    """``{"W": ..., "b": ...}`` of a linear (hidden=()) network, float64."""
    values = {v.name.rsplit("/", 1)[-1]: np.asarray(v.value, np.float64) for v in network.params}
    return {"W": values["W"], "b": values["b"]}


def make_rollout(rng, t, e, n_states=4, n_actions=3, ends=None):
    """A consistent time-major rollout: next-state is the following row's state except where an episode
    ends (a fresh state there); ``ends`` maps (t, env) to "terminal" or "truncated"."""
    states = rng.normal(size=(t + 1, e, n_states)).astype(np.float32)
    next_states = states[1:].copy()
    terminal = np.zeros((t, e), bool)
    truncated = np.zeros((t, e), bool)
    for (i, j), kind in (ends or {}).items():
        (terminal if kind == "terminal" else truncated)[i, j] = True
        next_states[i, j] = rng.normal(size=n_states)  # the episode's last observation
    return {"state": states[:-1], "action": rng.integers(0, n_actions, (t, e)).astype(np.int32),
            "reward": rng.normal(size=(t, e)), "next-state": next_states, "terminal": terminal,
            "truncated": truncated}


def fill(buffer, rollout, extras=None):
    for i in range(rollout["reward"].shape[0]):
        row = {k: v[i] for k, v in rollout.items()}
        row.update({k: v[i] for k, v in (extras or {}).items()})
        buffer.push(row)


def oracle_lambda_returns(rewards, terminal, truncated, next_values, gamma, lam):
    """The lambda-return, step by step: a termination stops it, a truncation or the rollout's end
    bootstraps from V(next state)."""
    t, e = rewards.shape
    out = np.zeros((t, e))
    for j in range(e):
        for i in reversed(range(t)):
            cont = 0.0 if terminal[i, j] else gamma
            if i == t - 1 or terminal[i, j] or truncated[i, j]:
                out[i, j] = rewards[i, j] + cont * next_values[i, j]
            else:
                out[i, j] = rewards[i, j] + cont * ((1 - lam) * next_values[i, j] + lam * out[i + 1, j])
    return out


def linear(p, x):
    return x @ p["W"] + p["b"]


def close(a, b, tol=2e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)


def evaluate(agent, env_id, episodes=10, seed=100):
    env = gymnasium.make(env_id)
    total = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, ret = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True))
            ret += reward
            done = terminated or truncated
        total.append(ret)
    return float(np.mean(total))


def train_until(env, agent, max_steps, threshold, eval_every, seed, **kwargs):
    """run() with evaluations every ``eval_every`` episodes, stopped once an evaluation reaches
    ``threshold``; returns the RunResult."""
    buffer = Buffer(agent.rollout_size)

    def stop_when_good(info):
        evals = info["result"].eval_returns
        return not (evals and evals[-1][1] >= threshold)

    return run(env, agent, buffer, max_steps=max_steps, max_episodes=None, eval_every=eval_every,
               eval_max_episodes=10, seed=seed, callbacks=stop_when_good, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# The updates against plain JAX + optax


def test_ppo_update_equals_optax_adam_on_the_clipped_loss(rng):
    t, e, gamma, lam, lr, c_v, beta, clip = 8, 2, 0.9, 0.8, 3e-3, 0.7, 0.05, 0.2
    agent = PPO((4,), 3, 16, linear_actor, linear_critic, lr=lr, K_epochs=3, eps_clip=clip, gamma=gamma,
                entropy_beta=beta, n_steps=t, n_envs=e, lam=lam, vf_coef=c_v, max_grad_norm=0.5, seed=1)
    ends = {(2, 0): "terminal", (5, 0): "truncated", (4, 1): "truncated", (6, 1): "terminal"}
    data = make_rollout(rng, t, e, ends=ends)
    pa, pv = params_of(agent.actor), params_of(agent.critic)
    log_softmax = jax.nn.log_softmax(linear(pa, data["state"].astype(np.float64)))
    true_log_probs = np.take_along_axis(np.asarray(log_softmax), data["action"][..., None], -1)[..., 0]
    stored = {"log-prob": (true_log_probs + rng.normal(0, 0.1, (t, e))).astype(np.float32),   # stored, used
              "V": (linear(pv, data["state"])[..., 0] + rng.normal(0, 0.1, (t, e))).astype(np.float32)}
    buffer = Buffer(t * e)
    fill(buffer, data, stored)

    next_values = linear(pv, data["next-state"].astype(np.float64))[..., 0]
    targets = oracle_lambda_returns(data["reward"], data["terminal"], data["truncated"], next_values, gamma, lam)
    advantages = (targets - stored["V"]).reshape(-1)
    s, a = jnp.asarray(data["state"].reshape(-1, 4)), jnp.asarray(data["action"].reshape(-1))
    old = jnp.asarray(stored["log-prob"].reshape(-1))
    targets = jnp.asarray(targets.reshape(-1), jnp.float32)

    def loss_fn(p):
        logits = linear(p["actor"], s)
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], -1)[:, 0]
        ratio = jnp.exp(log_probs - old)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv))
        value = 0.5 * jnp.mean((linear(p["critic"], s)[:, 0] - targets) ** 2)
        entropy = -jnp.mean(jnp.sum(jax.nn.softmax(logits) * jax.nn.log_softmax(logits), -1))
        return policy + c_v * value - beta * entropy

    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), {"actor": pa, "critic": pv})
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr, eps=1e-5))
    opt_state = tx.init(params)
    for _ in range(3):  # K_epochs full-batch steps (one minibatch: the order does not matter)
        updates, opt_state = tx.update(jax.grad(loss_fn)(params), opt_state, params)
        params = optax.apply_updates(params, updates)

    metrics = agent.update(buffer)
    assert len(buffer) == 0
    assert set(metrics) >= {"loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                            "grad_norm", "explained_variance", "lr", "clip"}
    got_a, got_v = params_of(agent.actor), params_of(agent.critic)
    for key in ("W", "b"):
        close(got_a[key], params["actor"][key])
        close(got_v[key], params["critic"][key])


def test_a2c_update_equals_one_actor_step_and_train_v_iters_critic_steps(rng):
    t, e, gamma, lam, lr, clr, beta = 6, 3, 0.95, 0.9, 1e-2, 5e-3, 0.01
    agent = ActorCritic((4,), (), None, None, linear_actor, linear_critic, lr=lr, gamma=gamma, train_v_iters=4,
                        n_steps=t, n_envs=e, lam=lam, critic_lr=clr, entropy_beta=beta,
                        normalize_advantage=True, max_grad_norm=None, seed=2)
    data = make_rollout(rng, t, e, ends={(1, 0): "terminal", (3, 2): "truncated"})
    pa, pv = params_of(agent.actor), params_of(agent.critic)
    buffer = Buffer(t * e)
    fill(buffer, data)  # no stored V or log-prob: the update computes them with the current networks

    values = linear(pv, data["state"].astype(np.float64))[..., 0]
    next_values = linear(pv, data["next-state"].astype(np.float64))[..., 0]
    targets = oracle_lambda_returns(data["reward"], data["terminal"], data["truncated"], next_values, gamma, lam)
    adv = (targets - values).reshape(-1)
    adv = jnp.asarray((adv - adv.mean()) / (adv.std() + 1e-8), jnp.float32)
    s, a = jnp.asarray(data["state"].reshape(-1, 4)), jnp.asarray(data["action"].reshape(-1))
    targets = jnp.asarray(targets.reshape(-1), jnp.float32)

    def actor_loss(p):
        logits = linear(p, s)
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], -1)[:, 0]
        entropy = -jnp.mean(jnp.sum(jax.nn.softmax(logits) * jax.nn.log_softmax(logits), -1))
        return -jnp.mean(log_probs * adv) - beta * entropy

    def critic_loss(p):
        return 0.5 * jnp.mean((linear(p, s)[:, 0] - targets) ** 2)

    def steps(loss, p, lr, n):
        p = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), p)
        tx = optax.adam(lr, eps=1e-5)
        opt = tx.init(p)
        for _ in range(n):
            updates, opt = tx.update(jax.grad(loss)(p), opt, p)
            p = optax.apply_updates(p, updates)
        return p

    want_a, want_v = steps(actor_loss, pa, lr, 1), steps(critic_loss, pv, clr, 4)
    metrics = agent.update(buffer)
    close(metrics["value_loss"], critic_loss(jax.tree_util.tree_map(jnp.asarray, pv)), 1e-4)
    got_a, got_v = params_of(agent.actor), params_of(agent.critic)
    for key in ("W", "b"):
        close(got_a[key], want_a[key])
        close(got_v[key], want_v[key])


def test_reinforce_update_uses_reward_to_go_of_finished_episodes_only(rng):
    gamma, lr = 0.9, 1e-2
    agent = REINFORCE((4,), 3, 2, 10, linear_actor, lr=lr, gamma=gamma, seed=3)
    t = 9
    data = make_rollout(rng, t, 1, ends={(2, 0): "terminal", (5, 0): "truncated"})  # 2 episodes + a tail
    pa = params_of(agent.actor)
    buffer = Buffer(agent.rollout_size)
    assert agent.update(buffer) is None
    fill(buffer, {k: v[:, 0] for k, v in data.items()})
    rewards = data["reward"][:, 0]
    g, running = np.zeros(t), 0.0
    for i in reversed(range(t)):
        running = rewards[i] + (0.0 if (data["terminal"][i, 0] or data["truncated"][i, 0]) else gamma * running)
        g[i] = running
    g = g[:6]                                        # steps 6..8 belong to the unfinished episode
    adv = jnp.asarray((g - g.mean()) / (g.std() + 1e-8), jnp.float32)
    s, a = jnp.asarray(data["state"][:6, 0]), jnp.asarray(data["action"][:6, 0])

    def loss(p):
        log_probs = jnp.take_along_axis(jax.nn.log_softmax(linear(p, s)), a[:, None], -1)[:, 0]
        return -jnp.mean(log_probs * adv)

    p = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), pa)
    tx = optax.adam(lr, eps=1e-5)
    updates, _ = tx.update(jax.grad(loss)(p), tx.init(p), p)
    want = optax.apply_updates(p, updates)
    metrics = agent.update(buffer)
    assert float(metrics["episodes"]) == 2 and len(buffer) == 0
    got = params_of(agent.actor)
    for key in ("W", "b"):
        close(got[key], want[key])


# ---------------------------------------------------------------------------------------------------------
# Acting, seeding, saving, compiled calls


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


def test_the_whole_update_is_one_compiled_call(monkeypatch):
    env = envs.make_env("CartPole-v1", n_envs=2)
    agent = PPO.from_env(env, batch_size=8, n_steps=16, K_epochs=4, seed=0)
    calls = []
    jitted = agent._update_jit
    monkeypatch.setattr(agent, "_update_jit", lambda *args: calls.append(1) or jitted(*args))
    train = agent._train_fn._jitted
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=96,
                 max_episodes=None, eval_every=0, seed=0)
    assert len(result.losses) == 3 and len(calls) == 3
    assert jitted.cache_size() == 1 and train._cache_size() <= 1   # the train step only runs traced inside
    assert int(agent._updates_done.value) == 3 and int(agent.optimizer.step.value) == 3 * 4 * 4


def test_the_pure_views_compose_under_jit_and_match_the_python_path(rng):
    env = envs.make_env("Pendulum-v1", n_envs=2)
    twins = [PPO.from_env(env, batch_size=8, n_steps=8, K_epochs=2, seed=3) for _ in range(2)]
    obs = rng.normal(size=(2, 3)).astype(np.float32)
    ((actions, extras), state) = jax.jit(twins[0].act_pure)(twins[0].state, obs)
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


def test_ppo_smoke_on_atari_pong():
    ale_py = pytest.importorskip("ale_py")
    gymnasium.register_envs(ale_py)

    def pong():
        env = gymnasium.make("ALE/Pong-v5", frameskip=1)
        env = gymnasium.wrappers.AtariPreprocessing(env, frame_skip=4)
        return gymnasium.wrappers.FrameStackObservation(env, 4)

    env = envs.make_env(pong, n_envs=2)
    agent = PPO.from_env(env, batch_size=64, n_steps=64, K_epochs=1, seed=0)
    assert isinstance(agent.actor, CNNActor) and agent.actor.channels_first and agent.n_actions == 6
    result = run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=384,
                 max_episodes=None, eval_every=0, seed=0)
    assert result.total_steps == 384 and len(result.losses) == 3
    assert all(np.isfinite(m["loss"]) for m in result.losses)


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


def test_a_batch_larger_than_the_rollout_is_an_error():
    with pytest.raises(ValueError, match=r"batch_size=512 is larger than the rollout of n_steps x n_envs = "
                                         r"32 x 8 = 256"):
        PPO.from_env(envs.make_env("CartPole-v1", n_envs=8), batch_size=512, n_steps=32)


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


# ---------------------------------------------------------------------------------------------------------
# Learning (one seed each; the bench runs more)


def test_ppo_solves_cartpole_within_100k_steps():
    """rl-baselines3-zoo's tuned settings: eval return >= 475 (10 episodes) within 1e5 env steps."""
    env = envs.make_env("CartPole-v1", n_envs=8)
    agent = PPO.from_env(env, batch_size=256, n_steps=32, K_epochs=20, lr=1e-3, gamma=0.98, lam=0.8,
                         entropy_beta=0.0, anneal_lr=True, anneal_clip=True, total_steps=100_000, seed=0)
    result = train_until(env, agent, 100_000, 475, 16, seed=0, update_every=agent.rollout_size)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns


def test_a2c_learns_cartpole():
    env = envs.make_env("CartPole-v1")
    agent = ActorCritic.from_env(env, n_episodes=2, lr=3e-3, lam=0.95, train_v_iters=10,
                                 normalize_advantage=True, seed=0)
    result = train_until(env, agent, 100_000, 475, 10, seed=0, wait_end_path=True)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns


def test_reinforce_learns_cartpole():
    env = envs.make_env("CartPole-v1")
    agent = REINFORCE.from_env(env, n_episodes=4, lr=1e-2, seed=0)
    result = train_until(env, agent, 100_000, 475, 8, seed=0, wait_end_path=True)
    assert max(r for _, r in result.eval_returns) >= 475, result.eval_returns


def test_ppo_learns_pendulum():
    """rl-baselines3-zoo's PPO Pendulum-v1 settings without gSDE: from about -1200 to >= -400."""
    env = envs.make_env("Pendulum-v1", n_envs=4)
    agent = PPO.from_env(env, batch_size=64, n_steps=1024, K_epochs=10, lr=1e-3, gamma=0.9, lam=0.95,
                         entropy_beta=0.0, seed=0)
    result = train_until(env, agent, 80_000, -400, 8, seed=0, update_every=agent.rollout_size)
    assert np.mean(result.episode_returns[:8]) < -900
    assert max(r for _, r in result.eval_returns) >= -400, result.eval_returns
