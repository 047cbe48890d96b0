"""Tests of checkpoints: learner save/load (on the class: rebuilt from the stored config; on an instance: loaded
into it), symgraph.rl.load, run checkpoints whose resumption is identical to an uninterrupted run, and the
stop on a diverged (NaN) loss."""

import functools
import json
import os
import stat

import gymnasium
import numpy as np
import pytest

import symgraph as sg
from symgraph import rl
from symgraph.errors import SaveLoadError
from symgraph.rl import checkpoint
from symgraph.rl.tabular import QLearning

OBS = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)


def small_ppo(env=None, **kwargs):
    env = env if env is not None else gymnasium.make("CartPole-v1")
    options = dict(batch_size=32, n_steps=64, K_epochs=2, hidden=(16,), seed=3)
    options.update(kwargs)
    return rl.PPO.from_env(env, **options)


def small_dqn(env="CartPole-v1", **kwargs):
    options = dict(batch_size=32, hidden=(32,), target_update_period=50, epsilon=0.2, seed=2)
    options.update(kwargs)
    return rl.DQN.from_env(env, **options)


def params(learner):
    return {name: v.value for name, v in learner.graph.variables.items()}


def assert_same_params(a, b):
    pa, pb = params(a), params(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        np.testing.assert_array_equal(pa[name], pb[name], err_msg=name)


# ---------------------------------------------------------------------------------------------------------
# Learners


@pytest.fixture(scope="module")
def trained_ppo(tmp_path_factory):
    """A PPO that has updated (so its optimizer state, counters and keys moved), and its checkpoint."""
    agent = small_ppo()
    rl.run("CartPole-v1", agent, rl.Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=192,
           max_episodes=None, eval_every=0, seed=0)
    path = tmp_path_factory.mktemp("ppo") / "agent"
    assert agent.save(path) == path
    return agent, path


@pytest.mark.slow
def test_save_writes_one_file_exactly_at_the_path(trained_ppo):
    agent, path = trained_ppo
    assert sorted(os.listdir(path.parent)) == ["agent"]  # no suffix added, no temporary file left
    meta, arrays = checkpoint.read(path)
    assert meta["format"] == checkpoint.FORMAT and meta["version"] == checkpoint.VERSION
    learner = meta["learner"]
    assert (learner["class"], learner["module"], learner["seed"]) == ("PPO", "symgraph.rl.learners.ppo", 3)
    assert learner["config"]["build"] == "from_env" and learner["config"]["code"] == {}
    assert learner["config"]["env"]["id"] == "CartPole-v1"
    assert learner["config"]["env"]["action"] == {"discrete": True, "shape": [], "dtype": "<i8", "n": 2,
                                                  "start": 0}
    stored = {k.removeprefix("learner/variables/") for k in arrays if k.startswith("learner/variables/")}
    assert stored == set(agent.graph.variables)
    assert any(k.startswith("learner/keys/") for k in arrays)
    json.dumps(learner)  # the metadata is plain JSON


def test_class_load_rebuilds_a_learner_that_acts_and_trains_identically(trained_ppo):
    agent, path = trained_ppo
    twins = rl.PPO.load(path), rl.load(path)
    for loaded in twins:
        assert type(loaded) is rl.PPO and loaded is not agent
        assert loaded.n_steps == agent.n_steps and loaded.K_epochs == agent.K_epochs
        assert_same_params(loaded, agent)
        np.testing.assert_array_equal(loaded.act(OBS, deterministic=True), agent.act(OBS, deterministic=True))
        assert loaded.rng.bit_generator.state == checkpoint.read(path)[0]["learner"]["rng"]
        assert loaded._function_seeds.n_children_spawned == agent._function_seeds.n_children_spawned
    for _ in range(2):  # the sampling keys continue from the same point
        np.testing.assert_array_equal(twins[0].act(OBS), twins[1].act(OBS))
    for learner in twins:
        rl.run("CartPole-v1", learner, rl.Buffer(learner.rollout_size), update_every=learner.rollout_size,
               max_steps=64, max_episodes=None, eval_every=0, seed=1)
    assert_same_params(*twins)
    assert int(twins[0]._updates_done.value) == int(agent._updates_done.value) + 1


def test_instance_load_loads_into_the_learner(trained_ppo):
    agent, path = trained_ppo
    other = small_ppo(seed=9)
    assert other.load(path) is other
    assert_same_params(other, agent)
    assert other.seed == 3
    np.testing.assert_array_equal(other.act(OBS, deterministic=True), agent.act(OBS, deterministic=True))


def test_instance_load_is_all_or_nothing(trained_ppo):
    _, path = trained_ppo
    wider = small_ppo(hidden=(8,))
    before = params(wider)
    with pytest.raises(SaveLoadError, match=r"other settings \(hidden: \(16,\) in the file, \(8,\) here\); nothing "
                                            r"was changed"):
        wider.load(path)
    with pytest.raises(SaveLoadError, match=r"does not fit this learner, nothing was changed.*of another shape"):
        wider.load(path, allow_changes=("hidden",))  # a setting that may differ, but the shapes must not
    for name, value in params(wider).items():
        np.testing.assert_array_equal(value, before[name])


def test_loading_another_class_is_a_clear_error(trained_ppo, tmp_path):
    _, path = trained_ppo
    with pytest.raises(SaveLoadError, match=r"holds a PPO learner.*not a DQN.*symgraph.rl.load\(path\)"):
        rl.DQN.load(path)
    with pytest.raises(SaveLoadError, match=r"holds a PPO learner.*not a DQN"):
        small_dqn().load(path)


def test_the_load_method_dispatches_on_class_or_instance(trained_ppo):
    agent, _ = trained_ppo
    assert rl.PPO.load.__self__ is rl.PPO and agent.load.__self__ is agent
    assert "On the class" in rl.PPO.load.__doc__


def test_a_learner_built_with_code_cannot_be_rebuilt_but_loads_into_an_instance(tmp_path):
    def actor(states):
        return rl.MLPActor(states, 2, "categorical", (8,))

    agent = small_ppo(actor=actor)
    assert agent.config["code"] == {"actor": "function"}
    path = agent.save(tmp_path / "custom.npz")
    for load in (rl.PPO.load, rl.load):
        with pytest.raises(SaveLoadError, match=r"built with actor \(a function\).*construct the learner the same "
                                                r"way and call learner.load\(path\)"):
            load(path)
    other = small_ppo(actor=actor, seed=5).load(path)
    np.testing.assert_array_equal(other.act(OBS, deterministic=True), agent.act(OBS, deterministic=True))


def test_a_subclass_without_its_own_recorded_constructor_records_no_config(tmp_path):
    class MyPPO(rl.PPO):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    env = gymnasium.make("CartPole-v1")
    direct = MyPPO((4,), 2, 32, lambda s: rl.MLPActor(s, 2, "categorical", (8,)), lambda s: rl.MLPCritic(s, None,
                                                                                                        (8,)),
                   n_steps=32, seed=0)
    assert direct.config is None
    path = direct.save(tmp_path / "mine")
    with pytest.raises(SaveLoadError, match="records no config"):
        MyPPO.load(path)
    assert type(MyPPO.from_env(env, batch_size=32, n_steps=32, seed=0)).__name__ == "MyPPO"


@pytest.mark.parametrize("build", ["init", "from_env id", "vector"])
def test_off_policy_learners_round_trip(build, tmp_path):
    if build == "init":
        agent = rl.DQN(4, 2, 32, hidden=(16,), double=True, seed=1)
    elif build == "from_env id":
        agent = small_dqn("CartPole-v1", dueling=True)
    else:
        agent = small_dqn(rl.envs.make_env("CartPole-v1", n_envs=2))
    agent.act(OBS)
    path = agent.save(tmp_path / "dqn")
    loaded = rl.load(path)
    assert type(loaded) is rl.DQN and (loaded.double, loaded.dueling) == (agent.double, agent.dueling)
    assert_same_params(loaded, agent)
    for _ in range(2):  # the exploration coins come from the restored generator
        np.testing.assert_array_equal(loaded.act(OBS), agent.act(OBS))


@pytest.mark.parametrize("schedule", [sg.nn.schedules.linear(1.0, 0.05, 500, begin=10),
                                      sg.nn.schedules.piecewise_constant([100], [0.5, 0.1]),
                                      sg.nn.schedules.exponential(1.0, 0.5, 100, staircase=True, final=0.1)])
def test_a_learner_with_a_schedule_is_rebuilt_with_the_same_schedule(schedule, tmp_path):
    agent = small_dqn(epsilon=schedule)
    loaded = rl.load(agent.save(tmp_path / "dqn"))
    assert not loaded.config["code"]
    rebuilt = checkpoint.unpack(loaded.config["arguments"]["epsilon"])
    assert (rebuilt.name, rebuilt.arguments) == (schedule.name, schedule.arguments)
    steps = np.arange(0, 1000, 7)
    np.testing.assert_array_equal(rebuilt(steps), schedule(steps))


def test_a_schedule_built_from_a_function_is_not_data():
    with pytest.raises(checkpoint.NotData, match="use a factory of symgraph.nn.schedules"):
        checkpoint.pack(sg.nn.schedules.Schedule(lambda t: t, "custom", (0.0,)))


@pytest.mark.parametrize("cls", [rl.SAC, rl.DDPG])  # DDPG: a subclass whose __init__ calls TD3's
def test_continuous_learners_keep_their_bounds(cls, tmp_path):
    env = gymnasium.wrappers.RescaleAction(gymnasium.make("Pendulum-v1"), np.float32(-0.5), np.float32(1.5))
    agent = cls.from_env(env, batch_size=8, hidden=(8,), seed=0)
    loaded = cls.load(agent.save(tmp_path / cls.__name__))
    np.testing.assert_array_equal(loaded.action_low, [-0.5])
    np.testing.assert_array_equal(loaded.action_high, [1.5])
    states = OBS[:, :3]
    np.testing.assert_array_equal(loaded.act(states), agent.act(states))
    assert type(loaded) is cls


def test_files_that_are_not_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        rl.load(tmp_path / "missing")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(SaveLoadError, match="is damaged or not a symgraph.rl checkpoint: BadZipFile"):
        rl.load(tmp_path / "text")
    agent = small_dqn()
    sg.save_variables(tmp_path / "vars.npz", graph=agent.graph)
    with pytest.raises(SaveLoadError, match=r"not a symgraph.rl checkpoint.*symgraph.load_variables"):
        agent.load(tmp_path / "vars.npz")



def test_a_save_replaces_only_a_regular_file(tmp_path):
    """A symbolic link, a folder, a named pipe or a device at the path is refused, and left as it was."""
    agent = small_dqn()
    target = tmp_path / "target.npz"
    target.write_bytes(b"the link's target")
    (tmp_path / "link.npz").symlink_to(target)
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "pipe.npz")
    cases = {"link.npz": r"a symbolic link \(to '.*target.npz'\).*save to the file it points to",
             "folder.npz": "a directory", "pipe.npz": "a named pipe"}
    if os.geteuid() == 0:
        os.mknod(tmp_path / "null.npz", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        cases["null.npz"] = "a character device"
    for name, kind in cases.items():
        with pytest.raises(SaveLoadError, match=rf"cannot save to '.*{name}': it is {kind}"):
            agent.save(tmp_path / name)
    assert (tmp_path / "link.npz").is_symlink() and target.read_bytes() == b"the link's target"
    assert (tmp_path / "folder.npz").is_dir() and stat.S_ISFIFO(os.lstat(tmp_path / "pipe.npz").st_mode)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    agent.save(target)  # a regular file is replaced
    agent.save(target)
    assert checkpoint.read(target)[0]["learner"]["class"] == "DQN"

def test_pack_round_trips_data_and_rejects_code():
    arrays = {}
    value = {"a": (1, 2.5, None, "x", True), "b": [np.arange(3), np.float32(2)], "c": np.dtype("int8"),
             "g": np.random.default_rng(4)}
    out = checkpoint.unpack(json.loads(json.dumps(checkpoint.pack(value, arrays))), arrays)
    assert out["a"] == (1, 2.5, None, "x", True) and out["c"] == np.dtype("int8")
    np.testing.assert_array_equal(out["b"][0], np.arange(3))
    assert out["g"].random() == np.random.default_rng(4).random()
    with pytest.raises(checkpoint.NotData, match="function"):
        checkpoint.pack(lambda: 0)


# ---------------------------------------------------------------------------------------------------------
# Run checkpoints and resume


class HugeRewardAfter(gymnasium.RewardWrapper):
    """Rewards of 3e38 (finite, but their sums overflow float32) after ``after`` steps."""

    def __init__(self, env, after):
        super().__init__(env)
        self.after, self.t = after, 0

    def reward(self, reward):
        self.t += 1
        return 3e38 if self.t > self.after else reward


def ppo_run(steps, **kwargs):
    """A fresh PPO run (new env, learner and buffer, as after a crash)."""
    agent = small_ppo()
    result = rl.run(gymnasium.make("CartPole-v1"), agent, rl.Buffer(agent.rollout_size),
                    update_every=agent.rollout_size, max_steps=steps, max_episodes=None, eval_every=4,
                    eval_max_episodes=2, seed=11, **kwargs)
    return agent, result


def dqn_run(steps, **kwargs):
    agent = small_dqn(prioritized=True, n_step=2)
    result = rl.run(gymnasium.make("CartPole-v1"), agent, agent.make_buffer(1000), update_every=2, update_after=64,
                    max_steps=steps, max_episodes=None, eval_every=5, eval_max_episodes=2, seed=5, **kwargs)
    return agent, result


def assert_same_results(a, b):
    for name in ("episode_returns", "episode_lengths", "episode_steps", "update_steps", "eval_returns",
                 "total_steps", "total_frames", "stop_reason"):
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.losses) == len(b.losses)
    for x, y in zip(a.losses, b.losses):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


@pytest.mark.slow
@pytest.mark.parametrize("learner_run", [ppo_run, dqn_run], ids=["ppo", "dqn"])
def test_resume_is_identical_to_an_uninterrupted_run(learner_run, tmp_path):
    path = tmp_path / "run.ckpt"
    full_agent, full = learner_run(500)
    _, crashed = learner_run(400, checkpoint_every=150, checkpoint_path=path)   # "crashes" after step 400
    assert crashed.total_steps == 400
    saved_at = checkpoint.read(path)[0]["run"]
    assert 300 <= checkpoint.unpack(saved_at["result"])["total_steps"] < 400
    resumed_agent, resumed = learner_run(500, checkpoint_every=150, checkpoint_path=path, resume=True)
    assert_same_results(resumed, full)
    assert_same_params(resumed_agent, full_agent)
    assert resumed.wall_time > 0
    assert type(rl.load(path)) is type(full_agent)  # a run checkpoint holds a learner checkpoint


@pytest.mark.slow
def test_vector_env_resume_restarts_the_running_episodes(tmp_path):
    path = tmp_path / "vector.ckpt"

    def objects():
        env = rl.envs.make_env("CartPole-v1", n_envs=2)
        agent = small_ppo(env, n_steps=32)
        return env, agent, rl.Buffer(agent.rollout_size)

    kwargs = dict(update_every=64, max_episodes=None, eval_every=0, seed=0, checkpoint_path=path)
    rl.run(*objects(), max_steps=300, checkpoint_every=128, **kwargs)
    result = checkpoint.unpack(checkpoint.read(path)[0]["run"]["result"])
    env, agent, buffer = objects()
    resumed = rl.run(env, agent, buffer, max_steps=400, resume=True, **kwargs)
    assert result["total_steps"] == 256 and resumed.total_steps == 400
    assert resumed.episode_returns[:len(result["episode_returns"])] == result["episode_returns"]
    assert int(agent._updates_done.value) == 400 // 64


def test_resuming_a_finished_run_returns_at_once(tmp_path):
    path = tmp_path / "done.ckpt"
    _, first = ppo_run(300, checkpoint_every=100, checkpoint_path=path)
    _, again = ppo_run(200, checkpoint_path=path, resume=True)
    assert again.total_steps >= 200 and again.stop_reason == "max_steps"
    assert again.episode_returns == first.episode_returns[:len(again.episode_returns)]


def test_checkpoint_errors(tmp_path):
    path = tmp_path / "c"
    env = gymnasium.make("CartPole-v1")
    agent = small_ppo()
    buffer = rl.Buffer(agent.rollout_size)
    common = dict(max_steps=200, max_episodes=None, eval_every=0, seed=0, update_every=64)
    with pytest.raises(ValueError, match=r"checkpoint_every=50 needs checkpoint_path="):
        rl.run(env, agent, buffer, checkpoint_every=50, **common)
    with pytest.raises(ValueError, match=r"resume=True needs checkpoint_path="):
        rl.run(env, agent, buffer, resume=True, **common)
    with pytest.raises(ValueError, match=r"neither checkpoint_every.*nor resume=True"):
        rl.run(env, agent, buffer, checkpoint_path=path, **common)
    with pytest.raises(ValueError, match=r"checkpoint_every must be an int >= 1"):
        rl.run(env, agent, buffer, checkpoint_every=0, checkpoint_path=path, **common)
    with pytest.raises(FileNotFoundError, match=r"resume=True but there is no checkpoint at .*c'; pass resume=False"):
        rl.run(env, agent, buffer, checkpoint_path=path, resume=True, **common)
    with pytest.raises(TypeError, match=r"checkpoints need an agent that can be checkpointed.*QLearning has none"):
        rl.run("FrozenLake-v1", QLearning(gymnasium.make("FrozenLake-v1"), seed=0), None, checkpoint_every=10,
               checkpoint_path=path, **common)
    continuous = rl.TD3.from_env(gymnasium.make("Pendulum-v1"), batch_size=8, hidden=(8,), seed=0)
    with pytest.raises(TypeError, match=r"noise is a function"):
        rl.run("Pendulum-v1", continuous, continuous.make_buffer(100), noise=lambda: 0.0, checkpoint_every=10,
               checkpoint_path=path, **common)
    rl.run(env, agent, buffer, checkpoint_every=100, checkpoint_path=path, **common)
    with pytest.raises(SaveLoadError, match=r"checkpoint of a PPO learner, but the agent is a DQN"):
        dqn = small_dqn()
        rl.run(env, dqn, dqn.make_buffer(100), checkpoint_path=path, resume=True, **common)
    with pytest.raises(ValueError, match=r"other settings.*seed=1 here, 0 in the checkpoint"):
        rl.run(env, small_ppo(), rl.Buffer(64), checkpoint_path=path, resume=True, **{**common, "seed": 1})
    agent.save(tmp_path / "learner")
    with pytest.raises(SaveLoadError, match=r"a learner checkpoint \(learner.save\), not a run checkpoint"):
        rl.run(env, small_ppo(), rl.Buffer(64), checkpoint_path=tmp_path / "learner", resume=True, **common)


# ---------------------------------------------------------------------------------------------------------
# Divergence


def test_a_nan_loss_stops_training_and_the_last_checkpoint_survives(tmp_path):
    path = tmp_path / "good.ckpt"
    env = HugeRewardAfter(gymnasium.make("CartPole-v1"), 500)
    agent = small_ppo(env)
    with pytest.raises(rl.TrainingDiverged, match=r"value_loss is (nan|inf) at step \d+ \(update \d+\) of PPO on "
                                                  r"CartPole-v1; the last good checkpoint, of step \d+, is .*good.ckpt"
                                                  r", untouched") as info:
        rl.run(env, agent, rl.Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=3000,
               max_episodes=None, eval_every=0, seed=0, checkpoint_every=150, checkpoint_path=path)
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert error.step > 500 and error.update == error.step // 64 and "value_loss" in error.terms
    assert error.checkpoint_step <= 500 and error.checkpoint_path == os.fspath(path)
    good = rl.load(path)
    for variable in good.graph.variables.values():
        assert np.all(np.isfinite(variable.value)), variable.name
    assert int(good._updates_done.value) == error.checkpoint_step // 64


class LossAgent:
    """A protocol agent whose update returns the metrics it is given, in turn."""

    state_shape = (2,)

    def __init__(self, metrics):
        self.metrics = list(metrics)

    def act(self, states, deterministic=False):
        return 0

    def update(self, buffer):
        return self.metrics.pop(0) if self.metrics else None


class TwoStepEnv(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 1.0, self.t >= 2, False, {}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_losses_of_any_agent_stop_the_run(bad):
    agent = LossAgent([{"loss": 1.0, "q": np.nan}, {"loss": 2.0}, {"critic_loss": bad}])
    with pytest.raises(rl.TrainingDiverged, match=rf"critic_loss is {bad} at step 3 \(update 3\).*no checkpoint "
                                                  r"was kept"):
        rl.run(TwoStepEnv(), agent, rl.Buffer(10), max_steps=10, max_episodes=None, eval_every=0)


class StateAgent(LossAgent):
    """A LossAgent exposing a learner-like ``state`` (finite, or holding a NaN)."""

    def __init__(self, metrics, broken):
        super().__init__(metrics)
        self.broken = broken

    @property
    def state(self):
        return {"w": np.array([1.0, np.nan if self.broken else 2.0], np.float32), "steps": np.int32(3)}


@pytest.mark.parametrize("broken", [False, True])
def test_a_nan_term_is_divergence_whatever_the_learner_state(broken):
    # no learner reports a loss it did not compute (TD3's update without a policy step reports its last one)
    agent = StateAgent([{"critic_loss": 1.0, "actor_loss": np.nan}] * 3, broken)
    run = functools.partial(rl.run, TwoStepEnv(), agent, rl.Buffer(10), max_steps=6, max_episodes=None,
                            eval_every=0)
    with pytest.raises(rl.TrainingDiverged, match=r"actor_loss is nan at step 1 \(update 1\)"):
        run()


@pytest.mark.parametrize("path", [None, 3, b"checkpoint.npz"])
def test_a_path_that_is_not_a_path_is_named(path):
    with pytest.raises(TypeError, match="symgraph.rl.load: path must be a str or os.PathLike"):
        rl.load(path)
