"""The learner contract (:mod:`symgraph.rl.protocol`): every learner's ``act_pure(state, obs) -> (actions,
extras, state)``, its ``schedule`` and its ``make_storage(n_envs)``; the off-policy learners' schedule and
storage arguments (validated, recorded in the config, compared on load); the callers that read the contract
(the zoo, the fused loops); and TD3's delayed policy update, whose actor-loss metric is never NaN and whose
numbers are those of the learner before it moved into ``td3.py``."""

import gymnasium
import gymnax
import jax
import numpy as np
import pytest

from symgraph import SaveLoadError
from symgraph.rl import envs, zoo
from symgraph.rl.buffer import Buffer
from symgraph.rl.fused import as_jax_env, off_policy, on_policy
from symgraph.rl.learners import DDPG, DQN, PPO, REINFORCE, SAC, TD3, ActorCritic
from symgraph.rl.protocol import Schedule
from tests.rl.learners.conftest import continuous_buffer, values

pytestmark = pytest.mark.slow  # builds of several seconds: the slow tier

OFF_POLICY = [DQN, DDPG, TD3, SAC]


def cartpole():
    return gymnasium.make("CartPole-v1")


def pendulum():
    return gymnasium.make("Pendulum-v1")


def small_off_policy(cls, **kwargs):
    if cls is DQN:
        return DQN((3,), 2, 16, hidden=(16,), seed=3, **kwargs)
    return cls((3,), (2,), 16, hidden=(16,), action_low=-2.0, action_high=2.0, seed=3, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# act_pure: one form for every learner


@pytest.mark.parametrize("make, env, extras", [
    (lambda env: PPO.from_env(env, batch_size=8, n_steps=8, hidden=(8,), seed=0), cartpole, set()),
    (lambda env: PPO.from_env(env, batch_size=8, n_steps=8, hidden=(8,), seed=0), pendulum, {"raw-action"}),
    (lambda env: ActorCritic.from_env(env, n_steps=4, hidden=(8,), seed=0), cartpole, set()),
    (lambda env: ActorCritic.from_env(env, n_episodes=2, hidden=(8,), seed=0), cartpole, set()),
    (lambda env: REINFORCE.from_env(env, n_episodes=2, hidden=(8,), seed=0), cartpole, set()),
    (lambda env: DQN.from_env(env, hidden=(8,), seed=0), cartpole, set()),
    (lambda env: DDPG.from_env(env, hidden=(8,), seed=0), pendulum, set()),
    (lambda env: TD3.from_env(env, hidden=(8,), seed=0), pendulum, set()),
    (lambda env: SAC.from_env(env, hidden=(8,), seed=0), pendulum, set()),
], ids=["ppo", "ppo-box", "a2c", "a2c-episodic", "reinforce", "dqn", "ddpg", "td3", "sac"])
def test_every_learner_acts_purely_as_actions_extras_state(make, env, extras):
    env = env()
    learner = make(env)
    obs = np.stack([env.observation_space.sample() for _ in range(5)]).astype(np.float32)
    out = jax.jit(learner.act_pure)(learner.state, obs)
    assert isinstance(out, tuple) and len(out) == 3
    actions, fields, state = out
    assert actions.shape[0] == 5 and set(fields) == extras
    for value in fields.values():
        assert value.shape[0] == 5
    assert set(state) == set(learner.state)
    assert all(env.action_space.contains(np.asarray(a, env.action_space.dtype)) for a in np.asarray(actions))


# ---------------------------------------------------------------------------------------------------------
# schedule and make_storage


def test_on_policy_schedules():
    ppo = PPO.from_env(envs.make_env("CartPole-v1", n_envs=2), batch_size=8, n_steps=16, K_epochs=3, hidden=(8,))
    assert ppo.schedule == Schedule(update_every=32, update_after=1, gradient_steps=3 * 4, at_episode_end=False)
    assert ppo.schedule.update_every == ppo.rollout_size
    a2c = ActorCritic.from_env(cartpole(), n_steps=5, train_v_iters=3, hidden=(8,))
    assert a2c.schedule == Schedule(update_every=5, update_after=1, gradient_steps=3, at_episode_end=False)
    episodic = ActorCritic.from_env(cartpole(), n_episodes=2, train_v_iters=4, hidden=(8,))
    assert episodic.schedule == Schedule(update_every=1, update_after=1, gradient_steps=4, at_episode_end=True)
    reinforce = REINFORCE.from_env(cartpole(), n_episodes=2, hidden=(8,))
    assert reinforce.schedule == Schedule(update_every=1, update_after=1, gradient_steps=1, at_episode_end=True)


@pytest.mark.parametrize("cls", OFF_POLICY)
def test_off_policy_schedules_and_storage(cls):
    default = small_off_policy(cls)
    assert default.schedule == Schedule(update_every=1, update_after=1, gradient_steps=1)
    assert default.buffer_size == 1_000_000
    learner = small_off_policy(cls, update_every=4, update_after=100, gradient_steps=2, buffer_size=500)
    assert learner.schedule == Schedule(update_every=4, update_after=100, gradient_steps=2, at_episode_end=False)
    storage = learner.make_storage(3)
    assert isinstance(storage, Buffer) and storage.maxlen == 500 and not storage.priority_sampling
    arguments = learner.config["arguments"]
    assert (arguments["update_every"], arguments["update_after"], arguments["buffer_size"]) == (4, 100, 500)
    with pytest.raises(ValueError, match=r"make_storage: n_envs .* must be an int from 1 .* got 0"):
        learner.make_storage(0)


def test_prioritised_learners_make_prioritised_storage():
    storage = small_off_policy(DQN, prioritized=True, buffer_size=64).make_storage(1)
    assert storage.priority_sampling and storage.maxlen == 64


def test_on_policy_storage_holds_a_rollout_of_the_learners_envs():
    ppo = PPO.from_env(envs.make_env("CartPole-v1", n_envs=2), batch_size=8, n_steps=16, hidden=(8,))
    storage = ppo.make_storage(2)
    assert isinstance(storage, Buffer) and storage.maxlen == ppo.rollout_size == 32
    reinforce = REINFORCE.from_env(cartpole(), n_episodes=2, episode_length=50, hidden=(8,))
    assert reinforce.make_storage(1).maxlen == 100
    with pytest.raises(ValueError, match=r"PPO.make_storage: n_envs=3 sub-environments, but the learner was built "
                                         r"for n_envs=2; .*pass n_envs=2"):
        ppo.make_storage(3)
    with pytest.raises(ValueError, match="PPO.make_storage: n_envs must be a positive int, got 0"):
        ppo.make_storage(0)


@pytest.mark.parametrize("name, value", [("update_every", 0), ("update_every", 2.5), ("update_every", True),
                                         ("update_after", -1), ("update_after", "10"), ("buffer_size", 0),
                                         ("buffer_size", 2**31), ("update_every", 2**31)])
@pytest.mark.parametrize("cls", OFF_POLICY)
def test_off_policy_schedule_arguments_are_validated(cls, name, value):
    minimum = 0 if name == "update_after" else 1
    with pytest.raises(ValueError, match=rf"{cls.__name__}: {name} \(.*\) must be an int from {minimum} to "
                                         rf"2147483647, got {value!r}; pass e.g. {name}="):
        small_off_policy(cls, **{name: value})


def test_from_env_passes_the_schedule_through_and_load_compares_it(tmp_path):
    learner = DQN.from_env("CartPole-v1", hidden=(8,), update_every=8, update_after=50, buffer_size=1000, seed=0)
    assert learner.schedule == Schedule(update_every=8, update_after=50, gradient_steps=1)
    assert learner.buffer_size == 1000
    path = learner.save(str(tmp_path / "dqn.npz"))
    assert DQN.load(path).schedule == learner.schedule
    other = DQN.from_env("CartPole-v1", hidden=(8,), update_every=4, update_after=50, buffer_size=1000, seed=0)
    with pytest.raises(SaveLoadError, match=r"other settings \(update_every: 8 in the file, 4 here\)"):
        other.load(path)
    assert other.load(path, allow_changes=("update_every",)).schedule.update_every == 4


# ---------------------------------------------------------------------------------------------------------
# The callers read the contract


def test_the_zoo_gives_the_off_policy_run_settings_to_the_learner():
    learner_kwargs, run, _ = zoo.settings("dqn", "CartPole-v1")
    env = envs.make_env("CartPole-v1")
    try:
        agent = zoo.make_learner("dqn", env, learner_kwargs, {**run, "update_every": 64}, 0)
    finally:
        env.close()
    assert agent.schedule == Schedule(update_every=64, update_after=run["update_after"],
                                      gradient_steps=learner_kwargs["gradient_steps"])
    assert agent.buffer_size == run["buffer_size"] == 100_000
    assert {"update_every", "update_after", "buffer_size"}.isdisjoint(zoo.learner_parameters("dqn"))


def test_fused_loops_read_the_schedule():
    env = as_jax_env(gymnax.make("CartPole-v1"))
    dqn = DQN.from_env(env, hidden=(8,), update_every=64, update_after=16, seed=0)
    assert off_policy.build(dqn, env, 128).steps_per_iteration == 64
    assert off_policy.build(dqn, env, 128, update_every=32).steps_per_iteration == 32  # an option rules
    ppo = PPO.from_env(env, batch_size=8, n_steps=16, hidden=(8,), seed=0)
    assert on_policy.rollout_length(ppo) == 16
    reinforce = REINFORCE.from_env(env, n_episodes=2, episode_length=50, hidden=(8,), seed=0)
    assert on_policy.rollout_length(reinforce) == 100


# ---------------------------------------------------------------------------------------------------------
# TD3's delayed policy update

# Measured with the learner as it was before the delay moved into td3.py (the policy phase's NaN for the
# steps it skipped, left out of ``update``'s metrics): TD3((3,), (2,), 16, hidden=(16,), action bounds
# [-2, 2], seed=3, policy_delay=2) on ``continuous_buffer()``, four ``update`` calls; per gradient_steps:
# (critic_loss per call, actor_loss per call (None: the call made no policy step), sums of the actor's, the
# target actor's and the first critic's parameters after the four calls).
BEFORE = {
    1: ([2.030848979949951, 2.9418559074401855, 3.363115072250366, 3.273104190826416],
        [None, -0.07049739360809326, None, 0.0589439794421196],
        (0.9502932450996013, 0.9439574837970213, 3.0429411023797)),
    3: ([2.778606414794922, 3.585207939147949, 2.6723716259002686, 2.5698771476745605],
        [-0.07049739360809326, 0.05501207336783409, 0.08350501209497452, -0.14338350296020508],
        (1.006892983954458, 0.9447481644183426, 2.9406989352137316)),
}


@pytest.mark.parametrize("gradient_steps", [1, 3])
def test_td3_numbers_are_those_before_and_its_actor_loss_is_never_nan(gradient_steps):
    agent = small_off_policy(TD3, policy_delay=2, gradient_steps=gradient_steps)
    buffer = continuous_buffer()
    critic_losses, actor_losses, sums = BEFORE[gradient_steps]
    held = 0.0  # the actor loss before the first policy step
    for call in range(4):
        metrics = agent.update(buffer)
        assert set(metrics) == {"critic_loss", "q", "actor_loss"}
        assert np.isfinite(metrics["actor_loss"])
        np.testing.assert_allclose(metrics["critic_loss"], critic_losses[call], rtol=1e-6)
        held = held if actor_losses[call] is None else actor_losses[call]
        # a call without a policy step reports the last policy step's loss
        np.testing.assert_allclose(metrics["actor_loss"], held, rtol=1e-6, atol=1e-9)
        if gradient_steps == 1:  # at most one policy step per call: the held loss is the call's
            assert float(agent.last_actor_loss.value) == pytest.approx(held, rel=1e-6, abs=1e-9)
    for network, expected in zip((agent.actor.params, agent.target_actor.variables, agent.critics[0].params), sums):
        assert sum(float(np.sum(np.asarray(v, np.float64))) for v in values(network)) == pytest.approx(expected,
                                                                                                        rel=1e-6)


def test_td3_actor_loss_is_the_mean_over_the_policy_steps_of_a_call():
    """Four gradient steps with policy_delay 2 in one call (policy steps at the 2nd and 4th) report the mean of
    the two actor losses that four one-step calls report at their policy steps."""
    one = small_off_policy(TD3, policy_delay=2)
    four = small_off_policy(TD3, policy_delay=2, gradient_steps=4)
    one.rng = np.random.default_rng(0)
    four.rng = np.random.default_rng(0)  # the same minibatches: four draws of 16 are one draw of 64
    buffer = continuous_buffer()
    losses = [one.update(buffer)["actor_loss"] for _ in range(4)]
    metrics = four.update(buffer)
    np.testing.assert_allclose(metrics["actor_loss"], (losses[1] + losses[3]) / 2, rtol=1e-5)
    np.testing.assert_allclose(losses[2], losses[1])  # held across the call without a policy step
    for a, b in zip(values(one.actor.params), values(four.actor.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_ddpg_steps_its_policy_at_every_step():
    agent = small_off_policy(DDPG, gradient_steps=2)
    buffer = continuous_buffer()
    actor = values(agent.actor.params)
    metrics = agent.update(buffer)
    assert np.isfinite(metrics["actor_loss"]) and float(agent.last_actor_loss.value) != 0.0
    assert not any(np.array_equal(a, b) for a, b in zip(actor, values(agent.actor.params)))
