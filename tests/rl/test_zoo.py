"""The tuned-hyperparameter registry: every entry builds its learner, and the zoo's names translate as
documented (SB3 defaults underneath, annealing, target periods, exploration schedules, batch caps)."""

import importlib.util
import inspect

import gymnasium
import numpy as np
import pytest

from symgraph.rl import envs, zoo
from symgraph.rl.tabular import LinearDecay

ENTRIES = sorted(zoo.entries())


def _build(algo, env_id, learner=None, run=None, seed=0):
    tuned_learner, tuned_run, _ = zoo.settings(algo, env_id)
    learner = tuned_learner if learner is None else learner
    run = tuned_run if run is None else run
    if zoo.family(algo) == "tabular":
        env = gymnasium.make(env_id)
    else:
        env = envs.make_env(env_id, n_envs=run["n_envs"])
    try:
        return zoo.make_learner(algo, env, learner, run, seed)
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("algo, env_id", ENTRIES, ids=[f"{a}-{e}" for a, e in ENTRIES])
def test_every_entry_builds_its_learner_with_its_settings(algo, env_id):
    entry = zoo.get(algo, env_id)
    assert set(entry.learner) <= set(zoo.learner_parameters(algo)), "a key the learner does not take"
    assert set(entry.run) <= set(zoo.run_defaults(algo)), "a run setting the harness does not know"
    agent = _build(algo, env_id)
    assert isinstance(agent, zoo.learner_class(algo))
    for key, value in entry.learner.items():  # the learner kept what the entry gave
        attribute = {"K_epochs": "K_epochs", "entropy_beta": "entropy_beta", "gamma": "gamma", "lam": "lam",
                     "batch_size": "batch_size", "gradient_steps": "gradient_steps", "tau": "tau",
                     "n_steps": "n_steps", "target_update_period": "target_update_period"}.get(key)
        if attribute is not None and hasattr(agent, attribute):
            assert getattr(agent, attribute) == pytest.approx(value), key
    if zoo.family(algo) == "on-policy" and entry.learner.get("n_steps"):
        assert agent.rollout_size == entry.learner["n_steps"] * entry.run["n_envs"]


def test_lunar_lander_entries_only_with_box2d():
    has_box2d = importlib.util.find_spec("Box2D") is not None
    assert any(env_id == "LunarLander-v3" for _, env_id in zoo.entries()) == has_box2d


def test_zoo_entries_sit_on_sb3_defaults_and_translate_names():
    sb3 = zoo.SB3_DEFAULTS
    cartpole = zoo.get("ppo", "CartPole-v1")
    # lin_0.001 / lin_0.2: the initial values, annealed
    assert cartpole.zoo["learning_rate"] == "lin_0.001" and cartpole.learner["lr"] == 0.001
    assert cartpole.learner["anneal_lr"] and cartpole.learner["anneal_clip"] and cartpole.learner["eps_clip"] == 0.2
    # our value loss has the factor 1/2: SB3's vf_coef doubles
    assert cartpole.learner["vf_coef"] == 2 * sb3["ppo"]["vf_coef"]
    acrobot = zoo.get("ppo", "Acrobot-v1")
    assert "learning_rate" not in acrobot.zoo and acrobot.learner["lr"] == sb3["ppo"]["learning_rate"]
    assert acrobot.learner["K_epochs"] == acrobot.zoo["n_epochs"] and not acrobot.learner["anneal_lr"]
    assert any("normalisation" in note for note in acrobot.notes)
    mcc = zoo.get("ppo", "MountainCarContinuous-v0")  # zoo batch 256 > rollout 8: one minibatch of 8
    assert mcc.zoo["batch_size"] == 256 and mcc.learner["batch_size"] == 8
    assert any("gSDE" in note for note in mcc.notes) and any("batch_size 256" in note for note in mcc.notes)
    a2c = zoo.get("a2c", "CartPole-v1")
    assert a2c.learner["optimizer"] == "rmsprop" and a2c.learner["train_v_iters"] == 1
    assert a2c.learner["lr"] == sb3["a2c"]["learning_rate"] and a2c.learner["n_steps"] == sb3["a2c"]["n_steps"]
    sac = zoo.get("sac", "MountainCarContinuous-v0")
    assert sac.learner["alpha"] == 0.1 and sac.learner["hidden"] == (64, 64) and sac.run["update_every"] == 32
    td3 = zoo.get("td3", "MountainCarContinuous-v0")
    assert (td3.run["noise"], td3.run["noise_sigma"]) == ("ou", 0.5)
    assert td3.learner["random_steps"] == td3.run["update_after"] == sb3["td3"]["learning_starts"]


def _sb3_gradient_steps_between_target_copies(interval, freq, steps, env_steps=100_000):
    """SB3's DQN schedule simulated: ``steps`` gradient steps every ``freq`` env steps, a target copy every
    ``interval`` env steps; the mean number of gradient steps between copies that changed the target."""
    done, at_copy = 0, []
    for t in range(1, env_steps + 1):
        if t % freq == 0:
            done += steps
        if t % interval == 0 and (not at_copy or at_copy[-1] != done):
            at_copy.append(done)
    return float(np.mean(np.diff(at_copy)))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCar-v0", "Acrobot-v1"])
def test_dqn_target_period_counts_gradient_steps(env_id):
    entry = zoo.get("dqn", env_id)
    freq = entry.zoo["train_freq"]
    steps = freq if entry.zoo["gradient_steps"] == -1 else entry.zoo["gradient_steps"]
    assert entry.learner["gradient_steps"] == steps and entry.run["update_every"] == freq
    expected = _sb3_gradient_steps_between_target_copies(entry.zoo["target_update_interval"], freq, steps)
    assert entry.learner["target_update_period"] == pytest.approx(expected, rel=0.01)


def test_dqn_epsilon_decays_over_the_fraction_of_the_budget():
    learner, run, entry = zoo.settings("dqn", "CartPole-v1")
    run["total_steps"] = 1000
    agent = _build("dqn", "CartPole-v1", learner, run)
    decay = int(np.ceil(entry.run["exploration_fraction"] * 1000))
    eps = agent.epsilon  # a node of the act-step counter
    values = []
    for steps in (0, decay // 2, decay, 10 * decay):
        agent.act_steps.update(np.int32(steps))
        values.append(float(eps.get()))
    final = entry.run["exploration_final"]
    assert values == pytest.approx([1.0, (1.0 + final) / 2, final, final], abs=2e-3)


def test_tabular_epsilon_schedule_and_ppo_annealing_span_the_budget():
    agent = _build("q-learning", "FrozenLake-v1")
    assert agent._schedule == LinearDecay(1.0, 0.01, 2000)
    learner, run, _ = zoo.settings("q-learning", "Taxi-v4")
    taxi = _build("q-learning", "Taxi-v4", learner, run)
    assert taxi._schedule == LinearDecay(0.1, 0.0, run["n_episodes"])
    learner, run, _ = zoo.settings("ppo", "CartPole-v1")
    run["total_steps"] = 12_345
    assert _build("ppo", "CartPole-v1", learner, run).total_steps == 12_345
    constant = zoo.run_defaults("sarsa")  # equal ends: a constant epsilon
    assert zoo.make_learner("sarsa", gymnasium.make("FrozenLake-v1"), {}, constant, 0).epsilon == 0.1


def test_settings_of_a_pair_without_an_entry_are_the_defaults():
    learner, run, entry = zoo.settings("ppo", "CliffWalking-v1")
    assert (learner, entry) == ({}, None) and run == zoo.run_defaults("ppo")
    assert zoo.run_defaults("td3")["noise"] == "gaussian" and "noise" not in zoo.run_defaults("sac")
    assert zoo.run_defaults("dqn")["exploration_final"] == zoo.SB3_DEFAULTS["dqn"]["exploration_final_eps"]
    settings = zoo.settings("ppo", "CartPole-v1")
    settings[0]["lr"] = 1.0  # a copy: the registry stays as it is
    assert zoo.get("ppo", "CartPole-v1").learner["lr"] == 0.001
    with pytest.raises(TypeError):
        zoo.get("ppo", "CartPole-v1").learner["lr"] = 1.0


def test_learner_parameters_are_the_signatures_less_what_the_harness_sets():
    ppo = zoo.learner_parameters("ppo")
    assert ppo["batch_size"] == 64 and ppo["hidden"] == (64, 64) and ppo["K_epochs"] == 80  # from_env first
    for derived in ("env", "seed", "n_envs", "actor", "critic", "state_shape", "total_steps"):
        assert derived not in ppo
    assert "epsilon" not in zoo.learner_parameters("dqn") and "hidden" in zoo.learner_parameters("dqn")
    assert zoo.learner_parameters("sarsa") == {"lmbda": 0.9, "gamma": 0.99, "lr": 0.1, "trace": "accumulating",
                                               "initial_q": 0.0}
    assert zoo.learner_parameters("reinforce")["n_episodes"] == 4
    assert all(value is not inspect.Parameter.empty for value in zoo.learner_parameters("a2c").values())


def test_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown algorithm 'trpo'; choose one of ppo, a2c"):
        zoo.family("trpo")
    with pytest.raises(ValueError, match="unknown algorithm"):
        zoo.learner_class("trpo")
    with pytest.raises(ValueError, match=r"zoo entry ppo X: no translation for \['bogus'\]"):
        zoo._zoo("ppo", "X", n_timesteps=1, bogus=1)
    learner, run, _ = zoo.settings("ppo", "CartPole-v1")
    with pytest.raises(ValueError, match="PPO: K_epochs must be a positive int"):
        _build("ppo", "CartPole-v1", {**learner, "K_epochs": 0}, run)
