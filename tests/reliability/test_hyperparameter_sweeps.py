"""A sweep of the hyperparameters users tune (learning rates, gamma, lambda, clip ranges, loss coefficients,
tau, SAC's fixed alpha) compiles each learner's programs once: the values are state, not constants of the
compiled program. The learners still learn differently, every learner lists what it holds
(``hyperparameter_variables``), and ``rl.train``'s ``state_overrides`` gives two seeds of one program two
different values of them."""

import gymnax
import numpy as np
import pytest

from symgraph import rl, shared_jit
from symgraph.rl.buffer import Buffer

pytestmark = pytest.mark.slow  # learning runs and builds: the slow tier (-m "not slow" skips it)

STATE_DIM, N_ACTIONS = 4, 2


def replay(discrete, n=64, seed=0):
    """A buffer of random transitions (discrete actions or actions of shape (1,))."""
    rng = np.random.default_rng(seed)
    buffer = Buffer(n)
    for _ in range(n):
        action = np.int32(rng.integers(N_ACTIONS)) if discrete else rng.uniform(-1, 1, 1).astype(np.float32)
        buffer.push({"state": rng.normal(size=STATE_DIM).astype(np.float32), "action": action,
                     "reward": float(rng.normal()), "next-state": rng.normal(size=STATE_DIM).astype(np.float32),
                     "terminal": bool(rng.random() < 0.1), "truncated": False})
    return buffer


def rollout(learner, seed=0):
    """A buffer holding one whole rollout of ``learner`` (n_steps rows of n_envs random transitions)."""
    rng = np.random.default_rng(seed)
    buffer = Buffer(learner.rollout_size)
    e = learner.n_envs
    for _ in range(learner.rollout_size // e):
        buffer.push({"state": rng.normal(size=(e, STATE_DIM)).astype(np.float32),
                     "action": rng.integers(0, N_ACTIONS, e).astype(np.int32), "reward": rng.normal(size=e),
                     "next-state": rng.normal(size=(e, STATE_DIM)).astype(np.float32),
                     "terminal": rng.random(e) < 0.1, "truncated": np.zeros(e, bool)})
    return buffer


def episodes(learner, seed=0):
    """A buffer holding ``n_episodes`` finished episodes of length 5 (REINFORCE, episodic A2C)."""
    rng = np.random.default_rng(seed)
    buffer = Buffer(learner.rollout_size)
    for t in range(5 * learner.n_episodes):
        buffer.push({"state": rng.normal(size=STATE_DIM).astype(np.float32),
                     "action": np.int32(rng.integers(N_ACTIONS)), "reward": float(rng.normal()),
                     "next-state": rng.normal(size=STATE_DIM).astype(np.float32), "terminal": t % 5 == 4,
                     "truncated": False})
    return buffer


def dqn(**kw):
    return rl.DQN((STATE_DIM,), N_ACTIONS, 16, hidden=(8,), gradient_steps=2, target_update_period=1, seed=0, **kw)


def ppo(**kw):
    return rl.PPO((STATE_DIM,), N_ACTIONS, 8, lambda s: rl.MLPActor(s, N_ACTIONS, "categorical", hidden=(8,)),
                  lambda s: rl.MLPCritic(s, None, hidden=(8,)), K_epochs=2, n_steps=8, n_envs=2, seed=0, **kw)


def a2c(**kw):
    return rl.ActorCritic((STATE_DIM,), N_ACTIONS, None, None,
                          lambda s: rl.MLPActor(s, N_ACTIONS, "categorical", hidden=(8,)),
                          lambda s: rl.MLPCritic(s, None, hidden=(8,)), train_v_iters=1, n_steps=4, n_envs=2,
                          seed=0, **kw)


def reinforce(**kw):
    return rl.REINFORCE((STATE_DIM,), N_ACTIONS, 2, 8, lambda s: rl.MLPActor(s, N_ACTIONS, "categorical",
                                                                             hidden=(8,)), seed=0, **kw)


def td3(**kw):
    return rl.TD3((STATE_DIM,), (1,), 16, hidden=(8,), seed=0, policy_delay=1, **kw)


def sac(**kw):
    return rl.SAC((STATE_DIM,), (1,), 16, hidden=(8,), seed=0, **kw)


def parameters(learner):
    return {name: np.asarray(value) for name, value in learner.state.items()}


def sweep(make, data, settings):
    """Build and update one learner per settings dict: ``(executables compiled after the first one, the
    learners' states after one update)``."""
    states, before = [], None
    for i, kwargs in enumerate(settings):
        if i == 1:
            before = len(shared_jit._EXECUTABLES)
        learner = make(**kwargs)
        learner.update(data(learner))
        states.append(parameters(learner))
    return len(shared_jit._EXECUTABLES) - before, states


def assert_all_differ(states, name_part):
    """Every pair of runs ends with different values of the parameters whose name contains ``name_part``."""
    names = [n for n in states[0] if name_part in n and states[0][n].dtype == np.float32 and states[0][n].ndim]
    assert names
    for i in range(len(states)):
        for j in range(i + 1, len(states)):
            assert any(not np.array_equal(states[i][n], states[j][n]) for n in names), (i, j)


CASES = {
    "dqn lr": (dqn, lambda learner: replay(True), [{"lr": v} for v in (1e-3, 3e-3, 1e-2)], "q/"),
    "dqn tau": (dqn, lambda learner: replay(True), [{"tau": v} for v in (0.1, 0.5)], "target"),
    "ppo lr": (ppo, rollout, [{"lr": v} for v in (1e-3, 3e-3, 1e-2)], "actor/"),
    "ppo gamma": (ppo, rollout, [{"gamma": v} for v in (0.9, 0.8)], "critic/"),
    "ppo clip": (ppo, rollout, [{"eps_clip": v, "clip_vf": v} for v in (0.01, 0.3)], "actor/"),
    "ppo coefficients": (ppo, rollout, [{"entropy_beta": 0.0, "vf_coef": 0.5, "lam": 0.95},
                                        {"entropy_beta": 0.5, "vf_coef": 2.0, "lam": 0.5}], "actor/"),
    "a2c": (a2c, rollout, [{"lr": 1e-3, "gamma": 0.99, "lam": 1.0, "entropy_beta": 0.0, "critic_lr": 1e-3},
                           {"lr": 1e-2, "gamma": 0.5, "lam": 0.5, "entropy_beta": 0.1, "critic_lr": 3e-3}],
            "critic/"),
    "reinforce": (reinforce, episodes, [{"lr": 1e-3, "gamma": 0.99, "entropy_beta": 0.0},
                                        {"lr": 1e-2, "gamma": 0.5, "entropy_beta": 0.1}], "actor/"),
    "td3": (td3, lambda learner: replay(False), [{"lr": 1e-3, "tau": 0.005}, {"actor_lr": 1e-2, "critic_lr": 3e-3,
                                                                           "tau": 0.5}], "target"),
    "sac": (sac, lambda learner: replay(False), [{"lr": 1e-3, "alpha": 0.2, "tau": 0.005},
                                                 {"lr": 3e-3, "alpha": 0.05, "tau": 0.5}], "actor/"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_sweep_compiles_once_and_learns_differently(case):
    """The first learner of a sweep compiles its programs; the others, which differ only in swept values,
    compile none, and each ends its update with parameters of its own."""
    make, data, settings, name_part = CASES[case]
    compiled, states = sweep(make, data, settings)
    assert compiled == 0, f"{case}: {compiled} new executables for {len(settings) - 1} more values"
    assert_all_differ(states, name_part)


HELD = {
    dqn: {"lr", "gamma"}, ppo: {"lr", "gamma", "lam", "eps_clip", "entropy_beta", "vf_coef"},
    a2c: {"lr", "gamma", "lam", "entropy_beta"}, reinforce: {"lr", "gamma", "entropy_beta"},
    td3: {"lr", "gamma", "tau"}, sac: {"lr", "gamma", "tau"},
}


@pytest.mark.parametrize("make", list(HELD), ids=lambda make: make.__name__)
def test_hyperparameter_variables_hold_the_constructor_values_in_the_state(make):
    learner = make()
    held = learner.hyperparameter_variables()
    assert set(held) == HELD[make]
    state = learner.state
    for name, variables in held.items():
        expected = getattr(learner, name, None)
        for variable in variables:
            assert variable.name in state and variable.dtype == np.float32 and variable.shape == ()
            assert not variable.trainable
            if isinstance(expected, float):
                assert state[variable.name] == np.float32(expected), name


def test_separate_learning_rates_and_fixed_alpha_are_listed_by_their_argument():
    learner = sac(actor_lr=1e-3, critic_lr=2e-3, alpha=0.2)
    held = learner.hyperparameter_variables()
    assert {"actor_lr", "critic_lr", "alpha", "gamma", "tau"} == set(held)
    assert float(held["critic_lr"][0].value) == np.float32(2e-3)
    assert float(held["alpha"][0].value) == np.float32(0.2) and learner.alpha == pytest.approx(0.2)
    shared = a2c(lr=1e-3)
    assert len(shared.hyperparameter_variables()["lr"]) == 2  # the actor's and the critic's
    assert set(dqn(tau=1.0).hyperparameter_variables()) == {"lr", "gamma"}  # hard copies: no tau


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


def fused_ppo(env, **kw):
    return rl.PPO.from_env(env, n_envs=2, n_steps=8, batch_size=16, K_epochs=1, hidden=(8,), seed=3, **kw)


def test_state_overrides_give_two_seeds_of_one_program_their_own_gamma_and_clip(cartpole):
    """Seeds 3 and 4 trained in one rl.train program with gamma (0.9, 0.99) and eps_clip (0.1, 0.3) given per
    seed end where two separate runs built with those values end."""
    learner = fused_ppo(cartpole)
    held = learner.hyperparameter_variables()
    overrides = {held["gamma"][0].name: np.array([0.9, 0.99], np.float32),
                 held["eps_clip"][0].name: np.array([0.1, 0.3], np.float32)}
    both = rl.train(cartpole, learner, 48, seeds=[3, 4], progress=False, eval_episodes=0, write_seed=None,
                    state_overrides=overrides)
    first = rl.train(cartpole, fused_ppo(cartpole, gamma=0.9, eps_clip=0.1), 48, seeds=[3], progress=False,
                     eval_episodes=0)
    second = rl.train(cartpole, fused_ppo(cartpole, gamma=0.99, eps_clip=0.3), 48, seeds=[4], progress=False,
                      eval_episodes=0)
    for name in ("actor/hidden_0/W", "critic/value/W"):
        np.testing.assert_allclose(both.states[name][0], first.states[name][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(both.states[name][1], second.states[name][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both.metrics["update/clip"][:, 0], [0.1, 0.3], rtol=1e-6)


def test_state_overrides_give_two_seeds_of_a_fused_dqn_their_own_gamma(cartpole):
    """The compiled off-policy loop discounts with the gamma held in each seed's state."""
    def make(gamma=0.99):
        return rl.DQN.from_env(cartpole, batch_size=16, hidden=(8,), gamma=gamma, target_update_period=4, seed=3)

    options = {"update_after": 32, "update_every": 4}
    learner = make()
    name = learner.hyperparameter_variables()["gamma"][0].name
    both = rl.train(cartpole, learner, 96, seeds=[3, 4], progress=False, eval_episodes=0, write_seed=None,
                    state_overrides={name: np.array([0.5, 0.99], np.float32)}, options=options)
    alone = rl.train(cartpole, make(0.5), 96, seeds=[3], progress=False, eval_episodes=0, options=options)
    np.testing.assert_allclose(both.states["q/hidden_0/W"][0], alone.states["q/hidden_0/W"][0], rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(both.states["q/hidden_0/W"][0], both.states["q/hidden_0/W"][1])
